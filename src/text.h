/*
 * text: formatting into fixed buffers where cutting is the intent.
 *
 * Messages built from outside text (server replies, paths) go into fixed
 * arrays; snprintf with a "%s" of a larger array draws -Wformat-truncation
 * although cutting at the buffer's end is exactly what is wanted. One
 * helper says so once instead of a copy per file.
 */
#ifndef MXSEND_TEXT_H
#define MXSEND_TEXT_H

#include <stddef.h>

/* vsnprintf into buf: always NUL-terminated, cut at len - 1 octets. */
void text_say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
