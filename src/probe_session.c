/*
 * probe_session: the diagnostic SMTP client of `mxsend probe`. See
 * probe_session.h.
 *
 * A small state machine of its own rather than the delivery session
 * (smtp_session.c): probing must go on where delivery stops (a
 * certificate that fails verification, a 5xx greeting to be recorded
 * and answered with QUIT) and must never start a transaction unless
 * asked. It shares the transport (io.c), the reply and capability parser
 * (smtp_reply.c) and the TLS set-up (tls_client.c).
 *
 * Owns: the io and its timer. Must not: send MAIL FROM without a
 * recipient to check, send DATA, act on bytes received before the TLS
 * handshake (io_start_tls drops them: TLS-03), or touch itself after
 * calling cfg.done.
 */
#include "config.h"

#include "probe_session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "io.h"
#include "loop.h"

#define PROBE_DEFAULT_TIMEOUT_MS 30000

struct probe_session {
	struct loop *loop;
	struct io *io;
	struct probe_session_config cfg;
	enum probe_step state;
	struct loop_timer timer;   /* the timeout of the current wait */
	uint64_t started_ms;       /* when connecting began */
	uint64_t step_ms;          /* when the current wait began */
	struct probe_result res;
	struct buf cmd;            /* the command being sent */
};

const char *probe_step_name(enum probe_step st)
{
	static const char *const names[PROBE_ST_LAST] = {
		[PROBE_ST_CONNECT] = "CONNECT",
		[PROBE_ST_GREETING] = "GREETING",
		[PROBE_ST_EHLO] = "EHLO",
		[PROBE_ST_HELO] = "HELO",
		[PROBE_ST_STARTTLS] = "STARTTLS",
		[PROBE_ST_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
		[PROBE_ST_EHLO_TLS] = "EHLO_TLS",
		[PROBE_ST_MAIL] = "MAIL",
		[PROBE_ST_RCPT] = "RCPT",
		[PROBE_ST_RSET] = "RSET",
		[PROBE_ST_QUIT] = "QUIT",
		[PROBE_ST_DONE] = "DONE",
	};

	return (unsigned)st < PROBE_ST_LAST && names[st] ? names[st] : "UNKNOWN";
}

const char *probe_step_label(enum probe_step st)
{
	static const char *const labels[PROBE_ST_LAST] = {
		[PROBE_ST_CONNECT] = "connect",
		[PROBE_ST_GREETING] = "greeting",
		[PROBE_ST_EHLO] = "EHLO",
		[PROBE_ST_HELO] = "HELO",
		[PROBE_ST_STARTTLS] = "STARTTLS",
		[PROBE_ST_TLS_HANDSHAKE] = "TLS handshake",
		[PROBE_ST_EHLO_TLS] = "EHLO after STARTTLS",
		[PROBE_ST_MAIL] = "MAIL FROM",
		[PROBE_ST_RCPT] = "RCPT TO",
		[PROBE_ST_RSET] = "RSET",
		[PROBE_ST_QUIT] = "QUIT",
		[PROBE_ST_DONE] = "end",
	};

	return (unsigned)st < PROBE_ST_LAST && labels[st] ? labels[st] : "unknown step";
}

static void trace(struct probe_session *s, char dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void trace(struct probe_session *s, char dir, const char *fmt, ...)
{
	char line[PROBE_TEXT_MAX + 64];
	va_list ap;
	int n;

	if (s->cfg.trace == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	s->cfg.trace(s->cfg.arg, dir, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The one state setter; every transition is traced. */
static void set_state(struct probe_session *s, enum probe_step st)
{
	if (s->state != st)
		trace(s, '*', "state %s -> %s", probe_step_name(s->state), probe_step_name(st));
	s->state = st;
}

static unsigned elapsed(struct probe_session *s, uint64_t since)
{
	return (unsigned)(loop_now_ms(s->loop) - since);
}

static void on_timeout(void *arg);

static void wait_for(struct probe_session *s, unsigned ms)
{
	s->step_ms = loop_now_ms(s->loop);
	loop_timer_start(s->loop, &s->timer, ms ? ms : PROBE_DEFAULT_TIMEOUT_MS, on_timeout, s);
}

/* The end: hands over to the owner, who frees the session. */
static void finish(struct probe_session *s)
{
	loop_timer_stop(s->loop, &s->timer);
	io_free(s->io);
	s->io = NULL;
	s->res.total_ms = elapsed(s, s->started_ms);
	set_state(s, PROBE_ST_DONE);
	s->cfg.done(s->cfg.arg, s);
}

/* Records where and why the session broke, then ends it without QUIT. */
static void broke(struct probe_session *s, int timed_out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void broke(struct probe_session *s, int timed_out, const char *fmt, ...)
{
	va_list ap;

	s->res.complete = 0;
	s->res.failed_step = s->state;
	s->res.timed_out = timed_out;
	va_start(ap, fmt);
	vsnprintf(s->res.error, sizeof(s->res.error), fmt, ap);
	va_end(ap);
	trace(s, '*', "%s: %s", probe_step_label(s->state), s->res.error);
	finish(s);
}

static int send_cmd(struct probe_session *s, enum probe_step next, unsigned timeout,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int send_cmd(struct probe_session *s, enum probe_step next, unsigned timeout,
                    const char *fmt, ...)
{
	char line[PROBE_TEXT_MAX + 64]; /* commands are short: a path is at most 256 */
	va_list ap;
	int n;

	buf_reset(&s->cmd);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		broke(s, 0, "command too long");
		return -1;
	}
	if (buf_append(&s->cmd, line, (size_t)n) < 0 || buf_puts(&s->cmd, "\r\n") < 0) {
		broke(s, 0, "out of memory");
		return -1;
	}
	set_state(s, next);
	trace(s, '>', "%.*s", (int)(buf_avail(&s->cmd) - 2), buf_head(&s->cmd));
	if (io_write(s->io, buf_head(&s->cmd), buf_avail(&s->cmd)) < 0) {
		broke(s, 0, "out of memory");
		return -1;
	}
	wait_for(s, timeout);
	return 0;
}

/* QUIT politely; the session is complete whatever comes back. */
static int quit(struct probe_session *s)
{
	s->res.complete = 1;
	return send_cmd(s, PROBE_ST_QUIT, s->cfg.timeouts.quit, "QUIT");
}

static void keep_reply(struct probe_session *s, const struct smtp_reply *r, struct probe_reply *out)
{
	char line[PROBE_TEXT_MAX];
	size_t n;

	out->code = r->code;
	/* The text without its code, which is kept apart. */
	n = smtp_reply_one_line(r, line, sizeof(line));
	n = n >= 4 ? n - 4 : 0;
	memcpy(out->text, line + (n ? 4 : 0), n);
	out->text[n] = '\0';
	out->ms = elapsed(s, s->step_ms);
}

/* ---- one handler per reply ---- */

static int on_greeting(struct probe_session *s, const struct smtp_reply *r)
{
	keep_reply(s, r, &s->res.greeting);
	if (r->code == 220)
		return send_cmd(s, PROBE_ST_EHLO, s->cfg.timeouts.ehlo, "EHLO %s", s->cfg.ehlo_name);
	/* DLV-21: a 4xx or 5xx greeting is recorded; leave politely
	 * (RFC 5321 3.1: the client should send QUIT), except after 421. */
	if (r->code == 421) {
		s->res.complete = 1;
		finish(s);
		return -1;
	}
	return quit(s);
}

static int start_transaction(struct probe_session *s)
{
	if (s->cfg.rcpt == NULL)
		return quit(s);
	s->res.rcpt_tried = 1;
	return send_cmd(s, PROBE_ST_MAIL, s->cfg.timeouts.mail, "MAIL FROM:<%s>",
	                s->cfg.mail_from ? s->cfg.mail_from : "");
}

static int on_ehlo(struct probe_session *s, const struct smtp_reply *r)
{
	if (s->state == PROBE_ST_EHLO)
		keep_reply(s, r, &s->res.ehlo);
	if (r->code / 100 == 2) {
		smtp_caps_parse(r, &s->res.caps);
		if (s->state == PROBE_ST_EHLO_TLS) {
			s->res.ehlo_tls_ok = 1;
			return start_transaction(s);
		}
		s->res.ehlo_ok = 1;
		s->res.caps_plain = s->res.caps;
		s->res.starttls_offered = s->res.caps.starttls;
		if (s->res.starttls_offered && s->cfg.ssl_ctx != NULL)
			return send_cmd(s, PROBE_ST_STARTTLS, s->cfg.timeouts.starttls, "STARTTLS");
		return start_transaction(s);
	}
	if (s->state == PROBE_ST_EHLO && (r->code == 500 || r->code == 502 || r->code == 501))
		/* DLV-12: EHLO not recognised: HELO, no extensions. */
		return send_cmd(s, PROBE_ST_HELO, s->cfg.timeouts.ehlo, "HELO %s", s->cfg.ehlo_name);
	s->res.failed_step = s->state;
	snprintf(s->res.error, sizeof(s->res.error), "%s refused: %d",
	         probe_step_label(s->state), r->code);
	if (r->code == 421) {
		finish(s);
		return -1;
	}
	return quit(s);
}

static int on_helo(struct probe_session *s, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		s->res.ehlo_ok = 1;
		s->res.helo_used = 1;
		memset(&s->res.caps, 0, sizeof(s->res.caps));
		return start_transaction(s);
	}
	s->res.failed_step = s->state;
	snprintf(s->res.error, sizeof(s->res.error), "HELO refused: %d", r->code);
	return quit(s);
}

static int on_starttls(struct probe_session *s, const struct smtp_reply *r)
{
	SSL *ssl;

	keep_reply(s, r, &s->res.starttls);
	if (r->code != 220)
		/* TLS-01: 454 or 5xx; the session goes on in plaintext, as an
		 * opportunistic sender's would. */
		return start_transaction(s);
	ssl = tls_client_ssl_new(s->cfg.ssl_ctx, s->cfg.mx_name, s->cfg.mx_name);
	if (ssl == NULL) {
		broke(s, 0, "cannot start TLS: out of memory");
		return -1;
	}
	s->res.tls_attempted = 1;
	s->res.dropped_plaintext = io_start_tls(s->io, ssl);
	if (s->res.dropped_plaintext > 0)
		trace(s, '*', "discarded %zu bytes sent after the STARTTLS reply and before the "
		      "handshake (STARTTLS injection, RFC 3207 section 6)", s->res.dropped_plaintext);
	set_state(s, PROBE_ST_TLS_HANDSHAKE);
	wait_for(s, s->cfg.timeouts.starttls);
	return 0;
}

static void on_tls_ready(struct probe_session *s)
{
	SSL *ssl = io_ssl(s->io);

	s->res.tls_ms = elapsed(s, s->step_ms);
	s->res.tls_ok = 1;
	tls_client_details(ssl, &s->res.tls);
	s->res.chain_len = tls_client_chain(ssl, s->res.chain_subject, s->res.chain_issuer,
	                                    TLS_CHAIN_MAX);
	trace(s, '*', "TLS %s %s, certificate %s%s%s", s->res.tls.version, s->res.tls.cipher,
	      s->res.tls.verified ? "verified" : "not verified",
	      s->res.tls.verified ? "" : ": ", s->res.tls.verify_error);
	/* RFC 3207 4.2 (TLS-02): forget what came before TLS; EHLO again. */
	memset(&s->res.caps, 0, sizeof(s->res.caps));
	send_cmd(s, PROBE_ST_EHLO_TLS, s->cfg.timeouts.ehlo, "EHLO %s", s->cfg.ehlo_name);
}

static int on_mail(struct probe_session *s, const struct smtp_reply *r)
{
	keep_reply(s, r, &s->res.mail);
	if (r->code / 100 != 2)
		return quit(s);
	return send_cmd(s, PROBE_ST_RCPT, s->cfg.timeouts.rcpt, "RCPT TO:<%s>", s->cfg.rcpt);
}

static int on_rcpt(struct probe_session *s, const struct smtp_reply *r)
{
	keep_reply(s, r, &s->res.rcpt);
	/* RFC 5321 4.1.1.5: RSET ends the transaction; no DATA follows. */
	return send_cmd(s, PROBE_ST_RSET, s->cfg.timeouts.rset, "RSET");
}

static int on_reply(struct probe_session *s, const struct smtp_reply *r)
{
	switch (s->state) {
	case PROBE_ST_GREETING:
		return on_greeting(s, r);
	case PROBE_ST_EHLO:
	case PROBE_ST_EHLO_TLS:
		return on_ehlo(s, r);
	case PROBE_ST_HELO:
		return on_helo(s, r);
	case PROBE_ST_STARTTLS:
		return on_starttls(s, r);
	case PROBE_ST_MAIL:
		return on_mail(s, r);
	case PROBE_ST_RCPT:
		return on_rcpt(s, r);
	case PROBE_ST_RSET:
		return quit(s);
	case PROBE_ST_QUIT:
		finish(s);
		return -1;
	default:
		break;
	}
	broke(s, 0, "unexpected reply %d", r->code);
	return -1;
}

/* Handles every complete reply at the front of the input. Returns -1
 * when the session has ended (and may be gone). */
static int process_input(struct probe_session *s)
{
	struct smtp_reply *reply = malloc(sizeof(*reply));
	int rc = 0;

	if (reply == NULL) {
		broke(s, 0, "out of memory");
		return -1;
	}
	for (;;) {
		struct buf *in = io_input(s->io);
		size_t used = 0;
		char err[256];
		enum smtp_reply_status st;

		if (buf_avail(in) == 0)
			break;
		st = smtp_reply_parse(buf_head(in), buf_avail(in), reply, &used, err, sizeof(err));
		if (st == SMTP_REPLY_INCOMPLETE)
			break;
		if (st == SMTP_REPLY_ERROR) {
			broke(s, 0, "protocol error: %s", err);
			rc = -1;
			break;
		}
		if (s->cfg.trace != NULL) {
			char line[PROBE_TEXT_MAX];

			smtp_reply_one_line(reply, line, sizeof(line));
			trace(s, '<', "%s", line);
		}
		buf_consume(in, used);
		loop_timer_stop(s->loop, &s->timer);
		if (on_reply(s, reply) < 0) {
			rc = -1;
			break;
		}
		/* Bytes after the STARTTLS 220 are dropped by io_start_tls,
		 * never parsed here (TLS-03). */
		if (s->io == NULL || s->state == PROBE_ST_TLS_HANDSHAKE)
			break;
	}
	free(reply);
	return rc;
}

static void on_io(void *arg, enum io_event ev)
{
	struct probe_session *s = arg;

	switch (ev) {
	case IO_EV_CONNECTED:
		s->res.connected = 1;
		s->res.connect_ms = elapsed(s, s->started_ms);
		trace(s, '*', "connected in %u ms", s->res.connect_ms);
		loop_timer_stop(s->loop, &s->timer);
		set_state(s, PROBE_ST_GREETING);
		wait_for(s, s->cfg.timeouts.greeting);
		return;
	case IO_EV_READ:
		process_input(s);
		return;
	case IO_EV_TLS_READY:
		loop_timer_stop(s->loop, &s->timer);
		on_tls_ready(s);
		return;
	case IO_EV_EOF:
		if (s->state == PROBE_ST_QUIT) {
			finish(s);
			return;
		}
		broke(s, 0, "the server closed the connection");
		return;
	case IO_EV_ERROR:
		if (s->state == PROBE_ST_QUIT) {
			finish(s);
			return;
		}
		if (s->state == PROBE_ST_CONNECT) {
			char refused[128];

			s->res.connect_ms = elapsed(s, s->started_ms);
			snprintf(refused, sizeof(refused), "connect: %s", strerror(ECONNREFUSED));
			s->res.connect_refused = strcmp(io_error(s->io), refused) == 0;
		}
		if (s->state == PROBE_ST_TLS_HANDSHAKE) {
			snprintf(s->res.tls_error, sizeof(s->res.tls_error), "%s", io_error(s->io));
			s->res.tls_ms = elapsed(s, s->step_ms);
		}
		broke(s, 0, "%s", io_error(s->io));
		return;
	}
}

static void on_timeout(void *arg)
{
	struct probe_session *s = arg;

	if (s->state == PROBE_ST_QUIT) {
		/* No 221 in time: everything else was seen; leave. */
		finish(s);
		return;
	}
	if (s->state == PROBE_ST_CONNECT) {
		s->res.connect_timeout = 1;
		s->res.connect_ms = elapsed(s, s->started_ms);
	}
	if (s->state == PROBE_ST_TLS_HANDSHAKE)
		snprintf(s->res.tls_error, sizeof(s->res.tls_error), "handshake timed out");
	broke(s, 1, "no answer within %.1f s", (double)elapsed(s, s->step_ms) / 1000.0);
}

struct probe_session *probe_session_start(struct loop *loop, const struct sockaddr *sa,
                                          socklen_t salen,
                                          const struct probe_session_config *cfg)
{
	struct probe_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->loop = loop;
	s->cfg = *cfg;
	s->started_ms = loop_now_ms(loop);
	s->state = PROBE_ST_CONNECT;
	s->io = io_connect(loop, sa, salen, on_io, s);
	if (s->io == NULL) {
		free(s);
		return NULL;
	}
	wait_for(s, cfg->timeouts.connect);
	return s;
}

const struct probe_result *probe_session_result(const struct probe_session *s)
{
	return &s->res;
}

void probe_session_free(struct probe_session *s)
{
	if (s == NULL)
		return;
	loop_timer_stop(s->loop, &s->timer);
	io_free(s->io);
	buf_free(&s->cmd);
	free(s);
}
