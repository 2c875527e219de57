/*
 * send: see send.h.
 *
 * Steps: read the inputs (files, stdin) with size limits; compose the
 * message (msg_compose) or parse the one given (msg_parse + msg_prepare);
 * render it, check it and dot-stuff it once; then either explain the
 * route (--dry-run) or deliver and report. Rendering, the resolver and
 * delivery are submit.c's, shared with the C API (api_send.c). Input
 * problems exit 64/65 before anything is sent.
 */
#include "config.h"

#include "send.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "loop.h"
#include "msg.h"
#include "msg_compose.h"
#include "port25.h"
#include "queue.h"
#include "queue_run.h"
#include "queue_sched.h"
#include "route.h"
#include "route_out.h"
#include "status.h"
#include "submit.h"
#include "tls_policy.h"

#define SEND_INPUT_MAX MSG_SIZE_MAX_DEFAULT

/* Everything one run holds; freed in send_run's done: block. */
struct send_state {
	struct send_opts *o;
	struct conf conf;
	char hostname[SUBMIT_HOSTNAME_MAX];
	char queue_id[QUEUE_ID_MAX];  /* the submission's, and its queue entry's */
	struct msg *msg;
	struct addr sender;
	struct addr_list rcpts;
	struct submit_wire wire;       /* rendered, dot-stuffed, Message-ID */
	struct deliver_rcpt *drcpts;
	json_t *json_rcpts;            /* --json */
	int exit_code;
	struct submit_relay relay;     /* the relay prepared for this message */
	char relay_refused[1024];      /* why the fallback relay cannot be used */
	enum tls_level tls;
	unsigned fallback;             /* enum conf_fallback bits for this run */
	int relay_only;                /* --via relay */
	struct port25 port25;          /* blocked-port-25 memory (port25.h) */
	char *inputs[3 + SEND_LIST_MAX]; /* file contents to free */
	size_t ninputs;
	int queued;                    /* deferred recipients were queued durably */
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
		/* Byte by byte, so that the size limit holds inside a line too
		 * (getline would first read a line of any length whole). */
		size_t line_start = 0;
		int c;

		while ((c = getc(f)) != EOF) {
			if (b.len >= max) {
				buf_free(&b);
				snprintf(err, errlen, "the message is larger than %zu octets", max);
				return -1;
			}
			buf_putc(&b, (char)c);
			if (c != '\n')
				continue;
			if ((b.len - line_start == 2 && memcmp(b.data + line_start, ".\n", 2) == 0) ||
			    (b.len - line_start == 3 && memcmp(b.data + line_start, ".\r\n", 3) == 0)) {
				b.len = line_start; /* the lone dot ends the input */
				b.data[b.len] = '\0';
				break;
			}
			line_start = b.len;
		}
		if (c == EOF && b.len - line_start == 1 && b.data[line_start] == '.') {
			b.len = line_start;
			b.data[b.len] = '\0';
		}
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

static void on_note(void *arg, const char *text)
{
	(void)arg;
	log_line("warning: %s", text);
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
		if (r->status == DELIVER_DEFERRED && st->queued)
			printf("  queued as %s: retried later by mxsend queue run\n", st->queue_id);
		else if (r->status == DELIVER_DEFERRED)
			printf("  NOT delivered and NOT queued (--no-queue): send it again later\n");
	}
}

/* ---- the queue ---- */

/* Stores the message durably for the recipients picked (all when drcpts
 * is NULL; else the deferred ones, with their outcome and the schedule
 * after this first attempt). Returns 0, or an exit code after printing
 * why: EX_IOERR when it could not be made durable (a full disk): the
 * message is then not accepted, and nothing half-written is visible. */
