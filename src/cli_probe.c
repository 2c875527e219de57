/*
 * cli_probe: `mxsend probe DOMAIN|ADDRESS...` (or one item per line on
 * stdin). Routes each item as `route` does, then runs a diagnostic
 * session (probe_session.c) to every address of every MX host, and a
 * reverse lookup with forward confirmation for each address; judges the
 * facts (probe_verdict.c) and prints them (probe_out.c) in input order.
 *
 * Bounded everywhere: at most PROBE_WINDOW items between "read" and
 * "printed", at most --sessions sessions at once overall and
 * --per-domain at once for one domain, and a timeout on every step, so
 * that a dead host costs its own timeouts and never delays the sessions
 * of another domain (they run side by side; only printing keeps input
 * order).
 *
 * Owns: the loop, the resolver, the TLS context, the queue of sessions
 * not yet started. Must not: send mail (probe_session never sends DATA,
 * and MAIL only for --rcpt).
 */
#include "config.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "cli.h"
#include "dns.h"
#include "domain.h"
#include "loop.h"
#include "port25.h"
#include "probe_out.h"
#include "probe_session.h"
#include "probe_verdict.h"
#include "route.h"
#include "status.h"
#include "submit.h"
#include "tls_client.h"

#define PROBE_WINDOW 64              /* items in flight or waiting to print */
#define PROBE_DEFAULT_SESSIONS 32    /* sessions at once */
#define PROBE_DEFAULT_PER_DOMAIN 4   /* sessions at once per domain */
#define PROBE_DEFAULT_EXPIRY_DAYS 14
/* Probing waits less than delivery does (RFC 5321 4.5.3.2 asks 5 minutes
 * of a sender, which must not give up on a slow server; a diagnosis must
 * finish): these caps apply unless --timeout or smaller configured
 * timeouts say otherwise. */
#define PROBE_CONNECT_CAP_MS 10000
#define PROBE_STEP_CAP_MS 30000

struct probe_run;

/* One input item from read to print. */
struct probe_item {
	struct probe_run *run;
	uint64_t index;              /* input position */
	struct probe_domain *dom;    /* NULL until routed */
	unsigned pending;            /* sessions and lookups not yet ended */
	unsigned active;             /* sessions running now */
	uint64_t started_ms;
	int ready;                   /* judged, waiting to be printed */
};

/* A session waiting for a free slot. */
struct probe_job {
	struct probe_item *item;
	size_t host, addr;           /* indices into the route */
	struct probe_job *next;
};

/* A PTR lookup and its forward confirmation for one address. */
struct ptr_token {
	struct probe_item *item;
	size_t host, addr;
};

/* A running session. */
struct session_token {
	struct probe_item *item;
	size_t host, addr;
	struct probe_session *s;
};

struct probe_run {
	struct loop *loop;
	struct dns_resolver *dns;
	struct route_ctx *ctx;
	SSL_CTX *ssl_ctx;
	int json;
	int verbose;
	char ehlo_name[SUBMIT_HOSTNAME_MAX];
	struct probe_timeouts timeouts;
	const char *rcpt;            /* --rcpt address, or NULL */
	const char *mail_from;       /* --from, "" for <> */
	unsigned expiry_days;
	int no_ptr;                  /* --no-ptr */
	unsigned max_sessions, per_domain;
	unsigned active;             /* sessions running */
	struct probe_job *queue, *queue_tail;
	struct cli_items items;      /* input */
	/* ordered output */
	struct probe_item *slots[PROBE_WINDOW];
	uint64_t submitted, printed;
	size_t counts[PROBE_VERDICT_LAST];
	int exit_code;
	int failed;                  /* out of memory: stop reading */
	int feeding;                 /* inside feed: results of invalid items
	                                come back at once, and must not read
	                                more from there (unbounded recursion) */
	/* port 25 from here, over the whole run (the lead's remembered
	 * "port 25 blocked" state goes beside this in the output) */
	unsigned long sessions, connect_timeouts, connected;
};

