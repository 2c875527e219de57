/*
 * Unit tests of probe_verdict.c, the meaning of what `mxsend probe`
 * found: session verdicts and reasons from hand-made facts, the domain
 * verdict and exit status from host tallies, days left, the time format,
 * and the step name tables. The clock is an input, so certificate dates
 * are judged at a fixed time.
 *
 * Covers (STANDARDS.md): TLS-05 (verification recorded, never fatal:
 * warn, not fail), SEC-02 (no STARTTLS, STARTTLS refused, self-signed,
 * wrong name, expired: each named), DLV-21 (4xx/5xx greeting: fail;
 * every host 5xx: EX_UNAVAILABLE), DLV-06 (unroutable: 69; DNS temporary:
 * 75), DLV-16 (a refused RCPT is reported).
 */
#include "config.h"

#include <openssl/x509_vfy.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <cmocka.h>

#include "probe_verdict.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DAY 86400
#define NOW ((time_t)1800000000) /* 2027-01-15T08:00:00Z */

/* A session that worked with verified TLS 1.3 and a certificate valid
 * for mx.example.test for another 100 days. */
static void good_session(struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	r->connected = 1;
	r->greeting.code = 220;
	snprintf(r->greeting.text, sizeof(r->greeting.text), "mx.example.test ESMTP");
	r->ehlo_ok = 1;
	r->starttls_offered = 1;
	r->starttls.code = 220;
	r->tls_attempted = 1;
	r->tls_ok = 1;
	r->ehlo_tls_ok = 1;
	r->complete = 1;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "TLS_AES_256_GCM_SHA384");
	r->tls.verified = 1;
	r->tls.verify_code = X509_V_OK;
	r->tls.have_cert = 1;
	snprintf(r->tls.subject, sizeof(r->tls.subject), "CN=mx.example.test");
	snprintf(r->tls.issuer, sizeof(r->tls.issuer), "CN=Test CA");
	snprintf(r->tls.san[0], sizeof(r->tls.san[0]), "mx.example.test");
	r->tls.nsan = 1;
	r->tls.not_before = NOW - 10 * DAY;
	r->tls.not_after = NOW + 100 * DAY;
	r->tls.name_checked = 1;
	r->tls.name_match = 1;
}

enum fault {
	F_NONE,
	F_REFUSED,
	F_CONNECT_TIMEOUT,
	F_NO_GREETING,
	F_GREET_554,
	F_GREET_421,
	F_EHLO_550,
	F_HELO_ONLY,
	F_NO_STARTTLS,
	F_STARTTLS_454,
	F_HANDSHAKE,
	F_EXPIRED,
	F_EXPIRING,
	F_NOT_YET,
	F_SELF_SIGNED,
	F_WRONG_NAME,
	F_UNTRUSTED,
	F_TLS11,
	F_INJECTED,
	F_RCPT_550,
	F_RCPT_250,
};

