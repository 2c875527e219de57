/*
 * Fuzz target for what `mxsend probe` makes of a server: the replies go
 * through the parsers the session uses (smtp_reply_parse, smtp_caps_parse,
 * smtp_reply_one_line) into a struct probe_result the way probe_session.c
 * records them, the other facts (TLS, certificate, connection) come from
 * the input, and then probe_verdict_session, probe_verdict_domain,
 * probe_out_json and probe_out_text run on them. probe_session.c itself
 * parses nothing of its own beyond those parsers (its state machine needs
 * a socket and a loop); this drives the code that turns server bytes into
 * words for a person.
 *
 * Input: 12 octets of flags (missing ones are 0), then NUL-separated
 * pieces: the server's bytes (greeting, EHLO, STARTTLS, EHLO after TLS,
 * MAIL and RCPT replies, in the order probe_session.c reads them), the
 * TLS version, certificate subject, issuer, verification error, SANs
 * (comma-separated), the session error, the --rcpt address, the PTR
 * name, the handshake error and a chain subject.
 *
 * Asserts (abort()) what must hold for every input (SEC-05):
 *   - verdicts and reaches are in range, a verdict other than ok has a
 *     reason, and no reason list grows past STRLIST_MAX;
 *   - the JSON document exists, shows both sessions of the host, each
 *     with a verdict, and serialises;
 *   - the text form has no control octet but '\n', whatever the server
 *     sent (the parsers' sanitising holds end to end).
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/probe/) in `make check`.
 */
#include "config.h"

#include <jansson.h>
#include <openssl/x509_vfy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "probe_out.h"
#include "probe_session.h"
#include "probe_verdict.h"
#include "route.h"
#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFLAGS 12
#define NPIECES 11
#define NOW ((time_t)1700000000)

enum { P_SERVER, P_VERSION, P_SUBJECT, P_ISSUER, P_VERIFY, P_SAN, P_ERROR, P_RCPT, P_PTR,
       P_TLSERR, P_CHAIN };

struct piece {
	const uint8_t *p; /* into the input */
	size_t n;
};

/* Copies a piece into out as a string, every octet below 0x20 and 0x7f
 * made '?', as the producers of these facts do (X509_NAME_print_ex with
 * ASN1_STRFLGS_ESC_CTRL, tls_client.c's SAN filter, strerror). */
static void put(char *out, size_t len, const struct piece *pc)
{
	size_t k = 0;

	for (size_t i = 0; i < pc->n && k + 1 < len; i++)
		out[k++] = (pc->p[i] < 0x20 || pc->p[i] == 0x7f) ? '?' : (char)pc->p[i];
	out[k] = '\0';
}

/* probe_session.c's keep_reply, without the clock. */
static void keep(const struct smtp_reply *r, struct probe_reply *out)
{
	char line[PROBE_TEXT_MAX];
	size_t n;

	out->code = r->code;
	n = smtp_reply_one_line(r, line, sizeof(line));
	if (n >= sizeof(line))
		abort();
	n = n >= 4 ? n - 4 : 0;
	memcpy(out->text, line + (n ? 4 : 0), n);
	out->text[n] = '\0';
	out->ms = 7;
}

/* The server's bytes, one reply at a time. */
struct stream {
	const char *p;
	size_t n;
	struct smtp_reply *r;
};

/* 1 with the next reply in s->r; 0 when the bytes end or do not parse,
 * with the session's error set as probe_session.c's broke() would. */
static int next_reply(struct stream *s, struct probe_result *res, enum probe_step step)
{
	size_t used = 0;
	char err[256];
	enum smtp_reply_status st = smtp_reply_parse(s->p, s->n, s->r, &used, err, sizeof(err));

	if (st == SMTP_REPLY_COMPLETE) {
		if (used == 0 || used > s->n)
			abort();
		s->p += used;
		s->n -= used;
		return 1;
	}
	res->failed_step = step;
	res->timed_out = st == SMTP_REPLY_INCOMPLETE;
	if (st == SMTP_REPLY_ERROR)
		snprintf(res->error, sizeof(res->error), "protocol error: %s", err);
	else
		snprintf(res->error, sizeof(res->error), "timeout");
	return 0;
}

