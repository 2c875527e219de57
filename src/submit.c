/*
 * submit: see submit.h.
 *
 * Owns, between submit_open and submit_close, the event loop, the
 * resolver and the route context of one run, and, during submit_deliver,
 * the TLS client context. Must not print, read the configuration file or
 * decide exit codes: its callers (send.c, api_send.c) do that, each in its
 * own way, from enum submit_fail.
 */
#include "config.h"

#include "submit.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "hdr.h"
#include "loop.h"
#include "relay_cred.h"
#include "relay_rewrite.h"
#include "route.h"
#include "smtp_data.h"
#include "tls_client.h"
#include "utf8.h"

void submit_hostname(const char *name, char out[SUBMIT_HOSTNAME_MAX])
{
	if (name != NULL && name[0] != '\0') {
		snprintf(out, SUBMIT_HOSTNAME_MAX, "%s", name);
		return;
	}
	if (gethostname(out, SUBMIT_HOSTNAME_MAX) != 0 || out[0] == '\0')
		snprintf(out, SUBMIT_HOSTNAME_MAX, "localhost");
	out[SUBMIT_HOSTNAME_MAX - 1] = '\0';
}

void submit_stamp(const char *hostname, struct msg_stamp *stamp)
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
	stamp->hostname = hostname;
}

void submit_queue_id(char out[SUBMIT_QUEUE_ID_MAX])
{
	uint8_t idb[5];

	if (getrandom(idb, sizeof(idb), 0) != (ssize_t)sizeof(idb))
		memset(idb, 0, sizeof(idb));
	snprintf(out, SUBMIT_QUEUE_ID_MAX, "%02X%02X%02X%02X%02X", idb[0], idb[1], idb[2], idb[3],
	         idb[4]);
}

void submit_timeouts(const struct conf *c, unsigned cap_ms, struct smtp_timeouts *out)
{
	unsigned ms = 1000;
	unsigned *t = &out->connect;

	*out = (struct smtp_timeouts){
		.connect = c->timeout_connect * ms, .greeting = c->timeout_greeting * ms,
		.ehlo = c->timeout_ehlo * ms, .starttls = c->timeout_starttls * ms,
		.mail = c->timeout_mail * ms, .rcpt = c->timeout_rcpt * ms,
		.data = c->timeout_data * ms, .data_end = c->timeout_data_end * ms,
		.rset = 20 * ms, .quit = c->timeout_quit * ms,
	};
	if (cap_ms == 0)
		return;
	for (size_t i = 0; i < sizeof(*out) / sizeof(unsigned); i++)
		if (t[i] > cap_ms)
			t[i] = cap_ms;
}

/* RFC 6152 3: 8-bit data must not go to a server that did not offer
 * 8BITMIME; it must be converted or returned. The conversion is made once,
 * from the rendered bytes (so the caller's message is untouched), and the
 * session picks it per server. A message msg_encode_7bit cannot convert
 * (multipart, already encoded) keeps data7 empty and goes as is, as Postfix
 * does, with a note in the transcript. */
static void make_7bit(struct submit_wire *w)
{
	struct msg *copy = NULL;
	char *r7 = NULL;
	size_t r7_len = 0, bad;
	char why[256];

	if (msg_parse(w->rendered, w->rendered_len, NULL, &copy, why, sizeof(why)) < 0)
		goto done;
	if (msg_encode_7bit(copy, why, sizeof(why)) < 0)
		goto done;
	if (msg_render(copy, &r7, &r7_len, why, sizeof(why)) < 0)
		goto done;
	if (smtp_data_stuff(r7, r7_len, &w->data7, &bad) < 0) {
		buf_free(&w->data7);
		goto done;
	}
	w->size7 = r7_len;
done:
	free(r7);
	msg_free(copy);
}

