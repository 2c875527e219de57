/*
 * Unit tests of delivery status notifications (dsn.c). Each report is
 * parsed back: msg_parse (which refuses bare CR/LF and lines over 998
 * octets) for the outer message, then a strict split into MIME parts and
 * delivery-status field groups written here.
 *
 * Covers EXT-07 (multipart/report, the three parts, per-message and
 * per-recipient fields, diagnostic text cleaned of CR/LF), DLV-22 (no
 * report about a report, a null sender or a mailer daemon), DLV-20
 * (Action failed after give-up, Will-Retry-Until for delayed), SEC-05 (a
 * hostile remote reply cannot add a header field), DLV-23 and DLV-25
 * (CRLF only, lines <= 998).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "dsn.h"
#include "hdr.h"
#include "msg.h"

static const uint8_t RANDOM[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	                            0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };

static const char ORIG[] = "From: Alice <alice@example.org>\r\n"
                           "To: bob@example.net, carol@example.com\r\n"
                           "Subject: a long\r\n"
                           " folded subject\r\n"
                           "Message-ID: <1@example.org>\r\n"
                           "\r\n"
                           "the secret body\r\n";

/* ------------------------------------------------ parsing the report back */

struct part {
	char *hdr;  /* the part's header section, CRLF lines, owned */
	char *body; /* its content, owned */
};

struct parsed {
	struct msg *m;      /* the outer message */
	char *boundary;     /* from Content-Type */
	struct part p[8];   /* the parts */
	size_t n;           /* how many */
};

/* The unfolded value of the first field name in m, or NULL; owned. */
static char *field(const struct msg *m, const char *name)
{
	long i = hdr_list_find(&m->hdrs, name, 0);

	if (i < 0)
		return NULL;
	return hdr_unfold(m->hdrs.v[i].value, m->hdrs.v[i].value_len);
}

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	assert_non_null(d);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Splits r into parts; fails the test on any structural fault. */
static void parse_report(const char *r, size_t n, struct parsed *out)
{
	char err[256], *ct, *b, *delim, *body, *end;
	size_t dl;

	memset(out, 0, sizeof(*out));
	if (msg_parse(r, n, NULL, &out->m, err, sizeof(err)) != 0)
		fail_msg("report does not parse: %s", err);
	ct = field(out->m, "Content-Type");
	assert_non_null(ct);
	assert_true(strncasecmp(ct, "multipart/report;", 17) == 0);
	assert_non_null(strstr(ct, "report-type=delivery-status"));
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	out->boundary = dup_range(b, strcspn(b, "\""));
	free(ct);

	/* RFC 2046 5.1.1: delimiters are CRLF "--" boundary */
	dl = strlen(out->boundary) + 4;
	delim = malloc(dl + 1);
	assert_non_null(delim);
	snprintf(delim, dl + 1, "\r\n--%s", out->boundary);
	body = out->m->body;
	assert_non_null(body);
	end = body + out->m->body_len;
	body = strstr(body, delim);
	assert_non_null(body);
	for (;;) {
		char *next, *sep;

		body += dl;
		if (strncmp(body, "--\r\n", 4) == 0) {
			assert_true(body + 4 == end); /* nothing after the close */
			break;
		}
		assert_true(strncmp(body, "\r\n", 2) == 0);
		body += 2;
		next = strstr(body, delim);
		assert_non_null(next);
		sep = strstr(body, "\r\n\r\n");
		assert_non_null(sep);
		assert_true(sep <= next);
		assert_true(out->n < 8);
		out->p[out->n].hdr = dup_range(body, (size_t)(sep - body) + 2);
		out->p[out->n].body = dup_range(sep + 4, (size_t)(next - sep - 4 >= 0 ? next - sep - 4 : 0));
		out->n++;
		body = next;
	}
	free(delim);
}

static void parsed_free(struct parsed *p)
{
	msg_free(p->m);
	free(p->boundary);
	for (size_t i = 0; i < p->n; i++) {
		free(p->p[i].hdr);
		free(p->p[i].body);
	}
}

