/*
 * msg: an RFC 5322 message: header fields and a body, always with CRLF
 * line ends.
 *
 *   msg_parse    reads a whole message (stdin or a file, read by the
 *                caller) with hard limits; LF or CRLF in, CRLF out
 *   msg_prepare  what a submission agent adds before sending: Date,
 *                Message-ID and From when missing, -t recipients from
 *                To/Cc/Bcc, Bcc removed
 *   msg_render   the bytes for the wire (before dot-stuffing, which is
 *                the SMTP transport's: the message layer never stuffs)
 *   msg_info     facts the transport needs: 8-bit body (BODY=8BITMIME),
 *                8-bit headers (SMTPUTF8), longest line, size (SIZE=)
 *   msg_encode_7bit  re-encodes a simple 8-bit body as quoted-printable
 *                for a server without 8BITMIME (EXT-03)
 *
 * Composing a message from parts is msg_compose.h.
 *
 * Policies (and why):
 *   - A bare CR (not followed by LF) is refused in the headers always,
 *     and in the body unless limits.bare_cr_to_crlf asks to turn it into
 *     CRLF. CR-only line ends are long gone and a lone CR is what SMTP
 *     smuggling hides an end-of-data in (SEC-04); refusing names the line
 *     instead of guessing.
 *   - A line over 998 octets (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6) is
 *     refused with its line number, not re-encoded or wrapped: the
 *     message may be signed or structured, and re-encoding one part of
 *     it would break either (DLV-25 asks for the fix before queuing; the
 *     fix for a parsed message is the author's).
 *   - NUL anywhere, a header line without ':', white space before the
 *     first field, and a missing empty line between headers and body are
 *     refused (exit 65 in the CLI). An mbox "From " line at the very
 *     start is dropped: it is an envelope marker, not a header.
 *   - Parsed fields are re-sent as written, folding included, except
 *     obsolete white space before a field's colon ("Subject : x"), which
 *     is accepted and dropped (RFC 5322 4: obsolete syntax is read, never
 *     generated).
 *   - -t reads To, Cc and Bcc only (Resent-* fields are not used).
 *
 * Pure: no I/O, no clock, no randomness except through struct msg_stamp.
 * Errors are a reason in err (at most errlen octets) and -1.
 */
#ifndef MXSEND_MSG_H
#define MXSEND_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "hdr.h"

#define MSG_SIZE_MAX_DEFAULT (64u * 1024u * 1024u) /* whole message, octets */
#define MSG_HEADERS_MAX_DEFAULT 1000               /* header fields */
#define MSG_HEADER_SIZE_MAX_DEFAULT (1024u * 1024u) /* header section, octets */
#define MSG_DATE_MAX 40     /* "Thu, 13 Feb 1969 23:32:54 -0330" and a NUL, with room */
#define MSG_MSGID_RANDOM 16 /* random octets in a Message-ID (128 bits) */
#define MSG_RANDOM_LEN 28   /* struct msg_stamp.random: 16 for the Message-ID,
                               12 for MIME boundaries */
#define MSG_MSGID_MAX 300   /* "<" 32 hex "@" host ">" and a NUL, with room */

/* Limits for msg_parse; zero a field for its default. */
struct msg_limits {
	size_t max_size;        /* whole message, octets; 0 = MSG_SIZE_MAX_DEFAULT */
	size_t max_headers;     /* header fields; 0 = MSG_HEADERS_MAX_DEFAULT */
	size_t max_header_size; /* header section, octets; 0 = MSG_HEADER_SIZE_MAX_DEFAULT */
	int bare_cr_to_crlf;    /* 1: a bare CR in the body becomes CRLF; 0: refused */
};

struct msg {
	struct hdr_list hdrs; /* header fields in order, owned */
	char *body;           /* the body, CRLF line ends, ending with CRLF unless
	                         empty; NUL-terminated; owned; NULL when empty */
	size_t body_len;      /* octets in body */
};

/* What the outside world gives a message: the time for Date, random
 * octets for Message-ID and MIME boundaries, the host name for
 * Message-ID. Injected so that tests are exact (STYLE.md principle 5). */
struct msg_stamp {
	int64_t time;                   /* seconds since 1970-01-01 UTC */
	int tz_offset_min;              /* local zone, minutes east of UTC, -1439..1439 */
	uint8_t random[MSG_RANDOM_LEN]; /* from a good random source */
	const char *hostname;           /* right side of Message-ID: a dot-atom (a
	                                   host name); not owned */
};

