/*
 * submit: one prepared message (a struct msg and its envelope) to its
 * recipients' MX hosts, with a result per recipient. It is the part that
 * `mxsend send` (send.c) and the C API (api_send.c, mxsend_send) share:
 *
 *   submit_wire_make  render, check and dot-stuff the message once
 *   submit_open       the event loop, the resolver and the route context
 *   submit_deliver    the TLS client context and deliver_run, collecting
 *                     a struct deliver_rcpt per recipient
 *   submit_relay_prepare  pick a relay, read its secret, apply its From
 *                     rules (rewrite_from, or the check) to the message
 *   submit_json       the results as the `mxsend send --json` document
 *   and the small facts both need: the host name, the stamp (time and
 *   random octets for Date, Message-ID and boundaries), a queue id and
 *   the SMTP timeouts from the configuration.
 *
 * The callers keep what differs: reading inputs and options, composing or
 * parsing the message, picking the envelope, and reporting (log lines,
 * text and exit codes for the CLI; objects for the API). Nothing here
 * prints: errors are a reason in err and a class in enum submit_fail.
 */
#ifndef MXSEND_SUBMIT_H
#define MXSEND_SUBMIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "deliver.h"
#include "msg.h"
#include "relay.h"

#define SUBMIT_HOSTNAME_MAX 256 /* octets with the NUL, as struct conf holds it */
#define SUBMIT_QUEUE_ID_MAX 16  /* ten hex digits and a NUL, with room */

/* Why a submit_* call failed, so that each caller maps it to its own
 * answer (an exit code, an API error code). */
enum submit_fail {
	SUBMIT_FAIL_NONE,
	SUBMIT_FAIL_DATA,   /* the message cannot go on the wire as it is */
	SUBMIT_FAIL_DNS,    /* the resolver refused its configuration (servers) */
	SUBMIT_FAIL_TLS,    /* no TLS client context (an unreadable ca_file, ...) */
	SUBMIT_FAIL_NOMEM,  /* out of memory */
	SUBMIT_FAIL_SYSTEM, /* no event loop (no file descriptor for epoll) */
	SUBMIT_FAIL_CONFIG, /* the relay: none to pick, unknown name, no usable
	                       secret, or a message its provider would refuse
	                       (From is not the account, without rewrite_from) */
};

/* The message as it goes after DATA, made once for all recipients. */
struct submit_wire {
	char *rendered;                 /* msg_render's output, owned */
	size_t rendered_len;            /* octets in rendered: the SIZE= value */
	struct buf data;                /* rendered, dot-stuffed, ending CRLF . CRLF */
	struct msg_info info;           /* 8-bit body, 8-bit headers, longest line */
	struct buf data7;               /* for an 8-bit body: the same message with the
	                                   body quoted-printable, stuffed, for servers
	                                   without 8BITMIME; empty when not convertible */
	size_t size7;                   /* octets of that form before stuffing */
	char message_id[MSG_MSGID_MAX]; /* the Message-ID field unfolded, "" if none */
};

struct submit_relay;

/* How to deliver; every pointer is borrowed for the call it is given to. */
struct submit_opts {
	const char *dns_servers;       /* "ip[:port],..."; NULL = /etc/resolv.conf */
	unsigned dns_timeout_ms;       /* per DNS query, all tries; 0 = dns.c's default */
	uint64_t seed;                 /* order among equal MX preferences ... */
	int seeded;                    /* ... when 1 (reproducible tests) */
	const char *ehlo_name;         /* EHLO name; required */
	enum tls_level tls;            /* policy for every host */
	const char *ca_file;           /* extra trust anchors, PEM; NULL = none */
	struct smtp_timeouts timeouts; /* per SMTP step, ms (submit_timeouts) */
	unsigned max_sessions;         /* SMTP sessions at once; 0 = deliver.c's default */
	int no_pipelining;             /* 1: never pipeline */
	struct submit_relay *relay;    /* the relay made ready for this message
	                                  (submit_relay_prepare): for --via relay
	                                  and for fallback; NULL = none */
	const char *relay_refused;     /* without relay: why the configured relay
	                                  cannot take this message, or NULL */
	const char *relay_name;        /* without relay: that relay's name, or NULL */
	unsigned fallback;             /* enum conf_fallback bits */
	int relay_only;                /* --via relay */
	struct port25 *port25;         /* blocked-port-25 memory, or NULL */
	deliver_note_fn note;          /* run notices for the log; may be NULL */
	deliver_result_fn on_result;   /* each recipient's final status; may be NULL */
	deliver_trace_fn trace;        /* the SMTP transcript; may be NULL */
	void *arg;                     /* for on_result, note and trace */
};

