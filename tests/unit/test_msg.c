/*
 * Unit tests of the message layer (msg.c, msg_compose.c): composing from
 * parts with exact expected bytes, parsing with limits, submission
 * fix-ups (-t, Date, Message-ID, From, Bcc), rendering, 8-bit facts and
 * the 7-bit downgrade.
 *
 * Every rendered output goes through assert_wire_safe: CRLF only, no
 * line over 998, ending with CRLF.
 *
 * Covers DLV-23 (CRLF only), DLV-25 (998-octet lines: refused when
 * parsed, quoted-printable when composed), DLV-26 and EXT-03 (composed
 * messages are 7-bit; 8-bit facts for BODY=8BITMIME; downgrade), EXT-04
 * (8-bit headers flagged for SMTPUTF8), SEC-04 (SMTP smuggling vectors:
 * bare LF normalised, bare CR and NUL refused), SEC-05 (CR/LF refused in
 * every header value from options), SEC-10 (size, header count and
 * header section limits), RELAY-01 (Reply-To for the original author).
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
#include "msg.h"
#include "msg_compose.h"

/* ------------------------------------------------------------ helpers */

/* DLV-23 / SEC-04: no bare CR or LF; lines within 998; ends with CRLF. */
static void assert_wire_safe(const char *s, size_t n)
{
	size_t col = 0;

	assert_true(n >= 2);
	assert_memory_equal(s + n - 2, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 == n || s[i + 1] != '\n')
				fail_msg("bare CR at offset %zu", i);
			continue;
		}
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r')
				fail_msg("bare LF at offset %zu", i);
			col = 0;
			continue;
		}
		if (++col > 998)
			fail_msg("line over 998 octets at offset %zu", i);
	}
}

/* Renders m, checks it is wire-safe, returns it (the caller frees). */
static char *render(const struct msg *m, size_t *len)
{
	char err[512], *out = NULL;
	size_t n = 0;
	struct msg_info info;

	if (msg_render(m, &out, &n, err, sizeof(err)) != 0)
		fail_msg("render: %s", err);
	assert_wire_safe(out, n);
	assert_int_equal(strlen(out), n);
	msg_info(m, &info);
	assert_int_equal(info.size, n);
	if (len != NULL)
		*len = n;
	return out;
}

static struct msg_stamp stamp(void)
{
	struct msg_stamp st;

	memset(&st, 0, sizeof(st));
	st.time = 1700000000; /* 2023-11-14 22:13:20 UTC */
	st.tz_offset_min = 480;
	st.hostname = "mail.example.org";
	for (int i = 0; i < MSG_RANDOM_LEN; i++)
		st.random[i] = (uint8_t)i;
	return st;
}

/* Composes o, renders, compares with want; rcpts_want is the envelope
 * recipients joined by ' '. */
static void compose_expect(const struct msg_compose_opts *o, const char *want,
                           const char *rcpts_want)
{
	struct msg *m = NULL;
	struct addr_list r = { NULL, 0, 0 };
	char err[512], got[1024] = "";
	char *out;

	if (msg_compose(o, &m, &r, err, sizeof(err)) != 0)
		fail_msg("compose: %s", err);
	out = render(m, NULL);
	if (strcmp(out, want) != 0)
		fail_msg("want:\n%s\ngot:\n%s", want, out);
	for (size_t i = 0; i < r.n; i++) {
		strncat(got, i > 0 ? " " : "", sizeof(got) - strlen(got) - 1);
		strncat(got, r.v[i].addr, sizeof(got) - strlen(got) - 1);
	}
	assert_string_equal(got, rcpts_want);
	/* what was composed parses back and renders the same */
	{
		struct msg *back = NULL;
		char *again;

		if (msg_parse(out, strlen(out), NULL, &back, err, sizeof(err)) != 0)
			fail_msg("parse back: %s", err);
		again = render(back, NULL);
		assert_string_equal(again, out);
		free(again);
		msg_free(back);
	}
	free(out);
	msg_free(m);
	addr_list_free(&r);
}

static void compose_fail(const struct msg_compose_opts *o, const char *want_err)
{
	struct msg *m = (struct msg *)1;
	char err[512] = "";

	if (msg_compose(o, &m, NULL, err, sizeof(err)) != -1 || strstr(err, want_err) == NULL)
		fail_msg("want error '%s', got '%s'", want_err, err);
	assert_null(m);
}

#define HDR_TAIL "Message-ID: <000102030405060708090a0b0c0d0e0f@mail.example.org>\r\n" \
                 "MIME-Version: 1.0\r\n"
#define DATE "Date: Wed, 15 Nov 2023 06:13:20 +0800\r\n"
#define ALT "=_101112131415161718191a1b_alternative"
#define MIX "=_101112131415161718191a1b_mixed"

/* ----------------------------------------------------------- compose */

/* The seed program: From with a Chinese display name, two To, a
 * Chinese Subject, an HTML body. */
static void test_compose_seed(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "2693xxxx8@qq.com", "196xxxxx30@qq.com" };
	struct msg_compose_opts o = {
		.from = "6464xxxx8@qq.com", .from_name = "自动化成绩查询",
		.to = to, .nto = 2, .subject = "Hi 出成绩了",
		.html = "请查收您的新成绩", .html_len = strlen("请查收您的新成绩"),
		.stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: =?UTF-8?B?6Ieq5Yqo5YyW5oiQ57up5p+l6K+i?= <6464xxxx8@qq.com>\r\n"
		"To: 2693xxxx8@qq.com, 196xxxxx30@qq.com\r\n"
		"Subject: Hi =?UTF-8?B?5Ye65oiQ57up5LqG?=\r\n"
		HDR_TAIL
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=E8=AF=B7=E6=9F=A5=E6=94=B6=E6=82=A8=E7=9A=84=E6=96=B0=E6=88=90=E7=BB=A9\r\n",
		"2693xxxx8@qq.com 196xxxxx30@qq.com");
}

