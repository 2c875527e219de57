/*
 * msg: parse, fix up and render a message. See msg.h for the policies.
 *
 * Owns struct msg (its header list and body). Must not read files or
 * sockets, look at the clock, or dot-stuff: the caller reads the input,
 * struct msg_stamp brings time and randomness, the SMTP transport stuffs
 * dots (STYLE.md: dot-stuffing belongs to the transport).
 *
 * References: RFC 5322 2.1 (lines), 2.2 (fields, folding), 3.3 (dates),
 * 3.6 (which fields), RFC 5321 4.5.3.1.6 (text line length), RFC 2045 6
 * (transfer encodings).
 */
#include "config.h"

#include "msg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "mime.h"

struct msg *msg_new(void)
{
	return calloc(1, sizeof(struct msg));
}

void msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	hdr_list_free(&m->hdrs);
	free(m->body);
	free(m);
}

/* ------------------------------------------------------------- parsing */

/* One physical line of the input. */
struct line {
	size_t start; /* offset of its first octet */
	size_t end;   /* offset after its content (before CR LF or LF) */
	size_t next;  /* offset of the next line */
	size_t no;    /* 1-based line number */
};

static void line_at(const char *p, size_t len, size_t pos, struct line *l)
{
	const char *eol = memchr(p + pos, '\n', len - pos);

	l->start = pos;
	l->end = eol != NULL ? (size_t)(eol - p) : len;
	l->next = eol != NULL ? l->end + 1 : len;
	if (eol != NULL && l->end > pos && p[l->end - 1] == '\r')
		l->end--;
	l->no++;
}

/* The field name a header line starts with, for messages: "Subject", or
 * "?" when the line has no usable name. */
