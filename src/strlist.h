/*
 * strlist: a growable list of owned strings (warnings, reasons).
 */
#ifndef MXSEND_STRLIST_H
#define MXSEND_STRLIST_H

#include <stddef.h>

#define STRLIST_MAX 64 /* entries kept; later additions are counted only */

struct strlist {
	char **v;       /* the strings, each owned by the list */
	size_t n;       /* how many */
	size_t dropped; /* additions past STRLIST_MAX */
};

/* Appends a formatted string. Returns 0, or -1 when out of memory. */
int strlist_addf(struct strlist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* 1 when s is already in the list. */
int strlist_has(const struct strlist *l, const char *s);
/* Frees every string and the array; the list is empty afterwards. */
void strlist_clear(struct strlist *l);

#endif
