/*
 * smtp_session: one SMTP client connection to one MX address, as an
 * explicit state machine that reacts to transport events (io.c) and
 * replies (smtp_reply.c).
 *
 * The session connects, reads the greeting, says EHLO (HELO when EHLO is
 * not recognised), upgrades with STARTTLS as the TLS policy says, then
 * asks its owner for transactions one after the other (several messages,
 * or more than one batch of recipients, share the connection) and ends
 * with QUIT. It classifies at the source (STYLE.md principle 2): each
 * recipient ends sent, deferred, bounced, or still pending when the host
 * failed and the next host should be tried.
 */
#ifndef MXSEND_SMTP_SESSION_H
#define MXSEND_SMTP_SESSION_H

#include <stddef.h>
#include <sys/socket.h>

#include "smtp_reply.h"
#include "tls_client.h"
#include "tls_policy.h"

struct loop;
struct smtp_session;

enum smtp_state {
	SMTP_ST_CONNECT,
	SMTP_ST_GREETING,
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_STARTTLS,
	SMTP_ST_TLS_HANDSHAKE,
	SMTP_ST_EHLO_TLS,
	SMTP_ST_IDLE,        /* ready for a transaction */
	SMTP_ST_TXN,         /* MAIL, RCPT, DATA replies outstanding */
	SMTP_ST_DATA_BODY,   /* message sent, waiting for the final reply */
	SMTP_ST_RSET,
	SMTP_ST_QUIT,
	SMTP_ST_DONE,
	SMTP_ST_LAST
};

enum smtp_rcpt_status {
	SMTP_RCPT_PENDING,   /* not tried here, or the host failed: try elsewhere */
	SMTP_RCPT_ACCEPTED,  /* RCPT accepted, final reply outstanding */
	SMTP_RCPT_SENT,
	SMTP_RCPT_DEFERRED,
	SMTP_RCPT_BOUNCED,
};

#define SMTP_TEXT_MAX 512

struct smtp_rcpt {
	const char *address;           /* envelope address, borrowed */
	enum smtp_rcpt_status status;  /* set by the session */
	int code;                      /* the reply that decided it, 0 if none */
	char dsn[16];                  /* enhanced status code "5.1.1" */
	char reply[SMTP_TEXT_MAX];     /* one-line reply, or the local reason */
};

/* One transaction; everything is borrowed from the owner until its
 * txn_done callback. */
struct smtp_txn {
	const char *mail_from;   /* reverse path without brackets, "" for <> */
	struct smtp_rcpt **rcpts;/* the recipients of this transaction */
	size_t nrcpts;
	const char *data;        /* dot-stuffed message ending "\r\n.\r\n" */
	size_t data_len;
	size_t size;             /* message size for SIZE= (RFC 1870) */
	int eightbit;            /* needs BODY=8BITMIME (RFC 6152) */
	const char *data7;       /* the same message 7-bit, stuffed, or NULL: sent
	                            to a server without 8BITMIME */
	size_t data7_len;
	size_t size7;
	int smtputf8;            /* needs SMTPUTF8 (RFC 6531): a non-ASCII address */
	int utf8_headers;        /* UTF-8 header fields (RFC 6532): SMTPUTF8 is asked
	                            for when offered; without it they go as is, as
	                            Postfix does, since refusing would bounce mail
	                            most servers take */
};

struct smtp_timeouts {
	unsigned connect, greeting, ehlo, starttls, mail, rcpt, data, data_end, rset, quit; /* ms */
};

/* Called when the session is idle: return the next transaction, or NULL
 * to end the session with QUIT. */
typedef struct smtp_txn *(*smtp_next_txn_fn)(void *arg, struct smtp_session *s);
/* Asked when the message is sent: may another transaction follow on this
 * session? When not, QUIT is pipelined behind the message (RFC 2920 3.1)
 * and the session ends without asking next_txn again. Optional: without
 * it the session always asks next_txn after the transaction. */
typedef int (*smtp_more_txn_fn)(void *arg, struct smtp_session *s);
/* Called after each transaction with its recipients' statuses set. */
typedef void (*smtp_txn_done_fn)(void *arg, struct smtp_session *s, struct smtp_txn *txn);
/* Called once at the end; the owner then frees the session. */
typedef void (*smtp_done_fn)(void *arg, struct smtp_session *s);
/* Transcript: dir is '>' for what we sent, '<' for what we received, '*'
 * for notes. line has no line end and may hold any byte. */
typedef void (*smtp_trace_fn)(void *arg, char dir, const char *line, size_t len);

struct smtp_session_config {
	const char *ehlo_name;        /* our name for EHLO/HELO */
	const char *mx_name;          /* for SNI and the certificate check */
	enum tls_level tls;
	void *ssl_ctx;                /* SSL_CTX *, needed unless tls is none */
	struct smtp_timeouts timeouts;
	int no_pipelining;            /* do not pipeline even when offered */
	smtp_next_txn_fn next_txn;
	smtp_more_txn_fn more_txn;    /* may be NULL */
	smtp_txn_done_fn txn_done;
	smtp_done_fn done;
	smtp_trace_fn trace;          /* may be NULL */
	void *arg;                    /* for all the callbacks */
};

/* How the session ended, for the owner's done callback. */
struct smtp_session_result {
	int host_failed;          /* 1: pending recipients should try the next host */
	int tls_failed;           /* the TLS handshake failed (may retry plaintext at "may") */
	char reason[SMTP_TEXT_MAX]; /* why the host failed, or "" */
	int code;                 /* the reply behind it, 0 for local reasons */
	char dsn[16];
	int connected;            /* TCP came up */
	int connect_timed_out;    /* it did not: the connect timed out (a firewall
	                             that drops, as when port 25 is blocked) */
	unsigned connect_ms;      /* time to connect */
	int greeted;              /* a 2xx greeting came */
	int tls_active;
	struct tls_details tls;   /* when tls_active */
	struct smtp_caps caps;    /* from the last EHLO */
	char greeting[SMTP_TEXT_MAX];
	unsigned round_trips;     /* times we waited for the server (benchmarks) */
};

/* Starts a session to sa; cfg is copied (its strings are borrowed). NULL
 * only when out of memory. */
struct smtp_session *smtp_session_start(struct loop *loop, const struct sockaddr *sa,
                                        socklen_t salen, const struct smtp_session_config *cfg);
const struct smtp_session_result *smtp_session_result(const struct smtp_session *s);
/* "host[addr]:port" of the peer. */
const char *smtp_session_peer(const struct smtp_session *s);
enum smtp_state smtp_session_state(const struct smtp_session *s);
const char *smtp_state_name(enum smtp_state st);
/* Frees; must not be called from inside a callback except done. */
void smtp_session_free(struct smtp_session *s);

#endif