static void test_compose_text_only(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "B <b@example.com>" };
	struct msg_compose_opts o = {
		.from = "A <a@example.com>", .to = to, .nto = 1, .subject = "Hello",
		.text = "Hello.\nBye.\n", .text_len = 12, .stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: A <a@example.com>\r\n"
		"To: B <b@example.com>\r\n"
		"Subject: Hello\r\n"
		HDR_TAIL
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Hello.\r\n"
		"Bye.\r\n",
		"b@example.com");
}

/* Text and HTML: multipart/alternative, text first (RFC 2046 5.1.4). */
static void test_compose_both(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .subject = "Hello",
		.text = "Hello.\r\n", .text_len = 8,
		.html = "<p>Hello.</p>", .html_len = 13, .stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"To: b@example.com\r\n"
		"Subject: Hello\r\n"
		HDR_TAIL
		"Content-Type: multipart/alternative;\r\n"
		" boundary=\"" ALT "\"\r\n"
		"\r\n"
		"--" ALT "\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Hello.\r\n"
		"--" ALT "\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"<p>Hello.</p>\r\n"
		"--" ALT "--\r\n",
		"b@example.com");
}

/* Attachments: multipart/mixed, base64, type from the name, RFC 2047
 * name= and RFC 2231 filename*= for a non-ASCII name; Cc in the header,
 * Bcc only in the envelope; Reply-To (RELAY-01). */
static void test_compose_attachments(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	const char *cc[] = { "C <c@example.com>" };
	const char *bcc[] = { "secret@example.net" };
	const char *rt[] = { "Author <author@example.com>" };
	const struct msg_attachment at[] = {
		{ "成绩单.pdf", "%PDF-1.4\n", 9, NULL },
		{ "data.bin", "\x00\x01\x02\xff", 4, NULL },
		{ "empty.txt", "", 0, NULL },
		{ "x.dat", "hi", 2, "application/x-custom" },
	};
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .cc = cc, .ncc = 1, .bcc = bcc,
		.nbcc = 1, .reply_to = rt, .nreply_to = 1, .subject = "Files",
		.text = "See attached.", .text_len = 13, .attach = at, .nattach = 4,
		.stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"Reply-To: Author <author@example.com>\r\n"
		"To: b@example.com\r\n"
		"Cc: C <c@example.com>\r\n"
		"Subject: Files\r\n"
		HDR_TAIL
		"Content-Type: multipart/mixed; boundary=\"" MIX "\"\r\n"
		"\r\n"
		"--" MIX "\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"See attached.\r\n"
		"--" MIX "\r\n"
		"Content-Type: application/pdf; name=\"=?UTF-8?B?5oiQ57up5Y2VLnBkZg==?=\"\r\n"
		"Content-Disposition: attachment;\r\n"
		" filename*=UTF-8''%E6%88%90%E7%BB%A9%E5%8D%95.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"JVBERi0xLjQK\r\n"
		"--" MIX "\r\n"
		"Content-Type: application/octet-stream; name=data.bin\r\n"
		"Content-Disposition: attachment; filename=data.bin\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAEC/w==\r\n"
		"--" MIX "\r\n"
		"Content-Type: text/plain; name=empty.txt\r\n"
		"Content-Disposition: attachment; filename=empty.txt\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"\r\n"
		"--" MIX "\r\n"
		"Content-Type: application/x-custom; name=x.dat\r\n"
		"Content-Disposition: attachment; filename=x.dat\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"aGk=\r\n"
		"--" MIX "--\r\n",
		"b@example.com c@example.com secret@example.net");
}

/* Text, HTML and an attachment: alternative inside mixed. */
static void test_compose_nested(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	const struct msg_attachment at[] = { { "a.png", "\x89PNG", 4, NULL } };
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .text = "t", .text_len = 1,
		.html = "h", .html_len = 1, .attach = at, .nattach = 1, .stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"To: b@example.com\r\n"
		HDR_TAIL
		"Content-Type: multipart/mixed; boundary=\"" MIX "\"\r\n"
		"\r\n"
		"--" MIX "\r\n"
		"Content-Type: multipart/alternative;\r\n"
		" boundary=\"" ALT "\"\r\n"
		"\r\n"
		"--" ALT "\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"t\r\n"
		"--" ALT "\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"h\r\n"
		"--" ALT "--\r\n"
		"--" MIX "\r\n"
		"Content-Type: image/png; name=a.png\r\n"
		"Content-Disposition: attachment; filename=a.png\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"iVBORw==\r\n"
		"--" MIX "--\r\n",
		"b@example.com");
}

/* Only attachments, only Bcc, no body, no subject: undisclosed
 * recipients, the Bcc address nowhere in the bytes. */
static void test_compose_bcc_only(void **state)
{
	struct msg_stamp st = stamp();
	const char *bcc[] = { "hidden@example.net, other@example.net" };
	const struct msg_attachment at[] = { { "r.csv", "a,b\n", 4, NULL } };
	struct msg_compose_opts o = {
		.from = "a@example.com", .bcc = bcc, .nbcc = 1, .attach = at, .nattach = 1,
		.stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"To: undisclosed-recipients:;\r\n"
		HDR_TAIL
		"Content-Type: multipart/mixed; boundary=\"" MIX "\"\r\n"
		"\r\n"
		"--" MIX "\r\n"
		"Content-Type: text/csv; name=r.csv\r\n"
		"Content-Disposition: attachment; filename=r.csv\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"YSxiCg==\r\n"
		"--" MIX "--\r\n",
		"hidden@example.net other@example.net");
}

