/*
 * queue_run: one pass of the queue runner. Claims what is due (or
 * everything, for flush), delivers all of it in ONE deliver_run in the
 * one event loop, so that messages to the same domain share its route and
 * its connections, records every recipient's outcome in the queue as it
 * comes, then per message: reschedules (queue_sched), gives up when the
 * lifetime is used (RFC 5321 4.5.4.1), sends the bounce or the delay
 * warning (dsn.c, as a new queued message from <>, never for a message
 * from <>: RFC 5321 4.5.5, 6.1), and removes what is done.
 */
#ifndef MXSEND_QUEUE_RUN_H
#define MXSEND_QUEUE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "queue_sched.h"
#include "submit.h"

struct queue_run_opts {
	struct queue *q;
	const struct queue_sched_conf *sched;
	int64_t now;               /* wall clock (MXSEND_TEST_NOW in tests) */
	int all;                   /* flush: every message, due or not */
	const char *hostname;      /* Reporting-MTA of bounces */
	size_t max_messages;       /* per pass; 0 = no limit */
	const char *only_id;       /* only this message (sendmail's own), or NULL */
	/* Called for each recipient outcome (for log lines); may be NULL. */
	void (*on_result)(void *arg, const char *queue_id, const struct deliver_rcpt *r);
	void *arg;
};

/* What a pass did. */
struct queue_run_stats {
	size_t messages;           /* claimed */
	size_t sent;               /* recipients delivered */
	size_t deferred;           /* recipients still pending */
	size_t failed;             /* recipients that failed for good this pass */
	size_t bounces;            /* bounces and warnings queued */
	size_t finished;           /* messages removed, everything done */
	size_t errors;             /* journal or bounce problems (logged) */
};

/* One pass over sub (open: loop, resolver, routes) with the delivery
 * settings so (its on_result and arg are the runner's own). Returns 0, or
 * -1 with a reason when the pass could not run at all (the spool cannot
 * be read, no TLS context); recipient problems are outcomes, not errors. */
int queue_run_pass(struct submit *sub, const struct submit_opts *so,
                   const struct queue_run_opts *o, struct queue_run_stats *st, char *err,
                   size_t errlen);

/* Records the outcome of a delivery attempt made outside the runner
 * (`mxsend send` tried first) in the form enqueue takes: r[i] into
 * out[i]. */
void queue_run_result(const struct deliver_rcpt *r, int64_t now, struct queue_rcpt *out);

#endif
