/*
 * dsn: builds delivery status notifications (RFC 3464 in a multipart/report
 * of RFC 6522) and decides whether a message may get one (no bounce
 * loops). The rules for cleaning outside text are in dsn.h.
 *
 * Owns nothing beyond the report it returns. Must not send anything, read
 * the clock or draw random numbers: the queue passes the time and the
 * random octets, and sends the result with MAIL FROM:<>.
 *
 * Reuses msg.c for the date and Message-ID, and mime.c for
 * quoted-printable, UTF-8 checks and header folding.
 *
 * References: RFC 3464 2.1-2.3 (fields), RFC 6522 (multipart/report,
 * text/rfc822-headers), RFC 3463 (status codes), RFC 3834 5
 * (Auto-Submitted), RFC 5321 4.5.5 (null reverse path, no bounce of a
 * bounce), RFC 5322 2.1.1 and 2.2.3 (line length, folding).
 */
#include "config.h"

#include "dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "msg.h"

#define SCAN_FIELDS 1000   /* header fields dsn_allowed reads */
#define SCAN_VALUE 4096    /* octets of one unfolded value it looks at */
#define WORD_CHUNK 900     /* longest word written on one folded line */
#define BOUNDARY_TRIES 100 /* boundaries tried before giving up */
#define HOST_MAX 255       /* octets in a Remote-MTA name */
#define QUEUE_ID_MAX 64    /* octets in a queue id we repeat */

/* ------------------------------------------------------ loop prevention */

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* 1 for NULL, "", "<>" (white space around and inside allowed). */
static int is_null_path(const char *s, size_t n)
{
	size_t i = 0;

	if (s == NULL)
		return 1;
	while (i < n && is_wsp(s[i]))
		i++;
	while (n > i && is_wsp(s[n - 1]))
		n--;
	if (i == n)
		return 1;
	if (s[i] != '<' || s[n - 1] != '>')
		return 0;
	for (i++, n--; i < n; i++)
		if (!is_wsp(s[i]))
			return 0;
	return 1;
}

/* 1 when s holds the local part MAILER-DAEMON as an address: after the
 * start, '<', ':', ',' or white space, and before '@', '>' or the end.
 * A heuristic, not an address parser: "MAILER-DAEMON <bob@x>" as a
 * display name does not match, "<MAILER-DAEMON@x>" and "mailer-daemon"
 * do. */
static int is_daemon(const char *s, size_t n)
{
	static const char word[] = "mailer-daemon";
	const size_t wl = sizeof(word) - 1;

	for (size_t i = 0; i + wl <= n; i++) {
		char before = i > 0 ? s[i - 1] : ' ';
		char after = i + wl < n ? s[i + wl] : '>';

		if (strncasecmp(s + i, word, wl) != 0)
			continue;
		if ((before == '<' || before == ':' || before == ',' || is_wsp(before)) &&
		    (after == '@' || after == '>' || (i + wl == n)))
			return 1;
	}
	return 0;
}