/* The session's facts: replies from the stream, the rest from flags and
 * pieces. */
static void session(const uint8_t *f, const struct piece *pc, struct smtp_reply *rbuf,
                    const char *rcpt, struct probe_result *res)
{
	struct stream s = { (const char *)pc[P_SERVER].p, pc[P_SERVER].n, rbuf };
	struct tls_details *t = &res->tls;
	static const long codes[] = { X509_V_OK, X509_V_ERR_CERT_HAS_EXPIRED,
	                              X509_V_ERR_CERT_NOT_YET_VALID,
	                              X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	                              X509_V_ERR_HOSTNAME_MISMATCH,
	                              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY };

	memset(res, 0, sizeof(*res));
	res->connect_ms = (unsigned)f[10] * 300;
	res->total_ms = 1234;
	if (!(f[0] & 1)) {
		res->connect_timeout = (f[0] >> 1) & 1;
		res->connect_refused = (f[0] >> 2) & 1;
		put(res->error, sizeof(res->error), &pc[P_ERROR]);
		return;
	}
	res->connected = 1;
	if (!next_reply(&s, res, PROBE_ST_GREETING))
		return;
	keep(s.r, &res->greeting);
	if (s.r->code != 220)
		return;
	if (!next_reply(&s, res, PROBE_ST_EHLO))
		return;
	keep(s.r, &res->ehlo);
	if (s.r->code / 100 == 2) {
		smtp_caps_parse(s.r, &res->caps);
		res->ehlo_ok = 1;
		res->caps_plain = res->caps;
		res->starttls_offered = res->caps.starttls;
	} else if (s.r->code == 500 || s.r->code == 501 || s.r->code == 502) {
		if (!next_reply(&s, res, PROBE_ST_HELO))
			return;
		if (s.r->code / 100 != 2) {
			res->failed_step = PROBE_ST_HELO;
			snprintf(res->error, sizeof(res->error), "HELO refused: %d", s.r->code);
			return;
		}
		res->ehlo_ok = 1;
		res->helo_used = 1;
	} else {
		res->failed_step = PROBE_ST_EHLO;
		snprintf(res->error, sizeof(res->error), "EHLO refused: %d", s.r->code);
		return;
	}
	if (res->starttls_offered && (f[0] & 8)) {
		if (!next_reply(&s, res, PROBE_ST_STARTTLS))
			return;
		keep(s.r, &res->starttls);
		if (s.r->code == 220) {
			res->tls_attempted = 1;
			res->dropped_plaintext = f[9] & 1 ? s.n : 0;
			if (!(f[0] & 16)) {
				res->failed_step = PROBE_ST_TLS_HANDSHAKE;
				put(res->tls_error, sizeof(res->tls_error), &pc[P_TLSERR]);
				snprintf(res->error, sizeof(res->error), "TLS handshake failed");
				return;
			}
			res->tls_ok = 1;
			res->tls_ms = 42;
			put(t->version, sizeof(t->version), &pc[P_VERSION]);
			snprintf(t->cipher, sizeof(t->cipher), "TLS_AES_256_GCM_SHA384");
			snprintf(t->group, sizeof(t->group), "%s", f[9] & 2 ? "X25519" : "");
			t->have_cert = (f[0] >> 5) & 1;
			t->verify_code = codes[f[8] % (sizeof(codes) / sizeof(codes[0]))];
			t->verified = t->have_cert && t->verify_code == X509_V_OK;
			if (!t->verified)
				put(t->verify_error, sizeof(t->verify_error), &pc[P_VERIFY]);
			put(t->subject, sizeof(t->subject), &pc[P_SUBJECT]);
			put(t->issuer, sizeof(t->issuer), &pc[P_ISSUER]);
			t->not_after = NOW + (time_t)(int16_t)(f[3] | f[4] << 8) * 86400 + f[4];
			t->not_before = NOW - (time_t)(int8_t)f[5] * 86400;
			t->self_signed = (f[1] >> 0) & 1;
			t->name_checked = (f[1] >> 1) & 1;
			t->name_match = (f[1] >> 2) & 1;
			for (size_t i = 0, k = 0; i < pc[P_SAN].n && t->nsan < TLS_SAN_MAX; i++) {
				uint8_t c = pc[P_SAN].p[i];

				if (c == ',') {
					k = 0;
					t->nsan++;
					continue;
				}
				if (k + 1 < sizeof(t->san[0]))
					t->san[t->nsan][k++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
			}
			res->chain_len = f[6] % (TLS_CHAIN_MAX + 1);
			for (size_t i = 0; i < res->chain_len; i++) {
				put(res->chain_subject[i], TLS_NAME_MAX, &pc[P_CHAIN]);
				put(res->chain_issuer[i], TLS_NAME_MAX, &pc[P_ISSUER]);
			}
			memset(&res->caps, 0, sizeof(res->caps));
			if (!next_reply(&s, res, PROBE_ST_EHLO_TLS))
				return;
			if (s.r->code / 100 != 2) {
				res->failed_step = PROBE_ST_EHLO_TLS;
				snprintf(res->error, sizeof(res->error), "EHLO refused: %d", s.r->code);
				return;
			}
			smtp_caps_parse(s.r, &res->caps);
			res->ehlo_tls_ok = 1;
		}
	}
	if (rcpt != NULL) {
		res->rcpt_tried = 1;
		if (!next_reply(&s, res, PROBE_ST_MAIL))
			return;
		keep(s.r, &res->mail);
		if (s.r->code / 100 == 2) {
			if (!next_reply(&s, res, PROBE_ST_RCPT))
				return;
			keep(s.r, &res->rcpt);
		}
	}
	res->complete = 1;
}

static void check_reasons(const struct strlist *l, enum probe_verdict v)
{
	if ((unsigned)v >= PROBE_VERDICT_LAST || l->n > STRLIST_MAX)
		abort();
	if (v != PROBE_OK && l->n == 0 && l->dropped == 0)
		abort();
}

/* The text form: nothing a terminal would act on. */
static void check_text(const struct probe_domain *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return;
	probe_out_text(f, d);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\n') || buf[i] == 0x7f)
			abort();
	free(buf);
}

static void check_json(const struct probe_domain *d)
{
	json_t *o = probe_out_json(d), *host, *sessions;
	char *s;

	if (o == NULL)
		abort();
	host = json_array_get(json_object_get(o, "mx"), 0);
	sessions = json_object_get(host, "sessions");
	if (json_array_size(sessions) != 2)
		abort();
	for (size_t i = 0; i < 2; i++)
		if (!json_is_string(json_object_get(json_array_get(sessions, i), "verdict")))
			abort();
	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		abort();
	free(s);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t f[NFLAGS] = { 0 };
	struct piece pc[NPIECES];
	struct probe_domain *d = NULL;
	struct route_result *rr = NULL;
	struct smtp_reply *rbuf = NULL;
	struct probe_verdict_opts o;
	char rcpt[300], mxname[] = "mx1.example.net";
	size_t off, k = 0;
	int exit_code = -1;

	for (off = 0; off < NFLAGS && off < size; off++)
		f[off] = data[off];
	memset(pc, 0, sizeof(pc));
	pc[0].p = data + off;
	for (; off < size && k < NPIECES; off++) {
		if (data[off] == 0) {
			if (++k < NPIECES)
				pc[k].p = data + off + 1;
		} else {
			pc[k].n++;
		}
	}
	for (size_t i = k + 1; i < NPIECES; i++)
		pc[i].p = data + size;
	put(rcpt, sizeof(rcpt), &pc[P_RCPT]);

	rbuf = malloc(sizeof(*rbuf));
	d = calloc(1, sizeof(*d));
	rr = calloc(1, sizeof(*rr));
	if (rbuf == NULL || d == NULL || rr == NULL)
		goto done;
	d->route = rr;
	rr->input = strdup("example.net");
	rr->status = (enum route_status)(f[7] % ROUTE_STATUS_LAST);
	snprintf(rr->reason, sizeof(rr->reason), "%s", rr->status == ROUTE_OK ? "" : "NXDOMAIN");
	snprintf(rr->target.name, sizeof(rr->target.name), "example.net");
	rr->target.kind = DOMAIN_NAME;
	rr->hosts = calloc(1, sizeof(*rr->hosts));
	d->addrs = calloc(1, sizeof(*d->addrs));
	d->tally = calloc(1, sizeof(*d->tally));
	if (rr->input == NULL || rr->hosts == NULL || d->addrs == NULL || d->tally == NULL)
		goto done;
	rr->nhosts = 1;
	snprintf(rr->hosts[0].name, sizeof(rr->hosts[0].name), "%s", mxname);
	rr->hosts[0].usable = 1;
	rr->hosts[0].addrs = calloc(2, sizeof(struct route_addr));
	d->addrs[0] = calloc(2, sizeof(struct probe_addr));
	if (rr->hosts[0].addrs == NULL || d->addrs[0] == NULL)
		goto done;
	rr->hosts[0].naddrs = 2;
	rr->hosts[0].addrs[0].family = AF_INET;
	snprintf(rr->hosts[0].addrs[0].text, sizeof(rr->hosts[0].addrs[0].text), "192.0.2.25");
	rr->hosts[0].addrs[1].family = AF_INET6;
	snprintf(rr->hosts[0].addrs[1].text, sizeof(rr->hosts[0].addrs[1].text), "2001:db8::25");
	d->now = NOW;
	d->rcpt = (f[1] & 8) ? rcpt : NULL;
	o.now = NOW;
	o.expiry_days = f[2];
	o.rcpt = d->rcpt;
	d->tally[0].name = rr->hosts[0].name;
	d->tally[0].worst = PROBE_OK;
	for (size_t j = 0; j < 2; j++) {
		struct probe_addr *pa = &d->addrs[0][j];
		uint8_t fj[NFLAGS];

		memcpy(fj, f, sizeof(fj));
		if (j == 1)
			fj[0] ^= f[11]; /* the second address differs where f[11] says */
		pa->port = 25;
		pa->res = malloc(sizeof(*pa->res));
		if (pa->res == NULL)
			goto done;
		session(fj, pc, rbuf, d->rcpt, pa->res);
		pa->ptr.asked = (f[1] >> 4) & 1;
		pa->ptr.status = f[8] % DNS_STATUS_LAST;
		put(pa->ptr.name, sizeof(pa->ptr.name), &pc[P_PTR]);
		pa->ptr.forward_confirmed = (f[1] >> 5) & 1;
		pa->verdict = probe_verdict_session(pa->res, (f[1] & 64) ? NULL : mxname, &o,
		                                    &pa->reach, &pa->reasons);
		if ((unsigned)pa->reach >= PROBE_REACH_LAST)
			abort();
		check_reasons(&pa->reasons, pa->verdict);
		d->tally[0].sessions++;
		d->tally[0].reach[pa->reach]++;
		if (pa->verdict > d->tally[0].worst || d->tally[0].first_reason == NULL) {
			d->tally[0].worst = pa->verdict > d->tally[0].worst ? pa->verdict
			                                                    : d->tally[0].worst;
			d->tally[0].first_reason = pa->reasons.n ? pa->reasons.v[0] : NULL;
		}
	}
	d->verdict = probe_verdict_domain(rr->status, rr->reason, d->tally, 1, &d->reasons,
	                                  &exit_code);
	check_reasons(&d->reasons, d->verdict);
	if (exit_code < 0)
		abort();
	check_json(d);
	check_text(d);
done:
	probe_domain_free(d);
	if (d == NULL)
		route_result_free(rr);
	free(rbuf);
	return 0;
}
