/*
 * dns: c-ares 1.18 inside the event loop. See dns.h.
 *
 * c-ares tells us which sockets to watch through ARES_OPT_SOCK_STATE_CB;
 * the loop calls ares_process_fd when they are ready, and one loop timer
 * follows ares_timeout() so retransmissions happen on time.
 *
 * ARES_FLAG_NOCHECKRESP makes SERVFAIL and REFUSED come back as such
 * instead of as ECONNREFUSED after every retry (TEST-SERVERS.md), so a
 * broken zone is reported at once and by its name. ARES_FLAG_EDNS with a
 * 1232-octet payload keeps large MX sets on UDP.
 *
 * Owns: the channel, the queue of waiting queries, one allocation per
 * query (freed after its callback). Must not: call a callback from inside
 * dns_query, or after dns_resolver_free.
 */
#include "config.h"

#include "dns.h"

#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "loop.h"

struct dns_query_item {
	struct dns_query_item *next;  /* in the waiting queue */
	struct dns_resolver *owner;   /* to reach the resolver from c-ares' cb */
	dns_cb cb;                    /* the caller's callback */
	void *arg;                    /* its argument */
	int type;                     /* record type */
	uint64_t sent_ms;             /* when handed to c-ares */
	char name[DNSMSG_NAME_MAX];   /* the query name */
};

struct dns_resolver {
	struct loop *loop;            /* the loop we run in */
	ares_channel channel;         /* the c-ares channel */
	struct loop_timer timer;      /* follows ares_timeout() */
	struct loop_timer kick;       /* defers sending out of dns_query */
	struct dns_query_item *head;  /* waiting queries, FIFO */
	struct dns_query_item *tail;
	unsigned inflight;            /* handed to c-ares, not yet answered */
	unsigned max_inflight;        /* the window */
	int destroying;               /* set while ares_destroy runs */
	struct dnsmsg_answer *scratch;/* parse buffer, reused (it is large) */
	struct dns_stats stats;
	dns_trace_fn trace;           /* -v hook, may be NULL */
	void *trace_arg;
};

static int ares_initialised;

const char *dns_status_name(enum dns_status st)
{
	static const char *const names[DNS_STATUS_LAST] = {
		[DNS_OK] = "ok",         [DNS_NODATA] = "nodata", [DNS_NXDOMAIN] = "nxdomain",
		[DNS_RETRY] = "retry",   [DNS_INVALID] = "invalid",
	};

	return (unsigned)st < DNS_STATUS_LAST ? names[st] : "unknown";
}

static void rearm_timer(struct dns_resolver *res);
static void pump(struct dns_resolver *res);

static void on_socket_ready(int fd, unsigned events, void *arg)
{
	struct dns_resolver *res = arg;
	ares_socket_t rfd = (events & (LOOP_READ | LOOP_ERROR)) ? fd : ARES_SOCKET_BAD;
	ares_socket_t wfd = (events & LOOP_WRITE) ? fd : ARES_SOCKET_BAD;

	ares_process_fd(res->channel, rfd, wfd);
	pump(res);
	rearm_timer(res);
}

static void on_socket_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *res = data;
	unsigned ev = (readable ? LOOP_READ : 0) | (writable ? LOOP_WRITE : 0);

	/* Failing to watch a socket only delays the query until its timeout. */
	(void)loop_watch(res->loop, fd, ev, on_socket_ready, res);
}

static void on_timer(void *arg)
{
	struct dns_resolver *res = arg;

	ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	pump(res);
	rearm_timer(res);
}

static void rearm_timer(struct dns_resolver *res)
{
	struct timeval tv, *tvp;

	if (res->inflight == 0) {
		loop_timer_stop(res->loop, &res->timer);
		return;
	}
	tvp = ares_timeout(res->channel, NULL, &tv);
	if (tvp == NULL) {
		loop_timer_stop(res->loop, &res->timer);
		return;
	}
	loop_timer_start(res->loop, &res->timer,
	                 (uint64_t)tvp->tv_sec * 1000u + (uint64_t)tvp->tv_usec / 1000u + 1,
	                 on_timer, res);
}

