/*
 * addr: mailbox and path parsing and checks. See addr.h.
 *
 * A small lexer turns the input into RFC 5322 3.2 tokens (atoms, quoted
 * strings, domain literals, specials), skipping comments and white space;
 * a recursive-descent parser reads mailboxes, groups and lists from them.
 * The result is normalised to what SMTP sends: the local part as a
 * dot-string when it can be one (a quoted "john" is john, RFC 5322 3.2.4:
 * the quotes are not part of the value), quoted otherwise (RFC 5321
 * 4.1.2), and the domain as domain_parse returns it.
 *
 * Owns the struct addr_list arrays it grows. Must not resolve names or
 * decide anything about delivery.
 */
#include "config.h"

#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

enum tok_kind {
	TOK_ATOM,    /* run of atext (and UTF-8, RFC 6532 3.2) */
	TOK_QSTR,    /* quoted-string; p/n is the inside, escapes kept */
	TOK_DLIT,    /* domain literal, brackets included */
	TOK_SPECIAL, /* one of < > : ; @ , . */
	TOK_END,
};

struct tok {
	enum tok_kind kind; /* what it is */
	const char *p;      /* its text in the input */
	size_t n;           /* its length */
	int ws_before;      /* white space or a comment came before it */
};

struct lexer {
	const char *s;   /* the input */
	size_t len;      /* its length */
	size_t pos;      /* next octet to read */
	int strict;      /* RFC 5321 path: no comments, no inner white space */
	struct tok cur;  /* the current token */
	char *err;       /* where reasons go */
	size_t errlen;
};

static int is_atext(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Skips white space and comments (RFC 5322 3.2.2). */
static int skip_cfws(struct lexer *lx, int *seen)
{
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];

		if (c == ' ' || c == '\t') {
			*seen = 1;
			lx->pos++;
		} else if (c == '(') {
			int depth = 0;

			if (lx->strict) {
				snprintf(lx->err, lx->errlen, "comments are not allowed in an "
				         "envelope address");
				return -1;
			}
			*seen = 1;
			do {
				c = lx->s[lx->pos];
				if (c == '\\' && lx->pos + 1 < lx->len)
					lx->pos++;
				else if (c == '(')
					depth++;
				else if (c == ')')
					depth--;
				if (depth > ADDR_COMMENT_DEPTH) {
					snprintf(lx->err, lx->errlen, "comments nested more than %d deep",
					         ADDR_COMMENT_DEPTH);
					return -1;
				}
				lx->pos++;
			} while (depth > 0 && lx->pos < lx->len);
			if (depth > 0) {
				snprintf(lx->err, lx->errlen, "unterminated comment (a '(' without "
				         "its ')')");
				return -1;
			}
		} else {
			break;
		}
	}
	return 0;
}

static int next(struct lexer *lx)
{
	struct tok *t = &lx->cur;
	size_t start;
	int ws = 0;
	char c;

	if (skip_cfws(lx, &ws) < 0)
		return -1;
	t->ws_before = ws;
	if (lx->pos >= lx->len) {
		t->kind = TOK_END;
		t->p = lx->s + lx->len;
		t->n = 0;
		return 0;
	}
	start = lx->pos;
	c = lx->s[start];
	if (c == '"' || c == '[') {
		char close = c == '"' ? '"' : ']';

		for (lx->pos++; lx->pos < lx->len && lx->s[lx->pos] != close; lx->pos++) {
			if (lx->s[lx->pos] == '\\')
				lx->pos++;
			else if (c == '[' && lx->s[lx->pos] == '[')
				break;
		}
		if (lx->pos >= lx->len || lx->s[lx->pos] != close) {
			snprintf(lx->err, lx->errlen, "unterminated %s",
			         c == '"' ? "quoted string (a '\"' without its pair)" :
			         "domain literal (a '[' without its ']')");
			return -1;
		}
		lx->pos++;
		t->kind = c == '"' ? TOK_QSTR : TOK_DLIT;
		t->p = c == '"' ? lx->s + start + 1 : lx->s + start;
		t->n = c == '"' ? lx->pos - start - 2 : lx->pos - start;
		return 0;
	}
	if (strchr("<>:;@,.", c) != NULL) {
		lx->pos++;
		t->kind = TOK_SPECIAL;
		t->p = lx->s + start;
		t->n = 1;
		return 0;
	}
	while (lx->pos < lx->len && is_atext((unsigned char)lx->s[lx->pos]))
		lx->pos++;
	if (lx->pos == start) {
		snprintf(lx->err, lx->errlen, "unexpected '%c' at offset %zu", c, start);
		return -1;
	}
	t->kind = TOK_ATOM;
	t->p = lx->s + start;
	t->n = lx->pos - start;
	return 0;
}

