/* Unit tests of the wire form of DATA (smtp_data.c), the TLS policy
 * (tls_policy.c) and log redaction/format (log.c).
 * Covers DLV-23 (no bare CR/LF on the wire), DLV-24 (dot-stuffing),
 * the TLS levels of DESIGN.md (never a plaintext fallback when required),
 * and the rule that secrets never reach a transcript. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "smtp_data.h"
#include "tls_policy.h"
#include "utf8.h"

struct stuff_case {
	const char *name;
	const char *in;
	const char *want;      /* NULL: must fail */
	size_t bad_offset;
};

static void test_dot_stuffing(void **state)
{
	static const struct stuff_case cases[] = {
		{ .name = "plain", .in = "a\r\nb\r\n", .want = "a\r\nb\r\n.\r\n" },
		{ .name = "lone dot line", .in = "a\r\n.\r\nb\r\n", .want = "a\r\n..\r\nb\r\n.\r\n" },
		{ .name = "leading dots", .in = ".x\r\n..y\r\n", .want = "..x\r\n...y\r\n.\r\n" },
		{ .name = "no final CRLF", .in = "a\r\n.", .want = "a\r\n..\r\n.\r\n" },
		{ .name = "empty", .in = "", .want = ".\r\n" },
		{ .name = "dot mid line", .in = "a.b\r\n", .want = "a.b\r\n.\r\n" },
		{ .name = "bare LF", .in = "a\nb\r\n", .want = NULL, .bad_offset = 1 },
		{ .name = "bare CR", .in = "a\rb\r\n", .want = NULL, .bad_offset = 1 },
		{ .name = "smuggling", .in = "a\r\n\n.\r\nMAIL FROM:<x>\r\n", .want = NULL,
		  .bad_offset = 3 },
		{ .name = "CR at end", .in = "a\r", .want = NULL, .bad_offset = 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct stuff_case *c = &cases[i];
		struct buf out = { 0 };
		size_t bad = 0;
		int rc = smtp_data_stuff(c->in, strlen(c->in), &out, &bad);

		if (c->want == NULL) {
			if (rc != -1 || bad != c->bad_offset)
				fail_msg("%s: want failure at %zu, got rc=%d bad=%zu", c->name,
				         c->bad_offset, rc, bad);
		} else {
			if (rc != 0 || out.len != strlen(c->want) || memcmp(out.data, c->want, out.len) != 0)
				fail_msg("%s: want \"%s\", got rc=%d \"%.*s\"", c->name, c->want, rc,
				         (int)out.len, out.data ? out.data : "");
		}
		buf_free(&out);
	}
}

struct policy_case {
	const char *name;
	enum tls_level level;
	int offered;
	int code;         /* STARTTLS reply */
	int verified;
	enum tls_verdict offer, reply, peer;
};

static void test_tls_policy(void **state)
{
	static const struct policy_case cases[] = {
		{ "none never starts TLS", TLS_LEVEL_NONE, 1, 220, 1, TLS_GO_PLAIN, TLS_GO_TLS, TLS_GO_TLS },
		{ "may uses TLS when offered", TLS_LEVEL_MAY, 1, 220, 0, TLS_GO_TLS, TLS_GO_TLS, TLS_GO_TLS },
		{ "may goes plain when not offered", TLS_LEVEL_MAY, 0, 454, 0, TLS_GO_PLAIN, TLS_GO_PLAIN, TLS_GO_TLS },
		{ "encrypt defers without STARTTLS", TLS_LEVEL_ENCRYPT, 0, 454, 0, TLS_DEFER, TLS_DEFER, TLS_GO_TLS },
		{ "encrypt takes any certificate", TLS_LEVEL_ENCRYPT, 1, 220, 0, TLS_GO_TLS, TLS_GO_TLS, TLS_GO_TLS },
		{ "verify defers on a bad certificate", TLS_LEVEL_VERIFY, 1, 220, 0, TLS_GO_TLS, TLS_GO_TLS, TLS_DEFER },
		{ "verify defers without STARTTLS", TLS_LEVEL_VERIFY, 0, 500, 1, TLS_DEFER, TLS_DEFER, TLS_GO_TLS },
		{ "verify accepts a good certificate", TLS_LEVEL_VERIFY, 1, 220, 1, TLS_GO_TLS, TLS_GO_TLS, TLS_GO_TLS },
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct policy_case *c = &cases[i];
		enum tls_verdict o = tls_policy_offer(c->level, c->offered, why, sizeof(why));
		enum tls_verdict r = tls_policy_starttls_reply(c->level, c->code, why, sizeof(why));
		enum tls_verdict p = tls_policy_peer(c->level, c->verified, "bad", "mx.test", why, sizeof(why));

		if (o != c->offer || r != c->reply || p != c->peer)
			fail_msg("%s: want %d/%d/%d got %d/%d/%d", c->name, c->offer, c->reply, c->peer,
			         o, r, p);
	}
	assert_int_equal(tls_policy_offer(TLS_LEVEL_ENCRYPT, 0, why, sizeof(why)), TLS_DEFER);
	assert_non_null(strstr(why, "does not offer STARTTLS"));
}

static void test_tls_level_names(void **state)
{
	enum tls_level l;

	(void)state;
	for (int i = 0; i < TLS_LEVEL_LAST; i++) {
		assert_int_equal(tls_level_parse(tls_level_name((enum tls_level)i), &l), 0);
		assert_int_equal(l, i);
	}
	assert_int_equal(tls_level_parse("dane", &l), -1);
}

static void test_redaction(void **state)
{
	char out[128];

	(void)state;
	log_redact_line(out, sizeof(out), "AUTH PLAIN AHVzZXIAc2VjcmV0", 27, 0);
	assert_string_equal(out, "AUTH PLAIN <redacted>");
	assert_null(strstr(out, "AHVz"));
	log_redact_line(out, sizeof(out), "c2VjcmV0", 8, 1);
	assert_string_equal(out, "<redacted>");
	log_redact_line(out, sizeof(out), "250 ok\x1b[31m", 11, 0);
	assert_string_equal(out, "250 ok\\x1b[31m");
	log_redact_line(out, sizeof(out), "MAIL FROM:<a@b>", 15, 0);
	assert_string_equal(out, "MAIL FROM:<a@b>");
}

static void test_log_format(void **state)
{
	struct deliver_rcpt r;
	char line[1024];

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.address, sizeof(r.address), "a@x.test");
	snprintf(r.relay, sizeof(r.relay), "mx.x.test[127.0.0.2]:25");
	snprintf(r.tls_version, sizeof(r.tls_version), "TLSv1.3");
	snprintf(r.tls_cipher, sizeof(r.tls_cipher), "TLS_AES_256_GCM_SHA384");
	snprintf(r.smtp.dsn, sizeof(r.smtp.dsn), "2.0.0");
	snprintf(r.smtp.reply, sizeof(r.smtp.reply), "250 2.0.0 Ok: queued as 4A");
	r.status = DELIVER_SENT;
	r.delay_ms = 1234;
	log_format_delivery(line, sizeof(line), "ABC123", &r);
	assert_string_equal(line, "ABC123: to=<a@x.test>, relay=mx.x.test[127.0.0.2]:25, "
	                    "delay=1.23, tls=TLSv1.3:TLS_AES_256_GCM_SHA384, dsn=2.0.0, "
	                    "status=sent (250 2.0.0 Ok: queued as 4A)");
}

