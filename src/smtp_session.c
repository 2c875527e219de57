/*
 * smtp_session: the SMTP client state machine. See smtp_session.h.
 *
 * Shape (OpenSMTPD mta_session.c, curl lib/smtp.c): transport events come
 * in through on_io, complete replies are cut from the input by
 * smtp_reply_parse, and each reply goes to the one handler of the command
 * it answers. Commands that are pipelined (RFC 2920) wait in an ordered
 * queue of expected replies, so the same handlers serve both modes.
 *
 * Classification (STANDARDS.md section 10): a failure of the host (no
 * connection, 4xx/5xx greeting, timeout, TLS policy, 4xx on MAIL or DATA,
 * 421, a protocol error) leaves recipients pending for the next host; a
 * 5xx on RCPT bounces that recipient, a 4xx defers it; the reply to the
 * final dot decides for all accepted recipients; a timeout or a lost
 * connection after the dot defers them (a duplicate is the lesser evil,
 * RFC 5321 6.1).
 *
 * Owns: the io, the reply buffer, the expected-reply queue. Borrows the
 * transactions. Must not: touch itself after calling cfg.done (the owner
 * frees it there); act on bytes received before the TLS handshake.
 */
#include "config.h"

#include "smtp_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "io.h"
#include "loop.h"

enum smtp_cmd {
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_DOT,        /* the end of the message */
	CMD_DOT_EMPTY,  /* a lone dot after 354 with no recipient accepted */
	CMD_RSET,
	CMD_QUIT,
};

struct expect {
	enum smtp_cmd cmd; /* what the reply answers */
	size_t rcpt;       /* for CMD_RCPT: index in the transaction */
};

#define SMTP_EXPECT_MAX 1024 /* recipients of one transaction at most (pipelined) */
#define SMTP_EXPECT_MIN 8    /* slots every session has (greeting to QUIT) */

struct smtp_session {
	struct loop *loop;
	struct io *io;
	struct smtp_session_config cfg;
	enum smtp_state state;
	struct loop_timer timer;        /* the timeout of the current wait */
	uint64_t started_ms;
	char peer[320];                 /* "mx.example[192.0.2.1]:25" */
	struct smtp_session_result res;
	struct smtp_txn *txn;           /* the transaction under way */
	size_t next_rcpt;               /* without pipelining: next RCPT to send */
	size_t accepted;                /* recipients accepted in txn */
	const char *data;               /* what this txn sends after 354 */
	size_t data_len;
	size_t size;                    /* its SIZE= value */
	int eightbit;                   /* it declares BODY=8BITMIME */
	int mail_ok;                    /* MAIL was accepted */
	int txn_host_failed;            /* MAIL/DATA 4xx: leave after this txn */
	int need_rset;                  /* the last transaction did not finish */
	int quit_sent;                  /* QUIT went out behind the message */
	int pipelining;                 /* PIPELINING offered and allowed */
	struct expect *expect;          /* replies expected, in order; sized for
	                                   the transaction under way (a fixed
	                                   1024 cost 16 KB a session) */
	size_t expect_cap;              /* slots in expect */
	size_t nexpect;                 /* queued expectations */
	size_t expect_head;             /* first one not yet answered */
	struct buf cmd;                 /* commands being built */
};

