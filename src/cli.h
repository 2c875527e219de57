/*
 * cli: the command line. Each command is a function taking the arguments
 * after its name and returning a sysexits(3) code. Options that every
 * command shares are parsed by cli_common_opt so they mean the same
 * everywhere.
 */
#ifndef MXSEND_CLI_H
#define MXSEND_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "conf.h"
#include "domain.h"

/* Options shared by all commands (DESIGN.md "common"). */
struct cli_common {
	const char *config_path;   /* --config */
	int json;                  /* --json */
	int verbose;               /* -v, repeatable */
	char dns[512];             /* --dns, comma-joined for c-ares */
	size_t ndns;
	int timeout_set;           /* --timeout given */
	unsigned timeout_ms;       /* --timeout, in ms */
};

/* getopt_long entries for the common options; commands append theirs. */
#define CLI_COMMON_LONGOPTS                                   \
	{ "config", required_argument, NULL, 'C' },           \
	{ "json", no_argument, NULL, 'J' },                   \
	{ "verbose", no_argument, NULL, 'v' },                \
	{ "dns", required_argument, NULL, 'D' },              \
	{ "timeout", required_argument, NULL, 'T' },          \
	{ "help", no_argument, NULL, 'h' }

/* Handles one common option. Returns 1 when it was one (and valid),
 * 0 when it is not a common option, -1 after printing a usage error. */
int cli_common_opt(struct cli_common *c, int opt, const char *arg, const char *cmd);

/* Loads the configuration (--config, or none) and applies the common
 * options over it. Returns 0, or EX_CONFIG after printing the error. */
int cli_load_conf(const struct cli_common *c, struct conf *conf, const char *cmd);

#define CLI_DNS_LIST_MAX (CONF_DNS_MAX * 66)

/* The items of `route` and `probe`: the arguments, or one per line of
 * standard input when there are none (or just "-"). */
struct cli_items {
	char **args;                 /* items on the command line */
	int nargs;
	int argi;                    /* next one */
	FILE *in;                    /* stdin when no items were given */
	char line[DOMAIN_INPUT_MAX + 2]; /* one input line; longer ones are cut
	                                    here, never read whole (a hard limit
	                                    on outside input) */
	int done;
};

/* Reads the items from argv[first..argc). */
void cli_items_init(struct cli_items *it, int argc, char **argv, int first);

/* The next item, or NULL at the end. Lines of standard input are trimmed;
 * blank lines and '#' comments are skipped; a line too long for any
 * domain is cut (what is kept is then refused as too long). */
const char *cli_items_next(struct cli_items *it);

/* The DNS servers to use as c-ares' comma list in out: --dns replaces the
 * configured `dns` lines; neither gives "" (resolv.conf). */
void cli_dns_list(const struct cli_common *c, const struct conf *conf, char *out, size_t len);

/* Parses a whole number in [min, max]; returns 0 or -1. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Prints "mxsend CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cli_relay(int argc, char **argv);
int cli_probe(int argc, char **argv);
int cli_route(int argc, char **argv);
int cli_queue(int argc, char **argv);

/* For `mxsend queue` and the submission commands (cli_queue.c). */
struct queue;
struct queue_sched_conf;
/* Opens the spool: dir, else the configured queue_dir, else the default
 * (queue.h); on failure prints why and sets *rc to an exit code. */
struct queue *cli_queue_open(const struct conf *conf, const char *dir, const char *cmd, int *rc);
/* The schedule from the queue_* keys. */
void cli_queue_sched(const struct conf *c, struct queue_sched_conf *sc);
/* The wall clock in seconds; MXSEND_TEST_NOW overrides it (a test hook). */
long long cli_queue_now(void);
/* One delivery pass over the message id alone (sendmail's background
 * delivery): returns an exit code. */
int cli_queue_deliver_id(const struct cli_common *common, const struct conf *conf,
                         struct queue *q, const char *id, const char *hostname,
                         const char *tls, const char *ca_file);
int cli_send(int argc, char **argv);
int cli_sendmail(int argc, char **argv);

/* The entry point: dispatches on the command word. */
int cli_main(int argc, char **argv);

#endif
