/*
 * dsn: delivery status notifications (RFC 3464) for the queue: the bounce
 * that tells the envelope sender which recipients failed and why, and the
 * optional delay warning. Pure: builds a message in memory from facts the
 * queue holds; sending it is the queue's business (as a new message with
 * the null reverse path, MAIL FROM:<>, RFC 5321 4.5.5).
 *
 * The report is multipart/report; report-type=delivery-status (RFC 6522)
 * with three parts: a human explanation (text/plain, UTF-8), the
 * message/delivery-status fields (per-message: Reporting-MTA,
 * X-Queue-ID-like Original-Envelope-Id is not used, Arrival-Date; per
 * recipient: Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date), and the original message's header
 * (text/rfc822-headers, RFC 6522 sec. 3; the body is not returned).
 */
#ifndef MXSEND_DSN_H
#define MXSEND_DSN_H

#include <stddef.h>
#include <stdint.h>

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
};

/* May a report be sent about a message from mail_from with this header?
 * Never for the null reverse path (RFC 5321 4.5.5, 6.1), and never for a
 * message that is itself a delivery report (multipart/report with
 * report-type=delivery-status) or from a mailer daemon: no bounce loops
 * (RFC 3464 sec. 2, RFC 3834). Returns 1 or 0. */
int dsn_allowed(const char *mail_from, const char *message, size_t message_len);

/* Builds the report into *out (malloc'd, CRLF lines, 7-bit headers,
 * the UTF-8 text part quoted-printable), *outlen octets; From is
 * "Mail Delivery System <MAILER-DAEMON@reporting_mta>". Returns 0, or -1
 * with a reason in err (out of memory, no recipient). The mix of actions
 * sets the Subject: "Undelivered Mail Returned to Sender" for failures,
 * "Delayed Mail (still being retried)" for warnings only. */
int dsn_make(const struct dsn_report *r, char **out, size_t *outlen, char *err,
             size_t errlen);

#endif
