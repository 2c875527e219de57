/*
 * relay: see relay.h.
 *
 * Owns the libcurl multi handle, one easy handle per job or check, and
 * the fds libcurl asks the loop to watch (CURLMOPT_SOCKETFUNCTION ->
 * loop_watch, CURLMOPT_TIMERFUNCTION -> one loop timer; both end in
 * curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read). Must not: print, block outside libcurl, let the
 * secret reach the trace, an error or a reply text, or ever turn off
 * certificate verification (SEC-09).
 *
 * URLs (CURL-01): implicit TLS is smtps://host:port/EHLO-NAME; STARTTLS
 * is smtp:// with CURLOPT_USE_SSL = CURLUSESSL_ALL (never TRY: that would
 * AUTH in the clear when STARTTLS is stripped, SEC-02); `tls none` is
 * plain smtp://, for loopback tests only. The credentials go through
 * CURLOPT_USERNAME/PASSWORD, never the URL (SEC-06).
 *
 * The message goes as rendered, CRLF lines, NOT dot-stuffed: libcurl
 * stuffs it itself and adds the final "." (CURL-05); stuffing here too
 * would double every leading dot.
 *
 * Per-recipient results (CURL-03, CURL-06). libcurl 7.88 reports one code
 * per transfer: without CURLOPT_MAIL_RCPT_ALLLOWFAILS it stops at the
 * first refused RCPT, and with it only the last failure is kept. So each
 * transfer sets ALLLOWFAILS and follows the protocol through
 * CURLOPT_DEBUGFUNCTION, which libcurl calls with every command it sends
 * (CURLINFO_HEADER_OUT, one command a call) and every reply line it reads
 * (CURLINFO_HEADER_IN, one line a call, continuation lines included).
 * libcurl never pipelines SMTP commands (CURL-02), so the next complete
 * reply (smtp_reply_parse over the collected lines) answers the last
 * command sent: each "RCPT TO:<x>" is paired with its own reply, in the
 * order of the recipient list; accepted recipients then take the DATA
 * reply (when it is not 354) or the reply to the end of data, which is
 * the first reply after the 354 (libcurl writes the final "." without a
 * HEADER_OUT record). One transaction per recipient would also give
 * per-recipient codes, but sends the message N times, counts N messages
 * against the provider's daily quota (RELAY-02, RELAY-04) and, for
 * QQ's per-connection limits, N logins; the trace costs nothing extra.
 * Checked against Debian's libcurl 7.88.1 by tests/integration/relay.test
 * (one recipient of three refused with 550, one with 450). The server's
 * reply lines reach this code, so relay_trace_replay (relay_trace.h) feeds
 * a recorded trace through the same callback without a transfer, for the
 * fuzzer (tests/fuzz/fuzz_relay_trace.c).
 *
 * Classification (STYLE.md principle 2, STANDARDS.md section 10): RCPT 4xx
 * defers that recipient, 5xx bounces it (QQ's "550 ... frequency limited"
 * defers: RELAY-02); MAIL 5xx bounces all, 4xx defers all; a refused
 * login (535) defers all, as Postfix soft-bounces SASL failures, with the
 * provider's explanation (RELAY-03); connection, TLS and verification
 * failures defer all; anything lost after the recipients were accepted
 * defers them (a possible duplicate, never a loss).
 */
#include "config.h"

#include "relay.h"
#include "relay_trace.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "loop.h"
#include "smtp_reply.h"
#include "text.h"

#define RELAY_IN_MAX SMTP_REPLY_BYTES_MAX /* one reply, all its lines */

enum xcmd {          /* the command whose reply is awaited */
	XCMD_GREETING,
	XCMD_EHLO,
	XCMD_HELO,
	XCMD_STARTTLS,
	XCMD_AUTH,
	XCMD_MAIL,
	XCMD_RCPT,
	XCMD_DATA,
	XCMD_EOD,    /* the end of data: after 354 */
	XCMD_QUIT,
	XCMD_OTHER,
};

struct xfer {
	struct relay *r;             /* owner */
	CURL *easy;
	struct relay_job *job;       /* a send, or NULL */
	struct relay_check *check;   /* a check, or NULL */
	struct curl_slist *rcpt_list;
	size_t off;                  /* upload position in job->data */
	char errbuf[CURL_ERROR_SIZE];
	char in[RELAY_IN_MAX];       /* reply lines not yet a complete reply */
	size_t inlen;
	int in_overflow;             /* a reply over RELAY_IN_MAX: a protocol error */
	struct smtp_reply reply;     /* the last complete reply */
	enum xcmd cmd;               /* what the next reply answers */
	size_t next_rcpt;            /* RCPT commands sent so far */
	size_t cur_rcpt;             /* index the awaited RCPT reply belongs to */
	int in_auth;                 /* AUTH sent, 334 seen: client lines are secret */
	int tls_captured;
	int auth_code;
	char auth_reply[SMTP_TEXT_MAX];
	int mail_code;
	char mail_reply[SMTP_TEXT_MAX];
	char mail_dsn[16];
	int data_code;               /* reply to DATA */
	char data_reply[SMTP_TEXT_MAX];
	char data_dsn[16];
	int eod_code;                /* reply to the end of data */
	char eod_reply[SMTP_TEXT_MAX];
	char eod_dsn[16];
	int *rcpt_answered;          /* per recipient: its RCPT reply came */
	struct relay_outcome out;
	struct xfer *next;           /* in r->xfers */
};

