/*
 * deliver: see deliver.h.
 *
 * Objects: a dest per domain (its route, its ordered address list, a
 * queue of work items, a cursor on the address being tried); a work item
 * per (message, batch of recipients) carrying the smtp_txn the session
 * borrows; a dl_session per connection. Every recipient ends with one
 * call to on_result.
 *
 * Failure policy (STYLE.md "trouble ... in one place"): route outcomes map
 * to bounce or defer here (route_fail), a host failure moves the cursor on
 * (session_done), and running out of addresses defers with the last
 * reason (dest_exhausted).
 */
#include "config.h"

#include "deliver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "loop.h"
#include "port25.h"
#include "relay.h"
#include "route.h"

#define DELIVER_MAX_ADDRS 64
/* A domain gets another session only while each open one has more than
 * this many transactions waiting: a queue run hands a domain one message
 * after another, and a session that carries several (2 round trips each
 * with PIPELINING, against 4 for a new session and its QUIT) costs the
 * receiver less than many sessions of one or two (tests/bench/queue-bench:
 * 2.5 messages a session before). Parallel domains keep the run busy. */
#define DELIVER_TXNS_PER_SESSION 4

struct dest;

struct work {
	struct work *next;            /* in the dest queue */
	struct deliver_msg *msg;
	struct smtp_rcpt **rcpts;     /* pointers into msg->rcpts[].smtp */
	struct deliver_rcpt **owners; /* the deliver_rcpt of each */
	size_t n;
	size_t cap;                   /* slots in rcpts and owners */
	struct smtp_txn txn;          /* lent to the session */
};

struct dest_addr {
	struct sockaddr_storage sa;
	socklen_t salen;
	char host[256];               /* MX name, for SNI and verification */
	int literal;                  /* from an address literal: no SNI */
	int plain_retry;              /* TLS failed at "may": try once without */
};

struct dest {
	struct dest *next;            /* all dests of the run */
	struct dest *next_waiting;    /* waiting for a session slot */
	int waiting;
	struct deliver_run_state *run;
	char domain[256];
	struct domain_target target;
	struct route_result *route;   /* NULL until routed */
	struct dest_addr *addrs;
	size_t naddrs;
	size_t cursor;                /* the address sessions go to now */
	struct work *head, *tail;     /* queued work */
	size_t queued;
	unsigned active;              /* sessions open */
	char last_reason[SMTP_TEXT_MAX];
	char last_dsn[16];
	int last_code;
	char last_relay[320];         /* the server behind last_reason; "" if none was reached */
	char last_tls_version[16];    /* its TLS session, "" for none */
	char last_tls_cipher[64];
	int last_tls_verified;
	int connected_any;            /* some session reached a server */
	unsigned failed_connects;     /* sessions that never connected ... */
	unsigned connect_timeouts;    /* ... and of those, the ones that timed out */
};

/* Recipients handed to the relay, one job per message and batch. */
struct relay_work {
	struct relay_job job;         /* lent to relay.c until relay_work_done */
	struct relay_work *next, *prev; /* the run's jobs in flight */
	struct deliver_run_state *run;
	struct deliver_msg *msg;
	struct deliver_rcpt **owners;
	struct smtp_rcpt **rcpts;     /* &owners[i]->smtp */
	size_t n;
};

struct dl_session {
	struct dest *dest;
	size_t addr;                  /* index into dest->addrs */
	struct work *work;            /* the transaction under way */
	struct smtp_session *s;
	int plain;                    /* this try runs without TLS */
};

struct deliver_run_state {
	struct loop *loop;
	struct route_ctx *route;
	const struct deliver_opts *opts;
	uint64_t started_ms;
	struct dest *dests;
	struct dest *wait_head, *wait_tail;
	unsigned active;              /* sessions open in total */
	unsigned max_sessions, max_per_dest, max_rcpts, port;
	struct relay_work *relay_jobs;/* handed to the relay, not yet done */
	int skip_direct;              /* relay only, or port 25 marked blocked */
};

const char *deliver_status_name(enum deliver_status st)
{
	switch (st) {
	case DELIVER_SENT: return "sent";
	case DELIVER_DEFERRED: return "deferred";
	case DELIVER_BOUNCED: return "bounced";
	}
	return "unknown";
}

const char *deliver_fallback_name(enum deliver_fallback f)
{
	switch (f) {
	case DELIVER_FALLBACK_NONE: return "none";
	case DELIVER_FALLBACK_UNREACHABLE: return "unreachable";
	case DELIVER_FALLBACK_DEFERRED: return "deferred";
	case DELIVER_FALLBACK_REJECTED: return "rejected";
	case DELIVER_FALLBACK_PORT25: return "port25-blocked";
	case DELIVER_FALLBACK_ONLY: return "relay-only";
	}
	return "unknown";
}

