/* Unit tests of the SMTP reply and EHLO capability parser (smtp_reply.c).
 * Covers DLV-12, DLV-14, DLV-15, DLV-16 (too many recipients), EXT-05
 * (SIZE), EXT-08 (enhanced status codes), SEC-02 (mangled STARTTLS),
 * SEC-07 (limits, sanitising). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_reply.h"

static const char *status_name(enum smtp_reply_status st)
{
	switch (st) {
	case SMTP_REPLY_INCOMPLETE: return "INCOMPLETE";
	case SMTP_REPLY_COMPLETE: return "COMPLETE";
	case SMTP_REPLY_ERROR: return "ERROR";
	}
	return "?";
}

/* The invariants every COMPLETE reply keeps, whatever the input: text
 * NUL-terminated at textlen, no control octet but the '\n' between kept
 * lines, no UTF-8 C1 control, line_off consistent. */
static void check_clean(const char *name, const struct smtp_reply *r)
{
	size_t newlines = 0;

	if (strlen(r->text) != r->textlen)
		fail_msg("%s: textlen %zu, strlen %zu", name, r->textlen, strlen(r->text));
	for (size_t i = 0; i < r->textlen; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if (c == '\n') {
			newlines++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			fail_msg("%s: control octet 0x%02x at %zu in text", name, c, i);
		if (c == 0xc2 && i + 1 < r->textlen && (unsigned char)r->text[i + 1] >= 0x80 &&
		    (unsigned char)r->text[i + 1] <= 0x9f)
			fail_msg("%s: UTF-8 C1 control at %zu in text", name, i);
	}
	if (r->nkept == 0 || newlines != r->nkept - 1)
		fail_msg("%s: %zu lines kept but %zu newlines", name, r->nkept, newlines);
	if (r->nkept > r->nlines || (r->nkept < r->nlines) != (r->truncated != 0))
		fail_msg("%s: nkept %zu nlines %zu truncated %d", name, r->nkept, r->nlines,
			r->truncated);
	for (size_t i = 1; i < r->nkept; i++)
		if (r->text[r->line_off[i] - 1] != '\n')
			fail_msg("%s: line_off[%zu] not after a newline", name, i);
}

static enum smtp_reply_status parse(const char *in, size_t len, struct smtp_reply *r,
	size_t *consumed, char *err, size_t errlen)
{
	/* A copy of exactly len octets, so ASan sees any read past the end. */
	char *copy = malloc(len > 0 ? len : 1);
	enum smtp_reply_status st;

	assert_non_null(copy);
	memcpy(copy, in, len);
	st = smtp_reply_parse(copy, len, r, consumed, err, errlen);
	free(copy);
	return st;
}

/* ---------------------------------------------------------------- table */

struct parse_case {
	const char *name;
	const char *in;            /* the octets from the server */
	size_t inlen;              /* 0: strlen(in) */
	enum smtp_reply_status want;
	int code;                  /* COMPLETE: the code */
	size_t consumed;           /* COMPLETE: 0 means all of in */
	size_t nlines;             /* COMPLETE: lines */
	const char *text;          /* COMPLETE: the kept text */
	const char *enhanced;      /* COMPLETE: NULL means "" */
	int enhanced_bad;          /* COMPLETE: want r.enhanced_bad */
	int bare_lf;               /* COMPLETE: want r.bare_lf */
	int sanitised;             /* COMPLETE: want r.sanitised */
	int eight_bit;             /* COMPLETE: want r.eight_bit */
	const char *err_has;       /* ERROR: a part of the reason */
};

static const struct parse_case parse_cases[] = {
	/* DLV-14 test vectors. */
	{ .name = "bare code", .in = "250\r\n", .want = SMTP_REPLY_COMPLETE, .code = 250,
	  .nlines = 1, .text = "" },
	{ .name = "code and SP", .in = "250 \r\n", .want = SMTP_REPLY_COMPLETE, .code = 250,
	  .nlines = 1, .text = "" },
	{ .name = "simple", .in = "250 Ok\r\n", .want = SMTP_REPLY_COMPLETE, .code = 250,
	  .nlines = 1, .text = "Ok" },
	{ .name = "multi-line", .in = "250-a\r\n250 b\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 2, .text = "a\nb" },
	{ .name = "empty continuation", .in = "250-\r\n250-\r\n250\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 250, .nlines = 3, .text = "\n\n" },
	{ .name = "code mismatch", .in = "250-a\r\n251 b\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "differs" },
	{ .name = "first digit 6", .in = "699 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code \"699\"" },
	/* 699 fails on its second digit too; 650 and 150 only on the first. */
	{ .name = "first digit 6 alone", .in = "650 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code \"650\"" },
	{ .name = "first digit 1", .in = "150 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code" },
	{ .name = "first digit 0", .in = "050 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code" },
	{ .name = "letter in code", .in = "2a0 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code \"2a0\"" },
	{ .name = "second digit 6", .in = "260 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code" },
	{ .name = "short line", .in = "25\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "too short" },
	{ .name = "empty line", .in = "\r\n", .want = SMTP_REPLY_ERROR, .err_has = "too short" },
	{ .name = "junk after code", .in = "250x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "after the code" },
	{ .name = "CR after code", .in = "250\r\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "after the code" },
	{ .name = "four digits", .in = "2500 x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "after the code" },
	{ .name = "quoted octets are sanitised", .in = "2\x1b[ x\r\n", .want = SMTP_REPLY_ERROR,
	  .err_has = "\"2?[\"" },
	/* Bare LF as a line end: accepted, noted. */
	{ .name = "bare LF", .in = "250 Ok\n", .want = SMTP_REPLY_COMPLETE, .code = 250,
	  .nlines = 1, .text = "Ok", .bare_lf = 1 },
	{ .name = "mixed line ends", .in = "250-a\n250 b\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 2, .text = "a\nb", .bare_lf = 1 },
	{ .name = "bare code bare LF", .in = "554\n", .want = SMTP_REPLY_COMPLETE, .code = 554,
	  .nlines = 1, .text = "", .bare_lf = 1 },
	/* Incomplete input: wait for more. */
	{ .name = "nothing", .in = "", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "one digit", .in = "2", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "code only", .in = "250", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "code and CR", .in = "250\r", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "no line end", .in = "250 Ok", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "CR without LF yet", .in = "250 Ok\r", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "continuation only", .in = "250-a\r\n", .want = SMTP_REPLY_INCOMPLETE },
	{ .name = "second line started", .in = "250-a\r\n25", .want = SMTP_REPLY_INCOMPLETE },
	/* Errors found before the line end arrives. */
	{ .name = "early bad digit", .in = "2a", .want = SMTP_REPLY_ERROR,
	  .err_has = "invalid reply code" },
	{ .name = "early junk after code", .in = "250x", .want = SMTP_REPLY_ERROR,
	  .err_has = "after the code" },
	{ .name = "early CR then junk", .in = "250\rx", .want = SMTP_REPLY_ERROR,
	  .err_has = "after the code" },
	{ .name = "early mismatch", .in = "250-a\r\n251", .want = SMTP_REPLY_ERROR,
	  .err_has = "differs" },
	/* Two replies back to back (PIPELINING): only the first is taken. */
	{ .name = "pipelined", .in = "250 a\r\n250 b\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .consumed = 7, .nlines = 1, .text = "a" },
	{ .name = "pipelined multi", .in = "250-a\r\n250 b\r\n550 5.1.1 c\r\n354 d",
	  .want = SMTP_REPLY_COMPLETE, .code = 250, .consumed = 14, .nlines = 2,
	  .text = "a\nb" },
	{ .name = "garbage after a reply", .in = "221 Bye\r\n\x00\xff", .inlen = 11,
	  .want = SMTP_REPLY_COMPLETE, .code = 221, .consumed = 9, .nlines = 1, .text = "Bye" },
	/* SEC-07: control octets never reach the text. */
	{ .name = "ANSI escape", .in = "250 a\x1b[31mred\x1b[0m\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a?[31mred?[0m", .sanitised = 1 },
	{ .name = "bare CR in text", .in = "250 a\rb\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a?b", .sanitised = 1 },
	{ .name = "CR CR LF", .in = "250 ab\r\r\n", .want = SMTP_REPLY_COMPLETE, .code = 250,
	  .nlines = 1, .text = "ab?", .sanitised = 1 },
	{ .name = "NUL in text", .in = "250 a\0b\r\n", .inlen = 9, .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a?b", .sanitised = 1 },
	{ .name = "DEL and BEL", .in = "250 a\x7f\x07z\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a??z", .sanitised = 1 },
	{ .name = "tab is a space", .in = "250 a\tb\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a b" },
	{ .name = "UTF-8 C1 CSI", .in = "250 a\xc2\x9b" "2Jb\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a??2Jb", .sanitised = 1, .eight_bit = 1 },
	{ .name = "C2 at line end", .in = "250 a\xc2\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 250, .nlines = 1, .text = "a\xc2", .eight_bit = 1 },
	{ .name = "UTF-8 kept", .in = "250 caf\xc3\xa9 \xe6\x94\xb6\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 250, .nlines = 1,
	  .text = "caf\xc3\xa9 \xe6\x94\xb6", .eight_bit = 1 },
	/* QQ's older 535 in GBK ("please log in with the authorization
	 * code"): kept octet for octet, not rejected. 0xc2 0xeb is not C1. */
	{ .name = "GBK 535",
	  .in = "535 Error: \xc7\xeb\xca\xb9\xd3\xc3\xca\xda\xc8\xa8\xc2\xeb\xb5\xc7\xc2\xbc\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 535, .nlines = 1,
	  .text = "Error: \xc7\xeb\xca\xb9\xd3\xc3\xca\xda\xc8\xa8\xc2\xeb\xb5\xc7\xc2\xbc",
	  .eight_bit = 1 },
	/* EXT-08: enhanced status codes. */
	{ .name = "enhanced", .in = "550 5.1.1 <x@y>: Recipient address rejected\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1,
	  .text = "5.1.1 <x@y>: Recipient address rejected", .enhanced = "5.1.1" },
	{ .name = "enhanced 2.0.0", .in = "250 2.0.0 Ok: queued as 4F1\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 250, .nlines = 1,
	  .text = "2.0.0 Ok: queued as 4F1", .enhanced = "2.0.0" },
	{ .name = "enhanced alone", .in = "451 4.7.1\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 451, .nlines = 1, .text = "4.7.1", .enhanced = "4.7.1" },
	{ .name = "enhanced three digits", .in = "550 5.999.999 x\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1, .text = "5.999.999 x",
	  .enhanced = "5.999.999" },
	{ .name = "enhanced X.7.30", .in = "550 5.7.30 REQUIRETLS support required\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1,
	  .text = "5.7.30 REQUIRETLS support required", .enhanced = "5.7.30" },
	{ .name = "enhanced leading zeros", .in = "550 5.01.001 x\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1, .text = "5.01.001 x",
	  .enhanced = "5.1.1" },
	{ .name = "enhanced class mismatch", .in = "550 4.1.1 x\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1, .text = "4.1.1 x",
	  .enhanced_bad = 1 },
	{ .name = "enhanced class 3", .in = "354 3.0.0 go on\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 354, .nlines = 1, .text = "3.0.0 go on", .enhanced_bad = 1 },
	{ .name = "enhanced class 6", .in = "550 6.1.1 x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "6.1.1 x", .enhanced_bad = 1 },
	{ .name = "enhanced class 55", .in = "550 55.1.1 x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "55.1.1 x" },
	{ .name = "enhanced class 05", .in = "550 05.1.1 x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "05.1.1 x" },
	{ .name = "enhanced subject 1000", .in = "550 5.1000.1 x\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1, .text = "5.1000.1 x",
	  .enhanced_bad = 1 },
	{ .name = "enhanced detail 1000", .in = "550 5.1.1000 x\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 1, .text = "5.1.1000 x",
	  .enhanced_bad = 1 },
	{ .name = "enhanced two parts", .in = "550 5.1 x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "5.1 x", .enhanced_bad = 1 },
	{ .name = "enhanced glued to text", .in = "550 5.1.1x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "5.1.1x", .enhanced_bad = 1 },
	{ .name = "enhanced empty part", .in = "550 5..1 x\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 1, .text = "5..1 x", .enhanced_bad = 1 },
	{ .name = "number, not enhanced", .in = "250 1 recipient ok\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 250, .nlines = 1, .text = "1 recipient ok" },
	{ .name = "enhanced on a later line only", .in = "550-first\r\n550 5.1.1 second\r\n",
	  .want = SMTP_REPLY_COMPLETE, .code = 550, .nlines = 2,
	  .text = "first\n5.1.1 second" },
	{ .name = "enhanced on every line",
	  .in = "550-5.1.1 first\r\n550 5.1.1 second\r\n", .want = SMTP_REPLY_COMPLETE,
	  .code = 550, .nlines = 2, .text = "5.1.1 first\n5.1.1 second", .enhanced = "5.1.1" },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->inlen ? c->inlen : strlen(c->in), consumed = 99;
		size_t want_consumed = c->want != SMTP_REPLY_COMPLETE ? 0 : c->consumed ? c->consumed : len;
		struct smtp_reply r;
		char err[256];
		enum smtp_reply_status st = parse(c->in, len, &r, &consumed, err, sizeof(err));

		if (st != c->want)
			fail_msg("%s: want %s, got %s (%s)", c->name, status_name(c->want),
				status_name(st), err);
		if (consumed != want_consumed)
			fail_msg("%s: want consumed %zu, got %zu", c->name, want_consumed, consumed);
		if (st == SMTP_REPLY_ERROR) {
			if (c->err_has == NULL || strstr(err, c->err_has) == NULL)
				fail_msg("%s: want a reason with \"%s\", got \"%s\"", c->name,
					c->err_has ? c->err_has : "", err);
			continue;
		}
		if (st != SMTP_REPLY_COMPLETE)
			continue;
		check_clean(c->name, &r);
		if (r.code != c->code)
			fail_msg("%s: want code %d, got %d", c->name, c->code, r.code);
		if (r.nlines != c->nlines)
			fail_msg("%s: want %zu lines, got %zu", c->name, c->nlines, r.nlines);
		if (strcmp(r.text, c->text) != 0)
			fail_msg("%s: want text \"%s\", got \"%s\"", c->name, c->text, r.text);
		if (strcmp(r.enhanced, c->enhanced ? c->enhanced : "") != 0)
			fail_msg("%s: want enhanced \"%s\", got \"%s\"", c->name,
				c->enhanced ? c->enhanced : "", r.enhanced);
		if (r.enhanced_bad != c->enhanced_bad || r.bare_lf != c->bare_lf ||
		    r.sanitised != c->sanitised || r.eight_bit != c->eight_bit)
			fail_msg("%s: want enhanced_bad/bare_lf/sanitised/eight_bit %d/%d/%d/%d,"
				" got %d/%d/%d/%d", c->name, c->enhanced_bad, c->bare_lf,
				c->sanitised, c->eight_bit, r.enhanced_bad, r.bare_lf,
				r.sanitised, r.eight_bit);
		if (r.truncated)
			fail_msg("%s: truncated", c->name);
	}
}

/* DLV-14, SEC-07 "one byte per packet": every proper prefix of a valid
 * reply is INCOMPLETE, the whole is COMPLETE with consumed == len. */
static void test_every_split_point(void **state)
{
	static const char *const replies[] = {
		"250-mx.example.org Hello [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
		"250 8BITMIME\r\n",
		"250-a\n250-b\r\n250\n",
		"550-5.1.1 one\r\n550 5.1.1 two\r\n",
		"220\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		size_t len = strlen(replies[i]);

		for (size_t k = 0; k <= len; k++) {
			struct smtp_reply r;
			size_t consumed = 99;
			char err[128] = "";
			enum smtp_reply_status want = k < len ? SMTP_REPLY_INCOMPLETE : SMTP_REPLY_COMPLETE;
			enum smtp_reply_status st = parse(replies[i], k, &r, &consumed, err, sizeof(err));

			if (st != want)
				fail_msg("reply %zu prefix %zu/%zu: want %s, got %s (%s)", i, k, len,
					status_name(want), status_name(st), err);
			if (consumed != (k < len ? 0 : len))
				fail_msg("reply %zu prefix %zu: consumed %zu", i, k, consumed);
		}
	}
}

/* Pipelined replies are taken one at a time, as a session drains its
 * buffer (EXT-01 responses come in command order). */
static void test_drain_pipelined(void **state)
{
	const char *in = "250 2.1.0 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No\r\n354 Go";
	static const int codes[] = { 250, 250, 550 };
	size_t len = strlen(in), at = 0, n = 0;

	(void)state;
	for (;;) {
		struct smtp_reply r;
		size_t consumed;
		char err[128];
		enum smtp_reply_status st = parse(in + at, len - at, &r, &consumed, err, sizeof(err));

		if (st == SMTP_REPLY_INCOMPLETE)
			break;
		assert_int_equal(st, SMTP_REPLY_COMPLETE);
		assert_true(n < 3);
		assert_int_equal(r.code, codes[n]);
		assert_true(consumed > 0 && consumed <= len - at);
		at += consumed;
		n++;
	}
	assert_int_equal(n, 3);
	assert_string_equal(in + at, "354 Go");
}

/* SEC-07: a 100 KB line is an error as soon as LINE_MAX octets without a
 * line end are in the buffer, not a wait for the rest. */
static void test_long_line(void **state)
{
	const size_t big = 100 * 1024;
	char *buf = malloc(big);
	struct smtp_reply r;
	size_t consumed;
	char err[128];

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "250 ", 4);
	memset(buf + 4, 'x', big - 4);
	assert_int_equal(parse(buf, big, &r, &consumed, err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_non_null(strstr(err, "longer than 2048"));
	assert_int_equal(parse(buf, SMTP_REPLY_LINE_MAX - 1, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_INCOMPLETE);
	assert_int_equal(parse(buf, SMTP_REPLY_LINE_MAX, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_ERROR);

	/* Exactly LINE_MAX octets with the CRLF: fine. One more: not. */
	memcpy(buf + SMTP_REPLY_LINE_MAX - 2, "\r\n", 2);
	assert_int_equal(parse(buf, SMTP_REPLY_LINE_MAX, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_COMPLETE);
	assert_int_equal(consumed, SMTP_REPLY_LINE_MAX);
	assert_int_equal(r.textlen, SMTP_REPLY_LINE_MAX - 6);
	buf[SMTP_REPLY_LINE_MAX - 2] = 'x';
	memcpy(buf + SMTP_REPLY_LINE_MAX - 1, "\r\n", 2);
	assert_int_equal(parse(buf, SMTP_REPLY_LINE_MAX + 1, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_ERROR);

	/* The same for a continuation line after a normal one. */
	memcpy(buf, "250-ok\r\n250-", 12);
	memset(buf + 12, 'y', big - 12);
	assert_int_equal(parse(buf, 8 + SMTP_REPLY_LINE_MAX - 1, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_INCOMPLETE);
	assert_int_equal(parse(buf, 8 + SMTP_REPLY_LINE_MAX, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_ERROR);
	assert_non_null(strstr(err, "reply line 2"));
	free(buf);
}

/* Builds count lines "250-x\r\n", the last one "250 x\r\n" when last. */
static char *lines(size_t count, int last, size_t *len)
{
	char *buf = malloc(count * 7 + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < count; i++)
		memcpy(buf + i * 7, (last && i + 1 == count) ? "250 x\r\n" : "250-x\r\n", 7);
	buf[count * 7] = '\0';
	*len = count * 7;
	return buf;
}

/* SEC-07: endless "250-" lines end in an error at LINES_MAX. */
static void test_too_many_lines(void **state)
{
	struct smtp_reply r;
	size_t consumed, len;
	char err[128];
	char *buf;

	(void)state;
	buf = lines(10000, 1, &len);
	assert_int_equal(parse(buf, len, &r, &consumed, err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_non_null(strstr(err, "more than 128 lines"));
	/* The error comes with line LINES_MAX, not at the end. */
	assert_int_equal(parse(buf, (SMTP_REPLY_LINES_MAX - 1) * 7, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_INCOMPLETE);
	assert_int_equal(parse(buf, SMTP_REPLY_LINES_MAX * 7, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_ERROR);
	free(buf);

	/* LINES_MAX lines with the last one final: accepted. */
	buf = lines(SMTP_REPLY_LINES_MAX, 1, &len);
	assert_int_equal(parse(buf, len, &r, &consumed, err, sizeof(err)), SMTP_REPLY_COMPLETE);
	assert_int_equal(r.nlines, SMTP_REPLY_LINES_MAX);
	assert_int_equal(r.nkept, SMTP_REPLY_LINES_MAX);
	assert_int_equal(consumed, len);
	check_clean("128 lines", &r);
	free(buf);
}

/* Builds a reply of nfull continuation lines of LINE_MAX - 48 octets and a
 * final line of lastlen octets (CRLF included). */
static char *wide_reply(size_t nfull, size_t lastlen, size_t *len)
{
	const size_t w = SMTP_REPLY_LINE_MAX - 48;
	char *buf = malloc(nfull * w + lastlen);
	size_t at = 0;

	assert_non_null(buf);
	for (size_t i = 0; i < nfull; i++, at += w) {
		memcpy(buf + at, "250-", 4);
		memset(buf + at + 4, 'w', w - 6);
		memcpy(buf + at + w - 2, "\r\n", 2);
	}
	memcpy(buf + at, "250 ", 4);
	memset(buf + at + 4, 'z', lastlen - 6);
	memcpy(buf + at + lastlen - 2, "\r\n", 2);
	*len = at + lastlen;
	return buf;
}

/* SEC-07: a whole reply is at most BYTES_MAX octets, so INCOMPLETE means
 * fewer than BYTES_MAX octets are buffered. Also: text past TEXT_MAX is
 * dropped whole lines at a time and the reply says so. */
static void test_reply_bytes_and_text_limits(void **state)
{
	const size_t w = SMTP_REPLY_LINE_MAX - 48;
	const size_t nfull = SMTP_REPLY_BYTES_MAX / w;
	const size_t rest = SMTP_REPLY_BYTES_MAX - nfull * w;
	struct smtp_reply r;
	size_t consumed, len, kept_text;
	char err[128], one[SMTP_REPLY_ONE_LINE_MAX];
	char *buf;

	(void)state;
	assert_true(rest >= 8 && rest < w);
	/* Ends exactly at BYTES_MAX: fine. */
	buf = wide_reply(nfull, rest, &len);
	assert_int_equal(len, SMTP_REPLY_BYTES_MAX);
	assert_int_equal(parse(buf, len, &r, &consumed, err, sizeof(err)), SMTP_REPLY_COMPLETE);
	assert_int_equal(consumed, SMTP_REPLY_BYTES_MAX);
	assert_int_equal(r.nlines, nfull + 1);
	check_clean("bytes max", &r);
	/* Whole lines only: each kept line is w - 6 octets plus a '\n'. */
	assert_true(r.truncated);
	assert_int_equal(r.nkept, SMTP_REPLY_TEXT_MAX / (w - 5));
	kept_text = r.nkept * (w - 5) - 1;
	assert_int_equal(r.textlen, kept_text);
	assert_int_equal(smtp_reply_one_line(&r, one, sizeof(one)), 3 + r.nkept * (w - 5) + 6);
	assert_non_null(strstr(one, "w [...]"));
	free(buf);

	/* One octet more: an error once BYTES_MAX octets are in. */
	buf = wide_reply(nfull, rest + 1, &len);
	assert_int_equal(parse(buf, len, &r, &consumed, err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_non_null(strstr(err, "reply longer than 65536"));
	assert_int_equal(parse(buf, SMTP_REPLY_BYTES_MAX - 1, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_INCOMPLETE);
	assert_int_equal(parse(buf, SMTP_REPLY_BYTES_MAX, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_ERROR);
	free(buf);
}

/* smtp_reply_line gives each kept line; past the end, NULL. */
static void test_line_access(void **state)
{
	const char *in = "250-one\r\n250-\r\n250 three\r\n";
	struct smtp_reply r;
	size_t consumed, n;
	const char *s;

	(void)state;
	assert_int_equal(parse(in, strlen(in), &r, &consumed, NULL, 0), SMTP_REPLY_COMPLETE);
	s = smtp_reply_line(&r, 0, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(s, "one", 3);
	s = smtp_reply_line(&r, 1, &n);
	assert_non_null(s);
	assert_int_equal(n, 0);
	s = smtp_reply_line(&r, 2, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(s, "three", 5);
	assert_null(smtp_reply_line(&r, 3, &n));
	assert_int_equal(n, 0);
}

/* An empty receive buffer, even a NULL one, is just "read more". */
static void test_empty_buffer(void **state)
{
	struct smtp_reply r;
	size_t consumed = 99;
	char err[16] = "x";

	(void)state;
	assert_int_equal(smtp_reply_parse(NULL, 0, &r, &consumed, err, sizeof(err)),
		SMTP_REPLY_INCOMPLETE);
	assert_int_equal(consumed, 0);
	assert_string_equal(err, "");
}

/* ---------------------------------------------------------------- one line */

struct one_line_case {
	const char *name;
	const char *in;   /* a complete reply */
	const char *want; /* its one-line form */
};

static const struct one_line_case one_line_cases[] = {
	{ .name = "postfix", .in = "550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n",
	  .want = "550 5.1.1 <x@y>: Recipient address rejected: User unknown" },
	{ .name = "bare", .in = "250\r\n", .want = "250" },
	{ .name = "empty first line", .in = "250-\r\n250 ok\r\n", .want = "250 ok" },
	{ .name = "gmail",
	  .in = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
		"550-5.1.1 double-checking the recipient's email address for typos or\r\n"
		"550-5.1.1 unnecessary spaces. Learn more at\r\n"
		"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si2 - gsmtp\r\n",
	  .want = "550 5.1.1 The email account that you tried to reach does not exist. Please try "
		"double-checking the recipient's email address for typos or unnecessary spaces. "
		"Learn more at https://support.google.com/mail/?p=NoSuchUser a1si2 - gsmtp" },
	{ .name = "other enhanced on later lines kept",
	  .in = "451-4.3.0 first\r\n451 4.7.1 second\r\n", .want = "451 4.3.0 first 4.7.1 second" },
	{ .name = "hostile", .in = "220-evil\r\n220 \x1b[2Jcleared\r\n",
	  .want = "220 evil ?[2Jcleared" },
	{ .name = "greeting", .in = "220-mx.example.org ESMTP\r\n220-no UCE\r\n220 \r\n",
	  .want = "220 mx.example.org ESMTP no UCE" },
};

/* The one-line form for logs and DSN Diagnostic-Code (EXT-07). */
static void test_one_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(one_line_cases) / sizeof(one_line_cases[0]); i++) {
		const struct one_line_case *c = &one_line_cases[i];
		struct smtp_reply r;
		size_t consumed, n;
		char buf[SMTP_REPLY_ONE_LINE_MAX];

		assert_int_equal(parse(c->in, strlen(c->in), &r, &consumed, NULL, 0),
			SMTP_REPLY_COMPLETE);
		n = smtp_reply_one_line(&r, buf, sizeof(buf));
		if (strcmp(buf, c->want) != 0 || n != strlen(c->want))
			fail_msg("%s: want \"%s\", got \"%s\" (%zu)", c->name, c->want, buf, n);
	}
}

/* A short buffer is cut and stays NUL-terminated; len 0 writes nothing. */
static void test_one_line_short_buffer(void **state)
{
	const char *in = "550 5.1.1 User unknown\r\n";
	struct smtp_reply r;
	size_t consumed;
	char buf[8];

	(void)state;
	assert_int_equal(parse(in, strlen(in), &r, &consumed, NULL, 0), SMTP_REPLY_COMPLETE);
	memset(buf, 'Q', sizeof(buf));
	assert_int_equal(smtp_reply_one_line(&r, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "550 5.1");
	memset(buf, 'Q', sizeof(buf));
	assert_int_equal(smtp_reply_one_line(&r, buf, 1), 0);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(smtp_reply_one_line(&r, buf, 0), 0);
	assert_int_equal(buf[1], 'Q');
}

/* ---------------------------------------------------------------- classes */

/* DLV-15: the first digit decides. */
static void test_class(void **state)
{
	static const struct {
		int code;
		enum smtp_reply_class want;
	} cases[] = {
		{ 200, SMTP_CLASS_POSITIVE }, { 250, SMTP_CLASS_POSITIVE },
		{ 354, SMTP_CLASS_INTERMEDIATE }, { 334, SMTP_CLASS_INTERMEDIATE },
		{ 421, SMTP_CLASS_TRANSIENT }, { 452, SMTP_CLASS_TRANSIENT },
		{ 550, SMTP_CLASS_PERMANENT }, { 559, SMTP_CLASS_PERMANENT },
		{ 0, SMTP_CLASS_INVALID }, { -250, SMTP_CLASS_INVALID },
		{ 199, SMTP_CLASS_INVALID }, { 600, SMTP_CLASS_INVALID },
		{ 699, SMTP_CLASS_INVALID }, { 260, SMTP_CLASS_INVALID },
		{ 2500, SMTP_CLASS_INVALID },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum smtp_reply_class got = smtp_reply_class(cases[i].code);

		if (got != cases[i].want)
			fail_msg("code %d: want %s, got %s", cases[i].code,
				smtp_reply_class_name(cases[i].want), smtp_reply_class_name(got));
	}
}

/* Every class has its own name (STYLE.md: the name table misses none). */
static void test_class_names(void **state)
{
	(void)state;
	for (int a = 0; a < SMTP_CLASS_LAST; a++) {
		const char *na = smtp_reply_class_name((enum smtp_reply_class)a);

		assert_non_null(na);
		for (int b = 0; b < a; b++)
			if (strcmp(na, smtp_reply_class_name((enum smtp_reply_class)b)) == 0)
				fail_msg("classes %d and %d share the name %s", a, b, na);
	}
	assert_string_equal(smtp_reply_class_name(SMTP_CLASS_TRANSIENT), "transient");
	assert_string_equal(smtp_reply_class_name(SMTP_CLASS_LAST), "invalid");
}

/* DLV-15, DLV-16: "too many recipients" on RCPT, 552 included. */
static void test_too_many_rcpts(void **state)
{
	static const struct {
		const char *in;
		int too_many;
		enum smtp_reply_class rcpt_class;
	} cases[] = {
		{ "552 5.5.3 Too many recipients\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "552 Too many recipients\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "552-Sorry,\r\n552 TOO MANY RECIPIENTS in this message\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "552 5.5.3 Error\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "452 4.5.3 Error: too many recipients\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "452 Too many recipients received this hour\r\n", 1, SMTP_CLASS_TRANSIENT },
		{ "552 5.2.2 Mailbox full\r\n", 0, SMTP_CLASS_PERMANENT },
		{ "552 5.3.4 Message size exceeds fixed limit\r\n", 0, SMTP_CLASS_PERMANENT },
		{ "552\r\n", 0, SMTP_CLASS_PERMANENT },
		{ "550 5.5.3 Too many recipients\r\n", 0, SMTP_CLASS_PERMANENT },
		{ "452 4.3.1 Insufficient system storage\r\n", 0, SMTP_CLASS_TRANSIENT },
		{ "250 2.1.5 Ok\r\n", 0, SMTP_CLASS_POSITIVE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_reply r;
		size_t consumed;

		assert_int_equal(parse(cases[i].in, strlen(cases[i].in), &r, &consumed, NULL, 0),
			SMTP_REPLY_COMPLETE);
		if (smtp_reply_too_many_rcpts(&r) != cases[i].too_many ||
		    smtp_reply_rcpt_class(&r) != cases[i].rcpt_class)
			fail_msg("%s: want too_many %d class %s, got %d %s", cases[i].in,
				cases[i].too_many, smtp_reply_class_name(cases[i].rcpt_class),
				smtp_reply_too_many_rcpts(&r),
				smtp_reply_class_name(smtp_reply_rcpt_class(&r)));
	}
}

/* ---------------------------------------------------------------- EHLO */

struct caps_case {
	const char *name;
	const char *in;        /* the EHLO reply */
	int ret;               /* smtp_caps_parse's result */
	struct smtp_caps want; /* the flags, SIZE, AUTH and nlines compared */
	const char *greeting;  /* NULL: not checked */
};

static const struct caps_case caps_cases[] = {
	{ .name = "qq-like",
	  .in = "250-newxmesmtplogicsvrszc13-0.qq.com\r\n250-PIPELINING\r\n250-SIZE 73400320\r\n"
		"250-STARTTLS\r\n250-AUTH LOGIN PLAIN XOAUTH XOAUTH2\r\n250-AUTH=LOGIN\r\n"
		"250-MAILCOMPRESS\r\n250 8BITMIME\r\n",
	  .want = { .pipelining = 1, .size = 1, .size_max = 73400320, .starttls = 1,
		    .auth_kw = 1, .auth_obsolete = 1, .eightbitmime = 1, .nlines = 7,
		    .auth = SMTP_AUTH_LOGIN | SMTP_AUTH_PLAIN | SMTP_AUTH_XOAUTH2 | SMTP_AUTH_OTHER },
	  .greeting = "newxmesmtplogicsvrszc13-0.qq.com" },
	{ .name = "postfix-like",
	  .in = "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
		"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
		"250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
	  .want = { .pipelining = 1, .size = 1, .size_max = 10240000, .starttls = 1,
		    .enhancedstatuscodes = 1, .eightbitmime = 1, .dsn = 1, .smtputf8 = 1,
		    .chunking = 1, .nlines = 10 },
	  .greeting = "mail.example.org" },
	{ .name = "gmail-like",
	  .in = "250-mx.google.com at your service, [192.0.2.1]\r\n250-SIZE 157286400\r\n"
		"250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
		"250-CHUNKING\r\n250 SMTPUTF8\r\n",
	  .want = { .size = 1, .size_max = 157286400, .eightbitmime = 1, .starttls = 1,
		    .enhancedstatuscodes = 1, .pipelining = 1, .chunking = 1, .smtputf8 = 1,
		    .nlines = 7 },
	  .greeting = "mx.google.com at your service, [192.0.2.1]" },
	{ .name = "gmail submission after TLS",
	  .in = "250-smtp.gmail.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n"
		"250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
		"250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
	  .want = { .size = 1, .size_max = 35882577, .eightbitmime = 1, .auth_kw = 1,
		    .auth = SMTP_AUTH_LOGIN | SMTP_AUTH_PLAIN | SMTP_AUTH_XOAUTH2 |
			    SMTP_AUTH_OAUTHBEARER | SMTP_AUTH_OTHER,
		    .enhancedstatuscodes = 1, .pipelining = 1, .chunking = 1, .smtputf8 = 1,
		    .nlines = 7 } },
	/* DLV-12: keywords are case-insensitive. */
	{ .name = "lower case",
	  .in = "250-mx\r\n250-starttls\r\n250-pipelining\r\n250-auth plain login cram-md5\r\n"
		"250-Size 100\r\n250-8bitmime\r\n250-dsn\r\n250-RequireTLS\r\n250 binarymime\r\n",
	  .want = { .starttls = 1, .pipelining = 1, .auth_kw = 1,
		    .auth = SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_CRAM_MD5, .size = 1,
		    .size_max = 100, .eightbitmime = 1, .dsn = 1, .requiretls = 1, .binarymime = 1,
		    .nlines = 8 } },
	{ .name = "obsolete AUTH= only",
	  .in = "250-mx\r\n250-AUTH=LOGIN PLAIN\r\n250 HELP\r\n",
	  .want = { .auth_kw = 1, .auth_obsolete = 1, .auth = SMTP_AUTH_LOGIN | SMTP_AUTH_PLAIN,
		    .nlines = 2 } },
	{ .name = "AUTH= empty", .in = "250-mx\r\n250 AUTH=\r\n",
	  .want = { .auth_kw = 1, .auth_obsolete = 1, .nlines = 1 } },
	{ .name = "AUTH without mechanisms", .in = "250-mx\r\n250 AUTH\r\n",
	  .want = { .auth_kw = 1, .nlines = 1 } },
	{ .name = "more AUTH mechanisms",
	  .in = "250-mx\r\n250 AUTH DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 GSSAPI NTLM  plain\r\n",
	  .want = { .auth_kw = 1, .nlines = 1,
		    .auth = SMTP_AUTH_DIGEST_MD5 | SMTP_AUTH_SCRAM_SHA_1 | SMTP_AUTH_SCRAM_SHA_256 |
			    SMTP_AUTH_GSSAPI | SMTP_AUTH_NTLM | SMTP_AUTH_PLAIN } },
	/* EXT-05: SIZE variants. */
	{ .name = "SIZE without number", .in = "250-mx\r\n250 SIZE\r\n",
	  .want = { .size = 1, .size_no_number = 1, .nlines = 1 } },
	{ .name = "SIZE 0", .in = "250-mx\r\n250 SIZE 0\r\n", .want = { .size = 1, .nlines = 1 } },
	{ .name = "SIZE trailing space", .in = "250-mx\r\n250 SIZE 52428800 \r\n",
	  .want = { .size = 1, .size_max = 52428800, .nlines = 1 } },
	{ .name = "SIZE garbage", .in = "250-mx\r\n250 SIZE lots\r\n",
	  .want = { .size = 1, .size_bad = 1, .nlines = 1 } },
	{ .name = "SIZE negative", .in = "250-mx\r\n250 SIZE -1\r\n",
	  .want = { .size = 1, .size_bad = 1, .nlines = 1 } },
	{ .name = "SIZE number then junk", .in = "250-mx\r\n250 SIZE 100k\r\n",
	  .want = { .size = 1, .size_bad = 1, .nlines = 1 } },
	{ .name = "SIZE 2^64-1", .in = "250-mx\r\n250 SIZE 18446744073709551615\r\n",
	  .want = { .size = 1, .size_max = UINT64_MAX, .nlines = 1 } },
	{ .name = "SIZE 2^64", .in = "250-mx\r\n250 SIZE 18446744073709551616\r\n",
	  .want = { .size = 1, .size_bad = 1, .nlines = 1 } },
	{ .name = "SIZE huge", .in = "250-mx\r\n250 SIZE 99999999999999999999999999999\r\n",
	  .want = { .size = 1, .size_bad = 1, .nlines = 1 } },
	{ .name = "SIZE twice, first counts", .in = "250-mx\r\n250-SIZE 1000\r\n250 SIZE 5\r\n",
	  .want = { .size = 1, .size_max = 1000, .nlines = 2 } },
	/* The greeting line is not a capability; mangled keywords are none. */
	{ .name = "greeting only", .in = "250 mx.example.org\r\n", .want = { .nlines = 0 },
	  .greeting = "mx.example.org" },
	{ .name = "keyword in greeting", .in = "250-STARTTLS\r\n250 SIZE\r\n",
	  .want = { .size = 1, .size_no_number = 1, .nlines = 1 }, .greeting = "STARTTLS" },
	{ .name = "mangled STARTTLS (SEC-02)", .in = "250-mx\r\n250-XXXXXXXA\r\n250 STARTTLSX\r\n",
	  .want = { .nlines = 2 } },
	{ .name = "STARTTLS with junk param", .in = "250-mx\r\n250 STARTTLS now\r\n",
	  .want = { .starttls = 1, .nlines = 1 } },
	{ .name = "leading spaces, empty line", .in = "250-mx\r\n250-  PIPELINING\r\n250 \r\n",
	  .want = { .pipelining = 1, .nlines = 1 } },
	/* Not a 2yz: no extensions, as after HELO. */
	{ .name = "EHLO refused", .in = "502 5.5.1 Unrecognized command\r\n", .ret = -1,
	  .want = { .nlines = 0 }, .greeting = "" },
	{ .name = "EHLO refused multi", .in = "550-STARTTLS\r\n550 PIPELINING\r\n", .ret = -1,
	  .want = { .nlines = 0 }, .greeting = "" },
};

static void compare_caps(const char *name, const struct smtp_caps *w, const struct smtp_caps *g)
{
	const struct {
		const char *field; /* its name, for the message */
		int want, got;     /* its values */
	} flags[] = {
		{ "starttls", w->starttls, g->starttls },
		{ "pipelining", w->pipelining, g->pipelining },
		{ "size", w->size, g->size },
		{ "size_no_number", w->size_no_number, g->size_no_number },
		{ "size_bad", w->size_bad, g->size_bad },
		{ "eightbitmime", w->eightbitmime, g->eightbitmime },
		{ "binarymime", w->binarymime, g->binarymime },
		{ "smtputf8", w->smtputf8, g->smtputf8 },
		{ "enhancedstatuscodes", w->enhancedstatuscodes, g->enhancedstatuscodes },
		{ "chunking", w->chunking, g->chunking },
		{ "dsn", w->dsn, g->dsn },
		{ "requiretls", w->requiretls, g->requiretls },
		{ "auth_kw", w->auth_kw, g->auth_kw },
		{ "auth_obsolete", w->auth_obsolete, g->auth_obsolete },
		{ "truncated", w->truncated, g->truncated },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].want != flags[i].got)
			fail_msg("%s: want %s %d, got %d", name, flags[i].field, flags[i].want,
				flags[i].got);
	if (w->size_max != g->size_max)
		fail_msg("%s: want size_max %llu, got %llu", name,
			(unsigned long long)w->size_max, (unsigned long long)g->size_max);
	if (w->auth != g->auth)
		fail_msg("%s: want auth 0x%x, got 0x%x", name, w->auth, g->auth);
	if (w->nlines != g->nlines)
		fail_msg("%s: want %zu keyword lines, got %zu", name, w->nlines, g->nlines);
}

static void test_caps_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(caps_cases) / sizeof(caps_cases[0]); i++) {
		const struct caps_case *c = &caps_cases[i];
		struct smtp_reply r;
		struct smtp_caps caps;
		size_t consumed;
		char err[128];
		int ret;

		if (parse(c->in, strlen(c->in), &r, &consumed, err, sizeof(err)) != SMTP_REPLY_COMPLETE)
			fail_msg("%s: reply not parsed: %s", c->name, err);
		memset(&caps, 0x5a, sizeof(caps));
		ret = smtp_caps_parse(&r, &caps);
		if (ret != c->ret)
			fail_msg("%s: want return %d, got %d", c->name, c->ret, ret);
		compare_caps(c->name, &c->want, &caps);
		if (c->greeting != NULL && strcmp(caps.greeting, c->greeting) != 0)
			fail_msg("%s: want greeting \"%s\", got \"%s\"", c->name, c->greeting,
				caps.greeting);
	}
}

/* The raw keyword lines are kept for diagnostics (probe's "ehlo" list),
 * sanitised and bounded. */
static void test_caps_lines(void **state)
{
	const char *in = "250-mx\r\n250-PIPELINING\r\n250-X-EVIL \x1b[2J\r\n250 SIZE 10\r\n";
	char buf[16384], longkw[400];
	struct smtp_reply r;
	struct smtp_caps caps;
	size_t consumed, at = 0;

	(void)state;
	assert_int_equal(parse(in, strlen(in), &r, &consumed, NULL, 0), SMTP_REPLY_COMPLETE);
	assert_int_equal(smtp_caps_parse(&r, &caps), 0);
	assert_int_equal(caps.nlines, 3);
	assert_string_equal(caps.lines[0], "PIPELINING");
	assert_string_equal(caps.lines[1], "X-EVIL ?[2J");
	assert_string_equal(caps.lines[2], "SIZE 10");

	/* 99 keyword lines: 64 kept, 35 counted; one too long for a slot. */
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250-mx\r\n");
	memset(longkw, 'K', sizeof(longkw) - 1);
	longkw[sizeof(longkw) - 1] = '\0';
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250-%s\r\n", longkw);
	for (int i = 1; i < 98; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250-X-KW%d\r\n", i);
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250 STARTTLS\r\n");
	assert_int_equal(parse(buf, at, &r, &consumed, NULL, 0), SMTP_REPLY_COMPLETE);
	assert_int_equal(r.nlines, 100);
	assert_int_equal(smtp_caps_parse(&r, &caps), 0);
	assert_int_equal(caps.nlines, SMTP_CAPS_LINES_MAX);
	assert_int_equal(caps.lines_dropped, 99 - SMTP_CAPS_LINES_MAX);
	assert_int_equal(caps.lines_cut, 1);
	assert_int_equal(strlen(caps.lines[0]), SMTP_CAPS_LINE_MAX - 1);
	assert_string_equal(caps.lines[63], "X-KW63");
	/* Dropped from the list, but still understood. */
	assert_true(caps.starttls);
}

/* A reply truncated by TEXT_MAX says so in the capabilities too. */
static void test_caps_truncated(void **state)
{
	char buf[40000];
	struct smtp_reply r;
	struct smtp_caps caps;
	size_t consumed, at = 0;

	(void)state;
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250-mx\r\n");
	for (int i = 0; i < 100; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250-X-%0200d\r\n", i);
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "250 STARTTLS\r\n");
	assert_int_equal(parse(buf, at, &r, &consumed, NULL, 0), SMTP_REPLY_COMPLETE);
	assert_true(r.truncated);
	assert_int_equal(smtp_caps_parse(&r, &caps), 0);
	assert_true(caps.truncated);
	assert_false(caps.starttls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_drain_pipelined),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_too_many_lines),
		cmocka_unit_test(test_reply_bytes_and_text_limits),
		cmocka_unit_test(test_line_access),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_one_line_short_buffer),
		cmocka_unit_test(test_class),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_too_many_rcpts),
		cmocka_unit_test(test_caps_table),
		cmocka_unit_test(test_caps_lines),
		cmocka_unit_test(test_caps_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
