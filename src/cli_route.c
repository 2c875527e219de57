/*
 * cli_route: `mxsend route DOMAIN|ADDRESS...` (or one item per line on
 * stdin). Streams results in input order while later items still resolve,
 * so memory stays bounded for tens of thousands of domains: at most
 * ROUTE_WINDOW items are between "read" and "printed".
 */
#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "dns.h"
#include "domain.h"
#include "loop.h"
#include "port25.h"
#include "route.h"
#include "route_out.h"
#include "status.h"

#define ROUTE_DEFAULT_INFLIGHT 128

struct route_run {
	struct loop *loop;
	struct dns_resolver *dns;
	struct route_ctx *ctx;
	int json;                    /* --json */
	int verbose;                 /* -v */
	struct cli_items items;      /* input */
	/* ordered output */
	struct route_result **slots; /* ring of window entries */
	size_t window;
	uint64_t submitted;          /* items read */
	uint64_t printed;            /* items written */
	size_t counts[ROUTE_STATUS_LAST];
	int exit_code;
	int failed;                  /* out of memory: stop reading */
	char *jbuf;                  /* one rendered JSON result, reused */
	size_t jcap;                 /* its size */
};

static int status_exit(enum route_status st)
{
	switch (st) {
	case ROUTE_OK: return EX_OK;
	case ROUTE_PERMANENT: return EX_UNAVAILABLE;
	case ROUTE_TEMPORARY: return EX_TEMPFAIL;
	default: return EX_DATAERR;
	}
}

/* Renders obj into run->jbuf and writes it with one fwrite: json_dumpf
 * calls fwrite once per token, 16% of the instructions of `route --json`
 * over 10,000 domains (docs/benchmarks.md). */
