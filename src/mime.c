/*
 * mime: encoders for bodies, header text and parameters. See mime.h.
 *
 * Owns nothing: every function appends to a struct buf the caller owns.
 * Must not read files, look at the clock or pick random values: composing
 * (msg_compose.c) decides what to encode, this file only encodes.
 *
 * References: RFC 2045 (base64 6.8, quoted-printable 6.7, tokens 5.1),
 * RFC 2047 (encoded-words), RFC 2231 (parameter values and continuations),
 * RFC 5322 2.1.1 and 2.2.3 (line length, folding), RFC 3629 (UTF-8).
 */
#include "config.h"

#include "mime.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define WORD_OVERHEAD 12 /* "=?UTF-8?Q?" and "?=" */
#define CHUNK 4096       /* encoders write through a stack buffer of this size */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hex_upper[] = "0123456789ABCDEF";

/* ------------------------------------------------------------------ facts */

void mime_scan(const void *data, size_t len, struct mime_scan *out)
{
	const unsigned char *p = data;
	size_t line = 0, lineno = 1;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '\n') {
			if (i == 0 || p[i - 1] != '\r')
				out->bare_lf++;
			if (line > out->max_line || out->max_line_no == 0) {
				out->max_line = line;
				out->max_line_no = lineno;
			}
			out->lines++;
			lineno++;
			line = 0;
			continue;
		}
		if (c == '\r') {
			if (i + 1 < len && p[i + 1] == '\n')
				continue; /* part of the line end */
			out->bare_cr++;
		} else if (c >= 0x80) {
			out->has_8bit = 1;
		} else if (c == '\0') {
			out->has_nul = 1;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			out->has_ctl = 1;
		}
		line++;
	}
	if (len > 0 && p[len - 1] != '\n') {
		out->lines++;
		if (line > out->max_line || out->max_line_no == 0) {
			out->max_line = line;
			out->max_line_no = lineno;
		}
	}
}

/* Length of the UTF-8 sequence starting at p (at most n octets), or 0
 * when it is malformed (RFC 3629 4). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t k;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

int mime_utf8_check(const void *data, size_t len, size_t *bad)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(p + i, len - i);

		if (k == 0) {
			if (bad != NULL)
				*bad = i;
			return -1;
		}
		i += k;
	}
	return 0;
}

int mime_text_crlf(struct buf *out, const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;
	size_t start = 0, line = 1;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0') {
			snprintf(err, errlen, "NUL octet on line %zu", line);
			return -1;
		}
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n')) {
			snprintf(err, errlen, "bare CR (a CR not followed by LF) on line %zu; "
			         "convert the line endings to LF or CRLF", line);
			return -1;
		}
		if (p[i] != '\n')
			continue;
		/* the line without its LF, and without the CR of a CRLF */
		buf_append(out, p + start, (i > start && p[i - 1] == '\r') ? i - 1 - start : i - start);
		buf_append(out, "\r\n", 2);
		start = i + 1;
		line++;
	}
	if (start < len) {
		buf_append(out, p + start, len - start);
		buf_append(out, "\r\n", 2);
	}
	if (buf_failed(out)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- encoders */

int mime_base64(struct buf *out, const void *data, size_t len, size_t line_len)
{
	const unsigned char *p = data;
	char chunk[CHUNK];
	size_t col = 0, c = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		if (c > CHUNK - 8) {
			buf_append(out, chunk, c);
			c = 0;
		}
		if (line_len > 0 && col + 4 > line_len) {
			chunk[c++] = '\r';
			chunk[c++] = '\n';
			col = 0;
		}
		chunk[c++] = b64_alphabet[(v >> 18) & 0x3f];
		chunk[c++] = b64_alphabet[(v >> 12) & 0x3f];
		chunk[c++] = i + 1 < len ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		chunk[c++] = i + 2 < len ? b64_alphabet[v & 0x3f] : '=';
		col += 4;
	}
	if (c > 0)
		buf_append(out, chunk, c);
	if (line_len > 0 && col > 0)
		buf_append(out, "\r\n", 2);
	return buf_failed(out) ? -1 : 0;
}