const char *smtp_state_name(enum smtp_state st)
{
	static const char *const names[SMTP_ST_LAST] = {
		[SMTP_ST_CONNECT] = "CONNECT",
		[SMTP_ST_GREETING] = "GREETING",
		[SMTP_ST_EHLO] = "EHLO",
		[SMTP_ST_HELO] = "HELO",
		[SMTP_ST_STARTTLS] = "STARTTLS",
		[SMTP_ST_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
		[SMTP_ST_EHLO_TLS] = "EHLO_TLS",
		[SMTP_ST_IDLE] = "IDLE",
		[SMTP_ST_TXN] = "TXN",
		[SMTP_ST_DATA_BODY] = "DATA_BODY",
		[SMTP_ST_RSET] = "RSET",
		[SMTP_ST_QUIT] = "QUIT",
		[SMTP_ST_DONE] = "DONE",
	};

	return (unsigned)st < SMTP_ST_LAST && names[st] ? names[st] : "UNKNOWN";
}

static void trace(struct smtp_session *s, char dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void trace(struct smtp_session *s, char dir, const char *fmt, ...)
{
	char line[600];
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

/* The one state setter: every transition is traced (curl smtp_state). */
static void set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state != st && s->cfg.trace != NULL)
		trace(s, '*', "state %s -> %s", smtp_state_name(s->state), smtp_state_name(st));
	s->state = st;
}

static void on_timeout(void *arg);

static void wait_for(struct smtp_session *s, unsigned ms)
{
	s->res.round_trips++;
	loop_timer_start(s->loop, &s->timer, ms ? ms : 300000, on_timeout, s);
}

/* Keeps waiting for the next pipelined reply, without counting a new
 * round trip: the replies were all asked for in one write. */
static void keep_waiting(struct smtp_session *s, unsigned ms)
{
	loop_timer_start(s->loop, &s->timer, ms ? ms : 300000, on_timeout, s);
}

/* The end: hands over to the owner, who frees the session. */
static int finish(struct smtp_session *s)
{
	loop_timer_stop(s->loop, &s->timer);
	io_free(s->io);
	s->io = NULL;
	set_state(s, SMTP_ST_DONE);
	s->cfg.done(s->cfg.arg, s);
	return -1;
}

/* Sends what is in s->cmd, tracing each line. */
static int send_cmd(struct smtp_session *s)
{
	const char *p = buf_head(&s->cmd);
	size_t n = buf_avail(&s->cmd);

	if (s->cfg.trace != NULL) {
		const char *q = p, *end = p + n;

		while (q < end) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			size_t l = nl ? (size_t)(nl - q) : (size_t)(end - q);

			s->cfg.trace(s->cfg.arg, '>', q, l > 0 && q[l - 1] == '\r' ? l - 1 : l);
			q += l + 1;
		}
	}
	if (io_write(s->io, p, n) < 0) {
		buf_reset(&s->cmd);
		return -1;
	}
	buf_reset(&s->cmd);
	return 0;
}

static void expect_push(struct smtp_session *s, enum smtp_cmd cmd, size_t rcpt)
{
	if (s->nexpect < s->expect_cap)
		s->expect[s->nexpect++] = (struct expect){ cmd, rcpt };
}

static void expect_clear(struct smtp_session *s)
{
	s->nexpect = 0;
	s->expect_head = 0;
}

/* Room for n expected replies: MAIL, every RCPT, DATA, the dot and QUIT of
 * a transaction. Returns -1 when out of memory. */
static int expect_reserve(struct smtp_session *s, size_t n)
{
	struct expect *e;

	if (n <= s->expect_cap)
		return 0;
	e = realloc(s->expect, n * sizeof(*e));
	if (e == NULL)
		return -1;
	s->expect = e;
	s->expect_cap = n;
	return 0;
}

static void set_rcpt(struct smtp_rcpt *r, enum smtp_rcpt_status st, int code, const char *dsn,
                     const char *text)
{
	r->status = st;
	r->code = code;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn ? dsn : "");
	snprintf(r->reply, sizeof(r->reply), "%s", text ? text : "");
}

/* The enhanced code of the reply, or one derived from its class when the
 * server gave none (RFC 3463: X.0.0). */
static void reply_dsn(const struct smtp_reply *r, char *out, size_t len)
{
	if (r->enhanced[0] != '\0')
		snprintf(out, len, "%s", r->enhanced);
	else
		snprintf(out, len, "%d.0.0", r->code / 100);
}

static void reply_line(const struct smtp_reply *r, char *out, size_t len)
{
	smtp_reply_one_line(r, out, len);
}

/* Records a host failure. Recipients not yet decided go back to pending
 * so the owner can try them at the next host. */