static int dump_json(struct route_run *run, const json_t *obj)
{
	size_t n = json_dumpb(obj, run->jbuf, run->jcap, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (n == 0)
		return -1;
	if (n > run->jcap) {
		char *nb = realloc(run->jbuf, n);

		if (nb == NULL)
			return -1;
		run->jbuf = nb;
		run->jcap = n;
		if (json_dumpb(obj, run->jbuf, run->jcap, JSON_COMPACT | JSON_ENSURE_ASCII) != n)
			return -1;
	}
	fwrite(run->jbuf, 1, n, stdout);
	return 0;
}

static void print_result(struct route_run *run, const struct route_result *res)
{
	if (run->json) {
		json_t *obj = route_out_json(res);

		if (run->printed > 0)
			fputs(",\n", stdout);
		if (obj == NULL || dump_json(run, obj) < 0)
			fputs("null", stdout);
		json_decref(obj);
	} else {
		route_out_text(stdout, res);
	}
}

static void flush_ready(struct route_run *run)
{
	for (;;) {
		struct route_result **slot = &run->slots[run->printed % run->window];
		struct route_result *res = *slot;

		if (run->printed >= run->submitted || res == NULL)
			break;
		*slot = NULL;
		print_result(run, res);
		run->counts[res->status]++;
		run->exit_code = status_exit_worst(run->exit_code, status_exit(res->status));
		route_result_free(res);
		run->printed++;
	}
}

static void feed(struct route_run *run);

/* Each lookup gets its own small token so that the callback knows which
 * slot to fill. */
struct route_token {
	struct route_run *run;
	uint64_t item;
};

static void on_token_done(void *arg, struct route_result *res)
{
	struct route_token *tok = arg;
	struct route_run *run = tok->run;

	run->slots[tok->item % run->window] = res;
	free(tok);
	flush_ready(run);
	feed(run);
}

static void submit(struct route_run *run, const char *item)
{
	uint64_t idx = run->submitted;
	struct domain_target target;
	char err[256];
	struct route_token *tok;

	run->submitted++;
	if (domain_parse(item, &target, err, sizeof(err)) < 0) {
		run->slots[idx % run->window] = route_result_invalid(item, err);
		if (run->slots[idx % run->window] == NULL)
			run->failed = 1;
		return;
	}
	tok = malloc(sizeof(*tok));
	if (tok != NULL) {
		tok->run = run;
		tok->item = idx;
		if (route_lookup(run->ctx, item, &target, idx, on_token_done, tok) == 0)
			return;
		free(tok);
	}
	run->slots[idx % run->window] = route_result_invalid(item, "out of memory");
	run->failed = 1;
}

static void feed(struct route_run *run)
{
	while (!run->failed && run->submitted - run->printed < run->window) {
		const char *item = cli_items_next(&run->items);

		if (item == NULL)
			break;
		submit(run, item);
		flush_ready(run);
	}
}

static void trace(void *arg, const struct dns_result *r)
{
	(void)arg;
	fprintf(stderr, "dns: %s %s -> %s (%u ms)\n", dnsmsg_type_name(r->type), r->name,
	        r->reason, r->elapsed_ms);
}

static void route_usage(FILE *out)
{
	fputs("usage: mxsend route [--json] [--dns HOST[:PORT]]... [--timeout SECONDS]\n"
	      "                    [--ipv4|--ipv6] [--seed N] [--max-queries N] [DOMAIN|ADDRESS...]\n"
	      "With no DOMAIN, reads one per line from standard input.\n", out);
}

int cli_route(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "ipv4", no_argument, NULL, '4' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "seed", required_argument, NULL, 'S' },
		{ "max-queries", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common;
	struct conf conf;
	struct port25 p25;
	struct route_opts ropts;
	struct dns_config dcfg;
	struct route_run run;
	char dns_list[CLI_DNS_LIST_MAX];
	char err[512];
	unsigned long v;
	unsigned max_inflight = ROUTE_DEFAULT_INFLIGHT;
	int opt, rc;

	memset(&common, 0, sizeof(common));
	memset(&ropts, 0, sizeof(ropts));
	memset(&run, 0, sizeof(run));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh46", longopts, NULL)) != -1) {
		int c = cli_common_opt(&common, opt, optarg, "route");

		if (c < 0)
			return EX_USAGE;
		if (c > 0)
			continue;
		switch (opt) {
		case 'h':
			route_usage(stdout);
			return EX_OK;
		case '4':
			ropts.families |= ROUTE_IPV4;
			break;
		case '6':
			ropts.families |= ROUTE_IPV6;
			break;
		case 'S':
			if (cli_parse_uint(optarg, 0, ~0ul, &v) < 0) {
				cli_error("route", "--seed '%s': expected a whole number", optarg);
				return EX_USAGE;
			}
			ropts.seed = v;
			ropts.seeded = 1;
			break;
		case 'Q':
			if (cli_parse_uint(optarg, 1, 100000, &v) < 0) {
				cli_error("route", "--max-queries '%s': expected 1 to 100000", optarg);
				return EX_USAGE;
			}
			max_inflight = (unsigned)v;
			break;
		case ':':
			cli_error("route", "option '%s' needs a value", argv[optind - 1]);
			return EX_USAGE;
		default:
			cli_error("route", "unknown option '%s'", argv[optind - 1]);
			route_usage(stderr);
			return EX_USAGE;
		}
	}
	rc = cli_load_conf(&common, &conf, "route");
	if (rc != 0)
		return rc;

	cli_dns_list(&common, &conf, dns_list, sizeof(dns_list));
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.servers = dns_list[0] ? dns_list : NULL;
	dcfg.timeout_ms = common.timeout_set ? common.timeout_ms : conf.timeout_dns * 1000u;
	dcfg.tries = 2;
	dcfg.max_inflight = max_inflight;

	run.json = common.json;
	run.verbose = common.verbose;
	cli_items_init(&run.items, argc, argv, optind);
	run.window = max_inflight * 4 < 256 ? 256 : (size_t)max_inflight * 4;
	run.slots = calloc(run.window, sizeof(*run.slots));
	run.loop = loop_new();
	if (run.slots == NULL || run.loop == NULL) {
		cli_error("route", "cannot start: out of memory or no epoll");
		rc = EX_OSERR;
		goto done;
	}
	run.dns = dns_resolver_new(run.loop, &dcfg, err, sizeof(err));
	if (run.dns == NULL) {
		cli_error("route", "%s", err);
		rc = common.ndns > 0 ? EX_USAGE : EX_CONFIG;
		goto done;
	}
	if (run.verbose)
		dns_resolver_set_trace(run.dns, trace, &run);
	run.ctx = route_ctx_new(run.loop, run.dns, &ropts);
	if (run.ctx == NULL) {
		cli_error("route", "out of memory");
		rc = EX_OSERR;
		goto done;
	}
	if (run.json)
		fputs("{\"domains\": [\n", stdout);
	feed(&run);
	loop_run(run.loop);
	flush_ready(&run);
	port25_load(&p25, conf.state_dir, conf.port25_detect, conf.port25_block_time,
	            (int64_t)time(NULL));
	if (run.json) {
		json_t *pj = port25_json(&p25, (int64_t)time(NULL));
		char *ptext = pj ? json_dumps(pj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

		fprintf(stdout, "\n], \"summary\": {\"domains\": %llu, \"ok\": %zu, \"permanent\": %zu, "
		        "\"temporary\": %zu, \"invalid\": %zu}, \"port25\": %s}\n",
		        (unsigned long long)run.printed, run.counts[ROUTE_OK],
		        run.counts[ROUTE_PERMANENT], run.counts[ROUTE_TEMPORARY],
		        run.counts[ROUTE_INVALID], ptext ? ptext : "null");
		free(ptext);
		json_decref(pj);
	} else {
		char note[1024];

		if (run.printed > 1)
			printf("%llu domains: %zu ok, %zu permanent, %zu temporary, %zu invalid\n",
			       (unsigned long long)run.printed, run.counts[ROUTE_OK],
			       run.counts[ROUTE_PERMANENT], run.counts[ROUTE_TEMPORARY],
			       run.counts[ROUTE_INVALID]);
		port25_text(&p25, (int64_t)time(NULL), note, sizeof(note));
		if (note[0] != '\0')
			printf("%s\n", note);
	}
	if (run.printed == 0 && !run.json)
		cli_error("route", "no domains given (as arguments or on standard input)");
	rc = run.printed == 0 ? EX_USAGE : run.exit_code;
	if (run.failed) {
		cli_error("route", "stopped early: out of memory");
		rc = status_exit_worst(rc, EX_OSERR);
	}
	if (run.verbose) {
		struct dns_stats st;

		dns_resolver_stats(run.dns, &st);
		fprintf(stderr, "dns: %lu queries sent, %lu answered, %lu failed, at most %u in flight\n",
		        st.sent, st.answered, st.failed, st.max_inflight);
	}
done:
	for (size_t i = 0; run.slots != NULL && i < run.window; i++)
		route_result_free(run.slots[i]);
	free(run.slots);
	free(run.jbuf);
	route_ctx_free(run.ctx);
	dns_resolver_free(run.dns);
	loop_free(run.loop);
	if (fflush(stdout) != 0 && rc == EX_OK) {
		cli_error("route", "cannot write the output");
		rc = EX_IOERR;
	}
	return rc;
}
