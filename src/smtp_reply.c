/*
 * smtp_reply: SMTP reply and EHLO capability parsing. See smtp_reply.h.
 *
 * Owns nothing: every result goes into a caller's struct. Must not touch
 * sockets, clocks or globals, must not allocate, and must not trust a
 * single octet of its input: this is what the fuzz target drives.
 *
 * A reply is parsed in two passes over the front of the buffer. scan()
 * checks the syntax and the limits line by line and finds where the reply
 * ends, without copying; it alone decides INCOMPLETE / COMPLETE / ERROR,
 * and looks only at octets up to the limits, so what it says about a
 * prefix of the input holds for every longer input. decode() then runs
 * only on a complete reply and cannot fail: it copies the sanitised text
 * and reads the enhanced status code.
 */
#include "config.h"

#include "smtp_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The first line is always kept whole (see SMTP_REPLY_TEXT_MAX), and
 * line_off[] entries must fit their type. */
_Static_assert(SMTP_REPLY_TEXT_MAX >= SMTP_REPLY_LINE_MAX, "text must hold a full line");
_Static_assert(SMTP_REPLY_TEXT_MAX <= 65535, "line_off is uint16_t");
_Static_assert(SMTP_REPLY_LINE_MAX >= 8, "a line must hold a code");

/* What scan() learned about a complete reply. */
struct scan_result {
	size_t end;    /* octets of the reply, its last line end included */
	size_t nlines; /* its lines */
	int code;      /* its code */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copies at most 8 octets of p into out (size >= 9), printable ASCII
 * kept, everything else as '?', for quoting server octets in a reason. */
static void quote(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[i] = '\0';
}

/* Checks the head of a line: the three digits (RFC 5321 4.2: first 2-5,
 * second 0-5, third 0-9) and the octet after them (SP, '-' or the line
 * end). p[0..n) is what is there of the line, without its line end;
 * complete says whether the line end has been seen. A partial line fails
 * only on what no later octet can fix. want is the code of the reply's
 * first line, or 0 for the first line. Returns 0 when fine so far (and,
 * for a complete line, *more = 1 for a "ddd-" continuation line), -1 on
 * error with a reason in err. */
static int check_head(const unsigned char *p, size_t n, int complete, int want, size_t lineno,
	int *code, int *more, char *err, size_t errlen)
{
	static const char lo[3] = { '2', '0', '0' }, hi[3] = { '5', '5', '9' };
	char q[9];

	for (size_t i = 0; i < 3 && i < n; i++) {
		if (p[i] < lo[i] || p[i] > hi[i]) {
			quote(p, n < 3 ? n : 3, q);
			set_err(err, errlen, "reply line %zu: invalid reply code \"%s\"", lineno, q);
			return -1;
		}
	}
	if (n < 3) {
		if (!complete)
			return 0;
		quote(p, n, q);
		set_err(err, errlen, "reply line %zu: too short for a reply code: \"%s\"", lineno, q);
		return -1;
	}
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (want != 0 && *code != want) {
		set_err(err, errlen, "reply line %zu: code %d differs from the first line's %d",
			lineno, *code, want);
		return -1;
	}
	/* A CR just after the code is fine only as the first half of CRLF;
	 * on a partial line the next octet is not known yet. */
	if (n > 3 && p[3] != ' ' && p[3] != '-' && !(p[3] == '\r' && n == 4 && !complete)) {
		quote(p + 3, 1, q);
		set_err(err, errlen, "reply line %zu: \"%s\" after the code, not SP or '-'",
			lineno, q);
		return -1;
	}
	*more = n > 3 && p[3] == '-';
	return 0;
}

/* Finds the end of the reply at the front of p[0..len). See the top of
 * the file: never looks past the limits, so the verdict on a prefix holds
 * for any longer input. */
static enum smtp_reply_status scan(const unsigned char *p, size_t len, struct scan_result *res,
	char *err, size_t errlen)
{
	size_t pos = 0, lineno = 0;
	int first = 0;

	for (;;) {
		size_t lim, avail, n;
		const unsigned char *lf;
		int code = 0, more = 0;

		lineno++;
		/* This line may end no later than LINE_MAX octets from its start
		 * nor past the reply's BYTES_MAX. */
		lim = pos + SMTP_REPLY_LINE_MAX;
		if (lim > SMTP_REPLY_BYTES_MAX)
			lim = SMTP_REPLY_BYTES_MAX;
		avail = (len < lim ? len : lim) - pos;
		lf = memchr(p + pos, '\n', avail);
		if (lf == NULL) {
			/* Reject a bad head now rather than wait for its end. */
			if (check_head(p + pos, avail, 0, first, lineno, &code, &more, err, errlen) < 0)
				return SMTP_REPLY_ERROR;
			if (len < lim)
				return SMTP_REPLY_INCOMPLETE;
			if (lim == pos + SMTP_REPLY_LINE_MAX)
				set_err(err, errlen, "reply line %zu: longer than %d octets",
					lineno, SMTP_REPLY_LINE_MAX);
			else
				set_err(err, errlen, "reply longer than %d octets", SMTP_REPLY_BYTES_MAX);
			return SMTP_REPLY_ERROR;
		}
		n = (size_t)(lf - (p + pos));
		if (n > 0 && p[pos + n - 1] == '\r')
			n--;
		if (check_head(p + pos, n, 1, first, lineno, &code, &more, err, errlen) < 0)
			return SMTP_REPLY_ERROR;
		first = code;
		pos = (size_t)(lf - p) + 1;
		if (!more) {
			res->end = pos;
			res->nlines = lineno;
			res->code = code;
			return SMTP_REPLY_COMPLETE;
		}
		if (lineno >= SMTP_REPLY_LINES_MAX) {
			set_err(err, errlen, "reply has more than %d lines", SMTP_REPLY_LINES_MAX);
			return SMTP_REPLY_ERROR;
		}
	}
}

/* Appends the sanitised form of p[0..n) to r->text (room checked by the
 * caller; the output has the same length as the input). */
static void put_text(struct smtp_reply *r, const unsigned char *p, size_t n)
{
	char *o = r->text + r->textlen;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '\t') {
			*o++ = ' ';
		} else if (c < 0x20 || c == 0x7f) {
			*o++ = '?';
			r->sanitised = 1;
		} else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			/* U+0080..U+009F in UTF-8: C1 controls (0x9b is CSI). */
			*o++ = '?';
			*o++ = '?';
			i++;
			r->sanitised = 1;
			r->eight_bit = 1;
		} else {
			if (c >= 0x80)
				r->eight_bit = 1;
			*o++ = (char)c;
		}
	}
	r->textlen += n;
	*o = '\0';
}