static int queue_store(struct send_state *st, struct queue *q)
{
	const char **addrs = calloc(st->rcpts.n ? st->rcpts.n : 1, sizeof(*addrs));
	struct queue_rcpt *res = NULL;
	struct queue_sched_state sched;
	struct queue_sched_conf sc;
	struct queue_new qn;
	enum queue_fail fail;
	char err[1200], id[QUEUE_ID_MAX];
	int64_t now = (int64_t)time(NULL);
	size_t n = 0;
	uint32_t rnd = 0;
	int rc = 0;

	if (addrs == NULL)
		return err_exit(st, EX_OSERR, "out of memory");
	if (st->drcpts != NULL && (res = calloc(st->rcpts.n, sizeof(*res))) == NULL) {
		free(addrs);
		return err_exit(st, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < st->rcpts.n; i++) {
		if (st->drcpts != NULL && st->drcpts[i].status != DELIVER_DEFERRED)
			continue;
		if (res != NULL)
			queue_run_result(&st->drcpts[i], now, &res[n]);
		addrs[n++] = st->rcpts.v[i].addr;
	}
	memset(&qn, 0, sizeof(qn));
	qn.sender = st->sender.addr;
	qn.rcpts = addrs;
	qn.nrcpts = n;
	qn.data = st->wire.rendered;
	qn.data_len = st->wire.rendered_len;
	qn.arrival = now;
	if (res != NULL) {
		cli_queue_sched(&st->conf, &sc);
		queue_sched_init(&sched, now);
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)now;
		(void)queue_sched_after_attempt(&sc, &sched, now, rnd);
		qn.results = res;
		qn.sched = &sched;
	}
	snprintf(id, sizeof(id), "%s", st->queue_id);
	if (q->ops->enqueue(q, &qn, id, &fail, err, sizeof(err)) < 0) {
		rc = err_exit(st, fail == QUEUE_FAIL_NOMEM ? EX_OSERR : EX_IOERR,
		              "the message could NOT be queued, so it is not accepted: %s", err);
		goto done;
	}
	snprintf(st->queue_id, sizeof(st->queue_id), "%s", id);
	st->queued = 1;
	log_line("%s: queued, from=<%s>, size=%zu, nrcpt=%zu", st->queue_id, st->sender.addr,
	         st->wire.rendered_len, n);
done:
	free(res);
	free(addrs);
	return rc;
}

/* After a foreground attempt: queue what was deferred (unless --no-queue). */
static int queue_deferred(struct send_state *st)
{
	struct queue *q;
	int rc = 0, any = 0;

	for (size_t i = 0; i < st->rcpts.n; i++)
		any |= st->drcpts[i].status == DELIVER_DEFERRED;
	if (!any || st->o->no_queue)
		return 0;
	if ((q = cli_queue_open(&st->conf, NULL, st->o->cmd, &rc)) == NULL)
		return rc == EX_CONFIG ? EX_CONFIG : EX_IOERR;
	rc = queue_store(st, q);
	q->ops->close(q);
	return rc;
}

/* sendmail: the message is queued durably first and only then is the
 * caller told it was accepted (exit 0); delivery runs in a detached
 * grandchild, as dma does, so cron or a web request is not held up. */
static int sendmail_queue_first(struct send_state *st)
{
	struct queue *q;
	pid_t pid;
	int rc = 0, status;

	if ((q = cli_queue_open(&st->conf, NULL, st->o->cmd, &rc)) == NULL)
		return rc == EX_CONFIG ? EX_CONFIG : EX_IOERR;
	if ((rc = queue_store(st, q)) != 0 || st->o->deliver_mode == 'q')
		goto done;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		/* Queued all the same: the next queue run delivers it. */
		log_line("%s: no background delivery (fork: %s); left for the queue runner",
		         st->queue_id, strerror(errno));
		goto done;
	}
	if (pid == 0) {
		int fd;

		setsid();
		if (fork() != 0)
			_exit(0);
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			if (!st->o->common.verbose)
				dup2(fd, STDERR_FILENO);
			close(fd);
		}
		_exit(cli_queue_deliver_id(&st->o->common, &st->conf, q, st->queue_id,
		                           st->hostname, st->o->tls, st->o->ca_file));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