static void dest_pump(struct dest *d);

/* ---- results ---- */

static void finalize(struct deliver_run_state *run, struct deliver_msg *msg,
                     struct deliver_rcpt *r, enum deliver_status st)
{
	if (r->done)
		return;
	r->done = 1;
	r->status = st;
	r->delay_ms = loop_now_ms(run->loop) - run->started_ms;
	if (run->opts->on_result != NULL)
		run->opts->on_result(run->opts->arg, msg, r);
}

static void fail_rcpt(struct deliver_run_state *run, struct deliver_msg *msg,
                      struct deliver_rcpt *r, enum deliver_status st, int code,
                      const char *dsn, const char *reason)
{
	r->smtp.code = code;
	snprintf(r->smtp.dsn, sizeof(r->smtp.dsn), "%s", dsn);
	snprintf(r->smtp.reply, sizeof(r->smtp.reply), "%s", reason);
	if (r->relay[0] == '\0')
		snprintf(r->relay, sizeof(r->relay), "none");
	finalize(run, msg, r, st);
}

/* The server r's outcome came from and its TLS session (NULL: none). */
static void rcpt_set_server(struct deliver_rcpt *r, const char *peer,
                            const struct tls_details *tls)
{
	snprintf(r->relay, sizeof(r->relay), "%s", peer);
	if (tls != NULL) {
		snprintf(r->tls_version, sizeof(r->tls_version), "%s", tls->version);
		snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s", tls->cipher);
		r->tls_verified = tls->verified;
	} else {
		r->tls_version[0] = r->tls_cipher[0] = '\0';
		r->tls_verified = 0;
	}
}

static void work_free(struct work *w)
{
	if (w == NULL)
		return;
	free(w->rcpts);
	free(w->owners);
	free(w);
}

/* Fails every queued recipient of d. */
static void dest_fail_all(struct dest *d, enum deliver_status st, int code, const char *dsn,
                          const char *reason)
{
	struct work *w, *next;

	for (w = d->head; w != NULL; w = next) {
		next = w->next;
		for (size_t i = 0; i < w->n; i++) {
			struct deliver_rcpt *r = w->owners[i];

			/* The server that gave the last reason (a TLS policy
			 * failure, a 4xx greeting...) is the relay of the
			 * outcome, as in Postfix's log; "none" when no
			 * connection came up. */
			snprintf(r->relay, sizeof(r->relay), "%s", d->last_relay);
			snprintf(r->tls_version, sizeof(r->tls_version), "%s", d->last_tls_version);
			snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s", d->last_tls_cipher);
			r->tls_verified = d->last_tls_verified;
			fail_rcpt(d->run, w->msg, r, st, code, dsn, reason);
		}
		work_free(w);
	}
	d->head = d->tail = NULL;
	d->queued = 0;
}

static void queue_work(struct dest *d, struct work *w, int front)
{
	w->next = NULL;
	if (front) {
		w->next = d->head;
		d->head = w;
		if (d->tail == NULL)
			d->tail = w;
	} else {
		if (d->tail != NULL)
			d->tail->next = w;
		else
			d->head = w;
		d->tail = w;
	}
	d->queued++;
}

static struct work *work_new(struct deliver_msg *msg, size_t cap)
{
	struct work *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->msg = msg;
	w->cap = cap;
	w->rcpts = calloc(cap, sizeof(*w->rcpts));
	w->owners = calloc(cap, sizeof(*w->owners));
	if (w->rcpts == NULL || w->owners == NULL) {
		work_free(w);
		return NULL;
	}
	w->txn.mail_from = msg->mail_from;
	w->txn.data = msg->data;
	w->txn.data_len = msg->data_len;
	w->txn.size = msg->size;
	w->txn.eightbit = msg->eightbit;
	w->txn.data7 = msg->data7;
	w->txn.data7_len = msg->data7_len;
	w->txn.size7 = msg->size7;
	w->txn.smtputf8 = msg->smtputf8;
	w->txn.utf8_headers = msg->utf8_headers;
	w->txn.rcpts = w->rcpts;
	return w;
}

/* Adds r, growing the arrays as needed. Returns -1 when out of memory. */
static int work_add(struct work *w, struct deliver_rcpt *r)
{
	if (w->n == w->cap) {
		size_t cap = w->cap * 2;
		struct smtp_rcpt **rcpts = realloc(w->rcpts, cap * sizeof(*rcpts));
		struct deliver_rcpt **owners;

		if (rcpts == NULL)
			return -1;
		w->rcpts = rcpts;
		w->txn.rcpts = rcpts;
		owners = realloc(w->owners, cap * sizeof(*owners));
		if (owners == NULL)
			return -1;
		w->owners = owners;
		w->cap = cap;
	}
	r->smtp.address = r->address;
	r->smtp.status = SMTP_RCPT_PENDING;
	w->rcpts[w->n] = &r->smtp;
	w->owners[w->n] = r;
	w->n++;
	w->txn.nrcpts = w->n;
	return 0;
}

