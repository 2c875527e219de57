/*
 * hdr: a message's header fields, in order, as raw text.
 *
 * A field keeps its name as written and its value exactly as it will be
 * sent: everything after the colon, folding CRLFs included, without the
 * final CRLF. Parsed fields are therefore re-sent byte for byte (a DKIM
 * signature over them stays valid; msg.h names the one exception); composed fields are stored already
 * encoded and folded. hdr_unfold gives the value to read.
 *
 * Pure. Errors are a reason in err (at most errlen octets) and -1.
 */
#ifndef MXSEND_HDR_H
#define MXSEND_HDR_H

#include <stddef.h>

#define HDR_NAME_MAX 128 /* octets in a field name; RFC 5322 sets no limit but 998 */

struct hdr_field {
	char *name;       /* field name as written, NUL-terminated, owned */
	char *value;      /* raw value after the colon, folding CRLFs kept, no final
	                     CRLF, NUL-terminated, owned */
	size_t value_len; /* octets in value */
};

struct hdr_list {
	struct hdr_field *v; /* the fields in message order, owned */
	size_t n;            /* how many */
	size_t cap;          /* allocated */
};

/* Checks a field name: 1 to HDR_NAME_MAX printable ASCII characters
 * other than ':' (RFC 5322 3.6.8 ftext: %d33-57 / %d59-126; so no space,
 * no control, no 8-bit). Returns 0, or -1 with a reason. */
int hdr_check_name(const char *name, size_t len, char *err, size_t errlen);

/* Appends a field, copying name (nlen octets) and value (vlen octets, the
 * raw value: the caller has checked and folded it). Returns 0, or -1
 * when out of memory. */
int hdr_list_add(struct hdr_list *l, const char *name, size_t nlen, const char *value,
                 size_t vlen);

/* Index of the first field named name (case-insensitive) at or after
 * index from, or -1. */
long hdr_list_find(const struct hdr_list *l, const char *name, size_t from);

/* Number of fields named name (case-insensitive). */
size_t hdr_list_count(const struct hdr_list *l, const char *name);

/* Removes every field named name (case-insensitive); returns how many. */
size_t hdr_list_remove(struct hdr_list *l, const char *name);

/* Frees every field and the array; the list is empty afterwards. */
void hdr_list_free(struct hdr_list *l);

/* The value to read: the raw value with every line break that is
 * followed by white space removed (RFC 5322 2.2.3) and leading and
 * trailing white space trimmed. Returns a NUL-terminated string the
 * caller frees, or NULL when out of memory. */
char *hdr_unfold(const char *value, size_t len);

#endif
