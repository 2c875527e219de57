/*
 * probe_verdict: what the facts a probe found mean, for a person. Pure
 * (STYLE.md principle 3): facts and the time in, a verdict and reasons
 * out; no sockets, no clock, no globals. Unit-tested in
 * tests/unit/test_probe_verdict.c.
 *
 * A session (one MX address) is "fail" when mail cannot be handed over
 * there at all (no connection, no greeting, a 4xx/5xx greeting, EHLO and
 * HELO refused), "warn" when it can but something would stop a careful
 * sender or an operator should act (no STARTTLS, a certificate that does
 * not verify or expires soon, an old protocol, a refused recipient), and
 * "ok" otherwise. A domain is "fail" when no MX host works, "warn" when
 * some hosts fail or any host warns, "ok" when every host is ok.
 */
#ifndef MXSEND_PROBE_VERDICT_H
#define MXSEND_PROBE_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "probe_session.h"
#include "route.h"
#include "strlist.h"

enum probe_verdict {
	PROBE_OK,
	PROBE_WARN,
	PROBE_FAIL,
	PROBE_VERDICT_LAST
};

/* How far a session got, for the domain's verdict and exit status. */
enum probe_reach {
	PROBE_REACH_WORKS,       /* greeted 220 and took EHLO or HELO */
	PROBE_REACH_REFUSED_5XX, /* answered, and refused service with 5xx */
	PROBE_REACH_REFUSED_4XX, /* answered, and refused service with 4xx */
	PROBE_REACH_NO_CONNECT,  /* the TCP connection failed */
	PROBE_REACH_CONNECT_TIMEOUT, /* ... because nothing answered in time */
	PROBE_REACH_BROKEN,      /* connected, then silence or a close */
	PROBE_REACH_LAST
};

struct probe_verdict_opts {
	time_t now;           /* the time certificates are judged at */
	unsigned expiry_days; /* warn when a certificate expires sooner */
	const char *rcpt;     /* the --rcpt address, or NULL */
};

/* Judges one session to the MX host mx_name (NULL for an address
 * literal). Appends reasons to *reasons (the caller clears it) and sets
 * *reach. Returns the verdict. */
enum probe_verdict probe_verdict_session(const struct probe_result *r, const char *mx_name,
                                         const struct probe_verdict_opts *o,
                                         enum probe_reach *reach, struct strlist *reasons);

/* The sessions of one MX host, as the domain verdict needs them. */
struct probe_host_tally {
	const char *name;                 /* the MX host */
	size_t sessions;                  /* addresses probed */
	size_t reach[PROBE_REACH_LAST];   /* sessions per outcome */
	enum probe_verdict worst;         /* worst session verdict */
	const char *first_reason;         /* of the worst session, or NULL */
};

/* Judges a domain from its route and its hosts' tallies; appends reasons
 * and sets *exit_code (sysexits: 0, EX_DATAERR for an invalid item,
 * EX_UNAVAILABLE when unroutable or every host refuses with 5xx,
 * EX_TEMPFAIL when no host could be reached). */
enum probe_verdict probe_verdict_domain(enum route_status st, const char *route_reason,
                                        const struct probe_host_tally *hosts, size_t nhosts,
                                        struct strlist *reasons, int *exit_code);

/* "ok", "warn", "fail". */
const char *probe_verdict_name(enum probe_verdict v);

/* Whole days from now until t, rounded down (negative once past). */
long probe_days_left(time_t t, time_t now);

/* t as "2026-01-31T12:00:00Z" in out (at least 21 octets). */
void probe_format_time(time_t t, char *out, size_t len);

#endif
