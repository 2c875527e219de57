/*
 * send: see send.h.
 *
 * Steps: read the inputs (files, stdin) with size limits; compose the
 * message (msg_compose) or parse the one given (msg_parse + msg_prepare);
 * render it, check it and dot-stuff it once; then either explain the
 * route (--dry-run) or deliver (deliver.c) and report. Input problems
 * exit 64/65 before anything is sent.
 */
#include "config.h"

#include "send.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "deliver.h"
#include "dns.h"
#include "log.h"
#include "loop.h"
#include "msg.h"
#include "msg_compose.h"
#include "route.h"
#include "route_out.h"
#include "smtp_data.h"
#include "status.h"
#include "tls_client.h"
#include "tls_policy.h"

#define SEND_INPUT_MAX MSG_SIZE_MAX_DEFAULT

/* Everything one run holds; freed in send_run's done: block. */
struct send_state {
	struct send_opts *o;
	struct conf conf;
	char hostname[256];
	char queue_id[16];
	char message_id[MSG_MSGID_MAX];
	struct msg *msg;
	struct addr sender;
	struct addr_list rcpts;
	char *rendered;
	size_t rendered_len;
	struct buf wire;               /* dot-stuffed */
	struct msg_info info;
	struct deliver_rcpt *drcpts;
	json_t *json_rcpts;            /* --json */
	int exit_code;
	enum tls_level tls;
	char *inputs[3 + SEND_LIST_MAX]; /* file contents to free */
	size_t ninputs;
};

/* The unfolded value of the first field called name, or NULL; the
 * caller frees it. */
static char *header_value(const struct msg *m, const char *name)
{
	long i = hdr_list_find(&m->hdrs, name, 0);

	if (i < 0)
		return NULL;
	return hdr_unfold(m->hdrs.v[i].value, m->hdrs.v[i].value_len);
}

static int err_exit(struct send_state *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int err_exit(struct send_state *st, int code, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error(st->o->cmd, "%s", msg);
	return code;
}

/* Reads a whole stream, at most max octets. With dot_ends, a line that is
 * a lone "." ends the input (sendmail without -i). */
static int read_stream(FILE *f, size_t max, int dot_ends, char **out, size_t *outlen,
                       char *err, size_t errlen)
{
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (dot_ends) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t l;

		while ((l = getline(&line, &cap, f)) > 0) {
			if (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0 || strcmp(line, ".") == 0)
				break;
			if (b.len + (size_t)l > max) {
				free(line);
				buf_free(&b);
				snprintf(err, errlen, "the message is larger than %zu octets", max);
				return -1;
			}
			buf_append(&b, line, (size_t)l);
		}
		free(line);
	} else {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
			if (b.len + n > max) {
				buf_free(&b);
				snprintf(err, errlen, "the message is larger than %zu octets", max);
				return -1;
			}
			buf_append(&b, chunk, n);
		}
	}
	if (ferror(f)) {
		buf_free(&b);
		snprintf(err, errlen, "read error: %s", strerror(errno));
		return -1;
	}
	*out = buf_steal(&b, outlen);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int read_file(struct send_state *st, const char *path, char **out, size_t *len)
{
	FILE *f;
	char err[256];
	struct stat sb;
	int rc;

	if (strcmp(path, "-") == 0) {
		if (read_stream(stdin, SEND_INPUT_MAX, 0, out, len, err, sizeof(err)) < 0)
			return err_exit(st, EX_DATAERR, "standard input: %s", err);
		st->inputs[st->ninputs++] = *out;
		return 0;
	}
	f = fopen(path, "rb");
	if (f == NULL)
		return err_exit(st, EX_NOINPUT, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fclose(f);
		return err_exit(st, EX_NOINPUT, "%s is not a regular file", path);
	}
	rc = read_stream(f, SEND_INPUT_MAX, 0, out, len, err, sizeof(err));
	fclose(f);
	if (rc < 0)
		return err_exit(st, EX_DATAERR, "%s: %s", path, err);
	if (st->ninputs < sizeof(st->inputs) / sizeof(st->inputs[0]))
		st->inputs[st->ninputs++] = *out;
	return 0;
}

