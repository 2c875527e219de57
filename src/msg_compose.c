/*
 * msg_compose: a message from parts. See msg_compose.h for the layout and
 * the header policy.
 *
 * Owns, while it runs, the encoded parts; hands the finished struct msg
 * to the caller. Must not read files, look at the clock or draw random
 * numbers (struct msg_stamp brings them), and must not dot-stuff.
 *
 * A part is built as a field list and an encoded body; a multipart is
 * built from its children rendered to text, so the boundary can be
 * checked against everything it will enclose (RFC 2046 5.1.1: the
 * boundary must not appear inside the parts).
 */
#include "config.h"

#include "msg_compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hdr.h"
#include "mime.h"

#define BOUNDARY_TRIES 100 /* suffixes tried when a boundary occurs in a part */

struct part {
	struct hdr_list hdrs; /* its content fields (Content-Type, ...) */
	struct buf body;      /* its encoded content, CRLF line ends */
};

/* A header field value being built. */
struct field {
	struct buf v;       /* the value after the colon */
	struct mime_fold f; /* folding state over v */
};

static void part_free(struct part *p)
{
	hdr_list_free(&p->hdrs);
	buf_free(&p->body);
}

static void field_init(struct field *fl, const char *name)
{
	memset(fl, 0, sizeof(*fl));
	mime_fold_init(&fl->f, &fl->v, strlen(name) + 1);
}

/* Adds the field to l and frees its buffer. */
static int field_add(struct hdr_list *l, const char *name, struct field *fl, char *err,
                     size_t errlen)
{
	int rc = 0;

	if (buf_failed(&fl->v) ||
	    hdr_list_add(l, name, strlen(name), fl->v.data != NULL ? fl->v.data : "", fl->v.len) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	buf_free(&fl->v);
	return rc;
}

/* Prefixes err with what is at fault: "what: reason". */
static void blame(char *err, size_t errlen, const char *what)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err);
	snprintf(err, errlen, "%s: %s", what, why);
}

/* ---------------------------------------------------------- addresses */

static int parse_lists(const char *const *v, size_t n, const char *what, struct addr_list *out,
                       char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		size_t before = out->n;

		if (v[i] == NULL)
			continue;
		if (addr_parse_list(v[i], out, err, errlen) < 0) {
			char why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s '%.200s': %s", what, v[i], why);
			return -1;
		}
		if (out->n == before) {
			snprintf(err, errlen, "%s '%.200s' holds no address", what, v[i]);
			return -1;
		}
	}
	return 0;
}

/* Adds a field holding the addresses of l, comma-separated. */
static int add_list_field(struct hdr_list *h, const char *name, const struct addr_list *l,
                          char *err, size_t errlen)
{
	struct field fl;

	field_init(&fl, name);
	for (size_t i = 0; i < l->n; i++) {
		if ((i > 0 && mime_fold_put(&fl.f, "", 0, ",", 1, err, errlen) < 0) ||
		    addr_fold(&fl.f, &l->v[i], err, errlen) < 0) {
			buf_free(&fl.v);
			blame(err, errlen, name);
			return -1;
		}
	}
	return field_add(h, name, &fl, err, errlen);
}

static int add_unique(struct addr_list *rcpts, const struct addr_list *l, char *err,
                      size_t errlen)
{
	for (size_t i = 0; i < l->n; i++)
		if (addr_list_find(rcpts, l->v[i].addr) < 0 &&
		    addr_list_add(rcpts, &l->v[i], err, errlen) < 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------- extra headers */

struct extra {
	char name[HDR_NAME_MAX + 1]; /* the field name */
	const char *value;           /* the value as given, borrowed */
};

static int name_in(const char *name, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, set[i]) == 0)
			return 1;
	return 0;
}

/* Splits and checks one "Name: value" against the policy in
 * msg_compose.h. seen counts earlier extras by name. */
