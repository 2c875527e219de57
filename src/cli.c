/*
 * cli: command dispatch and the options every command shares.
 * Must not: print results (commands do), or exit from deep inside: every
 * path returns a sysexits(3) code to main.
 */
#include "config.h"

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mxsend%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Checks "IP", "IPv4:PORT", "[IPv6]:PORT" or a bare IPv6 address: c-ares
 * takes addresses only, and a bad port would otherwise show up later as a
 * DNS failure instead of a usage error. */
static int dns_server_valid(const char *arg)
{
	char host[64];
	const char *port = NULL;
	unsigned char tmp[16];
	unsigned long p;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (close == NULL || (size_t)(close - arg - 1) >= sizeof(host))
			return 0;
		memcpy(host, arg + 1, (size_t)(close - arg - 1));
		host[close - arg - 1] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return 0;
		if (inet_pton(AF_INET6, host, tmp) != 1)
			return 0;
	} else if (strchr(arg, ':') != strrchr(arg, ':')) {
		if (inet_pton(AF_INET6, arg, tmp) != 1) /* bare IPv6, no port */
			return 0;
	} else {
		const char *colon = strchr(arg, ':');
		size_t hl = colon ? (size_t)(colon - arg) : strlen(arg);

		if (hl >= sizeof(host))
			return 0;
		memcpy(host, arg, hl);
		host[hl] = '\0';
		if (colon != NULL)
			port = colon + 1;
		if (inet_pton(AF_INET, host, tmp) != 1)
			return 0;
	}
	return port == NULL || cli_parse_uint(port, 1, 65535, &p) == 0;
}

/* Appends a server to the comma list c-ares takes. */
static int add_dns(struct cli_common *c, const char *arg, const char *cmd)
{
	size_t len = strlen(arg), used = strlen(c->dns);

	if (len == 0 || len > 60 || !dns_server_valid(arg)) {
		cli_error(cmd, "--dns '%s': expected an IP address with an optional port "
		          "(1-65535), for example 127.0.0.1:5300 or [::1]:5300", arg);
		return -1;
	}
	if (used + len + 2 > sizeof(c->dns) || c->ndns >= CONF_DNS_MAX) {
		cli_error(cmd, "--dns: at most %d servers", CONF_DNS_MAX);
		return -1;
	}
	if (used > 0)
		strcat(c->dns, ",");
	strcat(c->dns, arg);
	c->ndns++;
	return 0;
}

int cli_common_opt(struct cli_common *c, int opt, const char *arg, const char *cmd)
{
	unsigned long v;

	switch (opt) {
	case 'C':
		c->config_path = arg;
		return 1;
	case 'J':
		c->json = 1;
		return 1;
	case 'v':
		c->verbose++;
		return 1;
	case 'D':
		return add_dns(c, arg, cmd) < 0 ? -1 : 1;
	case 'T': {
		/* Seconds, with an optional fraction: "0.5" is fine. */
		char *end;
		double d;

		errno = 0;
		d = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !(d > 0.0) || d > 3600.0) {
			cli_error(cmd, "--timeout '%s': expected seconds between 0 and 3600", arg);
			return -1;
		}
		c->timeout_set = 1;
		c->timeout_ms = (unsigned)(d * 1000.0 + 0.5);
		if (c->timeout_ms == 0)
			c->timeout_ms = 1;
		(void)v;
		return 1;
	}
	default:
		return 0;
	}
}

/* The configuration file when --config is not given, as msmtp and dma
 * look for theirs (a sendmail called from cron or PHP cannot pass an
 * option): $MXSEND_CONFIG, then the user's ~/.config/mxsend/mxsend.conf
 * ($XDG_CONFIG_HOME), then the system's /etc/mxsend.conf; the first that
 * exists. NULL when none does: the built-in defaults apply. */
