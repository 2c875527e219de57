/*
 * log: one line per recipient outcome, in the format operators already
 * grep for (Postfix's smtp(8) lines), to stderr or syslog; and the
 * redaction rule every transcript sink goes through.
 */
#ifndef MXSEND_LOG_H
#define MXSEND_LOG_H

#include <stddef.h>

#include "deliver.h"

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG, /* facility mail */
	LOG_SINK_NONE,
};

void log_open(enum log_sink sink);

/* Formats "ID: to=<a@b>, relay=host[ip]:25, delay=0.12, tls=..., dsn=2.0.0,
 * status=sent (250 ...)" into buf. Pure. */
void log_format_delivery(char *buf, size_t len, const char *queue_id,
                         const struct deliver_rcpt *r);

/* Writes one line to the sink ("mxsend[PID]: " in front on stderr). */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies a transcript line into buf with control bytes escaped and the
 * argument of AUTH (and any SASL continuation) replaced by "<redacted>":
 * secrets never reach a log, a transcript or JSON. Pure. */
void log_redact_line(char *buf, size_t len, const char *line, size_t n, int in_auth);

/* The -v transcript: one line of a session with peer on standard error,
 * "peer >>> line" (sent), "<<<" (received) or "***" (a note), redacted as
 * above. Has the shape of the deliver and relay trace callbacks; arg is
 * unused. */
void log_transcript(void *arg, const char *peer, char dir, const char *line, size_t len);

#endif
