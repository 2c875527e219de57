/*
 * Unit tests of the sending API (include/mxsend.h, src/api_send.c) through
 * the shared library's exports only: what the setters refuse and why,
 * the sticky first error, what mxsend_send refuses before it opens a
 * socket (EINVAL, EOPTIONS: nothing sent), the readers out of range, and
 * a whole run whose DNS server is a closed loopback port, so every
 * recipient is deferred without any traffic off the machine.
 *
 * Delivery to a real server, the recorded DATA and the example program
 * are tests/integration/api.test. Covers SEC-05 (CR/LF in header values,
 * addresses and the EHLO name refused before any socket), DLV-23 (a bare
 * CR in a body refused).
 */
#include <mxsend.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A message with a sender and one recipient, ready to send. */
static struct mxsend_message *good_message(void)
{
	struct mxsend_message *m = mxsend_message_new();

	assert_non_null(m);
	assert_int_equal(mxsend_message_set_from(m, "noreply@sender.test", "自动化成绩查询"),
	                 MXSEND_OK);
	assert_int_equal(mxsend_message_add_to(m, "one@api.test"), MXSEND_OK);
	assert_int_equal(mxsend_message_set_subject(m, "Hi 出成绩了"), MXSEND_OK);
	assert_int_equal(mxsend_message_set_html(m, "<p>x</p>", 8), MXSEND_OK);
	assert_null(mxsend_message_error(m));
	return m;
}

/* Options that can never reach a real server: a DNS server on a loopback
 * port nobody listens on, and short timeouts. */
static void closed_dns(struct mxsend_send_options *o)
{
	memset(o, 0, sizeof(*o));
	o->dns_servers = "127.0.0.1:9";
	o->timeout_ms = 1000;
	o->hostname = "client.test";
}

/* Sends m and expects an error code whose reason holds want. */
static void expect_refused(struct mxsend_message *m, const struct mxsend_send_options *o,
                           int want_rc, const char *want)
{
	struct mxsend_result *res = (struct mxsend_result *)1;
	char err[512];
	int rc = mxsend_send(o, m, &res, err, sizeof(err));

	if (rc != want_rc || strstr(err, want) == NULL)
		fail_msg("want %d with '%s', got %d with '%s'", want_rc, want, rc, err);
	assert_null(res);
}

/* SEC-05: each setter refuses what would break a header or an address,
 * says why, and the first failure sticks. */
