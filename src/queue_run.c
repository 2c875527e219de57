/*
 * queue_run: see queue_run.h.
 *
 * Owns one pass: the claimed entries, their wire forms and delivery
 * results, and the order of the writes that make the pass crash-safe:
 *   1. each recipient's outcome is written to the queue the moment
 *      deliver_run reports it, and made durable (sync_batch) at the end of
 *      that turn of the event loop (a zero-delay timer gathers the
 *      outcomes of one reply, e.g. the many recipients of one 250 after
 *      DATA, and of every session that answered in that turn: one
 *      fdatasync per journal, one fsync of the directory for all); a
 *      message whose last recipient was just sent is removed instead
 *      (finish_lazy), the removal made durable by the same sync;
 *   2. a bounce is queued durably before the failed recipients are marked
 *      notified: a crash in between sends the bounce twice, never not at
 *      all;
 *   3. a message is removed only when every recipient is sent or failed
 *      and notified.
 * Must not: read the clock (o->now is the wall clock the caller chose),
 * parse spool files (the backend does), print except through log_line
 * for what an operator must see (a bounce that could not be queued).
 */
#include "config.h"

#include "queue_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "addr.h"
#include "dsn.h"
#include "log.h"
#include "loop.h"
#include "relay_rewrite.h"

/* One claimed message during the pass. */
struct run_item {
	struct queue_entry *e;
	struct submit_wire wire;
	int wire_ok;                /* wire built */
	struct deliver_rcpt *dr;    /* the pending recipients' results */
	size_t *map;                /* dr[k] is e->rcpts[map[k]] */
	size_t ndr;
	int dirty;                  /* records written, not yet synced */
	char *relay_msg;            /* the message rewritten for the relay, or NULL */
	char relay_from[ADDR_PATH_MAX]; /* MAIL FROM at the relay */
	char *relay_refused;        /* why the relay cannot take it, or NULL */
	int done;                   /* removed from the queue during delivery */
};

struct run {
	const struct queue_run_opts *o;
	struct queue_run_stats *st;
	struct run_item *items;
	size_t nitems;
	struct loop *loop;
	struct loop_timer sync_timer;
	struct queue_entry **batch; /* nitems slots: the entries to sync */
};

static uint32_t random32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = 0x9e3779b9u;
	return r;
}

void queue_run_result(const struct deliver_rcpt *r, int64_t now, struct queue_rcpt *out)
{
	out->state = r->status == DELIVER_SENT ? QUEUE_RCPT_SENT
	           : r->status == DELIVER_BOUNCED ? QUEUE_RCPT_FAILED : QUEUE_RCPT_PENDING;
	out->notified = 0;
	out->last_attempt = now;
	out->code = r->smtp.code;
	snprintf(out->dsn, sizeof(out->dsn), "%s", r->smtp.dsn);
	snprintf(out->relay, sizeof(out->relay), "%s", strcmp(r->relay, "none") == 0 ? "" : r->relay);
	snprintf(out->reply, sizeof(out->reply), "%s", r->smtp.reply);
}

/* Is every recipient of e final: sent, or failed and reported? */
static int all_final(const struct queue_entry *e)
{
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QUEUE_RCPT_PENDING ||
		    (e->rcpts[i].state == QUEUE_RCPT_FAILED && !e->rcpts[i].notified))
			return 0;
	return 1;
}

/* The end of a turn: a message with nothing left to do is removed (its
 * removal is its record), the others' journals are synced, and one
 * sync_batch makes both durable. */
static void sync_dirty(struct run *run)
{
	struct queue *q = run->o->q;
	size_t nb = 0;
	char err[256];

	for (size_t i = 0; i < run->nitems; i++) {
		struct run_item *it = &run->items[i];

		if (!it->dirty)
			continue;
		it->dirty = 0;
		if (all_final(it->e)) {
			if (q->ops->finish_lazy(q, it->e, err, sizeof(err)) == 0) {
				it->done = 1;
				log_line("%s: removed", it->e->id);
				run->st->finished++;
				continue;
			}
			log_line("%s: %s", it->e->id, err);
			run->st->errors++;
		}
		run->batch[nb++] = it->e;
	}
	if (q->ops->sync_batch(q, run->batch, nb, err, sizeof(err)) < 0) {
		log_line("%s", err);
		run->st->errors++;
	}
}

static void on_sync_timer(void *arg)
{
	sync_dirty(arg);
}