static int is_special(const struct tok *t, char c)
{
	return t->kind == TOK_SPECIAL && t->p[0] == c;
}

/* Appends a quoted-string's inside to out (n octets free), escapes
 * removed. Returns the new length or -1 when it does not fit. */
static long unquote(const struct tok *t, char *out, size_t used, size_t cap)
{
	for (size_t i = 0; i < t->n; i++) {
		char c = t->p[i];

		if (c == '\\' && i + 1 < t->n)
			c = t->p[++i];
		if (used + 1 >= cap) {
			out[used] = '\0';
			return -1;
		}
		out[used++] = c;
	}
	out[used] = '\0';
	return (long)used;
}

/* A dot-atom (RFC 5322 3.2.3): atext runs joined by single dots. */
static int is_dot_atom(const char *s)
{
	size_t run = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (run == 0)
				return 0;
			run = 0;
		} else if (is_atext((unsigned char)*s)) {
			run++;
		} else {
			return 0;
		}
	}
	return run > 0;
}

/* Reads local-part "@" domain, the current token being the first of the
 * local part; leaves the token after the domain current. */
static int parse_addr_spec(struct lexer *lx, struct addr *out)
{
	char local[ADDR_LOCAL_MAX * 2 + 8];
	char dom[DOMAIN_INPUT_MAX];
	size_t llen = 0, dlen = 0, wire = 0;
	int want_word = 1, high = 0;
	struct domain_target dt;
	char derr[256];

	local[0] = '\0';
	/* local-part = word *("." word) (RFC 5322 3.4.1, obs-local-part) */
	for (;;) {
		struct tok *t = &lx->cur;

		if (lx->strict && t->ws_before && llen > 0) {
			snprintf(lx->err, lx->errlen, "white space inside an envelope address");
			return -1;
		}
		if (want_word && (t->kind == TOK_ATOM || t->kind == TOK_QSTR)) {
			long r;

			if (t->kind == TOK_ATOM) {
				if (llen + t->n >= sizeof(local))
					goto too_long;
				memcpy(local + llen, t->p, t->n);
				llen += t->n;
				local[llen] = '\0';
			} else {
				r = unquote(t, local, llen, sizeof(local));
				if (r < 0)
					goto too_long;
				llen = (size_t)r;
			}
			want_word = 0;
		} else if (!want_word && is_special(t, '.')) {
			if (llen + 1 >= sizeof(local))
				goto too_long;
			local[llen++] = '.';
			local[llen] = '\0';
			want_word = 1;
		} else if (!want_word && is_special(t, '@')) {
			break;
		} else if (want_word && llen > 0 && is_special(t, '@')) {
			snprintf(lx->err, lx->errlen, "local part '%s' ends with a dot (quote it: "
			         "\"%s\"@...)", local, local);
			return -1;
		} else if (t->kind == TOK_END || is_special(t, ',') || is_special(t, '>') ||
		           is_special(t, ';')) {
			if (llen == 0)
				snprintf(lx->err, lx->errlen, "empty address");
			else if (want_word)
				snprintf(lx->err, lx->errlen, "local part '%s' ends with a dot", local);
			else
				snprintf(lx->err, lx->errlen, "'%s' has no '@domain'", local);
			return -1;
		} else if (is_special(t, '.')) {
			snprintf(lx->err, lx->errlen, "local part '%s.' has an empty part between "
			         "dots (quote it: \"a..b\"@example.com)", local);
			return -1;
		} else if (t->kind == TOK_ATOM || t->kind == TOK_QSTR) {
			snprintf(lx->err, lx->errlen, "local part '%s' is followed by another word "
			         "(a space in a local part must be quoted)", local);
			return -1;
		} else {
			snprintf(lx->err, lx->errlen, "unexpected '%.*s' in the local part '%s'",
			         (int)t->n, t->p, local);
			return -1;
		}
		if (next(lx) < 0)
			return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)local[i];

		/* RFC 5321 4.1.2: qtextSMTP and quoted-pairSMTP are %d32-126 */
		if (c < 0x20 || c == 0x7f) {
			snprintf(lx->err, lx->errlen, "control character 0x%02x in the local part", c);
			return -1;
		}
		if (c >= 0x80)
			high = 1;
	}
	if (high && mime_utf8_check(local, llen, NULL) < 0) {
		snprintf(lx->err, lx->errlen, "local part is not valid UTF-8");
		return -1;
	}
	/* Wire form: dot-string when possible, else a quoted-string. */
	if (is_dot_atom(local)) {
		if (llen > ADDR_LOCAL_MAX)
			goto too_long;
		memcpy(out->local, local, llen + 1);
	} else {
		out->local[wire++] = '"';
		for (size_t i = 0; i < llen; i++) {
			int esc = local[i] == '"' || local[i] == '\\';

			/* this character, its escape, and the closing quote */
			if (wire + (esc ? 2 : 1) + 1 > ADDR_LOCAL_MAX)
				goto too_long;
			if (esc)
				out->local[wire++] = '\\';
			out->local[wire++] = local[i];
		}
		out->local[wire++] = '"';
		out->local[wire] = '\0';
	}
	out->utf8 = high;
	/* domain = dot-atom / domain-literal (RFC 5322 3.4.1) */
	if (next(lx) < 0)
		return -1;
	if (lx->strict && lx->cur.ws_before) {
		snprintf(lx->err, lx->errlen, "white space inside an envelope address");
		return -1;
	}
	if (lx->cur.kind == TOK_DLIT) {
		if (lx->cur.n >= sizeof(dom))
			goto dom_long;
		memcpy(dom, lx->cur.p, lx->cur.n);
		dlen = lx->cur.n;
		if (next(lx) < 0)
			return -1;
	} else {
		int want = 1;

		for (;;) {
			struct tok *t = &lx->cur;

			if (dlen > 0 && t->ws_before && lx->strict) {
				snprintf(lx->err, lx->errlen, "white space inside an envelope address");
				return -1;
			}
			if (want && t->kind == TOK_ATOM) {
				if (dlen + t->n >= sizeof(dom))
					goto dom_long;
				memcpy(dom + dlen, t->p, t->n);
				dlen += t->n;
				want = 0;
			} else if (!want && is_special(t, '.')) {
				if (dlen + 1 >= sizeof(dom))
					goto dom_long;
				dom[dlen++] = '.';
				want = 1;
			} else {
				break;
			}
			if (next(lx) < 0)
				return -1;
		}
		if (dlen == 0) {
			snprintf(lx->err, lx->errlen, "no domain after '%s@'", out->local);
			return -1;
		}
	}
	dom[dlen] = '\0';
	if (domain_parse(dom, &dt, derr, sizeof(derr)) < 0) {
		snprintf(lx->err, lx->errlen, "domain '%.300s': %s", dom, derr);
		return -1;
	}
	if (strlen(dt.name) > ADDR_DOMAIN_MAX)
		goto dom_long;
	snprintf(out->domain, sizeof(out->domain), "%s", dt.name);
	llen = strlen(out->local);
	dlen = strlen(out->domain);
	if (llen + 1 + dlen > ADDR_PATH_MAX - 2) {
		snprintf(lx->err, lx->errlen, "address %s@%s is %zu octets long; a path holds at "
		         "most %d with its angle brackets (RFC 5321 4.5.3.1.3)", out->local,
		         out->domain, llen + 1 + dlen, ADDR_PATH_MAX);
		return -1;
	}
	memcpy(out->addr, out->local, llen);
	out->addr[llen] = '@';
	memcpy(out->addr + llen + 1, out->domain, dlen + 1);
	return 0;
