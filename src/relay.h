/*
 * relay: authenticated submission to a relay (QQ Mail, Exmail, 163, Gmail
 * or any host) through libcurl, driven from the project's event loop with
 * the multi socket interface, so relay transfers run beside direct SMTP
 * sessions and DNS queries in one thread.
 *
 * A job is one message from one sender to some recipients. Each recipient
 * gets its own result: libcurl 7.88 stops at the first refused RCPT unless
 * CURLOPT_MAIL_RCPT_ALLLOWFAILS is set, and even then returns only one
 * code, so the RCPT replies are read from libcurl's protocol trace (see
 * relay.c for how). libcurl dot-stuffs the body itself: jobs carry the
 * message as rendered, CRLF lines, never stuffed.
 *
 * The secret is borrowed from the caller (relay_cred.c reads it) and never
 * appears in the trace, a log line or an error: AUTH exchanges are
 * redacted before the trace callback sees them.
 */
#ifndef MXSEND_RELAY_H
#define MXSEND_RELAY_H

#include <stddef.h>

#include "conf.h"
#include "smtp_session.h"
#include "tls_client.h"

struct loop;
struct relay;

/* How a job went as a whole: the facts every recipient of it shares. */
struct relay_outcome {
	char peer[320];          /* "host[ip]:port" as in log lines; "host:port" when
	                            no connection came up */
	int connected;           /* TCP came up */
	int authenticated;       /* AUTH succeeded */
	int tls_active;
	struct tls_details tls;  /* when tls_active: version, cipher, verified */
	char reason[SMTP_TEXT_MAX]; /* a job-wide failure (connect, TLS, AUTH,
	                            MAIL FROM), explained for a person; "" otherwise */
};

/* One message to some recipients. Everything is borrowed until done. */
struct relay_job {
	const char *mail_from;        /* reverse path without brackets, "" for <> */
	const char *data;             /* the rendered message, CRLF lines, NOT stuffed */
	size_t len;
	struct smtp_rcpt **rcpts;     /* each gets status, code, dsn and reply */
	size_t nrcpts;
	/* Called once when every recipient has a status (SENT, BOUNCED or
	 * DEFERRED: 4xx defers, 5xx bounces that recipient, a connection, TLS
	 * or AUTH failure defers them all). */
	void (*done)(void *arg, struct relay_job *job, const struct relay_outcome *out);
	void *arg;
};

/* A transcript line: dir is '<' (server) or '>' (client); AUTH payloads
 * already replaced by "<redacted>". */
typedef void (*relay_trace_fn)(void *arg, const char *peer, char dir, const char *line,
                               size_t len);

struct relay_opts {
	const struct conf_relay *conf;  /* host, port, tls mode, user, ca_file */
	const char *password;           /* the secret, borrowed; NULL = no AUTH,
	                                   unless password_fn gives it */
	/* Reads the secret when the first transfer needs it (a fallback
	 * relay is unused in most runs): 0 with *password set (valid until
	 * relay_free), or -1 with a reason, which then defers every job.
	 * Called only when password is NULL and conf->user is set; may be
	 * NULL. */
	int (*password_fn)(void *arg, const char **password, char *err, size_t errlen);
	void *password_arg;
	const char *ca_file;            /* extra trust anchors when conf->ca_file is
	                                   empty (the global ca_file); NULL = system only */
	const char *ehlo_name;          /* EHLO name */
	unsigned connect_timeout_ms;    /* 0 = 30000 */
	unsigned timeout_ms;            /* a whole transfer; 0 = 600000 */
	unsigned max_connections;       /* transfers at once to the relay; 0 = 4 */
	relay_trace_fn trace;           /* may be NULL */
	void *arg;                      /* for trace */
};

/* A relay client on loop, or NULL with a reason in err. Nothing connects
 * until a job is submitted. */
struct relay *relay_new(struct loop *loop, const struct relay_opts *o, char *err,
                        size_t errlen);

/* Queues job; it runs as the loop turns. Returns 0, or -1 when out of
 * memory (then done is never called). */
int relay_submit(struct relay *r, struct relay_job *job);

/* Logs in and out without sending (`mxsend relay check`): fills out
 * and the server's EHLO capabilities (at most ncaps lines of at most
 * 128 octets each, into caps; *ncaps_out how many), then calls done with
 * job NULL. Returns 0 or -1 as relay_submit. */
struct relay_check {
	struct relay_outcome out;
	char greeting[SMTP_TEXT_MAX];
	char caps[64][128];
	size_t ncaps;
	int auth_code;                 /* the AUTH reply code, 0 if none was sent */
	char auth_reply[SMTP_TEXT_MAX];
	char hint[SMTP_TEXT_MAX];      /* provider-specific explanation, or "" */
	void (*done)(void *arg, struct relay_check *check);
	void *arg;
};
int relay_check_start(struct relay *r, struct relay_check *check);

/* Frees r; transfers still running are aborted without callbacks. */
void relay_free(struct relay *r);

/* A person's explanation of a relay reply for conf's provider (QQ's 535
 * means the authorization code, not the password, is wanted; QQ's 501
 * means From must be the account), into hint; "" when there is none. */
void relay_hint(const struct conf_relay *conf, int code, const char *reply, char *hint,
                size_t hintlen);

#endif