/* ---- the relay ---- */

/* May a recipient whose direct delivery ended so go by the relay? */
static int fallback_allowed(const struct deliver_run_state *run, enum deliver_fallback why)
{
	unsigned bits = run->opts->fallback;

	/* A relay that is configured but cannot take this run's mail (its
	 * secret, its From rules) still counts: relay_hand_over says why. */
	if (run->opts->relay == NULL && run->opts->relay_name == NULL)
		return 0;
	switch (why) {
	case DELIVER_FALLBACK_UNREACHABLE:
	case DELIVER_FALLBACK_PORT25:
		return (bits & CONF_FALLBACK_UNREACHABLE) != 0;
	case DELIVER_FALLBACK_DEFERRED:
		return (bits & CONF_FALLBACK_DEFERRED) != 0;
	case DELIVER_FALLBACK_REJECTED:
		return (bits & CONF_FALLBACK_REJECTED) != 0;
	case DELIVER_FALLBACK_ONLY:
		return 1;
	case DELIVER_FALLBACK_NONE:
		break;
	}
	return 0;
}

static void relay_work_free(struct relay_work *rw)
{
	struct deliver_run_state *run = rw->run;

	if (rw->prev != NULL)
		rw->prev->next = rw->next;
	else if (run->relay_jobs == rw)
		run->relay_jobs = rw->next;
	if (rw->next != NULL)
		rw->next->prev = rw->prev;
	free(rw->owners);
	free(rw->rcpts);
	free(rw);
}

static void relay_work_done(void *arg, struct relay_job *job, const struct relay_outcome *out)
{
	struct relay_work *rw = arg;

	(void)job;
	for (size_t i = 0; i < rw->n; i++) {
		struct deliver_rcpt *r = rw->owners[i];

		r->via_relay = 1;
		snprintf(r->relay_name, sizeof(r->relay_name), "%s",
		         rw->run->opts->relay_name ? rw->run->opts->relay_name : "");
		rcpt_set_server(r, out->peer[0] ? out->peer : "none",
		                out->tls_active ? &out->tls : NULL);
		switch (r->smtp.status) {
		case SMTP_RCPT_SENT:
			finalize(rw->run, rw->msg, r, DELIVER_SENT);
			break;
		case SMTP_RCPT_BOUNCED:
			finalize(rw->run, rw->msg, r, DELIVER_BOUNCED);
			break;
		case SMTP_RCPT_DEFERRED:
			finalize(rw->run, rw->msg, r, DELIVER_DEFERRED);
			break;
		default:
			fail_rcpt(rw->run, rw->msg, r, DELIVER_DEFERRED, 0, "4.4.1",
			          out->reason[0] ? out->reason : "the relay gave no result");
			break;
		}
	}
	relay_work_free(rw);
}

/* The recipients could not go by the relay: each keeps its direct
 * outcome (a 5.7.x rejection stays a bounce), with the reason why. */
static void relay_refuse(struct deliver_run_state *run, struct deliver_msg *msg,
                         struct deliver_rcpt **owners, size_t n, enum deliver_fallback why,
                         const char *refused)
{
	for (size_t i = 0; i < n; i++) {
		struct deliver_rcpt *r = owners[i];
		char reason[SMTP_TEXT_MAX];

		if (r->direct_reply[0] != '\0')
			snprintf(reason, sizeof(reason), "%s; not sent by relay %s: %s", r->direct_reply,
			         run->opts->relay_name ? run->opts->relay_name : "", refused);
		else
			snprintf(reason, sizeof(reason), "not sent by relay %s: %s",
			         run->opts->relay_name ? run->opts->relay_name : "", refused);
		if (why == DELIVER_FALLBACK_REJECTED || why == DELIVER_FALLBACK_ONLY)
			fail_rcpt(run, msg, r, DELIVER_BOUNCED, r->smtp.code ? r->smtp.code : 550,
			          r->smtp.dsn[0] ? r->smtp.dsn : "5.7.1", reason);
		else
			fail_rcpt(run, msg, r, DELIVER_DEFERRED, r->smtp.code,
			          r->smtp.dsn[0] ? r->smtp.dsn : "4.4.1", reason);
	}
}

/* Hands n recipients of msg to the relay. Each keeps the direct outcome
 * that sent it there (its smtp reply) in direct_reply, for the log and
 * the JSON ("why direct delivery was not used"). */