static void make_stamp(struct send_state *st, struct msg_stamp *stamp)
{
	time_t now = time(NULL);
	struct tm tm;

	memset(stamp, 0, sizeof(*stamp));
	stamp->time = (int64_t)now;
	localtime_r(&now, &tm);
	stamp->tz_offset_min = (int)(tm.tm_gmtoff / 60);
	if (getrandom(stamp->random, sizeof(stamp->random), 0) != (ssize_t)sizeof(stamp->random)) {
		/* Uniqueness, not secrecy: time and pid still differ per run. */
		for (size_t i = 0; i < sizeof(stamp->random); i++)
			stamp->random[i] = (uint8_t)((uint64_t)now >> (i % 8 * 8) ^ (uint64_t)getpid() >> (i % 4));
	}
	stamp->hostname = st->hostname;
}

static void pick_hostname(struct send_state *st)
{
	const char *h = st->o->hostname ? st->o->hostname : st->conf.hostname;

	if (h != NULL && h[0] != '\0') {
		snprintf(st->hostname, sizeof(st->hostname), "%s", h);
		return;
	}
	if (gethostname(st->hostname, sizeof(st->hostname)) != 0 || st->hostname[0] == '\0')
		snprintf(st->hostname, sizeof(st->hostname), "localhost");
	st->hostname[sizeof(st->hostname) - 1] = '\0';
}

/* The envelope sender: --from, else the From field's address, else the
 * user at this host (what sendmail does). */
static int pick_sender(struct send_state *st)
{
	char err[256];
	const char *from = st->o->from;

	if (from != NULL) {
		/* "-f <>" and "--from ''" are the null reverse path (bounces). */
		if (addr_parse_path(from, 1, &st->sender, err, sizeof(err)) == 0)
			return 0;
		if (addr_parse_mailbox(from, &st->sender, err, sizeof(err)) == 0)
			return 0;
		return err_exit(st, EX_DATAERR, "sender '%s': %s", from, err);
	}
	if (st->msg != NULL) {
		char *v = header_value(st->msg, "From");
		struct addr_list l = { 0 };
		int found = v != NULL && addr_parse_list(v, &l, err, sizeof(err)) == 0 && l.n >= 1;

		if (found)
			st->sender = l.v[0];
		addr_list_free(&l);
		free(v);
		if (found)
			return 0;
	}
	{
		const char *user = getenv("USER");
		char path[600];

		snprintf(path, sizeof(path), "%s@%s", user && user[0] ? user : "root", st->hostname);
		if (addr_parse_path(path, 0, &st->sender, err, sizeof(err)) < 0)
			return err_exit(st, EX_DATAERR, "no --from given and '%s' is not a usable "
			                "sender (%s): give --from ADDRESS", path, err);
	}
	return 0;
}

/* The addresses of a recipient list as a set, for the duplicate check:
 * open addressing over indices into the list (index + 1; 0 is an empty
 * slot). A linear search per address (addr_list_find) made 5000
 * command-line recipients cost 12.5 million string comparisons, a
 * quarter of the CPU time of the whole run (tests/bench/send-bench). */
struct rcpt_set {
	size_t *slot;  /* index + 1 into the list, 0 = empty */
	size_t cap;    /* slots, a power of two, at least twice the entries */
};

static size_t rcpt_hash(const char *s)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

static void rcpt_set_put(struct rcpt_set *set, const struct addr_list *l, size_t i)
{
	size_t h = rcpt_hash(l->v[i].addr) & (set->cap - 1);

	while (set->slot[h] != 0)
		h = (h + 1) & (set->cap - 1);
	set->slot[h] = i + 1;
}

static int rcpt_set_has(const struct rcpt_set *set, const struct addr_list *l, const char *addr)
{
	size_t h = rcpt_hash(addr) & (set->cap - 1);

	for (; set->slot[h] != 0; h = (h + 1) & (set->cap - 1))
		if (strcmp(l->v[set->slot[h] - 1].addr, addr) == 0)
			return 1;
	return 0;
}

/* Makes room for want entries, indexing the list's current ones again.
 * Returns -1 when out of memory. */
