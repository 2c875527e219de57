/*
 * relay_rewrite: see relay_rewrite.h.
 *
 * Reads only the header section (RFC 5322 2.1: up to the first empty
 * line), field by field, with folded fields (2.2.3) kept whole. Owns
 * nothing beyond the returned copy. Must not decode or re-encode display
 * names: an RFC 2047 encoded word is copied as it came, so what the
 * reader saw as the author's name stays the same.
 */
#include "config.h"

#include "relay_rewrite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "hdr.h"
#include "text.h"

/* Where the From field is, and whether Reply-To is present. */
struct scan {
	size_t from_start;   /* offset of "From:" */
	size_t from_value;   /* offset just after the colon */
	size_t from_end;     /* offset after the field's final CRLF */
	int nfrom;           /* From fields seen */
	int reply_to;        /* a Reply-To field exists */
	size_t header_end;   /* offset of the empty line (or len) */
};

static int name_is(const char *p, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n == l && strncasecmp(p, name, l) == 0;
}

static int scan_headers(const char *d, size_t len, struct scan *s, char *err, size_t errlen)
{
	size_t off = 0, fields = 0;

	memset(s, 0, sizeof(*s));
	s->header_end = len;
	while (off < len) {
		size_t start = off, colon, end;
		const char *lf;

		if (off + 1 < len && d[off] == '\r' && d[off + 1] == '\n') {
			s->header_end = off;
			return 0;
		}
		if (off >= RELAY_REWRITE_HEADER_MAX) {
			text_say(err, errlen, "the header section is longer than %u octets",
			         RELAY_REWRITE_HEADER_MAX);
			return -1;
		}
		if (++fields > RELAY_REWRITE_FIELDS_MAX) {
			text_say(err, errlen, "the message has more than %d header fields",
			         RELAY_REWRITE_FIELDS_MAX);
			return -1;
		}
		if (d[off] == ' ' || d[off] == '\t') {
			text_say(err, errlen, "the header section starts with a continuation line");
			return -1;
		}
		/* The field: this line and every line that starts with WSP. */
		end = off;
		for (;;) {
			lf = memchr(d + end, '\n', len - end);
			if (lf == NULL || lf == d + end || lf[-1] != '\r') {
				text_say(err, errlen, "header line at octet %zu does not end in CRLF", end);
				return -1;
			}
			end = (size_t)(lf - d) + 1;
			if (end >= len || (d[end] != ' ' && d[end] != '\t'))
				break;
		}
		colon = start;
		while (colon < end && d[colon] != ':' && d[colon] != '\r')
			colon++;
		if (colon >= end || d[colon] != ':') {
			text_say(err, errlen, "header line at octet %zu has no field name", start);
			return -1;
		}
		if (name_is(d + start, colon - start, "From")) {
			if (s->nfrom++ == 0) {
				s->from_start = start;
				s->from_value = colon + 1;
				s->from_end = end;
			}
		} else if (name_is(d + start, colon - start, "Reply-To")) {
			s->reply_to = 1;
		}
		off = end;
	}
	return 0;
}

/* The first mailbox of the From field found by scan_headers. */
static int parse_from(const char *d, const struct scan *s, struct addr *out, char *err,
                      size_t errlen)
{
	size_t vlen = s->from_end - 2 - s->from_value;
	struct addr_list l = { 0 };
	char why[256];
	char *v;
	int rc = -1;

	if (s->from_end - s->from_start > RELAY_REWRITE_FROM_MAX) {
		text_say(err, errlen, "the From field is longer than %d octets",
		         RELAY_REWRITE_FROM_MAX);
		return -1;
	}
	v = hdr_unfold(d + s->from_value, vlen);
	if (v == NULL) {
		text_say(err, errlen, "out of memory");
		return -1;
	}
	if (addr_parse_list(v, &l, why, sizeof(why)) < 0 || l.n == 0) {
		text_say(err, errlen, "the From field '%.200s' holds no usable address%s%s", v,
		         l.n == 0 && why[0] ? ": " : "", l.n == 0 ? why : "");
		goto done;
	}
	*out = l.v[0];
	rc = 0;
done:
	addr_list_free(&l);
	free(v);
	return rc;
}

int relay_rewrite_enforced(const struct conf_relay *r)
{
	static const char *const enforcing[] = { "qq", "qq-starttls", "exmail", "163" };

	for (size_t i = 0; i < sizeof(enforcing) / sizeof(enforcing[0]); i++)
		if (strcmp(r->preset, enforcing[i]) == 0)
			return 1;
	return 0;
}

int relay_rewrite_from_addr(const char *data, size_t len, char *from, size_t fromlen,
                            char *err, size_t errlen)
{
	struct scan s;
	struct addr a;

	if (scan_headers(data, len, &s, err, errlen) < 0)
		return -1;
	if (s.nfrom == 0)
		return 0;
	if (parse_from(data, &s, &a, err, errlen) < 0)
		return -1;
	text_say(from, fromlen, "%s", a.addr);
	return 1;
}