/* What submit_open builds and submit_close frees. A caller may run its
 * own lookups on loop and route between the two (`--dry-run` does). */
struct submit {
	struct loop *loop;         /* owned */
	struct dns_resolver *dns;  /* owned */
	struct route_ctx *route;   /* owned */
};

/* Copies name into out when it is not NULL or empty, else the host's
 * name (gethostname), else "localhost". Never fails. */
void submit_hostname(const char *name, char out[SUBMIT_HOSTNAME_MAX]);

/* Fills stamp with the time, the local zone, random octets (getrandom;
 * time and pid when it fails: uniqueness, not secrecy) and hostname,
 * which is borrowed and must live as long as the stamp. Never fails. */
void submit_stamp(const char *hostname, struct msg_stamp *stamp);

/* Writes a random queue id of ten upper-case hex digits, the id log lines
 * and the JSON document carry. Never fails. */
void submit_queue_id(char out[SUBMIT_QUEUE_ID_MAX]);

/* The SMTP step timeouts of c (seconds) in ms into out; when cap_ms is
 * not 0 no step gets more than cap_ms (`--timeout`, for scripts that
 * cannot wait minutes). Never fails. */
void submit_timeouts(const struct conf *c, unsigned cap_ms, struct smtp_timeouts *out);

/* Renders m, reads its facts and Message-ID and dot-stuffs it into w
 * (which it first zeroes; free it with submit_wire_free even on error).
 * Returns 0, or -1 with *fail set (SUBMIT_FAIL_DATA: the message cannot
 * be rendered, or holds a bare CR or LF, which is never sent: SMTP
 * smuggling, DLV-23; SUBMIT_FAIL_NOMEM) and a sentence
 * for a person in err. */
int submit_wire_make(const struct msg *m, struct submit_wire *w, enum submit_fail *fail,
                     char *err, size_t errlen);
void submit_wire_free(struct submit_wire *w);

/* Creates the loop, the resolver (o->dns_servers, o->dns_timeout_ms) and
 * the route context (o->seed) in s, which it first zeroes; free them with
 * submit_close, also after an error. Returns 0, or -1 with *fail set
 * (SUBMIT_FAIL_DNS: the servers were refused, the reason names them;
 * SUBMIT_FAIL_SYSTEM: no event loop; SUBMIT_FAIL_NOMEM) and a reason in
 * err. */
int submit_open(struct submit *s, const struct submit_opts *o, enum submit_fail *fail,
                char *err, size_t errlen);
void submit_close(struct submit *s);

/* Delivers w from mail_from ("" for the null reverse path) to every
 * address of rcpts, over s, and waits until each has a final status
 * (sent, deferred or bounced): delivery problems are results, not
 * errors. *out gets an array of rcpts->n results, in the order of rcpts,
 * that the caller frees with free(). Returns 0, or -1 with *out NULL,
 * *fail set (SUBMIT_FAIL_TLS: no TLS context, OpenSSL's reason, which
 * names a ca_file it cannot read; SUBMIT_FAIL_NOMEM) and a reason in
 * err; then nothing was sent. */
int submit_deliver(struct submit *s, const struct submit_opts *o, const struct submit_wire *w,
                   const char *mail_from, const struct addr_list *rcpts,
                   struct deliver_rcpt **out, enum submit_fail *fail, char *err,
                   size_t errlen);

/* A message made ready for one relay (issue 4): the relay section, its
 * secret, the message as that relay must get it (From rewritten when the
 * section says rewrite_from) and the envelope sender it needs. Given to
 * submit_deliver in struct submit_opts, it makes the relay client on the
 * run's loop (submit_relay_opts, relay_new) and hands deliver.c the
 * message (relay_data, relay_mail_from). */