static void host_failed(struct smtp_session *s, int code, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void host_failed(struct smtp_session *s, int code, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	if (!s->res.host_failed) {
		s->res.host_failed = 1;
		s->res.code = code;
		snprintf(s->res.dsn, sizeof(s->res.dsn), "%s", dsn ? dsn : "4.4.0");
		va_start(ap, fmt);
		vsnprintf(s->res.reason, sizeof(s->res.reason), fmt, ap);
		va_end(ap);
		trace(s, '*', "host failed: %s", s->res.reason);
	}
	if (s->txn != NULL) {
		for (size_t i = 0; i < s->txn->nrcpts; i++) {
			struct smtp_rcpt *r = s->txn->rcpts[i];

			if (r->status == SMTP_RCPT_ACCEPTED || r->status == SMTP_RCPT_PENDING)
				set_rcpt(r, SMTP_RCPT_PENDING, code, s->res.dsn, s->res.reason);
		}
	}
}

/* Ends the transaction under way and tells the owner. */
static void txn_end(struct smtp_session *s)
{
	struct smtp_txn *txn = s->txn;

	expect_clear(s);
	if (txn == NULL)
		return;
	s->txn = NULL;
	s->cfg.txn_done(s->cfg.arg, s, txn);
}

/* Leaves politely: QUIT, then done on its reply, EOF or timeout. */
static int quit(struct smtp_session *s)
{
	if (s->txn != NULL)
		txn_end(s);
	if (s->io == NULL || buf_printf(&s->cmd, "QUIT\r\n") < 0 || send_cmd(s) < 0)
		return finish(s);
	set_state(s, SMTP_ST_QUIT);
	expect_clear(s);
	expect_push(s, CMD_QUIT, 0);
	wait_for(s, s->cfg.timeouts.quit);
	return 0;
}

/* Drops the connection without QUIT (it is unusable). */
static int drop(struct smtp_session *s)
{
	if (s->txn != NULL)
		txn_end(s);
	return finish(s);
}

static int next_transaction(struct smtp_session *s);

/* ---- transactions ---- */

static int append_mail(struct smtp_session *s)
{
	const struct smtp_caps *c = &s->res.caps;
	struct smtp_txn *t = s->txn;

	/* DLV-13: only parameters of extensions the server advertised. */
	if (buf_printf(&s->cmd, "MAIL FROM:<%s>", t->mail_from) < 0)
		return -1;
	if (c->size && buf_printf(&s->cmd, " SIZE=%zu", s->size) < 0)
		return -1;
	if (s->eightbit && buf_printf(&s->cmd, " BODY=8BITMIME") < 0)
		return -1;
	if ((t->smtputf8 || t->utf8_headers) && c->smtputf8 && buf_printf(&s->cmd, " SMTPUTF8") < 0)
		return -1;
	return buf_printf(&s->cmd, "\r\n");
}

static int append_rcpt(struct smtp_session *s, size_t i)
{
	return buf_printf(&s->cmd, "RCPT TO:<%s>\r\n", s->txn->rcpts[i]->address);
}

/* Fails every recipient of the transaction before anything is sent. */
static void txn_refuse(struct smtp_session *s, enum smtp_rcpt_status st, int code,
                       const char *dsn, const char *text)
{
	for (size_t i = 0; i < s->txn->nrcpts; i++)
		set_rcpt(s->txn->rcpts[i], st, code, dsn, text);
}

static int begin_txn(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	const struct smtp_caps *c = &s->res.caps;
	char why[SMTP_TEXT_MAX];

	s->next_rcpt = 0;
	s->accepted = 0;
	s->mail_ok = 0;
	s->txn_host_failed = 0;
	expect_clear(s);
	if (c->size_max > 0 && t->size > c->size_max) {
		/* RFC 1870: refuse before sending what the server said it will
		 * not take. Permanent at this server, like its own 552. */
		snprintf(why, sizeof(why), "message size %zu exceeds the size limit of %s (%llu "
		         "octets, from its EHLO SIZE)", t->size, s->peer, (unsigned long long)c->size_max);
		txn_refuse(s, SMTP_RCPT_BOUNCED, 552, "5.3.4", why);
		trace(s, '*', "%s", why);
		txn_end(s);
		return next_transaction(s);
	}
	if (t->smtputf8 && !c->smtputf8) {
		snprintf(why, sizeof(why), "the message needs SMTPUTF8 (non-ASCII addresses) and "
		         "%s does not offer it", s->peer);
		txn_refuse(s, SMTP_RCPT_BOUNCED, 553, "5.6.7", why);
		txn_end(s);
		return next_transaction(s);
	}
	if (expect_reserve(s, t->nrcpts + 4) < 0)
		goto nomem;
	s->data = t->data;
	s->data_len = t->data_len;
	s->size = t->size;
	s->eightbit = t->eightbit && c->eightbitmime;
	if (t->eightbit && !c->eightbitmime) {
		if (t->data7 != NULL) {
			/* RFC 6152 3: convert rather than send 8-bit (EXT-03). */
			s->data = t->data7;
			s->data_len = t->data7_len;
			s->size = t->size7;
			trace(s, '*', "no 8BITMIME at %s: the body goes quoted-printable", s->peer);
		} else {
			trace(s, '*', "no 8BITMIME at %s and the message cannot be converted to "
			      "7-bit (multipart or already encoded): sent as is, as Postfix does",
			      s->peer);
		}
	}
	set_state(s, SMTP_ST_TXN);
	if (append_mail(s) < 0)
		goto nomem;
	expect_push(s, CMD_MAIL, 0);
	if (s->pipelining) {
		/* RFC 2920: MAIL, every RCPT and DATA in one write, then the
		 * replies in order. One write matters: a client that writes line
		 * by line waits on TCP acknowledgements even on loopback. */
		for (size_t i = 0; i < t->nrcpts; i++) {
			if (append_rcpt(s, i) < 0)
				goto nomem;
			expect_push(s, CMD_RCPT, i);
		}
		if (buf_printf(&s->cmd, "DATA\r\n") < 0)
			goto nomem;
		expect_push(s, CMD_DATA, 0);
		s->next_rcpt = t->nrcpts;
	}
	if (send_cmd(s) < 0)
		goto nomem;
	wait_for(s, s->cfg.timeouts.mail);
	return 0;
nomem:
	host_failed(s, 0, "4.3.0", "out of memory");
	return drop(s);
}

/* Asks the owner for the next transaction, or ends with QUIT. */
static int next_transaction(struct smtp_session *s)
{
	set_state(s, SMTP_ST_IDLE);
	s->txn = s->cfg.next_txn(s->cfg.arg, s);
	if (s->txn == NULL)
		return quit(s);
	if (s->txn->nrcpts == 0 || s->txn->nrcpts > SMTP_EXPECT_MAX - 2) {
		txn_refuse(s, SMTP_RCPT_DEFERRED, 0, "4.3.0", "internal error: bad recipient count");
		txn_end(s);
		return quit(s);
	}
	if (s->need_rset) {
		/* DLV-18: a new MAIL after a failed transaction needs RSET. */
		s->need_rset = 0;
		set_state(s, SMTP_ST_RSET);
		if (buf_printf(&s->cmd, "RSET\r\n") < 0 || send_cmd(s) < 0) {
			host_failed(s, 0, "4.3.0", "out of memory");
			return drop(s);
		}
		expect_clear(s);
		expect_push(s, CMD_RSET, 0);
		wait_for(s, s->cfg.timeouts.rset);
		return 0;
	}
	return begin_txn(s);
}

/* After the last pipelined reply of a failed transaction, or at once
 * without pipelining: the transaction is over. */
static int txn_over(struct smtp_session *s)
{
	int leave = s->txn_host_failed;

	txn_end(s);
	if (s->quit_sent) {
		/* Its reply is the next one (it may be in the input already). */
		set_state(s, SMTP_ST_QUIT);
		expect_push(s, CMD_QUIT, 0);
		keep_waiting(s, s->cfg.timeouts.quit);
		return 0;
	}
	if (leave)
		return quit(s);
	return next_transaction(s);
}

/* Whether QUIT can go out right behind the message: the server pipelines
 * (RFC 2920 3.1 lets the message content start a group and QUIT end it),
 * the owner has nothing more for this session, and no recipient of this
 * transaction is waiting to be sent again here (452, RFC 5321
 * 4.5.3.1.10). It saves the wait for the reply to the dot before QUIT:
 * one round trip per session. */
static int can_quit_early(struct smtp_session *s)
{
	if (!s->pipelining || s->cfg.more_txn == NULL || s->cfg.more_txn(s->cfg.arg, s))
		return 0;
	for (size_t i = 0; i < s->txn->nrcpts; i++)
		if (s->txn->rcpts[i]->status == SMTP_RCPT_PENDING)
			return 0;
	return 1;
}

static int more_expected(const struct smtp_session *s)
{
	return s->expect_head < s->nexpect;
}

static int send_data_cmd(struct smtp_session *s)
{
	if (buf_printf(&s->cmd, "DATA\r\n") < 0 || send_cmd(s) < 0)
		return -1;
	expect_push(s, CMD_DATA, 0);
	wait_for(s, s->cfg.timeouts.data);
	return 0;
}

static int on_mail(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	if (r->code / 100 == 2) {
		s->mail_ok = 1;
		if (!s->pipelining) {
			if (append_rcpt(s, 0) < 0 || send_cmd(s) < 0)
				goto nomem;
			expect_push(s, CMD_RCPT, 0);
			s->next_rcpt = 1;
			wait_for(s, s->cfg.timeouts.rcpt);
		} else {
			keep_waiting(s, s->cfg.timeouts.rcpt);
		}
		return 0;
	}
	s->need_rset = 1;
	if (r->code / 100 == 5) {
		/* A 5xx to MAIL fails the sender for every recipient here. */
		txn_refuse(s, SMTP_RCPT_BOUNCED, r->code, dsn, line);
	} else {
		/* 4xx (or nonsense) to MAIL: this host cannot take it now. */
		s->txn_host_failed = 1;
		host_failed(s, r->code, dsn, "MAIL FROM refused: %s", line);
	}
	if (more_expected(s)) {
		keep_waiting(s, s->cfg.timeouts.rcpt);
		return 0;
	}
	return txn_over(s);
nomem:
	host_failed(s, 0, "4.3.0", "out of memory");
	return drop(s);
}

static int on_rcpt(struct smtp_session *s, const struct smtp_reply *r, size_t i)
{
	struct smtp_rcpt *rc = s->txn->rcpts[i];
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	if (!s->mail_ok) {
		/* Pipelined behind a refused MAIL: the outcome is MAIL's. */
	} else if (r->code / 100 == 2) {
		set_rcpt(rc, SMTP_RCPT_ACCEPTED, r->code, dsn, line);
		s->accepted++;
	} else if (smtp_reply_too_many_rcpts(r)) {
		/* RFC 5321 4.5.3.1.10: send the rest in a later transaction. */
		set_rcpt(rc, SMTP_RCPT_PENDING, r->code, dsn, line);
	} else if (r->code / 100 == 4) {
		set_rcpt(rc, SMTP_RCPT_DEFERRED, r->code, dsn, line);
	} else {
		set_rcpt(rc, SMTP_RCPT_BOUNCED, r->code, dsn, line);
	}
	if (s->pipelining) {
		/* DATA's reply follows. */
		keep_waiting(s, i + 1 < s->txn->nrcpts ? s->cfg.timeouts.rcpt : s->cfg.timeouts.data);
		return 0;
	}
	if (s->next_rcpt < s->txn->nrcpts) {
		if (append_rcpt(s, s->next_rcpt) < 0 || send_cmd(s) < 0)
			goto nomem;
		expect_push(s, CMD_RCPT, s->next_rcpt);
		s->next_rcpt++;
		wait_for(s, s->cfg.timeouts.rcpt);
		return 0;
	}
	if (s->accepted == 0) {
		/* DLV-16: no recipient accepted, no DATA. */
		s->need_rset = 1;
		return txn_over(s);
	}
	if (send_data_cmd(s) < 0)
		goto nomem;
	return 0;
nomem:
	host_failed(s, 0, "4.3.0", "out of memory");
	return drop(s);
}

static int on_data(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	if (r->code == 354 && (!s->mail_ok || s->accepted == 0)) {
		/* RFC 2920 3.1: DATA was pipelined and nobody was accepted, yet
		 * the server wants data: end it with a lone dot, send nothing. */
		if (buf_printf(&s->cmd, ".\r\n") < 0 || send_cmd(s) < 0)
			goto nomem;
		expect_push(s, CMD_DOT_EMPTY, 0);
		s->need_rset = 1;
		wait_for(s, s->cfg.timeouts.data_end);
		return 0;
	}
	if (!s->mail_ok || s->accepted == 0) {
		s->need_rset = 1;
		return txn_over(s);
	}
	if (r->code == 354) {
		trace(s, '>', "(message: %zu octets)", s->data_len);
		if (io_write_ref(s->io, s->data, s->data_len) < 0)
			goto nomem;
		set_state(s, SMTP_ST_DATA_BODY);
		expect_push(s, CMD_DOT, 0);
		if (can_quit_early(s)) {
			if (buf_printf(&s->cmd, "QUIT\r\n") < 0 || send_cmd(s) < 0)
				goto nomem;
			s->quit_sent = 1;
		}
		wait_for(s, s->cfg.timeouts.data_end);
		return 0;
	}
	s->need_rset = 1;
	if (r->code / 100 == 5) {
		for (size_t i = 0; i < s->txn->nrcpts; i++)
			if (s->txn->rcpts[i]->status == SMTP_RCPT_ACCEPTED)
				set_rcpt(s->txn->rcpts[i], SMTP_RCPT_BOUNCED, r->code, dsn, line);
	} else {
		s->txn_host_failed = 1;
		host_failed(s, r->code, dsn, "DATA refused: %s", line);
	}
	return txn_over(s);
nomem:
	host_failed(s, 0, "4.3.0", "out of memory");
	return drop(s);
}

static int on_dot(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];
	enum smtp_rcpt_status st;

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	/* RFC 5321 4.2.5: no partial results after the dot. */
	if (r->code / 100 == 2)
		st = SMTP_RCPT_SENT;
	else if (r->code / 100 == 5)
		st = SMTP_RCPT_BOUNCED;
	else
		st = SMTP_RCPT_DEFERRED;
	for (size_t i = 0; i < s->txn->nrcpts; i++)
		if (s->txn->rcpts[i]->status == SMTP_RCPT_ACCEPTED)
			set_rcpt(s->txn->rcpts[i], st, r->code, dsn, line);
	s->need_rset = st != SMTP_RCPT_SENT;
	set_state(s, SMTP_ST_TXN);
	return txn_over(s);
}

