/*
 * addr: mail addresses, as a user types them and as headers hold them.
 *
 * Parses RFC 5322 3.4 mailboxes ("Name <local@domain>", "local@domain",
 * comments and quoted local parts), address lists with group syntax
 * tolerated ("A <a@x>, b@y, team: c@z;"), and RFC 5321 4.1.2 paths
 * ("<a@x>", "<>"); checks each address against what SMTP can carry (no
 * CR, LF or other controls: SEC-05; local part at most 64 octets, domain
 * 255, path 256: RFC 5321 4.5.3.1, DLV-25); puts the domain through
 * domain_parse, so an internationalised domain becomes its A-label and
 * the address needs no SMTPUTF8 unless its local part is non-ASCII
 * (EXT-04). Formats a mailbox back into a header through mime's folder.
 *
 * Pure: no DNS, no globals. Errors are a reason in err (at most errlen
 * octets) and a -1 return.
 */
#ifndef MXSEND_ADDR_H
#define MXSEND_ADDR_H

#include <stddef.h>

#include "mime.h"

#define ADDR_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1, octets, as sent */
#define ADDR_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX 256   /* RFC 5321 4.5.3.1.3, with the angle brackets */
#define ADDR_NAME_MAX 512   /* display name octets kept, as written */
#define ADDR_LIST_MAX 10000 /* addresses in one struct addr_list (SEC-10) */
#define ADDR_COMMENT_DEPTH 32 /* nested comments */

struct addr {
	char name[ADDR_NAME_MAX + 1];     /* display name, unquoted, "" when none; as
	                                     written (encoded-words are not decoded) */
	char local[ADDR_LOCAL_MAX + 1];   /* local part in RFC 5321 form: a dot-string,
	                                     or a quoted-string with its quotes */
	char domain[ADDR_DOMAIN_MAX + 1]; /* A-label host name, lower case, or an
	                                     address literal "[192.0.2.1]"; "" for <> */
	char addr[ADDR_PATH_MAX - 1];     /* local@domain, what goes between < and > in
	                                     MAIL FROM / RCPT TO; "" for the null path */
	int utf8;                         /* the local part is non-ASCII: needs SMTPUTF8
	                                     (RFC 6531) and UTF-8 headers (RFC 6532) */
};

struct addr_list {
	struct addr *v; /* the addresses, owned */
	size_t n;       /* how many */
	size_t cap;     /* allocated */
};

/* Parses one mailbox: "local@domain" or "Display Name <local@domain>"
 * (RFC 5322 3.4, comments and folding white space allowed, obsolete
 * source routes ignored). Returns 0, or -1 with a reason. */
int addr_parse_mailbox(const char *s, struct addr *out, char *err, size_t errlen);

/* Parses an address list (a header value, unfolded, or an option that
 * may hold several addresses separated by commas) and appends each
 * mailbox to out. Groups ("name: a@x, b@y;") contribute their members;
 * their names are dropped; an empty group ("undisclosed-recipients:;")
 * contributes nothing. Empty elements (",,") are skipped (RFC 5322 4.4).
 * Returns 0, or -1 with a reason naming the address; out then holds what
 * was appended before the error (the caller frees it either way). */
int addr_parse_list(const char *s, struct addr_list *out, char *err, size_t errlen);

/* Parses an envelope path as MAIL FROM or RCPT TO carry it (RFC 5321
 * 4.1.2): "local@domain" or "<local@domain>", no display name, no
 * comments; with allow_null, "<>" and "" give the null reverse path
 * (out->addr == ""). Returns 0, or -1 with a reason. */
int addr_parse_path(const char *s, int allow_null, struct addr *out, char *err, size_t errlen);

/* Appends a copy of a. Returns 0, or -1 with a reason (memory, or more
 * than ADDR_LIST_MAX addresses). */
int addr_list_add(struct addr_list *l, const struct addr *a, char *err, size_t errlen);

/* Index of the first address equal to addr (exact match: the domain is
 * lower case already, the local part is case-sensitive per RFC 5321 2.4),
 * or -1. */
long addr_list_find(const struct addr_list *l, const char *addr);

/* Frees the array; the list is empty afterwards. */
void addr_list_free(struct addr_list *l);

/* Appends a mailbox to a header value being folded: " Name <a@x>" with
 * the name encoded as a phrase (mime_fold_phrase), or " a@x" without one.
 * Returns 0, or -1 with a reason. */
int addr_fold(struct mime_fold *f, const struct addr *a, char *err, size_t errlen);

#endif
