/*
 * buf: a growable byte buffer with an explicit length (bytes may be NUL).
 * The buffer owns data; buf_free releases it. A buffer that failed to grow
 * is left as it was and the call returns -1.
 */
#ifndef MXSEND_BUF_H
#define MXSEND_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* len bytes, then a NUL that is not counted */
	size_t len;   /* bytes in use */
	size_t cap;   /* bytes allocated */
	size_t off;   /* consumed bytes at the front, not yet moved away */
};

int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes not yet consumed. */
static inline const char *buf_head(const struct buf *b) { return b->data ? b->data + b->off : ""; }
static inline size_t buf_avail(const struct buf *b) { return b->len - b->off; }
/* Drops n bytes from the front (n <= buf_avail). */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