/* Nothing but a sender: an empty text part. Duplicate recipients are
 * listed once in the envelope. */
static void test_compose_empty(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com", "B again <b@example.com>" };
	struct msg_compose_opts o = { .from = "a@example.com", .to = to, .nto = 2, .subject = "",
	                              .stamp = &st };

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"To: b@example.com, B again <b@example.com>\r\n"
		"Subject:\r\n"
		HDR_TAIL
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n",
		"b@example.com");
}

/* 8-bit text and a 2,000-character line: quoted-printable, so the
 * message needs no 8BITMIME and has no long line (DLV-25, DLV-26). */
static void test_compose_qp_body(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	char text[2100];
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .text = text, .stamp = &st,
	};
	struct msg *m = NULL;
	struct msg_info info;
	char err[512], *out;

	(void)state;
	memset(text, 'x', 2000);
	memcpy(text + 2000, "\n\xe4\xbd\xa0\n", 6);
	o.text_len = 2005;
	assert_int_equal(msg_compose(&o, &m, NULL, err, sizeof(err)), 0);
	msg_info(m, &info);
	assert_false(info.body_8bit);
	assert_false(info.header_8bit);
	assert_true(info.max_line <= 76);
	out = render(m, NULL);
	assert_non_null(strstr(out, "Content-Transfer-Encoding: quoted-printable\r\n"));
	assert_non_null(strstr(out, "xxx=\r\nxxx"));
	assert_non_null(strstr(out, "\r\n=E4=BD=A0\r\n"));
	free(out);
	msg_free(m);
}

/* EXT-04: an IDN domain needs nothing (A-label); a non-ASCII local part
 * stays UTF-8 in the header, and msg_info says SMTPUTF8 is needed. An
 * empty from_name removes the name given with the address. */
static void test_compose_smtputf8(void **state)
{
	struct msg_stamp st = stamp();
	const char *idn[] = { "user@例子.测试" };
	const char *utf8[] = { "用户@例子.测试" };
	struct msg_compose_opts o = {
		.from = "Name <a@example.com>", .from_name = "", .to = idn, .nto = 1,
		.text = "x", .text_len = 1, .stamp = &st,
	};
	struct msg *m = NULL;
	struct msg_info info;
	char err[512], *out;

	(void)state;
	assert_int_equal(msg_compose(&o, &m, NULL, err, sizeof(err)), 0);
	msg_info(m, &info);
	assert_false(info.header_8bit);
	out = render(m, NULL);
	assert_non_null(strstr(out, "\r\nFrom: a@example.com\r\nTo: user@xn--fsqu00a.xn--0zwm56d\r\n"));
	free(out);
	msg_free(m);
	o.to = utf8;
	assert_int_equal(msg_compose(&o, &m, NULL, err, sizeof(err)), 0);
	msg_info(m, &info);
	assert_true(info.header_8bit);
	assert_false(info.body_8bit);
	out = render(m, NULL);
	assert_non_null(strstr(out, "\r\nTo: 用户@xn--fsqu00a.xn--0zwm56d\r\n"));
	free(out);
	msg_free(m);
}

/* SEC-05: CR, LF and NUL from options are refused, never stripped; so
 * are malformed or unsafe fields. */
