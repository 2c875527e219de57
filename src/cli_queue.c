/*
 * cli_queue: `mxsend queue list|show ID|run|flush|delete ID`, and `queue
 * run --daemon` / `--interval SECONDS`, each with --json (mxsend-json(7)).
 * Also the small facts `send` shares with it: which spool directory, the
 * schedule from the configuration, and the wall clock the runner uses.
 *
 * The clock: the runner reads the wall clock through cli_queue_now, which
 * takes MXSEND_TEST_NOW (seconds since the epoch) when it is set. That is
 * a test hook for the clock-jump tests, documented in mxsend(1); nothing
 * else reads it.
 *
 * Exit codes: 0 when the command did its work (a pass that left
 * recipients deferred is still a pass done: cron must not mail every
 * five minutes), 64 usage, 66 no such message (show, delete), 75 the
 * message is being delivered (delete), 73 the spool cannot be made or
 * opened, 74 an I/O error in the pass, 78 configuration.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "port25.h"
#include "queue.h"
#include "queue_run.h"
#include "submit.h"
#include "tls_policy.h"
#include "utf8.h"

struct queue_cli {
	struct cli_common common;
	const char *queue_dir;     /* --queue-dir */
	const char *hostname;      /* --hostname */
	const char *tls;           /* --tls */
	const char *ca_file;       /* --ca-file */
	unsigned max_sessions;     /* --max-sessions */
	int daemon;                /* --daemon */
	unsigned interval;         /* --interval SECONDS (daemon) */
	int syslog;                /* --syslog */
	const char *only_id;       /* sendmail's background delivery: this message */
	const char *cmd;           /* "queue list" ... for messages */
};

long long cli_queue_now(void)
{
	const char *t = getenv("MXSEND_TEST_NOW");

	if (t != NULL && t[0] >= '0' && t[0] <= '9') {
		char *end;
		long long v = strtoll(t, &end, 10);

		if (*end == '\0' && v > 0)
			return v;
	}
	return (long long)time(NULL);
}

void cli_queue_sched(const struct conf *c, struct queue_sched_conf *sc)
{
	queue_sched_defaults(sc);
	sc->min_delay = c->queue_retry_min;
	sc->max_delay = c->queue_retry_max < c->queue_retry_min ? c->queue_retry_min
	                                                        : c->queue_retry_max;
	sc->lifetime = c->queue_lifetime;
	sc->warn_after = c->queue_warn;
}

static void on_quarantine(void *arg, const char *id, const char *reason)
{
	(void)arg;
	log_line("%s: moved to quarantine: %s", id, reason);
}

struct queue *cli_queue_open(const struct conf *conf, const char *dir, const char *cmd, int *rc)
{
	char path[1024], err[1200];
	struct queue *q;

	if (dir != NULL && dir[0] != '\0')
		snprintf(path, sizeof(path), "%s", dir);
	else if (conf->queue_dir[0] != '\0')
		snprintf(path, sizeof(path), "%s", conf->queue_dir);
	else if (queue_spool_default_dir(path, sizeof(path)) < 0) {
		cli_error(cmd, "no queue directory: set queue_dir in mxsend.conf (no HOME either)");
		*rc = EX_CONFIG;
		return NULL;
	}
	q = queue_spool_open(path, err, sizeof(err));
	if (q == NULL) {
		cli_error(cmd, "queue %s: %s", path, err);
		*rc = EX_CANTCREAT;
		return NULL;
	}
	q->on_quarantine = on_quarantine;
	*rc = 0;
	return q;
}

static void print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(doc);
}

static const char *clean(const char *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s);
	utf8_sanitize(buf);
	return buf;
}

/* The last reply among the recipients still pending (or any). */
static const char *last_error(const struct queue_entry *e)
{
	const char *best = "";
	int64_t t = -1;

	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r = &e->rcpts[i];

		if (r->reply[0] != '\0' && r->state != QUEUE_RCPT_SENT && r->last_attempt > t) {
			best = r->reply;
			t = r->last_attempt;
		}
	}
	return best;
}

