/*
 * Unit test of the certificate-name text that `mxsend probe` prints and
 * puts in JSON (tls_client.c): a hostile certificate's subject must not
 * carry terminal controls (C0, C1, DEL) or broken UTF-8 to the output.
 * Covers SEC-07 (outside data made safe before it is shown).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>

#include "tls_client.h"

static void name_of(const char *cn, char *out, size_t len)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	                                            (const unsigned char *)cn, -1, -1, 0), 1);
	tls_client_name_text(n, out, len);
	X509_NAME_free(n);
}

static void test_plain(void **state)
{
	char out[256];

	(void)state;
	name_of("mx.example.org", out, sizeof(out));
	assert_string_equal(out, "CN=mx.example.org");
	name_of("\xe9\x82\xae\xe4\xbb\xb6.test", out, sizeof(out)); /* 邮件 stays */
	assert_string_equal(out, "CN=\xe9\x82\xae\xe4\xbb\xb6.test");
}

/* C1 controls (CSI is U+009B, ESC-like on some terminals) and DEL. */
static void test_controls(void **state)
{
	char out[256];

	(void)state;
	name_of("a\xc2\x9b" "31mb\x7f" "c\xc2\x85", out, sizeof(out));
	assert_null(strchr(out, 0x7f));
	for (const char *p = out; *p; p++) {
		assert_false((unsigned char)p[0] == 0xc2 && ((unsigned char)p[1] & 0xe0) == 0x80);
		assert_true((unsigned char)*p >= 0x20);
	}
	/* OpenSSL writes DEL as \7F itself; the C1 pairs become "??". */
	assert_string_equal(out, "CN=a??31mb\\7Fc??");
}

/* A multi-octet character cut by the buffer's end is not left half. */
static void test_cut(void **state)
{
	char out[6];

	(void)state;
	name_of("\xe9\x82\xae\xe4\xbb\xb6", out, sizeof(out)); /* "CN=" + 2 of 3 octets */
	assert_string_equal(out, "CN=??");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
