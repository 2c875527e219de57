/*
 * api_send: the sending calls of include/mxsend.h: a message built call
 * by call, mxsend_send, and the result readers.
 *
 * Owns the copies of everything the caller hands to a message, and the
 * results. The message is only stored here; composing it is msg_compose's
 * (once, in mxsend_send), and rendering, resolving and delivering are
 * submit.c's, the same code `mxsend send` runs. Must not print, touch
 * process-wide signal dispositions or read a configuration file: a
 * library call sees only its arguments (and the configuration defaults
 * of conf.c).
 *
 * Setters check what they can at once (addresses parse, no CR or LF in a
 * header value, valid UTF-8, limits) so that the error names the call at
 * fault; the header policy (names the composer owns) is msg_compose's and
 * shows at mxsend_send.
 */
#include "config.h"

#include <mxsend.h>

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "deliver.h"
#include "hdr.h"
#include "mime.h"
#include "msg.h"
#include "msg_compose.h"
#include "submit.h"
#include "tls_policy.h"

#define API_LIST_MAX ADDR_LIST_MAX  /* calls per address list, and per header list */
#define API_BYTES_MAX MSG_SIZE_MAX_DEFAULT /* bodies and attachments together */
#define API_REASON_MAX 512
#define QUOTE_MAX 810 /* quote(): 200 octets, each at most 4 when escaped, and a NUL */

/* Owned strings, in the order they were added. */
struct api_list {
	char **v;      /* the strings, each owned */
	size_t n;      /* how many */
	size_t cap;    /* allocated */
};

struct api_attach {
	char *name;          /* file name as given, owned */
	void *data;          /* a copy of the contents, owned */
	size_t len;          /* octets in data */
	char *content_type;  /* owned; NULL = from the name */
};

struct mxsend_message {
	char *from;                  /* the mailbox as given, owned; NULL until set */
	char *from_name;             /* owned; NULL = keep the name in from */
	struct api_list to, cc, bcc; /* address lists as given */
	struct api_list reply_to;
	struct api_list headers;     /* "Name: value" */
	char *subject;               /* owned; NULL = no Subject */
	char *text;                  /* owned copy, NUL-terminated; NULL = no part */
	size_t text_len;
	char *html;                  /* owned copy, NUL-terminated; NULL = no part */
	size_t html_len;
	struct api_attach *attach;   /* in order */
	size_t nattach;
	size_t cap_attach;
	size_t bytes;                /* text + html + attachments, against API_BYTES_MAX */
	int error;                   /* the first failure's enum mxsend_error, 0 = none */
	char reason[API_REASON_MAX]; /* and its reason */
};

struct mxsend_result {
	char queue_id[SUBMIT_QUEUE_ID_MAX]; /* the id of the run, as in log lines */
	char message_id[MSG_MSGID_MAX];     /* the Message-ID sent */
	char from[ADDR_PATH_MAX];           /* the envelope sender */
	size_t size;                        /* octets of the message as rendered */
	struct deliver_rcpt *r;             /* one per recipient, owned */
	size_t n;                           /* how many */
};

/* ------------------------------------------------------------ message */

/* Records a failure: the first one sticks. Returns code. */
static int fail(struct mxsend_message *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct mxsend_message *m, int code, const char *fmt, ...)
{
	va_list ap;

	if (m->error != 0)
		return code;
	m->error = code;
	va_start(ap, fmt);
	vsnprintf(m->reason, sizeof(m->reason), fmt, ap);
	va_end(ap);
	return code;
}

static void list_free(struct api_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Appends a copy of s. Returns 0, or -1 when out of memory. */
static int list_add(struct api_list *l, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		return -1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			free(copy);
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = copy;
	return 0;
}

/* 0 when s (n octets) is UTF-8 without control characters other than
 * HT; else -1 with the reason. What every header text must be (SEC-05:
 * a CR or LF would start a field nobody asked for). */
static int check_text(const char *s, size_t n, const char *what, char *why, size_t whylen)
{
	size_t bad;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n') {
			snprintf(why, whylen, "%s holds %s at octet %zu (a line break would start a "
			         "header field nobody asked for)", what, c == '\r' ? "a CR" : "an LF", i);
			return -1;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, whylen, "%s holds the control character 0x%02x at octet %zu", what,
			         c, i);
			return -1;
		}
	}
	if (mime_utf8_check(s, n, &bad) < 0) {
		snprintf(why, whylen, "%s is not valid UTF-8 (octet %zu)", what, bad);
		return -1;
	}
	return 0;
}