/* Skips white space and (nested, bounded) comments of a structured field
 * (RFC 5322 3.2.2 CFWS). */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
	for (;;) {
		while (i < n && is_wsp(s[i]))
			i++;
		if (i < n && s[i] == '(') {
			int depth = 0;

			for (; i < n; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(' && ++depth > 32)
					return n;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		return i;
	}
}

/* A MIME token (RFC 2045 5.1): length at s + i. */
static size_t token_len(const char *s, size_t n, size_t i)
{
	size_t j = i;

	while (j < n) {
		unsigned char c = (unsigned char)s[j];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
			break;
		j++;
	}
	return j - i;
}

static int token_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

/* 1 when an unfolded Content-Type value is multipart/report with
 * report-type=delivery-status (RFC 6522 3, RFC 3464 2). */
static int is_delivery_report(const char *s, size_t n)
{
	size_t i = skip_cfws(s, n, 0), l;

	l = token_len(s, n, i);
	if (!token_is(s + i, l, "multipart"))
		return 0;
	i = skip_cfws(s, n, i + l);
	if (i >= n || s[i] != '/')
		return 0;
	i = skip_cfws(s, n, i + 1);
	l = token_len(s, n, i);
	if (!token_is(s + i, l, "report"))
		return 0;
	i += l;
	for (;;) {
		const char *attr;
		size_t al;
		char val[64];
		size_t vl = 0;

		i = skip_cfws(s, n, i);
		if (i >= n || s[i] != ';')
			return 0;
		i = skip_cfws(s, n, i + 1);
		attr = s + i;
		al = token_len(s, n, i);
		if (al == 0)
			return 0;
		i = skip_cfws(s, n, i + al);
		if (i >= n || s[i] != '=')
			return 0;
		i = skip_cfws(s, n, i + 1);
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				if (vl < sizeof(val) - 1)
					val[vl++] = s[i];
			}
			if (i >= n)
				return 0;
			i++;
		} else {
			l = token_len(s, n, i);
			if (l == 0)
				return 0;
			vl = l < sizeof(val) - 1 ? l : sizeof(val) - 1;
			memcpy(val, s + i, vl);
			i += l;
		}
		if (token_is(attr, al, "report-type"))
			return token_is(val, vl, "delivery-status");
	}
}

/* Checks one header field (name, raw value with folding). Returns 1 when
 * it marks the message as one that must not get a report. */
static int field_forbids(const char *name, size_t nl, const char *raw, size_t rl)
{
	char v[SCAN_VALUE];
	size_t n = 0;

	if (!token_is(name, nl, "content-type") && !token_is(name, nl, "from") &&
	    !token_is(name, nl, "sender") && !token_is(name, nl, "return-path"))
		return 0;
	/* unfold (RFC 5322 2.2.3): drop the CR and LF, keep the white space */
	for (size_t i = 0; i < rl && n < sizeof(v); i++)
		if (raw[i] != '\r' && raw[i] != '\n')
			v[n++] = raw[i];
	if (token_is(name, nl, "content-type"))
		return is_delivery_report(v, n);
	if (token_is(name, nl, "return-path") && is_null_path(v, n))
		return 1;
	return is_daemon(v, n);
}

int dsn_allowed(const char *mail_from, const char *message, size_t message_len)
{
	size_t pos = 0, fields = 0, name = 0, nl = 0, vstart = 0, vend = 0;
	int have = 0;

	if (mail_from == NULL || is_null_path(mail_from, strlen(mail_from)) ||
	    is_daemon(mail_from, strlen(mail_from)))
		return 0;
	if (message == NULL)
		return 1;
	if (message_len > DSN_SCAN_MAX)
		message_len = DSN_SCAN_MAX;
	while (pos < message_len) {
		const char *eol = memchr(message + pos, '\n', message_len - pos);
		size_t end = eol != NULL ? (size_t)(eol - message) : message_len;
		size_t next = eol != NULL ? end + 1 : message_len;
		size_t cend = end > pos && message[end - 1] == '\r' ? end - 1 : end;
		const char *colon;

		if (cend == pos)
			break; /* the empty line: end of the header */
		if (is_wsp(message[pos])) {
			if (have)
				vend = cend; /* a continuation line */
			pos = next;
			continue;
		}
		if (have && field_forbids(message + name, nl, message + vstart, vend - vstart))
			return 0;
		have = 0;
		colon = memchr(message + pos, ':', cend - pos);
		if (colon == NULL || ++fields > SCAN_FIELDS)
			break; /* not a field: the header ends here */
		name = pos;
		nl = (size_t)(colon - message) - pos;
		while (nl > 0 && is_wsp(message[name + nl - 1]))
			nl--; /* obsolete "Name :" (RFC 5322 4.5) */
		vstart = (size_t)(colon - message) + 1;
		vend = cend;
		have = 1;
		pos = next;
	}
	if (have && field_forbids(message + name, nl, message + vstart, vend - vstart))
		return 0;
	return 1;
}

