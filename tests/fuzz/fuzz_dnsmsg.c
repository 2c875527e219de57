/*
 * fuzz_dnsmsg: fuzz target for dnsmsg_parse, the parser of DNS answers
 * that come from the network (SEC-08).
 *
 * Any input must give 0 or -1 without reading outside it (the sanitizers
 * watch that), and an answer the parser accepts must keep the promises of
 * dnsmsg.h, checked here, with abort() on a broken one:
 *   - at most DNSMSG_MAX_RR records, and `truncated` only when full;
 *   - every name NUL-terminated inside its array, in presentation form
 *     with no raw space, control or 8-bit octet (they are escaped, so a
 *     hostile name cannot reach a log line as is), and decoding back to a
 *     wire name of labels of 1-63 octets and at most 255 octets in all;
 *   - TTLs at most 2^31-1 (RFC 2181 section 8), flags 0 or 1, rcode 0-15.
 *
 * Seed corpus: tests/fuzz/corpus/dnsmsg/. The named files are the unit
 * test's table, written by
 *     tests/unit/test_dnsmsg --write-corpus tests/fuzz/corpus/dnsmsg
 * (rerun it when the table changes); the found-* files are inputs libFuzzer
 * found that reach loop counts the table does not (picked greedily from a
 * -merge=1 of a fuzzing run, a few only).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks one presentation-form name (see above); aborts if it is wrong. */
static void check_name(const char *name)
{
	size_t len = strnlen(name, DNSMSG_NAME_MAX);
	size_t label = 0, wire = 1; /* the root label's length octet */

	if (len == DNSMSG_NAME_MAX)
		abort(); /* not terminated inside the array */
	if (len == 0)
		return; /* the root */
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label < 1 || label > 63)
				abort();
			wire += label + 1;
			label = 0;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f)
			abort(); /* should have been escaped */
		if (c == '\\') {
			if (digit(name[i + 1])) {
				unsigned v;

				if (!digit(name[i + 2]) || !digit(name[i + 3]))
					abort();
				v = (unsigned)(name[i + 1] - '0') * 100 + (unsigned)(name[i + 2] - '0') * 10 +
				    (unsigned)(name[i + 3] - '0');
				if (v > 255)
					abort();
				i += 3;
			} else if (name[i + 1] == '.' || name[i + 1] == '\\') {
				i += 1;
			} else {
				abort(); /* no other escape is written */
			}
		}
		label++;
	}
	if (wire > 255)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* static: the answer is about 35 KiB, and libFuzzer runs millions
	 * of inputs in one process */
	static struct dnsmsg_answer a;

	if (dnsmsg_parse(data, size, &a) != 0)
		return 0;
	if (a.nrr > DNSMSG_MAX_RR || (a.truncated && a.nrr != DNSMSG_MAX_RR))
		abort();
	if (a.rcode < 0 || a.rcode > 15 || (a.tc != 0 && a.tc != 1) || (a.ad != 0 && a.ad != 1) ||
	    (a.truncated != 0 && a.truncated != 1))
		abort();
	check_name(a.qname);
	for (size_t i = 0; i < a.nrr; i++) {
		const struct dnsmsg_rr *rr = &a.rr[i];

		check_name(rr->owner);
		check_name(rr->target);
		if (rr->ttl > 0x7fffffffu)
			abort();
		if (rr->target[0] != '\0' && rr->type != DNSMSG_T_MX && rr->type != DNSMSG_T_CNAME)
			abort(); /* only MX and CNAME carry a name */
	}
	return 0;
}