static void feed(struct probe_run *run);
static void dispatch(struct probe_run *run);

/* ---- printing in input order ---- */

static void print_item(struct probe_run *run, const struct probe_item *it)
{
	if (run->json) {
		json_t *obj = probe_out_json(it->dom);
		char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

		if (run->printed > 0)
			fputs(",\n", stdout);
		fputs(s ? s : "null", stdout);
		free(s);
		json_decref(obj);
	} else {
		probe_out_text(stdout, it->dom);
	}
}

static void flush_ready(struct probe_run *run)
{
	for (;;) {
		struct probe_item **slot = &run->slots[run->printed % PROBE_WINDOW];
		struct probe_item *it = *slot;

		if (run->printed >= run->submitted || it == NULL || !it->ready)
			break;
		*slot = NULL;
		print_item(run, it);
		run->counts[it->dom->verdict]++;
		run->exit_code = status_exit_worst(run->exit_code, it->dom->exit_code);
		probe_domain_free(it->dom);
		free(it);
		run->printed++;
	}
}

/* ---- judging ---- */

static void judge(struct probe_run *run, struct probe_item *it)
{
	struct probe_domain *d = it->dom;
	const struct route_result *res = d->route;
	struct probe_verdict_opts o = { .now = d->now, .expiry_days = run->expiry_days,
	                                .rcpt = run->rcpt };

	for (size_t i = 0; d->addrs != NULL && i < res->nhosts; i++) {
		const struct route_host *h = &res->hosts[i];
		struct probe_host_tally *t = &d->tally[i];
		const char *mx = res->target.kind == DOMAIN_NAME ? h->name : NULL;

		t->name = h->name;
		for (size_t j = 0; d->addrs[i] != NULL && j < h->naddrs; j++) {
			struct probe_addr *pa = &d->addrs[i][j];

			if (pa->res == NULL) {
				pa->verdict = PROBE_FAIL;
				pa->reach = PROBE_REACH_BROKEN;
				strlist_addf(&pa->reasons, "not probed: out of memory");
			} else {
				pa->verdict = probe_verdict_session(pa->res, mx, &o, &pa->reach,
				                                    &pa->reasons);
				run->sessions++;
				run->connected += pa->res->connected;
				run->connect_timeouts += pa->res->connect_timeout;
			}
			t->sessions++;
			t->reach[pa->reach]++;
			/* The host's reason is the first of its worst session. */
			if (pa->reasons.n > 0 && (t->first_reason == NULL || pa->verdict > t->worst))
				t->first_reason = pa->reasons.v[0];
			if (pa->verdict > t->worst)
				t->worst = pa->verdict;
		}
	}
	d->verdict = probe_verdict_domain(res->status, res->reason, d->tally,
	                                  d->addrs ? res->nhosts : 0, &d->reasons, &d->exit_code);
	d->probe_ms = (unsigned)(loop_now_ms(run->loop) - it->started_ms);
	it->ready = 1;
}

static void item_step_done(struct probe_item *it)
{
	struct probe_run *run = it->run;

	if (--it->pending > 0)
		return;
	judge(run, it);
	flush_ready(run);
	if (!run->feeding)
		feed(run);
}

/* ---- sessions ---- */

static void on_session_done(void *arg, struct probe_session *s)
{
	struct session_token *tok = arg;
	struct probe_item *it = tok->item;
	struct probe_run *run = it->run;
	struct probe_addr *pa = &it->dom->addrs[tok->host][tok->addr];

	pa->res = malloc(sizeof(*pa->res));
	if (pa->res != NULL)
		memcpy(pa->res, probe_session_result(s), sizeof(*pa->res));
	probe_session_free(s);
	free(tok);
	run->active--;
	it->active--;
	dispatch(run);
	item_step_done(it);
}

