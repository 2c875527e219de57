/* Unit tests of MX ordering (mx.c). Covers DLV-02, DLV-03, DLV-11. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mx.h"
#include "rng.h"

static size_t load(struct mx_record *r, const char *spec)
{
	/* spec: "10 a,20 b,..." ; "." for the null exchange */
	char buf[512];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
		unsigned pref;
		char host[64];

		if (sscanf(tok, "%u %63s", &pref, host) != 2)
			fail_msg("bad spec %s", tok);
		memset(&r[n], 0, sizeof(r[n]));
		r[n].pref = (uint16_t)pref;
		snprintf(r[n].host, sizeof(r[n].host), "%s", strcmp(host, ".") == 0 ? "" : host);
		n++;
	}
	return n;
}

/* DLV-02: lower preference first. */
static void test_sorted_by_preference(void **state)
{
	struct mx_record r[8];
	struct mx_order_info info;
	struct rng rng;
	size_t n = load(r, "20 b,10 a,30 c");

	(void)state;
	rng_seed(&rng, 1);
	n = mx_order(r, n, &rng, &info);
	assert_int_equal(n, 3);
	assert_string_equal(r[0].host, "a");
	assert_string_equal(r[1].host, "b");
	assert_string_equal(r[2].host, "c");
	assert_false(info.null_mx);
}

/* DLV-11: a lone "0 ." is a null MX; beside other hosts it is dropped. */
static void test_null_mx(void **state)
{
	struct mx_record r[8];
	struct mx_order_info info;
	struct rng rng;
	size_t n;

	(void)state;
	rng_seed(&rng, 1);
	n = mx_order(r, load(r, "0 ."), &rng, &info);
	assert_int_equal(n, 0);
	assert_true(info.null_mx);
	assert_false(info.null_nonzero);
	n = mx_order(r, load(r, "0 .,10 mx"), &rng, &info);
	assert_int_equal(n, 1);
	assert_false(info.null_mx);
	assert_true(info.null_mixed);
	assert_string_equal(r[0].host, "mx");
}

static void test_duplicates_kept_once(void **state)
{
	struct mx_record r[8];
	struct mx_order_info info;
	struct rng rng;
	size_t n;

	(void)state;
	rng_seed(&rng, 1);
	n = mx_order(r, load(r, "20 a,10 b,5 A"), &rng, &info);
	assert_int_equal(n, 2);
	assert_int_equal(info.duplicates, 1);
	assert_string_equal(r[0].host, "a");
	assert_int_equal(r[0].pref, 5);
}

/* DLV-03: 3 hosts at 10 and one at 20, 30,000 orderings: each of the three
 * comes first about a third of the time (chi-square, 2 degrees of freedom,
 * 13.8 is the 0.001 critical value), and the pref-20 host is always last. */
static void test_equal_preference_is_uniform(void **state)
{
	const int rounds = 30000;
	int first[3] = { 0, 0, 0 };
	struct rng rng;
	double chi = 0.0, expect = rounds / 3.0;

	(void)state;
	rng_seed(&rng, 12345);
	for (int i = 0; i < rounds; i++) {
		struct mx_record r[8];
		struct mx_order_info info;
		size_t n = mx_order(r, load(r, "10 a,20 z,10 b,10 c"), &rng, &info);

		assert_int_equal(n, 4);
		assert_string_equal(r[3].host, "z");
		first[r[0].host[0] - 'a']++;
	}
	for (int i = 0; i < 3; i++)
		chi += (first[i] - expect) * (first[i] - expect) / expect;
	print_message("first choice a=%d b=%d c=%d chi2=%.2f\n", first[0], first[1], first[2], chi);
	assert_true(chi < 13.8);
}

/* The same seed gives the same order: tests rely on it. */
static void test_seed_reproducible(void **state)
{
	struct mx_record r1[8], r2[8];
	struct mx_order_info info;
	struct rng a, b;

	(void)state;
	rng_seed(&a, 99);
	rng_seed(&b, 99);
	mx_order(r1, load(r1, "10 a,10 b,10 c,10 d,10 e"), &a, &info);
	mx_order(r2, load(r2, "10 a,10 b,10 c,10 d,10 e"), &b, &info);
	for (int i = 0; i < 5; i++)
		assert_string_equal(r1[i].host, r2[i].host);
}

static void test_rng_below_bounds(void **state)
{
	struct rng rng;

	(void)state;
	rng_seed(&rng, 7);
	for (int i = 0; i < 10000; i++) {
		assert_true(rng_below(&rng, 1) == 0);
		assert_true(rng_below(&rng, 3) < 3);
		assert_true(rng_below(&rng, 0xffffffffu) < 0xffffffffu);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_by_preference),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_duplicates_kept_once),
		cmocka_unit_test(test_equal_preference_is_uniform),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_rng_below_bounds),
	};

	return cmocka_run_group_tests_name("mx", tests, NULL, NULL);
}