/* Reads an RFC 3463 code "class.subject.detail" at the start of s[0..n):
 * class 2, 4 or 5, subject and detail 0-999 (1-3 digits), then SP or the
 * end. Returns 1 and the three numbers, 0 when s does not start so. */
static int read_enhanced(const char *s, size_t n, unsigned v[3], size_t *used)
{
	size_t i = 0;

	for (int part = 0; part < 3; part++) {
		size_t digits = 0;

		v[part] = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v[part] = v[part] * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > (part == 0 ? 1u : 3u))
			return 0;
		if (part < 2) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	if (v[0] != 2 && v[0] != 4 && v[0] != 5)
		return 0;
	*used = i;
	return 1;
}

/* The first line's enhanced code, if any (RFC 2034 puts one at the start
 * of every line; the first line's stands for the reply). Its class must
 * match the reply code's, else the 3-digit code is trusted (EXT-08). */
static void decode_enhanced(struct smtp_reply *r)
{
	size_t n, used;
	const char *s = smtp_reply_line(r, 0, &n);
	unsigned v[3];

	if (s == NULL || n == 0 || s[0] < '0' || s[0] > '9')
		return;
	if (!read_enhanced(s, n, v, &used) || (int)v[0] != r->code / 100) {
		/* Only call it malformed when it looked like one: "d." */
		if (n > 1 && s[1] == '.')
			r->enhanced_bad = 1;
		return;
	}
	snprintf(r->enhanced, sizeof(r->enhanced), "%u.%u.%u", v[0], v[1], v[2]);
}