/* Decodes quoted-printable (RFC 2045 6.7) strictly. */
static char *qp_decode(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *d = malloc(n + 1);

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			d[o++] = s[i];
			continue;
		}
		if (s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		{
			unsigned v;

			assert_true(sscanf(s + i + 1, "%2X", &v) == 1);
			d[o++] = (char)v;
			i += 2;
		}
	}
	d[o] = '\0';
	return d;
}

/* Delivery-status groups: fields unfolded, "Name: value" each. */
struct group {
	char *f[16];  /* "Name: value" */
	size_t n;
};

static size_t parse_groups(const char *s, struct group *g, size_t max)
{
	size_t ng = 0;
	const char *p = s;

	memset(g, 0, sizeof(*g) * max);
	while (*p != '\0') {
		const char *eol = strstr(p, "\r\n");
		size_t len;

		assert_non_null(eol);
		len = (size_t)(eol - p);
		if (len == 0) {
			if (ng > 0 && g[ng - 1].n > 0 && ng < max)
				ng++;
		} else if (p[0] == ' ' || p[0] == '\t') {
			/* continuation: unfold into the last field */
			struct group *cur = &g[ng - 1];
			char *prev = cur->f[cur->n - 1];
			size_t pl = strlen(prev);
			char *j = realloc(prev, pl + len + 1);

			assert_non_null(j);
			memcpy(j + pl, p, len);
			j[pl + len] = '\0';
			cur->f[cur->n - 1] = j;
		} else {
			if (ng == 0)
				ng = 1;
			assert_non_null(memchr(p, ':', len));
			assert_true(g[ng - 1].n < 16);
			g[ng - 1].f[g[ng - 1].n++] = dup_range(p, len);
		}
		p = eol + 2;
	}
	if (ng > 0 && g[ng - 1].n == 0)
		ng--;
	return ng;
}

static void groups_free(struct group *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < g[i].n; j++)
			free(g[i].f[j]);
}

/* The value of name in group g, or NULL. */
static const char *gval(const struct group *g, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < g->n; i++)
		if (strncasecmp(g->f[i], name, nl) == 0 && g->f[i][nl] == ':')
			return g->f[i] + nl + 2;
	return NULL;
}

/* Every line of s ends with CRLF and has at most 998 octets; no line
 * starts with prefix (NULL: not checked). */
static void check_lines(const char *s, size_t n, const char *prefix)
{
	size_t col = 0;

	assert_true(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (col == 0 && prefix != NULL && strncasecmp(s + i, prefix, strlen(prefix)) == 0)
			fail_msg("a line starts with %s at offset %zu", prefix, i);
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		assert_true(++col <= 998);
	}
}

static void report_init(struct dsn_report *r, struct dsn_rcpt *rc, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->reporting_mta = "mx.test";
	r->queue_id = "Q1234";
	r->arrival = 1700000000;
	r->now = 1700400000;
	r->original_sender = "alice@example.org";
	r->message = ORIG;
	r->message_len = sizeof(ORIG) - 1;
	r->rcpts = rc;
	r->nrcpts = n;
	r->random = RANDOM;
}

static char *make(const struct dsn_report *r, size_t *n)
{
	char err[256], *out = NULL;

	if (dsn_make(r, &out, n, err, sizeof(err)) != 0)
		fail_msg("dsn_make: %s", err);
	assert_non_null(out);
	assert_int_equal(strlen(out), *n);
	check_lines(out, *n, NULL);
	return out;
}

/* ------------------------------------------------------------------ tests */

