/*
 * Unit tests of input validation (domain.c): what a user types becomes a
 * name to resolve, an address literal, or an error that says why.
 * Covers DLV-10 (address literal grammar: Snum 0-255, the IPv6 forms, the
 * IPv6: tag) and the "invalid input" requirement of the route command
 * (every bad item gets a reason, none reaches the resolver).
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

#include "domain.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Labels for the length limits (RFC 1035 section 2.3.4). */
#define L63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
#define L61 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi"
#define L62 L61 "j"
#define L64 L63 "l"

struct domain_case {
	const char *in;          /* what the user typed */
	const char *err;         /* NULL: must succeed; else a substring of the reason */
	enum domain_kind kind;   /* on success */
	const char *name;        /* on success: the name to resolve */
	int is_address;          /* on success: the input was user@domain */
	int check_addr;          /* on success: compare addr */
	uint8_t addr[16];        /* the literal's address */
};

static const struct domain_case cases[] = {
	/* ---- names ---- */
	{ .in = "example.com", .kind = DOMAIN_NAME, .name = "example.com" },
	{ .in = "example.com.", .kind = DOMAIN_NAME, .name = "example.com" },
	{ .in = "EXAMPLE.Com", .kind = DOMAIN_NAME, .name = "example.com" },
	{ .in = "  example.com\t\r\n", .kind = DOMAIN_NAME, .name = "example.com" },
	{ .in = "localhost", .kind = DOMAIN_NAME, .name = "localhost" },
	{ .in = "a-b.c-d.example", .kind = DOMAIN_NAME, .name = "a-b.c-d.example" },
	{ .in = "xn--bcher-kva.example", .kind = DOMAIN_NAME, .name = "xn--bcher-kva.example" },
	{ .in = L63 ".example", .kind = DOMAIN_NAME, .name = L63 ".example" },
	{ .in = L64 ".example", .err = "is 64 characters long, the limit is 63" },
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	{ .in = L63 "." L63 "." L63 "." L61, .kind = DOMAIN_NAME, .name = L63 "." L63 "." L63 "." L61 },
	{ .in = L63 "." L63 "." L63 "." L61 ".", .kind = DOMAIN_NAME, .name = L63 "." L63 "." L63 "." L61 },
	{ .in = L63 "." L63 "." L63 "." L62, .err = "is 254 characters long, the limit is 253" },
	/* ---- addresses ---- */
	{ .in = "user@example.com", .kind = DOMAIN_NAME, .name = "example.com", .is_address = 1 },
	{ .in = "User@Example.COM.", .kind = DOMAIN_NAME, .name = "example.com", .is_address = 1 },
	{ .in = "\"a@b\"@example.com", .kind = DOMAIN_NAME, .name = "example.com", .is_address = 1 },
	{ .in = "\"john doe\"@example.com", .kind = DOMAIN_NAME, .name = "example.com", .is_address = 1 },
	{ .in = "john doe@example.com", .err = "space in its local part" },
	{ .in = "@example.com", .err = "empty local part" },
	{ .in = "user@", .err = "no domain after '@'" },
	/* ---- malformed names ---- */
	{ .in = "", .err = "empty item" },
	{ .in = " \t ", .err = "empty item" },
	{ .in = "a..example", .err = "empty label" },
	{ .in = ".example.com", .err = "empty label" },
	{ .in = "example.com..", .err = "empty label" },
	{ .in = ".", .err = "empty label" },
	{ .in = "-a.example", .err = "starts or ends with a hyphen" },
	{ .in = "a-.example", .err = "starts or ends with a hyphen" },
	{ .in = "a.example-", .err = "starts or ends with a hyphen" },
	{ .in = "_dmarc.example", .err = "character '_' is not allowed" },
	{ .in = "a_b.example", .err = "character '_' is not allowed" },
	{ .in = "a b.example", .err = "character ' ' is not allowed" },
	{ .in = "user@a b.example", .err = "character ' ' is not allowed" },
	{ .in = "exa\001mple.com", .err = "control character 0x01" },
	{ .in = "example.com\177", .err = "control character 0x7f" },
	{ .in = "user@example.com\nRCPT TO:<x@evil.example>", .err = "control character 0x0a" },
	{ .in = "example.com/x", .err = "character '/' is not allowed" },
	/* ---- internationalised names (IDNA 2008) ---- */
	{ .in = "b\xc3\xbc" "cher.example", .kind = DOMAIN_NAME, .name = "xn--bcher-kva.example" },
	{ .in = "user@b\xc3\xbc" "cher.example", .kind = DOMAIN_NAME, .name = "xn--bcher-kva.example",
	  .is_address = 1 },
	/* UTS #46 mapping folds case before conversion */
	{ .in = "B\xc3\x9c" "CHER.example", .kind = DOMAIN_NAME, .name = "xn--bcher-kva.example" },
	/* non-transitional: sharp s stays itself (transitional would give "fass") */
	{ .in = "fa\xc3\x9f.example", .kind = DOMAIN_NAME, .name = "xn--fa-hia.example" },
	/* a zero width joiner outside the context IDNA 2008 allows it in */
	{ .in = "a\xe2\x80\x8d" "b.example", .err = "is not valid" },
	{ .in = "\xff.example", .err = "internationalised name '\xff.example' is not valid" },
	/* a label that starts with a combining mark (U+0301) */
	{ .in = "\xcc\x81" "a.example", .err = "is not valid" },
	/* ---- address literals (RFC 5321 section 4.1.3) ---- */
	{ .in = "[192.0.2.1]", .kind = DOMAIN_LITERAL4, .name = "[192.0.2.1]",
	  .check_addr = 1, .addr = { 192, 0, 2, 1 } },
	{ .in = "user@[192.0.2.1]", .kind = DOMAIN_LITERAL4, .name = "[192.0.2.1]", .is_address = 1,
	  .check_addr = 1, .addr = { 192, 0, 2, 1 } },
	{ .in = "[255.255.255.255]", .kind = DOMAIN_LITERAL4, .name = "[255.255.255.255]",
	  .check_addr = 1, .addr = { 255, 255, 255, 255 } },
	{ .in = "[IPv6:2001:db8::1]", .kind = DOMAIN_LITERAL6, .name = "[IPv6:2001:db8::1]",
	  .check_addr = 1, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
	{ .in = "user@[IPv6:2001:db8::1]", .kind = DOMAIN_LITERAL6, .name = "[IPv6:2001:db8::1]",
	  .is_address = 1, .check_addr = 1, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
	{ .in = "[IPv6:::1]", .kind = DOMAIN_LITERAL6, .name = "[IPv6:::1]",
	  .check_addr = 1, .addr = { [15] = 1 } },
	{ .in = "[IPv6:::ffff:192.0.2.1]", .kind = DOMAIN_LITERAL6, .name = "[IPv6:::ffff:192.0.2.1]",
	  .check_addr = 1, .addr = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 } },
	{ .in = "[300.1.1.1]", .err = "'300.1.1.1' is not a valid IPv4 address literal" },
	{ .in = "[256.0.0.1]", .err = "not a valid IPv4 address literal" },
	{ .in = "[1.2.3]", .err = "'1.2.3' is not a valid IPv4 address literal" },
	{ .in = "[1.2.3.4.5]", .err = "not a valid IPv4 address literal" },
	{ .in = "[IPv6:zzz]", .err = "'zzz' is not a valid IPv6 address literal" },
	{ .in = "[IPv6:192.0.2.1]", .err = "not a valid IPv6 address literal" },
	{ .in = "[::1]", .err = "IPv6 needs the tag: [IPv6:...]" },
	{ .in = "[192.0.2.1", .err = "lacks its closing ']'" },
	{ .in = "[]", .err = "address literal '[]' is malformed" },
	{ .in = "[", .err = "lacks its closing ']'" },
	/* ---- bare IP addresses: point at the literal form ---- */
	{ .in = "192.0.2.1", .err = "is an IP address, not a domain (write an address literal as [192.0.2.1])" },
	{ .in = "user@192.0.2.1", .err = "as [192.0.2.1])" },
	{ .in = "2001:db8::1", .err = "as [IPv6:2001:db8::1])" },
};

static void test_parse_table(void **state)
{
	struct domain_target *t = malloc(sizeof(*t));
	int bad = 0;

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct domain_case *c = &cases[i];
		char err[256] = "";
		int rc = domain_parse(c->in, t, err, sizeof(err));

		if (c->err != NULL) {
			if (rc != -1 || strstr(err, c->err) == NULL) {
				print_error("\"%s\": want error containing \"%s\", got rc %d, err \"%s\", name \"%s\"\n",
				            c->in, c->err, rc, err, rc == 0 ? t->name : "");
				bad++;
			}
			continue;
		}
		if (rc != 0) {
			print_error("\"%s\": want \"%s\", got error \"%s\"\n", c->in, c->name, err);
			bad++;
			continue;
		}
		if (strcmp(t->name, c->name) != 0 || t->kind != c->kind || t->is_address != c->is_address) {
			print_error("\"%s\": want name \"%s\" kind %d address %d, got \"%s\" kind %d address %d\n",
			            c->in, c->name, c->kind, c->is_address, t->name, t->kind, t->is_address);
			bad++;
		}
		if (c->check_addr && memcmp(t->addr, c->addr, sizeof(t->addr)) != 0) {
			print_error("\"%s\": address octets differ\n", c->in);
			bad++;
		}
	}
	free(t);
	if (bad > 0)
		fail_msg("%d of %zu inputs differ", bad, ARRAY_LEN(cases));
}