struct relay {
	struct loop *loop;
	CURLM *multi;
	struct relay_opts o;         /* strings borrowed */
	struct loop_timer timer;
	struct xfer *xfers;          /* running */
	char url[600];
	int in_callback;             /* inside curl_multi_socket_action */
	/* RELAY-03: once the relay refused the login, later jobs of this
	 * client are not tried (a provider locks an account that keeps
	 * failing); they are deferred with the first refusal's reason. */
	int skipping;                /* every job is now answered without connecting */
	int skip_code;               /* the reply behind it (the AUTH refusal), or 0 */
	char skip_dsn[16];
	char skip_reason[SMTP_TEXT_MAX];
	struct skipped_job *skipped; /* jobs waiting to be answered so */
	struct loop_timer skip_timer;
	/* Until one transfer has got through the login, one runs at a time
	 * and the others wait here: a wrong password costs one refusal, not
	 * one per message of a queue run. */
	int login_ok;                /* a transfer got past the login */
	struct skipped_job *held, **held_tail;
};

/* A job submitted after the login was refused, answered on the next turn
 * of the loop (never from inside relay_submit). */
struct skipped_job {
	struct relay_job *job;
	struct skipped_job *next;
};

/* ---------------------------------------------------------------- loop glue */

static void check_done(struct relay *r);
static void release_held(struct relay *r);
static void stop_relay(struct relay *r, int code, const char *dsn, const char *reason);

static void on_fd(int fd, unsigned events, void *arg)
{
	struct relay *r = arg;
	int running = 0, mask = 0;

	if (events & LOOP_READ)
		mask |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		mask |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(r->multi, fd, mask, &running);
	check_done(r);
}

static void on_timer(void *arg)
{
	struct relay *r = arg;
	int running = 0;

	curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(r);
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct relay *r = userp;
	unsigned ev = 0;

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= LOOP_WRITE;
	/* CURL_POLL_REMOVE: ev 0 stops watching, before libcurl closes it. */
	loop_watch(r->loop, s, ev, on_fd, r);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct relay *r = userp;

	(void)multi;
	if (timeout_ms < 0)
		loop_timer_stop(r->loop, &r->timer);
	else
		loop_timer_start(r->loop, &r->timer, (uint64_t)timeout_ms, on_timer, r);
	return 0;
}

/* ---------------------------------------------------------------- trace */

static void peer_name(struct xfer *x, char *out, size_t len)
{
	char *ip = NULL;
	long port = 0;

	if (x->easy != NULL &&
	    curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL &&
	    ip[0] != '\0') {
		curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_PORT, &port);
		text_say(out, len, "%s[%s]:%ld", x->r->o.conf->host, ip, port);
	} else {
		text_say(out, len, "%s:%u", x->r->o.conf->host, x->r->o.conf->port);
	}
}

static void trace(struct xfer *x, char dir, const char *line, size_t n)
{
	char peer[320];

	if (x->r->o.trace == NULL)
		return;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	peer_name(x, peer, sizeof(peer));
	x->r->o.trace(x->r->o.arg, peer, dir, line, n);
}

/* The TLS facts, read once the session is up: libcurl's SSL* lives only
 * as long as the connection, which may be gone when the transfer ends. */