static void relay_hand_over(struct deliver_run_state *run, struct deliver_msg *msg,
                            struct deliver_rcpt **owners, size_t n, enum deliver_fallback why)
{
	struct relay_work *rw;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct deliver_rcpt *r = owners[i];

		r->fallback = why;
		if (r->smtp.reply[0] != '\0')
			snprintf(r->direct_reply, sizeof(r->direct_reply), "%.*s",
			         (int)sizeof(r->direct_reply) - 1, r->smtp.reply);
	}
	if (run->opts->relay == NULL || msg->relay_data == NULL || msg->relay_refused != NULL) {
		relay_refuse(run, msg, owners, n, why,
		             msg->relay_refused ? msg->relay_refused : "no message for the relay");
		return;
	}
	rw = calloc(1, sizeof(*rw));
	if (rw == NULL || (rw->owners = calloc(n, sizeof(*rw->owners))) == NULL ||
	    (rw->rcpts = calloc(n, sizeof(*rw->rcpts))) == NULL)
		goto nomem;
	rw->run = run;
	rw->msg = msg;
	rw->n = n;
	for (size_t i = 0; i < n; i++) {
		struct deliver_rcpt *r = owners[i];

		rw->owners[i] = r;
		r->smtp.address = r->address;
		r->smtp.status = SMTP_RCPT_PENDING;
		r->smtp.code = 0;
		r->smtp.dsn[0] = r->smtp.reply[0] = '\0';
		rw->rcpts[i] = &r->smtp;
	}
	rw->job.mail_from = msg->relay_mail_from ? msg->relay_mail_from : msg->mail_from;
	rw->job.data = msg->relay_data;
	rw->job.len = msg->relay_data_len;
	rw->job.rcpts = rw->rcpts;
	rw->job.nrcpts = n;
	rw->job.done = relay_work_done;
	rw->job.arg = rw;
	rw->next = run->relay_jobs;
	if (run->relay_jobs != NULL)
		run->relay_jobs->prev = rw;
	run->relay_jobs = rw;
	if (relay_submit(run->opts->relay, &rw->job) < 0) {
		relay_work_free(rw);
		rw = NULL;
		goto nomem;
	}
	return;
nomem:
	if (rw != NULL) {
		free(rw->owners);
		free(rw->rcpts);
		free(rw);
	}
	for (size_t i = 0; i < n; i++)
		fail_rcpt(run, msg, owners[i], DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
}

/* Every queued recipient of d goes by the relay: direct delivery ended
 * with code, dsn and reason (the route or the last host), or was not
 * tried. */
static void dest_relay_all(struct dest *d, enum deliver_fallback why, int code,
                           const char *dsn, const char *reason)
{
	struct work *w, *next;

	for (w = d->head; w != NULL; w = next) {
		next = w->next;
		for (size_t i = 0; i < w->n; i++) {
			struct deliver_rcpt *r = w->owners[i];

			r->smtp.code = code;
			snprintf(r->smtp.dsn, sizeof(r->smtp.dsn), "%s", dsn);
			snprintf(r->smtp.reply, sizeof(r->smtp.reply), "%s", reason);
		}
		relay_hand_over(d->run, w->msg, w->owners, w->n, why);
		work_free(w);
	}
	d->head = d->tail = NULL;
	d->queued = 0;
}

/* Direct delivery to d ended for a temporary reason (or, with why
 * REJECTED never here): relay or defer. */
static void dest_defer_or_relay(struct dest *d, enum deliver_fallback why, int code,
                                const char *dsn, const char *reason)
{
	if (fallback_allowed(d->run, why))
		dest_relay_all(d, why, code, dsn, reason);
	else
		dest_fail_all(d, DELIVER_DEFERRED, code, dsn, reason);
}

/* Counts d for the blocked-port-25 memory once its addresses are used up. */
static void dest_note_port25(struct dest *d)
{
	struct deliver_run_state *run = d->run;
	struct port25 *p = run->opts->port25;
	int64_t now = (int64_t)time(NULL);
	char domains[512], text[1024];

	if (p == NULL || d->connected_any || d->failed_connects == 0 ||
	    d->connect_timeouts != d->failed_connects)
		return;
	if (port25_note_timeout(p, d->domain, now) != 1 || run->opts->note == NULL)
		return;
	port25_domains(p, domains, sizeof(domains));
	snprintf(text, sizeof(text), "outbound port 25 seems blocked: connections to every MX "
	         "of %zu domains timed out (%s); %s for %u s", p->nrecent, domains,
	         run->opts->relay != NULL && fallback_allowed(run, DELIVER_FALLBACK_PORT25)
	                 ? "mail goes by the relay at once"
	                 : "direct delivery is still tried (no relay fallback)",
	         p->block_time);
	run->opts->note(run->opts->arg, text);
}

