/*
 * cli_relay: `mxsend relay check [NAME]`: log in to a relay and report
 * what it offers, sending nothing (issue 4). Reads the secret the way a
 * send would (relay_cred.c), so a bad password file or command shows up
 * here first.
 *
 * Exit codes: 0 logged in; 78 configuration (no such relay, no usable
 * secret, unreadable ca_file); 75 cannot connect, TLS or verification
 * failure; 77 the login was refused (EX_NOPERM). Must not print the
 * secret: the transcript (-v) shows AUTH redacted.
 */
#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "log.h"
#include "loop.h"
#include "relay.h"
#include "relay_cred.h"
#include "submit.h"
#include "utf8.h"

struct check_run {
	int done;                    /* the check's callback came */
};

static void on_check_done(void *arg, struct relay_check *c)
{
	struct check_run *cr = arg;

	(void)c;
	cr->done = 1;
}

static void usage(FILE *out)
{
	fputs("usage: mxsend relay check [NAME] [--config FILE] [--json] [-v] [--timeout SECONDS]\n"
	      "logs in to the relay NAME (else relay_default, else the only relay), shows\n"
	      "its greeting, capabilities and TLS, and quits without sending anything\n", out);
}

static json_t *str_or_null(const char *s)
{
	char tmp[SMTP_TEXT_MAX];

	if (s == NULL || s[0] == '\0')
		return json_null();
	snprintf(tmp, sizeof(tmp), "%s", s);
	utf8_sanitize(tmp);
	return json_string(tmp);
}

static void print_json(const struct conf_relay *r, const struct relay_check *c, const char *status)
{
	json_t *caps = json_array(), *tls = json_null(), *doc;

	for (size_t i = 0; i < c->ncaps; i++)
		json_array_append_new(caps, str_or_null(c->caps[i]));
	if (c->out.tls_active)
		tls = json_pack("{s:s, s:s, s:b, s:o, s:{s:o, s:o}}", "version", c->out.tls.version,
		                "cipher", c->out.tls.cipher, "verified", c->out.tls.verified,
		                "verify_error", str_or_null(c->out.tls.verify_error), "cert",
		                "subject", str_or_null(c->out.tls.subject),
		                "issuer", str_or_null(c->out.tls.issuer));
	doc = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:b, s:i, "
	                "s:o, s:o, s:o}",
	                "relay_name", r->name, "preset", r->preset, "host", r->host,
	                "port", (int)r->port,
	                "tls_mode", r->tls == CONF_RELAY_TLS_IMPLICIT ? "implicit"
	                : r->tls == CONF_RELAY_TLS_STARTTLS ? "starttls" : "none",
	                "user", r->user, "peer", c->out.peer, "connected", c->out.connected,
	                "greeting", str_or_null(c->greeting), "ehlo", caps, "tls", tls,
	                "authenticated", c->out.authenticated, "auth_code", c->auth_code,
	                "auth_reply", str_or_null(c->auth_reply), "hint", str_or_null(c->hint),
	                "reason", str_or_null(c->out.reason));
	json_object_set_new(doc, "status", json_string(status));
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(doc);
}

static void print_text(const struct conf_relay *r, const struct relay_check *c)
{
	printf("relay %s: %s:%u (%s%s%s), user %s\n", r->name, r->host, r->port,
	       r->tls == CONF_RELAY_TLS_IMPLICIT ? "implicit TLS"
	       : r->tls == CONF_RELAY_TLS_STARTTLS ? "STARTTLS required" : "no TLS",
	       r->preset[0] ? ", preset " : "", r->preset, r->user[0] ? r->user : "(none: no login)");
	printf("  connected: %s %s\n", c->out.connected ? "yes," : "no", c->out.peer);
	if (c->greeting[0])
		printf("  greeting:  %s\n", c->greeting);
	if (c->out.tls_active) {
		printf("  TLS:       %s %s, certificate %s\n", c->out.tls.version, c->out.tls.cipher,
		       c->out.tls.verified ? "verified" : c->out.tls.verify_error);
		printf("  subject:   %s\n  issuer:    %s\n", c->out.tls.subject, c->out.tls.issuer);
	}
	for (size_t i = 0; i < c->ncaps; i++)
		printf("  %s %s\n", i == 0 ? "EHLO:     " : "          ", c->caps[i]);
	if (c->auth_code)
		printf("  login:     %s (%s)\n", c->out.authenticated ? "accepted" : "REFUSED",
		       c->auth_reply);
	if (c->out.reason[0])
		printf("  problem:   %s\n", c->out.reason);
	if (c->hint[0] && strstr(c->out.reason, c->hint) == NULL)
		printf("  hint:      %s\n", c->hint);
	printf("%s\n", c->out.authenticated ? "OK: logged in and out; nothing was sent"
	       : "FAILED: see above");
}