/* EXT-07: the structure and every field of a bounce. */
static void test_bounce_structure(void **state)
{
	struct dsn_rcpt rc[2] = {
		{ "bob@example.net", DSN_FAILED, "5.1.1", "mx1.example.net",
		  "550 5.1.1 <bob@example.net>: Recipient address rejected", 1700399000, 0 },
		{ "carol@example.com", DSN_FAILED, "4.4.7", NULL,
		  "delivery time expired", 1700399500, 0 },
	};
	struct dsn_report r;
	struct parsed p;
	struct group g[4];
	size_t n, ng;
	char *out, *v, *text;

	(void)state;
	report_init(&r, rc, 2);
	out = make(&r, &n);
	parse_report(out, n, &p);

	v = field(p.m, "From");
	assert_string_equal(v, "Mail Delivery System <MAILER-DAEMON@mx.test>");
	free(v);
	v = field(p.m, "To");
	assert_string_equal(v, "<alice@example.org>");
	free(v);
	v = field(p.m, "Subject");
	assert_string_equal(v, "Undelivered Mail Returned to Sender");
	free(v);
	v = field(p.m, "Date");
	assert_string_equal(v, "Sun, 19 Nov 2023 13:20:00 +0000");
	free(v);
	v = field(p.m, "Message-ID");
	assert_string_equal(v, "<0123456789abcdeffedcba9876543210@mx.test>");
	free(v);
	v = field(p.m, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = field(p.m, "Auto-Submitted");
	assert_string_equal(v, "auto-replied");
	free(v);
	assert_int_equal(p.m->hdrs.n, 8);

	assert_int_equal(p.n, 3);
	assert_non_null(strstr(p.p[0].hdr, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(p.p[0].hdr, "Content-Transfer-Encoding: quoted-printable\r\n"));
	assert_non_null(strstr(p.p[1].hdr, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(p.p[2].hdr, "Content-Type: text/rfc822-headers\r\n"));

	text = qp_decode(p.p[0].body);
	assert_non_null(strstr(text, "<bob@example.net>: host mx1.example.net said: 550 5.1.1 "
	                             "<bob@example.net>: Recipient address rejected\r\n"));
	assert_non_null(strstr(text, "<carol@example.com>: delivery time expired\r\n"));
	assert_non_null(strstr(text, "Q1234"));
	assert_null(strstr(text, "still trying"));
	free(text);

	ng = parse_groups(p.p[1].body, g, 4);
	assert_int_equal(ng, 3);
	assert_string_equal(gval(&g[0], "Reporting-MTA"), "dns; mx.test");
	assert_string_equal(gval(&g[0], "Arrival-Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
	assert_string_equal(gval(&g[0], "X-Mxsend-Queue-ID"), "Q1234");
	assert_string_equal(gval(&g[1], "Final-Recipient"), "rfc822; bob@example.net");
	assert_string_equal(gval(&g[1], "Action"), "failed");
	assert_string_equal(gval(&g[1], "Status"), "5.1.1");
	assert_string_equal(gval(&g[1], "Remote-MTA"), "dns; mx1.example.net");
	assert_string_equal(gval(&g[1], "Diagnostic-Code"),
	                    "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected");
	assert_string_equal(gval(&g[1], "Last-Attempt-Date"), "Sun, 19 Nov 2023 13:03:20 +0000");
	assert_null(gval(&g[1], "Will-Retry-Until"));
	assert_string_equal(gval(&g[2], "Final-Recipient"), "rfc822; carol@example.com");
	assert_string_equal(gval(&g[2], "Status"), "4.4.7");
	assert_string_equal(gval(&g[2], "Diagnostic-Code"), "X-mxsend; delivery time expired");
	assert_null(gval(&g[2], "Remote-MTA"));
	groups_free(g, ng);

	/* the header only, exactly, never the body */
	assert_string_equal(p.p[2].body, "From: Alice <alice@example.org>\r\n"
	                                 "To: bob@example.net, carol@example.com\r\n"
	                                 "Subject: a long\r\n"
	                                 " folded subject\r\n"
	                                 "Message-ID: <1@example.org>\r\n");
	assert_null(strstr(out, "secret"));
	assert_true(dsn_allowed("", out, n) == 0);
	assert_true(dsn_allowed("someone@example.org", out, n) == 0);
	parsed_free(&p);
	free(out);
}

/* SEC-05, EXT-07: CR/LF and other controls in remote text cannot add a
 * header field or a part, in any position. */
static void test_hostile_diagnostic(void **state)
{
	struct dsn_rcpt rc[1] = {
		{ "bob@example.net\r\nBcc: z@evil", DSN_FAILED, "5.1.1\r\nBcc: s@evil",
		  "mx1.example.net\r\nBcc: y@evil",
		  "550 no\r\nBcc: x@evil\r\n\r\n--=_mxsend_1032547698badcfeefcdab8967452301--\r\n"
		  "Subject: \x01\x7f\tinjected\nX: 1\rY: 2\0tail",
		  1, 0 },
	};
	struct dsn_report r;
	struct parsed p;
	struct group g[3];
	size_t n, ng;
	char *out, *text;

	(void)state;
	report_init(&r, rc, 1);
	out = make(&r, &n);
	parse_report(out, n, &p);
	assert_int_equal(hdr_list_count(&p.m->hdrs, "Bcc"), 0);
	assert_int_equal(hdr_list_count(&p.m->hdrs, "X"), 0);
	assert_int_equal(hdr_list_count(&p.m->hdrs, "Y"), 0);
	/* no field starts a line in the part headers or the status part (the
	 * quoted-printable text may break its lines anywhere: it is text) */
	for (size_t i = 0; i < p.n; i++) {
		assert_null(strstr(p.p[i].hdr, "Bcc"));
		assert_null(strstr(p.p[i].hdr, "X: 1"));
	}
	check_lines(p.p[1].body, strlen(p.p[1].body), "Bcc");
	check_lines(p.p[1].body, strlen(p.p[1].body), "X: 1");
	check_lines(p.p[1].body, strlen(p.p[1].body), "Y: 2");
	check_lines(p.p[1].body, strlen(p.p[1].body), "Subject");
	assert_int_equal(hdr_list_count(&p.m->hdrs, "Subject"), 1);
	assert_int_equal(p.n, 3);
	/* the boundary in the reply was the real one: another was chosen */
	assert_string_equal(p.boundary, "=_mxsend_1032547698badcfeefcdab8967452301_1");
	ng = parse_groups(p.p[1].body, g, 3);
	assert_int_equal(ng, 2);
	/* Final-Recipient, Action, Status, Diagnostic-Code, Last-Attempt-Date */
	assert_int_equal(g[1].n, 5);
	assert_string_equal(gval(&g[1], "Final-Recipient"), "rfc822; bob@example.net Bcc: z@evil");
	assert_string_equal(gval(&g[1], "Status"), "5.0.0");
	assert_null(gval(&g[1], "Remote-MTA"));
	assert_string_equal(gval(&g[1], "Diagnostic-Code"),
	                    "smtp; 550 no Bcc: x@evil --=_mxsend_1032547698badcfeefcdab8967452301-- "
	                    "Subject: injected X: 1 Y: 2"); /* NUL ends the C string */
	groups_free(g, ng);
	text = qp_decode(p.p[0].body);
	assert_non_null(strstr(text, "<bob@example.net Bcc: z@evil>: 550 no Bcc: x@evil"));
	free(text);
	parsed_free(&p);
	free(out);
}

/* DLV-25: long replies are folded within 998 octets and cut at
 * DSN_DIAG_MAX; a word with no space is split by a fold. */
static void test_long_diagnostic(void **state)
{
	char *words = malloc(10001), *blob = malloc(3001), *out;
	struct dsn_rcpt rc[2];
	struct dsn_report r;
	struct parsed p;
	struct group g[3];
	size_t n, ng;
	const char *d;

	(void)state;
	assert_non_null(words);
	assert_non_null(blob);
	memcpy(words, "451", 3);
	for (size_t i = 3; i < 10000; i++)
		words[i] = i % 7 == 3 ? ' ' : 'a' + (char)(i % 26);
	words[10000] = '\0';
	memset(blob, 'x', 3000);
	blob[3000] = '\0';
	memset(rc, 0, sizeof(rc));
	rc[0] = (struct dsn_rcpt){ "a@x.test", DSN_DELAYED, "4.2.0", "mx.x.test", words, 5, 0 };
	rc[1] = (struct dsn_rcpt){ "b@x.test", DSN_FAILED, NULL, NULL, blob, 0, 0 };
	report_init(&r, rc, 2);
	out = make(&r, &n);
	parse_report(out, n, &p);
	ng = parse_groups(p.p[1].body, g, 3);
	assert_int_equal(ng, 3);
	d = gval(&g[1], "Diagnostic-Code");
	assert_non_null(d);
	/* "smtp; " + at most DSN_DIAG_MAX octets of text; "..." at the cut */
	assert_true(strlen(d) <= 6 + DSN_DIAG_MAX + 64);
	assert_true(strlen(d) > DSN_DIAG_MAX - 64);
	assert_string_equal(d + strlen(d) - 3, "...");
	assert_true(strncmp(d, "smtp; 451 ", 10) == 0);
	/* folded into many short lines: the raw part has more lines than groups */
	assert_non_null(strstr(p.p[1].body, "\r\n "));
	d = gval(&g[2], "Diagnostic-Code");
	assert_non_null(d);
	assert_true(strncmp(d, "X-mxsend; xxx", 13) == 0);
	assert_string_equal(gval(&g[2], "Status"), "5.0.0");
	assert_null(gval(&g[2], "Last-Attempt-Date"));
	groups_free(g, ng);
	parsed_free(&p);
	free(out);
	free(words);
	free(blob);
}

/* RFC 6522 3: the header part is cut at DSN_HEADERS_MAX, at a line. */
static void test_header_truncated(void **state)
{
	size_t lines = 2000, len = 0, n;
	char *m = malloc(lines * 64 + 64), *out, *text;
	struct dsn_rcpt rc[1] = { { "a@x.test", DSN_FAILED, "5.0.0", NULL, NULL, 0, 0 } };
	struct dsn_report r;
	struct parsed p;
	size_t pl;

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < lines; i++)
		len += (size_t)sprintf(m + len, "X-Filler-%04zu: %045zu\r\n", i, i);
	len += (size_t)sprintf(m + len, "\r\nbody\r\n");
	report_init(&r, rc, 1);
	r.message = m;
	r.message_len = len;
	out = make(&r, &n);
	parse_report(out, n, &p);
	pl = strlen(p.p[2].body);
	assert_true(pl <= DSN_HEADERS_MAX);
	assert_true(pl > DSN_HEADERS_MAX - 64);
	assert_true(pl % 62 == 0); /* whole lines of 62 octets */
	assert_memory_equal(p.p[2].body, m, pl);
	text = qp_decode(p.p[0].body);
	assert_non_null(strstr(text, "cut at 64 KiB"));
	free(text);
	parsed_free(&p);
	free(out);

	/* LF line ends, a control and 8-bit in the original header are
	 * cleaned; a header without an empty line ends at the end */
	r.message = "Subject: caf\xc3\xa9\x01\nX-Y: 1";
	r.message_len = strlen(r.message);
	out = make(&r, &n);
	parse_report(out, n, &p);
	assert_string_equal(p.p[2].body, "Subject: caf???\r\nX-Y: 1\r\n");
	text = qp_decode(p.p[0].body);
	assert_null(strstr(text, "cut at"));
	free(text);
	parsed_free(&p);
	free(out);

	/* no message at all: an empty header part */
	r.message = NULL;
	r.message_len = 0;
	out = make(&r, &n);
	parse_report(out, n, &p);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.p[2].body, "");
	parsed_free(&p);
	free(out);
	free(m);
}

/* The Subject and the text follow the mix of actions; delayed
 * recipients carry Will-Retry-Until. */
static void test_subject_per_action_mix(void **state)
{
	static const struct {
		enum dsn_action a, b;
		const char *subject;
		int failed_text, delayed_text;
	} cases[] = {
		{ DSN_FAILED, DSN_FAILED, "Undelivered Mail Returned to Sender", 1, 0 },
		{ DSN_FAILED, DSN_DELAYED, "Undelivered Mail Returned to Sender", 1, 1 },
		{ DSN_DELAYED, DSN_FAILED, "Undelivered Mail Returned to Sender", 1, 1 },
		{ DSN_DELAYED, DSN_DELAYED, "Delayed Mail (still being retried)", 0, 1 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct dsn_rcpt rc[2] = {
			{ "a@x.test", cases[k].a, NULL, NULL, "421 busy", 1700300000, 1700500000 },
			{ "b@x.test", cases[k].b, NULL, NULL, NULL, 0, 1700500000 },
		};
		struct dsn_report r;
		struct parsed p;
		struct group g[3];
		size_t n, ng;
		char *out, *v, *text;

		report_init(&r, rc, 2);
		out = make(&r, &n);
		parse_report(out, n, &p);
		v = field(p.m, "Subject");
		assert_string_equal(v, cases[k].subject);
		free(v);
		text = qp_decode(p.p[0].body);
		assert_int_equal(strstr(text, "could not be delivered") != NULL, cases[k].failed_text);
		assert_int_equal(strstr(text, "still trying") != NULL, cases[k].delayed_text);
		free(text);
		ng = parse_groups(p.p[1].body, g, 3);
		assert_int_equal(ng, 3);
		for (size_t i = 0; i < 2; i++) {
			int failed = rc[i].action == DSN_FAILED;

			assert_string_equal(gval(&g[i + 1], "Action"), failed ? "failed" : "delayed");
			assert_string_equal(gval(&g[i + 1], "Status"), failed ? "5.0.0" : "4.0.0");
			if (failed)
				assert_null(gval(&g[i + 1], "Will-Retry-Until"));
			else
				assert_string_equal(gval(&g[i + 1], "Will-Retry-Until"),
				                    "Mon, 20 Nov 2023 17:06:40 +0000");
		}
		groups_free(g, ng);
		parsed_free(&p);
		free(out);
	}
}

/* Status codes: kept when well-formed class 4 or 5, defaulted otherwise. */
static void test_status_codes(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "5.1.1", "5.1.1" }, { "4.4.7", "4.4.7" }, { "5.7.30", "5.7.30" },
		{ "5.123.456", "5.123.456" }, { "2.0.0", "5.0.0" }, { "5.1", "5.0.0" },
		{ "5.1.1 ", "5.0.0" }, { "5.1234.1", "5.0.0" }, { "", "5.0.0" }, { NULL, "5.0.0" },
		{ "x.1.1", "5.0.0" }, { "5..1", "5.0.0" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct dsn_rcpt rc[1] = { { "a@x.test", DSN_FAILED, cases[k].in, NULL, NULL, 0, 0 } };
		struct dsn_report r;
		struct parsed p;
		struct group g[2];
		size_t n, ng;
		char *out;

		report_init(&r, rc, 1);
		out = make(&r, &n);
		parse_report(out, n, &p);
		ng = parse_groups(p.p[1].body, g, 2);
		if (strcmp(gval(&g[1], "Status"), cases[k].want) != 0)
			fail_msg("status '%s': want %s got %s", cases[k].in ? cases[k].in : "(null)",
			         cases[k].want, gval(&g[1], "Status"));
		groups_free(g, ng);
		parsed_free(&p);
		free(out);
	}
}

/* 8-bit replies: UTF-8 kept in the text part, '?' in the 7-bit
 * delivery-status part; GBK (not UTF-8) is '?' in both. */
static void test_8bit_diagnostic(void **state)
{
	struct dsn_rcpt rc[2] = {
		{ "a@x.test", DSN_FAILED, "5.1.1", NULL, "550 \xe7\x94\xa8\xe6\x88\xb7 unknown", 0, 0 },
		{ "b@x.test", DSN_FAILED, "5.7.8", NULL, "535 \xc7\xeb\xca\xe4 login", 0, 0 },
	};
	struct dsn_report r;
	struct parsed p;
	struct group g[3];
	size_t n, ng;
	char *out, *text;

	(void)state;
	report_init(&r, rc, 2);
	out = make(&r, &n);
	for (size_t i = 0; i < n; i++)
		assert_true((unsigned char)out[i] < 0x80);
	parse_report(out, n, &p);
	text = qp_decode(p.p[0].body);
	assert_non_null(strstr(text, "550 \xe7\x94\xa8\xe6\x88\xb7 unknown"));
	assert_non_null(strstr(text, "535 ???? login"));
	free(text);
	ng = parse_groups(p.p[1].body, g, 3);
	assert_string_equal(gval(&g[1], "Diagnostic-Code"), "smtp; 550 ?????? unknown");
	assert_string_equal(gval(&g[2], "Diagnostic-Code"), "smtp; 535 ???? login");
	groups_free(g, ng);
	parsed_free(&p);
	free(out);
}

static void expect_error(const struct dsn_report *r, const char *want)
{
	char err[256] = "", *out = (char *)1;
	size_t n = 99;

	assert_int_equal(dsn_make(r, &out, &n, err, sizeof(err)), -1);
	assert_null(out);
	assert_int_equal(n, 0);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not name '%s'", err, want);
}

static void test_errors(void **state)
{
	struct dsn_rcpt rc[1] = { { "a@x.test", DSN_FAILED, NULL, NULL, NULL, 0, 0 } };
	struct dsn_report r;
	char *out = NULL, err[256];
	size_t n;

	(void)state;
	report_init(&r, rc, 0);
	expect_error(&r, "recipient");
	report_init(&r, rc, 1);
	r.original_sender = "<>";
	expect_error(&r, "null reverse path");
	r.original_sender = "";
	expect_error(&r, "null reverse path");
	r.original_sender = NULL;
	expect_error(&r, "null reverse path");
	r.original_sender = "a@b\r\nBcc: x@evil";
	expect_error(&r, "0x0d");
	r.original_sender = "a>b@x";
	expect_error(&r, "0x3e");
	r.original_sender = "caf\xc3\xa9@x";
	expect_error(&r, "0xc3");
	report_init(&r, rc, 1);
	r.reporting_mta = "bad host";
	expect_error(&r, "bad host");
	r.reporting_mta = "mx.test\r\nBcc: x";
	expect_error(&r, "mx.test");
	r.reporting_mta = NULL;
	expect_error(&r, "host name");
	report_init(&r, rc, 1);
	r.random = NULL;
	expect_error(&r, "random");
	report_init(&r, rc, 1);
	rc[0].action = (enum dsn_action)7;
	expect_error(&r, "action");
	rc[0].action = DSN_FAILED;
	rc[0].address = "";
	expect_error(&r, "no address");
	rc[0].address = "a@x.test";

	/* angle brackets around the sender are allowed */
	r.original_sender = "<alice@example.org>";
	assert_int_equal(dsn_make(&r, &out, &n, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\r\nTo: <alice@example.org>\r\n"));
	free(out);
}

/* DLV-22: no report about reports, null senders or mailer daemons;
 * auto-submitted mail still gets one (dsn.h). */
static void test_allowed(void **state)
{
	static const struct {
		const char *from, *msg;
		int want;
	} cases[] = {
		{ "a@x.test", "Subject: hi\r\n\r\nbody\r\n", 1 },
		{ "a@x.test", NULL, 1 },
		{ "a@x.test", "", 1 },
		{ "", "Subject: hi\r\n\r\n", 0 },
		{ "<>", "Subject: hi\r\n\r\n", 0 },
		{ " < > ", "Subject: hi\r\n\r\n", 0 },
		{ NULL, "Subject: hi\r\n\r\n", 0 },
		{ "MAILER-DAEMON@x.test", "Subject: hi\r\n\r\n", 0 },
		{ "<mailer-daemon@x.test>", "Subject: hi\r\n\r\n", 0 },
		{ "mailer-daemonx@x.test", "Subject: hi\r\n\r\n", 1 },
		{ "a@x.test",
		  "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n", 0 },
		{ "a@x.test",
		  "content-type: Multipart/Report;\r\n\treport-type=\"Delivery-Status\";\r\n"
		  " boundary=\"x\"\r\n\r\n", 0 },
		{ "a@x.test",
		  "Content-Type: multipart/report (a comment);\n boundary=x; report-type =\n"
		  " delivery-status\n\nbody\n", 0 },
		{ "a@x.test", "Content-Type: multipart/report; report-type=disposition-notification\r\n"
		              "\r\n", 1 },
		{ "a@x.test", "Content-Type: multipart/mixed; report-type=delivery-status\r\n\r\n", 1 },
		{ "a@x.test", "Content-Type: text/plain\r\n\r\n"
		              "Content-Type: multipart/report; report-type=delivery-status\r\n", 1 },
		{ "a@x.test", "From: Mail Delivery System <MAILER-DAEMON@x.test>\r\n\r\n", 0 },
		{ "a@x.test", "FROM:mailer-daemon@x.test (the daemon)\r\n\r\n", 0 },
		{ "a@x.test", "Sender: MAILER-DAEMON\r\n\r\n", 0 },
		{ "a@x.test", "From: MAILER-DAEMON <bob@x.test>\r\n\r\n", 1 },
		{ "a@x.test", "Subject: from MAILER-DAEMON@x\r\n\r\n", 1 },
		{ "a@x.test", "Return-Path: <>\r\n\r\n", 0 },
		{ "a@x.test", "Return-Path: <a@x.test>\r\n\r\n", 1 },
		{ "a@x.test", "Auto-Submitted: auto-generated\r\n\r\n", 1 },
		{ "a@x.test", "Auto-Submitted: auto-replied\r\n\r\n", 1 },
		{ "a@x.test", "Subject: x\r\n"
		              "From: a@x.test\r\n"
		              " , <Mailer-Daemon@y.test>\r\n\r\n", 0 },
		/* a line that is not a field ends the header */
		{ "a@x.test", "Subject: x\r\nnot a field\r\nFrom: MAILER-DAEMON@x\r\n\r\n", 1 },
		/* the empty line ends the header */
		{ "a@x.test", "Subject: x\n\nFrom: MAILER-DAEMON@x\n", 1 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *msg = cases[k].msg;
		int got = dsn_allowed(cases[k].from, msg, msg != NULL ? strlen(msg) : 0);

		if (got != cases[k].want)
			fail_msg("case %zu: want %d got %d", k, cases[k].want, got);
	}
}

/* Limits: a header past 1000 fields or DSN_SCAN_MAX octets is not read
 * further; the length given is respected (no NUL needed). */
static void test_allowed_limits(void **state)
{
	size_t cap = 1100 * 16 + 128, len = 0;
	char *m = malloc(cap);
	static const char tail[] = "From: MAILER-DAEMON@x\r\n\r\n";

	(void)state;
	assert_non_null(m);
	for (int i = 0; i < 998; i++)
		len += (size_t)sprintf(m + len, "X-A: %09d\r\n", i);
	memcpy(m + len, tail, sizeof(tail) - 1);
	assert_int_equal(dsn_allowed("a@x.test", m, len + sizeof(tail) - 1), 0);
	/* only part of the field given: it is not seen */
	assert_int_equal(dsn_allowed("a@x.test", m, len + 8), 1);
	for (int i = 998; i < 1100; i++)
		len += (size_t)sprintf(m + len, "X-A: %09d\r\n", i);
	memcpy(m + len, tail, sizeof(tail) - 1);
	assert_int_equal(dsn_allowed("a@x.test", m, len + sizeof(tail) - 1), 1);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounce_structure),
		cmocka_unit_test(test_hostile_diagnostic),
		cmocka_unit_test(test_long_diagnostic),
		cmocka_unit_test(test_header_truncated),
		cmocka_unit_test(test_subject_per_action_mix),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_8bit_diagnostic),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_allowed_limits),
	};

	return cmocka_run_group_tests_name("dsn", tests, NULL, NULL);
}
