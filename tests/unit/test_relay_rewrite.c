/* Unit tests of relay_rewrite.c (From rules for provider relays) and
 * relay_hint (relay.c). Covers RELAY-01 (From and MAIL FROM must be the
 * account; rewrite keeps the name, Reply-To keeps the author), RELAY-03
 * (535 explained for QQ), and the header limits (SEC-07 style hard
 * limits on outside data). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay.h"
#include "relay_rewrite.h"

static struct conf_relay qq(int rewrite)
{
	struct conf_relay r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "qq");
	snprintf(r.preset, sizeof(r.preset), "qq");
	snprintf(r.host, sizeof(r.host), "smtp.qq.com");
	snprintf(r.user, sizeof(r.user), "6464@qq.com");
	r.port = 465;
	r.rewrite_from = rewrite;
	return r;
}

static int apply(const struct conf_relay *r, const char *from, const char *msg, char **out,
                 char *eff, char *err)
{
	size_t outlen;

	return relay_rewrite_apply(r, from, msg, strlen(msg), out, &outlen, eff, 300, err, 1024);
}

static void test_rewrite_plain_name(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	const char *m = "Subject: x\r\nFrom: Alice Example <alice@example.org>\r\nTo: b@x.test\r\n"
	                "\r\n.body\r\n";

	(void)state;
	assert_int_equal(apply(&r, "alice@example.org", m, &out, eff, err), 0);
	assert_string_equal(eff, "6464@qq.com");
	assert_non_null(out);
	assert_string_equal(out, "Subject: x\r\nFrom: \"Alice Example\" <6464@qq.com>\r\n"
	                    "Reply-To: Alice Example <alice@example.org>\r\nTo: b@x.test\r\n"
	                    "\r\n.body\r\n");
	free(out);
}

/* RFC 2047 encoded names stay encoded and unquoted; a folded From is
 * read whole and moved to Reply-To with its folding. */
static void test_rewrite_encoded_folded(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	const char *m = "From: =?UTF-8?B?5byg5LiJ?=\r\n <zhang@example.cn>\r\n\r\nhi\r\n";

	(void)state;
	assert_int_equal(apply(&r, "zhang@example.cn", m, &out, eff, err), 0);
	assert_string_equal(out, "From: =?UTF-8?B?5byg5LiJ?= <6464@qq.com>\r\n"
	                    "Reply-To: =?UTF-8?B?5byg5LiJ?=\r\n <zhang@example.cn>\r\n\r\nhi\r\n");
	free(out);
}

/* A quoted name that only looks like an encoded word is quoted again:
 * copied bare, its "<...>," would put another mailbox ahead of the
 * account in From (found by tests/fuzz/fuzz_relay_rewrite.c; RELAY-01). */
static void test_rewrite_fake_encoded_name(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	const char *m = "From: \"=?utf-8?q?x?= <evil@example.com>,\" <a@b.c>\r\n\r\n";

	(void)state;
	assert_int_equal(apply(&r, "a@b.c", m, &out, eff, err), 0);
	assert_string_equal(out, "From: \"=?utf-8?q?x?= <evil@example.com>,\" <6464@qq.com>\r\n"
	                    "Reply-To: \"=?utf-8?q?x?= <evil@example.com>,\" <a@b.c>\r\n\r\n");
	free(out);
}

/* An existing Reply-To is kept; no name gives a bare address. */
static void test_rewrite_keeps_reply_to(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	const char *m = "Reply-To: list@x.test\r\nfrom: a@example.org\r\n\r\n";

	(void)state;
	assert_int_equal(apply(&r, "", m, &out, eff, err), 0);
	assert_string_equal(out, "Reply-To: list@x.test\r\nFrom: <6464@qq.com>\r\n\r\n");
	assert_string_equal(eff, "6464@qq.com");
	free(out);
}

static void test_rewrite_quotes_escaped(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	const char *m = "From: \"A \\\"B\\\" C\" <a@example.org>\r\n\r\n";

	(void)state;
	assert_int_equal(apply(&r, "a@example.org", m, &out, eff, err), 0);
	assert_non_null(strstr(out, "From: \"A \\\"B\\\" C\" <6464@qq.com>\r\n"));
	free(out);
}

/* DLV-25: a long name of quotes doubles when escaped; the rewritten From
 * line must still fit 998 octets, so the name is left out. */