static void on_session_trace(void *arg, char dir, const char *line, size_t len)
{
	struct session_token *tok = arg;
	const struct route_addr *a = &tok->item->dom->route->hosts[tok->host].addrs[tok->addr];

	fprintf(stderr, "probe %s[%s] %c %.*s\n", tok->item->dom->route->hosts[tok->host].name,
	        a->text, dir, (int)len, line);
}

static int start_session(struct probe_run *run, struct probe_item *it, size_t h, size_t a)
{
	const struct route_result *res = it->dom->route;
	const struct route_addr *ra = &res->hosts[h].addrs[a];
	struct sockaddr_storage ss;
	socklen_t sl;
	struct session_token *tok = calloc(1, sizeof(*tok));
	struct probe_session_config cfg;

	if (tok == NULL)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (ra->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)it->dom->addrs[h][a].port);
		memcpy(&in->sin_addr, ra->bytes, 4);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)it->dom->addrs[h][a].port);
		memcpy(&in6->sin6_addr, ra->bytes, 16);
		sl = sizeof(*in6);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.ehlo_name = run->ehlo_name;
	cfg.mx_name = res->target.kind == DOMAIN_NAME ? res->hosts[h].name : NULL;
	cfg.ssl_ctx = run->ssl_ctx;
	cfg.timeouts = run->timeouts;
	cfg.rcpt = run->rcpt;
	cfg.mail_from = run->mail_from;
	cfg.done = on_session_done;
	cfg.trace = run->verbose ? on_session_trace : NULL;
	cfg.arg = tok;
	tok->item = it;
	tok->host = h;
	tok->addr = a;
	tok->s = probe_session_start(run->loop, (struct sockaddr *)&ss, sl, &cfg);
	if (tok->s == NULL) {
		free(tok);
		return -1;
	}
	run->active++;
	it->active++;
	return 0;
}

/* Starts queued sessions while there is room, overall and per domain. */
static void dispatch(struct probe_run *run)
{
	struct probe_job **pp = &run->queue, *prev = NULL;

	while (*pp != NULL && run->active < run->max_sessions) {
		struct probe_job *j = *pp;

		if (j->item->active >= run->per_domain) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (run->queue_tail == j)
			run->queue_tail = prev;
		if (start_session(run, j->item, j->host, j->addr) < 0) {
			/* Out of memory: the address stays without a result. */
			run->failed = 1;
			item_step_done(j->item);
		}
		free(j);
	}
}

static int enqueue(struct probe_run *run, struct probe_item *it, size_t h, size_t a)
{
	struct probe_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->item = it;
	j->host = h;
	j->addr = a;
	if (run->queue_tail != NULL)
		run->queue_tail->next = j;
	else
		run->queue = j;
	run->queue_tail = j;
	return 0;
}

/* ---- reverse DNS with forward confirmation ---- */

static void on_forward(void *arg, const struct dns_result *r)
{
	struct ptr_token *tok = arg;
	struct probe_item *it = tok->item;
	const struct route_addr *a = &it->dom->route->hosts[tok->host].addrs[tok->addr];
	struct probe_ptr *p = &it->dom->addrs[tok->host][tok->addr].ptr;
	size_t len = a->family == AF_INET ? 4 : 16;
	int type = a->family == AF_INET ? DNSMSG_T_A : DNSMSG_T_AAAA;

	p->forward_status = r->status;
	for (size_t i = 0; r->answer != NULL && i < r->answer->nrr; i++)
		if (r->answer->rr[i].type == type && memcmp(r->answer->rr[i].addr, a->bytes, len) == 0)
			p->forward_confirmed = 1;
	p->done = 1;
	free(tok);
	item_step_done(it);
}