static void apply(struct probe_result *r, enum fault f)
{
	switch (f) {
	case F_NONE:
		break;
	case F_REFUSED:
		memset(r, 0, sizeof(*r));
		r->connect_refused = 1;
		snprintf(r->error, sizeof(r->error), "connect: Connection refused");
		break;
	case F_CONNECT_TIMEOUT:
		memset(r, 0, sizeof(*r));
		r->connect_timeout = 1;
		r->timed_out = 1;
		r->connect_ms = 10000;
		break;
	case F_NO_GREETING:
		memset(r, 0, sizeof(*r));
		r->connected = 1;
		r->timed_out = 1;
		r->failed_step = PROBE_ST_GREETING;
		snprintf(r->error, sizeof(r->error), "no answer within 30.0 s");
		break;
	case F_GREET_554:
	case F_GREET_421:
		memset(r, 0, sizeof(*r));
		r->connected = 1;
		r->greeting.code = f == F_GREET_554 ? 554 : 421;
		snprintf(r->greeting.text, sizeof(r->greeting.text), "go away");
		break;
	case F_EHLO_550:
		memset(r, 0, sizeof(*r));
		r->connected = 1;
		r->greeting.code = 220;
		r->ehlo.code = 550;
		snprintf(r->ehlo.text, sizeof(r->ehlo.text), "no");
		r->failed_step = PROBE_ST_EHLO;
		break;
	case F_HELO_ONLY:
		r->helo_used = 1;
		r->starttls_offered = 0;
		r->tls_ok = 0;
		break;
	case F_NO_STARTTLS:
		r->starttls_offered = 0;
		r->starttls.code = 0;
		r->tls_attempted = 0;
		r->tls_ok = 0;
		break;
	case F_STARTTLS_454:
		r->starttls.code = 454;
		snprintf(r->starttls.text, sizeof(r->starttls.text), "4.7.0 TLS not available");
		r->tls_attempted = 0;
		r->tls_ok = 0;
		break;
	case F_HANDSHAKE:
		r->tls_ok = 0;
		r->ehlo_tls_ok = 0;
		snprintf(r->tls_error, sizeof(r->tls_error), "handshake failure");
		break;
	case F_EXPIRED:
		r->tls.not_after = NOW - 3 * DAY;
		r->tls.verified = 0;
		r->tls.verify_code = X509_V_ERR_CERT_HAS_EXPIRED;
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "certificate has expired");
		break;
	case F_EXPIRING:
		r->tls.not_after = NOW + 5 * DAY + 3600;
		break;
	case F_NOT_YET:
		r->tls.not_before = NOW + DAY;
		r->tls.verified = 0;
		r->tls.verify_code = X509_V_ERR_CERT_NOT_YET_VALID;
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "certificate is not yet valid");
		break;
	case F_SELF_SIGNED:
		r->tls.self_signed = 1;
		r->tls.verified = 0;
		r->tls.verify_code = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "self-signed certificate");
		break;
	case F_WRONG_NAME:
		r->tls.name_match = 0;
		r->tls.verified = 0;
		r->tls.verify_code = X509_V_ERR_HOSTNAME_MISMATCH;
		snprintf(r->tls.san[0], sizeof(r->tls.san[0]), "other.test");
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "hostname mismatch");
		break;
	case F_UNTRUSTED:
		r->tls.verified = 0;
		r->tls.verify_code = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error),
		         "unable to get local issuer certificate");
		break;
	case F_TLS11:
		snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.1");
		break;
	case F_INJECTED:
		r->dropped_plaintext = 27;
		break;
	case F_RCPT_550:
	case F_RCPT_250:
		r->rcpt_tried = 1;
		r->mail.code = 250;
		r->rcpt.code = f == F_RCPT_550 ? 550 : 250;
		snprintf(r->rcpt.text, sizeof(r->rcpt.text), f == F_RCPT_550 ? "5.1.1 unknown" : "ok");
		break;
	}
}

struct session_case {
	const char *name;
	enum fault f1, f2;           /* faults applied to the good session */
	const char *rcpt;            /* --rcpt */
	enum probe_verdict want;
	enum probe_reach reach;
	size_t nreasons;
	const char *reason0;         /* prefix of the first reason, or NULL */
	const char *reason1;         /* prefix of the second, or NULL */
};

static const struct session_case session_cases[] = {
	{ "good", F_NONE, F_NONE, NULL, PROBE_OK, PROBE_REACH_WORKS, 0, NULL, NULL },
	{ "refused", F_REFUSED, F_NONE, NULL, PROBE_FAIL, PROBE_REACH_NO_CONNECT, 1,
	  "connection refused: nothing listens on port 25", NULL },
	{ "connect timeout", F_CONNECT_TIMEOUT, F_NONE, NULL, PROBE_FAIL,
	  PROBE_REACH_CONNECT_TIMEOUT, 1, "connection timed out after 10.0 s", NULL },
	{ "no greeting", F_NO_GREETING, F_NONE, NULL, PROBE_FAIL, PROBE_REACH_BROKEN, 1,
	  "no greeting: connected, but the server said nothing", NULL },
	{ "554 greeting", F_GREET_554, F_NONE, NULL, PROBE_FAIL, PROBE_REACH_REFUSED_5XX, 1,
	  "refuses service: greets with 554 go away", NULL },
	{ "421 greeting", F_GREET_421, F_NONE, NULL, PROBE_FAIL, PROBE_REACH_REFUSED_4XX, 1,
	  "refuses service for now: greets with 421", NULL },
	{ "EHLO 550", F_EHLO_550, F_NONE, NULL, PROBE_FAIL, PROBE_REACH_REFUSED_5XX, 1,
	  "EHLO refused: 550 no", NULL },
	{ "HELO only", F_HELO_ONLY, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "EHLO not supported", NULL },
	{ "no STARTTLS", F_NO_STARTTLS, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "no STARTTLS: mail to this host travels unencrypted", NULL },
	{ "STARTTLS 454", F_STARTTLS_454, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "STARTTLS offered but refused: 454 4.7.0", NULL },
	{ "handshake failed", F_HANDSHAKE, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "TLS handshake failed: handshake failure", NULL },
	{ "expired", F_EXPIRED, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "certificate expired on 2027-01-12T08:00:00Z (3 days ago)", NULL },
	{ "expiring", F_EXPIRING, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "certificate expires in 5 days (2027-01-20T09:00:00Z)", NULL },
	{ "not yet valid", F_NOT_YET, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "certificate is not valid before 2027-01-16T08:00:00Z", NULL },
	{ "self-signed", F_SELF_SIGNED, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "self-signed certificate", NULL },
	{ "wrong name", F_WRONG_NAME, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "name mismatch: the certificate is not valid for mx.example.test (it is for other.test)",
	  NULL },
	/* OpenSSL reports only the first error: the others are still found. */
	{ "expired and wrong name", F_EXPIRED, F_WRONG_NAME, NULL, PROBE_WARN, PROBE_REACH_WORKS,
	  2, "certificate expired", "name mismatch" },
	{ "self-signed and expired", F_SELF_SIGNED, F_EXPIRED, NULL, PROBE_WARN,
	  PROBE_REACH_WORKS, 2, "certificate expired", "self-signed certificate" },
	{ "untrusted issuer", F_UNTRUSTED, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "certificate not verified: unable to get local issuer certificate (issuer: CN=Test CA)",
	  NULL },
	{ "TLS 1.1", F_TLS11, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "old protocol TLSv1.1", NULL },
	{ "STARTTLS injection", F_INJECTED, F_NONE, NULL, PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "the server sent 27 bytes after its STARTTLS reply", NULL },
	{ "rcpt refused", F_RCPT_550, F_NONE, "x@example.test", PROBE_WARN, PROBE_REACH_WORKS, 1,
	  "recipient x@example.test refused: 550 5.1.1 unknown", NULL },
	{ "rcpt accepted", F_RCPT_250, F_NONE, "x@example.test", PROBE_OK, PROBE_REACH_WORKS, 0,
	  NULL, NULL },
};