static void capture_tls(struct xfer *x)
{
	struct curl_tlssessioninfo *ti = NULL;

	if (x->tls_captured || x->easy == NULL)
		return;
	if (curl_easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
		return;
	if (!SSL_is_init_finished((SSL *)ti->internals))
		return;
	tls_client_details((SSL *)ti->internals, &x->out.tls);
	x->out.tls_active = 1;
	x->tls_captured = 1;
}

static int is_verb(const char *p, size_t n, const char *verb)
{
	size_t l = strlen(verb);

	return n >= l && strncasecmp(p, verb, l) == 0;
}

/* A command libcurl sent: remember what the next reply answers. */
static void on_command(struct xfer *x, const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (x->in_auth) {
		/* A SASL response line (AUTH LOGIN's user and password, a
		 * PLAIN response after 334): never shown (SEC-06). */
		trace(x, '>', "<redacted>", 10);
		return;
	}
	if (is_verb(p, n, "AUTH ")) {
		char clean[600];

		log_redact_line(clean, sizeof(clean), p, n, 0);
		trace(x, '>', clean, strlen(clean));
		x->cmd = XCMD_AUTH;
		x->in_auth = 1;
		return;
	}
	trace(x, '>', p, n);
	if (is_verb(p, n, "EHLO"))
		x->cmd = XCMD_EHLO;
	else if (is_verb(p, n, "HELO"))
		x->cmd = XCMD_HELO;
	else if (is_verb(p, n, "STARTTLS"))
		x->cmd = XCMD_STARTTLS;
	else if (is_verb(p, n, "MAIL FROM:"))
		x->cmd = XCMD_MAIL;
	else if (is_verb(p, n, "RCPT TO:")) {
		x->cmd = XCMD_RCPT;
		x->cur_rcpt = x->next_rcpt++;
	} else if (is_verb(p, n, "DATA"))
		x->cmd = XCMD_DATA;
	else if (is_verb(p, n, "QUIT"))
		x->cmd = XCMD_QUIT;
	else
		x->cmd = XCMD_OTHER;
}

static void reply_fields(const struct smtp_reply *rp, int *code, char *text, size_t tlen,
                         char *dsn, size_t dlen)
{
	char one[SMTP_REPLY_ONE_LINE_MAX];

	smtp_reply_one_line(rp, one, sizeof(one));
	*code = rp->code;
	text_say(text, tlen, "%s", one);
	if (dsn != NULL)
		text_say(dsn, dlen, "%s", rp->enhanced);
}

/* A complete reply to x->cmd. */
static void on_reply(struct xfer *x)
{
	const struct smtp_reply *rp = &x->reply;
	struct relay_check *c = x->check;

	capture_tls(x);
	/* A reused connection has no greeting: any reply says it is up. */
	x->out.connected = 1;
	switch (x->cmd) {
	case XCMD_GREETING:
		if (c != NULL)
			smtp_reply_one_line(rp, c->greeting, sizeof(c->greeting));
		x->out.connected = 1;
		break;
	case XCMD_EHLO:
	case XCMD_HELO:
		if (c != NULL && rp->code == 250) {
			c->ncaps = 0;
			for (size_t i = 1; i < rp->nkept && c->ncaps < 64; i++) {
				size_t l;
				const char *t = smtp_reply_line(rp, i, &l);

				text_say(c->caps[c->ncaps++], sizeof(c->caps[0]), "%.*s", (int)l, t);
			}
		}
		break;
	case XCMD_AUTH:
		if (rp->code == 334)
			return; /* the dialogue goes on; still secret */
		x->in_auth = 0;
		reply_fields(rp, &x->auth_code, x->auth_reply, sizeof(x->auth_reply), NULL, 0);
		if (rp->code == 235)
			x->out.authenticated = 1;
		break;
	case XCMD_MAIL:
		reply_fields(rp, &x->mail_code, x->mail_reply, sizeof(x->mail_reply), x->mail_dsn,
		             sizeof(x->mail_dsn));
		break;
	case XCMD_RCPT:
		if (x->job != NULL && x->cur_rcpt < x->job->nrcpts) {
			struct smtp_rcpt *sr = x->job->rcpts[x->cur_rcpt];

			reply_fields(rp, &sr->code, sr->reply, sizeof(sr->reply), sr->dsn,
			             sizeof(sr->dsn));
			x->rcpt_answered[x->cur_rcpt] = 1;
		}
		break;
	case XCMD_DATA:
		reply_fields(rp, &x->data_code, x->data_reply, sizeof(x->data_reply), x->data_dsn,
		             sizeof(x->data_dsn));
		if (rp->code == 354) {
			x->cmd = XCMD_EOD;
			return;
		}
		break;
	case XCMD_EOD:
		reply_fields(rp, &x->eod_code, x->eod_reply, sizeof(x->eod_reply), x->eod_dsn,
		             sizeof(x->eod_dsn));
		break;
	case XCMD_STARTTLS:
	case XCMD_QUIT:
	case XCMD_OTHER:
		break;
	}
	x->cmd = XCMD_OTHER;
}

static void on_reply_line(struct xfer *x, const char *p, size_t n)
{
	size_t used = 0;
	char err[128];
	enum smtp_reply_status st;

	trace(x, '<', p, n);
	if (x->in_overflow)
		return;
	if (x->inlen + n > sizeof(x->in)) {
		x->in_overflow = 1; /* libcurl fails the transfer on its own */
		return;
	}
	memcpy(x->in + x->inlen, p, n);
	x->inlen += n;
	st = smtp_reply_parse(x->in, x->inlen, &x->reply, &used, err, sizeof(err));
	if (st == SMTP_REPLY_INCOMPLETE)
		return;
	x->inlen = 0;
	if (st == SMTP_REPLY_COMPLETE)
		on_reply(x);
}

static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
	struct xfer *x = userp;

	(void)easy;
	switch (type) {
	case CURLINFO_TEXT:
		trace(x, '*', data, size);
		break;
	case CURLINFO_HEADER_OUT:
		on_command(x, data, size);
		break;
	case CURLINFO_HEADER_IN:
		on_reply_line(x, data, size);
		break;
	default:
		break; /* message bytes and TLS records: not traced */
	}
	return 0;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userp)
{
	struct xfer *x = userp;
	size_t room = size * nitems, left = x->job->len - x->off;
	size_t n = left < room ? left : room;

	memcpy(buf, x->job->data + x->off, n);
	x->off += n;
	return n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	(void)p;
	(void)userp;
	return size * nmemb; /* a command's reply text, already seen in the trace */
}