/* A caller's string as a reason may quote it: at most 200 octets, control
 * characters written as \r, \n or \xHH, so that a reason never carries
 * a line break into the caller's log. */
static const char *quote(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0' && i < 200 && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n')
			o += (size_t)snprintf(out + o, outlen - o, "\\%c", c == '\r' ? 'r' : 'n');
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

struct mxsend_message *mxsend_message_new(void)
{
	return calloc(1, sizeof(struct mxsend_message));
}

void mxsend_message_free(struct mxsend_message *m)
{
	if (m == NULL)
		return;
	free(m->from);
	free(m->from_name);
	list_free(&m->to);
	list_free(&m->cc);
	list_free(&m->bcc);
	list_free(&m->reply_to);
	list_free(&m->headers);
	free(m->subject);
	free(m->text);
	free(m->html);
	for (size_t i = 0; i < m->nattach; i++) {
		free(m->attach[i].name);
		free(m->attach[i].data);
		free(m->attach[i].content_type);
	}
	free(m->attach);
	free(m);
}

const char *mxsend_message_error(const struct mxsend_message *m)
{
	return m != NULL && m->error != 0 ? m->reason : NULL;
}

int mxsend_message_set_from(struct mxsend_message *m, const char *address,
                            const char *display_name)
{
	struct addr a;
	char why[256], q[QUOTE_MAX];
	char *from = NULL, *name = NULL;

	if (m == NULL)
		return MXSEND_EINVAL;
	if (address == NULL)
		return fail(m, MXSEND_EINVAL, "set_from: the address is NULL");
	if (addr_parse_mailbox(address, &a, why, sizeof(why)) < 0)
		return fail(m, MXSEND_EINVAL, "From '%s': %s", quote(address, q, sizeof(q)), why);
	if (display_name != NULL) {
		size_t n = strlen(display_name);

		if (n > ADDR_NAME_MAX)
			return fail(m, MXSEND_EINVAL, "From: the display name is longer than %d octets",
			            ADDR_NAME_MAX);
		if (check_text(display_name, n, "From: the display name", why, sizeof(why)) < 0)
			return fail(m, MXSEND_EINVAL, "%s", why);
	}
	from = strdup(address);
	if (display_name != NULL)
		name = strdup(display_name);
	if (from == NULL || (display_name != NULL && name == NULL)) {
		free(from);
		free(name);
		return fail(m, MXSEND_ENOMEM, "out of memory");
	}
	free(m->from);
	free(m->from_name);
	m->from = from;
	m->from_name = name;
	return MXSEND_OK;
}

/* Checks an address list the way msg_compose will read it, then keeps it. */
static int add_address(struct mxsend_message *m, struct api_list *l, const char *what,
                       const char *address)
{
	struct addr_list parsed = { NULL, 0, 0 };
	char why[256], q[QUOTE_MAX];
	int rc = MXSEND_OK;

	if (m == NULL)
		return MXSEND_EINVAL;
	if (address == NULL)
		return fail(m, MXSEND_EINVAL, "%s: the address is NULL", what);
	if (l->n >= API_LIST_MAX)
		return fail(m, MXSEND_EINVAL, "%s: more than %d calls", what, API_LIST_MAX);
	if (addr_parse_list(address, &parsed, why, sizeof(why)) < 0)
		rc = fail(m, MXSEND_EINVAL, "%s '%s': %s", what, quote(address, q, sizeof(q)), why);
	else if (parsed.n == 0)
		rc = fail(m, MXSEND_EINVAL, "%s '%s' holds no address", what,
		          quote(address, q, sizeof(q)));
	else if (list_add(l, address) < 0)
		rc = fail(m, MXSEND_ENOMEM, "out of memory");
	addr_list_free(&parsed);
	return rc;
}

int mxsend_message_add_to(struct mxsend_message *m, const char *address)
{
	return add_address(m, m ? &m->to : NULL, "To", address);
}