too_long:
	snprintf(lx->err, lx->errlen, "local part '%.80s%s' is longer than %d octets "
	         "(RFC 5321 4.5.3.1.1)", local, strnlen(local, sizeof(local)) > 80 ? "..." : "",
	         ADDR_LOCAL_MAX);
	return -1;
dom_long:
	snprintf(lx->err, lx->errlen, "domain is longer than %d octets (RFC 5321 4.5.3.1.2)",
	         ADDR_DOMAIN_MAX);
	return -1;
}

/* Reads "<" [obs-route] addr-spec ">", '<' being current. */
static int parse_angle(struct lexer *lx, struct addr *out, int allow_null)
{
	if (next(lx) < 0)
		return -1;
	if (is_special(&lx->cur, '>') && allow_null) {
		out->local[0] = out->domain[0] = out->addr[0] = '\0';
		return next(lx);
	}
	/* RFC 5322 4.4 obs-route "@a,@b:" is ignored (RFC 5321 4.1.2 too). */
	if (is_special(&lx->cur, '@') && !lx->strict) {
		while (lx->cur.kind != TOK_END && !is_special(&lx->cur, ':'))
			if (next(lx) < 0)
				return -1;
		if (lx->cur.kind == TOK_END) {
			snprintf(lx->err, lx->errlen, "source route without ':'");
			return -1;
		}
		if (next(lx) < 0)
			return -1;
	}
	if (parse_addr_spec(lx, out) < 0)
		return -1;
	if (!is_special(&lx->cur, '>')) {
		snprintf(lx->err, lx->errlen, "'<%s' is not closed by '>'", out->addr);
		return -1;
	}
	return next(lx);
}

