/*
 * Unit tests of the blocked-port-25 memory (port25.c): when several
 * domains' MX hosts all time out, port 25 is taken as blocked for a while,
 * persisted across runs; an MX that answers clears it; a damaged file or a
 * clock that went back never leaves mail stuck on the relay.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "port25.h"

#define T0 1700000000LL

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mxsend-p25.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/port25", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Three different domains are needed; the same one three times is not
 * proof of a block (one dead MX set). */
static void test_threshold_distinct(void **state)
{
	struct port25 p;

	(void)state;
	port25_load(&p, dir, 3, 3600, T0);
	assert_int_equal(port25_note_timeout(&p, "a.test", T0), 0);
	assert_int_equal(port25_note_timeout(&p, "a.test", T0 + 1), 0);
	assert_int_equal(port25_note_timeout(&p, "A.TEST", T0 + 2), 0);
	assert_false(port25_blocked(&p, T0 + 2));
	assert_int_equal(port25_note_timeout(&p, "b.test", T0 + 3), 0);
	assert_int_equal(port25_note_timeout(&p, "c.test", T0 + 4), 1);
	assert_true(port25_blocked(&p, T0 + 4));
	assert_true(port25_blocked(&p, T0 + 4 + 3599));
	assert_false(port25_blocked(&p, T0 + 4 + 3600));
	/* Already blocked: a fourth domain does not say it again. */
	assert_int_equal(port25_note_timeout(&p, "d.test", T0 + 5), 0);
}

/* Timeouts older than the window do not add up to a block. */
static void test_window(void **state)
{
	struct port25 p;

	(void)state;
	port25_load(&p, dir, 3, 600, T0);
	port25_note_timeout(&p, "a.test", T0);
	port25_note_timeout(&p, "b.test", T0 + 100);
	assert_int_equal(port25_note_timeout(&p, "c.test", T0 + 650), 0);
	assert_false(port25_blocked(&p, T0 + 650));
	assert_int_equal(p.nrecent, 2);
}

static void test_reached_clears(void **state)
{
	struct port25 p;

	(void)state;
	port25_load(&p, dir, 2, 3600, T0);
	port25_note_timeout(&p, "a.test", T0);
	port25_note_timeout(&p, "b.test", T0);
	assert_true(port25_blocked(&p, T0 + 1));
	port25_note_reached(&p);
	assert_false(port25_blocked(&p, T0 + 1));
	assert_int_equal(p.nrecent, 0);
}

static void test_off(void **state)
{
	struct port25 p;

	(void)state;
	port25_load(&p, dir, 0, 3600, T0);
	for (int i = 0; i < 10; i++) {
		char d[32];

		snprintf(d, sizeof(d), "d%d.test", i);
		assert_int_equal(port25_note_timeout(&p, d, T0), 0);
	}
	assert_false(port25_blocked(&p, T0));
}

/* The mark survives the process: the next run reads it back. */
static void test_persist(void **state)
{
	struct port25 p, q;
	char err[256];
	char path[128];
	struct stat stt;

	(void)state;
	port25_load(&p, dir, 2, 3600, T0);
	port25_note_timeout(&p, "a.test", T0);
	port25_note_timeout(&p, "b.test", T0 + 1);
	assert_int_equal(port25_save(&p, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/port25", dir);
	assert_int_equal(stat(path, &stt), 0);
	assert_int_equal(stt.st_mode & 0777, 0600);
	port25_load(&q, dir, 2, 3600, T0 + 10);
	assert_true(port25_blocked(&q, T0 + 10));
	assert_int_equal(q.nrecent, 2);
	assert_string_equal(q.recent[1].domain, "b.test");
	/* Expired by the time of the next run: forgotten. */
	port25_load(&q, dir, 2, 3600, T0 + 4000);
	assert_false(port25_blocked(&q, T0 + 4000));
	assert_int_equal(q.nrecent, 0);
}

/* A clock that went back must not keep port 25 "blocked" for the whole
 * jump: a mark that starts in the future is dropped. */
static void test_clock_back(void **state)
{
	struct port25 p, q;
	char err[256];

	(void)state;
	port25_load(&p, dir, 1, 3600, T0);
	assert_int_equal(port25_note_timeout(&p, "a.test", T0), 1);
	assert_int_equal(port25_save(&p, err, sizeof(err)), 0);
	port25_load(&q, dir, 1, 3600, T0 - 86400);
	assert_false(port25_blocked(&q, T0 - 86400));
}

/* Damaged or foreign files are ignored, never trusted. */
static void test_damaged(void **state)
{
	static const char *const bodies[] = {
		"garbage\n",
		"mxsend-port25 1\nblocked 99999999999999999999 5\n",
		"mxsend-port25 1\nblocked 10 5\n",
		"mxsend-port25 1\ntimeout -5 x.test\n",
		"",
	};
	char path[128];
	struct port25 p;

	(void)state;
	snprintf(path, sizeof(path), "%s/port25", dir);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(bodies[i], f);
		fclose(f);
		port25_load(&p, dir, 3, 3600, T0);
		assert_false(port25_blocked(&p, T0));
		assert_int_equal(p.nrecent, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reached_clears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