static void check_prefix(const char *name, const char *what, const char *want, const char *got)
{
	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("%s: %s: want prefix '%s', got '%s'", name, what, want, got);
}

static void test_session_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(session_cases); i++) {
		const struct session_case *c = &session_cases[i];
		struct probe_result *r = malloc(sizeof(*r));
		struct probe_verdict_opts o = { .now = NOW, .expiry_days = 14, .rcpt = c->rcpt };
		struct strlist reasons = { 0 };
		enum probe_reach reach = PROBE_REACH_LAST;
		enum probe_verdict v;

		assert_non_null(r);
		good_session(r);
		apply(r, c->f1);
		apply(r, c->f2);
		v = probe_verdict_session(r, "mx.example.test", &o, &reach, &reasons);
		if (v != c->want)
			fail_msg("%s: verdict: want %s, got %s (%s)", c->name,
			         probe_verdict_name(c->want), probe_verdict_name(v),
			         reasons.n ? reasons.v[0] : "no reasons");
		if (reach != c->reach)
			fail_msg("%s: reach: want %d, got %d", c->name, c->reach, reach);
		if (reasons.n != c->nreasons)
			fail_msg("%s: want %zu reasons, got %zu (first: %s)", c->name, c->nreasons,
			         reasons.n, reasons.n ? reasons.v[0] : "-");
		if (c->reason0 != NULL)
			check_prefix(c->name, "reason 0", c->reason0, reasons.v[0]);
		if (c->reason1 != NULL)
			check_prefix(c->name, "reason 1", c->reason1, reasons.v[1]);
		strlist_clear(&reasons);
		free(r);
	}
}

/* A tally of one host: n sessions, all with the same outcome. */
static struct probe_host_tally host(const char *name, enum probe_reach reach, size_t n,
                                    enum probe_verdict worst, const char *reason)
{
	struct probe_host_tally t;

	memset(&t, 0, sizeof(t));
	t.name = name;
	t.sessions = n;
	t.reach[reach] = n;
	t.worst = worst;
	t.first_reason = reason;
	return t;
}

