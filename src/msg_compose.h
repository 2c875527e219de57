/*
 * msg_compose: builds a message from parts, what `mxsend send --from
 * --to --subject --text --html --attach --header` asks for (and what the
 * Go program in seed/ does with gomail: a From with a display name,
 * several To, a Subject, an HTML body).
 *
 * The result is 7-bit clean unless an address has a non-ASCII local part
 * (then msg_info says header_8bit: it needs SMTPUTF8), has no line over
 * 998 octets, CRLF only, and is never dot-stuffed (the transport's job):
 *
 *   header fields, in this order: Date, From, Reply-To, To, Cc, Subject,
 *   Message-ID, the extra headers as given, MIME-Version: 1.0, then the
 *   content fields of a single part or the multipart/ Content-Type.
 *   Structure: text and/or HTML; both make multipart/alternative (text
 *   first, HTML preferred: RFC 2046 5.1.4); attachments make
 *   multipart/mixed with the body first. Text parts are
 *   "text/plain; charset=utf-8" (or text/html), 7bit when they are
 *   ASCII with short lines, quoted-printable otherwise; attachments are
 *   base64 with a type from the file name, name= as RFC 2047 words
 *   (what older clients read) and filename*= as RFC 2231 (the standard)
 *   when the name is not ASCII.
 *
 * Header policy for extra headers ("Name: value"):
 *   - the name must be printable ASCII without ':' or space; CR, LF, NUL
 *     and other controls in the value are refused, never stripped
 *     (SEC-05); a non-ASCII value is RFC 2047-encoded as unstructured
 *     text; an ASCII value is kept as given (so encoded words or
 *     structured values pass through), folded at white space;
 *   - MIME-Version, Content-* and Return-Path (RFC 5321 4.4: added at
 *     final delivery) are refused: the composer owns the structure;
 *   - From, To, Cc, Bcc, Reply-To and Subject are refused: each has its
 *     own option, and RFC 5322 3.6 allows each field once (a Bcc field
 *     would also show the blind copies);
 *   - Date, Message-ID, Sender, In-Reply-To and References are accepted
 *     at most once; Date and Message-ID then replace the generated ones;
 *   - any other name may repeat.
 * Bcc addresses go to the envelope only (rcpts), never to a header. With
 * no To and no Cc, "To: undisclosed-recipients:;" is written.
 *
 * Pure: the caller reads files (attachments, bodies) and gives the time,
 * random octets and host name in struct msg_stamp.
 */
#ifndef MXSEND_MSG_COMPOSE_H
#define MXSEND_MSG_COMPOSE_H

#include <stddef.h>

#include "addr.h"
#include "msg.h"

#define MSG_ATTACH_MAX 1000     /* attachments in one message */
#define MSG_ATTACH_NAME_MAX 255 /* octets in an attachment's file name */
#define MSG_EXTRA_HEADERS_MAX 100 /* extra header fields */

struct msg_attachment {
	const char *name;         /* file name the recipient sees, UTF-8, without a
	                             directory; not owned */
	const void *data;         /* the contents; not owned */
	size_t len;               /* octets in data */
	const char *content_type; /* "type/subtype"; NULL = from the name's extension */
};

/* Everything a message is made of. Pointers are borrowed for the call. */
struct msg_compose_opts {
	const char *from;                      /* a mailbox: "a@x" or "Name <a@x>"; required */
	const char *from_name;                 /* display name (UTF-8) replacing from's;
	                                          NULL = keep from's, "" = none */
	const char *const *to;                 /* each an address list ("A <a@x>, b@y") */
	size_t nto;
	const char *const *cc;
	size_t ncc;
	const char *const *bcc;                /* envelope only */
	size_t nbcc;
	const char *const *reply_to;
	size_t nreply_to;
	const char *subject;                   /* UTF-8; NULL = no Subject field */
	const char *text;                      /* text/plain body; NULL = none */
	size_t text_len;
	const char *html;                      /* text/html body; NULL = none */
	size_t html_len;
	const char *charset;                   /* of text and html; NULL = "utf-8",
	                                          and then they must be valid UTF-8 */
	const struct msg_attachment *attach;   /* attachments, in order */
	size_t nattach;
	const char *const *headers;            /* extra fields, "Name: value" each */
	size_t nheaders;
	const struct msg_stamp *stamp;         /* time, random octets, host name; required */
};

/* Composes a message into a new struct msg in *out (free it with
 * msg_free). When rcpts is not NULL, the To, Cc and Bcc addresses are
 * appended to it, each once, in that order: the envelope recipients.
 * With neither text, HTML nor attachments the body is an empty text
 * part. Returns 0, or -1 with a reason that names the field or part at
 * fault; *out is then NULL (rcpts may hold some addresses). Covers
 * DLV-23, DLV-25, DLV-26, EXT-03, SEC-05. */
int msg_compose(const struct msg_compose_opts *o, struct msg **out, struct addr_list *rcpts,
                char *err, size_t errlen);

#endif