static json_t *entry_json(const struct queue_entry *e, int64_t now, int with_data)
{
	json_t *rcpts = json_array();
	char b1[QUEUE_REPLY_MAX + 8];
	json_t *o;

	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r = &e->rcpts[i];

		json_array_append_new(rcpts, json_pack(
			"{s:s, s:s, s:b, s:I, s:i, s:s, s:s, s:s}",
			"address", r->address, "state", queue_rcpt_state_name(r->state),
			"notified", r->notified, "last_attempt", (json_int_t)r->last_attempt,
			"code", r->code, "dsn", r->dsn, "relay", r->relay,
			"reply", clean(r->reply, b1, sizeof(b1))));
	}
	o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:i, s:b, s:s, s:o}",
	              "id", e->id, "arrival", (json_int_t)e->arrival,
	              "age", (json_int_t)(now > e->arrival ? now - e->arrival : 0),
	              "size", (json_int_t)e->size, "sender", e->sender,
	              "next_attempt", (json_int_t)e->sched.next_attempt,
	              "queue_age", (json_int_t)e->sched.age, "attempts", (int)e->sched.attempts,
	              "warned", e->sched.warned,
	              "last_error", clean(last_error(e), b1, sizeof(b1)), "recipients", rcpts);
	if (o != NULL && with_data && e->data != NULL) {
		char *copy = strndup(e->data, e->size);

		if (copy != NULL) {
			utf8_sanitize(copy);
			json_object_set_new(o, "message", json_string(copy));
			free(copy);
		}
	}
	return o;
}

static void fmt_age(int64_t s, char *out, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(s / 86400));
}

static void entry_text(const struct queue_entry *e, int64_t now)
{
	char age[32], next[32], b[QUEUE_REPLY_MAX + 8];

	fmt_age(now - e->arrival, age, sizeof(age));
	if (e->sched.next_attempt <= now)
		snprintf(next, sizeof(next), "due now");
	else
		fmt_age(e->sched.next_attempt - now, next, sizeof(next));
	printf("%-14s %6s %9zu  <%s>  attempts %u, next %s%s\n", e->id, age, e->size, e->sender,
	       e->sched.attempts, e->sched.next_attempt <= now ? "" : "in ", next);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r = &e->rcpts[i];

		printf("    %-7s <%s>%s%s%s\n", queue_rcpt_state_name(r->state), r->address,
		       r->reply[0] ? " (" : "", clean(r->reply, b, sizeof(b)), r->reply[0] ? ")" : "");
	}
}

static int do_list(struct queue_cli *o, struct queue *q)
{
	struct queue_entry *v;
	size_t n;
	char err[512];
	int64_t now = cli_queue_now();

	if (q->ops->list(q, &v, &n, err, sizeof(err)) < 0) {
		cli_error(o->cmd, "%s", err);
		return EX_IOERR;
	}
	if (o->common.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, entry_json(&v[i], now, 0));
		print_json(json_pack("{s:I, s:o}", "now", (json_int_t)now, "messages", arr));
	} else if (n == 0) {
		printf("the queue is empty\n");
	} else {
		for (size_t i = 0; i < n; i++)
			entry_text(&v[i], now);
		printf("%zu message%s in the queue\n", n, n == 1 ? "" : "s");
	}
	queue_entries_free(q, v, n);
	return EX_OK;
}

static int do_show(struct queue_cli *o, struct queue *q, const char *id)
{
	struct queue_entry e;
	enum queue_fail fail;
	char err[512];
	int64_t now = cli_queue_now();

	if (q->ops->load(q, id, &e, &fail, err, sizeof(err)) < 0) {
		cli_error(o->cmd, "%s", err);
		queue_entry_clear(q, &e);
		return fail == QUEUE_FAIL_NOTFOUND ? EX_NOINPUT : EX_DATAERR;
	}
	if (o->common.json) {
		print_json(entry_json(&e, now, 1));
	} else {
		entry_text(&e, now);
		printf("\n");
		fwrite(e.data, 1, e.size, stdout);
	}
	queue_entry_clear(q, &e);
	return EX_OK;
}

static int do_delete(struct queue_cli *o, struct queue *q, const char *id)
{
	enum queue_fail fail;
	char err[512];

	if (q->ops->remove(q, id, &fail, err, sizeof(err)) < 0) {
		cli_error(o->cmd, "%s", err);
		return fail == QUEUE_FAIL_NOTFOUND ? EX_NOINPUT
		     : fail == QUEUE_FAIL_BUSY ? EX_TEMPFAIL : EX_IOERR;
	}
	log_line("%s: deleted", id);
	if (o->common.json)
		print_json(json_pack("{s:s, s:b}", "id", id, "deleted", 1));
	return EX_OK;
}