static const char *default_conf_path(char *buf, size_t len)
{
	const char *env = getenv("MXSEND_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env != NULL && env[0] != '\0')
		return env;
	buf[0] = '\0';
	if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, len, "%s/mxsend/mxsend.conf", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(buf, len, "%s/.config/mxsend/mxsend.conf", home);
	if (buf[0] != '\0' && access(buf, F_OK) == 0)
		return buf;
	if (access(MXSEND_SYSCONF, F_OK) == 0)
		return MXSEND_SYSCONF;
	return NULL;
}

int cli_load_conf(const struct cli_common *c, struct conf *conf, const char *cmd)
{
	char err[1024], buf[1024];
	const char *path = c->config_path != NULL ? c->config_path : default_conf_path(buf, sizeof(buf));

	conf_defaults(conf);
	if (path != NULL && conf_load(path, conf, err, sizeof(err)) < 0) {
		cli_error(cmd, "%s", err);
		return EX_CONFIG;
	}
	return 0;
}

void cli_items_init(struct cli_items *it, int argc, char **argv, int first)
{
	memset(it, 0, sizeof(*it));
	it->args = argv + first;
	it->nargs = argc - first;
	if (it->nargs == 0 || (it->nargs == 1 && strcmp(it->args[0], "-") == 0))
		it->in = stdin;
}

const char *cli_items_next(struct cli_items *it)
{
	if (it->done)
		return NULL;
	if (it->in == NULL) {
		if (it->argi < it->nargs)
			return it->args[it->argi++];
		it->done = 1;
		return NULL;
	}
	for (;;) {
		char *p;
		size_t len;

		if (fgets(it->line, sizeof(it->line), it->in) == NULL) {
			it->done = 1;
			return NULL;
		}
		len = strlen(it->line);
		if (len > 0 && it->line[len - 1] != '\n' && !feof(it->in)) {
			/* Too long for any domain: drop the rest of the line; what
			 * was kept is reported as an invalid item (too long). */
			int c;

			while ((c = getc(it->in)) != EOF && c != '\n')
				;
		}
		/* Blank lines and '#' comments are skipped, so a list of domains
		 * can be annotated. */
		for (p = it->line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '\n' || *p == '\r' || *p == '#')
			continue;
		p[strcspn(p, "\r\n")] = '\0';
		return p;
	}
}

void cli_dns_list(const struct cli_common *c, const struct conf *conf, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	if (c->ndns > 0) {
		snprintf(out, len, "%s", c->dns);
		return;
	}
	for (size_t i = 0; i < conf->ndns && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", conf->dns[i]);
}

static void usage(FILE *out)
{
	fputs("usage: mxsend COMMAND [OPTIONS] [ARGUMENTS]\n"
	      "\n"
	      "commands:\n"
	      "  route DOMAIN|ADDRESS...   show where mail for each domain goes (DNS only);\n"
	      "                            reads one item per line from stdin when none given\n"
	      "  probe DOMAIN|ADDRESS...   connect to every MX host of each domain: greeting,\n"
	      "                            EHLO, STARTTLS, TLS certificate (sends no mail)\n"
	      "  send [options] RCPT...    compose or read a message and deliver it to the\n"
	      "                            recipients' MX hosts (see mxsend send --help)\n"
	      "  relay check [NAME]        log in to a relay and report; sends nothing\n"
	      "  queue list|show|run|flush|delete\n"
	      "                            the queue of deferred messages (mxsend queue --help)\n"
	      "\n"
	      "common options:\n"
	      "  --config FILE   read this configuration file (default: $MXSEND_CONFIG,\n"
	      "                  ~/.config/mxsend/mxsend.conf, then " MXSEND_SYSCONF ")\n"
	      "  --json          one JSON document on stdout\n"
	      "  -v              trace what happens on stderr\n"
	      "  --dns HOST[:PORT]  use this DNS server (repeatable) instead of resolv.conf\n"
	      "  --timeout SECONDS  time for each DNS query\n"
	      "\n"
	      "See mxsend(1). Exit status follows sysexits(3).\n", out);
}

int cli_main(int argc, char **argv)
{
	const char *cmd;
	const char *self = strrchr(argv[0], '/');

	/* The same binary as sendmail(8), for cron, PHP and git send-email. */
	self = self ? self + 1 : argv[0];
	if (strcmp(self, "sendmail") == 0 || strcmp(self, "mxsend-sendmail") == 0)
		return cli_sendmail(argc, argv);

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("mxsend %s\n", PACKAGE_VERSION);
		return EX_OK;
	}
	if (strcmp(cmd, "route") == 0)
		return cli_route(argc - 1, argv + 1);
	if (strcmp(cmd, "probe") == 0)
		return cli_probe(argc - 1, argv + 1);
	if (strcmp(cmd, "send") == 0)
		return cli_send(argc - 1, argv + 1);
	if (strcmp(cmd, "relay") == 0)
		return cli_relay(argc - 1, argv + 1);
	if (strcmp(cmd, "queue") == 0)
		return cli_queue(argc - 1, argv + 1);
	cli_error(NULL, "unknown command '%s' (try: mxsend --help)", cmd);
	return EX_USAGE;
}