static void on_ptr(void *arg, const struct dns_result *r)
{
	struct ptr_token *tok = arg;
	struct probe_item *it = tok->item;
	const struct route_addr *a = &it->dom->route->hosts[tok->host].addrs[tok->addr];
	struct probe_ptr *p = &it->dom->addrs[tok->host][tok->addr].ptr;

	p->status = r->status;
	for (size_t i = 0; r->answer != NULL && i < r->answer->nrr; i++) {
		if (r->answer->rr[i].type == DNSMSG_T_PTR) {
			snprintf(p->name, sizeof(p->name), "%s", r->answer->rr[i].target);
			break;
		}
	}
	/* FCrDNS: the name must lead back to the same address. */
	if (p->name[0] != '\0' &&
	    dns_query(it->run->dns, p->name, a->family == AF_INET ? DNSMSG_T_A : DNSMSG_T_AAAA,
	              on_forward, tok) == 0)
		return;
	p->done = 1;
	free(tok);
	item_step_done(it);
}

/* The reverse name of a: "4.3.2.1.in-addr.arpa" or the nibbles of
 * ip6.arpa (RFC 1035 3.5, RFC 3596 2.5). */
static void reverse_name(const struct route_addr *a, char *out, size_t len)
{
	size_t used = 0;

	if (a->family == AF_INET) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a->bytes[3], a->bytes[2],
		         a->bytes[1], a->bytes[0]);
		return;
	}
	for (int i = 15; i >= 0 && used + 4 < len; i--) {
		static const char hex[] = "0123456789abcdef";

		out[used++] = hex[a->bytes[i] & 0xf];
		out[used++] = '.';
		out[used++] = hex[a->bytes[i] >> 4];
		out[used++] = '.';
	}
	snprintf(out + used, len - used, "ip6.arpa");
}

static void start_ptr(struct probe_run *run, struct probe_item *it, size_t h, size_t a)
{
	struct ptr_token *tok = calloc(1, sizeof(*tok));
	char name[80];

	if (tok == NULL) {
		item_step_done(it);
		return;
	}
	tok->item = it;
	tok->host = h;
	tok->addr = a;
	reverse_name(&it->dom->route->hosts[h].addrs[a], name, sizeof(name));
	it->dom->addrs[h][a].ptr.asked = 1;
	if (dns_query(run->dns, name, DNSMSG_T_PTR, on_ptr, tok) < 0) {
		free(tok);
		item_step_done(it);
	}
}

/* ---- routing ---- */

static int item_setup(struct probe_item *it)
{
	struct probe_domain *d = it->dom;
	const struct route_result *res = d->route;

	d->addrs = calloc(res->nhosts ? res->nhosts : 1, sizeof(*d->addrs));
	d->tally = calloc(res->nhosts ? res->nhosts : 1, sizeof(*d->tally));
	if (d->addrs == NULL || d->tally == NULL)
		return -1;
	for (size_t i = 0; i < res->nhosts; i++) {
		d->addrs[i] = calloc(res->hosts[i].naddrs ? res->hosts[i].naddrs : 1,
		                     sizeof(**d->addrs));
		if (d->addrs[i] == NULL)
			return -1;
		for (size_t j = 0; j < res->hosts[i].naddrs; j++)
			d->addrs[i][j].port = 25;
	}
	return 0;
}

static void on_routed(void *arg, struct route_result *res)
{
	struct probe_item *it = arg;
	struct probe_run *run = it->run;
	struct probe_domain *d = it->dom;

	d->route = res;
	d->now = time(NULL);
	/* One count for the routing itself, released at the end, so that the
	 * item is judged once, after the last session and lookup. */
	it->pending = 1;
	if (res->status == ROUTE_OK) {
		if (item_setup(it) < 0) {
			run->failed = 1;
		} else {
			for (size_t i = 0; i < res->nhosts; i++) {
				for (size_t j = 0; j < res->hosts[i].naddrs; j++) {
					if (enqueue(run, it, i, j) < 0) {
						run->failed = 1;
						continue;
					}
					it->pending++;
					if (!run->no_ptr) {
						it->pending++;
						start_ptr(run, it, i, j);
					}
				}
			}
		}
	}
	dispatch(run);
	item_step_done(it);
}

/* ---- input ---- */

