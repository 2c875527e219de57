/*
 * smtp_reply: the SMTP reply parser and the EHLO capability parser.
 * Pure: bytes in, structs out; no sockets, no clock, no globals, no
 * allocation. Everything a server sends passes through here first, so
 * every limit below is enforced before anything is kept.
 *
 * Use from an event-driven session: after each read, call
 * smtp_reply_parse() on the receive buffer. INCOMPLETE: read more.
 * COMPLETE: handle the reply and drop *consumed octets from the front of
 * the buffer; with PIPELINING more replies may follow in the same buffer,
 * so call it again until it says INCOMPLETE. ERROR: a protocol error
 * (RFC 5321 4.2: unparsable reply, code outside 2xx-5xx, codes that differ
 * within a multi-line reply, a limit exceeded): close the connection and
 * defer (STANDARDS.md section 10).
 *
 * INCOMPLETE is only ever returned for len < SMTP_REPLY_BYTES_MAX, so a
 * receive buffer of SMTP_REPLY_BYTES_MAX octets is always enough and never
 * has to grow. The parser starts from buf[0] on every call; it scans with
 * memchr and copies nothing until the reply is complete, so one call costs
 * O(min(len, SMTP_REPLY_BYTES_MAX)).
 *
 * Covers STANDARDS.md DLV-12 (EHLO keywords), DLV-14 (replies), DLV-15
 * (classes), EXT-08 (enhanced status codes, RFC 2034/3463), SEC-07.
 */
#ifndef MXSEND_SMTP_REPLY_H
#define MXSEND_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* One reply line, code and CRLF included. RFC 5321 4.5.3.1.5 says 512,
 * but 4.5.3.1 asks for no limits where possible and real servers exceed
 * 512 (long policy texts with URLs). 2048 is Postfix's line_length_limit
 * default, which its SMTP client also reads replies with. */
#define SMTP_REPLY_LINE_MAX 2048
/* Lines in one reply. Real EHLO replies have about 20, greeting banners
 * a few dozen; more is an endless "250-" flood (SEC-07). */
#define SMTP_REPLY_LINES_MAX 128
/* Octets of one whole reply, line ends included (SEC-07 suggests 64 KiB);
 * binds before LINES_MAX * LINE_MAX does. Also the receive buffer size
 * a session needs. */
#define SMTP_REPLY_BYTES_MAX 65536
/* Text kept per reply (lines joined with '\n', NUL included). Only whole
 * lines are kept; a reply with more text is marked truncated. Must hold
 * at least one full line, so the first line is always kept. */
#define SMTP_REPLY_TEXT_MAX 8192
/* "5.123.456" and a NUL fit. */
#define SMTP_REPLY_ENH_MAX 16
/* A buffer of this size always holds smtp_reply_one_line()'s result. */
#define SMTP_REPLY_ONE_LINE_MAX (SMTP_REPLY_TEXT_MAX + 16)

enum smtp_reply_status {
	SMTP_REPLY_INCOMPLETE, /* no complete reply at the front yet: read more */
	SMTP_REPLY_COMPLETE,   /* one reply parsed; *consumed octets used */
	SMTP_REPLY_ERROR,      /* protocol error: close the connection */
};

/* One parsed reply. Text is sanitised: octets 0x00-0x1f and 0x7f become
 * '?' (HT becomes SP, RFC 5321 4.2 allows it in text), and the UTF-8 form
 * of the C1 controls (0xc2 0x80-0x9f) becomes "??", so a hostile server
 * cannot put line breaks or terminal escapes into logs. Other 8-bit octets
 * (UTF-8, or GBK as QQ sends in some 535 replies) are kept as they came:
 * text is not necessarily UTF-8 (see eight_bit). */