static const char *ares_reason(int status)
{
	switch (status) {
	case ARES_ESERVFAIL: return "SERVFAIL";
	case ARES_EREFUSED: return "REFUSED";
	case ARES_ENOTIMP: return "NOTIMP";
	case ARES_EFORMERR: return "FORMERR";
	case ARES_ETIMEOUT: return "timeout";
	case ARES_ECONNREFUSED: return "no DNS server answered (connection refused)";
	case ARES_EBADRESP: return "malformed DNS response";
	case ARES_ENOMEM: return "out of memory";
	case ARES_EBADNAME: return "name not acceptable to the resolver";
	default: return ares_strerror(status);
	}
}

static int count_type(const struct dnsmsg_answer *a, int type)
{
	int n = 0;

	for (size_t i = 0; i < a->nrr; i++)
		if (a->rr[i].type == type && a->rr[i].rrclass == 1)
			n++;
	return n;
}

static void on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query_item *q = arg;
	struct dns_resolver *res = q->owner;
	struct dns_result r;

	(void)timeouts;
	res->inflight--;
	if (res->destroying) {
		free(q);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.name = q->name;
	r.type = q->type;
	r.elapsed_ms = (unsigned)(loop_now_ms(res->loop) - q->sent_ms);
	if (abuf != NULL && alen > 0 &&
	    (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND ||
	     status == ARES_ESERVFAIL || status == ARES_EREFUSED || status == ARES_EFORMERR ||
	     status == ARES_ENOTIMP)) {
		if (dnsmsg_parse(abuf, (size_t)alen, res->scratch) < 0) {
			r.status = DNS_INVALID;
			r.reason = "malformed DNS response";
		} else {
			r.answer = res->scratch;
			switch (res->scratch->rcode) {
			case DNSMSG_NOERROR:
				r.status = count_type(res->scratch, q->type) > 0 ? DNS_OK : DNS_NODATA;
				r.reason = r.status == DNS_OK ? "NOERROR" : "NOERROR, no records";
				break;
			case DNSMSG_NXDOMAIN:
				r.status = DNS_NXDOMAIN;
				r.reason = "NXDOMAIN";
				break;
			default:
				r.status = DNS_RETRY;
				r.reason = dnsmsg_rcode_name(res->scratch->rcode);
				break;
			}
		}
	} else {
		r.status = status == ARES_EBADNAME ? DNS_INVALID : DNS_RETRY;
		r.reason = ares_reason(status);
	}
	if (r.answer != NULL)
		res->stats.answered++;
	else
		res->stats.failed++;
	if (res->trace != NULL)
		res->trace(res->trace_arg, &r);
	q->cb(q->arg, &r);
	free(q);
}

/* Hands waiting queries to c-ares while the window has room. */
static void pump(struct dns_resolver *res)
{
	while (res->head != NULL && res->inflight < res->max_inflight && !res->destroying) {
		struct dns_query_item *q = res->head;

		res->head = q->next;
		if (res->head == NULL)
			res->tail = NULL;
		q->next = NULL;
		q->sent_ms = loop_now_ms(res->loop);
		res->inflight++;
		res->stats.sent++;
		if (res->inflight > res->stats.max_inflight)
			res->stats.max_inflight = res->inflight;
		/* May call on_ares_answer at once (a bad name): inflight is
		 * already counted, so the books stay straight. */
		ares_query(res->channel, q->name, 1 /* C_IN */, q->type, on_ares_answer, q);
	}
}

static void on_kick(void *arg)
{
	struct dns_resolver *res = arg;

	pump(res);
	rearm_timer(res);
}

