/*
 * route: MX routing per domain. See route.h.
 *
 * A job walks three states: MX lookup, address lookups (every host, both
 * families, all at once), done. Classification follows RFC 5321 5.1 and
 * STANDARDS.md section 10: NXDOMAIN and null MX are permanent, DNS
 * failures temporary, NODATA for MX means the domain itself is the only
 * host (implicit MX). A domain is ok as soon as one host has an address;
 * when none has, any temporary failure makes the whole temporary
 * (DLV-07), because a later attempt may find it.
 *
 * Owns: each job and its result until the result is handed over.
 */
#include "config.h"

#include "route.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "loop.h"
#include "mx.h"
#include "rng.h"

struct route_ctx {
	struct loop *loop;          /* not owned */
	struct dns_resolver *dns;   /* not owned */
	unsigned families;          /* ROUTE_IPV4 | ROUTE_IPV6 */
	uint64_t seed;              /* base seed */
	unsigned active;            /* jobs not yet reported */
};

struct route_job;

/* The argument of one address query. */
struct addr_query {
	struct route_job *job;  /* the job it belongs to */
	size_t host;            /* index into the result's hosts */
	int type;               /* DNSMSG_T_A or DNSMSG_T_AAAA; 0 once answered */
	unsigned hops;          /* CNAMEs followed so far */
	char name[DNSMSG_NAME_MAX]; /* the name asked now (differs after a CNAME) */
};

/* CNAME chains longer than this are a loop or an attack (RFC 1034 3.6.2
 * asks resolvers to guard against loops; 8 is what stub resolvers use). */
#define ROUTE_MAX_CNAME_HOPS 8

struct route_job {
	struct route_ctx *ctx;
	struct route_result *res;    /* handed to cb at the end */
	route_done_cb cb;
	void *arg;
	struct rng rng;              /* this item's shuffle */
	uint64_t started_ms;
	unsigned pending;            /* address queries outstanding */
	struct addr_query *queries;  /* two per host */
	struct route_addr **v6;      /* per host, merged after the A records */
	size_t *nv6;
	struct loop_timer defer;     /* reports literal results from the loop */
	char mx_name[DNSMSG_NAME_MAX]; /* name of the MX query (after CNAMEs) */
	unsigned mx_hops;            /* CNAMEs followed for the MX query */
};

const char *route_status_name(enum route_status st)
{
	static const char *const names[ROUTE_STATUS_LAST] = {
		[ROUTE_OK] = "ok",
		[ROUTE_PERMANENT] = "permanent",
		[ROUTE_TEMPORARY] = "temporary",
		[ROUTE_INVALID] = "invalid",
	};

	return (unsigned)st < ROUTE_STATUS_LAST ? names[st] : "unknown";
}

struct route_ctx *route_ctx_new(struct loop *loop, struct dns_resolver *dns,
                                const struct route_opts *opts)
{
	struct route_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->loop = loop;
	ctx->dns = dns;
	ctx->families = opts->families ? opts->families : (ROUTE_IPV4 | ROUTE_IPV6);
	ctx->seed = opts->seeded ? opts->seed : rng_seed_from_system();
	return ctx;
}

void route_ctx_free(struct route_ctx *ctx)
{
	free(ctx);
}

unsigned route_ctx_active(const struct route_ctx *ctx)
{
	return ctx->active;
}

void route_result_free(struct route_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nhosts; i++) {
		free(res->hosts[i].addrs);
		strlist_clear(&res->hosts[i].warnings);
	}
	free(res->hosts);
	strlist_clear(&res->warnings);
	free(res->input);
	free(res);
}

static struct route_result *result_new(const char *input)
{
	struct route_result *res = calloc(1, sizeof(*res));

	if (res == NULL)
		return NULL;
	res->input = strdup(input);
	if (res->input == NULL) {
		free(res);
		return NULL;
	}
	return res;
}

struct route_result *route_result_invalid(const char *input, const char *reason)
{
	struct route_result *res = result_new(input);

	if (res == NULL)
		return NULL;
	res->status = ROUTE_INVALID;
	snprintf(res->reason, sizeof(res->reason), "%s", reason);
	snprintf(res->target.unicode, sizeof(res->target.unicode), "%s", input);
	return res;
}

static void job_free(struct route_job *job)
{
	if (job->v6 != NULL)
		for (size_t i = 0; i < job->res->nhosts; i++)
			free(job->v6[i]);
	free(job->v6);
	free(job->nv6);
	free(job->queries);
	free(job);
}