/* ------------------------------------------------------------- building */

/* Appends s (n octets), cleaned for one line: every run of controls and
 * white space becomes one space, leading and trailing ones are dropped,
 * an octet >= 0x80 is kept when utf8 and it starts a valid UTF-8
 * sequence, '?' otherwise. Stops before max octets and adds "...". */
static void put_clean(struct buf *b, const char *s, size_t n, size_t max, int utf8)
{
	size_t start = b->len, i = 0;
	int space = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = 1;

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = 1;
			i++;
			continue;
		}
		if (c >= 0x80) {
			len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
			    : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			if (!utf8 || len == 0 || i + len > n || mime_utf8_check(s + i, len, NULL) != 0)
				len = 0;
		}
		if (b->len - start + (space ? 1 : 0) + (len ? len : 1) > max - 3) {
			buf_puts(b, "...");
			return;
		}
		if (space && b->len > start)
			buf_putc(b, ' ');
		space = 0;
		if (len == 0) {
			buf_putc(b, '?');
			i++;
		} else {
			buf_append(b, s + i, len);
			i += len;
		}
	}
}

/* s cleaned by put_clean into b (emptied first); returns the text, ""
 * after an allocation failure, which stays recorded in b. */
static const char *clean(struct buf *b, const char *s, size_t max, int utf8)
{
	int failed = buf_failed(b);

	buf_reset(b);
	b->failed = failed;
	if (s != NULL)
		put_clean(b, s, strlen(s), max, utf8);
	buf_puts(b, "");
	return buf_failed(b) || b->data == NULL ? "" : b->data;
}

/* 1 for class.subject.detail with class 4 or 5 (RFC 3463 2). */
static int status_ok(const char *s)
{
	size_t i = 1;

	if (s == NULL || (s[0] != '4' && s[0] != '5'))
		return 0;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		if (s[i++] != '.')
			return 0;
		while (s[i] >= '0' && s[i] <= '9' && d < 4) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
	}
	return s[i] == '\0';
}

/* 1 for a name we may write after "dns;": host-name characters, or an
 * address literal in brackets. */
static int host_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || ((c == '[' || c == ']') && n > 2)))
			return 0;
	}
	return 1;
}

/* 1 for a diagnostic that is an SMTP reply: three digits, first 2 to 5,
 * then the end, a space or '-' (RFC 5321 4.2; RFC 3464 2.3.6 "smtp"). */
static int is_smtp_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	       s[2] <= '9' && (s[3] == '\0' || s[3] == ' ' || s[3] == '-');
}

/* Appends "Name: first words", folded, and CRLF. text is clean (no
 * controls, single spaces); a word longer than WORD_CHUNK is split by a
 * fold, which adds a space to the text. */
static int put_folded(struct buf *b, const char *name, const char *first, const char *text,
                      char *err, size_t errlen)
{
	struct mime_fold f;
	size_t n = strlen(text);

	buf_puts(b, name);
	buf_putc(b, ':');
	mime_fold_init(&f, b, strlen(name) + 1);
	if (mime_fold_put(&f, " ", 1, first, strlen(first), err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t w = 0;

		while (i < n && text[i] == ' ')
			i++;
		while (i + w < n && text[i + w] != ' ' && w < WORD_CHUNK)
			w++;
		if (w > 0 && mime_fold_put(&f, " ", 1, text + i, w, err, errlen) != 0)
			return -1;
		i += w;
	}
	return buf_puts(b, "\r\n");
}

static int put_date(struct buf *b, const char *name, int64_t t, char *err, size_t errlen)
{
	char date[MSG_DATE_MAX];

	if (msg_format_date(t, 0, date, err, errlen) != 0)
		return -1;
	return buf_printf(b, "%s: %s\r\n", name, date);
}

/* The original header: lines up to the first empty one, cleaned (see
 * dsn.h), at most DSN_HEADERS_MAX octets cut at a line. Returns 1 when it
 * was cut. */
static int put_orig_header(struct buf *b, const char *m, size_t len)
{
	size_t pos = 0, used = 0;

	if (m == NULL)
		return 0;
	while (pos < len) {
		const char *eol = memchr(m + pos, '\n', len - pos);
		size_t end = eol != NULL ? (size_t)(eol - m) : len;
		size_t next = eol != NULL ? end + 1 : len;
		size_t n;

		if (end > pos && m[end - 1] == '\r')
			end--;
		if (end == pos)
			return 0;
		n = end - pos;
		if (n > MIME_LINE_MAX)
			n = MIME_LINE_MAX;
		if (used + n + 2 > DSN_HEADERS_MAX)
			return 1;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)m[pos + i];

			buf_putc(b, (c < 0x20 && c != '\t') || c >= 0x7f ? '?' : (char)c);
		}
		buf_puts(b, "\r\n");
		used += n + 2;
		pos = next;
	}
	return 0;
}