/* Words and dots of a phrase, joined as written: single spaces where
 * there was white space, quoted strings unquoted. */
static int phrase_add(struct lexer *lx, char *name, size_t *nlen)
{
	const struct tok *t = &lx->cur;
	long r;

	if (*nlen > 0 && t->ws_before) {
		if (*nlen + 1 > ADDR_NAME_MAX)
			goto too_long;
		name[(*nlen)++] = ' ';
		name[*nlen] = '\0';
	}
	if (t->kind == TOK_QSTR) {
		r = unquote(t, name, *nlen, ADDR_NAME_MAX + 1);
		if (r < 0)
			goto too_long;
		*nlen = (size_t)r;
		return 0;
	}
	if (*nlen + t->n > ADDR_NAME_MAX)
		goto too_long;
	memcpy(name + *nlen, t->p, t->n);
	*nlen += t->n;
	name[*nlen] = '\0';
	return 0;
too_long:
	snprintf(lx->err, lx->errlen, "display name is longer than %d octets", ADDR_NAME_MAX);
	return -1;
}

/*
 * Reads one address at the current token. A mailbox is stored in *one
 * and *got set to 1; a group's members go to list (which may be NULL when
 * the caller wants a single mailbox: groups are then an error).
 */
static int parse_address(struct lexer *lx, struct addr *one, int *got, struct addr_list *list,
                         int in_group)
{
	struct lexer save = *lx;
	char name[ADDR_NAME_MAX + 1];
	size_t nlen = 0;

	*got = 0;
	memset(one, 0, sizeof(*one));
	name[0] = '\0';
	/* A phrase ends at '<' (name-addr) or ':' (group); anything else
	 * means the words were a local part: start again as addr-spec. */
	while (lx->cur.kind == TOK_ATOM || lx->cur.kind == TOK_QSTR || is_special(&lx->cur, '.')) {
		if (phrase_add(lx, name, &nlen) < 0)
			return -1;
		if (next(lx) < 0)
			return -1;
	}
	if (is_special(&lx->cur, '<')) {
		if (parse_angle(lx, one, 0) < 0)
			return -1;
		if (mime_utf8_check(name, nlen, NULL) < 0) {
			snprintf(lx->err, lx->errlen, "display name of %s is not valid UTF-8", one->addr);
			return -1;
		}
		memcpy(one->name, name, nlen + 1);
		*got = 1;
		return 0;
	}
	if (is_special(&lx->cur, ':') && nlen > 0) {
		if (in_group || list == NULL) {
			snprintf(lx->err, lx->errlen, "group '%s:' %s", name,
			         in_group ? "inside a group" : "where one address is expected");
			return -1;
		}
		if (next(lx) < 0)
			return -1;
		/* group-list = mailbox-list / CFWS / obs-group-list */
		for (;;) {
			struct addr member;
			int mgot;

			if (is_special(&lx->cur, ';'))
				return next(lx);
			if (lx->cur.kind == TOK_END)
				return 0; /* tolerated: group without ';' */
			if (is_special(&lx->cur, ',')) {
				if (next(lx) < 0)
					return -1;
				continue;
			}
			if (parse_address(lx, &member, &mgot, NULL, 1) < 0)
				return -1;
			if (mgot && addr_list_add(list, &member, lx->err, lx->errlen) < 0)
				return -1;
			if (!is_special(&lx->cur, ',') && !is_special(&lx->cur, ';') &&
			    lx->cur.kind != TOK_END) {
				snprintf(lx->err, lx->errlen, "unexpected '%.*s' after %s in group '%s'",
				         (int)lx->cur.n, lx->cur.p, member.addr, name);
				return -1;
			}
		}
	}
	*lx = save;
	if (parse_addr_spec(lx, one) < 0)
		return -1;
	*got = 1;
	return 0;
}

