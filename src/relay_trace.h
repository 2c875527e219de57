/*
 * relay_trace: relay.c's protocol-trace follower opened up for the fuzzer
 * (tests/fuzz/fuzz_relay_trace.c) and tests. relay.c pairs each RCPT with
 * its reply by following libcurl's debug callback (its header comment
 * says why and how); that callback sees the server's reply lines, so it
 * is a parser of outside data. Here a recorded trace is fed through the
 * same callback and the same end-of-transfer classification, with no
 * libcurl transfer, no loop and no done callback.
 *
 * Not part of the C API; only relay.c implements it.
 */
#ifndef MXSEND_RELAY_TRACE_H
#define MXSEND_RELAY_TRACE_H

#include <stddef.h>

#include "relay.h"

/* One call of libcurl's debug callback. */
struct relay_trace_event {
	char dir;          /* '>' a command sent (CURLINFO_HEADER_OUT), '<' a reply
	                      line read (CURLINFO_HEADER_IN), else a note (CURLINFO_TEXT) */
	const char *data;  /* as libcurl passes it: not NUL-terminated, line end
	                      included */
	size_t len;        /* octets of data */
};

/* Replays ev[0..n) as the trace of one transfer to the relay o->conf
 * (o->trace, when set, gets the transcript lines as it would), then
 * classifies as relay.c does when the transfer ends with the CURLcode
 * res: every recipient of job gets its status, code, dsn and reply; or,
 * when job is NULL, check gets its outcome (its done is not called).
 * *out (may be NULL) gets the outcome. Returns 0, or -1 when out of
 * memory. */
int relay_trace_replay(const struct relay_opts *o, struct relay_job *job,
                       struct relay_check *check, const struct relay_trace_event *ev,
                       size_t n, int res, struct relay_outcome *out);

#endif