static int run_check(const struct cli_common *co, const char *name)
{
	struct conf conf;
	const struct conf_relay *r;
	char err[1024], hostname[SUBMIT_HOSTNAME_MAX];
	char *secret = NULL;
	struct loop *loop = NULL;
	struct relay *relay = NULL;
	struct relay_opts ro;
	struct relay_check *check = NULL;
	struct check_run cr = { 0 };
	int rc = cli_load_conf(co, &conf, "relay check");

	if (rc != 0)
		return rc;
	r = submit_relay_pick(&conf, name, err, sizeof(err));
	if (r == NULL) {
		cli_error("relay check", "%s", err);
		return EX_CONFIG;
	}
	if (relay_cred_get(r, &secret, err, sizeof(err)) < 0) {
		cli_error("relay check", "%s", err);
		return EX_CONFIG;
	}
	submit_hostname(conf.hostname, hostname);
	check = calloc(1, sizeof(*check));
	loop = loop_new();
	if (check == NULL || loop == NULL) {
		cli_error("relay check", "out of memory or no event loop");
		rc = EX_OSERR;
		goto done;
	}
	memset(&ro, 0, sizeof(ro));
	ro.conf = r;
	ro.password = secret;
	ro.ca_file = conf.ca_file[0] ? conf.ca_file : NULL;
	ro.ehlo_name = hostname;
	ro.connect_timeout_ms = co->timeout_set ? co->timeout_ms : conf.timeout_connect * 1000u;
	ro.timeout_ms = co->timeout_set ? co->timeout_ms * 2 : 120000;
	ro.trace = co->verbose ? log_transcript : NULL;
	relay = relay_new(loop, &ro, err, sizeof(err));
	if (relay == NULL) {
		cli_error("relay check", "%s", err);
		rc = EX_CONFIG;
		goto done;
	}
	check->done = on_check_done;
	check->arg = &cr;
	if (relay_check_start(relay, check) < 0) {
		cli_error("relay check", "out of memory");
		rc = EX_OSERR;
		goto done;
	}
	while (!cr.done)
		if (loop_run(loop) < 0)
			break;
	if (check->out.authenticated)
		rc = EX_OK;
	else if (check->auth_code != 0)
		rc = EX_NOPERM;
	else if (strstr(check->out.reason, "did not offer AUTH") != NULL)
		rc = EX_NOPERM;
	else
		rc = EX_TEMPFAIL;
	if (co->json)
		print_json(r, check, rc == EX_OK ? "ok" : rc == EX_NOPERM ? "auth_failed"
		           : "unreachable");
	else
		print_text(r, check);
done:
	relay_free(relay);
	loop_free(loop);
	free(check);
	relay_cred_free(secret);
	return rc;
}

int cli_relay(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common co;
	const char *name = NULL;
	int opt;

	memset(&co, 0, sizeof(co));
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			usage(stdout);
			return EX_OK;
		}
		usage(stderr);
		return EX_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		int c = cli_common_opt(&co, opt, optarg, "relay check");

		if (c < 0)
			return EX_USAGE;
		if (c > 0)
			continue;
		if (opt == 'h') {
			usage(stdout);
			return EX_OK;
		}
		cli_error("relay check", "unknown option '%s'", argv[optind - 1]);
		return EX_USAGE;
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc) {
		cli_error("relay check", "one relay name at most");
		return EX_USAGE;
	}
	return run_check(&co, name);
}
