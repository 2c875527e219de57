/*
 * probe_session: one diagnostic SMTP session to one MX address, for
 * `mxsend probe`. It connects, reads the greeting, says EHLO (HELO when
 * EHLO is refused), asks for STARTTLS when offered, completes the TLS
 * handshake whatever the certificate, says EHLO again, and, only when the
 * caller gives a recipient, tries MAIL FROM, RCPT TO and RSET; then QUIT.
 * It never sends DATA, and never MAIL FROM without a recipient to check.
 *
 * Every step is timed and has its own timeout, so that a dead host costs
 * seconds. The session records facts; it judges nothing (probe_verdict.c
 * does, from these facts alone).
 */
#ifndef MXSEND_PROBE_SESSION_H
#define MXSEND_PROBE_SESSION_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "smtp_reply.h"
#include "tls_client.h"

struct loop;
struct probe_session;

enum probe_step {
	PROBE_ST_CONNECT,
	PROBE_ST_GREETING,
	PROBE_ST_EHLO,
	PROBE_ST_HELO,
	PROBE_ST_STARTTLS,
	PROBE_ST_TLS_HANDSHAKE,
	PROBE_ST_EHLO_TLS,
	PROBE_ST_MAIL,
	PROBE_ST_RCPT,
	PROBE_ST_RSET,
	PROBE_ST_QUIT,
	PROBE_ST_DONE,
	PROBE_ST_LAST
};

/* Milliseconds per step; 0 means the step's default (30 s). */
struct probe_timeouts {
	unsigned connect;  /* TCP connect */
	unsigned greeting; /* the 220 after connecting */
	unsigned ehlo;     /* EHLO or HELO reply */
	unsigned starttls; /* STARTTLS reply, then the handshake */
	unsigned mail;     /* MAIL FROM reply (--rcpt only) */
	unsigned rcpt;     /* RCPT TO reply (--rcpt only) */
	unsigned rset;     /* RSET reply */
	unsigned quit;     /* QUIT reply; not waiting for it is no failure */
};

#define PROBE_TEXT_MAX 512 /* one-line replies and reasons kept */

/* One reply as the JSON shows it. */
struct probe_reply {
	int code;                   /* 0: none came */
	char text[PROBE_TEXT_MAX];  /* sanitised, lines joined by a space */
	unsigned ms;                /* from sending the command (or from the
	                               connection, for the greeting) to the reply */
};

/* What one session found. Plain data: copied, never freed piecewise. */
struct probe_result {
	int connected;                 /* TCP came up */
	unsigned connect_ms;           /* time to connect, or to fail */
	int connect_refused;           /* ECONNREFUSED: nothing listens */
	int connect_timeout;           /* no answer at all within the timeout */
	struct probe_reply greeting;   /* code 0 when none came */
	int ehlo_ok;                   /* EHLO (or HELO) was accepted */
	int helo_used;                 /* EHLO refused, HELO accepted */
	struct probe_reply ehlo;       /* the first EHLO's reply */
	struct smtp_caps caps;         /* from the last EHLO (after TLS if any) */
	struct smtp_caps caps_plain;   /* from the EHLO before STARTTLS */
	int starttls_offered;          /* STARTTLS in the first EHLO */
	struct probe_reply starttls;   /* reply to STARTTLS, code 0 if not sent */
	int tls_attempted;             /* the handshake started */
	int tls_ok;                    /* and finished */
	unsigned tls_ms;               /* handshake time */
	char tls_error[PROBE_TEXT_MAX];/* why the handshake failed */
	struct tls_details tls;        /* when tls_ok */
	size_t chain_len;              /* certificates the server sent */
	char chain_subject[TLS_CHAIN_MAX][TLS_NAME_MAX]; /* leaf first */
	char chain_issuer[TLS_CHAIN_MAX][TLS_NAME_MAX];
	size_t dropped_plaintext;      /* bytes sent after the STARTTLS 220 and
	                                  before the handshake, discarded (TLS-03) */
	int ehlo_tls_ok;               /* EHLO accepted again inside TLS */
	int rcpt_tried;                /* MAIL FROM was sent */
	struct probe_reply mail;       /* reply to MAIL FROM */
	struct probe_reply rcpt;       /* reply to RCPT TO, code 0 if not sent */
	int complete;                  /* every step ran to QUIT (or to the
	                                  server's refusal, answered politely) */
	enum probe_step failed_step;   /* where it broke, when !complete */
	char error[PROBE_TEXT_MAX];    /* how it broke: "timeout", "connection
	                                  closed", a protocol error ... */
	int timed_out;                 /* it broke on a timeout */
	unsigned total_ms;             /* the whole session */
};

/* Called once when the session has ended; the owner then frees it
 * (probe_session_free) and may keep a copy of the result. */
typedef void (*probe_done_fn)(void *arg, struct probe_session *s);
/* Transcript for -v: dir '>' sent, '<' received, '*' a note. */
typedef void (*probe_trace_fn)(void *arg, char dir, const char *line, size_t len);

struct probe_session_config {
	const char *ehlo_name;         /* our name in EHLO/HELO */
	const char *mx_name;           /* SNI and the name the certificate is
	                                  checked against; NULL for a literal */
	SSL_CTX *ssl_ctx;              /* from tls_client_ctx_new */
	struct probe_timeouts timeouts;
	const char *rcpt;              /* --rcpt address, or NULL: no MAIL */
	const char *mail_from;         /* reverse path for --rcpt, "" = <> */
	probe_done_fn done;
	probe_trace_fn trace;          /* may be NULL */
	void *arg;                     /* for done and trace */
};

/* Starts a session to sa; cfg is copied, its strings borrowed until done.
 * NULL only when out of memory. done is always called from the loop. */
struct probe_session *probe_session_start(struct loop *loop, const struct sockaddr *sa,
                                          socklen_t salen,
                                          const struct probe_session_config *cfg);
/* The facts so far (all of them once done was called). */
const struct probe_result *probe_session_result(const struct probe_session *s);
/* Frees; safe inside done and with NULL. */
void probe_session_free(struct probe_session *s);

/* "CONNECT", "GREETING", ... for traces; "UNKNOWN" out of range. */
const char *probe_step_name(enum probe_step st);
/* What a person calls the step: "connect", "greeting", "EHLO" ... */
const char *probe_step_label(enum probe_step st);

#endif