static int rcpt_set_grow(struct rcpt_set *set, const struct addr_list *l, size_t want)
{
	size_t cap = 64;
	size_t *slot;

	while (cap < want * 2)
		cap *= 2;
	if (cap <= set->cap)
		return 0;
	slot = calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return -1;
	free(set->slot);
	set->slot = slot;
	set->cap = cap;
	for (size_t i = 0; i < l->n; i++)
		rcpt_set_put(set, l, i);
	return 0;
}

static int add_cmdline_rcpts(struct send_state *st)
{
	char err[256];
	struct rcpt_set set = { NULL, 0 };
	int rc = 0;

	if (rcpt_set_grow(&set, &st->rcpts, st->rcpts.n + st->o->nrcpts) < 0) {
		rc = err_exit(st, EX_OSERR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < st->o->nrcpts; i++) {
		struct addr_list l = { 0 };

		if (addr_parse_list(st->o->rcpts[i], &l, err, sizeof(err)) < 0) {
			addr_list_free(&l);
			rc = err_exit(st, EX_DATAERR, "recipient '%s': %s", st->o->rcpts[i], err);
			goto done;
		}
		for (size_t j = 0; j < l.n; j++) {
			if (rcpt_set_has(&set, &st->rcpts, l.v[j].addr))
				continue;
			if (rcpt_set_grow(&set, &st->rcpts, st->rcpts.n + 1) < 0) {
				addr_list_free(&l);
				rc = err_exit(st, EX_OSERR, "out of memory");
				goto done;
			}
			if (addr_list_add(&st->rcpts, &l.v[j], err, sizeof(err)) < 0) {
				addr_list_free(&l);
				rc = err_exit(st, EX_DATAERR, "%s", err);
				goto done;
			}
			rcpt_set_put(&set, &st->rcpts, st->rcpts.n - 1);
		}
		addr_list_free(&l);
	}
done:
	free(set.slot);
	return rc;
}

static int compose_mode(const struct send_opts *o)
{
	return o->text_file || o->html_file || o->nattach || o->subject || o->nto || o->ncc ||
	       o->nbcc || o->from_name;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int build_composed(struct send_state *st, const struct msg_stamp *stamp)
{
	struct send_opts *o = st->o;
	struct msg_compose_opts c;
	struct msg_attachment att[SEND_LIST_MAX];
	char from[1024], err[512];
	int rc;

	memset(&c, 0, sizeof(c));
	if (o->from == NULL) {
		snprintf(from, sizeof(from), "%s", st->sender.addr);
		c.from = from;
	} else {
		c.from = o->from;
	}
	c.from_name = o->from_name;
	c.to = o->to;
	c.nto = o->nto;
	c.cc = o->cc;
	c.ncc = o->ncc;
	c.bcc = o->bcc;
	c.nbcc = o->nbcc;
	c.reply_to = o->reply_to;
	c.nreply_to = o->nreply_to;
	c.subject = o->subject;
	c.headers = o->headers;
	c.nheaders = o->nheaders;
	c.stamp = stamp;
	if (o->text_file) {
		char *text;

		if ((rc = read_file(st, o->text_file, &text, &c.text_len)) != 0)
			return rc;
		c.text = text;
	}
	if (o->html_file) {
		char *html;

		if ((rc = read_file(st, o->html_file, &html, &c.html_len)) != 0)
			return rc;
		c.html = html;
	}
	for (size_t i = 0; i < o->nattach; i++) {
		char *data;
		size_t len;

		if ((rc = read_file(st, o->attach[i], &data, &len)) != 0)
			return rc;
		att[i] = (struct msg_attachment){ .name = base_name(o->attach[i]), .data = data,
		                                  .len = len, .content_type = NULL };
	}
	c.attach = att;
	c.nattach = o->nattach;
	if (c.text == NULL && c.html == NULL && o->nattach == 0) {
		c.text = "";
		c.text_len = 0;
	}
	if (msg_compose(&c, &st->msg, &st->rcpts, err, sizeof(err)) < 0)
		return err_exit(st, EX_DATAERR, "%s", err);
	return 0;
}

static int build_parsed(struct send_state *st, const struct msg_stamp *stamp)
{
	struct send_opts *o = st->o;
	char *data = NULL;
	size_t len = 0;
	char err[512];
	int rc;

	if (o->message_file != NULL) {
		if ((rc = read_file(st, o->message_file, &data, &len)) != 0)
			return rc;
	} else {
		if (isatty(STDIN_FILENO))
			fprintf(stderr, "mxsend %s: reading the message from standard input "
			        "(end with Ctrl-D)\n", o->cmd);
		if (read_stream(stdin, SEND_INPUT_MAX, o->dot_ends_input, &data, &len, err,
		                sizeof(err)) < 0)
			return err_exit(st, EX_DATAERR, "standard input: %s", err);
		st->inputs[st->ninputs++] = data;
	}
	if (len == 0)
		return err_exit(st, EX_DATAERR, "the message is empty (nothing on standard input)");
	if (msg_parse(data, len, NULL, &st->msg, err, sizeof(err)) < 0)
		return err_exit(st, EX_DATAERR, "the message cannot be sent as it is: %s", err);
	if ((rc = pick_sender(st)) != 0)
		return rc;
	if (msg_prepare(st->msg, stamp, &st->sender, o->from_headers ? &st->rcpts : NULL, err,
	                sizeof(err)) < 0)
		return err_exit(st, EX_DATAERR, "%s", err);
	return 0;
}

/* ---- results ---- */

static json_t *rcpt_json(const struct send_state *st, const struct deliver_rcpt *r)
{
	json_t *tls = json_null();

	if (r->tls_version[0] != '\0')
		tls = json_pack("{s:s, s:s, s:b}", "version", r->tls_version, "cipher", r->tls_cipher,
		                "verified", r->tls_verified);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:n, s:s}",
	                 "address", r->address, "domain", r->domain,
	                 "status", deliver_status_name(r->status), "via", "direct",
	                 "relay", r->relay, "reply", r->smtp.reply, "code", r->smtp.code,
	                 "tls", tls, "delay_ms", (json_int_t)r->delay_ms, "queue_id",
	                 "dsn", r->smtp.dsn[0] ? r->smtp.dsn : "4.0.0");
	(void)st;
}

