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
 *
 * The exact rules (queue_sched.c; tests/unit/test_queue_sched.c):
 *   - Effective settings: max_delay below min_delay is raised to it;
 *     jitter_pct above 100 counts as 100.
 *   - Backoff: attempt n (1-based, counted after it was made) waits
 *     base = min(min_delay * 2^(n-1), max_delay), then
 *     base + j with j uniform in [-J, +J], J = base * jitter_pct / 100
 *     (j = rnd % (2J + 1) - J), then at most what is left of the
 *     lifetime (lifetime - age) so that the give-up comes on time, and
 *     never below the floor max(min_delay / 2, 1): no retry sooner than
 *     that after an attempt, whatever the clock or the settings.
 *   - Age: after_attempt adds step = now - last_seen, capped to
 *     step_max = 2 * max_delay (at least 2 * 60 s); a
 *     negative step (the clock went back) adds 0. last_seen becomes now.
 *     So a forward jump of 30 days ages a message by 2 h at most, a
 *     backward jump never shortens its life, and a runner that is late
 *     by up to max_delay still counts the real time. What age does not
 *     count (a runner stopped for longer, a machine switched off) makes
 *     the life longer, never shorter: the error is on the side of not
 *     bouncing early.
 *   - Give-up: age >= lifetime after an attempt: EXPIRED (exactly at the
 *     boundary too); next_attempt is then set to now.
 *   - Due: now >= next_attempt, or next_attempt - now is more than the
 *     longest delay the backoff can give, delay_max =
 *     max_delay + max_delay * jitter_pct / 100 (the clock went back).
 *   - Warning: warn_after > 0, not warned, warn_after <= age < lifetime
 *     (an expired message gets its bounce instead). age only moves in
 *     after_attempt, so ask after recording an attempt.
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

/* The wall-clock time at which the message will be given up if the clock
 * runs normally from now: now + (lifetime - age), or now when age has
 * reached the lifetime. For Will-Retry-Until in a delay warning
 * (struct dsn_rcpt.will_retry_until). */
int64_t queue_sched_expires_at(const struct queue_sched_conf *c,
                               const struct queue_sched_state *s, int64_t now);

#endif
