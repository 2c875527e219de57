/*
 * api_route: the public routing calls of include/mxsend.h, on top of the
 * same loop, resolver and route modules the CLI uses.
 */
#include "config.h"

#include <mxsend.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "domain.h"
#include "loop.h"
#include "route.h"
#include "route_out.h"

struct mxsend_router {
	struct loop *loop;
	struct dns_resolver *dns;
	struct route_ctx *ctx;
};

struct api_slot {
	char **json_out;                    /* where this item's JSON goes */
	enum mxsend_route_status *status;   /* may be NULL */
	int failed;                         /* out of memory */
};

void mxsend_free(void *p)
{
	free(p);
}

struct mxsend_router *mxsend_router_new(const struct mxsend_router_options *opts,
                                        char *errbuf, size_t errlen)
{
	struct mxsend_router *r = calloc(1, sizeof(*r));
	struct dns_config dcfg = { 0 };
	struct route_opts ropts = { 0 };
	char scratch[256];

	if (errbuf == NULL || errlen == 0) {
		errbuf = scratch;
		errlen = sizeof(scratch);
	}
	if (r == NULL || (r->loop = loop_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	dcfg.servers = opts->dns_servers;
	dcfg.timeout_ms = opts->timeout_ms;
	dcfg.tries = 2;
	dcfg.max_inflight = opts->max_inflight;
	r->dns = dns_resolver_new(r->loop, &dcfg, errbuf, errlen);
	if (r->dns == NULL)
		goto fail;
	ropts.families = (opts->ipv4_only ? ROUTE_IPV4 : 0) | (opts->ipv6_only ? ROUTE_IPV6 : 0);
	ropts.seeded = opts->seeded;
	ropts.seed = opts->seed;
	r->ctx = route_ctx_new(r->loop, r->dns, &ropts);
	if (r->ctx == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	return r;
fail:
	mxsend_router_free(r);
	return NULL;
}

void mxsend_router_free(struct mxsend_router *r)
{
	if (r == NULL)
		return;
	route_ctx_free(r->ctx);
	dns_resolver_free(r->dns);
	loop_free(r->loop);
	free(r);
}

static void store(struct api_slot *slot, struct route_result *res)
{
	json_t *obj = route_out_json(res);

	*slot->json_out = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (*slot->json_out == NULL)
		slot->failed = 1;
	if (slot->status != NULL)
		*slot->status = (enum mxsend_route_status)res->status;
	json_decref(obj);
	route_result_free(res);
}

static void on_done(void *arg, struct route_result *res)
{
	store(arg, res);
}

int mxsend_route(struct mxsend_router *r, const char *const *items, size_t n,
                 char **json_out, enum mxsend_route_status *status_out)
{
	struct api_slot *slots = calloc(n ? n : 1, sizeof(*slots));
	int rc = 0;

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct domain_target t;
		char err[256];

		json_out[i] = NULL;
		slots[i].json_out = &json_out[i];
		slots[i].status = status_out ? &status_out[i] : NULL;
		if (domain_parse(items[i], &t, err, sizeof(err)) < 0) {
			struct route_result *res = route_result_invalid(items[i], err);

			if (res == NULL)
				slots[i].failed = 1;
			else
				store(&slots[i], res);
		} else if (route_lookup(r->ctx, items[i], &t, i, on_done, &slots[i]) < 0) {
			slots[i].failed = 1;
		}
	}
	loop_run(r->loop);
	for (size_t i = 0; i < n; i++)
		if (slots[i].failed)
			rc = -1;
	free(slots);
	return rc;
}