static void on_result(void *arg, const struct deliver_msg *msg, const struct deliver_rcpt *r)
{
	struct send_state *st = arg;
	char line[2048];

	(void)msg;
	log_format_delivery(line, sizeof(line), st->queue_id, r);
	log_line("%s", line);
	switch (r->status) {
	case DELIVER_SENT:
		break;
	case DELIVER_BOUNCED:
		st->exit_code = status_exit_worst(st->exit_code, EX_UNAVAILABLE);
		break;
	case DELIVER_DEFERRED:
		st->exit_code = status_exit_worst(st->exit_code, EX_TEMPFAIL);
		break;
	}
}

static void on_trace(void *arg, const char *peer, char dir, const char *line, size_t len)
{
	char clean[1200];

	(void)arg;
	log_redact_line(clean, sizeof(clean), line, len, 0);
	fprintf(stderr, "%s %s %s\n", peer, dir == '>' ? "<<<" : dir == '<' ? ">>>" : "***", clean);
}

static void print_human(const struct send_state *st)
{
	for (size_t i = 0; i < st->rcpts.n; i++) {
		const struct deliver_rcpt *r = &st->drcpts[i];

		printf("%s: %s", r->address, deliver_status_name(r->status));
		if (r->status == DELIVER_SENT)
			printf(" via %s%s%s: %s\n", r->relay, r->tls_version[0] ? " with " : " without TLS",
			       r->tls_version, r->smtp.reply);
		else
			printf(" (%s %s)\n", r->smtp.dsn, r->smtp.reply);
		if (r->status == DELIVER_DEFERRED)
			printf("  NOT delivered: this version of mxsend has no queue, so the message "
			       "was not kept for a retry; send it again later\n");
	}
}

/* ---- --dry-run ---- */

struct dry_item {
	struct send_state *st;
	struct route_result *res;
};

static void on_dry_routed(void *arg, struct route_result *res)
{
	struct dry_item *it = arg;

	it->res = res;
}