/* ---- the session's opening ---- */

static int send_ehlo(struct smtp_session *s, const char *verb)
{
	if (buf_printf(&s->cmd, "%s %s\r\n", verb, s->cfg.ehlo_name) < 0 || send_cmd(s) < 0) {
		host_failed(s, 0, "4.3.0", "out of memory");
		return drop(s);
	}
	wait_for(s, s->cfg.timeouts.ehlo);
	return 0;
}

static int on_greeting(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	snprintf(s->res.greeting, sizeof(s->res.greeting), "%s", line);
	if (r->code == 220) {
		s->res.greeted = 1;
		set_state(s, SMTP_ST_EHLO);
		return send_ehlo(s, "EHLO");
	}
	/* DLV-21: a 4xx or 5xx greeting: skip this host (Postfix
	 * smtp_skip_5xx_greeting), politely. */
	host_failed(s, r->code, dsn, "greeting refused: %s", line);
	return r->code == 421 ? drop(s) : quit(s);
}

static int after_ehlo(struct smtp_session *s, int starttls_offered)
{
	char why[SMTP_TEXT_MAX];
	enum tls_verdict v = tls_policy_offer(s->cfg.tls, starttls_offered, why, sizeof(why));

	if (v == TLS_DEFER) {
		host_failed(s, 0, "4.7.5", "%s", why);
		return quit(s);
	}
	if (v == TLS_GO_TLS) {
		set_state(s, SMTP_ST_STARTTLS);
		if (buf_printf(&s->cmd, "STARTTLS\r\n") < 0 || send_cmd(s) < 0) {
			host_failed(s, 0, "4.3.0", "out of memory");
			return drop(s);
		}
		wait_for(s, s->cfg.timeouts.starttls);
		return 0;
	}
	return next_transaction(s);
}