/* Checks what was built: CRLF line ends only, lines <= 998 octets, a
 * final CRLF. A failure here is a bug in this file. */
static int wire_ok(const char *s, size_t n)
{
	size_t col = 0;

	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 == n || s[i + 1] != '\n')
				return 0;
			col = 0;
			i++;
		} else if (s[i] == '\n' || s[i] == '\0' || ++col > MIME_LINE_MAX) {
			return 0;
		}
	}
	return 1;
}

/* The text/plain explanation (UTF-8, CRLF lines, not yet encoded). */
static void put_text(struct buf *t, const struct dsn_report *r, const char *host,
                     const char *qid, int any_failed, int any_delayed, int cut,
                     struct buf *tmp)
{
	buf_printf(t, "This is the mail delivery system at %s.\r\n", host);
	for (int pass = 0; pass < 2; pass++) {
		enum dsn_action want = pass == 0 ? DSN_FAILED : DSN_DELAYED;

		if (want == DSN_FAILED ? !any_failed : !any_delayed)
			continue;
		buf_puts(t, "\r\n");
		if (want == DSN_FAILED)
			buf_puts(t, "Your message could not be delivered to the recipients below.\r\n"
			            "The mail system has stopped trying for them.\r\n");
		else
			buf_puts(t, "Your message has not been delivered yet to the recipients\r\n"
			            "below. The mail system is still trying; you do not need to\r\n"
			            "send it again.\r\n");
		buf_puts(t, "\r\n");
		for (size_t i = 0; i < r->nrcpts; i++) {
			const struct dsn_rcpt *rc = &r->rcpts[i];
			const char *diag;

			if (rc->action != want)
				continue;
			buf_printf(t, "<%s>: ", clean(tmp, rc->address, DSN_ADDR_MAX, 1));
			if (host_ok(rc->remote_mta))
				buf_printf(t, "host %s said: ", rc->remote_mta);
			diag = clean(tmp, rc->diagnostic, DSN_DIAG_MAX, 1);
			if (diag[0] != '\0')
				buf_puts(t, diag);
			else
				buf_printf(t, "status %s",
				           status_ok(rc->status) ? rc->status
				           : want == DSN_FAILED ? "5.0.0" : "4.0.0");
			buf_puts(t, "\r\n");
		}
	}
	buf_puts(t, "\r\n");
	if (qid[0] != '\0')
		buf_printf(t, "Queue id: %s\r\n", qid);
	buf_puts(t, "The delivery report and the header of your message are attached");
	buf_puts(t, cut ? "\r\n(the header was cut at 64 KiB).\r\n" : ".\r\n");
}