done:
	q->ops->close(q);
	return rc;
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

/* What --dry-run says about the relay: which and when, in words. */
static void describe_fallback(const struct send_state *st, char *out, size_t outlen)
{
	const struct conf_relay *r;
	char err[256];

	if (st->relay_only || st->fallback != 0) {
		r = submit_relay_pick(&st->conf, st->o->relay, err, sizeof(err));
		if (r == NULL) {
			snprintf(out, outlen, "none: %s", st->conf.nrelays ? err : "no relay is configured");
			return;
		}
		if (st->relay_only) {
			snprintf(out, outlen, "relay only (--via relay): %s (%s:%u)", r->name, r->host,
			         r->port);
			return;
		}
		snprintf(out, outlen, "by relay %s (%s:%u) when direct delivery ends %s%s%s", r->name,
		         r->host, r->port,
		         st->fallback & CONF_FALLBACK_UNREACHABLE ? "unreachable " : "",
		         st->fallback & CONF_FALLBACK_DEFERRED ? "deferred " : "",
		         st->fallback & CONF_FALLBACK_REJECTED ? "rejected (5.7.x) " : "");
		if (strlen(out) > 0 && out[strlen(out) - 1] == ' ')
			out[strlen(out) - 1] = '\0';
		return;
	}
	snprintf(out, outlen, "never (fallback never, or --via direct)");
}

static int dry_run(struct send_state *st, struct loop *loop, struct route_ctx *rctx)
{
	struct dry_item *items = calloc(st->rcpts.n, sizeof(*items));
	json_t *arr = json_array();
	char fallback[512];
	int code = EX_OK;

	describe_fallback(st, fallback, sizeof(fallback));
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
			                      "fallback", fallback));
		} else {
			printf("%s: %s\n", addr, would);
			route_out_text(stdout, res);
			if (res->status == ROUTE_OK)
				printf("  TLS policy %s for every host: %s\n", tls_level_name(st->tls),
				       tls_meaning(st->tls));
			printf("  relay fallback: %s\n", fallback);
		}
	}
	if (st->o->common.json) {
		json_t *doc = json_pack("{s:b, s:s, s:s, s:I, s:o}", "dry_run", 1,
		                        "from", st->sender.addr, "message_id", st->wire.message_id,
		                        "size", (json_int_t)st->wire.info.size, "recipients", arr);

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
	char err[256];
	int rc = cli_load_conf(&o->common, &st->conf, o->cmd);

	if (rc != 0)
		return rc;
	st->tls = (enum tls_level)st->conf.tls;
	if (o->tls != NULL && tls_level_parse(o->tls, &st->tls) < 0)
		return err_exit(st, EX_USAGE, "--tls '%s': expected none, may, encrypt or verify", o->tls);
	st->fallback = st->conf.fallback;
	if (o->fallback != NULL &&
	    conf_fallback_parse(o->fallback, &st->fallback, err, sizeof(err)) < 0)
		return err_exit(st, EX_USAGE, "--fallback '%s': %s", o->fallback, err);
	if (o->via != NULL && strcmp(o->via, "direct") == 0) {
		if (o->fallback != NULL && st->fallback != 0)
			return err_exit(st, EX_USAGE, "--via direct never falls back to a relay; "
			                "drop --fallback or use --via auto");
		st->fallback = 0;
	} else if (o->via != NULL && strcmp(o->via, "relay") == 0) {
		st->relay_only = 1;
	} else if (o->via != NULL && strcmp(o->via, "auto") != 0) {
		return err_exit(st, EX_USAGE, "--via '%s': expected direct, relay or auto", o->via);
	}
	submit_hostname(o->hostname ? o->hostname : st->conf.hostname, st->hostname);
	return 0;
}