/* ---------------------------------------------------------------- results */

/* 1 for a 5xx that is really a rate limit (QQ: "550 ... frequency
 * limited"): deferred, not bounced (RELAY-02). */
static int rate_limited(const char *reply)
{
	return strstr(reply, "frequency limit") != NULL || strstr(reply, "Frequency limit") != NULL;
}

static void set_rcpt(struct smtp_rcpt *sr, int code, const char *reply, const char *dsn,
                     const char *dflt_dsn)
{
	enum smtp_reply_class k = smtp_reply_class(code);

	if (k == SMTP_CLASS_POSITIVE)
		sr->status = SMTP_RCPT_SENT;
	else if (k == SMTP_CLASS_PERMANENT && !rate_limited(reply))
		sr->status = SMTP_RCPT_BOUNCED;
	else
		sr->status = SMTP_RCPT_DEFERRED;
	sr->code = code;
	if (reply != sr->reply)
		text_say(sr->reply, sizeof(sr->reply), "%s", reply);
	/* The server's enhanced code when it has the reply's class. */
	if (dsn != NULL && dsn[0] != '\0' && dsn[0] == (char)('0' + code / 100)) {
		if (dsn != sr->dsn)
			text_say(sr->dsn, sizeof(sr->dsn), "%s", dsn);
	} else if (sr->status == SMTP_RCPT_SENT)
		text_say(sr->dsn, sizeof(sr->dsn), "2.0.0");
	else if (sr->status == SMTP_RCPT_BOUNCED)
		text_say(sr->dsn, sizeof(sr->dsn), "5.0.0");
	else
		text_say(sr->dsn, sizeof(sr->dsn), "%s", dflt_dsn);
	if (sr->status == SMTP_RCPT_DEFERRED && sr->dsn[0] == '5')
		sr->dsn[0] = '4'; /* a rate limit kept for later */
}

static void defer_rcpt(struct smtp_rcpt *sr, int code, const char *dsn, const char *reason)
{
	sr->status = SMTP_RCPT_DEFERRED;
	sr->code = code;
	text_say(sr->dsn, sizeof(sr->dsn), "%s", dsn);
	text_say(sr->reply, sizeof(sr->reply), "%s", reason);
}

/* The job-wide failure behind res, explained, into x->out.reason; the
 * enhanced code for it into dsn. */
static void job_reason(struct xfer *x, CURLcode res, char *dsn, size_t dlen)
{
	const char *cerr = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);
	const struct conf_relay *cr = x->r->o.conf;
	char hint[SMTP_TEXT_MAX];

	text_say(dsn, dlen, "4.4.1");
	if (x->auth_code != 0 && !x->out.authenticated) {
		relay_hint(cr, x->auth_code, x->auth_reply, hint, sizeof(hint));
		text_say(dsn, dlen, "4.7.8");
		text_say(x->out.reason, sizeof(x->out.reason), "relay %s refused the login of %s: "
		         "%s%s%s", cr->name, cr->user, x->auth_reply, hint[0] ? "; " : "", hint);
		return;
	}
	switch (res) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		text_say(dsn, dlen, "4.7.5");
		text_say(x->out.reason, sizeof(x->out.reason), "TLS with relay %s failed: %s "
		         "(the certificate is verified against %s)", cr->name, cerr,
		         cr->ca_file[0] ? cr->ca_file : x->r->o.ca_file ? x->r->o.ca_file
		                                                        : "the system store");
		return;
	case CURLE_USE_SSL_FAILED:
		text_say(dsn, dlen, "4.7.4");
		text_say(x->out.reason, sizeof(x->out.reason), "relay %s did not start TLS (STARTTLS "
		         "not offered or refused); nothing is sent in the clear: %s", cr->name, cerr);
		return;
	case CURLE_LOGIN_DENIED:
		text_say(dsn, dlen, "4.7.8");
		text_say(x->out.reason, sizeof(x->out.reason), "relay %s refused the login of %s: %s",
		         cr->name, cr->user, cerr);
		return;
	default:
		text_say(x->out.reason, sizeof(x->out.reason), "relay %s (%s:%u): %s", cr->name,
		         cr->host, cr->port, cerr);
		return;
	}
}

