/*
 * Fuzz target for delivery reports: dsn_allowed on arbitrary input as a
 * message, then dsn_make with the input as the original message and,
 * split at the first NUL-free stretches, as the remote reply, host name,
 * address and status of a recipient.
 *
 * Asserts (abort()) what must hold for every input:
 *   - dsn_allowed never reads past the length and returns 0 or 1;
 *   - a report, when made, parses as a message (CRLF lines only, none over
 *     998 octets: DLV-23, DLV-25), has exactly its eight header fields
 *     whatever the remote text held (SEC-05), and is itself refused by
 *     dsn_allowed (no bounce of a bounce, DLV-22).
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/dsn/) in `make check`.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The i-th of four NUL-terminated pieces of the input, split at octets
 * 0x00 (up to 1024 octets each). */
static void pieces(const uint8_t *data, size_t size, char p[4][1025])
{
	size_t k = 0, o = 0;

	memset(p, 0, 4 * 1025);
	for (size_t i = 0; i < size && k < 4; i++) {
		if (data[i] == 0) {
			k++;
			o = 0;
		} else if (o < 1024) {
			p[k][o++] = (char)data[i];
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t rnd[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	char p[4][1025], err[256], *out = NULL, *copy;
	struct dsn_rcpt rc[2];
	struct dsn_report r;
	struct msg *m = NULL;
	size_t n = 0;
	int a;

	/* a copy of exactly size octets, so that ASan sees any over-read */
	copy = calloc(1, size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	a = dsn_allowed("a@example.org", copy, size);
	if (a != 0 && a != 1)
		abort();
	pieces(data, size, p);
	memset(rc, 0, sizeof(rc));
	rc[0].address = p[0][0] != '\0' ? p[0] : "x@example.net";
	rc[0].action = DSN_FAILED;
	rc[0].diagnostic = p[1];
	rc[0].remote_mta = p[2];
	rc[0].status = p[3];
	rc[0].last_attempt = 1700000000;
	rc[1].address = "y@example.net";
	rc[1].action = DSN_DELAYED;
	rc[1].diagnostic = p[0];
	rc[1].will_retry_until = 1700100000;
	memset(&r, 0, sizeof(r));
	r.reporting_mta = "mx.example.org";
	r.queue_id = p[2];
	r.arrival = 1690000000;
	r.now = 1700000000;
	r.original_sender = "a@example.org";
	r.message = copy;
	r.message_len = size;
	r.rcpts = rc;
	r.nrcpts = 2;
	r.random = rnd;
	if (dsn_make(&r, &out, &n, err, sizeof(err)) != 0) {
		free(copy);
		return 0;
	}
	if (msg_parse(out, n, NULL, &m, err, sizeof(err)) != 0)
		abort();
	if (m->hdrs.n != 8)
		abort();
	if (dsn_allowed("a@example.org", out, n) != 0)
		abort();
	msg_free(m);
	free(out);
	free(copy);
	return 0;
}