static int check_extra(const char *h, struct extra *x, const struct extra *prev, size_t nprev,
                       char *err, size_t errlen)
{
	static const char *const own_option[] = { "From", "To", "Cc", "Bcc", "Reply-To",
	                                          "Subject" };
	static const char *const options[] = { "--from", "--to", "--cc", "--bcc", "--reply-to",
	                                       "--subject" };
	static const char *const once[] = { "Date", "Message-ID", "Sender", "In-Reply-To",
	                                    "References" };
	const char *colon = h != NULL ? strchr(h, ':') : NULL;
	size_t nlen;

	if (h == NULL) {
		snprintf(err, errlen, "an extra header is NULL");
		return -1;
	}
	if (colon == NULL) {
		snprintf(err, errlen, "header '%.80s' is not of the form 'Name: value'", h);
		return -1;
	}
	nlen = (size_t)(colon - h);
	if (hdr_check_name(h, nlen, err, errlen) < 0)
		return -1;
	memcpy(x->name, h, nlen);
	x->name[nlen] = '\0';
	x->value = colon + 1;
	if (strcasecmp(x->name, "MIME-Version") == 0 || strncasecmp(x->name, "Content-", 8) == 0) {
		snprintf(err, errlen, "header %s cannot be set: the composer writes the MIME "
		         "structure", x->name);
		return -1;
	}
	if (strcasecmp(x->name, "Return-Path") == 0) {
		snprintf(err, errlen, "header Return-Path cannot be set: the final delivery adds "
		         "it (RFC 5321 4.4)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(own_option) / sizeof(own_option[0]); i++) {
		if (strcasecmp(x->name, own_option[i]) == 0) {
			snprintf(err, errlen, "header %s has its own option (%s)%s", own_option[i],
			         options[i], i == 3 ? "; a Bcc header would show the blind copies" : "");
			return -1;
		}
	}
	if (name_in(x->name, once, sizeof(once) / sizeof(once[0]))) {
		for (size_t i = 0; i < nprev; i++) {
			if (strcasecmp(prev[i].name, x->name) == 0) {
				snprintf(err, errlen, "header %s given twice (RFC 5322 3.6 allows one)",
				         x->name);
				return -1;
			}
		}
	}
	if (strcasecmp(x->name, "Message-ID") == 0) {
		const char *v = x->value;
		size_t n;

		while (*v == ' ' || *v == '\t')
			v++;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n < 5 || v[0] != '<' || v[n - 1] != '>' || memchr(v, '@', n) == NULL ||
		    strcspn(v, " \t") < n) {
			snprintf(err, errlen, "header Message-ID '%.80s' is not of the form "
			         "<left@right> (RFC 5322 3.6.4)", v);
			return -1;
		}
	}
	return 0;
}

static int add_extra(struct hdr_list *h, const struct extra *x, char *err, size_t errlen)
{
	struct field fl;
	char what[HDR_NAME_MAX + 16];

	field_init(&fl, x->name);
	if (mime_fold_text(&fl.f, x->value, strlen(x->value), 0, err, errlen) < 0) {
		buf_free(&fl.v);
		snprintf(what, sizeof(what), "header %s", x->name);
		blame(err, errlen, what);
		return -1;
	}
	return field_add(h, x->name, &fl, err, errlen);
}

/* --------------------------------------------------------------- parts */

static size_t line_of(const char *s, size_t off)
{
	size_t n = 1;

	for (size_t i = 0; i < off; i++)
		if (s[i] == '\n')
			n++;
	return n;
}