static int build_message(struct send_state *st)
{
	struct msg_stamp stamp;
	enum submit_fail fail;
	char err[512];
	int rc;

	submit_stamp(st->hostname, &stamp);
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
	if (submit_wire_make(st->msg, &st->wire, &fail, err, sizeof(err)) < 0)
		return err_exit(st, fail == SUBMIT_FAIL_DATA ? EX_DATAERR : EX_OSERR, "%s", err);
	return 0;
}

/* The relay for --via relay or for fallback (issue 4), made ready before
 * anything connects: picked, its From rules applied, its secret read.
 * With --via relay a relay that cannot be used (none, unknown, no
 * secret, a From its provider refuses) is a configuration error: 78,
 * nothing sent. For fallback it is not: direct delivery goes ahead, and a
 * recipient that would have fallen back keeps its direct outcome with
 * the reason (relay_refused). Without any relay section there is no
 * fallback and nothing to say. */
static int prepare_relay(struct send_state *st, struct submit_opts *so)
{
	enum submit_fail fail;
	char err[sizeof(st->relay_refused)];

	if (!st->relay_only && (st->fallback == 0 || st->conf.nrelays == 0))
		return 0;
	/* For fallback the secret waits until the relay is used: most runs
	 * never need it, and a password command may prompt. */
	if (submit_relay_prepare(&st->conf, st->o->relay, &st->wire, st->sender.addr,
	                         !st->relay_only, &st->relay,
	                         &fail, err, sizeof(err)) == 0) {
		so->relay = &st->relay;
		return 0;
	}
	if (st->relay_only || fail != SUBMIT_FAIL_CONFIG)
		return err_exit(st, fail == SUBMIT_FAIL_CONFIG ? EX_CONFIG : EX_OSERR, "%s", err);
	snprintf(st->relay_refused, sizeof(st->relay_refused), "%s", err);
	so->relay_refused = st->relay_refused;
	so->relay_name = st->relay.conf != NULL ? st->relay.conf->name : NULL;
	log_line("warning: relay fallback is not available for this message: %s", err);
	return 0;
}

static int deliver_all(struct send_state *st, struct submit *sub, struct submit_opts *so)
{
	enum submit_fail fail;
	char err[512];
	int rc;

	if ((rc = prepare_relay(st, so)) != 0)
		return rc;
	if (submit_deliver(sub, so, &st->wire, st->sender.addr, &st->rcpts, &st->drcpts, &fail, err,
	                   sizeof(err)) < 0)
		return err_exit(st, fail == SUBMIT_FAIL_TLS || fail == SUBMIT_FAIL_CONFIG ? EX_CONFIG
		                                                                        : EX_OSERR,
		                "%s", err);
	return 0;
}

/* sendmail(8) is silent when all went well: its output lands in cron
 * mail or a web page. Only what did not arrive is said, on stderr. */
static void report_sendmail(const struct send_state *st)
{
	for (size_t i = 0; i < st->rcpts.n; i++) {
		const struct deliver_rcpt *r = &st->drcpts[i];

		if (r->status == DELIVER_SENT)
			continue;
		fprintf(stderr, "sendmail: %s: %s (%s %s)%s\n", r->address,
		        deliver_status_name(r->status), r->smtp.dsn, r->smtp.reply,
		        r->status == DELIVER_DEFERRED && !st->queued ? "; NOT delivered and not "
		        "queued" : r->status == DELIVER_DEFERRED ? "; queued" : "");
	}
}

