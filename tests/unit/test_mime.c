/*
 * Unit tests of the MIME encoders (mime.c): base64, quoted-printable,
 * RFC 2047 encoded-words and header folding, RFC 2231 parameters,
 * content types, text facts and CRLF normalisation.
 *
 * Covers DLV-23 (CRLF only), DLV-25 (line lengths), DLV-26 / EXT-03
 * (7-bit output), SEC-04 (bare CR refused), SEC-05 (CR/LF/NUL refused in
 * header text; non-ASCII as RFC 2047 words; long headers folded).
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

#include "buf.h"
#include "mime.h"

/* ------------------------------------------------------------ helpers */

static int b64_val(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(a, c) : NULL;

	return p != NULL ? (int)(p - a) : -1;
}

/* Decodes base64 (ignoring CRLF) into out; returns the length. */
static size_t b64_decode(const char *s, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);

		if (s[i] == '\r' || s[i] == '\n' || s[i] == '=')
			continue;
		assert_true(v >= 0);
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes quoted-printable into out; returns the length. Fails the test
 * on a malformed escape or a line over 76 characters. */
static size_t qp_decode(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0, col = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			assert_true(col <= MIME_QP_LINE);
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
			col = 0;
			continue;
		}
		col++;
		if (s[i] != '=') {
			out[o++] = (unsigned char)s[i];
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			assert_true(col <= MIME_QP_LINE);
			i += 2;
			col = 0;
			continue;
		}
		assert_true(i + 2 < n);
		assert_true(hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0);
		out[o++] = (unsigned char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
		i += 2;
		col += 2;
	}
	assert_true(col <= MIME_QP_LINE);
	return o;
}

/* Checks every line of s: CRLF only, at most max characters. */
static void assert_lines(const char *s, size_t n, size_t max)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			continue;
		}
		if (s[i] == '\n') {
			assert_true(i > 0 && s[i - 1] == '\r');
			col = 0;
			continue;
		}
		col++;
		if (col > max)
			fail_msg("line over %zu characters in:\n%s", max, s);
	}
}

/*
 * Decodes a folded header value made of encoded-words and plain words
 * into out (NUL-terminated), checking each word: at most 75 characters,
 * charset UTF-8, and whole UTF-8 characters inside (RFC 2047 5).
 * White space between two encoded-words is dropped (RFC 2047 6.2).
 */
static void decode_value(const char *v, char *out, size_t outlen)
{
	char *copy = strdup(v), *save = NULL;
	size_t o = 0;
	int prev_encoded = 0;

	assert_non_null(copy);
	out[0] = '\0';
	for (char *w = strtok_r(copy, " \t\r\n", &save); w != NULL; w = strtok_r(NULL, " \t\r\n", &save)) {
		size_t wl = strlen(w);

		if (wl > 10 && strncmp(w, "=?UTF-8?", 8) == 0 && w[9] == '?' &&
		    strcmp(w + wl - 2, "?=") == 0) {
			unsigned char buf[128];
			size_t n = 0;
			const char *text = w + 10;
			size_t tl = wl - 12;

			assert_true(wl <= MIME_WORD_MAX);
			if (w[8] == 'B') {
				n = b64_decode(text, tl, buf);
			} else {
				assert_int_equal(w[8], 'Q');
				for (size_t i = 0; i < tl; i++) {
					if (text[i] == '_') {
						buf[n++] = ' ';
					} else if (text[i] == '=') {
						buf[n++] = (unsigned char)(hexv(text[i + 1]) * 16 +
						                           hexv(text[i + 2]));
						i += 2;
					} else {
						buf[n++] = (unsigned char)text[i];
					}
				}
			}
			assert_int_equal(mime_utf8_check(buf, n, NULL), 0);
			if (o > 0 && !prev_encoded)
				out[o++] = ' ';
			assert_true(o + n < outlen);
			memcpy(out + o, buf, n);
			o += n;
			prev_encoded = 1;
		} else {
			if (o > 0)
				out[o++] = ' ';
			assert_true(o + wl < outlen);
			memcpy(out + o, w, wl);
			o += wl;
			prev_encoded = 0;
		}
		out[o] = '\0';
	}
	free(copy);
}