static const char *tls_meaning(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_NONE: return "plaintext, STARTTLS never used";
	case TLS_LEVEL_MAY: return "STARTTLS when offered, any certificate; plaintext otherwise";
	case TLS_LEVEL_ENCRYPT: return "STARTTLS required, any certificate; else the host is skipped";
	case TLS_LEVEL_VERIFY: return "STARTTLS required and a certificate valid for the MX name; "
	                              "else the host is skipped";
	default: return "";
	}
}

static int dry_run(struct send_state *st, struct loop *loop, struct route_ctx *rctx)
{
	struct dry_item *items = calloc(st->rcpts.n, sizeof(*items));
	json_t *arr = json_array();
	int code = EX_OK;

	if (items == NULL || arr == NULL) {
		free(items);
		json_decref(arr);
		return err_exit(st, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < st->rcpts.n; i++) {
		struct domain_target t;
		char err[256];

		items[i].st = st;
		if (domain_parse(st->rcpts.v[i].domain, &t, err, sizeof(err)) < 0)
			items[i].res = route_result_invalid(st->rcpts.v[i].domain, err);
		else
			route_lookup(rctx, st->rcpts.v[i].domain, &t, i, on_dry_routed, &items[i]);
	}
	loop_run(loop);
	for (size_t i = 0; i < st->rcpts.n; i++) {
		const struct route_result *res = items[i].res;
		const char *addr = st->rcpts.v[i].addr;
		const char *would;

		if (res == NULL)
			continue;
		switch (res->status) {
		case ROUTE_OK: would = "would be delivered directly, trying the hosts in this order"; break;
		case ROUTE_PERMANENT: would = "would bounce"; code = status_exit_worst(code, EX_UNAVAILABLE); break;
		case ROUTE_TEMPORARY: would = "would be deferred"; code = status_exit_worst(code, EX_TEMPFAIL); break;
		default: would = "would be refused"; code = status_exit_worst(code, EX_DATAERR); break;
		}
		if (st->o->common.json) {
			json_t *r = route_out_json(res);

			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
			                      "address", addr, "domain", st->rcpts.v[i].domain,
			                      "decision", would, "route", r ? r : json_null(),
			                      "tls_policy", tls_level_name(st->tls),
			                      "tls_meaning", tls_meaning(st->tls),
			                      "fallback", "none: relay fallback is not available in "
			                      "this version"));
		} else {
			printf("%s: %s\n", addr, would);
			route_out_text(stdout, res);
			if (res->status == ROUTE_OK)
				printf("  TLS policy %s for every host: %s\n", tls_level_name(st->tls),
				       tls_meaning(st->tls));
			printf("  relay fallback: none (not available in this version)\n");
		}
	}
	if (st->o->common.json) {
		json_t *doc = json_pack("{s:b, s:s, s:s, s:I, s:o}", "dry_run", 1,
		                        "from", st->sender.addr, "message_id", st->message_id,
		                        "size", (json_int_t)st->info.size, "recipients", arr);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		json_decref(arr);
	}
	for (size_t i = 0; i < st->rcpts.n; i++)
		route_result_free(items[i].res);
	free(items);
	return code;
}

/* ---- the run ---- */

static int load_settings(struct send_state *st)
{
	struct send_opts *o = st->o;
	int rc = cli_load_conf(&o->common, &st->conf, o->cmd);

	if (rc != 0)
		return rc;
	st->tls = (enum tls_level)st->conf.tls;
	if (o->tls != NULL && tls_level_parse(o->tls, &st->tls) < 0)
		return err_exit(st, EX_USAGE, "--tls '%s': expected none, may, encrypt or verify", o->tls);
	if (o->via != NULL && strcmp(o->via, "direct") != 0 && strcmp(o->via, "auto") != 0) {
		if (strcmp(o->via, "relay") == 0)
			return err_exit(st, EX_UNAVAILABLE, "--via relay: relay delivery is not "
			                "available in this version of mxsend");
		return err_exit(st, EX_USAGE, "--via '%s': expected direct, relay or auto", o->via);
	}
	pick_hostname(st);
	return 0;
}