int mxsend_message_add_cc(struct mxsend_message *m, const char *address)
{
	return add_address(m, m ? &m->cc : NULL, "Cc", address);
}

int mxsend_message_add_bcc(struct mxsend_message *m, const char *address)
{
	return add_address(m, m ? &m->bcc : NULL, "Bcc", address);
}

int mxsend_message_add_reply_to(struct mxsend_message *m, const char *address)
{
	return add_address(m, m ? &m->reply_to : NULL, "Reply-To", address);
}

int mxsend_message_set_subject(struct mxsend_message *m, const char *subject)
{
	char why[256];
	char *copy = NULL;

	if (m == NULL)
		return MXSEND_EINVAL;
	if (subject != NULL) {
		if (check_text(subject, strlen(subject), "Subject", why, sizeof(why)) < 0)
			return fail(m, MXSEND_EINVAL, "%s", why);
		if ((copy = strdup(subject)) == NULL)
			return fail(m, MXSEND_ENOMEM, "out of memory");
	}
	free(m->subject);
	m->subject = copy;
	return MXSEND_OK;
}

/* Replaces a body part with a NUL-terminated copy of len octets. */
static int set_body(struct mxsend_message *m, char **part, size_t *part_len, const char *what,
                    const void *data, size_t len)
{
	size_t bad, others;
	char *copy = NULL;

	if (m == NULL)
		return MXSEND_EINVAL;
	others = m->bytes - (*part != NULL ? *part_len : 0);
	if (data != NULL) {
		if (len > API_BYTES_MAX - others)
			return fail(m, MXSEND_EINVAL, "the %s body makes the message larger than %u "
			            "octets", what, API_BYTES_MAX);
		if (mime_utf8_check(data, len, &bad) < 0)
			return fail(m, MXSEND_EINVAL, "the %s body is not valid UTF-8 (octet %zu)", what,
			            bad);
		if ((copy = malloc(len + 1)) == NULL)
			return fail(m, MXSEND_ENOMEM, "out of memory");
		memcpy(copy, data, len);
		copy[len] = '\0';
	}
	free(*part);
	*part = copy;
	*part_len = copy != NULL ? len : 0;
	m->bytes = others + *part_len;
	return MXSEND_OK;
}

int mxsend_message_set_text(struct mxsend_message *m, const void *text, size_t len)
{
	return set_body(m, m ? &m->text : NULL, m ? &m->text_len : NULL, "text", text, len);
}

int mxsend_message_set_html(struct mxsend_message *m, const void *html, size_t len)
{
	return set_body(m, m ? &m->html : NULL, m ? &m->html_len : NULL, "HTML", html, len);
}

int mxsend_message_attach(struct mxsend_message *m, const char *file_name, const void *data,
                          size_t len, const char *content_type)
{
	struct api_attach a = { NULL, NULL, 0, NULL };
	char why[256], q[QUOTE_MAX];

	if (m == NULL)
		return MXSEND_EINVAL;
	if (file_name == NULL || (data == NULL && len > 0))
		return fail(m, MXSEND_EINVAL, "attach: the file name or the data is NULL");
	if (strlen(file_name) == 0 || strlen(file_name) > MSG_ATTACH_NAME_MAX ||
	    strchr(file_name, '/') != NULL)
		return fail(m, MXSEND_EINVAL, "attachment '%s': a file name of 1 to %d octets "
		            "without a directory is needed", quote(file_name, q, sizeof(q)),
		            MSG_ATTACH_NAME_MAX);
	if (check_text(file_name, strlen(file_name), "the attachment's name", why, sizeof(why)) < 0)
		return fail(m, MXSEND_EINVAL, "attachment '%s': %s", quote(file_name, q, sizeof(q)),
		            why);
	if (content_type != NULL &&
	    check_text(content_type, strlen(content_type), "the content type", why, sizeof(why)) < 0)
		return fail(m, MXSEND_EINVAL, "attachment '%s': %s", quote(file_name, q, sizeof(q)),
		            why);
	if (m->nattach >= MSG_ATTACH_MAX)
		return fail(m, MXSEND_EINVAL, "more than %d attachments", MSG_ATTACH_MAX);
	if (len > API_BYTES_MAX - m->bytes)
		return fail(m, MXSEND_EINVAL, "attachment '%s' makes the message larger than %u "
		            "octets", quote(file_name, q, sizeof(q)), API_BYTES_MAX);
	if (m->nattach == m->cap_attach) {
		size_t cap = m->cap_attach ? m->cap_attach * 2 : 4;
		struct api_attach *v = realloc(m->attach, cap * sizeof(*v));

		if (v == NULL)
			return fail(m, MXSEND_ENOMEM, "out of memory");
		m->attach = v;
		m->cap_attach = cap;
	}
	a.name = strdup(file_name);
	a.data = malloc(len ? len : 1);
	a.len = len;
	if (content_type != NULL)
		a.content_type = strdup(content_type);
	if (a.name == NULL || a.data == NULL || (content_type != NULL && a.content_type == NULL)) {
		free(a.name);
		free(a.data);
		free(a.content_type);
		return fail(m, MXSEND_ENOMEM, "out of memory");
	}
	if (len > 0)
		memcpy(a.data, data, len);
	m->attach[m->nattach++] = a;
	m->bytes += len;
	return MXSEND_OK;
}

