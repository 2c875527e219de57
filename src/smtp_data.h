/*
 * smtp_data: the message as it goes on the wire after DATA. Pure.
 *
 * Dot-stuffing belongs to the SMTP transport, never to the composer
 * (STYLE.md): libcurl stuffs on its own on the relay path.
 */
#ifndef MXSEND_SMTP_DATA_H
#define MXSEND_SMTP_DATA_H

#include <stddef.h>

#include "buf.h"

/* Appends msg (len bytes) to out dot-stuffed (RFC 5321 4.5.2: a line that
 * starts with '.' gets one more), ending with CRLF "." CRLF (a CRLF is
 * added when msg does not end with one). msg must use CRLF line ends: a
 * bare CR or LF makes it fail with -1 and the offset of the byte in
 * *bad_offset (SMTP smuggling defence, DLV-23). Returns 0, or -1 (also when
 * out of memory: then *bad_offset is (size_t)-1). */
int smtp_data_stuff(const char *msg, size_t len, struct buf *out, size_t *bad_offset);

#endif