struct submit_relay {
	const struct conf_relay *conf;   /* borrowed from the struct conf */
	char *secret;                    /* owned, wiped by submit_relay_free; NULL
	                                    when the relay has no user (no AUTH) */
	char *rewritten;                 /* owned: the rewritten message, or NULL */
	const char *msg;                 /* what goes after DATA, CRLF, NOT stuffed:
	                                    rewritten, or the wire's rendered (borrowed) */
	size_t msg_len;
	char mail_from[ADDR_PATH_MAX];   /* the envelope sender the relay gets */
	int lazy;                        /* the secret is read when the relay is first
	                                    used (relay_opts.password_fn), not before */
};

/* The relay to use: name (--relay) when given, else c->relay_default,
 * else the only relay section. NULL with a sentence in err when there is
 * none, the name is unknown, or several exist and none is the default. */
const struct conf_relay *submit_relay_pick(const struct conf *c, const char *name, char *err,
                                           size_t errlen);

/* Fills p (first zeroed; free it with submit_relay_free, also after an
 * error) for sending w from mail_from through relay name (see
 * submit_relay_pick) of c: applies the From rules (relay_rewrite_apply),
 * then reads the secret (relay_cred_get), or, when lazy (fallback: the
 * relay may never be needed), leaves that to the first transfer, where
 * a failure defers the recipients with the reason. Nothing connects.
 * Returns 0, or -1 with *fail SUBMIT_FAIL_CONFIG (or SUBMIT_FAIL_NOMEM)
 * and a sentence in err that never holds the secret. */
int submit_relay_prepare(const struct conf *c, const char *name, const struct submit_wire *w,
                         const char *mail_from, int lazy, struct submit_relay *p,
                         enum submit_fail *fail, char *err, size_t errlen);

/* The same for a whole queue run, without a message: picks the relay
 * (and reads its secret unless lazy) into p (p->msg stays NULL); each
 * message then goes through relay_rewrite_apply with p->conf. Same
 * returns. */
int submit_relay_open(const struct conf *c, const char *name, int lazy, struct submit_relay *p,
                      enum submit_fail *fail, char *err, size_t errlen);

/* The relay client options for p: conf, secret, trust anchors (the
 * section's ca_file, else o->ca_file), EHLO name and timeouts from o
 * (connect = o->timeouts.connect, the whole transfer = greeting + data_end
 * timeouts), and trace, which gets the transcript with AUTH redacted
 * (may be NULL); for a lazy p, the callback that reads the secret into
 * p on first use. Pointers in out borrow from p and o. */
void submit_relay_opts(struct submit_relay *p, const struct submit_opts *o,
                       relay_trace_fn trace, void *trace_arg, struct relay_opts *out);

void submit_relay_free(struct submit_relay *p);

/* The `mxsend send --json` document (DESIGN.md "JSON shapes",
 * mxsend-json(7)) for n results: queue_id, message_id, from, size and
 * recipients. A new reference, or NULL when out of memory. */
json_t *submit_json(const char *queue_id, const char *message_id, const char *from,
                    size_t size, const struct deliver_rcpt *r, size_t n);

/* ---- for the queue runner (queue_run.c): many messages in one run ---- */

/* Parses a message as the queue stored it (msg_render's output) and makes
 * its wire form into w, as submit_wire_make does. Same returns. */
int submit_wire_from_data(const char *data, size_t len, struct submit_wire *w,
                          enum submit_fail *fail, char *err, size_t errlen);

/* Fills dm to carry w from mail_from ("" for <>) to the n results r (whose
 * address and domain the caller set); rcpt_utf8 1 when an address needs
 * SMTPUTF8. Never fails. */
void submit_msg_init(struct deliver_msg *dm, const struct submit_wire *w, const char *mail_from,
                     struct deliver_rcpt *r, size_t n, int rcpt_utf8);

/* Delivers n prepared messages in one deliver_run over s, so that
 * messages to the same domain share its route and connections. Returns 0,
 * or -1 with *fail (SUBMIT_FAIL_TLS, SUBMIT_FAIL_NOMEM) and a reason;
 * then nothing was sent. */
int submit_deliver_msgs(struct submit *s, const struct submit_opts *o, struct deliver_msg *msgs,
                        size_t n, enum submit_fail *fail, char *err, size_t errlen);

#endif