int mxsend_message_add_header(struct mxsend_message *m, const char *field)
{
	const char *colon;
	char why[256], q[QUOTE_MAX];

	if (m == NULL)
		return MXSEND_EINVAL;
	if (field == NULL)
		return fail(m, MXSEND_EINVAL, "add_header: the field is NULL");
	if ((colon = strchr(field, ':')) == NULL)
		return fail(m, MXSEND_EINVAL, "header '%s' is not of the form 'Name: value'",
		            quote(field, q, sizeof(q)));
	if (hdr_check_name(field, (size_t)(colon - field), why, sizeof(why)) < 0)
		return fail(m, MXSEND_EINVAL, "header '%s': %s", quote(field, q, sizeof(q)), why);
	if (check_text(colon + 1, strlen(colon + 1), "its value", why, sizeof(why)) < 0)
		return fail(m, MXSEND_EINVAL, "header '%s': %s", quote(field, q, sizeof(q)), why);
	if (m->headers.n >= MSG_EXTRA_HEADERS_MAX)
		return fail(m, MXSEND_EINVAL, "more than %d extra headers", MSG_EXTRA_HEADERS_MAX);
	if (list_add(&m->headers, field) < 0)
		return fail(m, MXSEND_ENOMEM, "out of memory");
	return MXSEND_OK;
}

/* --------------------------------------------------------------- send */

/* SIGPIPE: OpenSSL writes to a socket a peer may have closed, and only
 * plaintext writes can say MSG_NOSIGNAL. A library must not change the
 * process's disposition, so the signal is blocked in this thread for the
 * call and one raised meanwhile is taken off the thread's pending set. */
struct sigpipe_guard {
	sigset_t old;      /* the thread's mask before */
	int was_pending;   /* a SIGPIPE was pending already: leave it */
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;
	struct timespec zero = { 0, 0 };

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* A host name for EHLO and the Message-ID: LDH labels (RFC 1123 2.1). */
static int hostname_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.' ||
	    strstr(h, "..") != NULL)
		return 0;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

/* The msg_compose options for m; pointers borrow from m and att. */
static void compose_opts(const struct mxsend_message *m, struct msg_attachment *att,
                         const struct msg_stamp *stamp, struct msg_compose_opts *c)
{
	memset(c, 0, sizeof(*c));
	c->from = m->from;
	c->from_name = m->from_name;
	c->to = (const char *const *)m->to.v;
	c->nto = m->to.n;
	c->cc = (const char *const *)m->cc.v;
	c->ncc = m->cc.n;
	c->bcc = (const char *const *)m->bcc.v;
	c->nbcc = m->bcc.n;
	c->reply_to = (const char *const *)m->reply_to.v;
	c->nreply_to = m->reply_to.n;
	c->subject = m->subject;
	c->text = m->text;
	c->text_len = m->text_len;
	c->html = m->html;
	c->html_len = m->html_len;
	for (size_t i = 0; i < m->nattach; i++)
		att[i] = (struct msg_attachment){ .name = m->attach[i].name, .data = m->attach[i].data,
		                                  .len = m->attach[i].len,
		                                  .content_type = m->attach[i].content_type };
	c->attach = att;
	c->nattach = m->nattach;
	c->headers = (const char *const *)m->headers.v;
	c->nheaders = m->headers.n;
	c->stamp = stamp;
}

