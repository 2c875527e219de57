/*
 * Fuzz target for smtp_reply.c (SEC-07): the input is what a hostile SMTP
 * server sends. Parses it as a receive buffer would be parsed (reply by
 * reply, as a pipelining session drains it), and on each complete reply
 * also runs the EHLO capability parser and the one-line form. Every
 * invariant the header promises is checked, and a violation calls abort()
 * so that libFuzzer (or the corpus replay in make check) reports it:
 *   - consumed <= size; INCOMPLETE only below SMTP_REPLY_BYTES_MAX;
 *   - a complete reply ends in LF, its text is NUL-terminated at textlen
 *     and holds no control octet but the '\n' between lines;
 *   - what a prefix of the input gives, the whole input agrees with
 *     (ERROR stays ERROR, COMPLETE stays the same reply).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
	if (!ok)
		abort();
}

/* No control octet (nor UTF-8 C1 control) in s[0..n); '\n' only when
 * newline_ok. Returns how many '\n' there were. */
static size_t check_clean(const char *s, size_t n, int newline_ok)
{
	size_t newlines = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' && newline_ok) {
			newlines++;
			continue;
		}
		require(c >= 0x20 && c != 0x7f);
		require(!(c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			  (unsigned char)s[i + 1] <= 0x9f));
	}
	return newlines;
}

/* A NUL-terminated string within size octets, clean. */
static void check_string(const char *s, size_t size, int newline_ok)
{
	const char *nul = memchr(s, '\0', size);

	require(nul != NULL);
	check_clean(s, (size_t)(nul - s), newline_ok);
}

/* "" or "c.s.d" in normal form with c the class of code. */
static void check_enhanced(const char *e, int code)
{
	size_t i = 0;

	check_string(e, SMTP_REPLY_ENH_MAX, 0);
	if (e[0] == '\0')
		return;
	require(e[0] == '0' + code / 100);
	i = 1;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		require(e[i] == '.');
		i++;
		require(!(e[i] == '0' && e[i + 1] >= '0' && e[i + 1] <= '9'));
		while (e[i] >= '0' && e[i] <= '9') {
			i++;
			digits++;
		}
		require(digits >= 1 && digits <= 3);
	}
	require(e[i] == '\0');
}

static void check_reply(const uint8_t *data, size_t consumed, const struct smtp_reply *r)
{
	size_t sum = 0, n;
	char one[SMTP_REPLY_ONE_LINE_MAX], small[7];
	size_t len;

	require(consumed > 0 && consumed <= SMTP_REPLY_BYTES_MAX);
	require(data[consumed - 1] == '\n');
	require(r->code >= 200 && r->code <= 599);
	require(smtp_reply_class(r->code) != SMTP_CLASS_INVALID);
	require(r->nlines >= 1 && r->nlines <= SMTP_REPLY_LINES_MAX);
	require(r->nkept >= 1 && r->nkept <= r->nlines);
	require((r->nkept < r->nlines) == (r->truncated != 0));
	require(r->textlen < SMTP_REPLY_TEXT_MAX);
	require(r->text[r->textlen] == '\0' && strlen(r->text) == r->textlen);
	require(check_clean(r->text, r->textlen, 1) == r->nkept - 1);
	check_enhanced(r->enhanced, r->code);
	for (size_t i = 0; i < r->nkept; i++) {
		const char *s = smtp_reply_line(r, i, &n);

		require(s != NULL && s >= r->text && s + n <= r->text + r->textlen);
		require(memchr(s, '\n', n) == NULL);
		sum += n;
	}
	require(sum + r->nkept - 1 == r->textlen);
	require(smtp_reply_line(r, r->nkept, &n) == NULL && n == 0);

	len = smtp_reply_one_line(r, one, sizeof(one));
	require(len < sizeof(one) && strlen(one) == len && len >= 3);
	check_clean(one, len, 0);
	len = smtp_reply_one_line(r, small, sizeof(small));
	require(len < sizeof(small) && strlen(small) == len);
	(void)smtp_reply_rcpt_class(r);
	(void)smtp_reply_too_many_rcpts(r);
}

