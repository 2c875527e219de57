/*
 * mxsend.h: the public interface of libmxsend.
 *
 * libmxsend looks up where mail for a domain goes (MX routing with c-ares)
 * and, in later versions, delivers it. Everything here is prefixed
 * mxsend_; nothing else is exported from the shared library.
 *
 * Threading: an mxsend_router is used from one thread at a time.
 * Ownership: every object returned by a _new or _route call is freed by
 * the matching _free call.
 */
#ifndef MXSEND_H
#define MXSEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXSEND_VERSION "0.1.0"

/* How routing one domain ended (the JSON "status"). */
enum mxsend_route_status {
	MXSEND_ROUTE_OK = 0,        /* at least one MX host has an address */
	MXSEND_ROUTE_PERMANENT = 1, /* NXDOMAIN, null MX, no usable host */
	MXSEND_ROUTE_TEMPORARY = 2, /* a DNS failure that may pass */
	MXSEND_ROUTE_INVALID = 3,   /* not a domain or address */
};

struct mxsend_router;

/* Options for mxsend_router_new; zero them, then set what you need. */
struct mxsend_router_options {
	const char *dns_servers;   /* "127.0.0.1:5300,[::1]:53"; NULL = resolv.conf */
	unsigned timeout_ms;       /* per query, all tries; 0 = 10000 */
	unsigned max_inflight;     /* DNS queries at once; 0 = 128 */
	int ipv4_only, ipv6_only;  /* address families to look up */
	int seeded;                /* 1: order equal preferences with `seed` */
	unsigned long long seed;
};

/* A router, or NULL with a reason in errbuf (when errbuf is not NULL). */
struct mxsend_router *mxsend_router_new(const struct mxsend_router_options *opts,
                                        char *errbuf, size_t errlen);
void mxsend_router_free(struct mxsend_router *r);

/* Routes n items (domains or addresses) concurrently and returns, for each,
 * a JSON object as a NUL-terminated string in the shape of `mxsend route
 * --json` (DESIGN.md), in *json_out[i], and its status in status_out[i]
 * (status_out may be NULL). Free each string with mxsend_free. Returns 0,
 * or -1 when out of memory. */
int mxsend_route(struct mxsend_router *r, const char *const *items, size_t n,
                 char **json_out, enum mxsend_route_status *status_out);

/* Frees a string returned by the library. */
void mxsend_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