static void submit(struct probe_run *run, const char *text)
{
	struct probe_item *it = calloc(1, sizeof(*it));
	struct domain_target target;
	char err[256];

	if (it == NULL || (it->dom = calloc(1, sizeof(*it->dom))) == NULL) {
		free(it);
		run->failed = 1;
		return;
	}
	it->run = run;
	it->index = run->submitted;
	it->started_ms = loop_now_ms(run->loop);
	it->dom->rcpt = run->rcpt;
	run->slots[run->submitted % PROBE_WINDOW] = it;
	run->submitted++;
	if (domain_parse(text, &target, err, sizeof(err)) < 0) {
		struct route_result *res = route_result_invalid(text, err);

		if (res == NULL) {
			run->failed = 1;
			res = route_result_invalid("?", "out of memory");
		}
		if (res == NULL) {
			/* Nothing to show; drop the slot. */
			run->slots[it->index % PROBE_WINDOW] = NULL;
			run->submitted--;
			free(it->dom);
			free(it);
			return;
		}
		on_routed(it, res);
		return;
	}
	if (route_lookup(run->ctx, text, &target, it->index, on_routed, it) < 0) {
		run->failed = 1;
		on_routed(it, route_result_invalid(text, "out of memory"));
	}
}

static void feed(struct probe_run *run)
{
	run->feeding = 1;
	while (!run->failed && run->submitted - run->printed < PROBE_WINDOW) {
		const char *text = cli_items_next(&run->items);

		if (text == NULL)
			break;
		submit(run, text);
		flush_ready(run);
	}
	run->feeding = 0;
}

/* ---- options ---- */

static void probe_usage(FILE *out)
{
	fputs("usage: mxsend probe [--json] [-v] [--dns HOST[:PORT]]... [--timeout SECONDS]\n"
	      "                    [--ipv4|--ipv6] [--ca-file FILE] [--rcpt ADDRESS [--from ADDRESS]]\n"
	      "                    [--expiry-days N] [--sessions N] [--per-domain N] [--no-ptr]\n"
	      "                    [DOMAIN|ADDRESS...]\n"
	      "Connects to every MX address of each domain: greeting, EHLO, STARTTLS, TLS and\n"
	      "its certificate, reverse DNS; sends no mail. With no DOMAIN, reads one per line\n"
	      "from standard input.\n", out);
}

/* The time for one step: --timeout when given, else the configured value
 * capped for probing. */
static unsigned step_ms(const struct cli_common *c, unsigned conf_s, unsigned cap_ms)
{
	unsigned long ms = (unsigned long)conf_s * 1000ul;

	if (c->timeout_set)
		return c->timeout_ms;
	return ms == 0 || ms > cap_ms ? cap_ms : (unsigned)ms;
}