static void test_setters_refuse(void **state)
{
	static const struct {
		const char *what;   /* the call */
		const char *arg;    /* its argument */
		const char *reason; /* a word of the reason */
	} cases[] = {
		{ "from", "not an address", "From" },
		{ "from", "a@b.test\r\nRCPT TO:<victim@x.test>", "From" },
		{ "to", "a@b.example>\r\nRCPT TO:<victim@x", "To" },
		{ "to", "", "holds no address" },
		{ "to", "x@@y.test", "To" },
		{ "cc", "a@b.test\n", "Cc" },
		{ "bcc", "1234567890123456789012345678901234567890123456789012345678901234567890"
		         "@long.test", "Bcc" },
		{ "reply_to", "<>", "Reply-To" },
		{ "subject", "hi\r\nBcc: x@evil.test", "a CR" },
		{ "subject", "hi\nBcc: x@evil.test", "an LF" },
		{ "subject", "bell\a", "control character 0x07" },
		{ "subject", "\xff\xfe", "UTF-8" },
		{ "header", "X-Test: a\r\nBcc: x@evil.test", "a CR" },
		{ "header", "No colon here", "Name: value" },
		{ "header", "Bad Name: x", "header" },
		{ "name", "Evil\r\nBcc: x@evil.test", "a CR" },
		{ "text", "bad \xc3 utf8", "UTF-8" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxsend_message *m = mxsend_message_new();
		const char *a = cases[i].arg, *w = cases[i].what;
		const char *why;
		int rc;

		assert_non_null(m);
		if (strcmp(w, "from") == 0)
			rc = mxsend_message_set_from(m, a, NULL);
		else if (strcmp(w, "to") == 0)
			rc = mxsend_message_add_to(m, a);
		else if (strcmp(w, "cc") == 0)
			rc = mxsend_message_add_cc(m, a);
		else if (strcmp(w, "bcc") == 0)
			rc = mxsend_message_add_bcc(m, a);
		else if (strcmp(w, "reply_to") == 0)
			rc = mxsend_message_add_reply_to(m, a);
		else if (strcmp(w, "subject") == 0)
			rc = mxsend_message_set_subject(m, a);
		else if (strcmp(w, "header") == 0)
			rc = mxsend_message_add_header(m, a);
		else if (strcmp(w, "name") == 0)
			rc = mxsend_message_set_from(m, "a@b.test", a);
		else
			rc = mxsend_message_set_text(m, a, strlen(a));
		why = mxsend_message_error(m);
		if (rc != MXSEND_EINVAL || why == NULL || strstr(why, cases[i].reason) == NULL)
			fail_msg("case %zu (%s '%s'): want EINVAL with '%s', got %d with '%s'", i, w, a,
			         cases[i].reason, rc, why ? why : "(null)");
		/* The reason quotes the input without its line breaks: it is
		 * safe to log. */
		if (strpbrk(why, "\r\n") != NULL)
			fail_msg("case %zu: the reason holds a CR or LF: '%s'", i, why);
		mxsend_message_free(m);
	}
}

/* The first failure sticks: later good calls succeed, but mxsend_send
 * refuses the message with the first reason and sends nothing, so a
 * message never goes out without the recipient whose address was bad. */
static void test_sticky_error(void **state)
{
	struct mxsend_message *m = good_message();
	struct mxsend_send_options o;

	(void)state;
	closed_dns(&o);
	assert_int_equal(mxsend_message_add_to(m, "bad@@api.test"), MXSEND_EINVAL);
	assert_int_equal(mxsend_message_add_to(m, "two@api.test"), MXSEND_OK);
	assert_int_equal(mxsend_message_set_subject(m, "a\nb"), MXSEND_EINVAL);
	assert_non_null(strstr(mxsend_message_error(m), "bad@@api.test"));
	expect_refused(m, &o, MXSEND_EINVAL, "bad@@api.test");
	mxsend_message_free(m);
}

/* What mxsend_send itself refuses, before any socket: no sender, no
 * recipient, a header the composer owns, a NULL argument, and options
 * that cannot work. */
static void test_send_refuses(void **state)
{
	struct mxsend_send_options o;
	struct mxsend_message *m;
	struct mxsend_result *res;
	char err[256];

	(void)state;
	closed_dns(&o);
	m = mxsend_message_new();
	assert_int_equal(mxsend_message_add_to(m, "one@api.test"), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "no sender");
	mxsend_message_free(m);

	m = mxsend_message_new();
	assert_int_equal(mxsend_message_set_from(m, "a@b.test", NULL), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "no recipients");
	/* Reply-To adds no recipient. */
	assert_int_equal(mxsend_message_add_reply_to(m, "r@b.test"), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "no recipients");
	mxsend_message_free(m);

	/* The header policy is the composer's (msg_compose.h). */
	m = good_message();
	assert_int_equal(mxsend_message_add_header(m, "Bcc: hidden@x.test"), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "Bcc");
	mxsend_message_free(m);
	m = good_message();
	assert_int_equal(mxsend_message_add_header(m, "Content-Type: text/plain"), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "Content-Type");
	mxsend_message_free(m);
	/* DLV-23: a bare CR in a body is refused, never sent. */
	m = good_message();
	assert_int_equal(mxsend_message_set_text(m, "a\rb", 3), MXSEND_OK);
	expect_refused(m, &o, MXSEND_EINVAL, "CR");
	mxsend_message_free(m);

	m = good_message();
	o.tls = "sometimes";
	expect_refused(m, &o, MXSEND_EOPTIONS, "tls 'sometimes'");
	closed_dns(&o);
	o.hostname = "client.test\r\nMAIL FROM:<x@evil.test>";
	expect_refused(m, &o, MXSEND_EOPTIONS, "hostname");
	closed_dns(&o);
	o.dns_servers = "not-an-ip";
	expect_refused(m, &o, MXSEND_EOPTIONS, "");
	closed_dns(&o);
	o.tls = "verify";
	o.ca_file = "/nonexistent/ca.pem";
	expect_refused(m, &o, MXSEND_EOPTIONS, "/nonexistent/ca.pem");

	assert_int_equal(mxsend_send(&o, NULL, &res, err, sizeof(err)), MXSEND_EINVAL);
	assert_null(res);
	assert_int_equal(mxsend_send(&o, m, NULL, err, sizeof(err)), MXSEND_EINVAL);
	/* err may be NULL. */
	assert_int_equal(mxsend_send(&o, NULL, &res, NULL, 0), MXSEND_EINVAL);
	mxsend_message_free(m);

	/* NULL messages are refused, never dereferenced. */
	assert_int_equal(mxsend_message_add_to(NULL, "a@b.test"), MXSEND_EINVAL);
	assert_int_equal(mxsend_message_set_text(NULL, "x", 1), MXSEND_EINVAL);
	assert_null(mxsend_message_error(NULL));
	mxsend_message_free(NULL);
}

/* Limits: attachments and the total size. */
static void test_limits(void **state)
{
	struct mxsend_message *m = good_message();
	char name[300];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(mxsend_message_attach(m, name, "x", 1, NULL), MXSEND_EINVAL);
	assert_non_null(strstr(mxsend_message_error(m), "file name"));
	mxsend_message_free(m);

	m = good_message();
	assert_int_equal(mxsend_message_attach(m, "dir/a.txt", "x", 1, NULL), MXSEND_EINVAL);
	mxsend_message_free(m);

	m = good_message();
	for (int i = 0; i < 1000; i++)
		assert_int_equal(mxsend_message_attach(m, "a.txt", "x", 1, "text/plain"), MXSEND_OK);
	assert_int_equal(mxsend_message_attach(m, "a.txt", "x", 1, NULL), MXSEND_EINVAL);
	assert_non_null(strstr(mxsend_message_error(m), "1000"));
	mxsend_message_free(m);

	/* 64 MiB in all: the length is checked before anything is read. */
	m = good_message();
	assert_int_equal(mxsend_message_attach(m, "big.bin", "x", (size_t)64 * 1024 * 1024 + 1,
	                                       NULL), MXSEND_EINVAL);
	assert_non_null(strstr(mxsend_message_error(m), "larger"));
	mxsend_message_free(m);
}

/* A whole run with a DNS server that does not answer (a closed port on
 * loopback: ICMP refused, or a timeout): every recipient is deferred with
 * a reason, no server code, relay "none", no TLS, and the readers and
 * the JSON agree. */
static void test_deferred_run(void **state)
{
	struct mxsend_message *m = good_message();
	struct mxsend_send_options o;
	struct mxsend_result *res = NULL;
	char err[256], *json;

	(void)state;
	closed_dns(&o);
	assert_int_equal(mxsend_message_add_cc(m, "Two <two@api.test>, one@api.test"), MXSEND_OK);
	assert_int_equal(mxsend_message_add_bcc(m, "three@other.test"), MXSEND_OK);
	assert_int_equal(mxsend_message_set_text(m, "hello\n", 6), MXSEND_OK);
	assert_int_equal(mxsend_message_attach(m, "成绩.csv", "a,b\n1,2\n", 8, NULL), MXSEND_OK);
	assert_int_equal(mxsend_message_add_header(m, "X-Mailer: test_api"), MXSEND_OK);
	assert_int_equal(mxsend_send(&o, m, &res, err, sizeof(err)), MXSEND_OK);
	assert_non_null(res);
	/* To, then Cc, then Bcc, each address once. */
	assert_int_equal(mxsend_result_count(res), 3);
	assert_string_equal(mxsend_result_address(res, 0), "one@api.test");
	assert_string_equal(mxsend_result_address(res, 1), "two@api.test");
	assert_string_equal(mxsend_result_address(res, 2), "three@other.test");
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mxsend_result_status(res, i), MXSEND_DEFERRED);
		assert_int_equal(mxsend_result_code(res, i), 0);
		assert_string_equal(mxsend_result_dsn(res, i), "4.4.3");
		assert_string_equal(mxsend_result_relay(res, i), "none");
		assert_null(mxsend_result_tls_version(res, i));
		assert_null(mxsend_result_tls_cipher(res, i));
		assert_int_equal(mxsend_result_tls_verified(res, i), 0);
		assert_true(strlen(mxsend_result_reply(res, i)) > 0);
	}
	assert_string_equal(mxsend_status_name(mxsend_result_status(res, 0)), "deferred");
	assert_non_null(strstr(mxsend_result_message_id(res), "@client.test>"));
	/* Out of range. */
	assert_null(mxsend_result_address(res, 3));
	assert_int_equal(mxsend_result_status(res, 3), MXSEND_STATUS_NONE);
	assert_null(mxsend_status_name(MXSEND_STATUS_NONE));
	assert_int_equal(mxsend_result_code(res, 99), 0);
	assert_null(mxsend_result_reply(res, 3));
	assert_int_equal(mxsend_result_delay_ms(res, 3), 0);
	assert_int_equal(mxsend_result_count(NULL), 0);
	json = mxsend_result_json(res);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"recipients\":[{\"address\":\"one@api.test\""));
	assert_non_null(strstr(json, "\"status\":\"deferred\""));
	assert_non_null(strstr(json, "\"from\":\"noreply@sender.test\""));
	assert_non_null(strstr(json, "\"via\":\"direct\""));
	mxsend_free(json);
	mxsend_result_free(res);
	/* The message is not changed by sending: it goes again. */
	assert_int_equal(mxsend_send(&o, m, &res, err, sizeof(err)), MXSEND_OK);
	assert_int_equal(mxsend_result_count(res), 3);
	mxsend_result_free(res);
	mxsend_result_free(NULL);
	mxsend_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setters_refuse),
		cmocka_unit_test(test_sticky_error),
		cmocka_unit_test(test_send_refuses),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deferred_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
