/*
 * probe_out: the result of probing one domain, and how it is shown: JSON
 * (route's document plus "sessions" in each mx entry, DESIGN.md; every
 * key in docs/mxsend-json.7) and text for a person, grouped by domain,
 * host and address.
 */
#ifndef MXSEND_PROBE_OUT_H
#define MXSEND_PROBE_OUT_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "probe_session.h"
#include "probe_verdict.h"
#include "route.h"
#include "strlist.h"

/* Reverse DNS of one MX address. */
struct probe_ptr {
	int asked;               /* a PTR query was sent */
	int done;                /* and every lookup it needed has ended */
	int status;              /* enum dns_status of the PTR query */
	char name[256];          /* the first PTR name, "" when none */
	int forward_status;      /* enum dns_status of its A/AAAA lookup */
	int forward_confirmed;   /* that lookup has this address */
};

/* One address of one MX host: its session and what it means. */
struct probe_addr {
	struct probe_result *res;    /* NULL until the session ended */
	unsigned port;               /* 25 */
	struct probe_ptr ptr;
	enum probe_verdict verdict;
	enum probe_reach reach;
	struct strlist reasons;
};

/* One domain: its route and the probes of every MX address. */
struct probe_domain {
	struct route_result *route;    /* owned */
	struct probe_addr **addrs;     /* per host, route->hosts[i].naddrs each */
	struct probe_host_tally *tally;/* per host */
	enum probe_verdict verdict;
	struct strlist reasons;
	int exit_code;                 /* sysexits for this domain */
	unsigned probe_ms;             /* from start to the last result */
	time_t now;                    /* when certificates were judged */
	const char *rcpt;              /* --rcpt, borrowed */
};

/* Frees d and everything it owns; NULL is fine. */
void probe_domain_free(struct probe_domain *d);

/* A new JSON object for the domain (route_out_json plus the probe's
 * keys); the caller owns it. NULL when out of memory. */
json_t *probe_out_json(const struct probe_domain *d);

/* The human form, for a terminal. */
void probe_out_text(FILE *out, const struct probe_domain *d);

#endif