static int submit_code(enum submit_fail f)
{
	switch (f) {
	case SUBMIT_FAIL_DATA: return MXSEND_EINVAL;
	case SUBMIT_FAIL_DNS: return MXSEND_EOPTIONS;
	case SUBMIT_FAIL_TLS: return MXSEND_EOPTIONS;
	case SUBMIT_FAIL_CONFIG: return MXSEND_EOPTIONS;
	case SUBMIT_FAIL_NOMEM: return MXSEND_ENOMEM;
	case SUBMIT_FAIL_SYSTEM: return MXSEND_ESYSTEM;
	case SUBMIT_FAIL_NONE: break;
	}
	return MXSEND_ESYSTEM;
}

int mxsend_send(const struct mxsend_send_options *opts, struct mxsend_message *m,
                struct mxsend_result **out, char *err, size_t errlen)
{
	static const struct mxsend_send_options defaults;
	struct conf *conf = NULL;
	struct msg_attachment *att = NULL;
	struct msg *msg = NULL;
	struct addr_list rcpts = { NULL, 0, 0 };
	struct addr sender;
	struct submit_wire wire;
	struct submit sub;
	struct submit_opts so;
	struct msg_compose_opts c;
	struct msg_stamp stamp;
	struct mxsend_result *res = NULL;
	struct sigpipe_guard guard;
	enum submit_fail sf;
	enum tls_level tls = TLS_LEVEL_MAY;
	char hostname[SUBMIT_HOSTNAME_MAX];
	char scratch[API_REASON_MAX], q[QUOTE_MAX];
	int rc = MXSEND_EINVAL;

