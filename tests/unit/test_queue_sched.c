/*
 * Unit tests of the retry schedule (queue_sched.c): backoff table, jitter
 * bounds, the doubling cap, give-up at exactly the lifetime, clock jumps
 * both ways, delay-warning timing. Covers DLV-20 (schedule, give-up at
 * the configured lifetime, injected clock) and the "a clock that
 * jumps" rule.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "queue_sched.h"

#define T0 1700000000LL

/* A configuration without jitter, so delays are exact. */
static void conf_exact(struct queue_sched_conf *c)
{
	queue_sched_defaults(c);
	c->jitter_pct = 0;
}

static void test_defaults(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;

	(void)state;
	memset(&c, 0xff, sizeof(c));
	queue_sched_defaults(&c);
	assert_int_equal(c.min_delay, 300);
	assert_int_equal(c.max_delay, 3600);
	assert_int_equal(c.lifetime, 432000);
	assert_int_equal(c.warn_after, 0);
	assert_int_equal(c.jitter_pct, 20);
	memset(&s, 0xff, sizeof(s));
	queue_sched_init(&s, T0);
	assert_true(s.arrival == T0 && s.last_seen == T0 && s.next_attempt == T0);
	assert_true(s.age == 0);
	assert_int_equal(s.attempts, 0);
	assert_int_equal(s.warned, 0);
	assert_true(queue_sched_due(&c, &s, T0));
	assert_false(queue_sched_due(&c, &s, T0 - 1));
}

/* DLV-20: 300, 600, 1200, 2400, then the 3600 cap, each attempt made
 * exactly when due. */
static void test_backoff_table(void **state)
{
	static const struct {
		unsigned min, max;
		unsigned want[8];
	} cases[] = {
		{ 300, 3600, { 300, 600, 1200, 2400, 3600, 3600, 3600, 3600 } },
		{ 60, 200, { 60, 120, 200, 200, 200, 200, 200, 200 } },
		{ 1000, 500, { 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000 } }, /* max < min */
		{ 0, 10, { 1, 1, 1, 1, 1, 1, 1, 1 } },                           /* floor 1 s */
		{ 3600, 3600, { 3600, 3600, 3600, 3600, 3600, 3600, 3600, 3600 } },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct queue_sched_conf c;
		struct queue_sched_state s;
		int64_t now = T0;

		conf_exact(&c);
		c.min_delay = cases[k].min;
		c.max_delay = cases[k].max;
		queue_sched_init(&s, now);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(queue_sched_after_attempt(&c, &s, now, 12345),
			                 QUEUE_SCHED_RETRY);
			if (s.next_attempt - now != cases[k].want[i])
				fail_msg("case %zu attempt %d: want %u got %lld", k, i + 1,
				         cases[k].want[i], (long long)(s.next_attempt - now));
			assert_int_equal(s.attempts, (unsigned)i + 1);
			now = s.next_attempt;
		}
	}
}

/* Many attempts do not overflow the doubling. */
static void test_doubling_cap_many_attempts(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;

	(void)state;
	conf_exact(&c);
	c.lifetime = 4000000000u;
	queue_sched_init(&s, T0);
	s.attempts = 100000;
	assert_int_equal(queue_sched_after_attempt(&c, &s, T0, 0), QUEUE_SCHED_RETRY);
	assert_int_equal(s.next_attempt - T0, 3600);
	s.attempts = ~0u;
	assert_int_equal(queue_sched_after_attempt(&c, &s, T0, 0), QUEUE_SCHED_RETRY);
	assert_int_equal(s.attempts, ~0u);
	assert_int_equal(s.next_attempt - T0, 3600);
}