static void test_rewrite_long_name_fits(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024], m[1200];
	const char *line, *end;

	(void)state;
	/* 505 escaped quotes: \" pairs inside a quoted-string, a name of
	 * 505 octets that is 1012 once quoted again. */
	{
		char q[1100];
		size_t n = 0;

		for (int i = 0; i < 505; i++) {
			q[n++] = '\\';
			q[n++] = '"';
		}
		q[n] = '\0';
		snprintf(m, sizeof(m), "From: \"%s\" <a@example.org>\r\n\r\nbody\r\n", q);
	}
	assert_int_equal(apply(&r, "a@example.org", m, &out, eff, err), 0);
	line = strstr(out, "From: ");
	assert_non_null(line);
	end = strstr(line, "\r\n");
	assert_non_null(end);
	assert_true(end - line <= 998);
	assert_non_null(strstr(line, "<6464@qq.com>"));
	free(out);
}

/* RELAY-01: without rewrite_from an enforcing preset refuses, and says
 * how to fix it. */
static void test_check_refuses_mismatch(void **state)
{
	struct conf_relay r = qq(0);
	char *out = NULL, eff[300], err[1024];

	(void)state;
	assert_int_equal(apply(&r, "a@example.org", "From: a@example.org\r\n\r\n", &out, eff, err),
	                 -1);
	assert_null(out);
	assert_non_null(strstr(err, "the From address is a@example.org"));
	assert_non_null(strstr(err, "rewrite_from yes"));
	assert_non_null(strstr(err, "--from 6464@qq.com"));
	/* From right, envelope wrong. */
	assert_int_equal(apply(&r, "a@example.org", "From: 6464@QQ.com\r\n\r\n", &out, eff, err), -1);
	assert_non_null(strstr(err, "envelope sender is a@example.org"));
	/* Both right (case-insensitive): sent as is. */
	assert_int_equal(apply(&r, "6464@qq.com", "From: X <6464@QQ.COM>\r\n\r\n", &out, eff, err), 0);
	assert_null(out);
	assert_string_equal(eff, "6464@qq.com");
}

/* Gmail and plain relays do not enforce. */
static void test_check_not_enforced(void **state)
{
	struct conf_relay r = qq(0);
	char *out = NULL, eff[300], err[1024];

	(void)state;
	snprintf(r.preset, sizeof(r.preset), "gmail");
	assert_int_equal(apply(&r, "a@example.org", "From: a@example.org\r\n\r\n", &out, eff, err), 0);
	assert_string_equal(eff, "a@example.org");
	assert_null(out);
}

static void test_malformed_headers(void **state)
{
	struct conf_relay r = qq(1);
	char *out = NULL, eff[300], err[1024];
	char *big;
	size_t n = 0;

	(void)state;
	/* bare LF in the header */
	assert_int_equal(apply(&r, "", "From: a@example.org\nTo: b@x\r\n\r\n", &out, eff, err), -1);
	/* two From fields */
	assert_int_equal(apply(&r, "", "From: a@x.test\r\nFrom: b@x.test\r\n\r\n", &out, eff, err), -1);
	/* more fields than the limit */
	big = malloc(RELAY_REWRITE_FIELDS_MAX * 8 + 64);
	assert_non_null(big);
	for (int i = 0; i <= RELAY_REWRITE_FIELDS_MAX; i++)
		n += (size_t)sprintf(big + n, "X-A: 1\r\n");
	sprintf(big + n, "\r\n");
	assert_int_equal(apply(&r, "", big, &out, eff, err), -1);
	assert_non_null(strstr(err, "header fields"));
	free(big);
}

/* RELAY-03 and the 501: provider explanations. */
static void test_hint(void **state)
{
	struct conf_relay r = qq(0);
	char h[512];

	(void)state;
	relay_hint(&r, 535, "535 Login Fail. Please enter your authorization code", h, sizeof(h));
	assert_non_null(strstr(h, "authorization code from the mailbox settings"));
	assert_non_null(strstr(h, "生成授权码"));
	relay_hint(&r, 501, "501 mail from address must be same as authorization user", h,
	           sizeof(h));
	assert_non_null(strstr(h, "rewrite_from yes"));
	relay_hint(&r, 550, "550 Mailbox not found", h, sizeof(h));
	assert_string_equal(h, "");
	relay_hint(&r, 550, "550 Ip frequency limited", h, sizeof(h));
	assert_non_null(strstr(h, "limits how often"));
	snprintf(r.preset, sizeof(r.preset), "gmail");
	snprintf(r.host, sizeof(r.host), "smtp.gmail.com");
	relay_hint(&r, 535, "535-5.7.8 Username and Password not accepted", h, sizeof(h));
	assert_non_null(strstr(h, "app password"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite_plain_name),
		cmocka_unit_test(test_rewrite_encoded_folded),
		cmocka_unit_test(test_rewrite_fake_encoded_name),
		cmocka_unit_test(test_rewrite_keeps_reply_to),
		cmocka_unit_test(test_rewrite_quotes_escaped),
		cmocka_unit_test(test_rewrite_long_name_fits),
		cmocka_unit_test(test_check_refuses_mismatch),
		cmocka_unit_test(test_check_not_enforced),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