static void test_compose_refusals(void **state)
{
	struct msg_stamp st = stamp();
	const char *to_ok[] = { "b@example.com" };
	static const struct {
		const char *from, *from_name, *to, *subject, *header, *err;
	} t[] = {
		{ "a@example.com", NULL, NULL, "hi\r\nBcc: victim@example.com", NULL,
		  "Subject: control character 0x0d" },
		{ "a@example.com", NULL, NULL, "hi\nX: y", NULL, "Subject: control character 0x0a" },
		{ "a@example.com", "Eve\r\nBcc: x@example.com", NULL, NULL, NULL,
		  "From: control character 0x0d" },
		{ "a@example.com\r\nBcc: x@example.com", NULL, NULL, NULL, NULL, "From: control" },
		{ "a@example.com", NULL, "b@example.com\r\nBcc: x@example.com", NULL, NULL,
		  "To 'b@example.com" },
		{ "a@example.com", NULL, "", NULL, NULL, "holds no address" },
		{ "a@example.com", NULL, "not an address", NULL, NULL, "To 'not an address'" },
		{ NULL, NULL, NULL, NULL, NULL, "no From address" },
		{ "a@example.com, b@example.com", NULL, NULL, NULL, NULL, "one address expected" },
		{ "a@example.com", NULL, NULL, NULL, "X-Test: a\r\nBcc: x@example.com",
		  "header X-Test: control character 0x0d" },
		{ "a@example.com", NULL, NULL, NULL, "X-Test: a\nb", "0x0a" },
		{ "a@example.com", NULL, NULL, NULL, "X Test: a", "a space" },
		{ "a@example.com", NULL, NULL, NULL, "X-Test a", "not of the form 'Name: value'" },
		{ "a@example.com", NULL, NULL, NULL, ": a", "empty header name" },
		{ "a@example.com", NULL, NULL, NULL, "X-T\xc3\xa9st: a", "the octet 0xc3" },
		{ "a@example.com", NULL, NULL, NULL, "Content-Type: text/html",
		  "the composer writes the MIME structure" },
		{ "a@example.com", NULL, NULL, NULL, "content-transfer-encoding: 8bit",
		  "the composer writes" },
		{ "a@example.com", NULL, NULL, NULL, "MIME-Version: 1.0", "the composer writes" },
		{ "a@example.com", NULL, NULL, NULL, "From: x@example.com", "own option (--from)" },
		{ "a@example.com", NULL, NULL, NULL, "subject: x", "own option (--subject)" },
		{ "a@example.com", NULL, NULL, NULL, "To: x@example.com", "own option (--to)" },
		{ "a@example.com", NULL, NULL, NULL, "Bcc: x@example.com",
		  "a Bcc header would show the blind copies" },
		{ "a@example.com", NULL, NULL, NULL, "Return-Path: <x@example.com>", "RFC 5321 4.4" },
		{ "a@example.com", NULL, NULL, NULL, "Message-ID: not-an-id",
		  "is not of the form <left@right>" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *to[] = { t[i].to };
		const char *hdr[] = { t[i].header };
		struct msg_compose_opts o = {
			.from = t[i].from, .from_name = t[i].from_name,
			.to = t[i].to != NULL ? to : to_ok, .nto = 1, .subject = t[i].subject,
			.headers = hdr, .nheaders = t[i].header != NULL ? 1 : 0, .stamp = &st,
		};

		compose_fail(&o, t[i].err);
	}
}

static void test_compose_refusals_more(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	const char *twice[] = { "Message-ID: <a@b>", "message-id: <c@d>" };
	const struct msg_attachment bad_name[] = { { "dir/a.pdf", "x", 1, NULL } };
	const struct msg_attachment no_name[] = { { "", "x", 1, NULL } };
	const struct msg_attachment crlf_name[] = { { "a\r\n.pdf", "x", 1, NULL } };
	const struct msg_attachment bad_type[] = { { "a.pdf", "x", 1, "text/plain\r\nX: y" } };
	struct msg_compose_opts o = { .from = "a@example.com", .to = to, .nto = 1, .stamp = &st };

	(void)state;
	o.headers = twice;
	o.nheaders = 2;
	compose_fail(&o, "header message-id given twice");
	o.nheaders = 0;
	o.attach = bad_name;
	o.nattach = 1;
	compose_fail(&o, "without its directory");
	o.attach = no_name;
	compose_fail(&o, "has no file name");
	o.attach = crlf_name;
	compose_fail(&o, "control character 0x0d");
	o.attach = bad_type;
	compose_fail(&o, "attachment 'a.pdf': content type");
	o.nattach = 0;
	/* text bodies: valid UTF-8 unless a charset is given; no bare CR */
	o.text = "caf\xe9\n";
	o.text_len = 5;
	compose_fail(&o, "the text body is not valid UTF-8 (octet 3, line 1)");
	o.text = "ok\r.\rMAIL FROM:<x@evil.example>\r\n";
	o.text_len = strlen(o.text);
	compose_fail(&o, "the text body: bare CR");
	o.text = "a\0b";
	o.text_len = 3;
	compose_fail(&o, "NUL octet on line 1");
	o.text = "x";
	o.text_len = 1;
	o.charset = "utf-8\r\n";
	compose_fail(&o, "is not a charset name");
	o.charset = NULL;
	st.tz_offset_min = 2000;
	compose_fail(&o, "time zone offset 2000");
	st = stamp();
	st.hostname = "bad host";
	compose_fail(&o, "cannot be the right side of a Message-ID");
	o.stamp = NULL;
	compose_fail(&o, "no stamp");
}

/* Extra headers: the accepted cases, exactly. */
static void test_compose_extra_headers(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	const char *hdr[] = {
		"Date: Mon, 1 Jan 2024 00:00:00 +0000",
		"Message-ID: <fixed@example.org>",
		"X-Tag: one",
		"X-Tag: two",
		"X-Note:   你好 world  ",
		"X-Pre: =?UTF-8?B?5L2g?= kept",
		"In-Reply-To: <p@example.org>",
		"X-Empty:",
	};
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .text = "x", .text_len = 1,
		.headers = hdr, .nheaders = 8, .stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		"From: a@example.com\r\n"
		"To: b@example.com\r\n"
		"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"Message-ID: <fixed@example.org>\r\n"
		"X-Tag: one\r\n"
		"X-Tag: two\r\n"
		"X-Note: =?UTF-8?B?5L2g5aW9?= world\r\n"
		"X-Pre: =?UTF-8?B?5L2g?= kept\r\n"
		"In-Reply-To: <p@example.org>\r\n"
		"X-Empty:\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"x\r\n",
		"b@example.com");
}

/* Another charset: the text is sent as given, declared as such. */
static void test_compose_charset(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .text = "\xc4\xe3\xba\xc3\n",
		.text_len = 5, .charset = "gb18030", .stamp = &st,
	};

	(void)state;
	compose_expect(&o,
		DATE
		"From: a@example.com\r\n"
		"To: b@example.com\r\n"
		HDR_TAIL
		"Content-Type: text/plain; charset=gb18030\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=C4=E3=BA=C3\r\n",
		"b@example.com");
}

/* RFC 2046 5.1.1: a text that holds the boundary gets another one. */
static void test_compose_boundary_collision(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "b@example.com" };
	const char *text = "a\n--" ALT "\nb\n";
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1, .text = text,
		.text_len = strlen(text), .html = "h", .html_len = 1, .stamp = &st,
	};
	struct msg *m = NULL;
	char err[512], *out;

	(void)state;
	assert_int_equal(msg_compose(&o, &m, NULL, err, sizeof(err)), 0);
	out = render(m, NULL);
	assert_non_null(strstr(out, " boundary=\"" ALT ".1\"\r\n"));
	assert_non_null(strstr(out, "\r\n--" ALT ".1--\r\n"));
	free(out);
	msg_free(m);
}