static void on_result(void *arg, const struct deliver_msg *msg, const struct deliver_rcpt *r)
{
	struct run *run = arg;
	struct run_item *it = msg->user;
	size_t k = (size_t)(r - msg->rcpts);
	struct queue_rcpt *qr;
	char err[256];

	if (k >= it->ndr)
		return;
	qr = &it->e->rcpts[it->map[k]];
	queue_run_result(r, run->o->now, qr);
	/* Written at once: in the page cache it survives a SIGKILL of this
	 * process; durable (fdatasync) when the timer runs, in this same turn
	 * of the loop, after the other outcomes of the same reply. */
	if (run->o->q->ops->record_rcpt(run->o->q, it->e, it->map[k], err, sizeof(err)) < 0) {
		log_line("%s: %s", it->e->id, err);
		run->st->errors++;
	}
	it->dirty = 1;
	if (!loop_timer_armed(&run->sync_timer))
		loop_timer_start(run->loop, &run->sync_timer, 0, on_sync_timer, run);
	if (r->status == DELIVER_SENT)
		run->st->sent++;
	if (run->o->on_result != NULL)
		run->o->on_result(run->o->arg, it->e->id, r);
}

/* Builds the wire form and the results of the pending recipients. A
 * message that no longer parses fails its pending recipients (5.6.0). */