	memset(&wire, 0, sizeof(wire));
	memset(&sub, 0, sizeof(sub));
	if (err == NULL || errlen == 0) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (m == NULL || out == NULL) {
		snprintf(err, errlen, "mxsend_send: the message or the result pointer is NULL");
		goto done;
	}
	/* Everything about the message and the options is checked before a
	 * socket is opened: an error sends nothing. */
	if (m->error != 0) {
		rc = m->error;
		snprintf(err, errlen, "%s", m->reason);
		goto done;
	}
	if (m->from == NULL) {
		snprintf(err, errlen, "no sender: call mxsend_message_set_from");
		goto done;
	}
	rc = MXSEND_EOPTIONS;
	if (opts->tls != NULL && tls_level_parse(opts->tls, &tls) < 0) {
		snprintf(err, errlen, "tls '%s': expected none, may, encrypt or verify",
		         quote(opts->tls, q, sizeof(q)));
		goto done;
	}
	if (opts->hostname != NULL && !hostname_ok(opts->hostname)) {
		snprintf(err, errlen, "hostname '%s' is not a host name",
		         quote(opts->hostname, q, sizeof(q)));
		goto done;
	}
	rc = MXSEND_ENOMEM;
	conf = malloc(sizeof(*conf));
	att = calloc(m->nattach ? m->nattach : 1, sizeof(*att));
	res = calloc(1, sizeof(*res));
	if (conf == NULL || att == NULL || res == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* The defaults of `mxsend send` without a configuration file. */
	conf_defaults(conf);
	submit_hostname(opts->hostname, hostname);
	submit_stamp(hostname, &stamp);
	compose_opts(m, att, &stamp, &c);
	rc = MXSEND_EINVAL;
	if (msg_compose(&c, &msg, &rcpts, err, errlen) < 0)
		goto done;
	if (rcpts.n == 0) {
		snprintf(err, errlen, "no recipients: add one with mxsend_message_add_to, _cc or _bcc");
		goto done;
	}
	if (addr_parse_mailbox(m->from, &sender, err, errlen) < 0)
		goto done;
	if (submit_wire_make(msg, &wire, &sf, err, errlen) < 0) {
		rc = submit_code(sf);
		goto done;
	}
	memset(&so, 0, sizeof(so));
	so.dns_servers = opts->dns_servers;
	so.dns_timeout_ms = conf->timeout_dns * 1000u;
	if (opts->timeout_ms != 0 && opts->timeout_ms < so.dns_timeout_ms)
		so.dns_timeout_ms = opts->timeout_ms;
	so.ehlo_name = hostname;
	so.tls = tls;
	so.ca_file = opts->ca_file;
	submit_timeouts(conf, opts->timeout_ms, &so.timeouts);
	so.max_sessions = opts->max_sessions;
	if (submit_open(&sub, &so, &sf, err, errlen) < 0) {
		rc = submit_code(sf);
		goto done;
	}
	sigpipe_block(&guard);
	rc = submit_deliver(&sub, &so, &wire, sender.addr, &rcpts, &res->r, &sf, err, errlen);
	sigpipe_restore(&guard);
	if (rc < 0) {
		rc = submit_code(sf);
		goto done;
	}
	res->n = rcpts.n;
	submit_queue_id(res->queue_id);
	snprintf(res->message_id, sizeof(res->message_id), "%s", wire.message_id);
	snprintf(res->from, sizeof(res->from), "%s", sender.addr);
	res->size = wire.rendered_len;
	*out = res;
	res = NULL;
	rc = MXSEND_OK;
done:
	submit_close(&sub);
	submit_wire_free(&wire);
	addr_list_free(&rcpts);
	msg_free(msg);
	mxsend_result_free(res);
	free(att);
	free(conf);
	return rc;
}

/* ------------------------------------------------------------ results */

static const struct deliver_rcpt *rcpt_at(const struct mxsend_result *r, size_t i)
{
	return r != NULL && i < r->n ? &r->r[i] : NULL;
}

size_t mxsend_result_count(const struct mxsend_result *r)
{
	return r != NULL ? r->n : 0;
}

const char *mxsend_result_address(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL ? d->address : NULL;
}

enum mxsend_status mxsend_result_status(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	if (d == NULL)
		return MXSEND_STATUS_NONE;
	switch (d->status) {
	case DELIVER_SENT: return MXSEND_SENT;
	case DELIVER_DEFERRED: return MXSEND_DEFERRED;
	case DELIVER_BOUNCED: return MXSEND_BOUNCED;
	}
	return MXSEND_STATUS_NONE;
}

const char *mxsend_status_name(enum mxsend_status status)
{
	switch (status) {
	case MXSEND_SENT: return deliver_status_name(DELIVER_SENT);
	case MXSEND_DEFERRED: return deliver_status_name(DELIVER_DEFERRED);
	case MXSEND_BOUNCED: return deliver_status_name(DELIVER_BOUNCED);
	case MXSEND_STATUS_NONE: break;
	}
	return NULL;
}

int mxsend_result_code(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL ? d->smtp.code : 0;
}

const char *mxsend_result_dsn(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	if (d == NULL)
		return NULL;
	/* What the JSON says too (submit_json): a final status always has one. */
	return d->smtp.dsn[0] != '\0' ? d->smtp.dsn : "4.0.0";
}

const char *mxsend_result_reply(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL ? d->smtp.reply : NULL;
}

const char *mxsend_result_relay(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL ? d->relay : NULL;
}

const char *mxsend_result_tls_version(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL && d->tls_version[0] != '\0' ? d->tls_version : NULL;
}

const char *mxsend_result_tls_cipher(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL && d->tls_version[0] != '\0' ? d->tls_cipher : NULL;
}

int mxsend_result_tls_verified(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL && d->tls_version[0] != '\0' && d->tls_verified;
}

unsigned long long mxsend_result_delay_ms(const struct mxsend_result *r, size_t i)
{
	const struct deliver_rcpt *d = rcpt_at(r, i);

	return d != NULL ? (unsigned long long)d->delay_ms : 0;
}

const char *mxsend_result_message_id(const struct mxsend_result *r)
{
	return r != NULL ? r->message_id : NULL;
}

char *mxsend_result_json(const struct mxsend_result *r)
{
	json_t *doc;
	char *s;

	if (r == NULL)
		return NULL;
	doc = submit_json(r->queue_id, r->message_id, r->from, r->size, r->r, r->n);
	s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return s;
}

void mxsend_result_free(struct mxsend_result *r)
{
	if (r == NULL)
		return;
	free(r->r);
	free(r);
}