static void report(struct send_state *st)
{
	if (!st->o->common.json && strcmp(st->o->cmd, "sendmail") == 0) {
		report_sendmail(st);
		return;
	}
	if (st->o->common.json) {
		json_t *doc = submit_json(st->queue_id, st->wire.message_id, st->sender.addr,
		                          st->wire.rendered_len, st->drcpts, st->rcpts.n);
		json_t *arr = json_object_get(doc, "recipients");

		/* A deferred recipient that was queued names its queue entry. */
		for (size_t i = 0; st->queued && i < st->rcpts.n && i < json_array_size(arr); i++)
			if (st->drcpts[i].status == DELIVER_DEFERRED)
				json_object_set_new(json_array_get(arr, i), "queue_id",
				                    json_string(st->queue_id));

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
	struct submit sub;
	struct submit_opts so;
	enum submit_fail fail;
	char dns_list[CLI_DNS_LIST_MAX];
	char err[512];
	int rc;

	memset(&st, 0, sizeof(st));
	memset(&sub, 0, sizeof(sub));
	st.o = o;
	if ((rc = load_settings(&st)) != 0)
		goto done;
	/* As sendmail, log lines go to syslog (mail facility) like every MTA's,
	 * unless -v asks to watch; as mxsend send, to stderr unless --syslog. */
	log_open(o->syslog || (strcmp(o->cmd, "sendmail") == 0 && !o->common.verbose)
	         ? LOG_SINK_SYSLOG : LOG_SINK_STDERR);
	if ((rc = build_message(&st)) != 0)
		goto done;
	submit_queue_id(st.queue_id);
	cli_dns_list(&o->common, &st.conf, dns_list, sizeof(dns_list));
	memset(&so, 0, sizeof(so));
	so.dns_servers = dns_list[0] ? dns_list : NULL;
	so.dns_timeout_ms = st.conf.timeout_dns * 1000u;
	if (o->common.timeout_set && o->common.timeout_ms < so.dns_timeout_ms)
		so.dns_timeout_ms = o->common.timeout_ms;
	so.seed = o->seed;
	so.seeded = o->seeded;
	so.ehlo_name = st.hostname;
	so.tls = st.tls;
	so.ca_file = o->ca_file ? o->ca_file : st.conf.ca_file;
	submit_timeouts(&st.conf, o->common.timeout_set ? o->common.timeout_ms : 0, &so.timeouts);
	so.max_sessions = o->max_sessions;
	so.no_pipelining = o->no_pipelining;
	/* Detection runs whether or not a relay is there to use: `route`
	 * and `probe` report the state, and a relay may be added later. */
	port25_load(&st.port25, st.conf.state_dir, st.conf.port25_detect,
	            st.conf.port25_block_time, (int64_t)time(NULL));
	so.port25 = &st.port25;
	so.fallback = st.fallback;
	so.relay_only = st.relay_only;
	so.note = on_note;
	so.on_result = on_result;
	so.trace = o->common.verbose ? log_transcript : NULL;
	so.arg = &st;
	if (submit_open(&sub, &so, &fail, err, sizeof(err)) < 0) {
		rc = err_exit(&st, fail == SUBMIT_FAIL_DNS ? (o->common.ndns ? EX_USAGE : EX_CONFIG)
		                                           : EX_OSERR, "%s", err);
		goto done;
	}
	if (o->dry_run) {
		rc = dry_run(&st, sub.loop, sub.route);
		goto done;
	}
	if (strcmp(o->cmd, "sendmail") == 0 && !o->no_queue && o->deliver_mode != 'i') {
		rc = sendmail_queue_first(&st);
		goto done;
	}
	if ((rc = deliver_all(&st, &sub, &so)) != 0)
		goto done;
	if (port25_save(&st.port25, err, sizeof(err)) < 0)
		log_line("warning: the blocked-port-25 memory was not saved: %s", err);
	if ((rc = queue_deferred(&st)) != 0) {
		report(&st);
		goto done;
	}
	report(&st);
	rc = st.exit_code;
done:
	submit_close(&sub);
	submit_relay_free(&st.relay);
	free(st.drcpts);
	submit_wire_free(&st.wire);
	msg_free(st.msg);
	addr_list_free(&st.rcpts);
	for (size_t i = 0; i < st.ninputs; i++)
		free(st.inputs[i]);
	if (fflush(stdout) != 0 && rc == EX_OK)
		rc = EX_IOERR;
	return rc;
}