/* What the user wrote for the domain is kept for messages. */
static void test_unicode_kept(void **state)
{
	struct domain_target t;
	char err[256];

	(void)state;
	assert_int_equal(domain_parse("user@b\xc3\xbc" "cher.example", &t, err, sizeof(err)), 0);
	assert_string_equal(t.unicode, "b\xc3\xbc" "cher.example");
	assert_string_equal(t.name, "xn--bcher-kva.example");
}

/* Input longer than DOMAIN_INPUT_MAX is refused before any parsing. */
static void test_input_too_long(void **state)
{
	struct domain_target t;
	char err[256] = "";
	char *in = malloc(DOMAIN_INPUT_MAX + 1);

	(void)state;
	assert_non_null(in);
	memset(in, 'a', DOMAIN_INPUT_MAX);
	in[DOMAIN_INPUT_MAX] = '\0';
	assert_int_equal(domain_parse(in, &t, err, sizeof(err)), -1);
	free(in);
	if (strstr(err, "the limit is 1023") == NULL)
		fail_msg("want \"the limit is 1023\", got \"%s\"", err);
}

/* The reason is cut to the caller's buffer, never overrun. */
static void test_small_error_buffer(void **state)
{
	struct domain_target t;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(domain_parse("a..b", &t, err, 5), -1);
	assert_string_equal(err, "empt");
	assert_int_equal(err[5], 'x');
}