static void finish_job(struct xfer *x, CURLcode res)
{
	struct relay_job *j = x->job;
	char dsn[16];
	int lost = res != CURLE_OK;

	job_reason(x, res, dsn, sizeof(dsn));
	if (res == CURLE_OK)
		x->out.reason[0] = '\0';
	if (x->auth_code != 0 && !x->out.authenticated) {
		/* RELAY-03: a refused login defers every recipient. */
		for (size_t i = 0; i < j->nrcpts; i++)
			defer_rcpt(j->rcpts[i], x->auth_code, dsn, x->out.reason);
		return;
	}
	if (x->mail_code != 0 && x->mail_code / 100 != 2) {
		char hint[SMTP_TEXT_MAX], text[SMTP_TEXT_MAX];

		relay_hint(x->r->o.conf, x->mail_code, x->mail_reply, hint, sizeof(hint));
		text_say(text, sizeof(text), "%s%s%s", x->mail_reply, hint[0] ? "; " : "", hint);
		text_say(x->out.reason, sizeof(x->out.reason), "%s", text);
		for (size_t i = 0; i < j->nrcpts; i++)
			set_rcpt(j->rcpts[i], x->mail_code, text, x->mail_dsn, "4.0.0");
		return;
	}
	for (size_t i = 0; i < j->nrcpts; i++) {
		struct smtp_rcpt *sr = j->rcpts[i];

		if (!x->rcpt_answered[i]) {
			defer_rcpt(sr, 0, dsn, x->out.reason[0] ? x->out.reason : "no reply to RCPT");
			continue;
		}
		if (sr->code / 100 != 2) {
			set_rcpt(sr, sr->code, sr->reply, sr->dsn, "4.0.0");
			continue;
		}
		/* Accepted: the DATA reply, or the reply to the end of data. */
		if (x->data_code != 0 && x->data_code != 354)
			set_rcpt(sr, x->data_code, x->data_reply, x->data_dsn, "4.0.0");
		else if (x->eod_code != 0)
			set_rcpt(sr, x->eod_code, x->eod_reply, x->eod_dsn, "4.0.0");
		else
			defer_rcpt(sr, 0, "4.4.2", lost && x->out.reason[0] ? x->out.reason
			           : "the connection ended before the message was accepted");
	}
}

/* A check's outcome into x->check (its done callback is the caller's). */
static void finish_check(struct xfer *x, CURLcode res)
{
	struct relay_check *c = x->check;

	if (res != CURLE_OK || !x->out.authenticated) {
		char dsn[16];

		job_reason(x, res, dsn, sizeof(dsn));
		if (res == CURLE_OK && x->auth_code == 0 && x->r->o.password != NULL)
			text_say(x->out.reason, sizeof(x->out.reason), "relay %s did not offer "
			         "AUTH (no login was made)", x->r->o.conf->name);
	}
	c->out = x->out;
	c->auth_code = x->auth_code;
	text_say(c->auth_reply, sizeof(c->auth_reply), "%s", x->auth_reply);
	relay_hint(x->r->o.conf, x->auth_code, x->auth_reply, c->hint, sizeof(c->hint));
}

static void unlink_xfer(struct relay *r, struct xfer *x)
{
	for (struct xfer **pp = &r->xfers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
}

static void xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL) {
		curl_multi_remove_handle(x->r->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->rcpt_list);
	free(x->rcpt_answered);
	free(x);
}

static void check_done(struct relay *r)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		CURLcode res;

		if (m->msg != CURLMSG_DONE)
			continue;
		res = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		unlink_xfer(r, x);
		peer_name(x, x->out.peer, sizeof(x->out.peer));
		if (x->job != NULL) {
			struct relay_job *j = x->job;

			finish_job(x, res);
			if (x->auth_code != 0 && !x->out.authenticated) {
				char why[SMTP_TEXT_MAX];

				text_say(why, sizeof(why), "not tried: %s (earlier in this run; another "
				         "attempt could lock the account)", x->out.reason);
				stop_relay(r, x->auth_code, "4.7.8", why);
			} else if (x->out.authenticated || res == CURLE_OK) {
				r->login_ok = 1;
			}
			x->job = NULL;
			curl_multi_remove_handle(r->multi, x->easy);
			j->done(j->arg, j, &x->out);
		} else {
			struct relay_check *c = x->check;

			finish_check(x, res);
			curl_multi_remove_handle(r->multi, x->easy);
			c->done(c->arg, c);
		}
		xfer_free(x);
	}
	release_held(r);
}

/* ---------------------------------------------------------------- setup */

static struct xfer *xfer_new(struct relay *r)
{
	const struct relay_opts *o = &r->o;
	const struct conf_relay *cr = o->conf;
	struct xfer *x = calloc(1, sizeof(*x));
	CURL *e;
	int ok = 1;