struct smtp_reply {
	int code;                          /* 200..599, the same on every line */
	char enhanced[SMTP_REPLY_ENH_MAX]; /* RFC 3463 code from the first line's
	                                      text, normalised ("5.1.1"), or "" */
	int enhanced_bad;                  /* the first line's text began like
	                                      x.y.z but was malformed or of
	                                      another class than code; ignored */
	size_t nlines;                     /* lines in the reply, 1.. */
	size_t nkept;                      /* lines whose text is in text */
	uint16_t line_off[SMTP_REPLY_LINES_MAX]; /* start of line i in text */
	size_t textlen;                    /* strlen(text) */
	char text[SMTP_REPLY_TEXT_MAX];    /* each line's text after "ddd-" or
	                                      "ddd ", sanitised, joined by '\n' */
	int truncated;                     /* nkept < nlines: text was full */
	int sanitised;                     /* control octets were replaced */
	int eight_bit;                     /* text has octets >= 0x80 */
	int bare_lf;                       /* a line ended in LF without CR
	                                      (accepted, but a violation) */
};

/* Looks for one complete reply at the front of buf[0..len). buf need not
 * be NUL-terminated and may hold further replies after the first.
 * COMPLETE: *out holds the reply, *consumed the octets it took (its last
 * line end included). INCOMPLETE: *consumed is 0 and *out is unspecified;
 * only returned when len < SMTP_REPLY_BYTES_MAX. ERROR: *consumed is 0, a
 * reason (safe to log: built from sanitised text) of at most errlen octets
 * is in err, and *out is unspecified. A prefix that gives ERROR gives
 * ERROR however many octets follow, and a prefix that gives COMPLETE
 * gives the same reply whatever follows. buf may be NULL when len is 0;
 * err may be NULL when errlen is 0. Nothing is allocated. */
enum smtp_reply_status smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *out,
	size_t *consumed, char *err, size_t errlen);

/* The text of line i of r (i < r->nkept): a pointer into r->text, not
 * NUL-terminated at the line's end, and its length in *len. NULL (and
 * *len 0) when i >= r->nkept. */
const char *smtp_reply_line(const struct smtp_reply *r, size_t i, size_t *len);

/* Writes r on one line for logs, transcripts and DSN Diagnostic-Code:
 * "550 5.1.1 <x@y>: Recipient address rejected: User unknown". Lines are
 * joined by one space; a continuation line's leading copy of the first
 * line's enhanced code is left out; " [...]" ends it when r->truncated.
 * Always NUL-terminates when len > 0; output longer than len - 1 is cut.
 * Returns the length written, excluding the NUL. */
size_t smtp_reply_one_line(const struct smtp_reply *r, char *buf, size_t len);

/* RFC 5321 4.2.1: what the first digit means. */
enum smtp_reply_class {
	SMTP_CLASS_INVALID,      /* not 200..599: a protocol error */
	SMTP_CLASS_POSITIVE,     /* 2yz: done */
	SMTP_CLASS_INTERMEDIATE, /* 3yz: go on (354 after DATA, 334 in AUTH) */
	SMTP_CLASS_TRANSIENT,    /* 4yz: try again later */
	SMTP_CLASS_PERMANENT,    /* 5yz: do not repeat the same request */
	SMTP_CLASS_LAST
};

/* The class of a three-digit code; SMTP_CLASS_INVALID for anything that
 * smtp_reply_parse would not accept. */
enum smtp_reply_class smtp_reply_class(int code);

/* Its name for logs and JSON: "positive", "intermediate", "transient",
 * "permanent", "invalid". Never NULL. */
const char *smtp_reply_class_name(enum smtp_reply_class c);

/* 1 when r, a reply to RCPT, means "too many recipients": 452 or 552 with
 * the enhanced code X.5.3 or the words "too many recipients" in its text.
 * Such a recipient is sent again in a later transaction (DLV-16). */
int smtp_reply_too_many_rcpts(const struct smtp_reply *r);