/* Appends the display name as a phrase: encoded words as they are, any
 * other text as a quoted-string (RFC 5322 3.2.4) with \ and " escaped.
 * A name is copied bare only when it holds no RFC 5322 special (3.2.3):
 * an encoded word never does (RFC 2047 5(3)), and a name that came from
 * a quoted-string, such as "=?x?= <other@example.org>,", would otherwise
 * turn into a second mailbox ahead of the account (RELAY-01). */
static void put_phrase(struct buf *b, const char *name)
{
	if (strstr(name, "=?") != NULL && strstr(name, "?=") != NULL &&
	    strpbrk(name, "()<>[]:;@\\,.\"") == NULL) {
		buf_append(b, name, strlen(name));
		return;
	}
	buf_putc(b, '"');
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static int rewrite(const struct conf_relay *r, const struct addr *account, const char *d,
                   size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf b = { 0 };
	struct scan s;
	struct addr from;
	int have_from;

	if (scan_headers(d, len, &s, err, errlen) < 0)
		return -1;
	if (s.nfrom > 1) {
		text_say(err, errlen, "the message has %d From fields; RFC 5322 3.6 allows one",
		         s.nfrom);
		return -1;
	}
	have_from = s.nfrom == 1;
	if (have_from && parse_from(d, &s, &from, err, errlen) < 0)
		return -1;
	if (!have_from) {
		s.from_start = s.from_end = 0;
		from.name[0] = '\0';
	}
	buf_append(&b, d, s.from_start);
	buf_append(&b, "From: ", 6);
	if (from.name[0] != '\0') {
		size_t mark = buf_avail(&b);

		put_phrase(&b, from.name);
		buf_putc(&b, ' ');
		/* Quoting can double a long name: a From line over 998 octets
		 * (RFC 5322 2.1.1, DLV-25) would be refused, so such a name
		 * is left out; the original From is in Reply-To. */
		if (buf_avail(&b) - mark + strlen(account->addr) + 10 > 998)
			buf_truncate(&b, mark);
	}
	buf_putc(&b, '<');
	buf_append(&b, account->addr, strlen(account->addr));
	buf_append(&b, ">\r\n", 3);
	/* The author keeps receiving the answers (RELAY-01). */
	if (have_from && !s.reply_to && strcasecmp(from.addr, account->addr) != 0) {
		buf_append(&b, "Reply-To:", 9);
		buf_append(&b, d + s.from_value, s.from_end - s.from_value);
	}
	buf_append(&b, d + s.from_end, len - s.from_end);
	(void)r;
	*out = buf_steal(&b, outlen);
	if (*out == NULL) {
		text_say(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int relay_rewrite_apply(const struct conf_relay *r, const char *mail_from, const char *data,
                        size_t len, char **out, size_t *outlen, char *eff_from,
                        size_t efflen, char *err, size_t errlen)
{
	struct addr account;
	char why[256], from[ADDR_PATH_MAX];
	int found;

	*out = NULL;
	*outlen = 0;
	if (r->rewrite_from) {
		if (addr_parse_path(r->user, 0, &account, why, sizeof(why)) < 0) {
			text_say(err, errlen, "relay %s: rewrite_from needs user to be the account's "
			         "mail address, and '%s' is not one (%s)", r->name, r->user, why);
			return -1;
		}
		if (rewrite(r, &account, data, len, out, outlen, why, sizeof(why)) < 0) {
			text_say(err, errlen, "relay %s: cannot rewrite From: %s", r->name, why);
			return -1;
		}
		text_say(eff_from, efflen, "%s", account.addr);
		return 0;
	}
	text_say(eff_from, efflen, "%s", mail_from);
	if (!relay_rewrite_enforced(r))
		return 0;
	found = relay_rewrite_from_addr(data, len, from, sizeof(from), why, sizeof(why));
	if (found < 0) {
		text_say(err, errlen, "relay %s: %s", r->name, why);
		return -1;
	}
	if (found == 0 || strcasecmp(from, r->user) != 0 || strcasecmp(mail_from, r->user) != 0) {
		char what[700];

		if (found == 0)
			text_say(what, sizeof(what), "the message has no From field");
		else if (strcasecmp(from, r->user) != 0)
			text_say(what, sizeof(what), "the From address is %s", from);
		else
			text_say(what, sizeof(what), "the envelope sender is %s",
			         mail_from[0] ? mail_from : "<> (null)");
		text_say(err, errlen, "relay %s (preset %s) accepts only mail from its account %s "
		         "(it answers 501 \"mail from address must be same as authorization user\" "
		         "otherwise), but %s; nothing was sent. Fix: add 'rewrite_from yes' to the "
		         "relay %s section (From becomes the account with the original name, the "
		         "original address goes to Reply-To), or send with --from %s", r->name,
		         r->preset, r->user, what, r->name, r->user);
		return -1;
	}
	return 0;
}