static void job_finish(struct route_job *job)
{
	struct route_ctx *ctx = job->ctx;
	struct route_result *res = job->res;
	route_done_cb cb = job->cb;
	void *arg = job->arg;

	res->elapsed_ms = (unsigned)(loop_now_ms(ctx->loop) - job->started_ms);
	job_free(job); /* reads res->nhosts, so res is still the job's here */
	ctx->active--;
	cb(arg, res);
}

static void set_status(struct route_result *res, enum route_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_status(struct route_result *res, enum route_status st, const char *fmt, ...)
{
	va_list ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* ---- the end: classify the domain from its hosts ---- */

static void describe_host_failure(const struct route_host *h, char *buf, size_t len)
{
	if (h->a.asked && h->aaaa.asked)
		snprintf(buf, len, "A: %s, AAAA: %s", h->a.reason, h->aaaa.reason);
	else if (h->a.asked)
		snprintf(buf, len, "A: %s", h->a.reason);
	else if (h->aaaa.asked)
		snprintf(buf, len, "AAAA: %s", h->aaaa.reason);
	else
		snprintf(buf, len, "not looked up");
}

static void classify(struct route_job *job)
{
	struct route_result *res = job->res;
	size_t usable = 0, temporary = 0, addrs = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		struct route_host *h = &res->hosts[i];

		if (h->usable)
			usable++;
		else if (h->temporary)
			temporary++;
		addrs += h->naddrs;
	}
	if (usable > 0) {
		if (res->implicit_mx)
			set_status(res, ROUTE_OK, "no MX records: mail goes to the domain's own "
			           "address%s (implicit MX, RFC 5321 5.1)", addrs == 1 ? "" : "es");
		else
			set_status(res, ROUTE_OK, "%zu of %zu MX host%s usable, %zu address%s",
			           usable, res->nhosts, res->nhosts == 1 ? "" : "s", addrs,
			           addrs == 1 ? "" : "es");
		return;
	}
	if (res->implicit_mx) {
		char why[160];

		describe_host_failure(&res->hosts[0], why, sizeof(why));
		if (temporary)
			set_status(res, ROUTE_TEMPORARY, "no MX records, and the domain's own "
			           "address lookup failed temporarily (%s)", why);
		else
			set_status(res, ROUTE_PERMANENT, "no MX records and no A/AAAA records for "
			           "the domain itself (%s): it cannot receive mail", why);
		return;
	}
	if (temporary)
		set_status(res, ROUTE_TEMPORARY, "no MX host has an address yet: %zu of %zu "
		           "host%s failed temporarily", temporary, res->nhosts,
		           res->nhosts == 1 ? "" : "s");
	else
		set_status(res, ROUTE_PERMANENT, "none of the %zu MX host%s has an address",
		           res->nhosts, res->nhosts == 1 ? "" : "s");
}

/* ---- CNAME chains ---- */

/* Follows the CNAME records of answer a from name; returns the last name
 * of the chain (pointing into a), or NULL when name has no CNAME there. */
static const char *cname_end(const struct dnsmsg_answer *a, const char *name)
{
	const char *cur = name;

	for (int hop = 0; hop < ROUTE_MAX_CNAME_HOPS; hop++) {
		const char *next = NULL;

		for (size_t i = 0; i < a->nrr; i++) {
			if (a->rr[i].type == DNSMSG_T_CNAME && a->rr[i].rrclass == 1 &&
			    dnsmsg_name_equal(a->rr[i].owner, cur)) {
				next = a->rr[i].target;
				break;
			}
		}
		if (next == NULL)
			break;
		cur = next;
	}
	return cur == name ? NULL : cur;
}

/* ---- address lookups ---- */

static void note_outcome(struct route_lookup_outcome *o, const struct dns_result *r)
{
	o->status = (int)r->status;
	snprintf(o->reason, sizeof(o->reason), "%s", r->status == DNS_NODATA ? "no records" : r->reason);
}

static int add_addr(struct route_addr **v, size_t *n, int family, const uint8_t *bytes,
                    uint32_t ttl)
{
	struct route_addr *a, *nv;
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].family == family && memcmp((*v)[i].bytes, bytes, alen) == 0)
			return 0; /* listed twice */
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	*v = nv;
	a = &nv[(*n)++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->bytes, bytes, alen);
	a->ttl = ttl;
	inet_ntop(family, bytes, a->text, sizeof(a->text));
	return 0;
}