int mime_qp(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char chunk[CHUNK];
	size_t col = 0, c = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		int at_eol, literal;
		size_t piece, limit;

		if (c > CHUNK - 8) {
			buf_append(out, chunk, c);
			c = 0;
		}
		if (ch == '\r' && i + 1 < len && p[i + 1] == '\n') {
			chunk[c++] = '\r'; /* a hard line break (6.7 rule 4) */
			chunk[c++] = '\n';
			col = 0;
			i++;
			continue;
		}
		at_eol = i + 1 == len || (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n');
		/* Rule 2: literal 33..60 and 62..126; rule 3: a space or tab
		 * unless it ends a line, where a transport may strip it. */
		literal = (ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !at_eol);
		piece = literal ? 1 : 3;
		/* Rule 5: at most 76 characters, the '=' of a soft line break
		 * included; the last piece of a line needs no '='. */
		limit = at_eol ? MIME_QP_LINE : MIME_QP_LINE - 1;
		if (col + piece > limit) {
			chunk[c++] = '=';
			chunk[c++] = '\r';
			chunk[c++] = '\n';
			col = 0;
		}
		if (literal) {
			chunk[c++] = (char)ch;
		} else {
			chunk[c++] = '=';
			chunk[c++] = hex_upper[ch >> 4];
			chunk[c++] = hex_upper[ch & 0x0f];
		}
		col += piece;
	}
	if (c > 0)
		buf_append(out, chunk, c);
	return buf_failed(out) ? -1 : 0;
}

const char *mime_cte_name(enum mime_cte cte)
{
	static const char *const names[MIME_CTE_LAST] = {
		[MIME_CTE_7BIT] = "7bit",
		[MIME_CTE_QP] = "quoted-printable",
		[MIME_CTE_BASE64] = "base64",
	};

	if ((unsigned)cte >= MIME_CTE_LAST)
		return NULL;
	return names[cte];
}

enum mime_cte mime_cte_for_text(const void *data, size_t len)
{
	struct mime_scan s;

	mime_scan(data, len, &s);
	if (s.has_8bit || s.has_nul || s.has_ctl || s.bare_cr > 0 || s.bare_lf > 0 ||
	    s.max_line > MIME_LINE_MAX)
		return MIME_CTE_QP;
	return MIME_CTE_7BIT;
}

/* --------------------------------------------------------- content types */

/* Extensions of files people mail, with their registered media types.
 * .eml is left out on purpose: message/rfc822 may not be base64-encoded
 * (RFC 2046 5.2.1), and attachments always are. */
static const struct {
	const char *ext;  /* lower case, without the dot */
	const char *type; /* media type */
} type_table[] = {
	{ "7z", "application/x-7z-compressed" },
	{ "avi", "video/x-msvideo" },
	{ "bmp", "image/bmp" },
	{ "bz2", "application/x-bzip2" },
	{ "css", "text/css" },
	{ "csv", "text/csv" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "epub", "application/epub+zip" },
	{ "gif", "image/gif" },
	{ "gz", "application/gzip" },
	{ "heic", "image/heic" },
	{ "htm", "text/html" },
	{ "html", "text/html" },
	{ "ics", "text/calendar" },
	{ "jpeg", "image/jpeg" },
	{ "jpg", "image/jpeg" },
	{ "js", "text/javascript" },
	{ "json", "application/json" },
	{ "log", "text/plain" },
	{ "md", "text/markdown" },
	{ "mov", "video/quicktime" },
	{ "mp3", "audio/mpeg" },
	{ "mp4", "video/mp4" },
	{ "odp", "application/vnd.oasis.opendocument.presentation" },
	{ "ods", "application/vnd.oasis.opendocument.spreadsheet" },
	{ "odt", "application/vnd.oasis.opendocument.text" },
	{ "ogg", "audio/ogg" },
	{ "pdf", "application/pdf" },
	{ "png", "image/png" },
	{ "ppt", "application/vnd.ms-powerpoint" },
	{ "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
	{ "rar", "application/vnd.rar" },
	{ "rtf", "application/rtf" },
	{ "svg", "image/svg+xml" },
	{ "tar", "application/x-tar" },
	{ "tgz", "application/gzip" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "txt", "text/plain" },
	{ "wav", "audio/wav" },
	{ "webm", "video/webm" },
	{ "webp", "image/webp" },
	{ "xls", "application/vnd.ms-excel" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ "xml", "application/xml" },
	{ "yaml", "application/yaml" },
	{ "yml", "application/yaml" },
	{ "zip", "application/zip" },
};

const char *mime_type_from_name(const char *filename)
{
	const char *slash = strrchr(filename, '/');
	const char *base = slash != NULL ? slash + 1 : filename;
	const char *dot = strrchr(base, '.');

	/* ".bashrc" has no extension; "name." has an empty one. */
	if (dot != NULL && dot != base && dot[1] != '\0') {
		for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++)
			if (strcasecmp(dot + 1, type_table[i].ext) == 0)
				return type_table[i].type;
	}
	return "application/octet-stream";
}