static void check_caps(const struct smtp_reply *r)
{
	static struct smtp_caps caps;
	const unsigned known = 0x3ff | SMTP_AUTH_OTHER;
	int ret = smtp_caps_parse(r, &caps);

	require(ret == (r->code / 100 == 2 ? 0 : -1));
	check_string(caps.greeting, sizeof(caps.greeting), 0);
	require(caps.nlines <= SMTP_CAPS_LINES_MAX);
	require(caps.nlines + caps.lines_dropped <= r->nkept);
	for (size_t i = 0; i < caps.nlines; i++)
		check_string(caps.lines[i], sizeof(caps.lines[i]), 0);
	require((caps.auth & ~known) == 0);
	require(caps.size || (caps.size_max == 0 && !caps.size_no_number && !caps.size_bad));
	require(!caps.size_bad || caps.size_max == 0);
	require(!caps.auth_obsolete || caps.auth_kw);
	require(caps.auth == 0 || caps.auth_kw);
	if (ret < 0)
		require(caps.nlines == 0 && caps.greeting[0] == '\0' && !caps.starttls);
}

/* Parses exactly data[0..k) from a copy of that size, so that a read past
 * its end is an ASan report. */
static enum smtp_reply_status parse_prefix(const uint8_t *data, size_t k, struct smtp_reply *r,
	size_t *consumed)
{
	char *copy = malloc(k > 0 ? k : 1);
	enum smtp_reply_status st;

	require(copy != NULL);
	if (k > 0)
		memcpy(copy, data, k);
	st = smtp_reply_parse(copy, k, r, consumed, NULL, 0);
	free(copy);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply r, p;
	char err[128];
	size_t at = 0, consumed, pc;
	enum smtp_reply_status st, ps;

	/* The first reply, and what prefixes of the input say about it. */
	memset(err, 'E', sizeof(err));
	st = smtp_reply_parse((const char *)data, size, &r, &consumed, err, sizeof(err));
	require(consumed <= size);
	check_string(err, sizeof(err), 0);
	switch (st) {
	case SMTP_REPLY_INCOMPLETE:
		require(consumed == 0 && size < SMTP_REPLY_BYTES_MAX);
		break;
	case SMTP_REPLY_ERROR:
		require(consumed == 0 && err[0] != '\0');
		break;
	case SMTP_REPLY_COMPLETE:
		check_reply(data, consumed, &r);
		check_caps(&r);
		/* Exactly the reply: the same; one octet less: not there yet. */
		require(parse_prefix(data, consumed, &p, &pc) == SMTP_REPLY_COMPLETE);
		require(pc == consumed && p.code == r.code && p.textlen == r.textlen &&
			memcmp(p.text, r.text, r.textlen + 1) == 0 &&
			strcmp(p.enhanced, r.enhanced) == 0);
		require(parse_prefix(data, consumed - 1, &p, &pc) == SMTP_REPLY_INCOMPLETE);
		break;
	default:
		abort();
	}
	ps = parse_prefix(data, size / 2, &p, &pc);
	if (ps == SMTP_REPLY_ERROR)
		require(st == SMTP_REPLY_ERROR);
	if (ps == SMTP_REPLY_COMPLETE)
		require(st == SMTP_REPLY_COMPLETE && pc == consumed);
	if (st == SMTP_REPLY_INCOMPLETE)
		require(ps == SMTP_REPLY_INCOMPLETE);

	/* Drain the rest reply by reply, as a pipelining session does. */
	while (st == SMTP_REPLY_COMPLETE) {
		at += consumed;
		require(at <= size);
		st = smtp_reply_parse((const char *)data + at, size - at, &r, &consumed, err,
			sizeof(err));
		require(consumed <= size - at);
		if (st == SMTP_REPLY_COMPLETE) {
			check_reply(data + at, consumed, &r);
			check_caps(&r);
		}
	}
	return 0;
}