static void host_done(struct route_job *job, size_t idx)
{
	struct route_host *h = &job->res->hosts[idx];
	struct route_addr *nv;
	char why[160];

	/* Merge: IPv4 first, then IPv6, each in DNS order. */
	if (job->nv6[idx] > 0) {
		nv = realloc(h->addrs, (h->naddrs + job->nv6[idx]) * sizeof(*nv));
		if (nv != NULL) {
			memcpy(nv + h->naddrs, job->v6[idx], job->nv6[idx] * sizeof(*nv));
			h->addrs = nv;
			h->naddrs += job->nv6[idx];
		}
	}
	h->usable = h->naddrs > 0;
	if (h->usable || (!h->a.asked && !h->aaaa.asked))
		return; /* an unlookable name already carries its warning */
	h->temporary = (h->a.asked && h->a.status == DNS_RETRY) ||
	               (h->aaaa.asked && h->aaaa.status == DNS_RETRY);
	describe_host_failure(h, why, sizeof(why));
	if (h->temporary)
		strlist_addf(&h->warnings, "address lookup failed temporarily (%s)", why);
	else
		strlist_addf(&h->warnings, "host has no addresses (%s): it is skipped", why);
}

/* Records one address answer (or failure) of a host; returns 1 when it
 * was the host's last outstanding query. */
static int record_addr_answer(struct addr_query *q, const struct dns_result *r)
{
	struct route_job *job = q->job;
	struct route_host *h = &job->res->hosts[q->host];
	int v4 = q->type == DNSMSG_T_A;

	note_outcome(v4 ? &h->a : &h->aaaa, r);
	if (r->answer != NULL) {
		const struct dnsmsg_answer *a = r->answer;

		for (size_t i = 0; i < a->nrr; i++) {
			const struct dnsmsg_rr *rr = &a->rr[i];

			if (rr->rrclass != 1)
				continue;
			if (rr->type == DNSMSG_T_CNAME && h->cname[0] == '\0' &&
			    dnsmsg_name_equal(rr->owner, h->name)) {
				const char *end = cname_end(a, h->name);

				snprintf(h->cname, sizeof(h->cname), "%s", end ? end : rr->target);
				if (!job->res->implicit_mx)
					strlist_addf(&h->warnings, "%s is an alias (CNAME) for %s: an MX "
					             "exchange must not be an alias (RFC 2181 10.3); "
					             "used anyway", h->name, h->cname);
			} else if (rr->type == q->type) {
				if (v4)
					add_addr(&h->addrs, &h->naddrs, AF_INET, rr->addr, rr->ttl);
				else
					add_addr(&job->v6[q->host], &job->nv6[q->host], AF_INET6,
					         rr->addr, rr->ttl);
			}
		}
		if (a->truncated)
			strlist_addf(&h->warnings, "more than %d %s records: the rest are ignored",
			             DNSMSG_MAX_RR, v4 ? "A" : "AAAA");
	}
	q->type = 0; /* answered */
	job->pending--;
	return job->queries[q->host * 2].type == 0 && job->queries[q->host * 2 + 1].type == 0;
}

static void on_addr_answer(void *arg, const struct dns_result *r)
{
	struct addr_query *q = arg;
	struct route_job *job = q->job;

	job->res->queries++;
	/* A server that answers an alias with the CNAME alone (unbound's
	 * local data does; so do some authoritative-only servers) leaves the
	 * chain to us: ask again for its end. */
	if (r->status == DNS_NODATA && r->answer != NULL && q->hops < ROUTE_MAX_CNAME_HOPS) {
		const char *end = cname_end(r->answer, q->name);

		if (end != NULL) {
			struct route_host *h = &job->res->hosts[q->host];

			if (h->cname[0] == '\0' && !job->res->implicit_mx) {
				snprintf(h->cname, sizeof(h->cname), "%s", end);
				strlist_addf(&h->warnings, "%s is an alias (CNAME) for %s: an MX "
				             "exchange must not be an alias (RFC 2181 10.3); used "
				             "anyway", h->name, end);
			} else if (h->cname[0] == '\0') {
				snprintf(h->cname, sizeof(h->cname), "%s", end);
			}
			q->hops++;
			snprintf(q->name, sizeof(q->name), "%s", end);
			if (dns_query(job->ctx->dns, q->name, q->type, on_addr_answer, q) == 0)
				return;
		}
	}
	if (record_addr_answer(q, r))
		host_done(job, q->host);
	if (job->pending == 0) {
		classify(job);
		job_finish(job);
	}
}