/* ------------------------------------------------------------- base64 */

/* RFC 4648 10 test vectors. */
static void test_base64_vectors(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
		{ "自动化成绩查询", "6Ieq5Yqo5YyW5oiQ57up5p+l6K+i" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b = BUF_INIT;

		assert_int_equal(mime_base64(&b, t[i].in, strlen(t[i].in), 0), 0);
		assert_string_equal(b.data != NULL ? b.data : "", t[i].want);
		buf_free(&b);
	}
}

/* RFC 2045 6.8: lines of 76 characters, CRLF after each, the last too. */
static void test_base64_lines(void **state)
{
	unsigned char data[300], back[300];
	struct buf b = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	/* 57 octets are exactly one 76-character line */
	assert_int_equal(mime_base64(&b, data, 57, MIME_B64_LINE), 0);
	assert_int_equal(b.len, 78);
	assert_memory_equal(b.data + 76, "\r\n", 2);
	b.len = 0;
	assert_int_equal(mime_base64(&b, data, 58, MIME_B64_LINE), 0);
	assert_int_equal(b.len, 78 + 4 + 2);
	b.len = 0;
	assert_int_equal(mime_base64(&b, data, sizeof(data), MIME_B64_LINE), 0);
	assert_lines(b.data, b.len, 76);
	assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
	assert_int_equal(b64_decode(b.data, b.len, back), sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	b.len = 0;
	assert_int_equal(mime_base64(&b, data, 0, MIME_B64_LINE), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* --------------------------------------------------- quoted-printable */

static void test_qp_vectors(void **state)
{
	char a76[77], a77[78], want77[90], eq[80], want_eq[90];
	const struct {
		const char *in, *want;
	} t[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a=b", "a=3Db" },                               /* rule 1: '=' escaped */
		{ "caf\xc3\xa9\r\n", "caf=C3=A9\r\n" },           /* 8-bit escaped, CRLF kept */
		{ "space \r\nx", "space=20\r\nx" },               /* rule 3: trailing space */
		{ "tab\t", "tab=09" },                            /* at the end of data too */
		{ "a b\tc", "a b\tc" },                           /* inner white space kept */
		{ "a\nb", "a=0Ab" },                              /* a bare LF is data */
		{ "a\rb", "a=0Db" },
		{ "\x01\x7f", "=01=7F" },
		{ a76, a76 },                                     /* 76 fit, no '=' needed */
		{ a77, want77 },                                  /* soft break at 75 + '=' */
		{ eq, want_eq },                                  /* never split an escape */
	};

	(void)state;
	memset(a76, 'a', 76);
	a76[76] = '\0';
	memset(a77, 'a', 77);
	a77[77] = '\0';
	snprintf(want77, sizeof(want77), "%.75s=\r\naa", a77);
	memset(eq, 'a', 74);
	snprintf(eq + 74, sizeof(eq) - 74, "=b");
	snprintf(want_eq, sizeof(want_eq), "%.74s=\r\n=3Db", eq);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b = BUF_INIT;

		assert_int_equal(mime_qp(&b, t[i].in, strlen(t[i].in)), 0);
		if (strcmp(b.data != NULL ? b.data : "", t[i].want) != 0)
			fail_msg("case %zu: want\n%s\ngot\n%s", i, t[i].want, b.data);
		buf_free(&b);
	}
}

/* Random texts survive a round trip; no line passes 76 (DLV-25). */
static void test_qp_roundtrip(void **state)
{
	static const char alphabet[] = "ab =\t\r\n\xe4\xbd\xa0.";
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 300; round++) {
		char in[400];
		unsigned char back[1600];
		size_t n = (size_t)(seed % 399), m;
		struct buf b = BUF_INIT;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 1103515245u + 12345u;
		assert_int_equal(mime_qp(&b, in, n), 0);
		m = qp_decode(b.data != NULL ? b.data : "", b.len, back);
		assert_int_equal(m, n);
		assert_memory_equal(back, in, n);
		for (size_t i = 0; i < b.len; i++)
			assert_true((unsigned char)b.data[i] < 0x80);
		buf_free(&b);
	}
}

/* A 2,000-character line goes out as lines of at most 76 and comes back
 * unchanged (DLV-25). */
static void test_qp_long_line(void **state)
{
	char in[2003];
	unsigned char back[2003];
	struct buf b = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < 2000; i++)
		in[i] = (char)('a' + i % 26);
	memcpy(in + 2000, "\r\n", 3);
	assert_int_equal(mime_qp(&b, in, 2002), 0);
	assert_lines(b.data, b.len, MIME_QP_LINE);
	assert_int_equal(qp_decode(b.data, b.len, back), 2002);
	assert_memory_equal(back, in, 2002);
	buf_free(&b);
}