static int prepare(struct run_item *it, int64_t now)
{
	struct queue_entry *e = it->e;
	enum submit_fail fail;
	char err[512];

	it->dr = calloc(e->nrcpts, sizeof(*it->dr));
	it->map = calloc(e->nrcpts, sizeof(*it->map));
	if (it->dr == NULL || it->map == NULL)
		return -1;
	if (submit_wire_from_data(e->data, e->size, &it->wire, &fail, err, sizeof(err)) < 0) {
		if (fail == SUBMIT_FAIL_NOMEM)
			return -1;
		for (size_t i = 0; i < e->nrcpts; i++) {
			struct queue_rcpt *qr = &e->rcpts[i];

			if (qr->state != QUEUE_RCPT_PENDING)
				continue;
			qr->state = QUEUE_RCPT_FAILED;
			qr->last_attempt = now;
			snprintf(qr->dsn, sizeof(qr->dsn), "5.6.0");
			snprintf(qr->reply, sizeof(qr->reply), "%s", err);
		}
		return 0;
	}
	it->wire_ok = 1;
	for (size_t i = 0; i < e->nrcpts; i++) {
		struct deliver_rcpt *d = &it->dr[it->ndr];
		struct addr a;

		if (e->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		if (addr_parse_path(e->rcpts[i].address, 0, &a, err, sizeof(err)) < 0) {
			e->rcpts[i].state = QUEUE_RCPT_FAILED;
			e->rcpts[i].last_attempt = now;
			snprintf(e->rcpts[i].dsn, sizeof(e->rcpts[i].dsn), "5.1.3");
			snprintf(e->rcpts[i].reply, sizeof(e->rcpts[i].reply), "bad address: %.400s", err);
			continue;
		}
		snprintf(d->address, sizeof(d->address), "%s", a.addr);
		snprintf(d->domain, sizeof(d->domain), "%s", a.domain);
		it->map[it->ndr++] = i;
	}
	return 0;
}

/* Queues a report about the recipients of it marked in pick (1 each) and
 * returns 0, or -1 (logged) when it could not be queued. */
static int queue_report(struct run *run, struct run_item *it, const unsigned char *pick,
                        enum dsn_action action)
{
	struct queue_entry *e = it->e;
	struct dsn_rcpt *dr = calloc(e->nrcpts, sizeof(*dr));
	struct dsn_report rep;
	struct queue_new qn;
	uint8_t rnd[16];
	char *out = NULL;
	size_t outlen = 0, n = 0;
	char err[512];
	char id[QUEUE_ID_MAX] = "";
	const char *rcpt[1];
	enum queue_fail fail;
	int rc = -1;

	if (dr == NULL)
		goto done;
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *qr = &e->rcpts[i];

		if (!pick[i])
			continue;
		dr[n].address = qr->address;
		dr[n].action = action;
		dr[n].status = qr->dsn;
		dr[n].remote_mta = NULL;
		dr[n].diagnostic = qr->reply[0] ? qr->reply : NULL;
		dr[n].last_attempt = qr->last_attempt;
		n++;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	memset(&rep, 0, sizeof(rep));
	rep.reporting_mta = run->o->hostname;
	rep.queue_id = e->id;
	rep.arrival = e->arrival;
	rep.now = run->o->now;
	rep.original_sender = e->sender;
	rep.message = e->data;
	rep.message_len = e->size;
	rep.rcpts = dr;
	rep.nrcpts = n;
	rep.random = rnd;
	if (dsn_make(&rep, &out, &outlen, err, sizeof(err)) < 0) {
		log_line("%s: cannot make the %s report: %s", e->id,
		         action == DSN_FAILED ? "bounce" : "delay", err);
		goto done;
	}
	rcpt[0] = e->sender;
	memset(&qn, 0, sizeof(qn));
	qn.sender = ""; /* RFC 5321 4.5.5: reports go from the null reverse path */
	qn.rcpts = rcpt;
	qn.nrcpts = 1;
	qn.data = out;
	qn.data_len = outlen;
	qn.arrival = run->o->now;
	if (run->o->q->ops->enqueue(run->o->q, &qn, id, &fail, err, sizeof(err)) < 0) {
		log_line("%s: cannot queue the %s report: %s", e->id,
		         action == DSN_FAILED ? "bounce" : "delay", err);
		goto done;
	}
	log_line("%s: sender %s report: %s", e->id,
	         action == DSN_FAILED ? "non-delivery" : "delay", id);
	run->st->bounces++;
	rc = 0;
done:
	if (rc < 0)
		run->st->errors++;
	free(out);
	free(dr);
	return rc;
}

static void record(struct run *run, struct run_item *it, size_t i)
{
	char err[256];

	if (run->o->q->ops->record_rcpt(run->o->q, it->e, i, err, sizeof(err)) < 0) {
		log_line("%s: %s", it->e->id, err);
		run->st->errors++;
	}
}

/* After delivery: reschedule or give up, report, remove what is done. */
static void finalize(struct run *run, struct run_item *it)
{
	struct queue *q = run->o->q;
	struct queue_entry *e = it->e;
	unsigned char *pick = calloc(e->nrcpts ? e->nrcpts : 1, 1);
	size_t pending = 0, unnotified = 0;
	char err[256];

	if (pick == NULL) {
		run->st->errors++;
		return;
	}
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QUEUE_RCPT_PENDING)
			pending++;
	if (pending > 0) {
		struct queue_sched_state before = e->sched;

		if (queue_sched_after_attempt(run->o->sched, &e->sched, run->o->now, random32()) ==
		    QUEUE_SCHED_EXPIRED) {
			/* RFC 5321 4.5.4.1: give up; 4.4.7 delivery time expired. */
			for (size_t i = 0; i < e->nrcpts; i++) {
				struct queue_rcpt *qr = &e->rcpts[i];
				char last[sizeof(qr->reply)];

				if (qr->state != QUEUE_RCPT_PENDING)
					continue;
				snprintf(last, sizeof(last), "%s", qr->reply);
				qr->state = QUEUE_RCPT_FAILED;
				snprintf(qr->dsn, sizeof(qr->dsn), "4.4.7");
				snprintf(qr->reply, sizeof(qr->reply),
				         "delivery time expired after %u attempts; last error: %.400s",
				         e->sched.attempts, last[0] ? last : "none");
				record(run, it, i);
				log_line("%s: to=<%s>, status=expired (%s)", e->id, qr->address, qr->reply);
				pending--;
			}
		} else {
			run->st->deferred += pending;
			(void)before;
		}
		if (q->ops->record_sched(q, e, err, sizeof(err)) < 0) {
			log_line("%s: %s", e->id, err);
			run->st->errors++;
		}
	}
	/* Failures not reported yet: bounce (or nothing, for <>). */
	for (size_t i = 0; i < e->nrcpts; i++) {
		pick[i] = e->rcpts[i].state == QUEUE_RCPT_FAILED && !e->rcpts[i].notified;
		unnotified += pick[i];
		if (pick[i] && e->rcpts[i].last_attempt == run->o->now)
			run->st->failed++;
	}
	if (unnotified > 0) {
		int allowed = e->data != NULL && dsn_allowed(e->sender, e->data, e->size);

		if (!allowed)
			log_line("%s: no bounce: the sender is <%s>%s", e->id, e->sender,
			         e->sender[0] ? " and the message is itself a report" : "");
		/* Queued before the recipients are marked: never lost. */
		if (!allowed || queue_report(run, it, pick, DSN_FAILED) == 0) {
			for (size_t i = 0; i < e->nrcpts; i++) {
				if (!pick[i])
					continue;
				e->rcpts[i].notified = 1;
				record(run, it, i);
			}
		}
	}
	/* RFC 3464 Action: delayed, once, when warn_after is set. */
	if (pending > 0 && queue_sched_warn_due(run->o->sched, &e->sched) && e->data != NULL &&
	    dsn_allowed(e->sender, e->data, e->size)) {
		for (size_t i = 0; i < e->nrcpts; i++)
			pick[i] = e->rcpts[i].state == QUEUE_RCPT_PENDING;
		if (queue_report(run, it, pick, DSN_DELAYED) == 0) {
			e->sched.warned = 1;
			if (q->ops->record_sched(q, e, err, sizeof(err)) < 0)
				run->st->errors++;
		}
	}
	free(pick);
	if (q->ops->sync(q, e, err, sizeof(err)) < 0) {
		log_line("%s: %s", e->id, err);
		run->st->errors++;
		return; /* not known to be recorded: keep it */
	}
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QUEUE_RCPT_PENDING ||
		    (e->rcpts[i].state == QUEUE_RCPT_FAILED && !e->rcpts[i].notified))
			return;
	if (q->ops->finish(q, e, err, sizeof(err)) < 0) {
		log_line("%s: %s", e->id, err);
		run->st->errors++;
		return;
	}
	log_line("%s: removed", e->id);
	run->st->finished++;
}

