/*
 * Unit tests of the string list (strlist.c): warnings and reasons are kept
 * up to STRLIST_MAX; later ones are only counted, so a hostile answer with
 * thousands of oddities cannot grow a report without bound.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "strlist.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct limit_case {
	size_t adds;      /* strlist_addf calls */
	size_t want_n;    /* strings kept */
	size_t want_drop; /* additions counted as dropped */
};

static const struct limit_case cases[] = {
	{ .adds = 0, .want_n = 0, .want_drop = 0 },
	{ .adds = 1, .want_n = 1, .want_drop = 0 },
	{ .adds = STRLIST_MAX - 1, .want_n = STRLIST_MAX - 1, .want_drop = 0 },
	{ .adds = STRLIST_MAX, .want_n = STRLIST_MAX, .want_drop = 0 },
	{ .adds = STRLIST_MAX + 1, .want_n = STRLIST_MAX, .want_drop = 1 },
	{ .adds = 1000, .want_n = STRLIST_MAX, .want_drop = 1000 - STRLIST_MAX },
};

static void test_limit(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
		struct strlist l = { 0 };

		for (size_t i = 0; i < cases[c].adds; i++)
			assert_int_equal(strlist_addf(&l, "warning %zu", i), 0);
		if (l.n != cases[c].want_n || l.dropped != cases[c].want_drop) {
			print_error("%zu additions: want n %zu dropped %zu, got n %zu dropped %zu\n",
			            cases[c].adds, cases[c].want_n, cases[c].want_drop, l.n, l.dropped);
			bad++;
		}
		/* the first ones are kept, in order */
		for (size_t i = 0; i < l.n; i++) {
			char want[32];

			snprintf(want, sizeof(want), "warning %zu", i);
			if (strcmp(l.v[i], want) != 0) {
				print_error("entry %zu: want \"%s\", got \"%s\"\n", i, want, l.v[i]);
				bad++;
			}
		}
		strlist_clear(&l);
	}
	if (bad > 0)
		fail_msg("%d case(s) differ", bad);
}

static void test_has_and_clear(void **state)
{
	struct strlist l = { 0 };

	(void)state;
	assert_int_equal(strlist_addf(&l, "%s %d", "a", 1), 0);
	assert_int_equal(strlist_addf(&l, "b"), 0);
	assert_true(strlist_has(&l, "a 1"));
	assert_true(strlist_has(&l, "b"));
	assert_false(strlist_has(&l, "a"));
	assert_false(strlist_has(&l, "c"));
	for (size_t i = 0; i < STRLIST_MAX + 3; i++)
		assert_int_equal(strlist_addf(&l, "x"), 0);
	assert_int_equal(l.dropped, 5);
	strlist_clear(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.dropped, 0);
	assert_null(l.v);
	assert_false(strlist_has(&l, "b"));
	/* usable again after clear; clearing an empty list is harmless */
	assert_int_equal(strlist_addf(&l, "again"), 0);
	assert_string_equal(l.v[0], "again");
	strlist_clear(&l);
	strlist_clear(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_has_and_clear),
	};

	return cmocka_run_group_tests_name("strlist", tests, NULL, NULL);
}