	if (x == NULL)
		return NULL;
	x->r = r;
	x->easy = e = curl_easy_init();
	if (e == NULL) {
		free(x);
		return NULL;
	}
	text_say(x->out.peer, sizeof(x->out.peer), "%s:%u", cr->host, cr->port);
	ok &= curl_easy_setopt(e, CURLOPT_URL, r->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) == CURLE_OK; /* feeds debug_cb */
	ok &= curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_DEBUGDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
	/* SEC-09: verification always on. */
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	if (cr->ca_file[0] != '\0')
		ok &= curl_easy_setopt(e, CURLOPT_CAINFO, cr->ca_file) == CURLE_OK;
	else if (o->ca_file != NULL && o->ca_file[0] != '\0')
		ok &= curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
	if (cr->tls == CONF_RELAY_TLS_STARTTLS)
		ok &= curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                       (long)(o->connect_timeout_ms ? o->connect_timeout_ms : 30000)) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	                       (long)(o->timeout_ms ? o->timeout_ms : 600000)) == CURLE_OK;
	/* RFC 5321 4.5.3.2.6: up to 10 minutes for the reply to the end of
	 * data (CURL-08); the whole-transfer timeout above still bounds it. */
	ok &= curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, 600L) == CURLE_OK;
	/* No FORBID_REUSE: a connection that ends a transfer well stays in
	 * the multi handle's cache for the next job of this client, already
	 * logged in (fewer logins against the provider's limits), and its
	 * QUIT, which libcurl sends blocking, is left to relay_free, after
	 * every result is in, instead of stalling the loop after each job. */
	if (cr->user[0] != '\0' && o->password != NULL) {
		ok &= curl_easy_setopt(e, CURLOPT_USERNAME, cr->user) == CURLE_OK;
		ok &= curl_easy_setopt(e, CURLOPT_PASSWORD, o->password) == CURLE_OK;
	}
	if (!ok) {
		xfer_free(x);
		return NULL;
	}
	return x;
}

struct relay *relay_new(struct loop *loop, const struct relay_opts *o, char *err,
                        size_t errlen)
{
	static int curl_ready;
	struct relay *r;
	const struct conf_relay *cr = o->conf;
	const char *scheme = cr->tls == CONF_RELAY_TLS_IMPLICIT ? "smtps" : "smtp";

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			text_say(err, errlen, "libcurl cannot be initialised");
			return NULL;
		}
		curl_ready = 1;
	}
	if (cr->host[0] == '\0' || strpbrk(cr->host, "/@?#[] \t\r\n") != NULL) {
		text_say(err, errlen, "relay %s: host '%s' is not a host name", cr->name, cr->host);
		return NULL;
	}
	if (o->ehlo_name != NULL && strpbrk(o->ehlo_name, "/?#@ \t\r\n%") != NULL) {
		text_say(err, errlen, "EHLO name '%s' cannot go in a URL", o->ehlo_name);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		text_say(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->o = *o;
	/* CURL-01: the URL path is the EHLO name. */
	text_say(r->url, sizeof(r->url), "%s://%s:%u/%s", scheme, cr->host, cr->port,
	         o->ehlo_name ? o->ehlo_name : "");
	r->multi = curl_multi_init();
	if (r->multi == NULL) {
		free(r);
		text_say(err, errlen, "out of memory");
		return NULL;
	}
	curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
	curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
	/* RELAY-02: a bounded number of logins at once per account. */
	curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	                  (long)(o->max_connections ? o->max_connections : 4));
	return r;
}

static void on_skip_timer(void *arg)
{
	struct relay *r = arg;

	while (r->skipped != NULL) {
		struct skipped_job *sj = r->skipped;
		struct relay_job *j = sj->job;
		struct relay_outcome out;

		r->skipped = sj->next;
		free(sj);
		memset(&out, 0, sizeof(out));
		text_say(out.peer, sizeof(out.peer), "%s:%u", r->o.conf->host, r->o.conf->port);
		text_say(out.reason, sizeof(out.reason), "%s", r->skip_reason);
		for (size_t i = 0; i < j->nrcpts; i++)
			defer_rcpt(j->rcpts[i], r->skip_code, r->skip_dsn, r->skip_reason);
		j->done(j->arg, j, &out);
	}
}

/* From now on every job of this client is deferred without connecting,
 * for reason: the relay refused the login (RELAY-03: a provider locks an
 * account that keeps failing), or the secret cannot be read. The first
 * reason stays. */
static void stop_relay(struct relay *r, int code, const char *dsn, const char *reason)
{
	if (r->skipping)
		return;
	r->skipping = 1;
	r->skip_code = code;
	text_say(r->skip_dsn, sizeof(r->skip_dsn), "%s", dsn);
	text_say(r->skip_reason, sizeof(r->skip_reason), "%s", reason);
}