/* The message/delivery-status fields (RFC 3464 2.2, 2.3). */
static int put_status(struct buf *s, const struct dsn_report *r, const char *host,
                      const char *qid, struct buf *tmp, char *err, size_t errlen)
{
	buf_printf(s, "Reporting-MTA: dns; %s\r\n", host);
	if (qid[0] != '\0')
		buf_printf(s, "X-Mxsend-Queue-ID: %s\r\n", qid);
	if (r->arrival != 0 && put_date(s, "Arrival-Date", r->arrival, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		int failed = rc->action == DSN_FAILED;
		const char *v;

		buf_puts(s, "\r\n");
		v = clean(tmp, rc->address, DSN_ADDR_MAX, 0);
		if (put_folded(s, "Final-Recipient", "rfc822;", v, err, errlen) != 0)
			return -1;
		buf_printf(s, "Action: %s\r\n", failed ? "failed" : "delayed");
		buf_printf(s, "Status: %s\r\n",
		           status_ok(rc->status) ? rc->status : failed ? "5.0.0" : "4.0.0");
		if (host_ok(rc->remote_mta))
			buf_printf(s, "Remote-MTA: dns; %s\r\n", rc->remote_mta);
		v = clean(tmp, rc->diagnostic, DSN_DIAG_MAX, 0);
		if (v[0] != '\0' &&
		    put_folded(s, "Diagnostic-Code", is_smtp_reply(v) ? "smtp;" : "X-mxsend;", v,
		               err, errlen) != 0)
			return -1;
		if (rc->last_attempt != 0 &&
		    put_date(s, "Last-Attempt-Date", rc->last_attempt, err, errlen) != 0)
			return -1;
		if (!failed && rc->will_retry_until != 0 &&
		    put_date(s, "Will-Retry-Until", rc->will_retry_until, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Checks the envelope sender for use as To: and writes it without its
 * angle brackets into out. */
static int sender_ok(const char *from, struct buf *out, char *err, size_t errlen)
{
	size_t n = from != NULL ? strlen(from) : 0;
	const char *p = from;

	if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
		p++;
		n -= 2;
	}
	if (n == 0 || is_null_path(from, strlen(from))) {
		snprintf(err, errlen, "no report to the null reverse path");
		return -1;
	}
	if (n > DSN_ADDR_MAX) {
		snprintf(err, errlen, "sender address longer than %u octets", DSN_ADDR_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c >= 0x7f || c == '<' || c == '>') {
			snprintf(err, errlen, "sender address has an unusable octet 0x%02x at %zu", c, i);
			return -1;
		}
	}
	buf_reset(out);
	if (buf_append(out, p, n) != 0) {
		snprintf(err, errlen, "out of memory building a report");
		return -1;
	}
	return 0;
}

int dsn_make(const struct dsn_report *r, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf plain = BUF_INIT, text = BUF_INIT, status = BUF_INIT, orig = BUF_INIT;
	struct buf m = BUF_INIT, tmp = BUF_INIT, to = BUF_INIT, qid = BUF_INIT;
	char msgid[MSG_MSGID_MAX], bnd[80];
	const char *qs;
	int rc = -1, any_failed = 0, any_delayed = 0, cut;

	*out = NULL;
	*outlen = 0;
	if (r->rcpts == NULL || r->nrcpts == 0) {
		snprintf(err, errlen, "a report needs a recipient");
		goto done;
	}
	if (r->random == NULL) {
		snprintf(err, errlen, "a report needs random octets");
		goto done;
	}
	for (size_t i = 0; i < r->nrcpts; i++) {
		if (r->rcpts[i].address == NULL || r->rcpts[i].address[0] == '\0') {
			snprintf(err, errlen, "recipient %zu has no address", i);
			goto done;
		}
		if (r->rcpts[i].action == DSN_FAILED) {
			any_failed = 1;
		} else if (r->rcpts[i].action == DSN_DELAYED) {
			any_delayed = 1;
		} else {
			snprintf(err, errlen, "recipient %zu: action %d out of range", i,
			         (int)r->rcpts[i].action);
			goto done;
		}
	}
	/* also checks that reporting_mta is a dot-atom host name */
	if (r->reporting_mta == NULL ||
	    msg_format_msgid(r->random, 16, r->reporting_mta, msgid, err, errlen) != 0) {
		if (r->reporting_mta == NULL)
			snprintf(err, errlen, "a report needs the reporting host name");
		goto done;
	}
	if (sender_ok(r->original_sender, &to, err, errlen) != 0)
		goto done;
	qs = clean(&qid, r->queue_id, QUEUE_ID_MAX, 0);

	cut = put_orig_header(&orig, r->message, r->message_len);
	put_text(&plain, r, r->reporting_mta, qs, any_failed, any_delayed, cut, &tmp);
	if (buf_failed(&plain) || mime_qp(&text, plain.data, plain.len) != 0)
		goto nomem;
	if (put_status(&status, r, r->reporting_mta, qs, &tmp, err, errlen) != 0)
		goto done;

	/* a boundary that occurs in no part (RFC 2046 5.1.1); "=_" never
	 * occurs in quoted-printable */
	for (int k = 0;; k++) {
		int n = snprintf(bnd, sizeof(bnd), "=_mxsend_");

		for (int i = 15; i >= 0; i--)
			n += snprintf(bnd + n, sizeof(bnd) - (size_t)n, "%02x", r->random[i]);
		if (k > 0)
			snprintf(bnd + n, sizeof(bnd) - (size_t)n, "_%d", k);
		if (memmem(status.data != NULL ? status.data : "", status.len, bnd, strlen(bnd)) ==
		        NULL &&
		    memmem(orig.data != NULL ? orig.data : "", orig.len, bnd, strlen(bnd)) == NULL)
			break;
		if (k == BOUNDARY_TRIES) {
			snprintf(err, errlen, "no MIME boundary found that the report does not hold");
			goto done;
		}
	}

	buf_printf(&m, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", r->reporting_mta);
	buf_printf(&m, "To: <%s>\r\n", to.data);
	buf_printf(&m, "Subject: %s\r\n", any_failed ? "Undelivered Mail Returned to Sender"
	                                             : "Delayed Mail (still being retried)");
	if (put_date(&m, "Date", r->now, err, errlen) != 0)
		goto done;
	buf_printf(&m, "Message-ID: %s\r\n", msgid);
	buf_puts(&m, "MIME-Version: 1.0\r\n");
	buf_puts(&m, "Auto-Submitted: auto-replied\r\n");
	buf_printf(&m, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	               "\tboundary=\"%s\"\r\n", bnd);
	buf_puts(&m, "\r\nThis is a MIME-encapsulated delivery status notification.\r\n");

	buf_printf(&m, "\r\n--%s\r\n", bnd);
	buf_puts(&m, "Content-Description: Notification\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	buf_append(&m, text.data, text.len);

	buf_printf(&m, "\r\n--%s\r\n", bnd);
	buf_puts(&m, "Content-Description: Delivery report\r\n"
	             "Content-Type: message/delivery-status\r\n\r\n");
	buf_append(&m, status.data, status.len);

	buf_printf(&m, "\r\n--%s\r\n", bnd);
	buf_puts(&m, "Content-Description: Message headers\r\n"
	             "Content-Type: text/rfc822-headers\r\n\r\n");
	if (orig.len > 0)
		buf_append(&m, orig.data, orig.len);
	buf_printf(&m, "\r\n--%s--\r\n", bnd);
	if (buf_failed(&m) || buf_failed(&status) || buf_failed(&orig) || buf_failed(&tmp) ||
	    buf_failed(&text) || buf_failed(&qid) || buf_failed(&to))
		goto nomem;
	if (!wire_ok(m.data, m.len)) {
		snprintf(err, errlen, "internal error: the report breaks a line rule");
		goto done;
	}
	*out = buf_steal(&m, outlen);
	rc = 0;
	goto done;
nomem:
	snprintf(err, errlen, "out of memory building a report");
done:
	buf_free(&plain);
	buf_free(&text);
	buf_free(&status);
	buf_free(&orig);
	buf_free(&m);
	buf_free(&tmp);
	buf_free(&to);
	buf_free(&qid);
	return rc;
}