/* ---- sessions ---- */

static void pump_waiting(struct deliver_run_state *run)
{
	while (run->wait_head != NULL && run->active < run->max_sessions) {
		struct dest *d = run->wait_head;

		run->wait_head = d->next_waiting;
		if (run->wait_head == NULL)
			run->wait_tail = NULL;
		d->waiting = 0;
		dest_pump(d);
	}
}

static struct smtp_txn *on_next_txn(void *arg, struct smtp_session *s)
{
	struct dl_session *ds = arg;
	struct dest *d = ds->dest;
	struct work *w = d->head;

	(void)s;
	/* Only the address that is current takes new work; a session to an
	 * address the dest has moved past ends. */
	if (w == NULL || ds->addr != d->cursor)
		return NULL;
	d->head = w->next;
	if (d->head == NULL)
		d->tail = NULL;
	d->queued--;
	ds->work = w;
	return &w->txn;
}

/* More work for this session: the same test as on_next_txn. */
static int on_more_txn(void *arg, struct smtp_session *s)
{
	struct dl_session *ds = arg;

	(void)s;
	return ds->dest->head != NULL && ds->addr == ds->dest->cursor;
}

static void on_txn_done(void *arg, struct smtp_session *s, struct smtp_txn *txn)
{
	struct dl_session *ds = arg;
	struct dest *d = ds->dest;
	struct work *w = ds->work, *again = NULL;
	const struct smtp_session_result *res = smtp_session_result(s);
	struct deliver_rcpt **deferred = NULL, **rejected = NULL;
	size_t ndeferred = 0, nrejected = 0;

	(void)txn;
	ds->work = NULL;
	if (d->run->opts->relay != NULL) {
		deferred = calloc(w->n, sizeof(*deferred));
		rejected = calloc(w->n, sizeof(*rejected));
	}
	for (size_t i = 0; i < w->n; i++) {
		struct deliver_rcpt *r = w->owners[i];

		rcpt_set_server(r, smtp_session_peer(s), res->tls_active ? &res->tls : NULL);
		switch (r->smtp.status) {
		case SMTP_RCPT_SENT:
			finalize(d->run, w->msg, r, DELIVER_SENT);
			break;
		case SMTP_RCPT_BOUNCED:
			/* A policy rejection (5.7.x: reputation, the sending IP)
			 * is what a relay with a good name gets past. */
			if (rejected != NULL && strncmp(r->smtp.dsn, "5.7.", 4) == 0 &&
			    fallback_allowed(d->run, DELIVER_FALLBACK_REJECTED)) {
				rejected[nrejected++] = r;
				break;
			}
			finalize(d->run, w->msg, r, DELIVER_BOUNCED);
			break;
		case SMTP_RCPT_DEFERRED:
			/* A server's 4xx; not a local deferral after the dot
			 * (code 0), where the message may have arrived and the
			 * relay would send a second copy. */
			if (deferred != NULL && r->smtp.code >= 400 &&
			    fallback_allowed(d->run, DELIVER_FALLBACK_DEFERRED)) {
				deferred[ndeferred++] = r;
				break;
			}
			finalize(d->run, w->msg, r, DELIVER_DEFERRED);
			break;
		case SMTP_RCPT_ACCEPTED: /* cannot stay so; treat as unknown */
		case SMTP_RCPT_PENDING:
			if (!res->host_failed && ++r->pending_rounds > 3) {
				fail_rcpt(d->run, w->msg, r, DELIVER_DEFERRED, r->smtp.code, "4.5.3",
				          "the server keeps asking to send this recipient later "
				          "(too many recipients)");
				break;
			}
			/* Try it again: on this connection (452, too many
			 * recipients) or at the next address (host failed). */
			if (again == NULL)
				again = work_new(w->msg, w->n);
			if (again == NULL) {
				fail_rcpt(d->run, w->msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
				break;
			}
			if (work_add(again, r) < 0)
				fail_rcpt(d->run, w->msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
			break;
		}
	}
	if (again != NULL)
		queue_work(d, again, 1);
	relay_hand_over(d->run, w->msg, deferred, ndeferred, DELIVER_FALLBACK_DEFERRED);
	relay_hand_over(d->run, w->msg, rejected, nrejected, DELIVER_FALLBACK_REJECTED);
	free(deferred);
	free(rejected);
	work_free(w);
}

static void on_session_done(void *arg, struct smtp_session *s)
{
	struct dl_session *ds = arg;
	struct dest *d = ds->dest;
	struct deliver_run_state *run = d->run;
	const struct smtp_session_result *res = smtp_session_result(s);

	if (ds->work != NULL) {
		/* Ended without txn_done (should not happen): requeue. */
		queue_work(d, ds->work, 1);
		ds->work = NULL;
	}
	if (res->connected) {
		d->connected_any = 1;
		if (run->opts->port25 != NULL)
			port25_note_reached(run->opts->port25);
	} else {
		d->failed_connects++;
		if (res->connect_timed_out)
			d->connect_timeouts++;
	}
	if (res->host_failed) {
		snprintf(d->last_reason, sizeof(d->last_reason), "%s", res->reason);
		snprintf(d->last_dsn, sizeof(d->last_dsn), "%s", res->dsn);
		d->last_code = res->code;
		snprintf(d->last_relay, sizeof(d->last_relay), "%s",
		         res->connected ? smtp_session_peer(s) : "");
		snprintf(d->last_tls_version, sizeof(d->last_tls_version), "%s",
		         res->tls_active ? res->tls.version : "");
		snprintf(d->last_tls_cipher, sizeof(d->last_tls_cipher), "%s",
		         res->tls_active ? res->tls.cipher : "");
		d->last_tls_verified = res->tls_active && res->tls.verified;
		if (ds->addr == d->cursor) {
			struct dest_addr *a = &d->addrs[ds->addr];

			/* Opportunistic TLS that failed in the handshake: the same
			 * address once more in plaintext, as Postfix does; any
			 * required level moves on instead. */
			if (res->tls_failed && run->opts->tls == TLS_LEVEL_MAY && !ds->plain &&
			    !a->plain_retry)
				a->plain_retry = 1;
			else
				d->cursor++;
		}
	}
	d->active--;
	run->active--;
	smtp_session_free(s);
	free(ds);
	dest_pump(d);
	pump_waiting(run);
}

static void session_trace(void *arg, char dir, const char *line, size_t len)
{
	struct dl_session *ds = arg;
	const struct deliver_opts *o = ds->dest->run->opts;

	if (o->trace != NULL)
		o->trace(o->arg, ds->s ? smtp_session_peer(ds->s) : ds->dest->addrs[ds->addr].host,
		         dir, line, len);
}

static int start_session(struct dest *d)
{
	struct deliver_run_state *run = d->run;
	struct dest_addr *a = &d->addrs[d->cursor];
	struct dl_session *ds = calloc(1, sizeof(*ds));
	struct smtp_session_config cfg;

	if (ds == NULL)
		return -1;
	ds->dest = d;
	ds->addr = d->cursor;
	ds->plain = a->plain_retry;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ehlo_name = run->opts->ehlo_name;
	cfg.mx_name = a->literal ? NULL : a->host;
	cfg.tls = ds->plain ? TLS_LEVEL_NONE : run->opts->tls;
	cfg.ssl_ctx = run->opts->ssl_ctx;
	cfg.timeouts = run->opts->timeouts;
	cfg.no_pipelining = run->opts->no_pipelining;
	cfg.next_txn = on_next_txn;
	cfg.more_txn = on_more_txn;
	cfg.txn_done = on_txn_done;
	cfg.done = on_session_done;
	cfg.trace = run->opts->trace ? session_trace : NULL;
	cfg.arg = ds;
	ds->s = smtp_session_start(run->loop, (struct sockaddr *)&a->sa, a->salen, &cfg);
	if (ds->s == NULL) {
		free(ds);
		return -1;
	}
	d->active++;
	run->active++;
	return 0;
}

static void dest_wait(struct dest *d)
{
	struct deliver_run_state *run = d->run;

	if (d->waiting)
		return;
	d->waiting = 1;
	d->next_waiting = NULL;
	if (run->wait_tail != NULL)
		run->wait_tail->next_waiting = d;
	else
		run->wait_head = d;
	run->wait_tail = d;
}

/* Starts sessions while d has queued work and slots are free. */
static void dest_pump(struct dest *d)
{
	struct deliver_run_state *run = d->run;

	if (d->route == NULL)
		return;
	while (d->queued > 0) {
		if (d->cursor >= d->naddrs) {
			if (d->active > 0)
				return; /* a session may still hand work back */
			/* Every address tried: defer with the last reason;
			 * dest_fail_all names the host it came from. */
			if (d->last_reason[0] == '\0')
				snprintf(d->last_reason, sizeof(d->last_reason), "no MX address could be used");
			dest_note_port25(d);
			dest_defer_or_relay(d, d->connected_any ? DELIVER_FALLBACK_DEFERRED
			                                        : DELIVER_FALLBACK_UNREACHABLE,
			                    d->last_code, d->last_dsn[0] ? d->last_dsn : "4.4.1",
			                    d->last_reason);
			return;
		}
		/* Open sessions pull queued work themselves: a new one is
		 * needed only while there is more work than they will soon
		 * take (DELIVER_TXNS_PER_SESSION each). */
		if (d->active > 0 && (d->active >= run->max_per_dest ||
		                      (size_t)d->active * DELIVER_TXNS_PER_SESSION >= d->queued))
			return;
		if (run->active >= run->max_sessions) {
			dest_wait(d);
			return;
		}
		if (start_session(d) < 0) {
			dest_fail_all(d, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
			return;
		}
	}
}

/* ---- routing ---- */

static void route_fail(struct dest *d)
{
	const struct route_result *r = d->route;

	switch (r->status) {
	case ROUTE_TEMPORARY:
		/* Our DNS may be what is broken; the relay resolves on its own. */
		dest_defer_or_relay(d, DELIVER_FALLBACK_DEFERRED, 0, "4.4.3", r->reason);
		break;
	case ROUTE_INVALID:
		dest_fail_all(d, DELIVER_BOUNCED, 553, "5.1.3", r->reason);
		break;
	default:
		if (r->null_mx)
			dest_fail_all(d, DELIVER_BOUNCED, 556, "5.1.10", r->reason);
		else if (strstr(r->reason, "NXDOMAIN") != NULL)
			dest_fail_all(d, DELIVER_BOUNCED, 550, "5.1.2", r->reason);
		else
			dest_fail_all(d, DELIVER_BOUNCED, 550, "5.4.4", r->reason);
		break;
	}
}

static void on_routed(void *arg, struct route_result *res)
{
	struct dest *d = arg;
	struct deliver_run_state *run = d->run;
	size_t want = 0;

	d->route = res;
	if (res->status != ROUTE_OK) {
		route_fail(d);
		return;
	}
	/* As many slots as there are addresses (at most DELIVER_MAX_ADDRS):
	 * a fixed 64 cost 25 KB a domain, 12.8 MB of the 55 MB peak of a
	 * 500-domain run (tests/bench/send-bench). */
	for (size_t h = 0; h < res->nhosts; h++)
		want += res->hosts[h].naddrs;
	if (want > DELIVER_MAX_ADDRS)
		want = DELIVER_MAX_ADDRS;
	d->addrs = calloc(want > 0 ? want : 1, sizeof(*d->addrs));
	if (d->addrs == NULL) {
		dest_fail_all(d, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
		return;
	}
	for (size_t h = 0; h < res->nhosts; h++) {
		const struct route_host *host = &res->hosts[h];

		for (size_t i = 0; i < host->naddrs && d->naddrs < want; i++) {
			const struct route_addr *ra = &host->addrs[i];
			struct dest_addr *a = &d->addrs[d->naddrs++];

			memset(a, 0, sizeof(*a));
			snprintf(a->host, sizeof(a->host), "%s", host->name);
			a->literal = res->target.kind != DOMAIN_NAME;
			if (ra->family == AF_INET) {
				struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

				in->sin_family = AF_INET;
				in->sin_port = htons((uint16_t)run->port);
				memcpy(&in->sin_addr, ra->bytes, 4);
				a->salen = sizeof(*in);
			} else {
				struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

				in6->sin6_family = AF_INET6;
				in6->sin6_port = htons((uint16_t)run->port);
				memcpy(&in6->sin6_addr, ra->bytes, 16);
				a->salen = sizeof(*in6);
			}
		}
	}
	dest_pump(d);
}

/* Port 25 is marked blocked: says so once for the run. */
static void port25_note_skip(struct deliver_run_state *run, int64_t now)
{
	const struct port25 *p = run->opts->port25;
	char domains[512], text[1024];

	if (run->opts->note == NULL)
		return;
	port25_domains(p, domains, sizeof(domains));
	snprintf(text, sizeof(text), "outbound port 25 is marked blocked (connections to every MX "
	         "of %s timed out) for %lld more s: sending by relay %s without trying direct "
	         "delivery", domains[0] ? domains : "several domains",
	         (long long)(p->blocked_until - now),
	         run->opts->relay_name ? run->opts->relay_name : "");
	run->opts->note(run->opts->arg, text);
}

/* With run->skip_direct, every recipient of msg goes straight to the
 * relay. Returns 1 when msg was handed over (or failed), 0 when it must
 * go direct after all: with port 25 blocked, a message the relay refuses
 * (its From is not the account) still tries direct. */
static int relay_skip_direct(struct deliver_run_state *run, struct deliver_msg *msg)
{
	struct deliver_rcpt **owners;
	size_t n = 0;

	if (run->skip_direct == DELIVER_FALLBACK_PORT25 &&
	    (msg->relay_data == NULL || msg->relay_refused != NULL))
		return 0;
	owners = calloc(msg->nrcpts ? msg->nrcpts : 1, sizeof(*owners));
	for (size_t i = 0; i < msg->nrcpts; i++) {
		struct deliver_rcpt *r = &msg->rcpts[i];

		if (r->done)
			continue;
		if (owners == NULL) {
			fail_rcpt(run, msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
			continue;
		}
		owners[n++] = r;
	}
	relay_hand_over(run, msg, owners, n, (enum deliver_fallback)run->skip_direct);
	free(owners);
	return 1;
}

/* ---- the run ---- */

static struct dest *dest_find_or_add(struct deliver_run_state *run, const char *domain)
{
	struct dest *d;

	for (d = run->dests; d != NULL; d = d->next)
		if (strcmp(d->domain, domain) == 0)
			return d;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->run = run;
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	d->next = run->dests;
	run->dests = d;
	return d;
}

int deliver_run(struct loop *loop, struct route_ctx *route, const struct deliver_opts *opts,
                struct deliver_msg *msgs, size_t nmsgs)
{
	struct deliver_run_state run;
	struct dest *d, *next;
	uint64_t item = 0;
	int rc = 0;

	memset(&run, 0, sizeof(run));
	run.loop = loop;
	run.route = route;
	run.opts = opts;
	run.started_ms = loop_now_ms(loop);
	run.max_sessions = opts->max_sessions ? opts->max_sessions : 100;
	run.max_per_dest = opts->max_per_dest ? opts->max_per_dest : 20;
	run.max_rcpts = opts->max_rcpts_per_txn ? opts->max_rcpts_per_txn : 100;
	run.port = opts->port ? opts->port : 25;

	if (opts->relay != NULL) {
		int64_t now = (int64_t)time(NULL);

		if (opts->relay_only)
			run.skip_direct = DELIVER_FALLBACK_ONLY;
		else if (opts->port25 != NULL && port25_blocked(opts->port25, now) &&
		         fallback_allowed(&run, DELIVER_FALLBACK_PORT25)) {
			run.skip_direct = DELIVER_FALLBACK_PORT25;
			port25_note_skip(&run, now);
		}
	}
	/* Group: per message, per domain, batches of max_rcpts. */
	for (size_t m = 0; m < nmsgs; m++) {
		struct deliver_msg *msg = &msgs[m];

		if (run.skip_direct && relay_skip_direct(&run, msg))
			continue;
		for (size_t i = 0; i < msg->nrcpts; i++) {
			struct deliver_rcpt *r = &msg->rcpts[i];
			struct work *w;

			if (r->done)
				continue;
			d = dest_find_or_add(&run, r->domain);
			if (d == NULL) {
				fail_rcpt(&run, msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
				rc = -1;
				continue;
			}
			w = d->tail;
			if (w == NULL || w->msg != msg || w->n >= run.max_rcpts) {
				/* Grown as recipients come: a fixed max_rcpts
				 * (100) cost 1.6 KB for a domain of one. */
				w = work_new(msg, 8);
				if (w == NULL) {
					fail_rcpt(&run, msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
					rc = -1;
					continue;
				}
				queue_work(d, w, 0);
			}
			if (work_add(w, r) < 0) {
				fail_rcpt(&run, msg, r, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
				rc = -1;
			}
		}
	}
	for (d = run.dests; d != NULL; d = d->next) {
		char err[256];

		if (domain_parse(d->domain, &d->target, err, sizeof(err)) < 0) {
			d->route = route_result_invalid(d->domain, err);
			if (d->route != NULL)
				route_fail(d);
			else
				dest_fail_all(d, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
			continue;
		}
		if (route_lookup(route, d->domain, &d->target, item++, on_routed, d) < 0)
			dest_fail_all(d, DELIVER_DEFERRED, 0, "4.3.0", "out of memory");
	}
	loop_run(loop);
	while (run.relay_jobs != NULL) {
		/* The loop stopped early: the relay never answered. */
		struct relay_work *rw = run.relay_jobs;

		for (size_t i = 0; i < rw->n; i++)
			fail_rcpt(&run, rw->msg, rw->owners[i], DELIVER_DEFERRED, 0, "4.3.0",
			          "delivery by the relay did not finish");
		relay_work_free(rw);
	}
	for (d = run.dests; d != NULL; d = next) {
		next = d->next;
		/* Anything left means the loop stopped early: defer it. */
		dest_fail_all(d, DELIVER_DEFERRED, 0, "4.3.0", "delivery did not finish");
		route_result_free(d->route);
		free(d->addrs);
		free(d);
	}
	return rc;
}