static int on_ehlo(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	if (r->code / 100 == 2) {
		smtp_caps_parse(r, &s->res.caps);
		s->pipelining = s->res.caps.pipelining && !s->cfg.no_pipelining;
		if (s->state == SMTP_ST_EHLO_TLS)
			return next_transaction(s);
		return after_ehlo(s, s->res.caps.starttls);
	}
	if (s->state == SMTP_ST_EHLO && (r->code == 500 || r->code == 502 || r->code == 501)) {
		/* DLV-12: EHLO not recognised: HELO, without extensions. */
		set_state(s, SMTP_ST_HELO);
		return send_ehlo(s, "HELO");
	}
	host_failed(s, r->code, dsn, "%s refused: %s",
	            s->state == SMTP_ST_EHLO_TLS ? "EHLO after STARTTLS" : "EHLO", line);
	return r->code == 421 ? drop(s) : quit(s);
}

static int on_helo(struct smtp_session *s, const struct smtp_reply *r)
{
	char line[SMTP_TEXT_MAX], dsn[16];

	reply_line(r, line, sizeof(line));
	reply_dsn(r, dsn, sizeof(dsn));
	if (r->code / 100 == 2) {
		memset(&s->res.caps, 0, sizeof(s->res.caps));
		s->pipelining = 0;
		return after_ehlo(s, 0);
	}
	host_failed(s, r->code, dsn, "HELO refused: %s", line);
	return r->code == 421 ? drop(s) : quit(s);
}