/* Jitter stays within +-jitter_pct, reaches both ends, and rnd picks it. */
static void test_jitter_bounds(void **state)
{
	struct queue_sched_conf c;
	int64_t lo = INT64_MAX, hi = 0;

	(void)state;
	queue_sched_defaults(&c); /* 20 % */
	for (uint32_t r = 0; r < 5000; r++) {
		struct queue_sched_state s;
		uint32_t rnd = r * 2654435761u;
		int64_t d;

		queue_sched_init(&s, T0);
		queue_sched_after_attempt(&c, &s, T0, rnd);
		d = s.next_attempt - T0;
		assert_in_range(d, 240, 360);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_int_equal(lo, 240);
	assert_int_equal(hi, 360);
	/* at the cap: 3600 +- 720; rnd 0 is the low end, 1440 the high end */
	for (uint32_t rnd = 0; rnd <= 1440; rnd += 1440) {
		struct queue_sched_state s;

		queue_sched_init(&s, T0);
		s.attempts = 10;
		queue_sched_after_attempt(&c, &s, T0, rnd);
		assert_int_equal(s.next_attempt - T0, rnd == 0 ? 2880 : 4320);
	}
	/* jitter_pct over 100 counts as 100; the floor min_delay/2 holds */
	c.jitter_pct = 250;
	for (uint32_t r = 0; r < 2000; r++) {
		struct queue_sched_state s;

		queue_sched_init(&s, T0);
		queue_sched_after_attempt(&c, &s, T0, r * 7919u);
		assert_in_range(s.next_attempt - T0, 150, 600);
	}
}

/* DLV-20: give-up exactly when age reaches the lifetime, not one second
 * earlier; the last delay is cut so the give-up is on time. */
static void test_lifetime_boundary(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;
	int64_t now = T0;
	int n = 0;

	(void)state;
	conf_exact(&c);
	c.lifetime = 10000;
	queue_sched_init(&s, now);
	/* 300 600 1200 2400 3600 = 8100, then 1900 left, then expired */
	for (;;) {
		enum queue_sched_verdict v = queue_sched_after_attempt(&c, &s, now, 0);

		n++;
		if (v == QUEUE_SCHED_EXPIRED)
			break;
		assert_true(s.age < 10000);
		now = s.next_attempt;
		assert_true(n < 20);
	}
	assert_int_equal(n, 7);
	assert_true(s.age == 10000);
	assert_int_equal(now - T0, 10000);
	assert_int_equal(s.next_attempt, now);

	/* age one short of the lifetime: retry; exactly at it: expired */
	queue_sched_init(&s, T0);
	s.age = 10000 - 101;
	assert_int_equal(queue_sched_after_attempt(&c, &s, T0 + 100, 0), QUEUE_SCHED_RETRY);
	assert_true(s.age == 9999);
	/* the cut delay (1 s) is raised to the floor, 150 s */
	assert_int_equal(s.next_attempt - (T0 + 100), 150);
	queue_sched_init(&s, T0);
	s.age = 10000 - 100;
	assert_int_equal(queue_sched_after_attempt(&c, &s, T0 + 100, 0), QUEUE_SCHED_EXPIRED);
	assert_int_equal(queue_sched_expires_at(&c, &s, T0 + 100), T0 + 100);

	/* lifetime 0: the first attempt gives up */
	c.lifetime = 0;
	queue_sched_init(&s, T0);
	assert_int_equal(queue_sched_after_attempt(&c, &s, T0, 0), QUEUE_SCHED_EXPIRED);
}

/* The issue: a forward clock jump of 30 days does not expire a 1-hour-old
 * message; it ages it by step_max (2 h) at most. */
static void test_forward_jump(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;
	int64_t now = T0;

	(void)state;
	conf_exact(&c);
	queue_sched_init(&s, now);
	while (now < T0 + 3600) {
		assert_int_equal(queue_sched_after_attempt(&c, &s, now, 0), QUEUE_SCHED_RETRY);
		now = s.next_attempt;
	}
	/* attempts at 0, 300, 900, 2100 s; due again at 4500 s */
	assert_true(s.age == (uint64_t)(s.last_seen - T0));
	assert_true(s.age == 2100);
	{
		uint64_t before = s.age;

		now += 30LL * 86400;
		assert_true(queue_sched_due(&c, &s, now));
		assert_int_equal(queue_sched_after_attempt(&c, &s, now, 0), QUEUE_SCHED_RETRY);
		assert_true(s.age == before + 7200);
		/* the schedule goes on from the new clock */
		assert_true(s.next_attempt > now && s.next_attempt <= now + 3600);
		assert_true(queue_sched_expires_at(&c, &s, now) ==
		            now + (int64_t)(432000 - s.age));
	}
	/* even a year forward at every attempt needs lifetime/7200 attempts */
	queue_sched_init(&s, T0);
	now = T0;
	for (int i = 0; i < 59; i++) {
		now += 365LL * 86400;
		assert_int_equal(queue_sched_after_attempt(&c, &s, now, 0), QUEUE_SCHED_RETRY);
	}
	assert_true(s.age == 59u * 7200u);
}

/* The issue: a backward jump of 30 days makes the message due at once
 * (not in 30 days), does not shorten its life, and does not cause a
 * tight loop: the next attempt is at least min_delay/2 later. */
static void test_backward_jump(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;
	int64_t now = T0;
	uint64_t age;

	(void)state;
	queue_sched_defaults(&c);
	queue_sched_init(&s, now);
	assert_int_equal(queue_sched_after_attempt(&c, &s, now, 7), QUEUE_SCHED_RETRY);
	now = s.next_attempt;
	assert_int_equal(queue_sched_after_attempt(&c, &s, now, 7), QUEUE_SCHED_RETRY);
	age = s.age;
	/* not due a second early under a normal clock */
	assert_false(queue_sched_due(&c, &s, s.next_attempt - 1));
	assert_true(queue_sched_due(&c, &s, s.next_attempt));

	now -= 30LL * 86400;
	assert_true(queue_sched_due(&c, &s, now));
	assert_int_equal(queue_sched_after_attempt(&c, &s, now, 7), QUEUE_SCHED_RETRY);
	assert_true(s.age == age);
	assert_true(s.next_attempt >= now + 150);
	/* and the message is not due again right away */
	assert_false(queue_sched_due(&c, &s, now));
	assert_false(queue_sched_due(&c, &s, now + 149));

	/* a small step back (less than the longest delay) just waits */
	queue_sched_init(&s, T0);
	s.next_attempt = T0 + 4320;
	assert_false(queue_sched_due(&c, &s, T0));
	s.next_attempt = T0 + 4321;
	assert_true(queue_sched_due(&c, &s, T0));
}

/* Flushing many times in a second neither ages the message nor
 * schedules below the floor. */
static void test_flush_does_not_age(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;

	(void)state;
	queue_sched_defaults(&c);
	queue_sched_init(&s, T0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(queue_sched_after_attempt(&c, &s, T0, (uint32_t)i),
		                 QUEUE_SCHED_RETRY);
	assert_true(s.age == 0);
	assert_true(s.next_attempt >= T0 + 150);
}

/* Delay warning: not before warn_after of age, once, never when off,
 * never for an expired message. */
static void test_warn_timing(void **state)
{
	struct queue_sched_conf c;
	struct queue_sched_state s;
	int64_t now = T0;
	int64_t warned_at = 0;

	(void)state;
	conf_exact(&c);
	queue_sched_init(&s, now);
	assert_false(queue_sched_warn_due(&c, &s));
	c.warn_after = 4 * 3600;
	assert_false(queue_sched_warn_due(&c, &s));
	while (now < T0 + 10 * 3600) {
		queue_sched_after_attempt(&c, &s, now, 0);
		if (queue_sched_warn_due(&c, &s)) {
			assert_int_equal(warned_at, 0);
			warned_at = now;
			s.warned = 1;
		}
		now = s.next_attempt;
	}
	/* attempts at 0 300 900 2100 4500 8100 11700 15300: the first with
	 * age >= 4 h is at 15300 s */
	assert_int_equal(warned_at - T0, 15300);

	queue_sched_init(&s, T0);
	s.age = 4 * 3600 - 1;
	assert_false(queue_sched_warn_due(&c, &s));
	s.age = 4 * 3600;
	assert_true(queue_sched_warn_due(&c, &s));
	s.warned = 1;
	assert_false(queue_sched_warn_due(&c, &s));
	s.warned = 0;
	s.age = c.lifetime;
	assert_false(queue_sched_warn_due(&c, &s));
	c.warn_after = 0;
	s.age = 3600 * 24;
	assert_false(queue_sched_warn_due(&c, &s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_backoff_table),
		cmocka_unit_test(test_doubling_cap_many_attempts),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_lifetime_boundary),
		cmocka_unit_test(test_forward_jump),
		cmocka_unit_test(test_backward_jump),
		cmocka_unit_test(test_flush_does_not_age),
		cmocka_unit_test(test_warn_timing),
	};

	return cmocka_run_group_tests_name("queue_sched", tests, NULL, NULL);
}