/* The class of r as a reply to RCPT: as smtp_reply_class(r->code), except
 * that a 552 meaning "too many recipients" is TRANSIENT (RFC 5321
 * 4.5.3.1.10: RFC 821 wrongly listed 552 for it, clients SHOULD treat it
 * as 452; DLV-15). */
enum smtp_reply_class smtp_reply_rcpt_class(const struct smtp_reply *r);

/* ---------------------------------------------------------------- EHLO */

/* SASL mechanisms of the AUTH keyword (RFC 4954), as bits of caps.auth. */
enum smtp_auth_mech {
	SMTP_AUTH_PLAIN = 1u << 0,
	SMTP_AUTH_LOGIN = 1u << 1,
	SMTP_AUTH_CRAM_MD5 = 1u << 2,
	SMTP_AUTH_DIGEST_MD5 = 1u << 3,
	SMTP_AUTH_XOAUTH2 = 1u << 4,
	SMTP_AUTH_OAUTHBEARER = 1u << 5,
	SMTP_AUTH_SCRAM_SHA_1 = 1u << 6,
	SMTP_AUTH_SCRAM_SHA_256 = 1u << 7,
	SMTP_AUTH_GSSAPI = 1u << 8,
	SMTP_AUTH_NTLM = 1u << 9,
	SMTP_AUTH_OTHER = 1u << 15, /* a mechanism not listed above */
};

#define SMTP_CAPS_LINES_MAX 64  /* keyword lines kept for diagnostics */
#define SMTP_CAPS_LINE_MAX 128  /* octets kept of each, NUL included */

/* What a server offers, from its EHLO reply. Keywords match without
 * regard to case (RFC 5321 2.4; DLV-12). Flags are 0 or 1. */
struct smtp_caps {
	char greeting[SMTP_CAPS_LINE_MAX]; /* first line: the server's name and
	                                      free text, not a capability */
	int starttls;            /* STARTTLS (RFC 3207) */
	int pipelining;          /* PIPELINING (RFC 2920) */
	int size;                /* SIZE advertised: MAIL may carry SIZE= */
	uint64_t size_max;       /* SIZE limit in octets; 0 = no fixed limit
	                            (SIZE 0, no number, or an unusable one) */
	int size_no_number;      /* "SIZE" without a parameter (RFC 1870) */
	int size_bad;            /* the parameter was not a number or did not
	                            fit 64 bits: treated as no fixed limit */
	int eightbitmime;        /* 8BITMIME (RFC 6152) */
	int binarymime;          /* BINARYMIME (RFC 3030) */
	int smtputf8;            /* SMTPUTF8 (RFC 6531) */
	int enhancedstatuscodes; /* ENHANCEDSTATUSCODES (RFC 2034) */
	int chunking;            /* CHUNKING (RFC 3030) */
	int dsn;                 /* DSN (RFC 3461) */
	int requiretls;          /* REQUIRETLS (RFC 8689) */
	int auth_kw;             /* an AUTH keyword (either form) was seen */
	int auth_obsolete;       /* the pre-RFC 4954 "AUTH=LOGIN PLAIN" form */
	unsigned auth;           /* SMTP_AUTH_* bits of the mechanisms */
	size_t nlines;           /* keyword lines kept in lines (empty ones
	                            are skipped) */
	char lines[SMTP_CAPS_LINES_MAX][SMTP_CAPS_LINE_MAX]; /* each keyword
	                            line as sent (sanitised), cut to fit */
	size_t lines_dropped;    /* keyword lines past SMTP_CAPS_LINES_MAX */
	size_t lines_cut;        /* keyword lines longer than a lines[] slot */
	int truncated;           /* the reply's text was truncated, so later
	                            keywords may be missing */
};

/* Fills *out from ehlo, a COMPLETE reply to EHLO. The first line is the
 * greeting; each further line is one keyword with its parameters.
 * Unknown keywords are only kept in lines. Returns 0, or -1 when ehlo is
 * not a 2yz reply (then *out is all zero: no extensions, as after HELO). */
int smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *out);

#endif