static int on_starttls(struct smtp_session *s, const struct smtp_reply *r)
{
	char why[SMTP_TEXT_MAX];
	enum tls_verdict v = tls_policy_starttls_reply(s->cfg.tls, r->code, why, sizeof(why));
	SSL *ssl;
	size_t dropped;

	if (v == TLS_DEFER) {
		host_failed(s, r->code, "4.7.5", "%s", why);
		return quit(s);
	}
	if (v == TLS_GO_PLAIN) {
		trace(s, '*', "%s", why);
		return next_transaction(s);
	}
	ssl = tls_client_ssl_new(s->cfg.ssl_ctx, s->cfg.mx_name, s->cfg.mx_name);
	if (ssl == NULL) {
		host_failed(s, 0, "4.7.5", "cannot start TLS: out of memory");
		return drop(s);
	}
	dropped = io_start_tls(s->io, ssl);
	if (dropped > 0)
		trace(s, '*', "discarded %zu bytes the server sent after its STARTTLS reply and "
		      "before the TLS handshake (STARTTLS injection, RFC 3207 section 6)", dropped);
	set_state(s, SMTP_ST_TLS_HANDSHAKE);
	/* The handshake counts as one wait in TLS 1.3, two in 1.2. */
	wait_for(s, s->cfg.timeouts.starttls);
	return 0;
}