/* ---- run, flush, daemon ---- */

struct run_ctx {
	json_t *outcomes;          /* --json: one object per recipient outcome */
};

static void on_run_result(void *arg, const char *queue_id, const struct deliver_rcpt *r)
{
	struct run_ctx *rc = arg;
	char line[2048];

	log_format_delivery(line, sizeof(line), queue_id, r);
	log_line("%s", line);
	if (rc->outcomes != NULL) {
		char reply[sizeof(r->smtp.reply)];

		json_array_append_new(rc->outcomes, json_pack(
			"{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s?, s:s?}", "queue_id", queue_id,
			"address", r->address, "status", deliver_status_name(r->status),
			"relay", r->relay, "code", r->smtp.code, "dsn", r->smtp.dsn,
			"reply", clean(r->smtp.reply, reply, sizeof(reply)),
			"via", r->via_relay ? "relay" : "direct",
			"relay_name", r->via_relay ? r->relay_name : NULL,
			"fallback", r->fallback != DELIVER_FALLBACK_NONE
			                    ? deliver_fallback_name(r->fallback) : NULL));
	}
}

/* How many messages one pass may claim. A claimed message holds two
 * descriptors (its file and journal, locked) until it is done, and the
 * sessions need theirs: so the soft limit is first raised to the hard one,
 * and a pass takes at most half of what is left after a reserve for
 * sockets. What is not claimed stays queued for the next pass. */
static size_t claim_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000)
		return 250000;
	return rl.rlim_cur > 1024 ? (size_t)(rl.rlim_cur - 512) / 2 : 256;
}