static int build_message(struct send_state *st)
{
	struct msg_stamp stamp;
	char err[512];
	size_t bad;
	int rc;

	make_stamp(st, &stamp);
	if (compose_mode(st->o)) {
		if (st->o->from_headers)
			return err_exit(st, EX_USAGE, "-t reads recipients from a message on standard "
			                "input; it does not go with --text/--html/--to/... options");
		if ((rc = pick_sender(st)) != 0 || (rc = build_composed(st, &stamp)) != 0)
			return rc;
	} else if ((rc = build_parsed(st, &stamp)) != 0) {
		return rc;
	}
	if ((rc = add_cmdline_rcpts(st)) != 0)
		return rc;
	if (st->rcpts.n == 0)
		return err_exit(st, EX_USAGE, "no recipients: name them as arguments%s",
		                st->o->from_headers ? " or in To/Cc/Bcc" : ", with --to, or use -t");
	if (msg_render(st->msg, &st->rendered, &st->rendered_len, err, sizeof(err)) < 0)
		return err_exit(st, EX_DATAERR, "the message cannot be sent: %s", err);
	msg_info(st->msg, &st->info);
	{
		char *mid = header_value(st->msg, "Message-ID");

		snprintf(st->message_id, sizeof(st->message_id), "%s", mid ? mid : "");
		free(mid);
	}
	if (smtp_data_stuff(st->rendered, st->rendered_len, &st->wire, &bad) < 0)
		return err_exit(st, EX_DATAERR, "the message has a bare CR or LF at octet %zu; it "
		                "is never sent that way (SMTP smuggling)", bad);
	return 0;
}

static int deliver_all(struct send_state *st, struct loop *loop, struct route_ctx *rctx)
{
	struct deliver_opts dopts;
	struct deliver_msg dmsg;
	char err[512];
	void *ssl_ctx = NULL;
	int rc = 0;
	unsigned ms = 1000;

	st->drcpts = calloc(st->rcpts.n, sizeof(*st->drcpts));
	if (st->drcpts == NULL)
		return err_exit(st, EX_OSERR, "out of memory");
	for (size_t i = 0; i < st->rcpts.n; i++) {
		snprintf(st->drcpts[i].address, sizeof(st->drcpts[i].address), "%s", st->rcpts.v[i].addr);
		snprintf(st->drcpts[i].domain, sizeof(st->drcpts[i].domain), "%s", st->rcpts.v[i].domain);
	}
	if (st->tls != TLS_LEVEL_NONE) {
		const char *ca = st->o->ca_file ? st->o->ca_file : st->conf.ca_file;

		ssl_ctx = tls_client_ctx_new(ca, err, sizeof(err));
		if (ssl_ctx == NULL)
			return err_exit(st, EX_CONFIG, "%s", err);
	}
	memset(&dopts, 0, sizeof(dopts));
	dopts.ehlo_name = st->hostname;
	dopts.tls = st->tls;
	dopts.ssl_ctx = ssl_ctx;
	dopts.timeouts = (struct smtp_timeouts){
		.connect = st->conf.timeout_connect * ms, .greeting = st->conf.timeout_greeting * ms,
		.ehlo = st->conf.timeout_ehlo * ms, .starttls = st->conf.timeout_starttls * ms,
		.mail = st->conf.timeout_mail * ms, .rcpt = st->conf.timeout_rcpt * ms,
		.data = st->conf.timeout_data * ms, .data_end = st->conf.timeout_data_end * ms,
		.rset = 20 * ms, .quit = st->conf.timeout_quit * ms,
	};
	if (st->o->common.timeout_set) {
		/* --timeout caps every step, for scripts that cannot wait minutes. */
		unsigned *t = &dopts.timeouts.connect;

		for (size_t i = 0; i < sizeof(dopts.timeouts) / sizeof(unsigned); i++)
			if (t[i] > st->o->common.timeout_ms)
				t[i] = st->o->common.timeout_ms;
	}
	dopts.max_sessions = st->o->max_sessions;
	dopts.no_pipelining = st->o->no_pipelining;
	dopts.on_result = on_result;
	dopts.trace = st->o->common.verbose ? on_trace : NULL;
	dopts.arg = st;
	memset(&dmsg, 0, sizeof(dmsg));
	dmsg.mail_from = st->sender.addr;
	dmsg.data = buf_head(&st->wire);
	dmsg.data_len = buf_avail(&st->wire);
	dmsg.size = st->rendered_len;
	dmsg.eightbit = st->info.body_8bit;
	dmsg.rcpts = st->drcpts;
	dmsg.nrcpts = st->rcpts.n;
	if (deliver_run(loop, rctx, &dopts, &dmsg, 1) < 0)
		rc = err_exit(st, EX_OSERR, "out of memory during delivery");
	if (ssl_ctx != NULL)
		SSL_CTX_free(ssl_ctx);
	return rc;
}

