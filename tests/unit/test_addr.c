/*
 * Unit tests of address parsing (addr.c): mailboxes, lists with groups,
 * envelope paths, and the limits and refusals.
 *
 * Covers SEC-05 (CR/LF/NUL refused in envelope addresses, including the
 * libcurl command-injection string), DLV-25 (local part 64, domain 255,
 * path 256), EXT-04 (IDN domains become A-labels; non-ASCII local parts
 * are flagged as needing SMTPUTF8).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "buf.h"
#include "mime.h"

struct good {
	const char *in;
	const char *name;  /* display name as parsed */
	const char *addr;  /* local@domain for the envelope */
	int utf8;          /* needs SMTPUTF8 */
};

static void test_mailbox_good(void **state)
{
	static const struct good t[] = {
		{ "user@example.com", "", "user@example.com", 0 },
		{ "  user@example.com  ", "", "user@example.com", 0 },
		/* the domain is case-folded, the local part is not (RFC 5321 2.4) */
		{ "User@Example.COM", "", "User@example.com", 0 },
		{ "John Doe <john@example.com>", "John Doe", "john@example.com", 0 },
		{ "\"Doe, John\" <john@example.com>", "Doe, John", "john@example.com", 0 },
		{ "<john@example.com>", "", "john@example.com", 0 },
		{ "john@example.com (John Doe)", "", "john@example.com", 0 },
		{ "(c) John (x (nested)) <john@example.com> (y)", "John", "john@example.com", 0 },
		{ "John Q. Public <jqp@example.com>", "John Q. Public", "jqp@example.com", 0 },
		{ "a.b-c+tag@sub.example.com", "", "a.b-c+tag@sub.example.com", 0 },
		{ "!#$%&'*+-/=?^_`{|}~@example.com", "", "!#$%&'*+-/=?^_`{|}~@example.com", 0 },
		/* quoted local parts: kept quoted when needed, unquoted when not */
		{ "\"john doe\"@example.com", "", "\"john doe\"@example.com", 0 },
		{ "\"john\"@example.com", "", "john@example.com", 0 },
		{ "\"john\".\"doe\"@example.com", "", "john.doe@example.com", 0 },
		{ "\"a\\\"b\"@example.com", "", "\"a\\\"b\"@example.com", 0 },
		{ "\"a..b\"@example.com", "", "\"a..b\"@example.com", 0 },
		{ "\"a@b\"@example.com", "", "\"a@b\"@example.com", 0 },
		/* address literals (RFC 5321 4.1.3) */
		{ "user@[192.0.2.1]", "", "user@[192.0.2.1]", 0 },
		{ "user@[IPv6:2001:db8::1]", "", "user@[IPv6:2001:db8::1]", 0 },
		/* one trailing dot is the root */
		{ "user@example.com.", "", "user@example.com", 0 },
		/* IDN: A-label, no SMTPUTF8 needed (EXT-04) */
		{ "user@例子.测试", "", "user@xn--fsqu00a.xn--0zwm56d", 0 },
		{ "用户@例子.测试", "", "用户@xn--fsqu00a.xn--0zwm56d", 1 },
		/* the seed program's sender */
		{ "自动化成绩查询 <6464xxxx8@qq.com>", "自动化成绩查询", "6464xxxx8@qq.com", 0 },
		{ "\"自动化 成绩\" <6464xxxx8@qq.com>", "自动化 成绩", "6464xxxx8@qq.com", 0 },
		/* encoded-words are kept as written */
		{ "=?UTF-8?B?6Ieq5Yqo5YyW5oiQ57up5p+l6K+i?= <a@qq.com>",
		  "=?UTF-8?B?6Ieq5Yqo5YyW5oiQ57up5p+l6K+i?=", "a@qq.com", 0 },
		/* obsolete source route ignored (RFC 5322 4.4) */
		{ "<@relay.example:user@example.com>", "", "user@example.com", 0 },
		{ "Tab\tName <t@example.com>", "Tab Name", "t@example.com", 0 },
		/* exactly 64 octets of local part */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", "",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct addr a;
		char err[256] = "";

		if (addr_parse_mailbox(t[i].in, &a, err, sizeof(err)) != 0)
			fail_msg("'%s': %s", t[i].in, err);
		if (strcmp(a.name, t[i].name) != 0 || strcmp(a.addr, t[i].addr) != 0 ||
		    a.utf8 != t[i].utf8)
			fail_msg("'%s': want [%s] [%s] %d, got [%s] [%s] %d", t[i].in, t[i].name,
			         t[i].addr, t[i].utf8, a.name, a.addr, a.utf8);
		assert_int_equal(strlen(a.addr), strlen(a.local) + 1 + strlen(a.domain));
	}
}