/* The message of it as the relay must get it (its From rules: the
 * account as sender, From rewritten), for a fallback during this run. A
 * message the relay refuses keeps the reason, which its recipients get
 * if they would have fallen back. */
static void relay_prepare_item(struct run_item *it, const struct conf_relay *rc,
                               struct deliver_msg *dm)
{
	char err[512];
	size_t len = 0;

	if (relay_rewrite_apply(rc, it->e->sender, it->wire.rendered, it->wire.rendered_len,
	                        &it->relay_msg, &len, it->relay_from, sizeof(it->relay_from), err,
	                        sizeof(err)) < 0) {
		it->relay_refused = strdup(err);
		dm->relay_refused = it->relay_refused ? it->relay_refused
		                                      : "the relay's From rules refuse this message";
		return;
	}
	dm->relay_data = it->relay_msg != NULL ? it->relay_msg : it->wire.rendered;
	dm->relay_data_len = it->relay_msg != NULL ? len : it->wire.rendered_len;
	dm->relay_mail_from = it->relay_from;
}

int queue_run_pass(struct submit *sub, const struct submit_opts *so,
                   const struct queue_run_opts *o, struct queue_run_stats *st, char *err,
                   size_t errlen)
{
	struct queue_entry *entries = NULL;
	struct deliver_msg *msgs = NULL;
	struct submit_opts dso = *so;
	struct run run;
	size_t n = 0, nmsgs = 0;
	enum submit_fail fail;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	memset(&run, 0, sizeof(run));
	run.o = o;
	run.st = st;
	run.loop = sub->loop;
	if (o->q->ops->claim(o->q, o->sched, o->now, o->all, o->max_messages, o->only_id, &entries,
	                     &n, err, errlen) < 0)
		return -1;
	st->messages = n;
	if (n == 0) {
		rc = 0;
		goto done;
	}
	run.items = calloc(n, sizeof(*run.items));
	run.batch = calloc(n, sizeof(*run.batch));
	msgs = calloc(n, sizeof(*msgs));
	if (run.items == NULL || run.batch == NULL || msgs == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	run.nitems = n;
	for (size_t i = 0; i < n; i++) {
		struct run_item *it = &run.items[i];
		int utf8 = 0;

		it->e = &entries[i];
		if (prepare(it, o->now) < 0) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (!it->wire_ok || it->ndr == 0)
			continue;
		for (size_t k = 0; k < it->ndr; k++)
			for (const char *p = it->dr[k].address; *p; p++)
				if ((unsigned char)*p >= 0x80)
					utf8 = 1;
		submit_msg_init(&msgs[nmsgs], &it->wire, it->e->sender, it->dr, it->ndr, utf8);
		if (so->relay != NULL)
			relay_prepare_item(it, so->relay->conf, &msgs[nmsgs]);
		else
			msgs[nmsgs].relay_refused = so->relay_refused;
		msgs[nmsgs].user = it;
		nmsgs++;
	}
	dso.on_result = on_result;
	dso.arg = &run;
	if (nmsgs > 0 &&
	    submit_deliver_msgs(sub, &dso, msgs, nmsgs, &fail, err, errlen) < 0)
		goto done;
	loop_timer_stop(run.loop, &run.sync_timer);
	sync_dirty(&run);
	for (size_t i = 0; i < n; i++)
		if (!run.items[i].done)
			finalize(&run, &run.items[i]);
	rc = 0;
done:
	if (run.loop != NULL)
		loop_timer_stop(run.loop, &run.sync_timer);
	for (size_t i = 0; run.items != NULL && i < n; i++) {
		submit_wire_free(&run.items[i].wire);
		free(run.items[i].relay_msg);
		free(run.items[i].relay_refused);
		free(run.items[i].dr);
		free(run.items[i].map);
	}
	free(run.items);
	free(run.batch);
	free(msgs);
	queue_entries_free(o->q, entries, n); /* releases the locks */
	return rc;
}