/* RFC 2045 5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials> */
static int is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int mime_check_type(const char *type, char *err, size_t errlen)
{
	const char *slash = strchr(type, '/');
	size_t tlen, slen;

	if (slash == NULL) {
		snprintf(err, errlen, "content type '%.80s' is not of the form type/subtype", type);
		return -1;
	}
	tlen = (size_t)(slash - type);
	slen = strlen(slash + 1);
	/* RFC 6838 4.2: names of at most 127 characters */
	if (tlen == 0 || slen == 0 || tlen > 127 || slen > 127) {
		snprintf(err, errlen, "content type '%.80s' has an empty or over-long type or subtype",
		         type);
		return -1;
	}
	for (const char *p = type; *p != '\0'; p++) {
		if (p != slash && !is_token_char((unsigned char)*p)) {
			snprintf(err, errlen, "content type '%.80s' holds '%c' (0x%02x); parameters "
			         "are not accepted here", type, *p >= 0x20 && *p < 0x7f ? *p : '?',
			         (unsigned char)*p);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- folding */

void mime_fold_init(struct mime_fold *f, struct buf *out, size_t col)
{
	f->out = out;
	f->col = col;
}

int mime_fold_put(struct mime_fold *f, const char *ws, size_t wslen, const char *word,
                  size_t wlen, char *err, size_t errlen)
{
	/* RFC 5322 2.2.3: fold by putting a CRLF before white space. */
	if (wslen > 0 && f->col > 0 && f->col + wslen + wlen > MIME_FOLD_WIDTH) {
		buf_append(f->out, "\r\n", 2);
		f->col = 0;
	}
	buf_append(f->out, ws, wslen);
	buf_append(f->out, word, wlen);
	f->col += wslen + wlen;
	if (buf_failed(f->out)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (f->col > MIME_LINE_MAX) {
		snprintf(err, errlen, "a header line would be %zu characters long, over the limit "
		         "of %d (RFC 5322 2.1.1); a word of %zu characters cannot be folded",
		         f->col, MIME_LINE_MAX, wlen);
		return -1;
	}
	return 0;
}

/* Refuses what may not appear in header text from a user: controls but HT
 * (a CR or LF would start a new header: SEC-05) and malformed UTF-8 (the
 * encoded-words say UTF-8). */
static int check_text(const char *text, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)text;
	int high = 0;
	size_t bad;

	for (size_t i = 0; i < len; i++) {
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			snprintf(err, errlen, "control character 0x%02x at offset %zu%s", p[i], i,
			         p[i] == '\r' || p[i] == '\n' || p[i] == 0 ?
			         " (CR, LF and NUL are refused in header values)" : "");
			return -1;
		}
		if (p[i] >= 0x80)
			high = 1;
	}
	if (high && mime_utf8_check(text, len, &bad) < 0) {
		snprintf(err, errlen, "malformed UTF-8 at offset %zu", bad);
		return -1;
	}
	return 0;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2047 5(3): the Q characters allowed in a phrase, the strictest
 * context, used everywhere so one encoder fits all. */
static int q_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_cost(unsigned char c)
{
	return q_safe(c) || c == ' ' ? 1 : 3;
}

static size_t b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Length of the (valid) UTF-8 sequence at p, clamped to n. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	size_t k = utf8_seq(p, n);

	return k == 0 ? 1 : k;
}

/*
 * Writes s (len octets of valid UTF-8) as encoded-words separated by
 * single spaces. The first word is preceded by ws and glued to pre; the
 * last is followed by suf (used to wrap words in a quoted-string). Each
 * word fills what is left of the current line, up to 75 characters, and
 * holds whole UTF-8 sequences only (RFC 2047 5: "each 'encoded-word' MUST
 * represent an integral number of characters").
 */
static int encode_run(struct mime_fold *f, const char *ws, size_t wslen, const char *text,
                      size_t len, const char *pre, const char *suf, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)text;
	struct buf tok = BUF_INIT;
	size_t qlen = 0, i = 0, suflen = strlen(suf);
	int use_b, rc = -1;

	for (size_t k = 0; k < len; k++)
		qlen += q_cost(s[k]);
	use_b = b64_len(len) < qlen;
	while (i < len) {
		const char *cws = i == 0 ? ws : " ";
		size_t cwslen = i == 0 ? wslen : 1;
		const char *cpre = i == 0 ? pre : "";
		size_t prelen = strlen(cpre);
		size_t k1 = seq_len(s + i, len - i);
		size_t c1 = 0, n = 0, qsum = 0, budget;
		ssize_t room;

		for (size_t k = 0; k < k1; k++)
			c1 += q_cost(s[i + k]);
		if (use_b)
			c1 = b64_len(k1);
		room = (ssize_t)MIME_FOLD_WIDTH - (ssize_t)(f->col + cwslen + prelen + suflen);
		if (room < (ssize_t)(WORD_OVERHEAD + c1)) /* not here: the word starts a new line */
			room = (ssize_t)MIME_FOLD_WIDTH - (ssize_t)(cwslen + prelen + suflen);
		if (room < (ssize_t)(WORD_OVERHEAD + c1))
			room = MIME_WORD_MAX; /* long ws or pre: the line passes 78 */
		budget = (size_t)room < MIME_WORD_MAX ? (size_t)room : MIME_WORD_MAX;
		while (i + n < len) {
			size_t k = seq_len(s + i + n, len - i - n), add = 0, cost;

			for (size_t j = 0; j < k; j++)
				add += q_cost(s[i + n + j]);
			cost = use_b ? b64_len(n + k) : qsum + add;
			if (n > 0 && WORD_OVERHEAD + cost > budget)
				break;
			qsum += add;
			n += k;
		}
		tok.len = 0;
		buf_puts(&tok, cpre);
		buf_puts(&tok, use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?");
		if (use_b) {
			mime_base64(&tok, s + i, n, 0);
		} else {
			for (size_t k = i; k < i + n; k++) {
				if (q_safe(s[k])) {
					buf_putc(&tok, (char)s[k]);
				} else if (s[k] == ' ') {
					buf_putc(&tok, '_');
				} else {
					char e[3] = { '=', hex_upper[s[k] >> 4], hex_upper[s[k] & 0x0f] };

					buf_append(&tok, e, 3);
				}
			}
		}
		buf_puts(&tok, "?=");
		if (i + n == len)
			buf_puts(&tok, suf);
		if (buf_failed(&tok)) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (mime_fold_put(f, cws, cwslen, tok.data, tok.len, err, errlen) < 0)
			goto done;
		i += n;
	}
	rc = 0;
done:
	buf_free(&tok);
	return rc;
}

static int word_needs_encoding(const char *w, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w[i] >= 0x80)
			return 1;
	if (flags & MIME_TEXT_LITERAL) {
		if (n > MIME_FOLD_WIDTH - 2)
			return 1;
		for (size_t i = 0; i + 1 < n; i++)
			if (w[i] == '=' && w[i + 1] == '?')
				return 1;
	}
	return 0;
}

static void trim(const char **text, size_t *len)
{
	while (*len > 0 && is_wsp(**text)) {
		(*text)++;
		(*len)--;
	}
	while (*len > 0 && is_wsp((*text)[*len - 1]))
		(*len)--;
}

int mime_fold_text(struct mime_fold *f, const char *text, size_t len, unsigned flags,
                   char *err, size_t errlen)
{
	size_t pos = 0;

	if (check_text(text, len, err, errlen) < 0)
		return -1;
	trim(&text, &len);
	while (pos < len) {
		size_t ws_s = pos, w_s, w_e;
		const char *ws;
		size_t wslen;

		while (pos < len && is_wsp(text[pos]))
			pos++;
		ws = ws_s == 0 ? " " : text + ws_s;
		wslen = ws_s == 0 ? 1 : pos - ws_s;
		w_s = pos;
		while (pos < len && !is_wsp(text[pos]))
			pos++;
		w_e = pos;
		if (!word_needs_encoding(text + w_s, w_e - w_s, flags)) {
			if (mime_fold_put(f, ws, wslen, text + w_s, w_e - w_s, err, errlen) < 0)
				return -1;
			continue;
		}
		/* Adjacent words that need encoding are encoded together, the
		 * white space between them included: white space between two
		 * encoded-words is dropped by readers (RFC 2047 6.2). */
		for (;;) {
			size_t p = w_e, q;

			while (p < len && is_wsp(text[p]))
				p++;
			if (p >= len)
				break;
			q = p;
			while (q < len && !is_wsp(text[q]))
				q++;
			if (!word_needs_encoding(text + p, q - p, flags))
				break;
			w_e = q;
		}
		if (encode_run(f, ws, wslen, text + w_s, w_e - w_s, "", "", err, errlen) < 0)
			return -1;
		pos = w_e;
	}
	return 0;
}

/* RFC 5322 3.2.3 atext */
static int is_atext(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Puts s as tokens split at white space runs, the first after a space. */
static int put_split(struct mime_fold *f, const char *s, size_t len, char *err, size_t errlen)
{
	size_t pos = 0;

	while (pos < len) {
		size_t ws_s = pos, w_s;

		while (pos < len && is_wsp(s[pos]))
			pos++;
		w_s = pos;
		while (pos < len && !is_wsp(s[pos]))
			pos++;
		if (mime_fold_put(f, ws_s == 0 ? " " : s + ws_s, ws_s == 0 ? 1 : w_s - ws_s,
		                  s + w_s, pos - w_s, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int mime_fold_phrase(struct mime_fold *f, const char *text, size_t len, char *err,
                     size_t errlen)
{
	struct buf q = BUF_INIT;
	int atoms = 1, rc = -1;

	if (check_text(text, len, err, errlen) < 0)
		return -1;
	trim(&text, &len);
	if (len == 0)
		return 0;
	if (word_needs_encoding(text, len, 0) || memmem(text, len, "=?", 2) != NULL)
		return encode_run(f, " ", 1, text, len, "", "", err, errlen);
	/* Atoms separated by single spaces read back as the same text;
	 * anything else (specials, runs of spaces, tabs) is quoted. */
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ' ? text[i + 1] == ' ' : !is_atext((unsigned char)text[i]))
			atoms = 0;
	}
	if (atoms)
		return put_split(f, text, len, err, errlen);
	/* RFC 5322 3.2.4 quoted-string; FWS inside it may be folded. */
	buf_putc(&q, '"');
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"' || text[i] == '\\')
			buf_putc(&q, '\\');
		buf_putc(&q, text[i]);
	}
	buf_putc(&q, '"');
	if (buf_failed(&q)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = put_split(f, q.data, q.len, err, errlen);
done:
	buf_free(&q);
	return rc;
}

/* RFC 2231 7: attribute-char, what an extended value keeps as is. */
static int is_attr_char(unsigned char c)
{
	return is_token_char(c) && c != '*' && c != '\'' && c != '%';
}

static size_t digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Printable ASCII value: token, quoted-string, or quoted continuations. */
static int param_ascii(struct mime_fold *f, const char *attr, const char *v, size_t len,
                       char *err, size_t errlen)
{
	struct buf tok = BUF_INIT, q = BUF_INIT;
	size_t alen = strlen(attr), pos = 0, seg = 0;
	int token = len > 0, rc = -1;

	for (size_t i = 0; i < len; i++) {
		if (!is_token_char((unsigned char)v[i]))
			token = 0;
		if (v[i] == '"' || v[i] == '\\')
			buf_putc(&q, '\\');
		buf_putc(&q, v[i]);
	}
	if (token)
		buf_printf(&tok, "%s=%.*s", attr, (int)len, v);
	else
		buf_printf(&tok, "%s=\"%s\"", attr, q.data != NULL ? q.data : "");
	if (buf_failed(&tok) || buf_failed(&q)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* one line: " " + token + a following ";" */
	if (tok.len + 2 <= MIME_FOLD_WIDTH) {
		rc = mime_fold_put(f, " ", 1, tok.data, tok.len, err, errlen);
		goto done;
	}
	/* RFC 2231 3: attr*0="...", attr*1="...", never splitting a
	 * backslash pair. */
	while (pos < q.len) {
		size_t over = alen + 1 + digits(seg) + 3; /* attr*N="" */
		size_t budget = MIME_FOLD_WIDTH - 2 - over, n = 0;

		while (pos + n < q.len) {
			size_t k = q.data[pos + n] == '\\' ? 2 : 1;

			if (n > 0 && n + k > budget)
				break;
			n += k;
		}
		if (seg > 0 && mime_fold_put(f, "", 0, ";", 1, err, errlen) < 0)
			goto done;
		tok.len = 0;
		buf_printf(&tok, "%s*%zu=\"%.*s\"", attr, seg, (int)n, q.data + pos);
		if (buf_failed(&tok)) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (mime_fold_put(f, " ", 1, tok.data, tok.len, err, errlen) < 0)
			goto done;
		pos += n;
		seg++;
	}
	rc = 0;
done:
	buf_free(&tok);
	buf_free(&q);
	return rc;
}

/* Non-ASCII value as an RFC 2231 extended value: UTF-8''%XX..., split in
 * continuations between characters when it does not fit a line. */
static int param_2231(struct mime_fold *f, const char *attr, const char *v, size_t len,
                      char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)v;
	struct buf tok = BUF_INIT;
	size_t alen = strlen(attr), total = 0, pos = 0, seg = 0;
	int rc = -1;

	for (size_t i = 0; i < len; i++)
		total += is_attr_char(s[i]) ? 1 : 3;
	while (pos < len) {
		int single = seg == 0 && alen + 2 + 7 + total + 2 <= MIME_FOLD_WIDTH;
		size_t over = single ? alen + 2 + 7 : alen + 1 + digits(seg) + 2 + (seg == 0 ? 7 : 0);
		size_t budget = MIME_FOLD_WIDTH - 2 - over, n = 0, used = 0;

		while (pos + n < len) {
			size_t k = seq_len(s + pos + n, len - pos - n), cost = 0;

			for (size_t j = 0; j < k; j++)
				cost += is_attr_char(s[pos + n + j]) ? 1 : 3;
			if (n > 0 && used + cost > budget)
				break;
			used += cost;
			n += k;
		}
		if (seg > 0 && mime_fold_put(f, "", 0, ";", 1, err, errlen) < 0)
			goto done;
		tok.len = 0;
		if (single)
			buf_printf(&tok, "%s*=UTF-8''", attr);
		else
			buf_printf(&tok, "%s*%zu*=%s", attr, seg, seg == 0 ? "UTF-8''" : "");
		for (size_t i = pos; i < pos + n; i++) {
			if (is_attr_char(s[i])) {
				buf_putc(&tok, (char)s[i]);
			} else {
				char e[3] = { '%', hex_upper[s[i] >> 4], hex_upper[s[i] & 0x0f] };

				buf_append(&tok, e, 3);
			}
		}
		if (buf_failed(&tok)) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (mime_fold_put(f, " ", 1, tok.data, tok.len, err, errlen) < 0)
			goto done;
		pos += n;
		seg++;
	}
	rc = 0;
done:
	buf_free(&tok);
	return rc;
}

int mime_fold_param(struct mime_fold *f, const char *attr, const char *value, size_t len,
                    enum mime_param_style style, char *err, size_t errlen)
{
	struct buf pre = BUF_INIT;
	int ascii = 1, rc = -1;

	if (check_text(value, len, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] >= 0x80)
			ascii = 0;
	if (mime_fold_put(f, "", 0, ";", 1, err, errlen) < 0)
		return -1;
	if (ascii)
		return param_ascii(f, attr, value, len, err, errlen);
	if (style == MIME_PARAM_2231)
		return param_2231(f, attr, value, len, err, errlen);
	buf_printf(&pre, "%s=\"", attr);
	if (buf_failed(&pre)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = encode_run(f, " ", 1, value, len, pre.data, "\"", err, errlen);
done:
	buf_free(&pre);
	return rc;
}
