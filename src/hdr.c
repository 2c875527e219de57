/*
 * hdr: the header field list. See hdr.h.
 *
 * Owns the names, values and array of a struct hdr_list. Must not parse
 * or encode values: msg.c splits a header section into fields, mime.c
 * encodes and folds composed values.
 */
#include "config.h"

#include "hdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hdr_check_name(const char *name, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "empty header name");
		return -1;
	}
	if (len > HDR_NAME_MAX) {
		snprintf(err, errlen, "header name '%.40s...' is %zu characters long, the limit "
		         "is %d", name, len, HDR_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 33 || c > 126 || c == ':') {
			snprintf(err, errlen, "header name '%.*s' holds %s 0x%02x; a name is printable "
			         "ASCII without ':' or space (RFC 5322 3.6.8)", (int)len, name,
			         c == ' ' ? "a space" : c == ':' ? "':'" : "the octet", c);
			return -1;
		}
	}
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int hdr_list_add(struct hdr_list *l, const char *name, size_t nlen, const char *value,
                 size_t vlen)
{
	char *n = NULL, *v = NULL;
	int rc = -1;

	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 16;
		struct hdr_field *nv = realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			goto done;
		l->v = nv;
		l->cap = cap;
	}
	n = dup_n(name, nlen);
	v = dup_n(value, vlen);
	if (n == NULL || v == NULL)
		goto done;
	l->v[l->n].name = n;
	l->v[l->n].value = v;
	l->v[l->n].value_len = vlen;
	l->n++;
	n = v = NULL;
	rc = 0;
done:
	free(n);
	free(v);
	return rc;
}

long hdr_list_find(const struct hdr_list *l, const char *name, size_t from)
{
	for (size_t i = from; i < l->n; i++)
		if (strcasecmp(l->v[i].name, name) == 0)
			return (long)i;
	return -1;
}

size_t hdr_list_count(const struct hdr_list *l, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].name, name) == 0)
			n++;
	return n;
}

size_t hdr_list_remove(struct hdr_list *l, const char *name)
{
	size_t kept = 0, removed = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (strcasecmp(l->v[i].name, name) == 0) {
			free(l->v[i].name);
			free(l->v[i].value);
			removed++;
			continue;
		}
		l->v[kept++] = l->v[i];
	}
	l->n = kept;
	return removed;
}

void hdr_list_free(struct hdr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

char *hdr_unfold(const char *value, size_t len)
{
	char *out = malloc(len + 1);
	size_t o = 0, start;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r' && i + 2 < len && value[i + 1] == '\n' &&
		    (value[i + 2] == ' ' || value[i + 2] == '\t')) {
			i++;
			continue;
		}
		if (value[i] == '\n' && i + 1 < len && (value[i + 1] == ' ' || value[i + 1] == '\t'))
			continue;
		out[o++] = value[i];
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	for (start = 0; out[start] == ' ' || out[start] == '\t'; start++)
		;
	if (start > 0)
		memmove(out, out + start, o - start + 1);
	return out;
}