static void lexer_init(struct lexer *lx, const char *s, int strict, char *err, size_t errlen)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->len = strlen(s);
	lx->strict = strict;
	lx->err = err;
	lx->errlen = errlen;
}

/* CR, LF and the other controls are refused before parsing (SEC-05): a
 * header value reaches here unfolded, an option never holds them. */
static int check_controls(const char *s, char *err, size_t errlen)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(err, errlen, "control character 0x%02x at offset %zu%s", c, i,
			         c == '\r' || c == '\n' ? " (CR and LF are refused in addresses)" : "");
			return -1;
		}
	}
	return 0;
}

int addr_parse_mailbox(const char *s, struct addr *out, char *err, size_t errlen)
{
	struct lexer lx;
	int got;

	memset(out, 0, sizeof(*out));
	if (check_controls(s, err, errlen) < 0)
		return -1;
	lexer_init(&lx, s, 0, err, errlen);
	if (next(&lx) < 0)
		return -1;
	if (lx.cur.kind == TOK_END) {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (parse_address(&lx, out, &got, NULL, 0) < 0)
		return -1;
	if (lx.cur.kind != TOK_END) {
		snprintf(err, errlen, "unexpected '%.*s' after %s%s", (int)lx.cur.n, lx.cur.p,
		         out->addr, is_special(&lx.cur, ',') ? " (one address expected)" : "");
		return -1;
	}
	return 0;
}

int addr_parse_list(const char *s, struct addr_list *out, char *err, size_t errlen)
{
	struct lexer lx;

	if (check_controls(s, err, errlen) < 0)
		return -1;
	lexer_init(&lx, s, 0, err, errlen);
	if (next(&lx) < 0)
		return -1;
	while (lx.cur.kind != TOK_END) {
		struct addr one;
		int got;

		if (is_special(&lx.cur, ',')) {
			if (next(&lx) < 0)
				return -1;
			continue;
		}
		if (parse_address(&lx, &one, &got, out, 0) < 0)
			return -1;
		if (got && addr_list_add(out, &one, err, errlen) < 0)
			return -1;
		if (lx.cur.kind != TOK_END && !is_special(&lx.cur, ',')) {
			snprintf(err, errlen, "unexpected '%.*s' after %s (addresses are separated "
			         "by commas)", (int)lx.cur.n, lx.cur.p, got ? one.addr : "a group");
			return -1;
		}
	}
	return 0;
}

int addr_parse_path(const char *s, int allow_null, struct addr *out, char *err, size_t errlen)
{
	struct lexer lx;

	memset(out, 0, sizeof(*out));
	if (check_controls(s, err, errlen) < 0)
		return -1;
	lexer_init(&lx, s, 1, err, errlen);
	if (next(&lx) < 0)
		return -1;
	if (lx.cur.kind == TOK_END) {
		if (allow_null)
			return 0;
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (is_special(&lx.cur, '<')) {
		if (parse_angle(&lx, out, allow_null) < 0)
			return -1;
	} else if (parse_addr_spec(&lx, out) < 0) {
		return -1;
	}
	if (lx.cur.kind != TOK_END) {
		snprintf(err, errlen, "unexpected '%.*s' after %s", (int)lx.cur.n, lx.cur.p,
		         out->addr[0] != '\0' ? out->addr : "<>");
		return -1;
	}
	if (allow_null == 0 && out->addr[0] == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	return 0;
}

int addr_list_add(struct addr_list *l, const struct addr *a, char *err, size_t errlen)
{
	if (l->n >= ADDR_LIST_MAX) {
		snprintf(err, errlen, "more than %d addresses", ADDR_LIST_MAX);
		return -1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 8;
		struct addr *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *a;
	return 0;
}

long addr_list_find(const struct addr_list *l, const char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].addr, addr) == 0)
			return (long)i;
	return -1;
}

void addr_list_free(struct addr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

int addr_fold(struct mime_fold *f, const struct addr *a, char *err, size_t errlen)
{
	char angle[ADDR_PATH_MAX + 1];
	int n;

	if (a->name[0] == '\0')
		return mime_fold_put(f, " ", 1, a->addr, strlen(a->addr), err, errlen);
	if (mime_fold_phrase(f, a->name, strlen(a->name), err, errlen) < 0)
		return -1;
	n = snprintf(angle, sizeof(angle), "<%s>", a->addr);
	return mime_fold_put(f, " ", 1, angle, (size_t)n, err, errlen);
}
