/*
 * Unit tests of the spool's file formats and of the spool operations on a
 * temporary directory (queue_spool.c): the message file parser with its
 * limits, the checksummed journal (torn tail cut, damage refused), the
 * durable enqueue, claim, lock and finish. Covers SEC-10 (hard limits on a
 * hostile spool file), DLV-20 (the schedule state survives in the
 * journal), DLV-22 (a bounce is stored with the null reverse path).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "queue.h"

static const char GOOD[] =
	"mxsend-queue 1\nid ABC123\narrival 1000\nsender a@b.test\n"
	"rcpt x@c.test\nrcpt y@c.test\ndata 5\nhello";

static void test_parse_good(void **state)
{
	struct queue_entry e;
	char err[256];

	(void)state;
	assert_int_equal(queue_spool_parse(GOOD, strlen(GOOD), 1, &e, err, sizeof(err)), 0);
	assert_string_equal(e.id, "ABC123");
	assert_int_equal(e.arrival, 1000);
	assert_string_equal(e.sender, "a@b.test");
	assert_int_equal(e.nrcpts, 2);
	assert_string_equal(e.rcpts[1].address, "y@c.test");
	assert_int_equal(e.rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(e.size, 5);
	assert_memory_equal(e.data, "hello", 5);
	assert_int_equal(e.sched.next_attempt, 1000); /* due at once */
	queue_entry_clear(NULL, &e);
}

/* SEC-10: every way a file can lie is refused whole, never half-used. */
static void test_parse_hostile(void **state)
{
	static const char *bad[] = {
		"",                                                    /* empty */
		"mxsend-queue 2\nid A\n",                              /* wrong magic */
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c\ndata 6\nhello", /* short */
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c\ndata 4\nhello", /* long */
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\ndata 0\n",  /* no rcpt */
		"mxsend-queue 1\nid a/b\narrival 1\nsender a@b\nrcpt x@c\ndata 0\n", /* bad id */
		"mxsend-queue 1\nid A\narrival -5\nsender a@b\nrcpt x@c\ndata 0\n",  /* bad time */
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x\r@c\ndata 0\n", /* CR */
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c\nR 5 sent 0 1 250 - - ok\ndata 0\n",
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c\ndata 99999999999999\n",
		"mxsend-queue 1\nid A\nid B\narrival 1\nsender a@b\nrcpt x@c\ndata 0\n",
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c\nwhat 1\ndata 0\n",
		"mxsend-queue 1\nid A\narrival 1\nsender a@b\nrcpt x@c",  /* no data line */
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct queue_entry e;

		if (queue_spool_parse(bad[i], strlen(bad[i]), 1, &e, err, sizeof(err)) == 0)
			fail_msg("case %zu parsed", i);
		assert_true(err[0] != '\0');
		queue_entry_clear(NULL, &e);
	}
	{
		/* A line longer than QUEUE_LINE_MAX. */
		size_t n = QUEUE_LINE_MAX + 100;
		char *s = malloc(n + 64);
		struct queue_entry e;

		assert_non_null(s);
		strcpy(s, "mxsend-queue 1\nid A\narrival 1\nsender ");
		memset(s + strlen(s), 'a', n);
		s[strlen("mxsend-queue 1\nid A\narrival 1\nsender ") + n] = '\0';
		strcat(s, "\nrcpt x@c\ndata 0\n");
		assert_int_equal(queue_spool_parse(s, strlen(s), 1, &e, err, sizeof(err)), -1);
		queue_entry_clear(NULL, &e);
		free(s);
	}
}