/* Starts the address lookups of every host that has a name to look up. */
static void start_addr_lookups(struct route_job *job)
{
	struct route_result *res = job->res;
	struct route_ctx *ctx = job->ctx;

	job->queries = calloc(res->nhosts * 2, sizeof(*job->queries));
	job->v6 = calloc(res->nhosts, sizeof(*job->v6));
	job->nv6 = calloc(res->nhosts, sizeof(*job->nv6));
	if (job->queries == NULL || job->v6 == NULL || job->nv6 == NULL) {
		set_status(res, ROUTE_TEMPORARY, "out of memory");
		job_finish(job);
		return;
	}
	for (size_t i = 0; i < res->nhosts; i++) {
		struct route_host *h = &res->hosts[i];
		char err[160];

		if (domain_is_ip(h->name)) {
			strlist_addf(&h->warnings, "exchange '%s' is an IP address, not a host name "
			             "(RFC 5321 5.1 needs a name): it is skipped", h->name);
			continue;
		}
		if (domain_check_hostname(h->name, err, sizeof(err)) < 0) {
			strlist_addf(&h->warnings, "exchange '%s' is not a valid host name (%s): "
			             "it is skipped", h->name, err);
			continue;
		}
		if (ctx->families & ROUTE_IPV4) {
			job->queries[i * 2] = (struct addr_query){ .job = job, .host = i,
			                                            .type = DNSMSG_T_A };
			snprintf(job->queries[i * 2].name, DNSMSG_NAME_MAX, "%s", h->name);
			h->a.asked = 1;
			job->pending++;
		}
		if (ctx->families & ROUTE_IPV6) {
			job->queries[i * 2 + 1] = (struct addr_query){ .job = job, .host = i,
			                                                .type = DNSMSG_T_AAAA };
			snprintf(job->queries[i * 2 + 1].name, DNSMSG_NAME_MAX, "%s", h->name);
			h->aaaa.asked = 1;
			job->pending++;
		}
	}
	/* Answers only ever arrive from the loop, so the job cannot finish
	 * inside this loop; a query that cannot even be queued (out of
	 * memory) is recorded as a temporary failure on the spot. */
	for (size_t i = 0; i < res->nhosts * 2; i++) {
		struct addr_query *q = &job->queries[i];
		struct dns_result fail = { DNS_RETRY, "out of memory", NULL, NULL, 0, 0 };

		if (q->type == 0)
			continue;
		if (dns_query(ctx->dns, q->name, q->type, on_addr_answer, q) < 0 &&
		    record_addr_answer(q, &fail))
			host_done(job, q->host);
	}
	for (size_t i = 0; i < res->nhosts; i++)
		if (!res->hosts[i].a.asked && !res->hosts[i].aaaa.asked)
			host_done(job, i);
	if (job->pending == 0) {
		classify(job);
		job_finish(job);
	}
}

/* ---- the MX lookup ---- */