int cli_probe(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "ipv4", no_argument, NULL, '4' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "rcpt", required_argument, NULL, 'R' },
		{ "from", required_argument, NULL, 'F' },
		{ "expiry-days", required_argument, NULL, 'E' },
		{ "sessions", required_argument, NULL, 'S' },
		{ "per-domain", required_argument, NULL, 'P' },
		{ "no-ptr", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common;
	struct conf conf;
	struct port25 p25mem;
	struct route_opts ropts;
	struct dns_config dcfg;
	struct probe_run run;
	struct addr rcpt, from;
	char dns_list[CLI_DNS_LIST_MAX];
	char err[512];
	const char *ca_file = NULL;
	unsigned long v;
	int opt, rc;

	memset(&common, 0, sizeof(common));
	memset(&ropts, 0, sizeof(ropts));
	memset(&run, 0, sizeof(run));
	run.expiry_days = PROBE_DEFAULT_EXPIRY_DAYS;
	run.max_sessions = PROBE_DEFAULT_SESSIONS;
	run.per_domain = PROBE_DEFAULT_PER_DOMAIN;
	run.mail_from = "";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh46", longopts, NULL)) != -1) {
		int c = cli_common_opt(&common, opt, optarg, "probe");

		if (c < 0)
			return EX_USAGE;
		if (c > 0)
			continue;
		switch (opt) {
		case 'h':
			probe_usage(stdout);
			return EX_OK;
		case '4':
			ropts.families |= ROUTE_IPV4;
			break;
		case '6':
			ropts.families |= ROUTE_IPV6;
			break;
		case 'A':
			ca_file = optarg;
			break;
		case 'R':
			if (addr_parse_mailbox(optarg, &rcpt, err, sizeof(err)) < 0 || rcpt.addr[0] == '\0') {
				cli_error("probe", "--rcpt '%s': %s", optarg, err);
				return EX_USAGE;
			}
			run.rcpt = rcpt.addr;
			break;
		case 'F':
			if (addr_parse_path(optarg, 1, &from, err, sizeof(err)) < 0 &&
			    addr_parse_mailbox(optarg, &from, err, sizeof(err)) < 0) {
				cli_error("probe", "--from '%s': %s", optarg, err);
				return EX_USAGE;
			}
			run.mail_from = from.addr;
			break;
		case 'E':
			if (cli_parse_uint(optarg, 0, 3650, &v) < 0) {
				cli_error("probe", "--expiry-days '%s': expected 0 to 3650", optarg);
				return EX_USAGE;
			}
			run.expiry_days = (unsigned)v;
			break;
		case 'S':
			if (cli_parse_uint(optarg, 1, 1000, &v) < 0) {
				cli_error("probe", "--sessions '%s': expected 1 to 1000", optarg);
				return EX_USAGE;
			}
			run.max_sessions = (unsigned)v;
			break;
		case 'P':
			if (cli_parse_uint(optarg, 1, 1000, &v) < 0) {
				cli_error("probe", "--per-domain '%s': expected 1 to 1000", optarg);
				return EX_USAGE;
			}
			run.per_domain = (unsigned)v;
			break;
		case 'N':
			run.no_ptr = 1;
			break;
		case ':':
			cli_error("probe", "option '%s' needs a value", argv[optind - 1]);
			return EX_USAGE;
		default:
			cli_error("probe", "unknown option '%s'", argv[optind - 1]);
			probe_usage(stderr);
			return EX_USAGE;
		}
	}
	if (run.mail_from[0] != '\0' && run.rcpt == NULL) {
		cli_error("probe", "--from only makes sense with --rcpt");
		return EX_USAGE;
	}
	rc = cli_load_conf(&common, &conf, "probe");
	if (rc != 0)
		return rc;

	cli_dns_list(&common, &conf, dns_list, sizeof(dns_list));
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.servers = dns_list[0] ? dns_list : NULL;
	dcfg.timeout_ms = common.timeout_set ? common.timeout_ms : conf.timeout_dns * 1000u;
	dcfg.tries = 2;
	dcfg.max_inflight = 128;

	run.timeouts.connect = step_ms(&common, conf.timeout_connect, PROBE_CONNECT_CAP_MS);
	run.timeouts.greeting = step_ms(&common, conf.timeout_greeting, PROBE_STEP_CAP_MS);
	run.timeouts.ehlo = step_ms(&common, conf.timeout_ehlo, PROBE_STEP_CAP_MS);
	run.timeouts.starttls = step_ms(&common, conf.timeout_starttls, PROBE_STEP_CAP_MS);
	run.timeouts.mail = step_ms(&common, conf.timeout_mail, PROBE_STEP_CAP_MS);
	run.timeouts.rcpt = step_ms(&common, conf.timeout_rcpt, PROBE_STEP_CAP_MS);
	run.timeouts.rset = step_ms(&common, conf.timeout_rcpt, PROBE_STEP_CAP_MS);
	run.timeouts.quit = step_ms(&common, conf.timeout_quit, PROBE_STEP_CAP_MS);
	submit_hostname(conf.hostname, run.ehlo_name);

	run.json = common.json;
	run.verbose = common.verbose;
	cli_items_init(&run.items, argc, argv, optind);
	run.ssl_ctx = tls_client_ctx_new(ca_file ? ca_file : conf.ca_file, err, sizeof(err));
	if (run.ssl_ctx == NULL) {
		cli_error("probe", "%s", err);
		return ca_file ? EX_USAGE : EX_CONFIG;
	}
	run.loop = loop_new();
	if (run.loop == NULL) {
		cli_error("probe", "cannot start: out of memory or no epoll");
		rc = EX_OSERR;
		goto done;
	}
	run.dns = dns_resolver_new(run.loop, &dcfg, err, sizeof(err));
	if (run.dns == NULL) {
		cli_error("probe", "%s", err);
		rc = common.ndns > 0 ? EX_USAGE : EX_CONFIG;
		goto done;
	}
	run.ctx = route_ctx_new(run.loop, run.dns, &ropts);
	if (run.ctx == NULL) {
		cli_error("probe", "out of memory");
		rc = EX_OSERR;
		goto done;
	}
	if (run.json)
		fputs("{\"domains\": [\n", stdout);
	feed(&run);
	loop_run(run.loop);
	flush_ready(&run);
	/* This run's own evidence, beside what `send` remembered (port25.h). */
	port25_load(&p25mem, conf.state_dir, conf.port25_detect, conf.port25_block_time,
	            (int64_t)time(NULL));
	if (run.json) {
		json_t *p25 = port25_json(&p25mem, (int64_t)time(NULL));
		char *s;

		if (p25 != NULL) {
			json_object_set_new(p25, "suspected_blocked",
			                    json_boolean(run.sessions > 0 && run.connected == 0 &&
			                                 run.connect_timeouts == run.sessions));
			json_object_set_new(p25, "sessions", json_integer((json_int_t)run.sessions));
			json_object_set_new(p25, "connected", json_integer((json_int_t)run.connected));
			json_object_set_new(p25, "connect_timeouts",
			                    json_integer((json_int_t)run.connect_timeouts));
		}
		s = p25 ? json_dumps(p25, JSON_COMPACT) : NULL;

		fprintf(stdout, "\n], \"summary\": {\"domains\": %llu, \"ok\": %zu, \"warn\": %zu, "
		        "\"fail\": %zu}, \"port25\": %s}\n", (unsigned long long)run.printed,
		        run.counts[PROBE_OK], run.counts[PROBE_WARN], run.counts[PROBE_FAIL],
		        s ? s : "null");
		free(s);
		json_decref(p25);
	} else {
		if (run.printed > 1)
			printf("%llu domains: %zu ok, %zu warn, %zu fail\n",
			       (unsigned long long)run.printed, run.counts[PROBE_OK],
			       run.counts[PROBE_WARN], run.counts[PROBE_FAIL]);
		char note[1024];

		if (run.sessions > 0 && run.connected == 0 && run.connect_timeouts == run.sessions)
			printf("port 25 seems blocked from here: every one of %lu connections timed "
			       "out\n", run.sessions);
		port25_text(&p25mem, (int64_t)time(NULL), note, sizeof(note));
		if (note[0] != '\0')
			printf("%s\n", note);
	}
	if (run.printed == 0 && !run.json)
		cli_error("probe", "no domains given (as arguments or on standard input)");
	rc = run.printed == 0 ? EX_USAGE : run.exit_code;
	if (run.failed) {
		cli_error("probe", "stopped early: out of memory");
		rc = status_exit_worst(rc, EX_OSERR);
	}
done:
	for (size_t i = 0; i < PROBE_WINDOW; i++) {
		if (run.slots[i] != NULL) {
			probe_domain_free(run.slots[i]->dom);
			free(run.slots[i]);
		}
	}
	while (run.queue != NULL) {
		struct probe_job *j = run.queue;

		run.queue = j->next;
		free(j);
	}
	route_ctx_free(run.ctx);
	dns_resolver_free(run.dns);
	loop_free(run.loop);
	SSL_CTX_free(run.ssl_ctx);
	if (fflush(stdout) != 0 && rc == EX_OK) {
		cli_error("probe", "cannot write the output");
		rc = EX_IOERR;
	}
	return rc;
}