static void test_utf8_sanitize(void **state)
{
	static const struct { const char *in, *want; size_t replaced; } cases[] = {
		{ "plain ascii", "plain ascii", 0 },
		{ "\xe4\xbd\xa0\xe5\xa5\xbd", "\xe4\xbd\xa0\xe5\xa5\xbd", 0 },  /* UTF-8 */
		/* GBK "请使": its last two octets happen to be valid UTF-8 (U+02B9) */
		{ "535 \xc7\xeb\xca\xb9", "535 ??\xca\xb9", 2 },
		{ "\xb5\xc7\xff", "???", 3 },                            /* stray octets */
		{ "\xc0\xaf", "??", 2 },                                     /* overlong */
		{ "\xed\xa0\x80", "???", 3 },                               /* surrogate */
		{ "\xf4\x90\x80\x80", "????", 4 },                         /* > U+10FFFF */
		{ "cut \xe4\xbd", "cut ??", 2 },                            /* truncated */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		size_t n;

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		n = utf8_sanitize(buf);
		if (n != cases[i].replaced || strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: want \"%s\" (%zu), got \"%s\" (%zu)", i, cases[i].want,
			         cases[i].replaced, buf, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_tls_policy),
		cmocka_unit_test(test_tls_level_names),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_utf8_sanitize),
	};

	return cmocka_run_group_tests_name("smtp_data", tests, NULL, NULL);
}
