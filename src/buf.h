/*
 * buf: a growable byte buffer with an explicit length. The bytes are
 * always followed by a NUL that is not counted in len, so text built in a
 * buf can be used as a C string.
 *
 * Out of memory is sticky: after one failed append every later append
 * does nothing and returns -1, and buf_failed() says so, so a builder can
 * append many pieces and check once at the end.
 */
#ifndef MXSEND_BUF_H
#define MXSEND_BUF_H

#include <stddef.h>

struct buf {
	char *data;  /* the bytes, NUL-terminated, owned; NULL until the first append */
	size_t len;  /* bytes used, without the NUL */
	size_t cap;  /* bytes allocated */
	int failed;  /* an allocation failed; the contents are incomplete */
	size_t off;  /* bytes consumed at the front (buf_consume), not yet moved;
	                0 for a buffer that is only ever appended to */
};

#define BUF_INIT { NULL, 0, 0, 0, 0 }

/* Appends n bytes. Returns 0, or -1 when out of memory (now or earlier). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a C string. Same returns. */
int buf_puts(struct buf *b, const char *s);
/* Appends one byte. Same returns. */
int buf_putc(struct buf *b, char c);
/* Appends formatted text. Same returns. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when an append failed since the buffer was initialised. */
int buf_failed(const struct buf *b);
/* Hands the bytes to the caller, who frees them with free(); *len gets
 * the length (len may be NULL). Returns NULL when an append failed (the
 * buffer is then freed). Never NULL for a buffer that had no failure: an
 * empty buffer gives an allocated "". The buffer is empty afterwards. */
char *buf_steal(struct buf *b, size_t *len);
/* Frees the bytes; the buffer is empty and usable afterwards. */
void buf_free(struct buf *b);

/* For a buffer read from the front (a receive or send queue): the bytes
 * not yet consumed, how many there are, and dropping n of them from the
 * front (n <= buf_avail). Consumed bytes are moved away lazily, so a
 * reader that takes small pieces does not move memory each time. */
const char *buf_head(const struct buf *b);
size_t buf_avail(const struct buf *b);
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer and forgets an earlier failure; keeps the memory. */
void buf_reset(struct buf *b);
/* Drops what was appended after the first avail unconsumed bytes (a
 * piece that turned out not to fit); nothing when avail is not less. */
void buf_truncate(struct buf *b, size_t avail);

#endif