static void test_journal_roundtrip(void **state)
{
	struct queue_entry e, f;
	char err[256], line[QUEUE_LINE_MAX + 1], j[4 * QUEUE_LINE_MAX];
	size_t n = 0, good;

	(void)state;
	assert_int_equal(queue_spool_parse(GOOD, strlen(GOOD), 0, &e, err, sizeof(err)), 0);
	e.rcpts[0].state = QUEUE_RCPT_SENT;
	e.rcpts[0].code = 250;
	snprintf(e.rcpts[0].dsn, sizeof(e.rcpts[0].dsn), "2.0.0");
	snprintf(e.rcpts[0].relay, sizeof(e.rcpts[0].relay), "mx.c.test[127.0.0.2]:25");
	/* A reply with a newline must not forge a second record. */
	snprintf(e.rcpts[0].reply, sizeof(e.rcpts[0].reply), "250 ok\n1234 R 1 sent");
	n += queue_spool_format_rcpt(&e, 0, j + n, sizeof(j) - n);
	e.sched.attempts = 3;
	e.sched.age = 777;
	e.sched.next_attempt = 5000;
	n += queue_spool_format_sched(&e.sched, j + n, sizeof(j) - n);
	assert_true(n > 0);

	assert_int_equal(queue_spool_parse(GOOD, strlen(GOOD), 0, &f, err, sizeof(err)), 0);
	assert_int_equal(queue_spool_apply_journal(&f, j, n, &good, err, sizeof(err)), 0);
	assert_int_equal(good, n);
	assert_int_equal(f.rcpts[0].state, QUEUE_RCPT_SENT);
	assert_int_equal(f.rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_string_equal(f.rcpts[0].relay, "mx.c.test[127.0.0.2]:25");
	assert_string_equal(f.rcpts[0].reply, "250 ok?1234 R 1 sent");
	assert_int_equal(f.sched.attempts, 3);
	assert_int_equal(f.sched.age, 777);
	assert_int_equal(f.sched.next_attempt, 5000);
	queue_entry_clear(NULL, &f);

	/* A torn last record (crash in the middle of the append) is ignored
	 * and reported as the tail to cut. */
	memcpy(line, j, n);
	assert_int_equal(queue_spool_parse(GOOD, strlen(GOOD), 0, &f, err, sizeof(err)), 0);
	assert_int_equal(queue_spool_apply_journal(&f, j, n - 5, &good, err, sizeof(err)), 0);
	assert_true(good < n - 5);
	assert_int_equal(f.rcpts[0].state, QUEUE_RCPT_SENT); /* the first record held */
	assert_int_equal(f.sched.attempts, 0);
	queue_entry_clear(NULL, &f);

	/* A damaged record before the last is corruption. */
	j[12] ^= 1;
	assert_int_equal(queue_spool_parse(GOOD, strlen(GOOD), 0, &f, err, sizeof(err)), 0);
	assert_int_equal(queue_spool_apply_journal(&f, j, n, &good, err, sizeof(err)), -1);
	queue_entry_clear(NULL, &f);
	(void)line;
	queue_entry_clear(NULL, &e);
}

static void test_crc32(void **state)
{
	(void)state;
	/* The check value of CRC-32/ISO-HDLC. */
	assert_int_equal(queue_crc32("123456789", 9), 0xcbf43926u);
}

static char tmpdir[] = "/tmp/test_queue.XXXXXX";

static void test_spool_ops(void **state)
{
	struct queue *q;
	struct queue_new qn;
	struct queue_entry *v = NULL, *w = NULL;
	struct queue_sched_conf sc;
	const char *rc[2] = { "x@c.test", "y@c.test" };
	char err[512], id[QUEUE_ID_MAX] = "", path[600];
	enum queue_fail fail;
	size_t n = 0, m = 0;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/spool", tmpdir);
	q = queue_spool_open(path, err, sizeof(err));
	assert_non_null(q);
	memset(&qn, 0, sizeof(qn));
	qn.sender = "";
	qn.rcpts = rc;
	qn.nrcpts = 2;
	qn.data = "Subject: x\r\n\r\nbody\r\n";
	qn.data_len = strlen(qn.data);
	qn.arrival = 1000;
	assert_int_equal(q->ops->enqueue(q, &qn, id, &fail, err, sizeof(err)), 0);
	assert_true(queue_id_valid(id));

	queue_sched_defaults(&sc);
	assert_int_equal(q->ops->claim(q, &sc, 1000, 0, 0, NULL, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].sender, ""); /* DLV-22: <> stored as such */
	assert_true(v[0].locked);
	/* Locked: a second claim (another runner) does not get it. */
	assert_int_equal(q->ops->claim(q, &sc, 1000, 1, 0, NULL, &w, &m, err, sizeof(err)), 0);
	assert_int_equal(m, 0);
	queue_entries_free(q, w, m);
	assert_int_equal(q->ops->remove(q, id, &fail, err, sizeof(err)), -1);
	assert_int_equal(fail, QUEUE_FAIL_BUSY);

	v[0].rcpts[0].state = QUEUE_RCPT_SENT;
	assert_int_equal(q->ops->record_rcpt(q, &v[0], 0, err, sizeof(err)), 0);
	v[0].sched.next_attempt = 2300; /* within max_delay: a real wait */
	assert_int_equal(q->ops->record_sched(q, &v[0], err, sizeof(err)), 0);
	assert_int_equal(q->ops->sync(q, &v[0], err, sizeof(err)), 0);
	queue_entries_free(q, v, n);

	/* Not due before next_attempt; the state came back from the journal. */
	assert_int_equal(q->ops->claim(q, &sc, 2000, 0, 0, NULL, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	queue_entries_free(q, v, n);
	assert_int_equal(q->ops->claim(q, &sc, 2000, 1, 0, NULL, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].rcpts[0].state, QUEUE_RCPT_SENT);
	assert_int_equal(v[0].rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_int_equal(q->ops->finish(q, &v[0], err, sizeof(err)), 0);
	queue_entries_free(q, v, n);

	/* The runner's batched path: two messages, one journal synced and
	 * one removed lazily (released at once: another claim may take the
	 * lock, but finds nothing), then one sync_batch for both. */
	id[0] = '\0';
	assert_int_equal(q->ops->enqueue(q, &qn, id, &fail, err, sizeof(err)), 0);
	id[0] = '\0';
	assert_int_equal(q->ops->enqueue(q, &qn, id, &fail, err, sizeof(err)), 0);
	assert_int_equal(q->ops->claim(q, &sc, 2000, 1, 0, NULL, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	{
		struct queue_entry *batch[1] = { &v[1] };
		char keep[QUEUE_ID_MAX];

		snprintf(keep, sizeof(keep), "%s", v[1].id);
		v[0].rcpts[0].state = v[0].rcpts[1].state = QUEUE_RCPT_SENT;
		assert_int_equal(q->ops->record_rcpt(q, &v[0], 0, err, sizeof(err)), 0);
		assert_int_equal(q->ops->finish_lazy(q, &v[0], err, sizeof(err)), 0);
		assert_false(v[0].locked);
		v[1].rcpts[1].state = QUEUE_RCPT_SENT;
		assert_int_equal(q->ops->record_rcpt(q, &v[1], 1, err, sizeof(err)), 0);
		assert_int_equal(q->ops->sync_batch(q, batch, 1, err, sizeof(err)), 0);
		queue_entries_free(q, v, n);
		assert_int_equal(q->ops->claim(q, &sc, 2000, 1, 0, NULL, &v, &n, err, sizeof(err)),
		                 0);
		assert_int_equal(n, 1);
		assert_string_equal(v[0].id, keep);
		assert_int_equal(v[0].rcpts[0].state, QUEUE_RCPT_PENDING);
		assert_int_equal(v[0].rcpts[1].state, QUEUE_RCPT_SENT);
		assert_int_equal(q->ops->finish(q, &v[0], err, sizeof(err)), 0);
		queue_entries_free(q, v, n);
	}
	snprintf(path, sizeof(path), "%s/spool/msg", tmpdir);
	{
		DIR *d = opendir(path);
		struct dirent *de;
		int files = 0;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			files += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(files, 0); /* no journal left behind either */
	}

	/* A hostile file is quarantined by a claim. */
	snprintf(path, sizeof(path), "%s/spool/msg/EVIL", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "mxsend-queue 1\nid EVIL\n", 23), 23);
	close(fd);
	assert_int_equal(q->ops->claim(q, &sc, 2000, 1, 0, NULL, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	queue_entries_free(q, v, n);
	snprintf(path, sizeof(path), "%s/spool/quarantine/EVIL", tmpdir);
	assert_int_equal(access(path, F_OK), 0);
	q->ops->close(q);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_journal_roundtrip),
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_spool_ops),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