int submit_wire_make(const struct msg *m, struct submit_wire *w, enum submit_fail *fail,
                     char *err, size_t errlen)
{
	char why[512];
	long i;
	size_t bad;

	memset(w, 0, sizeof(*w));
	*fail = SUBMIT_FAIL_DATA;
	if (msg_render(m, &w->rendered, &w->rendered_len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the message cannot be sent: %s", why);
		return -1;
	}
	msg_info(m, &w->info);
	if ((i = hdr_list_find(&m->hdrs, "Message-ID", 0)) >= 0) {
		char *mid = hdr_unfold(m->hdrs.v[i].value, m->hdrs.v[i].value_len);

		snprintf(w->message_id, sizeof(w->message_id), "%s", mid ? mid : "");
		free(mid);
	}
	if (smtp_data_stuff(w->rendered, w->rendered_len, &w->data, &bad) < 0) {
		if (bad == (size_t)-1) {
			*fail = SUBMIT_FAIL_NOMEM;
			snprintf(err, errlen, "out of memory");
		} else {
			snprintf(err, errlen, "the message has a bare CR or LF at octet %zu; it is "
			         "never sent that way (SMTP smuggling)", bad);
		}
		return -1;
	}
	if (w->info.body_8bit)
		make_7bit(w);
	*fail = SUBMIT_FAIL_NONE;
	return 0;
}

void submit_wire_free(struct submit_wire *w)
{
	buf_free(&w->data);
	buf_free(&w->data7);
	free(w->rendered);
	w->rendered = NULL;
}

int submit_open(struct submit *s, const struct submit_opts *o, enum submit_fail *fail,
                char *err, size_t errlen)
{
	struct dns_config dcfg;
	struct route_opts ropts;

	memset(s, 0, sizeof(*s));
	*fail = SUBMIT_FAIL_SYSTEM;
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.servers = o->dns_servers;
	dcfg.timeout_ms = o->dns_timeout_ms;
	dcfg.tries = 2;
	memset(&ropts, 0, sizeof(ropts));
	ropts.seed = o->seed;
	ropts.seeded = o->seeded;
	s->loop = loop_new();
	if (s->loop == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	s->dns = dns_resolver_new(s->loop, &dcfg, err, errlen);
	if (s->dns == NULL) {
		*fail = SUBMIT_FAIL_DNS;
		return -1;
	}
	s->route = route_ctx_new(s->loop, s->dns, &ropts);
	if (s->route == NULL) {
		*fail = SUBMIT_FAIL_NOMEM;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*fail = SUBMIT_FAIL_NONE;
	return 0;
}

void submit_close(struct submit *s)
{
	route_ctx_free(s->route);
	dns_resolver_free(s->dns);
	loop_free(s->loop);
	memset(s, 0, sizeof(*s));
}

int submit_deliver(struct submit *s, const struct submit_opts *o, const struct submit_wire *w,
                   const char *mail_from, const struct addr_list *rcpts,
                   struct deliver_rcpt **out, enum submit_fail *fail, char *err,
                   size_t errlen)
{
	struct deliver_rcpt *r = calloc(rcpts->n ? rcpts->n : 1, sizeof(*r));
	struct deliver_msg dmsg;
	int utf8 = 0;

	*out = NULL;
	*fail = SUBMIT_FAIL_NOMEM;
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < rcpts->n; i++) {
		snprintf(r[i].address, sizeof(r[i].address), "%s", rcpts->v[i].addr);
		snprintf(r[i].domain, sizeof(r[i].domain), "%s", rcpts->v[i].domain);
		/* RFC 6531: a non-ASCII address can only travel with SMTPUTF8. */
		if (rcpts->v[i].utf8)
			utf8 = 1;
	}
	submit_msg_init(&dmsg, w, mail_from, r, rcpts->n, utf8);
	if (o->relay != NULL) {
		dmsg.relay_data = o->relay->msg;
		dmsg.relay_data_len = o->relay->msg_len;
		dmsg.relay_mail_from = o->relay->mail_from;
	} else {
		dmsg.relay_refused = o->relay_refused;
	}
	if (submit_deliver_msgs(s, o, &dmsg, 1, fail, err, errlen) < 0) {
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* ---- relay (issue 4) ---- */

const struct conf_relay *submit_relay_pick(const struct conf *c, const char *name, char *err,
                                           size_t errlen)
{
	const struct conf_relay *r;

	if (c->nrelays == 0) {
		snprintf(err, errlen, "no relay is configured: add a 'relay NAME' section to the "
		         "configuration file (see mxsend.conf(5))%s", c->path[0] ? "" :
		         " and give it with --config FILE");
		return NULL;
	}
	if (name != NULL && name[0] != '\0') {
		r = conf_relay_find(c, name);
		if (r == NULL)
			snprintf(err, errlen, "no relay called '%.64s' in %s", name,
			         c->path[0] ? c->path : "the configuration");
		return r;
	}
	if (c->relay_default[0] != '\0') {
		r = conf_relay_find(c, c->relay_default);
		if (r == NULL)
			snprintf(err, errlen, "relay_default '%s' names no relay section in %s",
			         c->relay_default, c->path);
		return r;
	}
	if (c->nrelays == 1)
		return &c->relays[0];
	snprintf(err, errlen, "%zu relays are configured and none is relay_default: pick one "
	         "with --relay NAME or set relay_default", c->nrelays);
	return NULL;
}

int submit_relay_prepare(const struct conf *c, const char *name, const struct submit_wire *w,
                         const char *mail_from, int lazy, struct submit_relay *p,
                         enum submit_fail *fail, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	*fail = SUBMIT_FAIL_CONFIG;
	p->conf = submit_relay_pick(c, name, err, errlen);
	if (p->conf == NULL)
		return -1;
	/* The From rules first: a message the relay would refuse is refused
	 * before a password command runs. */
	if (relay_rewrite_apply(p->conf, mail_from, w->rendered, w->rendered_len, &p->rewritten,
	                        &p->msg_len, p->mail_from, sizeof(p->mail_from), err, errlen) < 0)
		return -1;
	if (p->rewritten != NULL) {
		p->msg = p->rewritten;
	} else {
		p->msg = w->rendered;
		p->msg_len = w->rendered_len;
	}
	p->lazy = lazy;
	if (!lazy && relay_cred_get(p->conf, &p->secret, err, errlen) < 0)
		return -1;
	*fail = SUBMIT_FAIL_NONE;
	return 0;
}

int submit_relay_open(const struct conf *c, const char *name, int lazy, struct submit_relay *p,
                      enum submit_fail *fail, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	*fail = SUBMIT_FAIL_CONFIG;
	p->conf = submit_relay_pick(c, name, err, errlen);
	p->lazy = lazy;
	if (p->conf == NULL || (!lazy && relay_cred_get(p->conf, &p->secret, err, errlen) < 0))
		return -1;
	*fail = SUBMIT_FAIL_NONE;
	return 0;
}

void submit_relay_free(struct submit_relay *p)
{
	relay_cred_free(p->secret);
	free(p->rewritten);
	memset(p, 0, sizeof(*p));
}

/* relay_opts.password_fn for a lazy submit_relay: reads the secret once
 * and keeps it in p, which wipes it in submit_relay_free. */
static int relay_secret(void *arg, const char **password, char *err, size_t errlen)
{
	struct submit_relay *p = arg;

	if (p->secret == NULL && relay_cred_get(p->conf, &p->secret, err, errlen) < 0)
		return -1;
	*password = p->secret;
	return 0;
}

void submit_relay_opts(struct submit_relay *p, const struct submit_opts *o,
                       relay_trace_fn trace, void *trace_arg, struct relay_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->conf = p->conf;
	out->password = p->secret;
	if (p->lazy && p->secret == NULL) {
		out->password_fn = relay_secret;
		out->password_arg = p;
	}
	out->ca_file = o->ca_file;
	out->ehlo_name = o->ehlo_name;
	out->connect_timeout_ms = o->timeouts.connect;
	out->timeout_ms = o->timeouts.greeting + o->timeouts.data_end;
	out->trace = trace;
	out->arg = trace_arg;
}


/* One recipient in the shape of DESIGN.md "JSON shapes" (send). */
static json_t *rcpt_json(const struct deliver_rcpt *r)
{
	json_t *tls = json_null();
	char reply[sizeof(r->smtp.reply)];
	char direct[sizeof(r->direct_reply)];

	/* Server text may be any bytes (GBK from QQ): JSON needs UTF-8, and
	 * jansson would refuse the whole object, losing the recipient. */
	snprintf(reply, sizeof(reply), "%s", r->smtp.reply);
	utf8_sanitize(reply);

	if (r->tls_version[0] != '\0')
		tls = json_pack("{s:s, s:s, s:b}", "version", r->tls_version, "cipher", r->tls_cipher,
		                "verified", r->tls_verified);
	snprintf(direct, sizeof(direct), "%s", r->direct_reply);
	utf8_sanitize(direct);
	/* "fallback" and "direct_reply" say why a recipient went by the
	 * relay (or would have, when the relay refused the message). */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:i, s:o, s:I, s:n, s:s, s:s?, s:s?}",
	                 "address", r->address, "domain", r->domain,
	                 "status", deliver_status_name(r->status),
	                 "via", r->via_relay ? "relay" : "direct", "relay", r->relay,
	                 "relay_name", r->via_relay ? r->relay_name : NULL,
	                 "reply", reply, "code", r->smtp.code,
	                 "tls", tls, "delay_ms", (json_int_t)r->delay_ms, "queue_id",
	                 "dsn", r->smtp.dsn[0] ? r->smtp.dsn : "4.0.0",
	                 "fallback", r->fallback != DELIVER_FALLBACK_NONE
	                                     ? deliver_fallback_name(r->fallback) : NULL,
	                 "direct_reply", direct[0] ? direct : NULL);
}

json_t *submit_json(const char *queue_id, const char *message_id, const char *from,
                    size_t size, const struct deliver_rcpt *r, size_t n)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(arr, rcpt_json(&r[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:I, s:o}", "queue_id", queue_id, "message_id",
	                 message_id, "from", from, "size", (json_int_t)size, "recipients", arr);
}

int submit_wire_from_data(const char *data, size_t len, struct submit_wire *w,
                          enum submit_fail *fail, char *err, size_t errlen)
{
	struct msg *m = NULL;
	char why[512];
	int rc;

	memset(w, 0, sizeof(*w));
	*fail = SUBMIT_FAIL_DATA;
	if (msg_parse(data, len, NULL, &m, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the queued message cannot be parsed: %s", why);
		return -1;
	}
	rc = submit_wire_make(m, w, fail, err, errlen);
	msg_free(m);
	return rc;
}

void submit_msg_init(struct deliver_msg *dm, const struct submit_wire *w, const char *mail_from,
                     struct deliver_rcpt *r, size_t n, int rcpt_utf8)
{
	memset(dm, 0, sizeof(*dm));
	dm->mail_from = mail_from;
	dm->smtputf8 = rcpt_utf8;
	for (const char *p = mail_from; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			dm->smtputf8 = 1;
	dm->utf8_headers = w->info.header_8bit;
	dm->data = buf_head(&w->data);
	dm->data_len = buf_avail(&w->data);
	dm->size = w->rendered_len;
	dm->eightbit = w->info.body_8bit;
	dm->data7 = buf_avail(&w->data7) ? buf_head(&w->data7) : NULL;
	dm->data7_len = buf_avail(&w->data7);
	dm->size7 = w->size7;
	dm->rcpts = r;
	dm->nrcpts = n;
}

int submit_deliver_msgs(struct submit *s, const struct submit_opts *o, struct deliver_msg *msgs,
                        size_t n, enum submit_fail *fail, char *err, size_t errlen)
{
	struct deliver_opts dopts;
	SSL_CTX *ssl_ctx = NULL;
	struct relay *relay = NULL;
	int rc = -1;

	*fail = SUBMIT_FAIL_NOMEM;
	if (o->tls != TLS_LEVEL_NONE) {
		ssl_ctx = tls_client_ctx_new(o->ca_file, err, errlen);
		if (ssl_ctx == NULL) {
			*fail = SUBMIT_FAIL_TLS;
			return -1;
		}
	}
	if (o->relay != NULL) {
		struct relay_opts ro;

		/* The relay's transcript goes where the SMTP one goes: the
		 * two callbacks have the same shape. */
		submit_relay_opts(o->relay, o, o->trace, o->arg, &ro);
		relay = relay_new(s->loop, &ro, err, errlen);
		if (relay == NULL) {
			*fail = SUBMIT_FAIL_CONFIG;
			goto done;
		}
	}
	memset(&dopts, 0, sizeof(dopts));
	dopts.ehlo_name = o->ehlo_name;
	dopts.tls = o->tls;
	dopts.ssl_ctx = ssl_ctx;
	dopts.timeouts = o->timeouts;
	dopts.max_sessions = o->max_sessions;
	dopts.no_pipelining = o->no_pipelining;
	dopts.relay = relay;
	dopts.relay_name = o->relay != NULL ? o->relay->conf->name : o->relay_name;
	dopts.fallback = o->fallback;
	dopts.relay_only = o->relay_only;
	dopts.port25 = o->port25;
	dopts.note = o->note;
	dopts.on_result = o->on_result;
	dopts.trace = o->trace;
	dopts.arg = o->arg;
	if (deliver_run(s->loop, s->route, &dopts, msgs, n) < 0) {
		snprintf(err, errlen, "out of memory during delivery");
		goto done;
	}
	*fail = SUBMIT_FAIL_NONE;
	rc = 0;
done:
	relay_free(relay);
	if (ssl_ctx != NULL)
		SSL_CTX_free(ssl_ctx);
	return rc;
}