/* A text/plain or text/html part. */
static int text_part(struct part *p, const char *subtype, const char *data, size_t len,
                     const char *charset, int utf8, char *err, size_t errlen)
{
	struct buf norm = BUF_INIT;
	struct field fl;
	enum mime_cte cte;
	const char *what = strcmp(subtype, "html") == 0 ? "HTML" : "text";
	char type[32];
	size_t bad;
	int rc = -1;

	if (utf8 && mime_utf8_check(data, len, &bad) < 0) {
		snprintf(err, errlen, "the %s body is not valid UTF-8 (octet %zu, line %zu); give "
		         "its charset", what, bad, line_of(data, bad));
		goto done;
	}
	if (mime_text_crlf(&norm, data, len, err, errlen) < 0) {
		snprintf(type, sizeof(type), "the %s body", what);
		blame(err, errlen, type);
		goto done;
	}
	cte = mime_cte_for_text(norm.data, norm.len);
	snprintf(type, sizeof(type), "text/%s", subtype);
	field_init(&fl, "Content-Type");
	if (mime_fold_put(&fl.f, " ", 1, type, strlen(type), err, errlen) < 0 ||
	    mime_fold_param(&fl.f, "charset", charset, strlen(charset), MIME_PARAM_2231, err,
	                    errlen) < 0) {
		buf_free(&fl.v);
		goto done;
	}
	if (field_add(&p->hdrs, "Content-Type", &fl, err, errlen) < 0)
		goto done;
	field_init(&fl, "Content-Transfer-Encoding");
	mime_fold_put(&fl.f, " ", 1, mime_cte_name(cte), strlen(mime_cte_name(cte)), err, errlen);
	if (field_add(&p->hdrs, "Content-Transfer-Encoding", &fl, err, errlen) < 0)
		goto done;
	if (cte == MIME_CTE_7BIT)
		buf_append(&p->body, norm.data, norm.len);
	else
		mime_qp(&p->body, norm.data, norm.len);
	if (buf_failed(&p->body)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	buf_free(&norm);
	return rc;
}

static int attach_part(struct part *p, const struct msg_attachment *a, char *err, size_t errlen)
{
	const char *type;
	struct field fl;
	size_t nlen;
	char what[224];

	if (a->name == NULL || a->name[0] == '\0') {
		snprintf(err, errlen, "an attachment has no file name");
		return -1;
	}
	nlen = strlen(a->name);
	if (nlen > MSG_ATTACH_NAME_MAX) {
		snprintf(err, errlen, "attachment name '%.60s...' is %zu octets long, the limit is "
		         "%d", a->name, nlen, MSG_ATTACH_NAME_MAX);
		return -1;
	}
	if (strchr(a->name, '/') != NULL) {
		snprintf(err, errlen, "attachment name '%.200s' holds a '/': give the file name "
		         "without its directory", a->name);
		return -1;
	}
	if (a->data == NULL && a->len > 0) {
		snprintf(err, errlen, "attachment '%.200s' has no data", a->name);
		return -1;
	}
	type = a->content_type != NULL ? a->content_type : mime_type_from_name(a->name);
	if (mime_check_type(type, err, errlen) < 0)
		goto blame;
	field_init(&fl, "Content-Type");
	if (mime_fold_put(&fl.f, " ", 1, type, strlen(type), err, errlen) < 0 ||
	    mime_fold_param(&fl.f, "name", a->name, nlen, MIME_PARAM_2047, err, errlen) < 0) {
		buf_free(&fl.v);
		goto blame;
	}
	if (field_add(&p->hdrs, "Content-Type", &fl, err, errlen) < 0)
		return -1;
	field_init(&fl, "Content-Disposition");
	if (mime_fold_put(&fl.f, " ", 1, "attachment", 10, err, errlen) < 0 ||
	    mime_fold_param(&fl.f, "filename", a->name, nlen, MIME_PARAM_2231, err, errlen) < 0) {
		buf_free(&fl.v);
		goto blame;
	}
	if (field_add(&p->hdrs, "Content-Disposition", &fl, err, errlen) < 0)
		return -1;
	field_init(&fl, "Content-Transfer-Encoding");
	mime_fold_put(&fl.f, " ", 1, "base64", 6, err, errlen);
	if (field_add(&p->hdrs, "Content-Transfer-Encoding", &fl, err, errlen) < 0)
		return -1;
	if (mime_base64(&p->body, a->data, a->len, MIME_B64_LINE) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
blame:
	snprintf(what, sizeof(what), "attachment '%.200s'", a->name);
	blame(err, errlen, what);
	return -1;
}

/* Renders a part as it sits inside a multipart: fields, an empty line,
 * the body (a CRLF when it is empty, so the empty line stays the part's
 * own). Frees the part's body. */
static int part_flatten(struct part *p, struct buf *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->hdrs.n; i++) {
		buf_puts(out, p->hdrs.v[i].name);
		buf_putc(out, ':');
		buf_append(out, p->hdrs.v[i].value, p->hdrs.v[i].value_len);
		buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
	if (p->body.len == 0)
		buf_append(out, "\r\n", 2);
	else
		buf_append(out, p->body.data, p->body.len);
	buf_free(&p->body);
	if (buf_failed(out)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Makes a multipart/subtype part from n children (consumed). The boundary
 * is "=_" HEX "_" subtype from the random octets; should "--" boundary
 * occur in a child, ".1", ".2", ... is appended until it does not. The
 * "=_" cannot occur in quoted-printable or base64 output, so only a 7bit
 * text that holds it by design gets there.
 */
static int multipart(struct part *out, const char *subtype, const uint8_t *rnd, size_t nrnd,
                     struct part *children, size_t n, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	struct buf *flat = NULL;
	char base[64], boundary[80], delim[84];
	struct field fl;
	size_t o = 0;
	int rc = -1, found = 0;

	flat = calloc(n, sizeof(*flat));
	if (flat == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (part_flatten(&children[i], &flat[i], err, errlen) < 0)
			goto done;
	base[o++] = '=';
	base[o++] = '_';
	for (size_t i = 0; i < nrnd; i++) {
		base[o++] = hex[rnd[i] >> 4];
		base[o++] = hex[rnd[i] & 0x0f];
	}
	snprintf(base + o, sizeof(base) - o, "_%s", subtype);
	for (int k = 0; k < BOUNDARY_TRIES && !found; k++) {
		if (k == 0)
			snprintf(boundary, sizeof(boundary), "%s", base);
		else
			snprintf(boundary, sizeof(boundary), "%s.%d", base, k);
		snprintf(delim, sizeof(delim), "--%s", boundary);
		found = 1;
		for (size_t i = 0; i < n && found; i++)
			if (flat[i].len > 0 && memmem(flat[i].data, flat[i].len, delim, strlen(delim)))
				found = 0;
	}
	if (!found) {
		snprintf(err, errlen, "no MIME boundary found that the content does not hold");
		goto done;
	}
	field_init(&fl, "Content-Type");
	buf_printf(&fl.v, " multipart/%s", subtype);
	fl.f.col += fl.v.len;
	if (mime_fold_param(&fl.f, "boundary", boundary, strlen(boundary), MIME_PARAM_2231, err,
	                    errlen) < 0) {
		buf_free(&fl.v);
		goto done;
	}
	if (field_add(&out->hdrs, "Content-Type", &fl, err, errlen) < 0)
		goto done;
	/* RFC 2046 5.1.1: the CRLF before each delimiter belongs to it; each
	 * flattened child ends with CRLF, which serves. No preamble. */
	for (size_t i = 0; i < n; i++) {
		buf_printf(&out->body, "%s\r\n", delim);
		buf_append(&out->body, flat[i].data, flat[i].len);
		buf_free(&flat[i]);
	}
	buf_printf(&out->body, "%s--\r\n", delim);
	if (buf_failed(&out->body)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	for (size_t i = 0; flat != NULL && i < n; i++)
		buf_free(&flat[i]);
	free(flat);
	for (size_t i = 0; i < n; i++)
		part_free(&children[i]);
	return rc;
}

/* Builds the body structure into *top (fields and body). */
static int build_body(const struct msg_compose_opts *o, const char *charset, int utf8,
                      struct part *top, char *err, size_t errlen)
{
	const uint8_t *rnd = o->stamp->random + MSG_MSGID_RANDOM;
	size_t nrnd = MSG_RANDOM_LEN - MSG_MSGID_RANDOM;
	struct part *kids = NULL, body = { { NULL, 0, 0 }, BUF_INIT };
	size_t nkids = 0;
	int have_body = 0, rc = -1;

	kids = calloc(o->nattach + 2, sizeof(*kids));
	if (kids == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (o->text != NULL && o->html != NULL) {
		struct part alt[2];

		memset(alt, 0, sizeof(alt));
		if (text_part(&alt[0], "plain", o->text, o->text_len, charset, utf8, err, errlen) < 0 ||
		    text_part(&alt[1], "html", o->html, o->html_len, charset, utf8, err, errlen) < 0) {
			part_free(&alt[0]);
			part_free(&alt[1]);
			goto done;
		}
		if (multipart(&body, "alternative", rnd, nrnd, alt, 2, err, errlen) < 0)
			goto done;
		have_body = 1;
	} else if (o->text != NULL || o->html != NULL || o->nattach == 0) {
		int html = o->text == NULL && o->html != NULL;

		if (text_part(&body, html ? "html" : "plain", html ? o->html : o->text,
		              html ? o->html_len : (o->text != NULL ? o->text_len : 0), charset, utf8,
		              err, errlen) < 0)
			goto done;
		have_body = 1;
	}
	if (o->nattach == 0) {
		*top = body;
		memset(&body, 0, sizeof(body));
		rc = 0;
		goto done;
	}
	if (have_body) {
		kids[nkids++] = body;
		memset(&body, 0, sizeof(body));
	}
	for (size_t i = 0; i < o->nattach; i++) {
		if (attach_part(&kids[nkids], &o->attach[i], err, errlen) < 0) {
			part_free(&kids[nkids]);
			goto done;
		}
		nkids++;
	}
	rc = multipart(top, "mixed", rnd, nrnd, kids, nkids, err, errlen);
	nkids = 0; /* consumed */
done:
	for (size_t i = 0; i < nkids; i++)
		part_free(&kids[i]);
	free(kids);
	part_free(&body);
	return rc;
}

/* ------------------------------------------------------------- compose */

int msg_compose(const struct msg_compose_opts *o, struct msg **out, struct addr_list *rcpts,
                char *err, size_t errlen)
{
	struct addr_list from = { NULL, 0, 0 }, to = { NULL, 0, 0 }, cc = { NULL, 0, 0 },
	                 bcc = { NULL, 0, 0 }, rt = { NULL, 0, 0 };
	struct extra *extras = NULL;
	struct part top = { { NULL, 0, 0 }, BUF_INIT };
	struct msg *m = NULL;
	struct field fl;
	const char *charset = o->charset != NULL ? o->charset : "utf-8";
	const char *date_x = NULL, *msgid_x = NULL;
	char date[MSG_DATE_MAX], msgid[MSG_MSGID_MAX];
	struct addr a;
	int rc = -1;

	*out = NULL;
	if (o->stamp == NULL) {
		snprintf(err, errlen, "no stamp (time, random octets, host name) given");
		goto done;
	}
	if (o->from == NULL) {
		snprintf(err, errlen, "no From address");
		goto done;
	}
	if ((o->nto > 0 && o->to == NULL) || (o->ncc > 0 && o->cc == NULL) ||
	    (o->nbcc > 0 && o->bcc == NULL) || (o->nreply_to > 0 && o->reply_to == NULL) ||
	    (o->nattach > 0 && o->attach == NULL) || (o->nheaders > 0 && o->headers == NULL)) {
		snprintf(err, errlen, "an array of recipients, attachments or headers is NULL "
		         "but its count is not 0");
		goto done;
	}
	if (addr_parse_mailbox(o->from, &a, err, errlen) < 0) {
		blame(err, errlen, "From");
		goto done;
	}
	if (o->from_name != NULL) {
		if (strlen(o->from_name) > ADDR_NAME_MAX) {
			snprintf(err, errlen, "From: display name is longer than %d octets",
			         ADDR_NAME_MAX);
			goto done;
		}
		snprintf(a.name, sizeof(a.name), "%s", o->from_name);
	}
	if (addr_list_add(&from, &a, err, errlen) < 0 ||
	    parse_lists(o->to, o->nto, "To", &to, err, errlen) < 0 ||
	    parse_lists(o->cc, o->ncc, "Cc", &cc, err, errlen) < 0 ||
	    parse_lists(o->bcc, o->nbcc, "Bcc", &bcc, err, errlen) < 0 ||
	    parse_lists(o->reply_to, o->nreply_to, "Reply-To", &rt, err, errlen) < 0)
		goto done;
	if (o->nattach > MSG_ATTACH_MAX) {
		snprintf(err, errlen, "%zu attachments, the limit is %d", o->nattach, MSG_ATTACH_MAX);
		goto done;
	}
	if (o->nheaders > MSG_EXTRA_HEADERS_MAX) {
		snprintf(err, errlen, "%zu extra headers, the limit is %d", o->nheaders,
		         MSG_EXTRA_HEADERS_MAX);
		goto done;
	}
	if (o->charset != NULL) {
		size_t n = strlen(charset);

		if (n == 0 || n > 40 || strspn(charset, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		                                        "qrstuvwxyz0123456789-_.:+") != n) {
			snprintf(err, errlen, "charset '%.60s' is not a charset name", charset);
			goto done;
		}
	}
	extras = calloc(o->nheaders + 1, sizeof(*extras));
	if (extras == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < o->nheaders; i++) {
		if (check_extra(o->headers[i], &extras[i], extras, i, err, errlen) < 0)
			goto done;
		if (strcasecmp(extras[i].name, "Date") == 0)
			date_x = extras[i].value;
		if (strcasecmp(extras[i].name, "Message-ID") == 0)
			msgid_x = extras[i].value;
	}
	if (msg_format_date(o->stamp->time, o->stamp->tz_offset_min, date, err, errlen) < 0 ||
	    msg_format_msgid(o->stamp->random, MSG_MSGID_RANDOM, o->stamp->hostname, msgid, err,
	                     errlen) < 0)
		goto done;
	m = msg_new();
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* RFC 5322 3.6: Date and From are required; the rest as given. */
	if (date_x == NULL) {
		field_init(&fl, "Date");
		mime_fold_put(&fl.f, " ", 1, date, strlen(date), err, errlen);
		if (field_add(&m->hdrs, "Date", &fl, err, errlen) < 0)
			goto done;
	}
	if (add_list_field(&m->hdrs, "From", &from, err, errlen) < 0 ||
	    (rt.n > 0 && add_list_field(&m->hdrs, "Reply-To", &rt, err, errlen) < 0))
		goto done;
	if (to.n > 0 || cc.n > 0) {
		if ((to.n > 0 && add_list_field(&m->hdrs, "To", &to, err, errlen) < 0) ||
		    (cc.n > 0 && add_list_field(&m->hdrs, "Cc", &cc, err, errlen) < 0))
			goto done;
	} else if (hdr_list_add(&m->hdrs, "To", 2, " undisclosed-recipients:;", 25) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (o->subject != NULL) {
		field_init(&fl, "Subject");
		if (mime_fold_text(&fl.f, o->subject, strlen(o->subject), MIME_TEXT_LITERAL, err,
		                   errlen) < 0) {
			buf_free(&fl.v);
			blame(err, errlen, "Subject");
			goto done;
		}
		if (field_add(&m->hdrs, "Subject", &fl, err, errlen) < 0)
			goto done;
	}
	if (msgid_x == NULL) {
		field_init(&fl, "Message-ID");
		mime_fold_put(&fl.f, " ", 1, msgid, strlen(msgid), err, errlen);
		if (field_add(&m->hdrs, "Message-ID", &fl, err, errlen) < 0)
			goto done;
	}
	for (size_t i = 0; i < o->nheaders; i++)
		if (add_extra(&m->hdrs, &extras[i], err, errlen) < 0)
			goto done;
	if (hdr_list_add(&m->hdrs, "MIME-Version", 12, " 1.0", 4) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (build_body(o, charset, o->charset == NULL, &top, err, errlen) < 0)
		goto done;
	for (size_t i = 0; i < top.hdrs.n; i++) {
		if (hdr_list_add(&m->hdrs, top.hdrs.v[i].name, strlen(top.hdrs.v[i].name),
		                 top.hdrs.v[i].value, top.hdrs.v[i].value_len) < 0) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
	}
	m->body_len = top.body.len;
	m->body = top.body.len > 0 ? buf_steal(&top.body, NULL) : NULL;
	if (rcpts != NULL && (add_unique(rcpts, &to, err, errlen) < 0 ||
	                      add_unique(rcpts, &cc, err, errlen) < 0 ||
	                      add_unique(rcpts, &bcc, err, errlen) < 0))
		goto done;
	*out = m;
	m = NULL;
	rc = 0;
done:
	msg_free(m);
	part_free(&top);
	free(extras);
	addr_list_free(&from);
	addr_list_free(&to);
	addr_list_free(&cc);
	addr_list_free(&bcc);
	addr_list_free(&rt);
	return rc;
}
