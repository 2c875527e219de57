/*
 * dsn: delivery status notifications (RFC 3464) for the queue: the bounce
 * that tells the envelope sender which recipients failed and why, and the
 * optional delay warning. Pure: builds a message in memory from facts the
 * queue holds; sending it is the queue's business (as a new message with
 * the null reverse path, MAIL FROM:<>, RFC 5321 4.5.5).
 *
 * The report is multipart/report; report-type=delivery-status (RFC 6522)
 * with three parts: a human explanation (text/plain, UTF-8,
 * quoted-printable), the message/delivery-status fields (per message:
 * Reporting-MTA, X-Mxsend-Queue-ID, Arrival-Date; per recipient:
 * Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 * Last-Attempt-Date, Will-Retry-Until for delayed ones), and the original
 * message's header (text/rfc822-headers, RFC 6522 sec. 3; the body is not
 * returned). Original-Envelope-Id is not used.
 *
 * What comes from outside (remote replies, host names, addresses, the
 * original header) is cleaned before it is written, so that no input can
 * add a header field or a MIME part or break a line rule:
 *   - remote_mta, diagnostic, address, queue_id: every control character
 *     (CR, LF, HT, NUL, DEL, ...) and every run of white space becomes one
 *     space; in the delivery-status part (7-bit, RFC 3464 2.1.1) an octet
 *     >= 0x80 becomes '?', in the text part valid UTF-8 is kept; a
 *     diagnostic is cut at DSN_DIAG_MAX octets ("..." added), an address
 *     at DSN_ADDR_MAX. Diagnostic-Code is folded at spaces (RFC 5322
 *     2.2.3); a word too long for a line is split by a fold. A remote_mta
 *     that is not host-name-like ([A-Za-z0-9.:-] and a [literal]) is left
 *     out. A status that is not class.subject.detail (RFC 3463, class 4
 *     or 5) is replaced by 5.0.0 (failed) or 4.0.0 (delayed).
 *   - the original header: its lines up to the first empty line, each
 *     line end written as CRLF, control characters other than HT and
 *     octets >= 0x80 as '?', a line over 998 octets cut; the whole cut at
 *     a line boundary at DSN_HEADERS_MAX octets (the text part says so).
 *   - original_sender (the To: address) cannot be cleaned without sending
 *     the report elsewhere: one with '<' or '>' inside, a control
 *     character or an octet >= 0x80 (RFC 6533 reports are not made), or
 *     longer than DSN_ADDR_MAX is refused; one pair of enclosing angle
 *     brackets is allowed.
 * Every line of the result ends with CRLF and is at most 998 octets; this
 * is checked before the result is returned (DLV-23, DLV-25, SEC-05).
 *
 * Bounce loops (dsn_allowed): never a report about a message with the
 * null reverse path, about a delivery report, or about mail from
 * MAILER-DAEMON. Auto-Submitted does not stop a report: RFC 3834 governs
 * automatic responders, and a bounce of auto-generated mail (a cron job's
 * report) tells its owner something they need; a report is what stops
 * the loop, by being sent from the null path and marked as a report.
 * This is also what Postfix does.
 */
#ifndef MXSEND_DSN_H
#define MXSEND_DSN_H

#include <stddef.h>
#include <stdint.h>

#define DSN_HEADERS_MAX (64u * 1024u) /* original header returned, octets */
#define DSN_DIAG_MAX 2048             /* one diagnostic, octets after cleaning */
#define DSN_ADDR_MAX 512              /* one address, octets */
#define DSN_SCAN_MAX (1024u * 1024u)  /* header octets dsn_allowed reads */

enum dsn_action {
	DSN_FAILED,            /* bounce: Action: failed */
	DSN_DELAYED,           /* warning: Action: delayed */
};

struct dsn_rcpt {
	const char *address;       /* the recipient, "local@domain" */
	enum dsn_action action;
	const char *status;        /* enhanced code, "5.1.1"; NULL/"" = 5.0.0 or 4.0.0 */
	const char *remote_mta;    /* "mx.example.com" the reply came from, or NULL */
	const char *diagnostic;    /* the remote reply "550 5.1.1 <a@b>: unknown", or a
	                              local reason; NULL = none */
	int64_t last_attempt;      /* wall-clock seconds, 0 = none */
	int64_t will_retry_until;  /* delayed only: when the queue gives up
	                              (queue_sched_expires_at); 0 = not said */
};

struct dsn_report {
	const char *reporting_mta; /* our host name (EHLO name) */
	const char *queue_id;      /* the queue id, named in the text */
	int64_t arrival;           /* when the original was accepted */
	int64_t now;               /* Date of the report */
	const char *original_sender;  /* envelope sender of the original: the To */
	const char *message;       /* the original message as queued (CRLF lines) */
	size_t message_len;
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	const uint8_t *random;     /* 16 random octets for Message-ID and boundary */
	                           /* dates are written in UTC (+0000) */
};

/* May a report be sent about a message from mail_from with this header?
 * Never for the null reverse path (RFC 5321 4.5.5, 6.1: NULL, "", "<>"),
 * and never for a message that is itself a delivery report (a
 * Content-Type of multipart/report with report-type=delivery-status) or
 * from a mailer daemon (mail_from, From, Sender or Return-Path with the
 * local part MAILER-DAEMON, or Return-Path <>): no bounce loops (RFC 3464
 * sec. 2, RFC 5321 4.5.5 "MUST NOT send error messages in response to
 * error messages", DLV-22). Auto-Submitted is not looked at (see above).
 * message may be NULL (no header to read). Reads at most DSN_SCAN_MAX
 * octets and 1000 fields, LF or CRLF line ends, folded fields, names and
 * values case-insensitively; a line that is not a field ends the header.
 * Allocates nothing. Returns 1 or 0. */
int dsn_allowed(const char *mail_from, const char *message, size_t message_len);

/* Builds the report into *out (malloc'd, NUL-terminated, CRLF lines,
 * 7-bit headers, the UTF-8 text part quoted-printable), *outlen octets;
 * From is "Mail Delivery System <MAILER-DAEMON@reporting_mta>", To is
 * <original_sender>, with Date, Message-ID, MIME-Version and
 * Auto-Submitted: auto-replied (RFC 3834 5). Returns 0, or -1 with a
 * reason in err (out of memory, no recipient, an action out of range, a
 * reporting_mta that is not a dot-atom host name, a null or unusable
 * original_sender, no random, a date out of range). The mix of actions
 * sets the Subject: "Undelivered Mail Returned to Sender" when any
 * recipient failed, "Delayed Mail (still being retried)" for warnings
 * only. */
int dsn_make(const struct dsn_report *r, char **out, size_t *outlen, char *err,
             size_t errlen);

#endif