static void report(struct send_state *st)
{
	if (st->o->common.json) {
		json_t *arr = json_array();
		json_t *doc;

		for (size_t i = 0; i < st->rcpts.n; i++)
			json_array_append_new(arr, rcpt_json(st, &st->drcpts[i]));
		doc = json_pack("{s:s, s:s, s:s, s:I, s:o}", "queue_id", st->queue_id, "message_id",
		                st->message_id, "from", st->sender.addr, "size",
		                (json_int_t)st->rendered_len, "recipients", arr);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		print_human(st);
	}
}

int send_run(struct send_opts *o)
{
	struct send_state st;
	struct loop *loop = NULL;
	struct dns_resolver *dns = NULL;
	struct route_ctx *rctx = NULL;
	struct dns_config dcfg;
	struct route_opts ropts;
	char dns_list[CONF_DNS_MAX * 66];
	char err[512];
	uint8_t idb[5];
	int rc;

	memset(&st, 0, sizeof(st));
	st.o = o;
	if ((rc = load_settings(&st)) != 0)
		goto done;
	log_open(o->syslog ? LOG_SINK_SYSLOG : LOG_SINK_STDERR);
	if ((rc = build_message(&st)) != 0)
		goto done;
	if (getrandom(idb, sizeof(idb), 0) != (ssize_t)sizeof(idb))
		memset(idb, 0, sizeof(idb));
	snprintf(st.queue_id, sizeof(st.queue_id), "%02X%02X%02X%02X%02X", idb[0], idb[1], idb[2],
	         idb[3], idb[4]);
	dns_list[0] = '\0';
	if (o->common.ndns > 0) {
		snprintf(dns_list, sizeof(dns_list), "%s", o->common.dns);
	} else {
		for (size_t i = 0; i < st.conf.ndns; i++) {
			if (i > 0)
				strcat(dns_list, ",");
			strcat(dns_list, st.conf.dns[i]);
		}
	}
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.servers = dns_list[0] ? dns_list : NULL;
	dcfg.timeout_ms = st.conf.timeout_dns * 1000u;
	if (o->common.timeout_set && o->common.timeout_ms < dcfg.timeout_ms)
		dcfg.timeout_ms = o->common.timeout_ms;
	dcfg.tries = 2;
	memset(&ropts, 0, sizeof(ropts));
	ropts.seed = o->seed;
	ropts.seeded = o->seeded;
	loop = loop_new();
	if (loop == NULL) {
		rc = err_exit(&st, EX_OSERR, "cannot create the event loop");
		goto done;
	}
	dns = dns_resolver_new(loop, &dcfg, err, sizeof(err));
	if (dns == NULL) {
		rc = err_exit(&st, o->common.ndns ? EX_USAGE : EX_CONFIG, "%s", err);
		goto done;
	}
	rctx = route_ctx_new(loop, dns, &ropts);
	if (rctx == NULL) {
		rc = err_exit(&st, EX_OSERR, "out of memory");
		goto done;
	}
	if (o->dry_run) {
		rc = dry_run(&st, loop, rctx);
		goto done;
	}
	if ((rc = deliver_all(&st, loop, rctx)) != 0)
		goto done;
	report(&st);
	rc = st.exit_code;
done:
	route_ctx_free(rctx);
	dns_resolver_free(dns);
	loop_free(loop);
	free(st.drcpts);
	buf_free(&st.wire);
	free(st.rendered);
	msg_free(st.msg);
	addr_list_free(&st.rcpts);
	for (size_t i = 0; i < st.ninputs; i++)
		free(st.inputs[i]);
	if (fflush(stdout) != 0 && rc == EX_OK)
		rc = EX_IOERR;
	return rc;
}
