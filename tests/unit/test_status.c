/*
 * Unit tests of the exit status precedence (status.c): of several outcomes
 * in one run, the exit code reports the one that matters most to the
 * caller: a usage error first, then bad data, bad configuration, a
 * permanent failure, a temporary one, and success last (sysexits(3)).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "status.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* From strongest to weakest; codes outside the list rank just after usage. */
static const int order[] = {
	EX_USAGE, EX_SOFTWARE, EX_DATAERR, EX_CONFIG, EX_UNAVAILABLE, EX_TEMPFAIL, EX_OK,
};

struct worst_case {
	int a, b;  /* the two codes, in this order */
	int want;  /* status_exit_worst(a, b) */
};

static const struct worst_case cases[] = {
	{ .a = EX_OK, .b = EX_OK, .want = EX_OK },
	{ .a = EX_OK, .b = EX_TEMPFAIL, .want = EX_TEMPFAIL },
	{ .a = EX_TEMPFAIL, .b = EX_UNAVAILABLE, .want = EX_UNAVAILABLE },
	{ .a = EX_UNAVAILABLE, .b = EX_CONFIG, .want = EX_CONFIG },
	{ .a = EX_CONFIG, .b = EX_DATAERR, .want = EX_DATAERR },
	{ .a = EX_DATAERR, .b = EX_USAGE, .want = EX_USAGE },
	/* codes outside the list: after usage, before data */
	{ .a = EX_DATAERR, .b = EX_SOFTWARE, .want = EX_SOFTWARE },
	{ .a = EX_OSERR, .b = EX_USAGE, .want = EX_USAGE },
	{ .a = EX_TEMPFAIL, .b = EX_CANTCREAT, .want = EX_CANTCREAT },
	{ .a = EX_OK, .b = 1, .want = 1 },
	/* two codes of the same rank: the first one is kept */
	{ .a = EX_SOFTWARE, .b = EX_OSERR, .want = EX_SOFTWARE },
	{ .a = EX_OSERR, .b = EX_SOFTWARE, .want = EX_OSERR },
};

static void test_worst_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int got = status_exit_worst(cases[i].a, cases[i].b);

		if (got != cases[i].want) {
			print_error("worst(%d, %d): want %d, got %d\n", cases[i].a, cases[i].b,
			            cases[i].want, got);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%d pair(s) differ", bad);
}

/* Every pair of the ordered list, both ways round: the stronger wins. */
static void test_worst_all_pairs(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(order); i++) {
		for (size_t j = 0; j < ARRAY_LEN(order); j++) {
			int want = order[i < j ? i : j];
			int got = status_exit_worst(order[i], order[j]);

			if (got != want) {
				print_error("worst(%d, %d): want %d, got %d\n", order[i], order[j], want, got);
				bad++;
			}
		}
	}
	if (bad > 0)
		fail_msg("%d pair(s) differ", bad);
}

/* Folding a run's outcomes in any order gives the same answer. */
static void test_worst_fold(void **state)
{
	static const int runs[][5] = {
		{ EX_OK, EX_TEMPFAIL, EX_OK, EX_UNAVAILABLE, EX_OK },
		{ EX_UNAVAILABLE, EX_OK, EX_TEMPFAIL, EX_OK, EX_OK },
		{ EX_OK, EX_OK, EX_OK, EX_UNAVAILABLE, EX_TEMPFAIL },
	};

	(void)state;
	for (size_t r = 0; r < ARRAY_LEN(runs); r++) {
		int acc = EX_OK;

		for (size_t i = 0; i < ARRAY_LEN(runs[r]); i++)
			acc = status_exit_worst(acc, runs[r][i]);
		if (acc != EX_UNAVAILABLE)
			fail_msg("run %zu: want %d, got %d", r, EX_UNAVAILABLE, acc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worst_table),
		cmocka_unit_test(test_worst_all_pairs),
		cmocka_unit_test(test_worst_fold),
	};

	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