/* A long Subject and many recipients fold within 78 columns. */
static void test_compose_folding(void **state)
{
	struct msg_stamp st = stamp();
	const char *to[] = { "张三 <zhang@example.com>, 李四 <li@example.com>, 王五 "
	                     "<wang@example.com>, 赵六 <zhao@example.com>, plain@example.com" };
	struct msg_compose_opts o = {
		.from = "a@example.com", .to = to, .nto = 1,
		.subject = "关于二〇二四年第一学期期末考试成绩查询系统开放时间及注意事项的通知 "
		           "(please read before Friday)",
		.text = "x", .text_len = 1, .stamp = &st,
	};
	struct msg *m = NULL;
	char err[512], *out;
	size_t col = 0;

	(void)state;
	assert_int_equal(msg_compose(&o, &m, NULL, err, sizeof(err)), 0);
	out = render(m, NULL);
	for (const char *p = out; *p != '\0' && strncmp(p, "\r\n\r\n", 4) != 0; p++) {
		if (*p == '\r')
			continue;
		col = *p == '\n' ? 0 : col + 1;
		assert_true(col <= 78);
	}
	assert_non_null(strstr(out, "To: =?UTF-8?B?5byg5LiJ?= <zhang@example.com>,"));
	free(out);
	msg_free(m);
}

/* ------------------------------------------------------------- parse */

struct parse_ok {
	const char *in;
	size_t len;   /* 0: strlen */
	const char *want;
};