struct bad {
	const char *in;
	const char *err; /* substring of the reason */
};

static void run_bad(const struct bad *t, size_t n, int path)
{
	for (size_t i = 0; i < n; i++) {
		struct addr a;
		char err[512] = "";
		int rc = path ? addr_parse_path(t[i].in, 0, &a, err, sizeof(err))
		              : addr_parse_mailbox(t[i].in, &a, err, sizeof(err));

		if (rc != -1 || strstr(err, t[i].err) == NULL)
			fail_msg("'%s': want error '%s', got rc %d '%s'", t[i].in, t[i].err, rc, err);
	}
}

static void test_mailbox_bad(void **state)
{
	char local65[128], longname[700], longaddr[400];
	const struct bad t[] = {
		{ "", "empty address" },
		{ "   ", "empty address" },
		{ "user", "has no '@domain'" },
		{ "user@", "no domain after 'user@'" },
		{ "@example.com", "unexpected '@'" },
		{ "a b@example.com", "followed by another word" },
		{ "a..b@example.com", "empty part between dots" },
		{ ".a@example.com", "empty part between dots" },
		{ "a.@example.com", "ends with a dot" },
		{ "user@exa mple.com", "unexpected 'mple'" },
		{ "user@-example.com", "hyphen" },
		{ "user@exa_mple.com", "not allowed in a host name" },
		{ "user@192.0.2.1", "is an IP address" },
		{ "user@[300.1.1.1]", "not a valid IPv4" },
		{ "user@[192.0.2.1", "unterminated domain literal" },
		/* SEC-05: CR, LF, NUL and other controls */
		{ "a\r\nb@example.com", "0x0d" },
		{ "user@example.com\nRCPT TO:<x@evil.example>", "0x0a" },
		{ "us\ter@example.com", "followed by another word" },
		{ "u\x01@example.com", "0x01" },
		{ "\"a\x7f\"@example.com", "0x7f" },
		/* DLV-25 lengths */
		{ local65, "longer than 64 octets" },
		{ longaddr, "a path holds at most 256" },
		{ longname, "display name is longer than 512" },
		/* structure */
		{ "A <a@example.com>, b@example.com", "one address expected" },
		{ "John <john@example.com", "not closed by '>'" },
		{ "\"unterminated@example.com", "unterminated quoted string" },
		{ "(unterminated comment a@example.com", "unterminated comment" },
		{ "team: a@example.com;", "where one address is expected" },
		{ "Jos\xff <j@example.com>", "not valid UTF-8" },
		{ "\xff@example.com", "not valid UTF-8" },
		{ "a@example.com>", "unexpected '>'" },
	};

	(void)state;
	memset(local65, 'a', 65);
	snprintf(local65 + 65, sizeof(local65) - 65, "@example.com");
	memset(longname, 'n', 600);
	snprintf(longname + 600, sizeof(longname) - 600, " <a@example.com>");
	/* 64 + 1 + 4 labels of 49 + 3 dots + ".com" = 270 > 254 */
	{
		char *p = longaddr;

		memset(p, 'a', 64);
		p += 64;
		*p++ = '@';
		for (int k = 0; k < 4; k++) {
			memset(p, 'b', 49);
			p += 49;
			*p++ = '.';
		}
		snprintf(p, 8, "com");
	}
	run_bad(t, sizeof(t) / sizeof(t[0]), 0);
}

struct list_case {
	const char *in;
	const char *want; /* addresses joined by ' ', or NULL for an error */
	const char *err;
};

