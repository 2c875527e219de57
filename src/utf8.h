/*
 * utf8: making outside text safe for JSON. Server replies may carry any
 * bytes (QQ answers some logins in GBK); jansson refuses invalid UTF-8,
 * and a JSON document must never lose a recipient over it.
 */
#ifndef MXSEND_UTF8_H
#define MXSEND_UTF8_H

#include <stddef.h>

/* Replaces, in place, every byte of s that is not part of a well-formed
 * UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF) with '?'. Returns how many bytes it replaced. */
size_t utf8_sanitize(char *s);

#endif
