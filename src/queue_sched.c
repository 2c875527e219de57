/*
 * queue_sched: the retry schedule of a queued message (backoff with
 * jitter, give-up after a lifetime counted in a clock-jump-proof age,
 * delay-warning timing). The rules are spelled out in queue_sched.h.
 *
 * Owns nothing: it computes on a struct queue_sched_state that the queue
 * stores. Must not read the clock, draw random numbers or do I/O: "now"
 * and the random bits come from the caller, so tests are exact
 * (STYLE.md principle 5).
 *
 * References: RFC 5321 4.5.4.1 (retry interval, give-up time of 4-5
 * days, both configurable); Postfix's minimal_backoff_time,
 * maximal_backoff_time and maximal_queue_lifetime for the defaults.
 */
#include "config.h"

#include "queue_sched.h"

#define SCHED_STEP_MIN 120u /* step_max is never below this (seconds) */

void queue_sched_defaults(struct queue_sched_conf *c)
{
	c->min_delay = 300;
	c->max_delay = 3600;
	c->lifetime = 5u * 24u * 3600u;
	c->warn_after = 0;
	c->jitter_pct = 20;
}

void queue_sched_init(struct queue_sched_state *s, int64_t now)
{
	s->arrival = now;
	s->last_seen = now;
	s->next_attempt = now;
	s->age = 0;
	s->attempts = 0;
	s->warned = 0;
}

/* max_delay as used: never below min_delay. */
static uint64_t eff_max(const struct queue_sched_conf *c)
{
	return c->max_delay < c->min_delay ? c->min_delay : c->max_delay;
}

static uint64_t eff_jitter(const struct queue_sched_conf *c)
{
	return c->jitter_pct > 100 ? 100 : c->jitter_pct;
}

/* The longest delay the backoff can produce. */
static uint64_t delay_max(const struct queue_sched_conf *c)
{
	uint64_t m = eff_max(c);

	return m + m * eff_jitter(c) / 100;
}

/* The most one step may add to age: a forward clock jump counts as this. */
static uint64_t step_max(const struct queue_sched_conf *c)
{
	uint64_t s = 2 * eff_max(c);

	return s < SCHED_STEP_MIN ? SCHED_STEP_MIN : s;
}

/* The shortest wait after an attempt. */
static uint64_t delay_floor(const struct queue_sched_conf *c)
{
	uint64_t f = c->min_delay / 2;

	return f < 1 ? 1 : f;
}

/* The delay after attempt n (n >= 1), before the lifetime and floor
 * limits: min_delay doubled n-1 times, capped, with jitter. */
static uint64_t backoff(const struct queue_sched_conf *c, unsigned n, uint32_t rnd)
{
	uint64_t max = eff_max(c), d = c->min_delay, j;

	/* doubling stops at the cap, so no shift can overflow */
	for (unsigned i = 1; i < n && d > 0 && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	j = d * eff_jitter(c) / 100;
	if (j > 0)
		d = d - j + (uint64_t)rnd % (2 * j + 1);
	return d;
}

int queue_sched_due(const struct queue_sched_conf *c, const struct queue_sched_state *s,
                    int64_t now)
{
	if (now >= s->next_attempt)
		return 1;
	/* further ahead than any delay we set: the clock went back */
	return (uint64_t)(s->next_attempt - now) > delay_max(c);
}

enum queue_sched_verdict queue_sched_after_attempt(const struct queue_sched_conf *c,
                                                   struct queue_sched_state *s,
                                                   int64_t now, uint32_t rnd)
{
	uint64_t d, left, floor = delay_floor(c);

	if (now > s->last_seen) {
		uint64_t step = (uint64_t)now - (uint64_t)s->last_seen;

		if (step > step_max(c))
			step = step_max(c);
		s->age += step;
	}
	s->last_seen = now;
	if (s->attempts < ~0u)
		s->attempts++;
	if (s->age >= c->lifetime) {
		s->next_attempt = now;
		return QUEUE_SCHED_EXPIRED;
	}
	d = backoff(c, s->attempts, rnd);
	left = c->lifetime - s->age;
	if (d > left)
		d = left;
	if (d < floor)
		d = floor;
	s->next_attempt = now + (int64_t)d;
	return QUEUE_SCHED_RETRY;
}

int queue_sched_warn_due(const struct queue_sched_conf *c, const struct queue_sched_state *s)
{
	return c->warn_after > 0 && !s->warned && s->age >= c->warn_after &&
	       s->age < c->lifetime;
}

int64_t queue_sched_expires_at(const struct queue_sched_conf *c,
                               const struct queue_sched_state *s, int64_t now)
{
	if (s->age >= c->lifetime)
		return now;
	return now + (int64_t)(c->lifetime - s->age);
}