/* -------------------------------------------------------------- facts */

static void test_cte_for_text(void **state)
{
	char l998[1001], l999[1002];
	const struct {
		const char *in;
		size_t len;
		enum mime_cte want;
	} t[] = {
		{ "hello\r\n", 7, MIME_CTE_7BIT },
		{ "", 0, MIME_CTE_7BIT },
		{ "caf\xc3\xa9\r\n", 7, MIME_CTE_QP },   /* 8-bit: no 8BITMIME needed (EXT-03) */
		{ "a\nb\r\n", 5, MIME_CTE_QP },          /* bare LF */
		{ "a\rb\r\n", 5, MIME_CTE_QP },          /* bare CR */
		{ "a\0b\r\n", 5, MIME_CTE_QP },          /* NUL */
		{ "a\x1b[0m\r\n", 7, MIME_CTE_QP },      /* ESC */
		{ l998, 1000, MIME_CTE_7BIT },           /* 998 + CRLF: fits */
		{ l999, 1001, MIME_CTE_QP },             /* 999: DLV-25 */
	};

	(void)state;
	memset(l998, 'x', 998);
	memcpy(l998 + 998, "\r\n", 3);
	memset(l999, 'x', 999);
	memcpy(l999 + 999, "\r\n", 3);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (mime_cte_for_text(t[i].in, t[i].len) != t[i].want)
			fail_msg("case %zu: want %s", i, mime_cte_name(t[i].want));
	assert_string_equal(mime_cte_name(MIME_CTE_7BIT), "7bit");
	assert_string_equal(mime_cte_name(MIME_CTE_QP), "quoted-printable");
	assert_string_equal(mime_cte_name(MIME_CTE_BASE64), "base64");
	assert_null(mime_cte_name(MIME_CTE_LAST));
}

static void test_scan(void **state)
{
	struct mime_scan s;
	const char *t = "ab\r\ncde\nf\rg\xff";

	(void)state;
	mime_scan(t, strlen(t), &s);
	assert_int_equal(s.lines, 3);
	assert_int_equal(s.bare_lf, 1);
	assert_int_equal(s.bare_cr, 1);
	assert_int_equal(s.max_line, 4);     /* "f\rg\xff" */
	assert_int_equal(s.max_line_no, 3);
	assert_true(s.has_8bit);
	assert_false(s.has_nul);
	mime_scan("", 0, &s);
	assert_int_equal(s.lines, 0);
	assert_int_equal(s.max_line_no, 0);
}