static void test_list(void **state)
{
	static const struct list_case t[] = {
		{ "A <a@x.example>, b@y.example", "a@x.example b@y.example", NULL },
		{ "2693xxxx8@qq.com, 196xxxxx30@qq.com", "2693xxxx8@qq.com 196xxxxx30@qq.com", NULL },
		{ "undisclosed-recipients:;", "", NULL },
		{ "team: a@x.example, B <b@y.example>;, c@z.example",
		  "a@x.example b@y.example c@z.example", NULL },
		{ "team: a@x.example", "a@x.example", NULL }, /* ';' missing: tolerated */
		{ "a@x.example,,b@y.example,", "a@x.example b@y.example", NULL },
		{ "\"Doe, John\" <j@x.example>, k@y.example", "j@x.example k@y.example", NULL },
		{ "", "", NULL },
		{ "a@x.example b@y.example", NULL, "separated by commas" },
		{ "g: h: a@x.example;;", NULL, "inside a group" },
		{ "a@x.example, bad", NULL, "'bad' has no '@domain'" },
		{ "a@x.example,\r\n b@y.example", NULL, "0x0d" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct addr_list l = { NULL, 0, 0 };
		char err[256] = "", got[512] = "";
		int rc = addr_parse_list(t[i].in, &l, err, sizeof(err));

		for (size_t k = 0; k < l.n; k++) {
			strncat(got, k > 0 ? " " : "", sizeof(got) - strlen(got) - 1);
			strncat(got, l.v[k].addr, sizeof(got) - strlen(got) - 1);
		}
		addr_list_free(&l);
		if (t[i].want != NULL && (rc != 0 || strcmp(got, t[i].want) != 0))
			fail_msg("'%s': want [%s], got rc %d [%s] %s", t[i].in, t[i].want, rc, got, err);
		if (t[i].want == NULL && (rc != -1 || strstr(err, t[i].err) == NULL))
			fail_msg("'%s': want error '%s', got rc %d '%s'", t[i].in, t[i].err, rc, err);
	}
}

/* SEC-10: a list never grows past ADDR_LIST_MAX. */
static void test_list_cap(void **state)
{
	struct buf b = BUF_INIT;
	struct addr_list l = { NULL, 0, 0 };
	char err[256];

	(void)state;
	for (int i = 0; i <= ADDR_LIST_MAX; i++)
		buf_printf(&b, "u%d@example.com,", i);
	assert_int_equal(addr_parse_list(b.data, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 10000 addresses"));
	assert_int_equal(l.n, ADDR_LIST_MAX);
	addr_list_free(&l);
	buf_free(&b);
}

static void test_path(void **state)
{
	static const struct bad bad[] = {
		{ "<>", "empty address" },
		{ "", "empty address" },
		{ "Name <a@example.com>", "white space inside an envelope address" },
		{ "<a@example.com> (c)", "comments are not allowed" },
		{ "<a @example.com>", "white space inside" },
		{ "<a@example.com", "not closed by '>'" },
		{ "<@relay.example:a@example.com>", "unexpected '@'" },
		/* SEC-05: the libcurl command-injection string */
		{ "a@b.example>\r\nRCPT TO:<victim@x.example", "0x0d" },
		{ "a@b.example\n", "0x0a" },
	};
	struct addr a;
	char err[256];

	(void)state;
	assert_int_equal(addr_parse_path("<a@example.com>", 0, &a, err, sizeof(err)), 0);
	assert_string_equal(a.addr, "a@example.com");
	assert_int_equal(addr_parse_path("a@Example.com", 0, &a, err, sizeof(err)), 0);
	assert_string_equal(a.addr, "a@example.com");
	assert_int_equal(addr_parse_path("<>", 1, &a, err, sizeof(err)), 0);
	assert_string_equal(a.addr, "");
	assert_int_equal(addr_parse_path("", 1, &a, err, sizeof(err)), 0);
	assert_string_equal(a.addr, "");
	assert_int_equal(addr_parse_path(" <\"x y\"@example.com> ", 0, &a, err, sizeof(err)), 0);
	assert_string_equal(a.addr, "\"x y\"@example.com");
	run_bad(bad, sizeof(bad) / sizeof(bad[0]), 1);
}

static void test_list_find(void **state)
{
	struct addr_list l = { NULL, 0, 0 };
	char err[256];

	(void)state;
	assert_int_equal(addr_parse_list("a@x.example, B@x.example", &l, err, sizeof(err)), 0);
	assert_int_equal(addr_list_find(&l, "a@x.example"), 0);
	assert_int_equal(addr_list_find(&l, "B@x.example"), 1);
	assert_int_equal(addr_list_find(&l, "b@x.example"), -1);
	addr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

/* Formatting a mailbox into a header: display names encoded as phrases. */
static void test_fold(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "自动化成绩查询 <6464xxxx8@qq.com>",
		  " =?UTF-8?B?6Ieq5Yqo5YyW5oiQ57up5p+l6K+i?= <6464xxxx8@qq.com>" },
		{ "a@example.com", " a@example.com" },
		{ "John Doe <j@example.com>", " John Doe <j@example.com>" },
		{ "\"Doe, John\" <j@example.com>", " \"Doe, John\" <j@example.com>" },
		{ "\"x y\"@example.com", " \"x y\"@example.com" },
		{ "Z <z@例子.测试>", " Z <z@xn--fsqu00a.xn--0zwm56d>" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct addr a;
		struct buf b = BUF_INIT;
		struct mime_fold f;
		char err[256];

		assert_int_equal(addr_parse_mailbox(t[i].in, &a, err, sizeof(err)), 0);
		mime_fold_init(&f, &b, 5);
		assert_int_equal(addr_fold(&f, &a, err, sizeof(err)), 0);
		if (strcmp(b.data, t[i].want) != 0)
			fail_msg("'%s': want [%s] got [%s]", t[i].in, t[i].want, b.data);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailbox_good),
		cmocka_unit_test(test_mailbox_bad),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_cap),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_list_find),
		cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
