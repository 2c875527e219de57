/*
 * Fuzz target for the spool's file parsers (queue.h): a message file
 * (queue_spool_parse) and its journal (queue_spool_apply_journal), as a
 * runner loads them from msg/ID and msg/ID.j, then the scheduler on the
 * state they gave.
 *
 * Input: the message file up to the first NUL octet, the journal after
 * it (no NUL: a file and no journal). The first octet's low bit also
 * picks with_data (a claim) or not (a list).
 *
 * Asserts (abort()) what must hold for every input:
 *   - a parsed file has a valid id, a sender, at least one recipient, and
 *     (with data) exactly the octets that followed the header;
 *   - the journal's good length is a whole number of lines, at most its
 *     length, and applying only those octets gives the same result;
 *   - every loaded record formats to a journal line that the parser
 *     takes back to the same state (what a runner writes it can read);
 *   - nothing is read past either buffer (each is a copy of exactly its
 *     size), whatever the reason printed for a refusal.
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/queue_spool/) in `make check`.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy of n octets (at least one allocated). */
static char *dup_exact(const uint8_t *p, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	if (c != NULL && n > 0)
		memcpy(c, p, n);
	return c;
}

static void same_rcpt(const struct queue_rcpt *a, const struct queue_rcpt *b)
{
	if (a->state != b->state || a->notified != b->notified ||
	    a->last_attempt != b->last_attempt || a->code != b->code ||
	    strcmp(a->dsn, b->dsn) != 0 || strcmp(a->relay, b->relay) != 0 ||
	    strcmp(a->reply, b->reply) != 0 || strcmp(a->address, b->address) != 0)
		abort();
}

static void same_sched(const struct queue_sched_state *a, const struct queue_sched_state *b)
{
	if (a->arrival != b->arrival || a->last_seen != b->last_seen ||
	    a->next_attempt != b->next_attempt || a->age != b->age ||
	    a->attempts != b->attempts || a->warned != b->warned)
		abort();
}

/* Writes e's state as a journal (one line per recipient and the
 * schedule), applies it to a fresh parse of the same file, and compares. */
static void round_trip(const struct queue_entry *e, const char *file, size_t flen)
{
	size_t cap = (e->nrcpts + 1) * QUEUE_LINE_MAX, jlen = 0, good = 0;
	char *j = malloc(cap), err[256];
	struct queue_entry e2;

	if (j == NULL)
		return;
	for (size_t i = 0; i < e->nrcpts; i++) {
		size_t n = queue_spool_format_rcpt(e, i, j + jlen, cap - jlen);

		if (n == 0)
			abort();
		jlen += n;
	}
	jlen += queue_spool_format_sched(&e->sched, j + jlen, cap - jlen);
	if (queue_spool_parse(file, flen, 0, &e2, err, sizeof(err)) != 0)
		abort();
	if (queue_spool_apply_journal(&e2, j, jlen, &good, err, sizeof(err)) != 0 || good != jlen)
		abort();
	if (e2.nrcpts != e->nrcpts)
		abort();
	for (size_t i = 0; i < e->nrcpts; i++)
		same_rcpt(&e->rcpts[i], &e2.rcpts[i]);
	same_sched(&e->sched, &e2.sched);
	queue_entry_clear(NULL, &e2);
	free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = size > 0 ? memchr(data, 0, size) : NULL;
	size_t flen = nul != NULL ? (size_t)(nul - data) : size;
	size_t jlen = nul != NULL ? size - flen - 1 : 0, good = 0, good2 = 0;
	char *file = dup_exact(data, flen), *journal = NULL, err[256];
	int with_data = size > 0 && (data[0] & 1), rc;
	struct queue_entry e;
	struct queue_sched_conf sc;

	if (file == NULL)
		return 0;
	rc = queue_spool_parse(file, flen, with_data, &e, err, sizeof(err));
	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0) {
		if (strlen(err) == 0)
			abort();
		goto done;
	}
	if (!queue_id_valid(e.id) || e.sender == NULL || e.nrcpts == 0 || e.size > flen)
		abort();
	if (with_data && (e.data == NULL || memcmp(e.data, file + flen - e.size, e.size) != 0 ||
	                  e.data[e.size] != '\0'))
		abort();
	if (!with_data && e.data != NULL)
		abort();
	journal = dup_exact(nul != NULL ? nul + 1 : data, jlen);
	if (journal == NULL)
		goto done;
	rc = queue_spool_apply_journal(&e, journal, jlen, &good, err, sizeof(err));
	if (rc != 0 && rc != -1)
		abort();
	if (good > jlen || (good > 0 && journal[good - 1] != '\n'))
		abort();
	if (rc == 0) {
		struct queue_entry e2;

		/* the torn tail cut off, the same state */
		if (queue_spool_parse(file, flen, 0, &e2, err, sizeof(err)) != 0)
			abort();
		if (queue_spool_apply_journal(&e2, journal, good, &good2, err, sizeof(err)) != 0 ||
		    good2 != good)
			abort();
		for (size_t i = 0; i < e.nrcpts; i++)
			same_rcpt(&e.rcpts[i], &e2.rcpts[i]);
		same_sched(&e.sched, &e2.sched);
		queue_entry_clear(NULL, &e2);
		round_trip(&e, file, flen);
	}
	/* what the runner does next with a loaded state */
	queue_sched_defaults(&sc);
	sc.warn_after = 14400;
	(void)queue_sched_due(&sc, &e.sched, 1700000000);
	(void)queue_sched_warn_due(&sc, &e.sched);
	(void)queue_sched_expires_at(&sc, &e.sched, 1700000000);
	(void)queue_sched_after_attempt(&sc, &e.sched, 1700000000, 12345);
done:
	queue_entry_clear(NULL, &e);
	free(journal);
	free(file);
	return 0;
}