static void test_domain(void **state)
{
	struct strlist reasons = { 0 };
	struct probe_host_tally h[3];
	int code = -1;

	(void)state;
	/* Route failures: unroutable 69, temporary 75, invalid 65. */
	assert_int_equal(probe_verdict_domain(ROUTE_PERMANENT, "NXDOMAIN", NULL, 0, &reasons, &code),
	                 PROBE_FAIL);
	assert_int_equal(code, EX_UNAVAILABLE);
	assert_string_equal(reasons.v[0], "unroutable: NXDOMAIN");
	strlist_clear(&reasons);
	probe_verdict_domain(ROUTE_TEMPORARY, "SERVFAIL", NULL, 0, &reasons, &code);
	assert_int_equal(code, EX_TEMPFAIL);
	strlist_clear(&reasons);
	probe_verdict_domain(ROUTE_INVALID, "bad", NULL, 0, &reasons, &code);
	assert_int_equal(code, EX_DATAERR);
	strlist_clear(&reasons);

	/* Every host answers 5xx: 69. */
	h[0] = host("a", PROBE_REACH_REFUSED_5XX, 2, PROBE_FAIL, "refuses service");
	h[1] = host("b", PROBE_REACH_REFUSED_5XX, 1, PROBE_FAIL, "refuses service");
	assert_int_equal(probe_verdict_domain(ROUTE_OK, "", h, 2, &reasons, &code), PROBE_FAIL);
	assert_int_equal(code, EX_UNAVAILABLE);
	assert_string_equal(reasons.v[0], "every MX host refuses service with a 5xx reply");
	assert_string_equal(reasons.v[1], "a: refuses service");
	strlist_clear(&reasons);

	/* 5xx at one, refused at another: nothing reachable, 75. */
	h[1] = host("b", PROBE_REACH_NO_CONNECT, 1, PROBE_FAIL, "connection refused");
	probe_verdict_domain(ROUTE_OK, "", h, 2, &reasons, &code);
	assert_int_equal(code, EX_TEMPFAIL);
	assert_string_equal(reasons.v[0], "no MX host reachable");
	strlist_clear(&reasons);

	/* Every connection timed out: port 25 may be blocked. */
	h[0] = host("a", PROBE_REACH_CONNECT_TIMEOUT, 2, PROBE_FAIL, "timed out");
	h[1] = host("b", PROBE_REACH_CONNECT_TIMEOUT, 1, PROBE_FAIL, "timed out");
	probe_verdict_domain(ROUTE_OK, "", h, 2, &reasons, &code);
	assert_int_equal(code, EX_TEMPFAIL);
	check_prefix("timeouts", "reason", "no MX host reachable: every connection to port 25 "
	             "timed out (port 25 may be blocked from here)", reasons.v[0]);
	strlist_clear(&reasons);

	/* Mixed: one works, one does not: warn, exit 0. */
	h[0] = host("a", PROBE_REACH_WORKS, 1, PROBE_OK, NULL);
	h[1] = host("b", PROBE_REACH_NO_CONNECT, 1, PROBE_FAIL, "connection refused");
	h[2] = host("c", PROBE_REACH_WORKS, 0, PROBE_OK, NULL); /* no addresses: not counted */
	assert_int_equal(probe_verdict_domain(ROUTE_OK, "", h, 3, &reasons, &code), PROBE_WARN);
	assert_int_equal(code, EX_OK);
	assert_string_equal(reasons.v[0], "mixed MX set: 1 of 2 hosts work");
	assert_string_equal(reasons.v[1], "b: connection refused");
	strlist_clear(&reasons);

	/* All work, one warns: warn with its reason. */
	h[1] = host("b", PROBE_REACH_WORKS, 1, PROBE_WARN, "no STARTTLS");
	assert_int_equal(probe_verdict_domain(ROUTE_OK, "", h, 2, &reasons, &code), PROBE_WARN);
	assert_int_equal(reasons.n, 1);
	assert_string_equal(reasons.v[0], "b: no STARTTLS");
	strlist_clear(&reasons);

	/* All fine. */
	h[1] = host("b", PROBE_REACH_WORKS, 1, PROBE_OK, NULL);
	assert_int_equal(probe_verdict_domain(ROUTE_OK, "", h, 2, &reasons, &code), PROBE_OK);
	assert_int_equal(code, EX_OK);
	assert_int_equal(reasons.n, 0);
}

static void test_days_and_time(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(probe_days_left(NOW + 100 * DAY, NOW), 100);
	assert_int_equal(probe_days_left(NOW + 100 * DAY - 1, NOW), 99);
	assert_int_equal(probe_days_left(NOW, NOW), 0);
	assert_int_equal(probe_days_left(NOW - 1, NOW), -1);
	assert_int_equal(probe_days_left(NOW - DAY, NOW), -1);
	assert_int_equal(probe_days_left(NOW - DAY - 1, NOW), -2);
	probe_format_time(NOW, buf, sizeof(buf));
	assert_string_equal(buf, "2027-01-15T08:00:00Z");
	probe_format_time(1577923200, buf, sizeof(buf));
	assert_string_equal(buf, "2020-01-02T00:00:00Z");
}

/* STYLE.md: every state has a name in both tables. */
static void test_names(void **state)
{
	(void)state;
	for (int st = 0; st < PROBE_ST_LAST; st++) {
		if (strcmp(probe_step_name((enum probe_step)st), "UNKNOWN") == 0)
			fail_msg("state %d has no name", st);
		if (strcmp(probe_step_label((enum probe_step)st), "unknown step") == 0)
			fail_msg("state %d has no label", st);
	}
	assert_string_equal(probe_verdict_name(PROBE_OK), "ok");
	assert_string_equal(probe_verdict_name(PROBE_WARN), "warn");
	assert_string_equal(probe_verdict_name(PROBE_FAIL), "fail");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_table),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_days_and_time),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("probe_verdict", tests, NULL, NULL);
}