static void on_run_note(void *arg, const char *text)
{
	(void)arg;
	log_line("warning: %s", text);
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int one_pass(struct queue_cli *o, struct queue *q, const struct conf *conf, int all)
{
	struct submit sub;
	struct submit_opts so;
	struct queue_sched_conf sc;
	struct queue_run_opts ro;
	struct queue_run_stats st;
	struct run_ctx rctx = { NULL };
	struct submit_relay relay;
	struct port25 p25;
	char relay_refused[1024];
	char hostname[SUBMIT_HOSTNAME_MAX], dns_list[CLI_DNS_LIST_MAX], err[1024];
	enum submit_fail fail;
	enum tls_level tls = (enum tls_level)conf->tls;
	int rc = EX_OK;

	memset(&sub, 0, sizeof(sub));
	memset(&relay, 0, sizeof(relay));
	if (o->tls != NULL && tls_level_parse(o->tls, &tls) < 0) {
		cli_error(o->cmd, "--tls '%s': expected none, may, encrypt or verify", o->tls);
		return EX_USAGE;
	}
	submit_hostname(o->hostname ? o->hostname : conf->hostname, hostname);
	cli_dns_list(&o->common, conf, dns_list, sizeof(dns_list));
	memset(&so, 0, sizeof(so));
	so.dns_servers = dns_list[0] ? dns_list : NULL;
	so.dns_timeout_ms = conf->timeout_dns * 1000u;
	if (o->common.timeout_set && o->common.timeout_ms < so.dns_timeout_ms)
		so.dns_timeout_ms = o->common.timeout_ms;
	so.ehlo_name = hostname;
	so.tls = tls;
	so.ca_file = o->ca_file ? o->ca_file : (conf->ca_file[0] ? conf->ca_file : NULL);
	submit_timeouts(conf, o->common.timeout_set ? o->common.timeout_ms : 0, &so.timeouts);
	so.max_sessions = o->max_sessions;
	/* Fallback and the blocked-port-25 memory apply to queue runs as
	 * to `mxsend send`: a deferred message whose MX is still unreachable
	 * goes by the relay on its retry. */
	port25_load(&p25, conf->state_dir, conf->port25_detect, conf->port25_block_time,
	            (int64_t)time(NULL));
	so.port25 = &p25;
	so.fallback = conf->fallback;
	so.note = on_run_note;
	so.trace = o->common.verbose ? log_transcript : NULL;
	if (so.fallback != 0 && conf->nrelays > 0) {
		if (submit_relay_open(conf, NULL, 1, &relay, &fail, err, sizeof(err)) == 0) {
			so.relay = &relay;
		} else {
			snprintf(relay_refused, sizeof(relay_refused), "%s", err);
			so.relay_refused = relay_refused;
			so.relay_name = relay.conf != NULL ? relay.conf->name : NULL;
			log_line("warning: relay fallback is not available for this run: %s", err);
		}
	}
	if (submit_open(&sub, &so, &fail, err, sizeof(err)) < 0) {
		cli_error(o->cmd, "%s", err);
		submit_close(&sub);
		submit_relay_free(&relay);
		return fail == SUBMIT_FAIL_DNS ? EX_CONFIG : EX_OSERR;
	}
	cli_queue_sched(conf, &sc);
	memset(&ro, 0, sizeof(ro));
	ro.q = q;
	ro.sched = &sc;
	ro.now = cli_queue_now();
	ro.all = all;
	ro.only_id = o->only_id;
	ro.max_messages = claim_limit();
	ro.hostname = hostname;
	ro.on_result = on_run_result;
	ro.arg = &rctx;
	if (o->common.json)
		rctx.outcomes = json_array();
	if (queue_run_pass(&sub, &so, &ro, &st, err, sizeof(err)) < 0) {
		cli_error(o->cmd, "%s", err);
		rc = EX_IOERR;
	} else if (st.errors > 0) {
		rc = EX_IOERR;
	}
	if (o->common.json) {
		json_t *doc = json_pack("{s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
		                        "now", (json_int_t)ro.now, "flush", all,
		                        "messages", (json_int_t)st.messages,
		                        "sent", (json_int_t)st.sent,
		                        "deferred", (json_int_t)st.deferred,
		                        "failed", (json_int_t)st.failed,
		                        "bounces", (json_int_t)st.bounces,
		                        "finished", (json_int_t)st.finished,
		                        "errors", (json_int_t)st.errors,
		                        "recipients", rctx.outcomes);

		json_dumpf(doc, stdout, o->daemon ? JSON_COMPACT | JSON_ENSURE_ASCII
		                                  : JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		fflush(stdout);
		json_decref(doc);
	} else if (!o->daemon || st.messages > 0) {
		printf("%zu message%s: %zu recipient%s sent, %zu deferred, %zu failed; %zu report%s "
		       "queued, %zu message%s done\n", st.messages, st.messages == 1 ? "" : "s",
		       st.sent, st.sent == 1 ? "" : "s", st.deferred, st.failed, st.bounces,
		       st.bounces == 1 ? "" : "s", st.finished, st.finished == 1 ? "" : "s");
		fflush(stdout);
	}
	if (port25_save(&p25, err, sizeof(err)) < 0)
		log_line("warning: the blocked-port-25 memory was not saved: %s", err);
	submit_close(&sub);
	submit_relay_free(&relay);
	return rc;
}

static int do_run(struct queue_cli *o, struct queue *q, const struct conf *conf, int all)
{
	struct sigaction sa;
	int rc;

	if (!o->daemon)
		return one_pass(o, q, conf, all);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_line("queue runner started, a pass every %u s", o->interval);
	while (!stop_requested) {
		rc = one_pass(o, q, conf, all);
		if (rc == EX_USAGE || rc == EX_CONFIG)
			return rc;
		for (unsigned s = 0; s < o->interval && !stop_requested; s++)
			sleep(1);
	}
	log_line("queue runner stopped");
	return EX_OK;
}

int cli_queue_deliver_id(const struct cli_common *common, const struct conf *conf,
                         struct queue *q, const char *id, const char *hostname,
                         const char *tls, const char *ca_file)
{
	struct queue_cli o;

	memset(&o, 0, sizeof(o));
	o.common = *common;
	o.common.json = 0;
	o.hostname = hostname;
	o.tls = tls;
	o.ca_file = ca_file;
	o.only_id = id;
	o.daemon = 1; /* quiet: no summary line */
	o.cmd = "sendmail";
	return one_pass(&o, q, conf, 1);
}

static void queue_usage(FILE *out)
{
	fputs("usage: mxsend queue list|show ID|run|flush|delete ID [options]\n"
	      "  list          the queued messages, recipients, next attempt, last error\n"
	      "  show ID       one message with its content\n"
	      "  run           one pass over what is due; --daemon: a pass every --interval\n"
	      "                seconds (default 60) until SIGTERM\n"
	      "  flush         one pass over everything, due or not\n"
	      "  delete ID     remove a message without delivering it\n"
	      "options: [--json] [--config FILE] [--queue-dir DIR] [--dns HOST[:PORT]]...\n"
	      "         [--timeout SECONDS] [--tls none|may|encrypt|verify] [--ca-file FILE]\n"
	      "         [--hostname NAME] [--max-sessions N] [--syslog] [-v]\n", out);
}

int cli_queue(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "queue-dir", required_argument, NULL, 1 },
		{ "hostname", required_argument, NULL, 2 },
		{ "tls", required_argument, NULL, 3 },
		{ "ca-file", required_argument, NULL, 4 },
		{ "max-sessions", required_argument, NULL, 5 },
		{ "daemon", no_argument, NULL, 6 },
		{ "interval", required_argument, NULL, 7 },
		{ "syslog", no_argument, NULL, 8 },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_cli o;
	struct conf conf;
	struct queue *q = NULL;
	const char *sub, *id = NULL;
	char cmd[64];
	unsigned long v;
	int opt, rc = EX_USAGE, nargs;

	memset(&o, 0, sizeof(o));
	o.interval = 60;
	o.cmd = "queue";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		int c = cli_common_opt(&o.common, opt, optarg, "queue");

		if (c < 0)
			return EX_USAGE;
		if (c > 0)
			continue;
		switch (opt) {
		case 'h': queue_usage(stdout); return EX_OK;
		case 1: o.queue_dir = optarg; break;
		case 2: o.hostname = optarg; break;
		case 3: o.tls = optarg; break;
		case 4: o.ca_file = optarg; break;
		case 5:
			if (cli_parse_uint(optarg, 1, 10000, &v) < 0) {
				cli_error("queue", "--max-sessions '%s': expected 1 to 10000", optarg);
				return EX_USAGE;
			}
			o.max_sessions = (unsigned)v;
			break;
		case 6: o.daemon = 1; break;
		case 7:
			if (cli_parse_uint(optarg, 1, 86400, &v) < 0) {
				cli_error("queue", "--interval '%s': expected 1 to 86400 seconds", optarg);
				return EX_USAGE;
			}
			o.interval = (unsigned)v;
			o.daemon = 1;
			break;
		case 8: o.syslog = 1; break;
		case ':':
			cli_error("queue", "option '%s' needs a value", argv[optind - 1]);
			return EX_USAGE;
		default:
			cli_error("queue", "unknown option '%s'", argv[optind - 1]);
			queue_usage(stderr);
			return EX_USAGE;
		}
	}
	nargs = argc - optind;
	if (nargs < 1) {
		queue_usage(stderr);
		return EX_USAGE;
	}
	sub = argv[optind];
	snprintf(cmd, sizeof(cmd), "queue %s", sub);
	o.cmd = cmd;
	if (strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0) {
		if (nargs != 2) {
			cli_error(cmd, "expected one queue ID");
			return EX_USAGE;
		}
		id = argv[optind + 1];
		if (!queue_id_valid(id)) {
			cli_error(cmd, "'%s' is not a queue ID (letters A-Z and digits)", id);
			return EX_USAGE;
		}
	} else if (strcmp(sub, "list") == 0 || strcmp(sub, "run") == 0 ||
	           strcmp(sub, "flush") == 0) {
		if (nargs != 1) {
			cli_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
			return EX_USAGE;
		}
	} else {
		cli_error("queue", "unknown queue command '%s' (list, show, run, flush, delete)", sub);
		return EX_USAGE;
	}
	if (o.daemon && strcmp(sub, "run") != 0) {
		cli_error(cmd, "--daemon and --interval go with 'queue run'");
		return EX_USAGE;
	}
	if ((rc = cli_load_conf(&o.common, &conf, cmd)) != 0)
		return rc;
	log_open(o.syslog ? LOG_SINK_SYSLOG : LOG_SINK_STDERR);
	q = cli_queue_open(&conf, o.queue_dir, cmd, &rc);
	if (q == NULL)
		return rc;
	if (strcmp(sub, "list") == 0)
		rc = do_list(&o, q);
	else if (strcmp(sub, "show") == 0)
		rc = do_show(&o, q, id);
	else if (strcmp(sub, "delete") == 0)
		rc = do_delete(&o, q, id);
	else
		rc = do_run(&o, q, &conf, strcmp(sub, "flush") == 0);
	q->ops->close(q);
	if (fflush(stdout) != 0 && rc == EX_OK)
		rc = EX_IOERR;
	return rc;
}
