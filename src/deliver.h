/*
 * deliver: carries messages to their recipients' MX hosts.
 *
 * Recipients are grouped by domain across every message of a run; each
 * domain is routed once (route.c) and then served by sessions that take
 * transactions from the domain's queue: one transaction per message and
 * batch of at most max_rcpts_per_txn recipients, several transactions per
 * connection. A host that fails passes its pending recipients to the next
 * address in route order; when none is left they are deferred with the
 * last reason. All domains run at once in the one event loop, bounded by
 * max_sessions in total and max_per_dest per domain.
 */
#ifndef MXSEND_DELIVER_H
#define MXSEND_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_session.h"
#include "tls_policy.h"

struct loop;
struct dns_resolver;
struct route_ctx;
struct route_result;

enum deliver_status {
	DELIVER_SENT,
	DELIVER_DEFERRED,
	DELIVER_BOUNCED,
};

/* One recipient of one message, and what became of it. */
struct deliver_rcpt {
	char address[512];            /* envelope address */
	char domain[256];             /* its domain, A-label form, lower case */
	enum deliver_status status;   /* final status */
	struct smtp_rcpt smtp;        /* code, dsn, reply text */
	char relay[320];              /* "host[ip]:port", or "none" */
	char via[8];                  /* "relay" when it went through a relay; "" or
	                                 "direct" for direct delivery */
	char relay_name[64];          /* the relay section's name when via relay, else "" */
	char tls_version[16];         /* "" when the session was plaintext */
	char tls_cipher[64];
	int tls_verified;
	uint64_t delay_ms;            /* from the start of the run */
	unsigned pending_rounds;      /* times a server asked to send it later */
	int done;                     /* final status set */
};

struct deliver_msg {
	const char *mail_from;        /* reverse path, "" for <> */
	const char *data;             /* dot-stuffed, ending CRLF . CRLF */
	size_t data_len;
	size_t size;                  /* the message size before stuffing */
	int eightbit;
	const char *data7;            /* 7-bit form for servers without 8BITMIME, or NULL */
	size_t data7_len;
	size_t size7;
	int smtputf8;                 /* a non-ASCII envelope address: SMTPUTF8 needed */
	int utf8_headers;             /* 8-bit header fields: SMTPUTF8 asked for when offered */
	struct deliver_rcpt *rcpts;   /* owned by the caller */
	size_t nrcpts;
	void *user;                   /* for the caller's callbacks */
};

typedef void (*deliver_result_fn)(void *arg, const struct deliver_msg *msg,
                                  const struct deliver_rcpt *rcpt);
/* A transcript line of the session with peer ("host[ip]:port"). */
typedef void (*deliver_trace_fn)(void *arg, const char *peer, char dir, const char *line,
                                 size_t len);

struct deliver_opts {
	const char *ehlo_name;
	enum tls_level tls;
	void *ssl_ctx;                /* SSL_CTX *, NULL only when tls is none */
	struct smtp_timeouts timeouts;
	unsigned max_sessions;        /* in total; 0 = 100 */
	unsigned max_per_dest;        /* per domain; 0 = 20 */
	unsigned max_rcpts_per_txn;   /* 0 = 100 (RFC 5321 4.5.3.1.8) */
	unsigned port;                /* 0 = 25 */
	int no_pipelining;
	deliver_result_fn on_result;  /* each recipient's final status */
	deliver_trace_fn trace;       /* transcript, may be NULL */
	void *arg;
};

/* Delivers every message, running loop until all recipients have a final
 * status (sent, deferred or bounced). route and dns belong to the caller.
 * Returns 0, or -1 when out of memory before anything started. */
int deliver_run(struct loop *loop, struct route_ctx *route, const struct deliver_opts *opts,
                struct deliver_msg *msgs, size_t nmsgs);

const char *deliver_status_name(enum deliver_status st);

#endif