static int on_tls_ready(struct smtp_session *s)
{
	char why[SMTP_TEXT_MAX];
	SSL *ssl = io_ssl(s->io);

	tls_client_details(ssl, &s->res.tls);
	s->res.tls_active = 1;
	trace(s, '*', "TLS %s %s, certificate %s%s%s", s->res.tls.version, s->res.tls.cipher,
	      s->res.tls.verified ? "verified" : "not verified",
	      s->res.tls.verified ? "" : ": ", s->res.tls.verify_error);
	if (tls_policy_peer(s->cfg.tls, s->res.tls.verified, s->res.tls.verify_error,
	                    s->cfg.mx_name, why, sizeof(why)) == TLS_DEFER) {
		host_failed(s, 0, "4.7.5", "%s", why);
		return quit(s);
	}
	/* RFC 3207 4.2: forget everything learned before TLS; EHLO again. */
	memset(&s->res.caps, 0, sizeof(s->res.caps));
	set_state(s, SMTP_ST_EHLO_TLS);
	return send_ehlo(s, "EHLO");
}

/* ---- dispatch ---- */

static int on_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	struct expect e;

	switch (s->state) {
	case SMTP_ST_GREETING:
		return on_greeting(s, r);
	case SMTP_ST_EHLO:
	case SMTP_ST_EHLO_TLS:
		return on_ehlo(s, r);
	case SMTP_ST_HELO:
		return on_helo(s, r);
	case SMTP_ST_STARTTLS:
		return on_starttls(s, r);
	case SMTP_ST_TXN:
	case SMTP_ST_DATA_BODY:
	case SMTP_ST_RSET:
	case SMTP_ST_QUIT:
		if (!more_expected(s))
			break;
		e = s->expect[s->expect_head++];
		if (r->code == 421 && e.cmd != CMD_QUIT) {
			/* RFC 5321 3.8: the server is closing. */
			char line[SMTP_TEXT_MAX];

			reply_line(r, line, sizeof(line));
			host_failed(s, 421, r->enhanced[0] ? r->enhanced : "4.0.0",
			            "server closing: %s", line);
			return drop(s);
		}
		switch (e.cmd) {
		case CMD_MAIL: return on_mail(s, r);
		case CMD_RCPT: return on_rcpt(s, r, e.rcpt);
		case CMD_DATA: return on_data(s, r);
		case CMD_DOT: return on_dot(s, r);
		case CMD_DOT_EMPTY: return txn_over(s);
		case CMD_RSET:
			if (r->code / 100 == 2)
				return begin_txn(s);
			host_failed(s, r->code, "4.0.0", "RSET refused (%d)", r->code);
			return quit(s);
		case CMD_QUIT:
			return finish(s);
		}
		break;
	default:
		break;
	}
	{
		char line[SMTP_TEXT_MAX];

		reply_line(r, line, sizeof(line));
		host_failed(s, 0, "4.5.0", "unexpected reply in state %s: %s",
		            smtp_state_name(s->state), line);
		return drop(s);
	}
}

static void trace_reply(struct smtp_session *s, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		s->cfg.trace(s->cfg.arg, '<', p, l > 0 && p[l - 1] == '\r' ? l - 1 : l);
		p += l + 1;
	}
}

/* Handles every complete reply at the front of the input. Returns -1 when
 * the session has finished (and may be gone). The parsed reply (8.5 KB)
 * lives only while replies are handled, not with the session: 500 idle
 * sessions held 4.2 MB of them (tests/bench/send-bench). */
static int process_input(struct smtp_session *s)
{
	struct smtp_reply *reply = NULL;
	int rc = 0;

	for (;;) {
		struct buf *in = io_input(s->io);
		size_t used = 0;
		char err[256];
		enum smtp_reply_status st;

		if (buf_avail(in) == 0)
			break;
		if (reply == NULL && (reply = malloc(sizeof(*reply))) == NULL) {
			host_failed(s, 0, "4.3.0", "out of memory");
			rc = drop(s);
			break;
		}
		st = smtp_reply_parse(buf_head(in), buf_avail(in), reply, &used, err, sizeof(err));
		if (st == SMTP_REPLY_INCOMPLETE)
			break;
		if (st == SMTP_REPLY_ERROR) {
			host_failed(s, 0, "4.5.0", "protocol error from %s: %s", s->peer, err);
			rc = drop(s);
			break;
		}
		if (s->cfg.trace != NULL)
			trace_reply(s, buf_head(in), used);
		buf_consume(in, used);
		loop_timer_stop(s->loop, &s->timer);
		if (on_reply(s, reply) < 0) {
			rc = -1;
			break;
		}
		if (s->io == NULL || s->state == SMTP_ST_TLS_HANDSHAKE)
			break;
	}
	free(reply);
	return rc;
}