/* Fills r from the complete reply p[0..sr->end). Cannot fail. */
static void decode(const unsigned char *p, const struct scan_result *sr, struct smtp_reply *r)
{
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->code = sr->code;
	r->nlines = sr->nlines;
	for (size_t i = 0; i < sr->nlines; i++) {
		const unsigned char *lf = memchr(p + pos, '\n', sr->end - pos);
		size_t n = (size_t)(lf - (p + pos)), tn, need;

		if (n > 0 && p[pos + n - 1] == '\r')
			n--;
		else
			r->bare_lf = 1;
		/* The text starts after "ddd-" / "ddd "; a bare "ddd" has none. */
		tn = n > 4 ? n - 4 : 0;
		need = (i > 0 ? 1 : 0) + tn + 1;
		if (!r->truncated && r->textlen + need <= sizeof(r->text)) {
			if (i > 0)
				r->text[r->textlen++] = '\n';
			r->line_off[i] = (uint16_t)r->textlen;
			put_text(r, p + pos + 4, tn);
			r->nkept++;
		} else {
			r->truncated = 1;
		}
		pos = (size_t)(lf - p) + 1;
	}
	decode_enhanced(r);
}

enum smtp_reply_status smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *out,
	size_t *consumed, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)buf;
	struct scan_result sr;
	enum smtp_reply_status st;

	*consumed = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len == 0)
		return SMTP_REPLY_INCOMPLETE; /* buf may be NULL then */
	memset(&sr, 0, sizeof(sr));
	st = scan(p, len, &sr, err, errlen);
	if (st != SMTP_REPLY_COMPLETE)
		return st;
	decode(p, &sr, out);
	*consumed = sr.end;
	return SMTP_REPLY_COMPLETE;
}

const char *smtp_reply_line(const struct smtp_reply *r, size_t i, size_t *len)
{
	size_t start, end;

	*len = 0;
	if (i >= r->nkept)
		return NULL;
	start = r->line_off[i];
	end = i + 1 < r->nkept ? (size_t)r->line_off[i + 1] - 1 : r->textlen;
	*len = end - start;
	return r->text + start;
}

/* Appends s[0..n) to buf[*at..) within len - 1, keeping the NUL. */
static void append(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
	if (*at + 1 >= len)
		return;
	if (n > len - 1 - *at)
		n = len - 1 - *at;
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = '\0';
}

size_t smtp_reply_one_line(const struct smtp_reply *r, char *buf, size_t len)
{
	char code[8];
	size_t at = 0, enhlen = strlen(r->enhanced);

	if (len == 0)
		return 0;
	buf[0] = '\0';
	snprintf(code, sizeof(code), "%03d", r->code);
	append(buf, len, &at, code, strlen(code));
	for (size_t i = 0; i < r->nkept; i++) {
		size_t n;
		const char *s = smtp_reply_line(r, i, &n);

		/* Gmail and others repeat "5.1.1 " on every line. */
		if (i > 0 && enhlen > 0 && n >= enhlen && memcmp(s, r->enhanced, enhlen) == 0 &&
		    (n == enhlen || s[enhlen] == ' ')) {
			s += enhlen;
			n -= enhlen;
		}
		while (n > 0 && s[0] == ' ') {
			s++;
			n--;
		}
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (n == 0)
			continue;
		append(buf, len, &at, " ", 1);
		append(buf, len, &at, s, n);
	}
	if (r->truncated)
		append(buf, len, &at, " [...]", 6);
	return at;
}