static void test_parse_normalises(void **state)
{
	static const struct parse_ok t[] = {
		/* LF-only input becomes CRLF (DLV-23) */
		{ "Subject: a\nFrom: x@example.com\n\nline 1\nline 2\n", 0,
		  "Subject: a\r\nFrom: x@example.com\r\n\r\nline 1\r\nline 2\r\n" },
		{ "Subject: a\r\n\r\nbody\r\n", 0, "Subject: a\r\n\r\nbody\r\n" },
		/* mixed, and a last line without a line end */
		{ "Subject: a\r\nX: b\n\r\none\ntwo", 0, "Subject: a\r\nX: b\r\n\r\none\r\ntwo\r\n" },
		/* folded headers are kept as written */
		{ "Subject: a\n  folded\n\tagain\n\n", 0, "Subject: a\r\n  folded\r\n\tagain\r\n\r\n" },
		/* no body */
		{ "Subject: a\n\n", 0, "Subject: a\r\n\r\n" },
		/* no headers: an empty header section */
		{ "\nbody only\n", 0, "\r\nbody only\r\n" },
		/* obsolete white space before the colon (RFC 5322 4.5) is
		 * accepted and not generated again */
		{ "Subject : a\n\nb\n", 0, "Subject: a\r\n\r\nb\r\n" },
		/* an mbox "From " line is dropped */
		{ "From someone@example.com Sat Jan  3 01:05:34 1996\nSubject: a\n\nb\n", 0,
		  "Subject: a\r\n\r\nb\r\n" },
		/* SEC-04 vectors: the lone "." lines become ordinary CRLF lines
		 * (the transport stuffs them) */
		{ "S: x\n\na\n.\nMAIL FROM:<x@evil.example>\n", 0,
		  "S: x\r\n\r\na\r\n.\r\nMAIL FROM:<x@evil.example>\r\n" },
		{ "S: x\n\na\r\n.\nb", 0, "S: x\r\n\r\na\r\n.\r\nb\r\n" },
		{ "S: x\n\na\n.\r\nb", 0, "S: x\r\n\r\na\r\n.\r\nb\r\n" },
		/* 8-bit content is kept (RFC 6532 headers, 8-bit body) */
		{ "Subject: 你好\n\n正文\n", 0, "Subject: 你好\r\n\r\n正文\r\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msg *m = NULL;
		char err[512], *out;

		if (msg_parse(t[i].in, t[i].len ? t[i].len : strlen(t[i].in), NULL, &m, err,
		              sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		out = render(m, NULL);
		if (strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: want\n%s\ngot\n%s", i, t[i].want, out);
		free(out);
		msg_free(m);
	}
}

struct parse_bad {
	const char *in;
	size_t len; /* 0: strlen */
	const char *err;
};

static void test_parse_refusals(void **state)
{
	char long_hdr[2100], long_body[1100], ok_body[1100], long_cont[1200];
	const struct parse_bad t[] = {
		{ "", 0, "the message is empty" },
		{ "Subject: no separator\nFrom: a@example.com\n", 0,
		  "no empty line between its headers and its body" },
		{ "Subject: x", 0, "no empty line between" },
		{ "Hello world, this is just text\n\nmore\n", 0, "line 1 is not a header (no ':')" },
		{ "Subject: a\nnot a header\n\n", 0, "line 2 is not a header" },
		{ " leading: space\n\n", 0, "line 1 starts with white space" },
		{ "Bad Name: x\n\n", 0, "line 1: header name 'Bad Name' holds a space" },
		{ "Subject: a\0b\n\n", 14, "line 1 (header Subject) holds a NUL octet" },
		{ "Subject: a\rBcc: x@evil.example\n\n", 0,
		  "line 1 (header Subject) holds a bare CR" },
		{ "Subject: a\n\nbody\0\n", 17, "line 3 (body line 1) holds a NUL octet" },
		/* SEC-04 vectors with a bare CR */
		{ "S: x\n\na\r.\rb\n", 0, "line 3 (body line 1) holds a bare CR" },
		{ "S: x\n\na\nb\r", 0, "line 4 (body line 2) holds a bare CR" },
		{ long_hdr, 0, "header Subject: line 2 is 2009 octets long, over the limit of 998" },
		{ long_cont, 0, "header X-Long: line 2 is 1101 octets long" },
		{ long_body, 0, "line 4 (body line 2) is 999 octets long" },
	};

	(void)state;
	snprintf(long_hdr, sizeof(long_hdr), "From: a@example.com\nSubject: ");
	memset(long_hdr + strlen(long_hdr), 'x', 2000);
	long_hdr[29 + 2000] = '\0';
	strcat(long_hdr, "\n\nbody\n");
	snprintf(long_cont, sizeof(long_cont), "X-Long: a\n ");
	memset(long_cont + 11, 'y', 1100);
	long_cont[1111] = '\0';
	strcat(long_cont, "\n\n");
	snprintf(long_body, sizeof(long_body), "S: x\n\nfirst\n");
	memset(long_body + 12, 'z', 999);
	long_body[12 + 999] = '\0';
	strcat(long_body, "\n");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msg *m = (struct msg *)1;
		char err[512] = "";
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);

		if (msg_parse(t[i].in, len, NULL, &m, err, sizeof(err)) != -1 ||
		    strstr(err, t[i].err) == NULL)
			fail_msg("case %zu: want '%s', got '%s'", i, t[i].err, err);
		assert_null(m);
	}
	/* 998 is fine */
	snprintf(ok_body, sizeof(ok_body), "S: x\n\n");
	memset(ok_body + 6, 'z', 998);
	ok_body[6 + 998] = '\0';
	{
		struct msg *m = NULL;
		char err[512], *out;

		assert_int_equal(msg_parse(ok_body, strlen(ok_body), NULL, &m, err, sizeof(err)), 0);
		out = render(m, NULL);
		free(out);
		msg_free(m);
	}
}

/* SEC-10: size, header count and header section limits. */
static void test_parse_limits(void **state)
{
	struct msg_limits lim = { 0, 0, 0, 0 };
	struct msg *m = NULL;
	char err[512];
	const char *three = "A: 1\nB: 2\nC: 3\n\nx\n";
	struct buf big = BUF_INIT;

	(void)state;
	lim.max_headers = 2;
	assert_int_equal(msg_parse(three, strlen(three), &lim, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 2 header fields (line 3)"));
	lim.max_headers = 3;
	assert_int_equal(msg_parse(three, strlen(three), &lim, &m, err, sizeof(err)), 0);
	msg_free(m);
	lim.max_size = 10;
	assert_int_equal(msg_parse(three, strlen(three), &lim, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the message is 18 octets, over the limit of 10"));
	lim.max_size = 0;
	lim.max_header_size = 12;
	assert_int_equal(msg_parse(three, strlen(three), &lim, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "header section passes 12 octets at line 3"));
	/* the default: 1000 fields */
	for (int i = 0; i < 1001; i++)
		buf_printf(&big, "X-%d: v\n", i);
	buf_puts(&big, "\nbody\n");
	assert_int_equal(msg_parse(big.data, big.len, NULL, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 1000 header fields (line 1001)"));
	buf_free(&big);
}

/* The opt-in for a bare CR in the body: it becomes CRLF. */
static void test_parse_bare_cr_option(void **state)
{
	struct msg_limits lim = { 0, 0, 0, 1 };
	struct msg *m = NULL;
	char err[512], *out;
	const char *in = "S: x\n\na\r.\rb\r\r\n";

	(void)state;
	assert_int_equal(msg_parse(in, strlen(in), &lim, &m, err, sizeof(err)), 0);
	out = render(m, NULL);
	assert_string_equal(out, "S: x\r\n\r\na\r\n.\r\nb\r\n\r\n");
	free(out);
	msg_free(m);
	/* never in the headers */
	in = "S: x\ry\n\nb\n";
	assert_int_equal(msg_parse(in, strlen(in), &lim, &m, err, sizeof(err)), -1);
}

/* ----------------------------------------------------------- prepare */

static char *parse_prepare(const char *in, const struct addr *sender, struct addr_list *rcpts,
                           int want_rc, char *err, size_t errlen)
{
	struct msg_stamp st = stamp();
	struct msg *m = NULL;
	char *out = NULL;

	if (msg_parse(in, strlen(in), NULL, &m, err, errlen) != 0)
		fail_msg("parse: %s", err);
	assert_int_equal(msg_prepare(m, &st, sender, rcpts, err, errlen), want_rc);
	if (want_rc == 0)
		out = render(m, NULL);
	msg_free(m);
	return out;
}

/* Missing Date, Message-ID and From are added; -t collects To, Cc and Bcc
 * (groups too, each address once); Bcc is removed. */
static void test_prepare(void **state)
{
	struct addr sender;
	struct addr_list r = { NULL, 0, 0 };
	char err[512], *out;

	(void)state;
	assert_int_equal(addr_parse_path("sender@example.org", 0, &sender, err, sizeof(err)), 0);
	out = parse_prepare("To: A <a@example.com>, b@example.com\n"
	                    "Cc: team: c@example.com, a@example.com;\n"
	                    "Bcc: hidden@example.net,\n"
	                    "  other@example.net\n"
	                    "Subject: hi\n"
	                    "\n"
	                    "body\n",
	                    &sender, &r, 0, err, sizeof(err));
	assert_string_equal(out,
		"To: A <a@example.com>, b@example.com\r\n"
		"Cc: team: c@example.com, a@example.com;\r\n"
		"Subject: hi\r\n"
		"Date: Wed, 15 Nov 2023 06:13:20 +0800\r\n"
		"Message-ID: <000102030405060708090a0b0c0d0e0f@mail.example.org>\r\n"
		"From: sender@example.org\r\n"
		"\r\n"
		"body\r\n");
	assert_int_equal(r.n, 5);
	assert_string_equal(r.v[0].addr, "a@example.com");
	assert_string_equal(r.v[1].addr, "b@example.com");
	assert_string_equal(r.v[2].addr, "c@example.com");
	assert_string_equal(r.v[3].addr, "hidden@example.net");
	assert_string_equal(r.v[4].addr, "other@example.net");
	assert_null(strstr(out, "hidden"));
	free(out);
	addr_list_free(&r);

	/* present fields are kept; lower-case names count; Bcc removed
	 * without -t too */
	out = parse_prepare("from: me@example.com\ndate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	                    "message-id: <x@y>\nBCC: z@example.com\n\nb\n",
	                    NULL, NULL, 0, err, sizeof(err));
	assert_string_equal(out, "from: me@example.com\r\ndate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	                         "message-id: <x@y>\r\n\r\nb\r\n");
	free(out);

	/* no From and no sender (or the null sender) */
	assert_null(parse_prepare("Subject: x\n\nb\n", NULL, NULL, -1, err, sizeof(err)));
	assert_non_null(strstr(err, "no From header and there is no envelope sender"));
	assert_int_equal(addr_parse_path("<>", 1, &sender, err, sizeof(err)), 0);
	assert_null(parse_prepare("Subject: x\n\nb\n", &sender, NULL, -1, err, sizeof(err)));

	/* a recipient field that does not parse names itself */
	assert_null(parse_prepare("To: a@example.com\nCc: broken@\n\nb\n", NULL, &r, -1, err,
	                          sizeof(err)));
	assert_non_null(strstr(err, "header Cc: no domain after 'broken@'"));
	addr_list_free(&r);
	assert_null(parse_prepare("To: a@example.com, b@ex\r\n\n\nb\n", NULL, &r, -1, err,
	                          sizeof(err)));
	addr_list_free(&r);
}

/* ------------------------------------------------------ facts, 7 bit */

static void test_info(void **state)
{
	static const struct {
		const char *in;
		int body_8bit, header_8bit;
		size_t max_line;
	} t[] = {
		{ "Subject: plain\n\nascii\n", 0, 0, 14 },
		{ "Subject: plain\n\n\xe4\xbd\xa0\xe5\xa5\xbd\n", 1, 0, 14 },
		{ "Subject: \xe4\xbd\xa0\n\nascii body that is longer\n", 0, 1, 25 },
		{ "To: a@example.com\n\n\xff\n", 1, 0, 17 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msg *m = NULL;
		struct msg_info info;
		char err[512], *out;

		assert_int_equal(msg_parse(t[i].in, strlen(t[i].in), NULL, &m, err, sizeof(err)), 0);
		msg_info(m, &info);
		if (info.body_8bit != t[i].body_8bit || info.header_8bit != t[i].header_8bit ||
		    info.max_line != t[i].max_line)
			fail_msg("case %zu: body %d header %d max %zu", i, info.body_8bit,
			         info.header_8bit, info.max_line);
		out = render(m, NULL); /* checks info.size */
		free(out);
		msg_free(m);
	}
}

/* EXT-03: a single-part 8-bit body becomes quoted-printable; multipart
 * and encoded bodies are refused; 7-bit bodies are left alone. */
static void test_encode_7bit(void **state)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: error with err */
		const char *err;
	} t[] = {
		{ "Subject: x\nContent-Type: text/plain; charset=utf-8\n"
		  "Content-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n",
		  "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
		  "Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n\r\n"
		  "caf=C3=A9\r\n", NULL },
		{ "MIME-Version: 1.0\n\n\xff\n",
		  "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=FF\r\n",
		  NULL },
		{ "Subject: ascii\n\nplain\n", "Subject: ascii\r\n\r\nplain\r\n", NULL },
		{ "Content-Type: Multipart/Mixed; boundary=x\n\n\xff\n", NULL,
		  "cannot convert a multipart/mixed message" },
		{ "Content-Type: message/rfc822\n\n\xff\n", NULL, "message/rfc822" },
		{ "Content-Transfer-Encoding: base64\n\n\xff\n", NULL,
		  "Content-Transfer-Encoding 'base64'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msg *m = NULL;
		char err[512] = "", *out;
		int rc;

		assert_int_equal(msg_parse(t[i].in, strlen(t[i].in), NULL, &m, err, sizeof(err)), 0);
		rc = msg_encode_7bit(m, err, sizeof(err));
		if (t[i].want != NULL) {
			struct msg_info info;

			assert_int_equal(rc, 0);
			out = render(m, NULL);
			if (strcmp(out, t[i].want) != 0)
				fail_msg("case %zu: want\n%s\ngot\n%s", i, t[i].want, out);
			msg_info(m, &info);
			assert_false(info.body_8bit);
			free(out);
		} else if (rc != -1 || strstr(err, t[i].err) == NULL) {
			fail_msg("case %zu: want '%s', got %d '%s'", i, t[i].err, rc, err);
		}
		msg_free(m);
	}
}

/* ------------------------------------------------------------ render */

/* SEC-05 at the last gate: a value whose line break is not a fold is
 * refused, whoever built it. */
static void test_render_guard(void **state)
{
	struct msg *m = msg_new();
	char err[512], *out = (char *)1;
	size_t n = 1;

	(void)state;
	assert_non_null(m);
	assert_int_equal(hdr_list_add(&m->hdrs, "Subject", 7, " a\r\nBcc: x", 10), 0);
	assert_int_equal(msg_render(m, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "header Subject has a line break that is not a fold"));
	assert_null(out);
	hdr_list_free(&m->hdrs);
	assert_int_equal(hdr_list_add(&m->hdrs, "Subject", 7, " a\rb", 4), 0);
	assert_int_equal(msg_render(m, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bare CR"));
	hdr_list_free(&m->hdrs);
	m->body = strdup("a\nb\r\n");
	m->body_len = 5;
	assert_int_equal(msg_render(m, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2 of the message holds a bare LF"));
	free(m->body);
	/* a body without its final CRLF gets one */
	m->body = strdup("x");
	m->body_len = 1;
	out = render(m, &n);
	assert_string_equal(out, "\r\nx\r\n");
	free(out);
	msg_free(m);
}

static void test_hdr_list(void **state)
{
	struct hdr_list l = { NULL, 0, 0 };
	char err[256], *v;

	(void)state;
	assert_int_equal(hdr_list_add(&l, "To", 2, " a", 2), 0);
	assert_int_equal(hdr_list_add(&l, "X", 1, " 1", 2), 0);
	assert_int_equal(hdr_list_add(&l, "to", 2, " b", 2), 0);
	assert_int_equal(hdr_list_count(&l, "TO"), 2);
	assert_int_equal(hdr_list_find(&l, "To", 1), 2);
	assert_int_equal(hdr_list_find(&l, "Cc", 0), -1);
	assert_int_equal(hdr_list_remove(&l, "to"), 2);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "X");
	hdr_list_free(&l);
	v = hdr_unfold(" a\r\n b\r\n\tc  ", 12);
	assert_string_equal(v, "a b\tc");
	free(v);
	assert_int_equal(hdr_check_name("X-Ok_1", 6, err, sizeof(err)), 0);
	assert_int_equal(hdr_check_name("X:a", 3, err, sizeof(err)), -1);
	assert_int_equal(hdr_check_name("", 0, err, sizeof(err)), -1);
}

/* ------------------------------------------------------------ stamps */

static void test_format_date(void **state)
{
	static const struct {
		int64_t t;
		int tz;
		const char *want; /* NULL: error */
	} c[] = {
		{ 0, 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 1700000000, 480, "Wed, 15 Nov 2023 06:13:20 +0800" },
		{ 1700000000, -210, "Tue, 14 Nov 2023 18:43:20 -0330" },
		{ 951782400, 0, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ -1, 0, "Wed, 31 Dec 1969 23:59:59 +0000" },
		{ 253402300799, 0, "Fri, 31 Dec 9999 23:59:59 +0000" },
		{ 1700000000, 1440, NULL },
		{ 1700000000, -1440, NULL },
		{ 253402300800, 0, NULL },
		{ INT64_MAX, 0, NULL },
		{ INT64_MIN, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char out[MSG_DATE_MAX], err[256];
		int rc = msg_format_date(c[i].t, c[i].tz, out, err, sizeof(err));

		if (c[i].want == NULL) {
			if (rc != -1)
				fail_msg("case %zu: want an error, got %s", i, out);
		} else if (rc != 0 || strcmp(out, c[i].want) != 0) {
			fail_msg("case %zu: want %s, got %d %s", i, c[i].want, rc, rc == 0 ? out : err);
		}
	}
}

static void test_format_msgid(void **state)
{
	const uint8_t r[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255 };
	char out[MSG_MSGID_MAX], err[256];

	(void)state;
	assert_int_equal(msg_format_msgid(r, 16, "mail.example.org", out, err, sizeof(err)), 0);
	assert_string_equal(out, "<deadbeef000102030405060708090aff@mail.example.org>");
	assert_int_equal(msg_format_msgid(r, 2, "h", out, err, sizeof(err)), 0);
	assert_string_equal(out, "<dead@h>");
	assert_int_equal(msg_format_msgid(r, 16, "", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 16, "a..b", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 16, "a.", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 16, "a>b", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 16, "a\r\nb", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 0, "h", out, err, sizeof(err)), -1);
	assert_int_equal(msg_format_msgid(r, 17, "h", out, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_seed),
		cmocka_unit_test(test_compose_text_only),
		cmocka_unit_test(test_compose_both),
		cmocka_unit_test(test_compose_attachments),
		cmocka_unit_test(test_compose_nested),
		cmocka_unit_test(test_compose_bcc_only),
		cmocka_unit_test(test_compose_empty),
		cmocka_unit_test(test_compose_qp_body),
		cmocka_unit_test(test_compose_smtputf8),
		cmocka_unit_test(test_compose_refusals),
		cmocka_unit_test(test_compose_refusals_more),
		cmocka_unit_test(test_compose_extra_headers),
		cmocka_unit_test(test_compose_charset),
		cmocka_unit_test(test_compose_boundary_collision),
		cmocka_unit_test(test_compose_folding),
		cmocka_unit_test(test_parse_normalises),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_bare_cr_option),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_encode_7bit),
		cmocka_unit_test(test_render_guard),
		cmocka_unit_test(test_hdr_list),
		cmocka_unit_test(test_format_date),
		cmocka_unit_test(test_format_msgid),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
