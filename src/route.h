/*
 * route: where mail for a domain goes. For each domain it asks for the MX
 * set, orders it (mx.c), resolves every exchange's A and AAAA records at
 * once, and classifies the outcome as ok, permanent or temporary, with
 * warnings for what a careful operator should know (CNAME exchanges, IP
 * literals as exchanges, hosts without addresses, mixed null MX).
 *
 * Many domains run concurrently; the DNS window is dns.c's. A result is
 * handed to the callback, which owns it from then on.
 */
#ifndef MXSEND_ROUTE_H
#define MXSEND_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "domain.h"
#include "strlist.h"

struct loop;
struct dns_resolver;

enum route_status {
	ROUTE_OK,        /* at least one host with an address */
	ROUTE_PERMANENT, /* NXDOMAIN, null MX, nothing usable */
	ROUTE_TEMPORARY, /* DNS failure that may pass */
	ROUTE_INVALID,   /* not a valid domain or address */
	ROUTE_STATUS_LAST
};

enum route_family {
	ROUTE_IPV4 = 1 << 0,
	ROUTE_IPV6 = 1 << 1,
};

struct route_addr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order */
	uint32_t ttl;      /* seconds; 0 for literals */
	char text[46];     /* printable form */
};

/* How looking up one family of addresses of a host ended. */
struct route_lookup_outcome {
	int asked;          /* 1 when this family was looked up */
	int status;         /* enum dns_status */
	char reason[64];    /* "NXDOMAIN", "timeout", ... */
};

struct route_host {
	char name[256];                  /* exchange name, or the domain (implicit MX) */
	uint16_t pref;                   /* MX preference (0 for implicit MX) */
	uint32_t ttl;                    /* TTL of the MX record (0 for implicit MX) */
	struct route_addr *addrs;        /* IPv4 first, then IPv6, each in DNS order */
	size_t naddrs;
	char cname[256];                 /* set when the name is an alias */
	int usable;                      /* has at least one address */
	int temporary;                   /* no address, and a lookup failed temporarily */
	struct route_lookup_outcome a;   /* the A lookup */
	struct route_lookup_outcome aaaa;/* the AAAA lookup */
	struct strlist warnings;
};

struct route_result {
	char *input;                  /* the item as given */
	struct domain_target target;  /* the parsed domain */
	enum route_status status;
	char reason[512];             /* one line for a person */
	int implicit_mx;              /* no MX: the domain's own addresses */
	int null_mx;                  /* RFC 7505 null MX */
	struct route_host *hosts;     /* in the order they would be tried */
	size_t nhosts;
	struct strlist warnings;      /* about the domain as a whole */
	unsigned elapsed_ms;          /* from start to result */
	unsigned queries;             /* DNS queries this result took */
};

struct route_opts {
	unsigned families;  /* ROUTE_IPV4 | ROUTE_IPV6; 0 means both */
	uint64_t seed;      /* order among equal preferences */
	int seeded;         /* 1: seed is fixed (reproducible order) */
};

struct route_ctx;

typedef void (*route_done_cb)(void *arg, struct route_result *res);

/* A context bound to a loop and a resolver, both owned by the caller. */
struct route_ctx *route_ctx_new(struct loop *loop, struct dns_resolver *dns,
                                const struct route_opts *opts);
/* Frees ctx; every lookup must have finished (see route_ctx_active). */
void route_ctx_free(struct route_ctx *ctx);
/* Lookups started and not yet reported. */
unsigned route_ctx_active(const struct route_ctx *ctx);

/* Starts routing target. item is the caller's index, mixed into the seed
 * so each item's shuffle is reproducible whatever order answers come in.
 * input is copied. cb is called once, from the loop. Returns 0, or -1 when
 * out of memory. */
int route_lookup(struct route_ctx *ctx, const char *input, const struct domain_target *target,
                 uint64_t item, route_done_cb cb, void *arg);

/* A result for an item that did not parse (status ROUTE_INVALID). */
struct route_result *route_result_invalid(const char *input, const char *reason);

void route_result_free(struct route_result *res);

const char *route_status_name(enum route_status st);

#endif
