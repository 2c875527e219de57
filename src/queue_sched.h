/*
 * queue_sched: when a queued message is tried again, and when it is given
 * up. Pure arithmetic on a small state that the queue persists beside the
 * message (queue.h); no I/O, no clock reading: the caller passes "now"
 * (wall-clock seconds), so tests drive it with any clock they like.
 *
 * Backoff: min_delay after the first deferral, doubling to max_delay, each
 * with jitter (RFC 5321 4.5.4.1 asks for at least 30 minutes between tries
 * to one destination after the first; the defaults follow Postfix more
 * closely: 5 min doubling to 1 h). Give-up: when the message's queue life
 * reaches lifetime (default 5 days, 4.5.4.1).
 *
 * A clock that jumps must never make a message expire early or retry in a
 * tight loop: the queue life is counted in `age`, which grows by the time
 * seen between attempts, each step capped (a forward jump of a week adds
 * at most a little more than max_delay); a next_attempt that lies further
 * ahead than max_delay (the clock went back) is due now, not in days.
 */
#ifndef MXSEND_QUEUE_SCHED_H
#define MXSEND_QUEUE_SCHED_H

#include <stdint.h>

struct queue_sched_conf {
	unsigned min_delay;    /* seconds before the first retry; default 300 */
	unsigned max_delay;    /* cap of the doubling; default 3600 */
	unsigned lifetime;     /* seconds of queue life before bouncing; default 432000 */
	unsigned warn_after;   /* seconds before a delay warning; 0 = none (default) */
	unsigned jitter_pct;   /* +- percent of each delay; default 20 */
};

/* What the queue stores per message; all times wall-clock seconds. */
struct queue_sched_state {
	int64_t arrival;       /* when the message was accepted */
	int64_t last_seen;     /* the last time age was brought up to date */
	int64_t next_attempt;  /* due from this time on */
	uint64_t age;          /* queue life counted so far (clock-jump proof) */
	unsigned attempts;     /* delivery attempts made */
	int warned;            /* a delay warning was sent */
};

enum queue_sched_verdict {
	QUEUE_SCHED_RETRY,     /* next_attempt set: try again then */
	QUEUE_SCHED_EXPIRED,   /* lifetime used up: bounce what is still deferred */
};

/* The defaults above into c. */
void queue_sched_defaults(struct queue_sched_conf *c);

/* A new message accepted at now: due at once, age 0. */
void queue_sched_init(struct queue_sched_state *s, int64_t now);

/* Is the message due at now? A next_attempt more than max_delay (plus
 * jitter) in the future means the clock went back: due. */
int queue_sched_due(const struct queue_sched_conf *c, const struct queue_sched_state *s,
                    int64_t now);

/* After an attempt at now that left recipients deferred: brings age up to
 * date, counts the attempt and sets next_attempt from the backoff, using
 * rnd (any 32 random bits) for the jitter. Returns QUEUE_SCHED_EXPIRED when
 * age has reached the lifetime. */
enum queue_sched_verdict queue_sched_after_attempt(const struct queue_sched_conf *c,
                                                   struct queue_sched_state *s,
                                                   int64_t now, uint32_t rnd);

/* Should a delay warning go out now (warn_after set, not yet warned, age
 * at least warn_after)? The caller sets s->warned once it is sent. */
int queue_sched_warn_due(const struct queue_sched_conf *c, const struct queue_sched_state *s);

#endif