enum smtp_reply_class smtp_reply_class(int code)
{
	if (code < 200 || code > 599 || code % 100 > 59)
		return SMTP_CLASS_INVALID;
	switch (code / 100) {
	case 2: return SMTP_CLASS_POSITIVE;
	case 3: return SMTP_CLASS_INTERMEDIATE;
	case 4: return SMTP_CLASS_TRANSIENT;
	default: return SMTP_CLASS_PERMANENT;
	}
}

const char *smtp_reply_class_name(enum smtp_reply_class c)
{
	static const char *const names[SMTP_CLASS_LAST] = {
		[SMTP_CLASS_INVALID] = "invalid",
		[SMTP_CLASS_POSITIVE] = "positive",
		[SMTP_CLASS_INTERMEDIATE] = "intermediate",
		[SMTP_CLASS_TRANSIENT] = "transient",
		[SMTP_CLASS_PERMANENT] = "permanent",
	};

	if ((unsigned)c >= SMTP_CLASS_LAST || names[c] == NULL)
		return "invalid";
	return names[c];
}

/* Case-insensitive search for an ASCII needle (lower case) in s[0..n). */
static int has_words(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++) {
		size_t j;

		for (j = 0; j < m; j++) {
			char c = s[i + j];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[j])
				break;
		}
		if (j == m)
			return 1;
	}
	return 0;
}

int smtp_reply_too_many_rcpts(const struct smtp_reply *r)
{
	size_t elen = strlen(r->enhanced);

	if (r->code != 452 && r->code != 552)
		return 0;
	/* X.5.3 is "too many recipients" (RFC 3463 3.6). */
	if (elen > 2 && strcmp(r->enhanced + 1, ".5.3") == 0)
		return 1;
	return has_words(r->text, r->textlen, "too many recipients");
}

enum smtp_reply_class smtp_reply_rcpt_class(const struct smtp_reply *r)
{
	if (smtp_reply_too_many_rcpts(r))
		return SMTP_CLASS_TRANSIENT;
	return smtp_reply_class(r->code);
}

/* ---------------------------------------------------------------- EHLO */

/* A token of a keyword line: s[0..n), no spaces. */
struct token {
	const char *s; /* start, inside the reply's text */
	size_t n;      /* length */
};

/* Splits line[0..n) at spaces into at most max tokens; returns how many. */
static size_t split(const char *line, size_t n, struct token *t, size_t max)
{
	size_t k = 0, i = 0;

	while (i < n && k < max) {
		size_t start;

		while (i < n && line[i] == ' ')
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && line[i] != ' ')
			i++;
		t[k].s = line + start;
		t[k].n = i - start;
		k++;
	}
	return k;
}

static int tok_is(const struct token *t, const char *word)
{
	size_t m = strlen(word);

	return t->n == m && has_words(t->s, t->n, word);
}

static unsigned auth_mech(const struct token *t)
{
	static const struct {
		const char *name;   /* lower case */
		unsigned bit;       /* SMTP_AUTH_* */
	} mechs[] = {
		{ "plain", SMTP_AUTH_PLAIN },
		{ "login", SMTP_AUTH_LOGIN },
		{ "cram-md5", SMTP_AUTH_CRAM_MD5 },
		{ "digest-md5", SMTP_AUTH_DIGEST_MD5 },
		{ "xoauth2", SMTP_AUTH_XOAUTH2 },
		{ "oauthbearer", SMTP_AUTH_OAUTHBEARER },
		{ "scram-sha-1", SMTP_AUTH_SCRAM_SHA_1 },
		{ "scram-sha-256", SMTP_AUTH_SCRAM_SHA_256 },
		{ "gssapi", SMTP_AUTH_GSSAPI },
		{ "ntlm", SMTP_AUTH_NTLM },
	};

	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (tok_is(t, mechs[i].name))
			return mechs[i].bit;
	return SMTP_AUTH_OTHER;
}