/* Answers sj's job on the next turn of the loop (never from inside
 * relay_submit, whose caller is not ready for done yet). */
static void skip_job(struct relay *r, struct skipped_job *sj)
{
	sj->next = r->skipped;
	r->skipped = sj;
	loop_timer_start(r->loop, &r->skip_timer, 0, on_skip_timer, r);
}

static int skip_new(struct relay *r, struct relay_job *job)
{
	struct skipped_job *sj = calloc(1, sizeof(*sj));

	if (sj == NULL)
		return -1;
	sj->job = job;
	skip_job(r, sj);
	return 0;
}

static int start_job(struct relay *r, struct relay_job *job);

/* Jobs held back while the login was unproven: after a refusal they are
 * answered without connecting; once a login worked they all start;
 * otherwise (the first failed some other way) the next one tries. */
static void release_held(struct relay *r)
{
	while (r->held != NULL && (r->skipping || r->login_ok || r->xfers == NULL)) {
		struct skipped_job *sj = r->held;

		r->held = sj->next;
		if (r->held == NULL)
			r->held_tail = &r->held;
		if (r->skipping) {
			skip_job(r, sj);
			continue;
		}
		if (start_job(r, sj->job) < 0) {
			stop_relay(r, 0, "4.3.0", "out of memory");
			skip_job(r, sj);
			continue;
		}
		free(sj);
	}
}

int relay_submit(struct relay *r, struct relay_job *job)
{
	struct skipped_job *sj;

	if (r->skipping)
		return skip_new(r, job);
	if (r->login_ok || r->xfers == NULL)
		return start_job(r, job);
	sj = calloc(1, sizeof(*sj));
	if (sj == NULL)
		return -1;
	sj->job = job;
	if (r->held_tail == NULL)
		r->held_tail = &r->held;
	*r->held_tail = sj;
	r->held_tail = &sj->next;
	return 0;
}

/* The secret, read when the first transfer needs it: a fallback relay
 * that is never used never runs its password command. Returns 0, or -1
 * after stopping the relay with the reason. */
static int need_password(struct relay *r)
{
	char why[384], reason[SMTP_TEXT_MAX];
	const char *pw = NULL;

	if (r->o.password != NULL || r->o.password_fn == NULL || r->o.conf->user[0] == '\0')
		return 0;
	if (r->o.password_fn(r->o.password_arg, &pw, why, sizeof(why)) == 0 && pw != NULL) {
		r->o.password = pw;
		return 0;
	}
	text_say(reason, sizeof(reason), "relay %s: the password cannot be read: %s",
	         r->o.conf->name, why);
	stop_relay(r, 0, "4.3.5", reason);
	return -1;
}

static int start_job(struct relay *r, struct relay_job *job)
{
	struct xfer *x;
	CURL *e;
	int ok = 1;

	if (need_password(r) < 0)
		return skip_new(r, job);
	x = xfer_new(r);
	if (x == NULL)
		return -1;
	e = x->easy;
	x->job = job;
	x->rcpt_answered = calloc(job->nrcpts ? job->nrcpts : 1, sizeof(int));
	if (x->rcpt_answered == NULL)
		goto fail;
	for (size_t i = 0; i < job->nrcpts; i++) {
		struct curl_slist *l = curl_slist_append(x->rcpt_list, job->rcpts[i]->address);

		if (l == NULL)
			goto fail;
		x->rcpt_list = l;
		job->rcpts[i]->status = SMTP_RCPT_PENDING;
	}
	ok &= curl_easy_setopt(e, CURLOPT_MAIL_FROM, job->mail_from) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt_list) == CURLE_OK;
#if HAVE_DECL_CURLOPT_MAIL_RCPT_ALLOWFAILS
	ok &= curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L) == CURLE_OK;
#else
	ok &= curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L) == CURLE_OK;
#endif
	ok &= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_READDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->len) == CURLE_OK;
	if (!ok || curl_multi_add_handle(r->multi, e) != CURLM_OK)
		goto fail;
	x->next = r->xfers;
	r->xfers = x;
	return 0;
fail:
	x->job = NULL;
	xfer_free(x);
	return -1;
}

int relay_check_start(struct relay *r, struct relay_check *check)
{
	struct xfer *x = xfer_new(r);

	if (x == NULL)
		return -1;
	x->check = check;
	memset(&check->out, 0, sizeof(check->out));
	check->greeting[0] = '\0';
	check->ncaps = 0;
	check->auth_code = 0;
	check->auth_reply[0] = check->hint[0] = '\0';
	/* Connect, greeting, EHLO, STARTTLS, AUTH, then one NOOP (libcurl's
	 * SMTP "command" transfer: no MAIL, nothing sent) and QUIT. */
	if (curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "NOOP") != CURLE_OK ||
	    curl_multi_add_handle(r->multi, x->easy) != CURLM_OK) {
		xfer_free(x);
		return -1;
	}
	x->next = r->xfers;
	r->xfers = x;
	return 0;
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	while (r->xfers != NULL) {
		struct xfer *x = r->xfers;

		r->xfers = x->next;
		xfer_free(x);
	}
	while (r->skipped != NULL || r->held != NULL) {
		struct skipped_job *sj = r->skipped != NULL ? r->skipped : r->held;

		if (sj == r->skipped)
			r->skipped = sj->next;
		else
			r->held = sj->next;
		free(sj);
	}
	loop_timer_stop(r->loop, &r->skip_timer);
	loop_timer_stop(r->loop, &r->timer);
	curl_multi_cleanup(r->multi);
	free(r);
}