static void name_of(const char *p, const struct line *l, char *out, size_t outlen)
{
	const char *colon = memchr(p + l->start, ':', l->end - l->start);
	size_t n = colon != NULL ? (size_t)(colon - (p + l->start)) : 0;

	if (n == 0 || n > 64)
		snprintf(out, outlen, "?");
	else
		snprintf(out, outlen, "%.*s", (int)n, p + l->start);
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

/* Adds the field being collected (name, value) to m. */
static int flush_field(struct msg *m, struct buf *name, struct buf *value, char *err,
                       size_t errlen)
{
	if (name->len == 0)
		return 0;
	if (buf_failed(value) || buf_failed(name) ||
	    hdr_list_add(&m->hdrs, name->data, name->len, value->data != NULL ? value->data : "",
	                 value->len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	name->len = 0;
	value->len = 0;
	return 0;
}

int msg_parse(const void *data, size_t len, const struct msg_limits *lim, struct msg **out,
              char *err, size_t errlen)
{
	const char *p = data;
	struct msg_limits L = { 0, 0, 0, 0 };
	struct msg *m = NULL;
	struct buf name = BUF_INIT, value = BUF_INIT, body = BUF_INIT;
	struct line l = { 0, 0, 0, 0 };
	size_t pos = 0, section = 0, body_first = 0;
	char fname[72];
	int rc = -1, separated = 0;

	*out = NULL;
	if (lim != NULL)
		L = *lim;
	if (L.max_size == 0)
		L.max_size = MSG_SIZE_MAX_DEFAULT;
	if (L.max_headers == 0)
		L.max_headers = MSG_HEADERS_MAX_DEFAULT;
	if (L.max_header_size == 0)
		L.max_header_size = MSG_HEADER_SIZE_MAX_DEFAULT;
	if (len > L.max_size) {
		snprintf(err, errlen, "the message is %zu octets, over the limit of %zu", len,
		         L.max_size);
		goto done;
	}
	if (len == 0) {
		snprintf(err, errlen, "the message is empty");
		goto done;
	}
	m = msg_new();
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* The header section (RFC 5322 2.2), up to the first empty line. */
	while (pos < len) {
		const char *nul, *cr;
		size_t n;

		line_at(p, len, pos, &l);
		n = l.end - l.start;
		section += l.next - l.start;
		if (section > L.max_header_size) {
			snprintf(err, errlen, "the header section passes %zu octets at line %zu",
			         L.max_header_size, l.no);
			goto done;
		}
		nul = memchr(p + l.start, '\0', n);
		cr = memchr(p + l.start, '\r', n);
		if (nul != NULL || cr != NULL) {
			name_of(p, &l, fname, sizeof(fname));
			snprintf(err, errlen, "line %zu (header %s) holds %s", l.no, fname,
			         nul != NULL ? "a NUL octet" :
			         "a bare CR (a CR not followed by LF), refused in headers (SEC-04)");
			goto done;
		}
		if (n == 0) {
			separated = 1;
			pos = l.next;
			break;
		}
		if (n > MIME_LINE_MAX) {
			if (p[l.start] == ' ' || p[l.start] == '\t')
				snprintf(fname, sizeof(fname), "%s", name.len > 0 ? name.data : "?");
			else
				name_of(p, &l, fname, sizeof(fname));
			snprintf(err, errlen, "header %s: line %zu is %zu octets long, over the limit "
			         "of %d (RFC 5322 2.1.1)", fname, l.no, n, MIME_LINE_MAX);
			goto done;
		}
		/* mbox "From " line: an envelope marker some tools leave on. */
		if (l.no == 1 && n > 5 && memcmp(p, "From ", 5) == 0) {
			size_t k = 4;

			while (k < n && (p[k] == ' ' || p[k] == '\t'))
				k++;
			if (k >= n || p[k] != ':') {
				pos = l.next;
				continue;
			}
		}
		if (p[l.start] == ' ' || p[l.start] == '\t') {
			/* a continuation line (RFC 5322 2.2.3) */
			if (name.len == 0) {
				snprintf(err, errlen, "line %zu starts with white space but no header "
				         "precedes it", l.no);
				goto done;
			}
			buf_append(&value, "\r\n", 2);
			buf_append(&value, p + l.start, n);
		} else {
			const char *colon = memchr(p + l.start, ':', n);
			size_t nlen;

			if (flush_field(m, &name, &value, err, errlen) < 0)
				goto done;
			if (colon == NULL) {
				snprintf(err, errlen, "line %zu is not a header (no ':'); a message is "
				         "headers, an empty line, then the body", l.no);
				goto done;
			}
			nlen = (size_t)(colon - (p + l.start));
			/* obs-optional: white space before the colon (RFC 5322 4.5) */
			while (nlen > 0 && (p[l.start + nlen - 1] == ' ' || p[l.start + nlen - 1] == '\t'))
				nlen--;
			if (hdr_check_name(p + l.start, nlen, err, errlen) < 0) {
				char why[256];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "line %zu: %s", l.no, why);
				goto done;
			}
			if (m->hdrs.n + 1 > L.max_headers) {
				snprintf(err, errlen, "more than %zu header fields (line %zu)",
				         L.max_headers, l.no);
				goto done;
			}
			buf_append(&name, p + l.start, nlen);
			buf_append(&value, colon + 1, (size_t)(p + l.end - (colon + 1)));
		}
		pos = l.next;
	}
	if (!separated) {
		snprintf(err, errlen, "the message has no empty line between its headers and its "
		         "body (%zu lines read)", l.no);
		goto done;
	}
	if (flush_field(m, &name, &value, err, errlen) < 0)
		goto done;
	/* The body: every line end becomes CRLF. */
	body_first = l.no + 1;
	while (pos < len) {
		const char *nul;
		size_t n, seg;

		line_at(p, len, pos, &l);
		n = l.end - l.start;
		nul = memchr(p + l.start, '\0', n);
		if (nul != NULL) {
			snprintf(err, errlen, "line %zu (body line %zu) holds a NUL octet", l.no,
			         l.no - body_first + 1);
			goto done;
		}
		/* A CR left inside the content is bare: its LF is missing. */
		seg = l.start;
		for (size_t i = l.start; i <= l.end; i++) {
			const char *cr = memchr(p + i, '\r', l.end - i);

			i = cr != NULL ? (size_t)(cr - p) : l.end;
			if (i < l.end && !L.bare_cr_to_crlf) {
				snprintf(err, errlen, "line %zu (body line %zu) holds a bare CR (a CR "
				         "not followed by LF); refused: a lone CR can hide an end of "
				         "data from a server (SMTP smuggling, SEC-04)", l.no,
				         l.no - body_first + 1);
				goto done;
			}
			if (i - seg > MIME_LINE_MAX) {
				snprintf(err, errlen, "line %zu (body line %zu) is %zu octets long, over "
				         "the limit of %d (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6); encode "
				         "the content (quoted-printable or base64) before sending", l.no,
				         l.no - body_first + 1, i - seg, MIME_LINE_MAX);
				goto done;
			}
			buf_append(&body, p + seg, i - seg);
			buf_append(&body, "\r\n", 2);
			seg = i + 1;
		}
		pos = l.next;
	}
	if (buf_failed(&body)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	m->body_len = body.len;
	m->body = body.len > 0 ? buf_steal(&body, NULL) : NULL;
	*out = m;
	m = NULL;
	rc = 0;
done:
	msg_free(m);
	buf_free(&name);
	buf_free(&value);
	buf_free(&body);
	return rc;
}

/* ------------------------------------------------------------ stamping */

int msg_format_date(int64_t t, int tz_offset_min, char out[MSG_DATE_MAX], char *err,
                    size_t errlen)
{
	static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	/* 9999-12-31 and 1900-01-01, with a day to spare for the offset */
	const int64_t tmax = INT64_C(253402300799) + 86400, tmin = INT64_C(-2208988800) - 86400;
	struct tm tm;
	time_t local;
	int off = tz_offset_min < 0 ? -tz_offset_min : tz_offset_min;

	if (tz_offset_min < -1439 || tz_offset_min > 1439) {
		snprintf(err, errlen, "time zone offset %d minutes is out of range", tz_offset_min);
		return -1;
	}
	if (t > tmax || t < tmin) {
		snprintf(err, errlen, "time %lld is out of range", (long long)t);
		return -1;
	}
	local = (time_t)(t + (int64_t)tz_offset_min * 60);
	if (gmtime_r(&local, &tm) == NULL || tm.tm_year < 0 || tm.tm_year > 9999 - 1900) {
		snprintf(err, errlen, "time %lld is out of range", (long long)t);
		return -1;
	}
	/* RFC 5322 3.3: day-name "," day month year time zone */
	snprintf(out, MSG_DATE_MAX, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d", days[tm.tm_wday],
	         tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec, tz_offset_min < 0 ? '-' : '+', off / 60, off % 60);
	return 0;
}

int msg_format_msgid(const uint8_t *random, size_t n, const char *hostname,
                     char out[MSG_MSGID_MAX], char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t hlen = strlen(hostname), o = 0;
	int prev_dot = 1;

	if (n == 0 || n > MSG_MSGID_RANDOM) {
		snprintf(err, errlen, "a Message-ID takes 1 to %d random octets", MSG_MSGID_RANDOM);
		return -1;
	}
	/* id-right = dot-atom-text (RFC 5322 3.6.4) */
	if (hlen == 0 || hlen > 253) {
		snprintf(err, errlen, "host name for the Message-ID is empty or too long");
		return -1;
	}
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)hostname[i];
		int atext = isalnum(c) || (c != '\0' && c < 0x80 &&
		                           strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);

		if (c == '.' ? prev_dot : !atext) {
			snprintf(err, errlen, "host name '%.64s' cannot be the right side of a "
			         "Message-ID (a dot-atom is needed)", hostname);
			return -1;
		}
		prev_dot = c == '.';
	}
	if (prev_dot) {
		snprintf(err, errlen, "host name '%.64s' ends with a dot", hostname);
		return -1;
	}
	out[o++] = '<';
	for (size_t i = 0; i < n; i++) {
		out[o++] = hex[random[i] >> 4];
		out[o++] = hex[random[i] & 0x0f];
	}
	snprintf(out + o, MSG_MSGID_MAX - o, "@%s>", hostname);
	return 0;
}

/* Adds name with the value " text" (text is short plain ASCII). */
static int add_simple(struct msg *m, const char *name, const char *text, char *err,
                      size_t errlen)
{
	char v[MSG_MSGID_MAX + ADDR_PATH_MAX];
	int n = snprintf(v, sizeof(v), " %s", text);

	if (hdr_list_add(&m->hdrs, name, strlen(name), v, (size_t)n) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int msg_prepare(struct msg *m, const struct msg_stamp *stamp, const struct addr *sender,
                struct addr_list *rcpts, char *err, size_t errlen)
{
	static const char *const rcpt_fields[] = { "To", "Cc", "Bcc" };
	struct addr_list tmp = { NULL, 0, 0 };
	char *v = NULL;
	int rc = -1;

	if (rcpts != NULL) {
		for (size_t i = 0; i < m->hdrs.n; i++) {
			const struct hdr_field *h = &m->hdrs.v[i];
			int want = 0;
			char why[512];

			for (size_t k = 0; k < 3; k++)
				if (strcasecmp(h->name, rcpt_fields[k]) == 0)
					want = 1;
			if (!want)
				continue;
			v = hdr_unfold(h->value, h->value_len);
			if (v == NULL) {
				snprintf(err, errlen, "out of memory");
				goto done;
			}
			tmp.n = 0;
			if (addr_parse_list(v, &tmp, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "header %s: %s", h->name, why);
				goto done;
			}
			for (size_t k = 0; k < tmp.n; k++) {
				if (addr_list_find(rcpts, tmp.v[k].addr) >= 0)
					continue;
				if (addr_list_add(rcpts, &tmp.v[k], err, errlen) < 0)
					goto done;
			}
			free(v);
			v = NULL;
		}
	}
	hdr_list_remove(&m->hdrs, "Bcc");
	if (hdr_list_find(&m->hdrs, "Date", 0) < 0) {
		char date[MSG_DATE_MAX];

		if (msg_format_date(stamp->time, stamp->tz_offset_min, date, err, errlen) < 0 ||
		    add_simple(m, "Date", date, err, errlen) < 0)
			goto done;
	}
	if (hdr_list_find(&m->hdrs, "Message-ID", 0) < 0) {
		char id[MSG_MSGID_MAX];

		if (msg_format_msgid(stamp->random, MSG_MSGID_RANDOM, stamp->hostname, id, err,
		                     errlen) < 0 ||
		    add_simple(m, "Message-ID", id, err, errlen) < 0)
			goto done;
	}
	if (hdr_list_find(&m->hdrs, "From", 0) < 0) {
		if (sender == NULL || sender->addr[0] == '\0') {
			snprintf(err, errlen, "the message has no From header and there is no "
			         "envelope sender to make one from");
			goto done;
		}
		if (add_simple(m, "From", sender->addr, err, errlen) < 0)
			goto done;
	}
	rc = 0;
done:
	free(v);
	addr_list_free(&tmp);
	return rc;
}

/* ----------------------------------------------------------- rendering */

int msg_render(const struct msg *m, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	size_t line = 0, lineno = 1;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	for (size_t i = 0; i < m->hdrs.n; i++) {
		const struct hdr_field *h = &m->hdrs.v[i];

		/* Inside a value, a line break must be a fold: CRLF and then
		 * white space. Anything else would start another field. */
		for (size_t k = 0; k < h->value_len; k++) {
			if (h->value[k] == '\n' &&
			    (k == 0 || h->value[k - 1] != '\r' || k + 1 == h->value_len ||
			     (h->value[k + 1] != ' ' && h->value[k + 1] != '\t'))) {
				snprintf(err, errlen, "header %.64s has a line break that is not a fold "
				         "(SEC-05)", h->name);
				goto done;
			}
		}
		buf_puts(&b, h->name);
		buf_putc(&b, ':');
		buf_append(&b, h->value, h->value_len);
		buf_append(&b, "\r\n", 2);
	}
	buf_append(&b, "\r\n", 2);
	if (m->body_len > 0) {
		buf_append(&b, m->body, m->body_len);
		if (m->body_len < 2 || m->body[m->body_len - 2] != '\r' ||
		    m->body[m->body_len - 1] != '\n')
			buf_append(&b, "\r\n", 2);
	}
	if (buf_failed(&b)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* The last line of defence for DLV-23 and SEC-04: CRLF only, and
	 * every line within 998 octets (DLV-25). */
	for (size_t i = 0; i < b.len; i++) {
		char c = b.data[i];

		if (c == '\r' && (i + 1 == b.len || b.data[i + 1] != '\n')) {
			snprintf(err, errlen, "line %zu of the message holds a bare CR", lineno);
			goto done;
		}
		if (c == '\n' && (i == 0 || b.data[i - 1] != '\r')) {
			snprintf(err, errlen, "line %zu of the message holds a bare LF", lineno);
			goto done;
		}
		if (c == '\r')
			continue;
		if (c == '\n') {
			line = 0;
			lineno++;
			continue;
		}
		if (++line > MIME_LINE_MAX) {
			snprintf(err, errlen, "line %zu of the message is over %d octets", lineno,
			         MIME_LINE_MAX);
			goto done;
		}
	}
	*out = buf_steal(&b, outlen);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	buf_free(&b);
	return rc;
}

/* Longest line and 8-bit octets in s, where a line may continue from
 * *cur octets already counted. */
static void scan_into(const char *s, size_t n, size_t *cur, size_t *max, int *high)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (c == '\n') {
			*cur = 0;
			continue;
		}
		if (c >= 0x80)
			*high = 1;
		if (++*cur > *max)
			*max = *cur;
	}
}

void msg_info(const struct msg *m, struct msg_info *info)
{
	size_t cur;

	memset(info, 0, sizeof(*info));
	for (size_t i = 0; i < m->hdrs.n; i++) {
		const struct hdr_field *h = &m->hdrs.v[i];

		cur = 0;
		scan_into(h->name, strlen(h->name), &cur, &info->max_line, &info->header_8bit);
		scan_into(":", 1, &cur, &info->max_line, &info->header_8bit);
		scan_into(h->value, h->value_len, &cur, &info->max_line, &info->header_8bit);
		info->size += strlen(h->name) + 1 + h->value_len + 2;
	}
	info->size += 2;
	cur = 0;
	scan_into(m->body, m->body_len, &cur, &info->max_line, &info->body_8bit);
	info->size += m->body_len;
	if (m->body_len > 0 && (m->body_len < 2 || m->body[m->body_len - 2] != '\r' ||
	                        m->body[m->body_len - 1] != '\n'))
		info->size += 2;
}

/* ------------------------------------------------------ 7-bit downgrade */

/* The first token of a field's value, lower case, into out. */
static int first_token(const struct msg *m, const char *name, char *out, size_t outlen)
{
	long i = hdr_list_find(&m->hdrs, name, 0);
	char *v;
	size_t o = 0;

	out[0] = '\0';
	if (i < 0)
		return 0;
	v = hdr_unfold(m->hdrs.v[i].value, m->hdrs.v[i].value_len);
	if (v == NULL)
		return -1;
	for (const char *c = v; *c != '\0' && *c != ';' && *c != ' ' && *c != '\t' &&
	                        *c != '(' && o + 1 < outlen; c++)
		out[o++] = (char)tolower((unsigned char)*c);
	out[o] = '\0';
	free(v);
	return 1;
}

int msg_encode_7bit(struct msg *m, char *err, size_t errlen)
{
	struct buf qp = BUF_INIT;
	char type[128], cte[64], *body = NULL;
	int high = 0, rc = -1, has_cte;
	size_t cur = 0, max = 0, len;

	scan_into(m->body, m->body_len, &cur, &max, &high);
	if (!high)
		return 0;
	if (first_token(m, "Content-Type", type, sizeof(type)) < 0 ||
	    (has_cte = first_token(m, "Content-Transfer-Encoding", cte, sizeof(cte))) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (strncmp(type, "multipart/", 10) == 0 || strncmp(type, "message/", 8) == 0) {
		snprintf(err, errlen, "cannot convert a %s message with 8-bit content to 7 bit "
		         "(its parts would need re-encoding)", type);
		goto done;
	}
	if (has_cte && strcmp(cte, "7bit") != 0 && strcmp(cte, "8bit") != 0 &&
	    strcmp(cte, "binary") != 0) {
		snprintf(err, errlen, "cannot convert a body with Content-Transfer-Encoding '%s' "
		         "and 8-bit octets to 7 bit", cte);
		goto done;
	}
	if (mime_qp(&qp, m->body, m->body_len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	len = qp.len;
	body = buf_steal(&qp, NULL);
	/* Out of memory past this point may leave the header changed. */
	hdr_list_remove(&m->hdrs, "Content-Transfer-Encoding");
	if (body == NULL ||
	    hdr_list_add(&m->hdrs, "Content-Transfer-Encoding", 25, " quoted-printable", 17) < 0 ||
	    (hdr_list_find(&m->hdrs, "MIME-Version", 0) < 0 &&
	     hdr_list_add(&m->hdrs, "MIME-Version", 12, " 1.0", 4) < 0)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	free(m->body);
	m->body = body;
	m->body_len = len;
	body = NULL;
	rc = 0;
done:
	free(body);
	buf_free(&qp);
	return rc;
}