/* RFC 1870: "SIZE" [SP number]; 0 means no fixed maximum. */
static void parse_size(struct smtp_caps *c, const struct token *t, size_t nt)
{
	uint64_t v = 0;

	if (c->size)
		return; /* the first SIZE line counts */
	c->size = 1;
	if (nt < 2) {
		c->size_no_number = 1;
		return;
	}
	for (size_t i = 0; i < t[1].n; i++) {
		unsigned d;

		if (t[1].s[i] < '0' || t[1].s[i] > '9') {
			c->size_bad = 1;
			return;
		}
		d = (unsigned)(t[1].s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			c->size_bad = 1;
			return;
		}
		v = v * 10 + d;
	}
	c->size_max = v;
}

/* One keyword line (RFC 5321 4.1.1.1: ehlo-keyword *(SP ehlo-param)). */
static void parse_keyword(struct smtp_caps *c, const char *line, size_t n)
{
	struct token t[32];
	size_t nt = split(line, n, t, sizeof(t) / sizeof(t[0]));
	const struct {
		const char *kw; /* lower case */
		int *flag;      /* set when kw is advertised */
	} flags[] = {
		{ "starttls", &c->starttls },
		{ "pipelining", &c->pipelining },
		{ "8bitmime", &c->eightbitmime },
		{ "binarymime", &c->binarymime },
		{ "smtputf8", &c->smtputf8 },
		{ "enhancedstatuscodes", &c->enhancedstatuscodes },
		{ "chunking", &c->chunking },
		{ "dsn", &c->dsn },
		{ "requiretls", &c->requiretls },
	};

	if (nt == 0)
		return;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (tok_is(&t[0], flags[i].kw)) {
			*flags[i].flag = 1;
			return;
		}
	}
	if (tok_is(&t[0], "size")) {
		parse_size(c, t, nt);
		return;
	}
	if (tok_is(&t[0], "auth")) {
		c->auth_kw = 1;
		for (size_t i = 1; i < nt; i++)
			c->auth |= auth_mech(&t[i]);
		return;
	}
	/* Before RFC 4954 some servers wrote "AUTH=LOGIN PLAIN" (and still
	 * send it beside the standard line for old clients). */
	if (t[0].n >= 5 && has_words(t[0].s, 5, "auth=")) {
		c->auth_kw = 1;
		c->auth_obsolete = 1;
		if (t[0].n > 5) {
			struct token first = { t[0].s + 5, t[0].n - 5 };

			c->auth |= auth_mech(&first);
		}
		for (size_t i = 1; i < nt; i++)
			c->auth |= auth_mech(&t[i]);
	}
}

/* Copies s[0..n) into dst (SMTP_CAPS_LINE_MAX), cut to fit; 1 if cut. */
static int keep(char *dst, const char *s, size_t n)
{
	int cut = n > SMTP_CAPS_LINE_MAX - 1;

	if (cut)
		n = SMTP_CAPS_LINE_MAX - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return cut;
}

int smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *out)
{
	size_t n;
	const char *s;

	memset(out, 0, sizeof(*out));
	if (smtp_reply_class(ehlo->code) != SMTP_CLASS_POSITIVE)
		return -1;
	s = smtp_reply_line(ehlo, 0, &n);
	if (s != NULL)
		keep(out->greeting, s, n);
	for (size_t i = 1; i < ehlo->nkept; i++) {
		size_t sp = 0;

		s = smtp_reply_line(ehlo, i, &n);
		while (sp < n && s[sp] == ' ')
			sp++;
		if (sp == n)
			continue; /* "250-" or "250 ": nothing offered */
		parse_keyword(out, s, n);
		if (out->nlines < SMTP_CAPS_LINES_MAX)
			out->lines_cut += (size_t)keep(out->lines[out->nlines++], s, n);
		else
			out->lines_dropped++;
	}
	out->truncated = ehlo->truncated;
	return 0;
}