/* ---------------------------------------------------------------- hints */

void relay_hint(const struct conf_relay *conf, int code, const char *reply, char *hint,
                size_t hintlen)
{
	int qq = strcmp(conf->preset, "qq") == 0 || strcmp(conf->preset, "qq-starttls") == 0 ||
	         strcmp(conf->preset, "exmail") == 0 || strcasestr(conf->host, ".qq.com") != NULL;

	hint[0] = '\0';
	if (reply == NULL)
		reply = "";
	if (code == 535 && qq && strcmp(conf->preset, "exmail") == 0) {
		text_say(hint, hintlen, "Exmail wants the mailbox password, or the client-specific "
		         "password (客户端专用密码) when secure login is on; check user and the "
		         "password source of relay %s", conf->name);
	} else if (code == 535 && qq) {
		text_say(hint, hintlen, "QQ Mail needs the authorization code from the mailbox "
		         "settings (设置 → 账户 → POP3/IMAP/SMTP 服务 → 生成授权码), not the account "
		         "password");
	} else if (code == 535 && strcmp(conf->preset, "163") == 0) {
		text_say(hint, hintlen, "163 Mail needs the client authorization password "
		         "(客户端授权密码) after SMTP is enabled in the mailbox settings");
	} else if (code == 535 && strcmp(conf->preset, "gmail") == 0) {
		text_say(hint, hintlen, "Gmail needs an app password (2-Step Verification on), not "
		         "the account password");
	} else if (code == 535) {
		text_say(hint, hintlen, "the relay refused user %s with this password; check the "
		         "password source of relay %s", conf->user, conf->name);
	} else if ((code == 501 || code == 553) &&
	           (strcasestr(reply, "same as authorization user") != NULL ||
	            strcasestr(reply, "must equal authorized user") != NULL)) {
		text_say(hint, hintlen, "the relay accepts mail only from its account %s: set "
		         "'rewrite_from yes' in relay %s, or send with --from %s", conf->user,
		         conf->name, conf->user);
	} else if (code / 100 == 5 && rate_limited(reply)) {
		text_say(hint, hintlen, "the provider limits how often this account or address may "
		         "send; the message is kept for later");
	}
}

/* ---------------------------------------------------------------- replay */

int relay_trace_replay(const struct relay_opts *o, struct relay_job *job,
                       struct relay_check *check, const struct relay_trace_event *ev,
                       size_t n, int res, struct relay_outcome *out)
{
	struct relay r;
	struct xfer *x = calloc(1, sizeof(*x));
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.o = *o;
	if (x == NULL)
		return -1;
	x->r = &r;
	x->job = job;
	x->check = job == NULL ? check : NULL;
	text_say(x->out.peer, sizeof(x->out.peer), "%s:%u", o->conf->host, o->conf->port);
	if (job != NULL) {
		x->rcpt_answered = calloc(job->nrcpts ? job->nrcpts : 1, sizeof(int));
		if (x->rcpt_answered == NULL)
			goto done;
		for (size_t i = 0; i < job->nrcpts; i++)
			job->rcpts[i]->status = SMTP_RCPT_PENDING;
	} else if (x->check != NULL) {
		memset(&check->out, 0, sizeof(check->out));
		check->greeting[0] = '\0';
		check->ncaps = 0;
		check->auth_code = 0;
		check->auth_reply[0] = check->hint[0] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		/* a copy of exactly the octets libcurl would pass */
		char *d = malloc(ev[i].len ? ev[i].len : 1);
		curl_infotype type = ev[i].dir == '>' ? CURLINFO_HEADER_OUT :
		                     ev[i].dir == '<' ? CURLINFO_HEADER_IN : CURLINFO_TEXT;

		if (d == NULL)
			goto done;
		if (ev[i].len > 0)
			memcpy(d, ev[i].data, ev[i].len);
		debug_cb(NULL, type, d, ev[i].len, x);
		free(d);
	}
	if (job != NULL)
		finish_job(x, (CURLcode)res);
	else if (x->check != NULL)
		finish_check(x, (CURLcode)res);
	if (out != NULL)
		*out = x->out;
	rc = 0;
done:
	free(x->rcpt_answered);
	free(x);
	return rc;
}
