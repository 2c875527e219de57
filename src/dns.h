/*
 * dns: the c-ares adapter. Sends queries through one c-ares channel driven
 * by the event loop and hands back parsed answers with a small status.
 *
 * It keeps at most `max_inflight` queries outstanding and queues the rest
 * in order: past a window datagrams are dropped and each costs a whole
 * c-ares timeout. Measured (docs/benchmarks.md): a server with the kernel's
 * default 208 KiB receive buffer holds 256 small queries, so it drops
 * queries as soon as it falls that far behind; our own 1 MiB buffer
 * (2 MiB as the kernel counts it) dropped replies at 2048 outstanding, and
 * by the same arithmetic would at about 380 where net.core.rmem_max caps
 * the request at the common 208 KiB.
 * It classifies, it does not decide: what NXDOMAIN means for a recipient
 * is route's business (STYLE.md "Not to imitate": policy in the resolver).
 */
#ifndef MXSEND_DNS_H
#define MXSEND_DNS_H

#include <stddef.h>

#include "dnsmsg.h"

struct loop;
struct dns_resolver;

/* How a query ended. */
enum dns_status {
	DNS_OK,        /* NOERROR with records of the asked type */
	DNS_NODATA,    /* NOERROR, the name exists, no records of the type */
	DNS_NXDOMAIN,  /* the name does not exist */
	DNS_RETRY,     /* SERVFAIL, REFUSED, timeout, unreachable server */
	DNS_INVALID,   /* a malformed answer or a name c-ares refused */
	DNS_STATUS_LAST
};

struct dns_config {
	const char *servers; /* "ip[:port],..." ("[v6]:port" too); NULL = resolv.conf */
	unsigned timeout_ms; /* total time for one query, all tries included */
	unsigned tries;      /* attempts per server */
	unsigned max_inflight; /* queries outstanding at once */
};

/* One finished query. answer is NULL unless a response was parsed; it and
 * reason live until the callback returns. reason is a short text such as
 * "SERVFAIL" or "timeout" for a person to read. elapsed_ms is the time
 * from sending the query (not from queueing it) to the answer. */
struct dns_result {
	enum dns_status status;
	const char *reason;
	const struct dnsmsg_answer *answer;
	const char *name;
	int type;
	unsigned elapsed_ms;
};

typedef void (*dns_cb)(void *arg, const struct dns_result *res);

/* Creates a resolver on loop. On failure returns NULL and, when errbuf is
 * not NULL, a reason in errbuf. */
struct dns_resolver *dns_resolver_new(struct loop *loop, const struct dns_config *cfg,
                                      char *errbuf, size_t errlen);
/* Cancels every query without calling its callback, then frees. */
void dns_resolver_free(struct dns_resolver *res);

/* Queues a query for name (an FQDN; search domains are never applied,
 * RFC 5321 section 5.1) and record type. cb is called exactly once, from
 * the loop, never from inside dns_query. Returns 0, or -1 when out of
 * memory or the name is longer than a DNS name can be. */
int dns_query(struct dns_resolver *res, const char *name, int type, dns_cb cb, void *arg);

/* Counters for benchmarks and -v. */
struct dns_stats {
	unsigned long sent;      /* queries handed to c-ares */
	unsigned long answered;  /* callbacks with a parsed answer */
	unsigned long failed;    /* callbacks without one */
	unsigned max_inflight;   /* highest number outstanding at once */
};
void dns_resolver_stats(const struct dns_resolver *res, struct dns_stats *out);

/* Calls fn after every finished query (for -v); fn NULL turns it off. */
typedef void (*dns_trace_fn)(void *arg, const struct dns_result *res);
void dns_resolver_set_trace(struct dns_resolver *res, dns_trace_fn fn, void *arg);

const char *dns_status_name(enum dns_status st);

#endif