static void test_utf8_check(void **state)
{
	const struct {
		const char *in;
		int ok;
		size_t bad;
	} t[] = {
		{ "plain", 1, 0 },
		{ "\xe8\x87\xaa\xe5\x8a\xa8", 1, 0 },     /* 自动 */
		{ "\xf0\x9f\x93\xa7", 1, 0 },             /* U+1F4E7 */
		{ "a\xc0\xaf", 0, 1 },                    /* overlong '/' */
		{ "\xed\xa0\x80", 0, 0 },                 /* surrogate */
		{ "\xf4\x90\x80\x80", 0, 0 },             /* above U+10FFFF */
		{ "ab\xe4\xbd", 0, 2 },                   /* truncated */
		{ "\x80", 0, 0 },                         /* lone continuation */
		{ "\xff", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t bad = 99;
		int rc = mime_utf8_check(t[i].in, strlen(t[i].in), &bad);

		if ((rc == 0) != t[i].ok || (!t[i].ok && bad != t[i].bad))
			fail_msg("case %zu: rc %d bad %zu", i, rc, bad);
	}
}

/* Covers SEC-04: a bare CR is refused, never guessed into a line end. */
static void test_text_crlf(void **state)
{
	const struct {
		const char *in;
		size_t len;
		const char *want; /* NULL: error containing err */
		const char *err;
	} t[] = {
		{ "a\nb", 3, "a\r\nb\r\n", NULL },
		{ "a\r\nb\r\n", 6, "a\r\nb\r\n", NULL },
		{ "a\n\nb\n", 5, "a\r\n\r\nb\r\n", NULL },
		{ "", 0, "", NULL },
		{ "\n", 1, "\r\n", NULL },
		{ "a\rb", 3, NULL, "bare CR (a CR not followed by LF) on line 1" },
		{ "a\nb\r", 4, NULL, "bare CR (a CR not followed by LF) on line 2" },
		{ "a\n\0", 3, NULL, "NUL octet on line 2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b = BUF_INIT;
		char err[256] = "";
		int rc = mime_text_crlf(&b, t[i].in, t[i].len, err, sizeof(err));

		if (t[i].want != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(b.data != NULL ? b.data : "", t[i].want);
		} else {
			assert_int_equal(rc, -1);
			if (strstr(err, t[i].err) == NULL)
				fail_msg("case %zu: error '%s' lacks '%s'", i, err, t[i].err);
		}
		buf_free(&b);
	}
}

/* ------------------------------------------------------ content types */

static void test_type_from_name(void **state)
{
	const struct {
		const char *name, *want;
	} t[] = {
		{ "report.pdf", "application/pdf" },
		{ "REPORT.PDF", "application/pdf" },
		{ "photo.JPG", "image/jpeg" },
		{ "a.jpeg", "image/jpeg" },
		{ "a.png", "image/png" },
		{ "backup.tar.gz", "application/gzip" },
		{ "\xe6\x88\x90\xe7\xbb\xa9\xe5\x8d\x95.xlsx",
		  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
		{ "notes.txt", "text/plain" },
		{ "page.html", "text/html" },
		{ "data.csv", "text/csv" },
		{ "a.zip", "application/zip" },
		{ "dir.d/file", "application/octet-stream" },   /* the dot is in the directory */
		{ "dir/x.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
		{ "noext", "application/octet-stream" },
		{ ".bashrc", "application/octet-stream" },
		{ "name.", "application/octet-stream" },
		{ "mail.eml", "application/octet-stream" },      /* not message/rfc822: see mime.c */
		{ "x.unknownext", "application/octet-stream" },
		{ "", "application/octet-stream" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(mime_type_from_name(t[i].name), t[i].want) != 0)
			fail_msg("%s: want %s got %s", t[i].name, t[i].want,
			         mime_type_from_name(t[i].name));
}

static void test_check_type(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(mime_check_type("application/pdf", err, sizeof(err)), 0);
	assert_int_equal(mime_check_type("image/svg+xml", err, sizeof(err)), 0);
	assert_int_equal(mime_check_type("pdf", err, sizeof(err)), -1);
	assert_int_equal(mime_check_type("text/plain; charset=x", err, sizeof(err)), -1);
	assert_int_equal(mime_check_type("text/pl\r\nain", err, sizeof(err)), -1);
	assert_int_equal(mime_check_type("/plain", err, sizeof(err)), -1);
	assert_int_equal(mime_check_type("a/b/c", err, sizeof(err)), -1);
}

/* ------------------------------------------------------ header text */

enum kind { TEXT, TEXT_LITERAL, PHRASE };

struct fold_case {
	enum kind kind;
	const char *name;  /* the field name: the line starts with "name:" */
	const char *in;
	const char *want;  /* the value after the colon; NULL: error */
	const char *err;   /* substring of the error */
};

static void run_fold(const struct fold_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		struct mime_fold f;
		char err[256] = "";
		int rc;

		mime_fold_init(&f, &b, strlen(t[i].name) + 1);
		if (t[i].kind == PHRASE)
			rc = mime_fold_phrase(&f, t[i].in, strlen(t[i].in), err, sizeof(err));
		else
			rc = mime_fold_text(&f, t[i].in, strlen(t[i].in),
			                    t[i].kind == TEXT_LITERAL ? MIME_TEXT_LITERAL : 0, err,
			                    sizeof(err));
		if (t[i].want == NULL) {
			if (rc != -1 || strstr(err, t[i].err) == NULL)
				fail_msg("case %zu '%s': want error '%s', got rc %d '%s'", i, t[i].in,
				         t[i].err, rc, err);
		} else {
			if (rc != 0 || strcmp(b.data != NULL ? b.data : "", t[i].want) != 0)
				fail_msg("case %zu '%s': rc %d (%s)\nwant [%s]\ngot  [%s]", i, t[i].in, rc,
				         err, t[i].want, b.data);
		}
		buf_free(&b);
	}
}

/* The seed program's From display name and Subject, and the Q/B choice.
 * Covers SEC-05 (non-ASCII as RFC 2047 words). */
static void test_rfc2047_words(void **state)
{
	static const struct fold_case t[] = {
		/* B is shorter for CJK: 21 octets → 28 characters */
		{ PHRASE, "From", "自动化成绩查询", " =?UTF-8?B?6Ieq5Yqo5YyW5oiQ57up5p+l6K+i?=", NULL },
		{ TEXT_LITERAL, "Subject", "Hi 出成绩了", " Hi =?UTF-8?B?5Ye65oiQ57up5LqG?=", NULL },
		/* Q is shorter when most octets are ASCII */
		{ TEXT_LITERAL, "Subject", "na\xc3\xafve-approach",
		  " =?UTF-8?Q?na=C3=AFve-approach?=", NULL },
		{ PHRASE, "From", "Fran\xc3\xa7ois Dupont-Moretti",
		  " =?UTF-8?Q?Fran=C3=A7ois_Dupont-Moretti?=", NULL },
		/* adjacent words are one run: the space between them is kept */
		{ TEXT_LITERAL, "Subject", "你好 世界 ok", " =?UTF-8?B?5L2g5aW9IOS4lueVjA==?= ok", NULL },
		/* plain ASCII stays as is, white space too */
		{ TEXT_LITERAL, "Subject", "  Hello,   world  ", " Hello,   world", NULL },
		{ TEXT_LITERAL, "Subject", "", "", NULL },
		/* "=?" would be read as an encoded-word: literal text encodes it */
		{ TEXT_LITERAL, "Subject", "price =?x", " price =?UTF-8?B?PT94?=", NULL },
		{ TEXT, "X-Raw", "=?UTF-8?B?5L2g?= kept", " =?UTF-8?B?5L2g?= kept", NULL },
		/* phrases: atoms, quoted strings, encoded words */
		{ PHRASE, "From", "John Doe", " John Doe", NULL },
		{ PHRASE, "From", "Doe, John", " \"Doe, John\"", NULL },
		{ PHRASE, "From", "Say \"hi\" \\o/", " \"Say \\\"hi\\\" \\\\o/\"", NULL },
		{ PHRASE, "From", "a  b", " \"a  b\"", NULL },
		{ PHRASE, "From", "J. R. R.", " \"J. R. R.\"", NULL },
		{ PHRASE, "From", "=?x?=", " =?UTF-8?B?PT94Pz0=?=", NULL },
		/* SEC-05: header injection refused, not stripped */
		{ TEXT_LITERAL, "Subject", "hi\r\nBcc: victim@example.com", NULL, "0x0d" },
		{ TEXT_LITERAL, "Subject", "hi\nBcc: x", NULL, "0x0a" },
		{ PHRASE, "From", "Eve\r\nBcc: x", NULL, "CR, LF and NUL are refused" },
		{ TEXT, "X-A", "a\x01" "b", NULL, "0x01" },
		{ TEXT_LITERAL, "Subject", "bad \xff utf8", NULL, "malformed UTF-8 at offset 4" },
		{ PHRASE, "From", "\xe4\xbd", NULL, "malformed UTF-8" },
	};

	(void)state;
	run_fold(t, sizeof(t) / sizeof(t[0]));
}

/* Folding: lines within 78 characters, broken only at white space, the
 * first line counted from the field name. */
static void test_fold_ascii(void **state)
{
	static const struct fold_case t[] = {
		{ TEXT_LITERAL, "Subject",
		  "The quick brown fox jumps over the lazy dog and keeps running far away",
		  " The quick brown fox jumps over the lazy dog and keeps running far\r\n away",
		  NULL },
		/* exactly 78 on the first line: no fold */
		{ TEXT_LITERAL, "Subject",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		  " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL },
		/* one more: the second word moves, with its white space */
		{ TEXT_LITERAL, "Subject",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		  " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL },
		{ TEXT, "X-Tabs", "a\t\tb", " a\t\tb", NULL },
	};

	(void)state;
	run_fold(t, sizeof(t) / sizeof(t[0]));
}

/* Long subjects: every encoded-word at most 75 characters, every line at
 * most 78, no UTF-8 sequence split, and the text decodes back. */
static void test_long_subjects(void **state)
{
	static const char *const subjects[] = {
		"请查收您的新成绩请查收您的新成绩请查收您的新成绩请查收您的新成绩请查收您的新成绩"
		"请查收您的新成绩请查收您的新成绩",
		"Hi 出成绩了 and a much longer subject line that must fold somewhere "
		"请查收您的新成绩请查收您的新成绩 then more ASCII words at the end",
		"Emoji \xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7"
		"\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7"
		"\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7"
		"\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7\xf0\x9f\x93\xa7 mail",
		"Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, M\xc3\xbcnchen und D\xc3\xbcsseldorf: "
		"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc "
		"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc "
		"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc",
	};
	char longword[300];

	(void)state;
	memset(longword, 'x', 200);
	longword[200] = '\0';
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]) + 1; i++) {
		const char *s = i < sizeof(subjects) / sizeof(subjects[0]) ? subjects[i] : longword;
		struct buf b = BUF_INIT, line = BUF_INIT;
		struct mime_fold f;
		char err[256], back[2048];

		buf_puts(&line, "Subject:");
		mime_fold_init(&f, &b, 8);
		assert_int_equal(mime_fold_text(&f, s, strlen(s), MIME_TEXT_LITERAL, err,
		                                 sizeof(err)), 0);
		buf_append(&line, b.data, b.len);
		assert_lines(line.data, line.len, MIME_FOLD_WIDTH);
		for (size_t k = 0; k < b.len; k++)
			assert_true((unsigned char)b.data[k] < 0x80);
		decode_value(b.data, back, sizeof(back));
		if (strcmp(back, s) != 0)
			fail_msg("round trip:\n%s\n%s\n%s", s, b.data, back);
		buf_free(&b);
		buf_free(&line);
	}
}

/* A word too long to fold: kept when raw (up to 998), an error past it. */
static void test_fold_limits(void **state)
{
	char word[1200], err[256];
	struct buf b = BUF_INIT;
	struct mime_fold f;

	(void)state;
	memset(word, 'y', 990);
	word[990] = '\0';
	mime_fold_init(&f, &b, 6);
	assert_int_equal(mime_fold_text(&f, word, strlen(word), 0, err, sizeof(err)), 0);
	buf_free(&b);
	memset(word, 'y', 1100);
	word[1100] = '\0';
	mime_fold_init(&f, &b, 6);
	assert_int_equal(mime_fold_text(&f, word, strlen(word), 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "over the limit of 998"));
	buf_free(&b);
	/* literal text encodes it instead, in folded words */
	mime_fold_init(&f, &b, 8);
	assert_int_equal(mime_fold_text(&f, word, strlen(word), MIME_TEXT_LITERAL, err,
	                                 sizeof(err)), 0);
	assert_lines(b.data, b.len, MIME_FOLD_WIDTH);
	buf_free(&b);
}

/* ---------------------------------------------------------- parameters */

struct param_case {
	const char *attr, *value;
	enum mime_param_style style;
	const char *want; /* after "Content-X: type" */
};

static void test_params(void **state)
{
	static const struct param_case t[] = {
		{ "charset", "utf-8", MIME_PARAM_2231, "; charset=utf-8" },
		{ "filename", "report.pdf", MIME_PARAM_2231, "; filename=report.pdf" },
		{ "filename", "my report.pdf", MIME_PARAM_2231, "; filename=\"my report.pdf\"" },
		{ "filename", "a\"b\\c", MIME_PARAM_2231, "; filename=\"a\\\"b\\\\c\"" },
		{ "boundary", "=_abc", MIME_PARAM_2231, "; boundary=\"=_abc\"" },
		{ "filename", "", MIME_PARAM_2231, "; filename=\"\"" },
		/* RFC 2231 4: charset, empty language, percent-encoded UTF-8 */
		{ "filename", "成绩单.pdf", MIME_PARAM_2231,
		  "; filename*=UTF-8''%E6%88%90%E7%BB%A9%E5%8D%95.pdf" },
		{ "filename", "a b*c'd%e.txt\xc3\xa9", MIME_PARAM_2231,
		  "; filename*=UTF-8''a%20b%2Ac%27d%25e.txt%C3%A9" },
		/* RFC 2047 in a quoted string for name= */
		{ "name", "成绩单 2024.pdf", MIME_PARAM_2047,
		  "; name=\"=?UTF-8?B?5oiQ57up5Y2VIDIwMjQucGRm?=\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b = BUF_INIT;
		struct mime_fold f;
		char err[256];

		mime_fold_init(&f, &b, 20);
		assert_int_equal(mime_fold_param(&f, t[i].attr, t[i].value, strlen(t[i].value),
		                                 t[i].style, err, sizeof(err)), 0);
		if (strcmp(b.data, t[i].want) != 0)
			fail_msg("case %zu: want [%s] got [%s]", i, t[i].want, b.data);
		buf_free(&b);
	}
}

/* Percent-decodes RFC 2231 continuations "filename*0*=UTF-8''...;
 * filename*1*=..." back to the value. */
static void decode_2231(const char *v, const char *attr, char *out, size_t outlen)
{
	size_t o = 0, alen = strlen(attr);
	int seg = 0;

	for (const char *p = v; (p = strstr(p, attr)) != NULL;) {
		char tag[64];
		int n = snprintf(tag, sizeof(tag), "%s*%d*=", attr, seg);

		assert_int_equal(strncmp(p, tag, (size_t)n), 0);
		p += n;
		if (seg == 0) {
			assert_int_equal(strncmp(p, "UTF-8''", 7), 0);
			p += 7;
		}
		while (*p != '\0' && *p != ';' && *p != '\r') {
			if (*p == '%') {
				out[o++] = (char)(hexv(p[1]) * 16 + hexv(p[2]));
				p += 3;
			} else {
				out[o++] = *p++;
			}
			assert_true(o < outlen);
		}
		seg++;
		(void)alen;
	}
	out[o] = '\0';
}

/* Long names: RFC 2231 3 continuations, lines within 78, whole UTF-8
 * characters per segment. */
static void test_params_long(void **state)
{
	const char *name = "二〇二四年第一学期期末考试成绩单及各科目详细分数说明与教师评语汇总表.xlsx";
	char ascii[200], back[512], err[256];
	struct buf b = BUF_INIT, line = BUF_INIT;
	struct mime_fold f;

	(void)state;
	buf_puts(&line, "Content-Disposition: attachment");
	mime_fold_init(&f, &b, line.len);
	assert_int_equal(mime_fold_param(&f, "filename", name, strlen(name), MIME_PARAM_2231, err,
	                                 sizeof(err)), 0);
	buf_append(&line, b.data, b.len);
	assert_lines(line.data, line.len, MIME_FOLD_WIDTH);
	assert_non_null(strstr(b.data, "filename*0*=UTF-8''"));
	assert_non_null(strstr(b.data, ";\r\n filename*1*="));
	decode_2231(b.data, "filename", back, sizeof(back));
	assert_string_equal(back, name);
	buf_free(&b);
	buf_free(&line);

	/* the same name as RFC 2047 words inside name="..." */
	buf_puts(&line, "Content-Type: application/vnd.ms-excel");
	mime_fold_init(&f, &b, line.len);
	assert_int_equal(mime_fold_param(&f, "name", name, strlen(name), MIME_PARAM_2047, err,
	                                 sizeof(err)), 0);
	buf_append(&line, b.data, b.len);
	assert_lines(line.data, line.len, MIME_FOLD_WIDTH);
	assert_memory_equal(b.data + b.len - 3, "?=\"", 3);
	{
		const char *q = strstr(b.data, "name=\"=?UTF-8?B?");
		char inner[1024];

		assert_non_null(q);
		q += 6;
		snprintf(inner, sizeof(inner), "%.*s", (int)(b.data + b.len - 1 - q), q);
		decode_value(inner, back, sizeof(back));
		assert_string_equal(back, name);
	}
	buf_free(&b);
	buf_free(&line);

	/* long ASCII: quoted continuations */
	memset(ascii, 'n', 120);
	snprintf(ascii + 120, sizeof(ascii) - 120, " x.txt");
	mime_fold_init(&f, &b, 31);
	assert_int_equal(mime_fold_param(&f, "filename", ascii, strlen(ascii), MIME_PARAM_2231,
	                                 err, sizeof(err)), 0);
	assert_int_equal(strncmp(b.data, ";\r\n filename*0=\"nnn", 19), 0);
	assert_non_null(strstr(b.data, ";\r\n filename*1=\""));
	assert_non_null(strstr(b.data, " x.txt\""));
	assert_lines(b.data, b.len, MIME_FOLD_WIDTH);
	buf_free(&b);

	/* controls refused in parameters too */
	mime_fold_init(&f, &b, 31);
	assert_int_equal(mime_fold_param(&f, "filename", "a\r\nb", 4, MIME_PARAM_2231, err,
	                                 sizeof(err)), -1);
	assert_non_null(strstr(err, "0x0d"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_lines),
		cmocka_unit_test(test_qp_vectors),
		cmocka_unit_test(test_qp_roundtrip),
		cmocka_unit_test(test_qp_long_line),
		cmocka_unit_test(test_cte_for_text),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_utf8_check),
		cmocka_unit_test(test_text_crlf),
		cmocka_unit_test(test_type_from_name),
		cmocka_unit_test(test_check_type),
		cmocka_unit_test(test_rfc2047_words),
		cmocka_unit_test(test_fold_ascii),
		cmocka_unit_test(test_long_subjects),
		cmocka_unit_test(test_fold_limits),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_long),
	};

	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