int dns_query(struct dns_resolver *res, const char *name, int type, dns_cb cb, void *arg)
{
	struct dns_query_item *q;
	size_t len = strlen(name);

	if (len >= DNSMSG_NAME_MAX)
		return -1;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -1;
	q->owner = res;
	q->cb = cb;
	q->arg = arg;
	q->type = type;
	memcpy(q->name, name, len + 1);
	if (res->tail != NULL)
		res->tail->next = q;
	else
		res->head = q;
	res->tail = q;
	/* Sending happens from the loop so that a callback never runs inside
	 * the caller's dns_query (c-ares may answer a bad name at once). */
	if (!loop_timer_armed(&res->kick))
		loop_timer_start(res->loop, &res->kick, 0, on_kick, res);
	return 0;
}

struct dns_resolver *dns_resolver_new(struct loop *loop, const struct dns_config *cfg,
                                      char *errbuf, size_t errlen)
{
	struct dns_resolver *res = NULL;
	struct ares_options opts;
	int optmask, st;
	unsigned tries = cfg->tries ? cfg->tries : 2;
	unsigned total = cfg->timeout_ms ? cfg->timeout_ms : 10000;

	if (!ares_initialised) {
		st = ares_library_init(ARES_LIB_INIT_ALL);
		if (st != ARES_SUCCESS) {
			snprintf(errbuf, errlen, "c-ares: %s", ares_strerror(st));
			return NULL;
		}
		ares_initialised = 1;
	}
	res = calloc(1, sizeof(*res));
	if (res == NULL)
		goto nomem;
	res->scratch = malloc(sizeof(*res->scratch));
	if (res->scratch == NULL)
		goto nomem;
	res->loop = loop;
	res->max_inflight = cfg->max_inflight ? cfg->max_inflight : 128;

	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;
	/* c-ares doubles the per-try timeout every round over the server list
	 * (1.18 ares_send.c): t + 2t + 4t ... must fit in the total. */
	opts.timeout = (int)(total / ((1u << tries) - 1));
	if (opts.timeout < 50)
		opts.timeout = 50;
	opts.tries = (int)tries;
	opts.ednspsz = 1232;
	opts.sock_state_cb = on_socket_state;
	opts.sock_state_cb_data = res;
	/* Replies arrive in bursts when thousands of queries are in flight. */
	opts.socket_receive_buffer_size = 1 << 20;
	optmask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ |
	          ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF;
	st = ares_init_options(&res->channel, &opts, optmask);
	if (st != ARES_SUCCESS) {
		snprintf(errbuf, errlen, "c-ares: cannot initialise a channel: %s", ares_strerror(st));
		goto fail;
	}
	if (cfg->servers != NULL && cfg->servers[0] != '\0') {
		st = ares_set_servers_ports_csv(res->channel, cfg->servers);
		if (st != ARES_SUCCESS) {
			snprintf(errbuf, errlen, "DNS servers '%s': %s (expected HOST[:PORT], "
			         "[IPV6]:PORT for IPv6)", cfg->servers, ares_strerror(st));
			goto fail;
		}
	}
	return res;
nomem:
	snprintf(errbuf, errlen, "out of memory");
fail:
	dns_resolver_free(res);
	return NULL;
}

void dns_resolver_free(struct dns_resolver *res)
{
	struct dns_query_item *q, *next;

	if (res == NULL)
		return;
	res->destroying = 1;
	loop_timer_stop(res->loop, &res->timer);
	loop_timer_stop(res->loop, &res->kick);
	if (res->channel != NULL)
		ares_destroy(res->channel);
	for (q = res->head; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	free(res->scratch);
	free(res);
}

void dns_resolver_stats(const struct dns_resolver *res, struct dns_stats *out)
{
	*out = res->stats;
}

void dns_resolver_set_trace(struct dns_resolver *res, dns_trace_fn fn, void *arg)
{
	res->trace = fn;
	res->trace_arg = arg;
}