static void on_io(void *arg, enum io_event ev)
{
	struct smtp_session *s = arg;

	switch (ev) {
	case IO_EV_CONNECTED:
		s->res.connected = 1;
		s->res.connect_ms = (unsigned)(loop_now_ms(s->loop) - s->started_ms);
		trace(s, '*', "connected to %s in %u ms", s->peer, s->res.connect_ms);
		set_state(s, SMTP_ST_GREETING);
		loop_timer_stop(s->loop, &s->timer);
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
		if (s->state == SMTP_ST_QUIT) {
			finish(s);
			return;
		}
		if (s->state == SMTP_ST_DATA_BODY)
			goto after_dot;
		host_failed(s, 421, "4.4.2", "%s closed the connection in state %s", s->peer,
		            smtp_state_name(s->state));
		drop(s);
		return;
	case IO_EV_ERROR:
		if (s->state == SMTP_ST_QUIT) {
			finish(s);
			return;
		}
		if (s->state == SMTP_ST_TLS_HANDSHAKE)
			s->res.tls_failed = 1;
		if (s->state == SMTP_ST_DATA_BODY)
			goto after_dot;
		host_failed(s, 0, s->state == SMTP_ST_CONNECT ? "4.4.1" : "4.4.2", "%s: %s",
		            s->peer, io_error(s->io));
		drop(s);
		return;
	}
	return;
after_dot:
	if (io_output_pending(s->io) > 0) {
		/* The end of the message never left: the server cannot have
		 * taken it, so this is a lost connection like any other (RFC
		 * 5321 3.8: as if 451) and the next host may have it. */
		host_failed(s, 421, "4.4.2", "connection to %s lost while sending the message "
		            "(%zu octets not sent)", s->peer, io_output_pending(s->io));
		drop(s);
		return;
	}
	/* The message may have arrived: defer rather than try another host,
	 * which could deliver it twice (DLV-19). */
	for (size_t i = 0; s->txn != NULL && i < s->txn->nrcpts; i++)
		if (s->txn->rcpts[i]->status == SMTP_RCPT_ACCEPTED)
			set_rcpt(s->txn->rcpts[i], SMTP_RCPT_DEFERRED, 0, "4.4.2",
			         "connection lost after the message was sent; delivery status "
			         "unknown, it will be retried (a duplicate is possible)");
	host_failed(s, 0, "4.4.2", "connection to %s lost after the message was sent", s->peer);
	drop(s);
}

static void on_timeout(void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_ST_QUIT) {
		finish(s);
		return;
	}
	/* Only once the end of the message has left is its fate unknown;
	 * before that the server cannot have taken it (see after_dot). */
	if (s->state == SMTP_ST_DATA_BODY && io_output_pending(s->io) == 0) {
		for (size_t i = 0; i < s->txn->nrcpts; i++)
			if (s->txn->rcpts[i]->status == SMTP_RCPT_ACCEPTED)
				set_rcpt(s->txn->rcpts[i], SMTP_RCPT_DEFERRED, 0, "4.4.2",
				         "timeout after the message was sent; delivery status unknown, "
				         "it will be retried (a duplicate is possible)");
	}
	if (s->state == SMTP_ST_CONNECT)
		s->res.connect_timed_out = 1;
	host_failed(s, 0, s->state == SMTP_ST_CONNECT ? "4.4.1" : "4.4.2",
	            "timeout in state %s talking to %s", smtp_state_name(s->state), s->peer);
	drop(s);
}

struct smtp_session *smtp_session_start(struct loop *loop, const struct sockaddr *sa,
                                        socklen_t salen, const struct smtp_session_config *cfg)
{
	struct smtp_session *s = calloc(1, sizeof(*s));
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (s == NULL)
		return NULL;
	if (expect_reserve(s, SMTP_EXPECT_MIN) < 0) {
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->cfg = *cfg;
	s->started_ms = loop_now_ms(loop);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	snprintf(s->peer, sizeof(s->peer), "%s[%s]:%u", cfg->mx_name ? cfg->mx_name : addr, addr, port);
	set_state(s, SMTP_ST_CONNECT);
	s->io = io_connect(loop, sa, salen, on_io, s);
	if (s->io == NULL) {
		free(s->expect);
		free(s);
		return NULL;
	}
	loop_timer_start(loop, &s->timer, cfg->timeouts.connect ? cfg->timeouts.connect : 30000,
	                 on_timeout, s);
	return s;
}

const struct smtp_session_result *smtp_session_result(const struct smtp_session *s)
{
	return &s->res;
}

const char *smtp_session_peer(const struct smtp_session *s)
{
	return s->peer;
}

enum smtp_state smtp_session_state(const struct smtp_session *s)
{
	return s->state;
}

void smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	loop_timer_stop(s->loop, &s->timer);
	io_free(s->io);
	buf_free(&s->cmd);
	free(s->expect);
	free(s);
}