static void test_check_hostname(void **state)
{
	static const struct {
		const char *name;
		const char *err; /* NULL: valid */
	} t[] = {
		{ "mx.example.com", NULL },
		{ "MX1.Example.COM", NULL },
		{ "a", NULL },
		{ "1.2.3.4", NULL }, /* LDH-valid; whether it is an IP is asked separately */
		{ "", "empty name" },
		{ "mx..example", "empty label" },
		{ "mx.example.", "empty label" }, /* the caller strips the root dot */
		{ "mx_1.example", "character '_'" },
		{ "mx\\.example", "character '\\'" },
		{ "mx.\033[31m.example", "control character 0x1b" },
		{ "-mx.example", "hyphen" },
		{ L64 ".example", "limit is 63" },
		{ L63 "." L63 "." L63 "." L62, "limit is 253" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char err[256] = "";
		int rc = domain_check_hostname(t[i].name, err, sizeof(err));

		if (t[i].err == NULL && rc != 0) {
			print_error("\"%s\": want valid, got \"%s\"\n", t[i].name, err);
			bad++;
		} else if (t[i].err != NULL && (rc != -1 || strstr(err, t[i].err) == NULL)) {
			print_error("\"%s\": want error containing \"%s\", got rc %d \"%s\"\n",
			            t[i].name, t[i].err, rc, err);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%d name(s) differ", bad);
}

static void test_is_ip(void **state)
{
	static const struct {
		const char *s;
		int want;
	} t[] = {
		{ "192.0.2.1", 1 }, { "::1", 1 },        { "2001:db8::1", 1 }, { "::ffff:1.2.3.4", 1 },
		{ "1.2.3", 0 },     { "300.1.1.1", 0 },  { "example.com", 0 }, { "", 0 },
		{ "[::1]", 0 },     { "192.0.2.1 ", 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		int got = domain_is_ip(t[i].s);

		if (got != t[i].want) {
			print_error("domain_is_ip(\"%s\"): want %d, got %d\n", t[i].s, t[i].want, got);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%d input(s) differ", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_unicode_kept),
		cmocka_unit_test(test_input_too_long),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_check_hostname),
		cmocka_unit_test(test_is_ip),
	};

	return cmocka_run_group_tests_name("domain", tests, NULL, NULL);
}
