/* log: see log.h. */
#include "config.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

static enum log_sink log_sink = LOG_SINK_STDERR;

void log_open(enum log_sink sink)
{
	log_sink = sink;
	if (sink == LOG_SINK_SYSLOG)
		openlog("mxsend", LOG_PID, LOG_MAIL);
}

void log_format_delivery(char *buf, size_t len, const char *queue_id,
                         const struct deliver_rcpt *r)
{
	char tls[96] = "none";

	if (r->tls_version[0] != '\0')
		snprintf(tls, sizeof(tls), "%s:%s%s", r->tls_version, r->tls_cipher,
		         r->tls_verified ? ":verified" : "");
	char via[512] = "";

	/* A recipient that went by the relay says which and why direct
	 * delivery was not used; direct ones keep Postfix's exact shape. */
	if (r->via_relay || r->fallback != DELIVER_FALLBACK_NONE) {
		int n = snprintf(via, sizeof(via), " via=%s%s%s, fallback=%s",
		                 r->via_relay ? "relay" : "direct", r->relay_name[0] ? ":" : "",
		                 r->relay_name, deliver_fallback_name(r->fallback));

		if (n > 0 && (size_t)n < sizeof(via) && r->direct_reply[0] != '\0')
			snprintf(via + n, sizeof(via) - (size_t)n, " (direct: %s)", r->direct_reply);
		if (strlen(via) + 1 < sizeof(via))
			strcat(via, ",");
	}
	snprintf(buf, len, "%s: to=<%s>, relay=%s, delay=%.2f, tls=%s, dsn=%s,%s status=%s (%s)",
	         queue_id, r->address, r->relay[0] ? r->relay : "none",
	         (double)r->delay_ms / 1000.0, tls, r->smtp.dsn[0] ? r->smtp.dsn : "4.0.0", via,
	         deliver_status_name(r->status), r->smtp.reply);
}

void log_line(const char *fmt, ...)
{
	va_list ap;
	char line[2048];

	if (log_sink == LOG_SINK_NONE)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink == LOG_SINK_SYSLOG)
		syslog(LOG_INFO, "%s", line);
	else
		fprintf(stderr, "mxsend[%ld]: %s\n", (long)getpid(), line);
}

void log_transcript(void *arg, const char *peer, char dir, const char *line, size_t len)
{
	char clean[1200];

	(void)arg;
	log_redact_line(clean, sizeof(clean), line, len, 0);
	/* ">>>" what we sent, "<<<" what the server said, as Postfix's
	 * debug_peer_list transcripts read. */
	fprintf(stderr, "%s %s %s\n", peer, dir == '>' ? ">>>" : dir == '<' ? "<<<" : "***", clean);
}

void log_redact_line(char *buf, size_t len, const char *line, size_t n, int in_auth)
{
	size_t o = 0;
	size_t keep = n;

	if (len == 0)
		return;
	if (in_auth) {
		snprintf(buf, len, "<redacted>");
		return;
	}
	/* "AUTH PLAIN <secret>": keep the verb and mechanism only. */
	if (n >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		const char *sp = memchr(line + 5, ' ', n - 5);

		if (sp != NULL)
			keep = (size_t)(sp - line);
	}
	for (size_t i = 0; i < keep && o + 5 < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	if (keep < n && o + 12 < len)
		snprintf(buf + o, len - o, " <redacted>");
}