/* Facts about a message as msg_render would write it. */
struct msg_info {
	int body_8bit;   /* an octet >= 0x80 in the body: needs BODY=8BITMIME
	                    (RFC 6152) or msg_encode_7bit (EXT-03, DLV-26) */
	int header_8bit; /* an octet >= 0x80 in a header: UTF-8 headers need
	                    SMTPUTF8 (RFC 6531, 6532; EXT-04) */
	size_t max_line; /* octets in the longest line, CRLF excluded */
	size_t size;     /* octets msg_render produces (for SIZE=, RFC 1870) */
};

/* An empty message (no fields, no body), or NULL when out of memory. */
struct msg *msg_new(void);

/* Frees m and everything in it; NULL is allowed. */
void msg_free(struct msg *m);

/* Parses len octets into a new message in *out (the caller frees it
 * with msg_free). lim may be NULL for the defaults. Returns 0, or -1
 * with a reason naming the line (and the header) at fault; *out is then
 * NULL. Covers DLV-23, DLV-25, SEC-04, SEC-10. */
int msg_parse(const void *data, size_t len, const struct msg_limits *lim, struct msg **out,
              char *err, size_t errlen);

/* Submission fix-ups, in this order:
 *   1. rcpts != NULL (-t): the addresses of every To, Cc and Bcc field
 *      are appended to rcpts, each once; a field that does not parse is
 *      an error naming it;
 *   2. every Bcc field is removed (RFC 5322 3.6.3: "the Bcc: line is
 *      removed");
 *   3. Date, then Message-ID, then From are appended when missing; From
 *      is the envelope sender (no display name); when sender is NULL or
 *      the null path, a missing From is an error.
 * Returns 0, or -1 with a reason. On error m may have lost its Bcc
 * fields and rcpts may hold some addresses. */
int msg_prepare(struct msg *m, const struct msg_stamp *stamp, const struct addr *sender,
                struct addr_list *rcpts, char *err, size_t errlen);

/* Renders m into a new buffer in *out (the caller frees it) of *outlen
 * octets, NUL-terminated: each field as name ":" value CRLF, an empty
 * line, the body. Checks what it writes: a bare CR or LF, a line over
 * 998 octets, or a header line break not followed by white space (which
 * would start a field nobody asked for: SEC-05) is an error, so no such
 * bytes ever reach the transport (DLV-23, SEC-04). Returns 0, or -1
 * with a reason. */
int msg_render(const struct msg *m, char **out, size_t *outlen, char *err, size_t errlen);

/* Fills info. Never fails. */
void msg_info(const struct msg *m, struct msg_info *info);

/* For a server without 8BITMIME: when the body has 8-bit octets and the
 * message is a single part (no Content-Type, or a type other than
 * multipart/ and message/) with Content-Transfer-Encoding absent, 7bit,
 * 8bit or binary, encodes the body as quoted-printable and sets
 * Content-Transfer-Encoding (and MIME-Version when missing). A body
 * without 8-bit octets is left alone. Breaks a DKIM signature that
 * covers the body. Returns 0, or -1 with a reason when the message
 * cannot be converted (multipart, message, encoded already): the
 * transport then bounces with 5.6.3 (EXT-03). */
int msg_encode_7bit(struct msg *m, char *err, size_t errlen);

/* Writes an RFC 5322 3.3 date-time for t seconds since the epoch in the
 * zone tz_offset_min minutes east of UTC, e.g. "Thu, 1 Jan 1970 08:00:00
 * +0800". Returns 0, or -1 with a reason (offset out of range, year
 * before 1900 or after 9999). */
int msg_format_date(int64_t t, int tz_offset_min, char out[MSG_DATE_MAX], char *err,
                    size_t errlen);

/* Writes a Message-ID (RFC 5322 3.6.4) "<HEX@hostname>" from n random
 * octets (1..MSG_MSGID_RANDOM) in lower-case hex. hostname must be a
 * dot-atom of at most 253 octets. Returns 0, or -1 with a reason. */
int msg_format_msgid(const uint8_t *random, size_t n, const char *hostname,
                     char out[MSG_MSGID_MAX], char *err, size_t errlen);

#endif
