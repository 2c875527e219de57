/*
 * send: one submission from the command line, shared by `mxsend send` and
 * the sendmail front: build or read the message, fix it up, route and
 * deliver it, report each recipient, and pick the exit status.
 */
#ifndef MXSEND_SEND_H
#define MXSEND_SEND_H

#include <stddef.h>

#include "cli.h"

#define SEND_LIST_MAX 1000 /* --to/--cc/--bcc/--attach/--header each */

struct send_opts {
	struct cli_common common;
	const char *from;              /* --from / -f */
	const char *from_name;         /* --from-name / -F */
	const char *to[SEND_LIST_MAX];
	size_t nto;
	const char *cc[SEND_LIST_MAX];
	size_t ncc;
	const char *bcc[SEND_LIST_MAX];
	size_t nbcc;
	const char *reply_to[SEND_LIST_MAX];
	size_t nreply_to;
	const char *subject;
	const char *text_file;         /* --text FILE or "-" */
	const char *html_file;
	const char *attach[SEND_LIST_MAX];
	size_t nattach;
	const char *headers[SEND_LIST_MAX];
	size_t nheaders;
	const char *message_file;      /* --message FILE instead of stdin */
	char **rcpts;                  /* recipients on the command line */
	size_t nrcpts;
	int from_headers;              /* -t */
	int dot_ends_input;            /* sendmail without -i: a lone "." ends stdin */
	int dry_run;
	const char *tls;               /* --tls */
	const char *via;               /* --via direct|relay|auto */
	const char *relay;             /* --relay NAME */
	const char *fallback;          /* --fallback never|unreachable,deferred,rejected */
	int no_queue;
	const char *hostname;          /* --hostname: EHLO and Message-ID name */
	const char *ca_file;           /* --ca-file */
	int syslog;                    /* --syslog */
	unsigned long seed;            /* --seed: MX order */
	int seeded;
	unsigned max_sessions;         /* --max-sessions */
	int no_pipelining;             /* --no-pipelining */
	const char *cmd;               /* "send" or "sendmail", for messages */
	char deliver_mode;             /* sendmail -od: 'b' queue, then deliver in the
	                                  background (default); 'i' deliver in the
	                                  foreground, queue what is deferred; 'q' queue
	                                  only. `mxsend send` is always 'i'. */
};

/* Runs the submission; returns a sysexits(3) code. */
int send_run(struct send_opts *o);

int cli_send(int argc, char **argv);
int cli_sendmail(int argc, char **argv);

#endif