static void on_mx_answer(void *arg, const struct dns_result *r)
{
	struct route_job *job = arg;
	struct route_result *res = job->res;
	const char *dom = res->target.name;
	struct mx_record *recs = NULL;
	struct mx_order_info info;
	size_t n = 0;

	res->queries++;
	switch (r->status) {
	case DNS_NXDOMAIN:
		set_status(res, ROUTE_PERMANENT, "domain %s does not exist (NXDOMAIN)", dom);
		job_finish(job);
		return;
	case DNS_RETRY:
	case DNS_INVALID:
		set_status(res, ROUTE_TEMPORARY, "MX lookup for %s failed: %s; try again later",
		           dom, r->reason);
		job_finish(job);
		return;
	default:
		break;
	}
	/* The domain itself may be an alias: RFC 5321 5.1 processes the CNAME
	 * target "as if it were the initial name" (DLV-08). */
	if (r->answer != NULL) {
		const char *end = cname_end(r->answer, job->mx_name);

		if (end != NULL && job->mx_hops == 0)
			strlist_addf(&res->warnings, "%s is an alias (CNAME) for %s: the "
			             "target's MX records are used", dom, end);
		if (end != NULL && r->status == DNS_NODATA &&
		    job->mx_hops < ROUTE_MAX_CNAME_HOPS) {
			/* The chain was not completed by the server: follow it. */
			job->mx_hops++;
			snprintf(job->mx_name, sizeof(job->mx_name), "%s", end);
			if (dns_query(job->ctx->dns, job->mx_name, DNSMSG_T_MX, on_mx_answer, job) == 0)
				return;
			set_status(res, ROUTE_TEMPORARY, "out of memory");
			job_finish(job);
			return;
		}
		if (end != NULL && r->status == DNS_NODATA)
			snprintf(job->mx_name, sizeof(job->mx_name), "%s", end);
		if (r->answer->truncated)
			strlist_addf(&res->warnings, "more than %d MX records: the rest are ignored",
			             DNSMSG_MAX_RR);
	}
	if (r->status == DNS_NODATA) {
		res->implicit_mx = 1;
		res->hosts = calloc(1, sizeof(*res->hosts));
		if (res->hosts == NULL)
			goto nomem;
		res->nhosts = 1;
		/* DLV-05 (d): an alias without MX records: the target's own
		 * addresses. */
		snprintf(res->hosts[0].name, sizeof(res->hosts[0].name), "%s", job->mx_name);
		start_addr_lookups(job);
		return;
	}
	recs = calloc(r->answer->nrr, sizeof(*recs));
	if (recs == NULL)
		goto nomem;
	for (size_t i = 0; i < r->answer->nrr; i++) {
		const struct dnsmsg_rr *rr = &r->answer->rr[i];

		if (rr->type != DNSMSG_T_MX || rr->rrclass != 1)
			continue;
		recs[n].pref = rr->mx_pref;
		recs[n].ttl = rr->ttl;
		snprintf(recs[n].host, sizeof(recs[n].host), "%s", rr->target);
		n++;
	}
	n = mx_order(recs, n, &job->rng, &info);
	if (info.null_mx) {
		res->null_mx = 1;
		set_status(res, ROUTE_PERMANENT, "domain %s accepts no mail (null MX, RFC 7505)", dom);
		if (info.null_nonzero)
			strlist_addf(&res->warnings, "the null MX record has a preference other "
			             "than 0 (RFC 7505 says 0)");
		free(recs);
		job_finish(job);
		return;
	}
	if (info.null_mixed)
		strlist_addf(&res->warnings, "a null MX (\".\") stands beside other MX records, "
		             "which RFC 7505 forbids: it is ignored and the other hosts are used");
	if (info.duplicates)
		strlist_addf(&res->warnings, "%zu MX host%s listed more than once: each is tried once",
		             info.duplicates, info.duplicates == 1 ? " is" : "s are");
	res->hosts = calloc(n, sizeof(*res->hosts));
	if (res->hosts == NULL)
		goto nomem;
	res->nhosts = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(res->hosts[i].name, sizeof(res->hosts[i].name), "%s", recs[i].host);
		res->hosts[i].pref = recs[i].pref;
		res->hosts[i].ttl = recs[i].ttl;
	}
	free(recs);
	start_addr_lookups(job);
	return;
nomem:
	free(recs);
	set_status(res, ROUTE_TEMPORARY, "out of memory");
	job_finish(job);
}

/* ---- literals ---- */

static void on_literal(void *arg)
{
	struct route_job *job = arg;

	job_finish(job);
}

static void route_literal(struct route_job *job)
{
	struct route_result *res = job->res;
	struct route_host *h;
	int family = res->target.kind == DOMAIN_LITERAL4 ? AF_INET : AF_INET6;

	res->hosts = calloc(1, sizeof(*res->hosts));
	if (res->hosts == NULL) {
		set_status(res, ROUTE_TEMPORARY, "out of memory");
	} else {
		res->nhosts = 1;
		h = &res->hosts[0];
		snprintf(h->name, sizeof(h->name), "%s", res->target.name);
		add_addr(&h->addrs, &h->naddrs, family, res->target.addr, 0);
		h->usable = h->naddrs > 0;
		set_status(res, ROUTE_OK, "address literal: delivered to %s without a DNS lookup "
		           "(RFC 5321 4.1.3)", h->naddrs ? h->addrs[0].text : "?");
	}
	loop_timer_start(job->ctx->loop, &job->defer, 0, on_literal, job);
}

int route_lookup(struct route_ctx *ctx, const char *input, const struct domain_target *target,
                 uint64_t item, route_done_cb cb, void *arg)
{
	struct route_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return -1;
	job->res = result_new(input);
	if (job->res == NULL) {
		free(job);
		return -1;
	}
	job->ctx = ctx;
	job->cb = cb;
	job->arg = arg;
	job->res->target = *target;
	job->started_ms = loop_now_ms(ctx->loop);
	rng_seed(&job->rng, ctx->seed ^ rng_hash(target->name) ^ (item * 0x9e3779b97f4a7c15ull));
	ctx->active++;
	if (target->kind != DOMAIN_NAME) {
		route_literal(job);
		return 0;
	}
	snprintf(job->mx_name, sizeof(job->mx_name), "%s", target->name);
	if (dns_query(ctx->dns, job->mx_name, DNSMSG_T_MX, on_mx_answer, job) < 0) {
		ctx->active--;
		route_result_free(job->res);
		free(job);
		return -1;
	}
	return 0;
}
