/*
 * cli_send: the command lines of `mxsend send` and of the sendmail front
 * (the same binary called as `sendmail`). Both fill a struct send_opts and
 * hand it to send_run.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "send.h"

static int push(const char **list, size_t *n, const char *v, const char *opt, const char *cmd)
{
	if (*n >= SEND_LIST_MAX) {
		cli_error(cmd, "%s: at most %d times", opt, SEND_LIST_MAX);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

static void send_usage(FILE *out)
{
	fputs("usage: mxsend send [options] [RECIPIENT...]\n"
	      "compose:   --from ADDR [--from-name NAME] --to/--cc/--bcc ADDR... [--reply-to ADDR]\n"
	      "           [--subject TEXT] [--text FILE|-] [--html FILE] [--attach FILE]...\n"
	      "           [--header 'Name: value']...\n"
	      "or a whole message on standard input (or --message FILE); -t takes the\n"
	      "recipients from its To/Cc/Bcc.\n"
	      "delivery:  [--tls none|may|encrypt|verify] [--ca-file FILE]\n"
	      "           [--via direct|relay|auto] [--relay NAME] [--fallback never|LIST]\n"
	      "           [--hostname NAME] [--dry-run] [--json] [-v] [--syslog]\n"
	      "           [--dns HOST[:PORT]]... [--timeout SECONDS] [--config FILE]\n", out);
}

int cli_send(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "from", required_argument, NULL, 'f' },
		{ "from-name", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 1 },
		{ "cc", required_argument, NULL, 2 },
		{ "bcc", required_argument, NULL, 3 },
		{ "reply-to", required_argument, NULL, 4 },
		{ "subject", required_argument, NULL, 's' },
		{ "text", required_argument, NULL, 5 },
		{ "html", required_argument, NULL, 6 },
		{ "attach", required_argument, NULL, 'a' },
		{ "header", required_argument, NULL, 'H' },
		{ "message", required_argument, NULL, 7 },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "tls", required_argument, NULL, 8 },
		{ "via", required_argument, NULL, 9 },
		{ "relay", required_argument, NULL, 10 },
		{ "no-queue", no_argument, NULL, 11 },
		{ "hostname", required_argument, NULL, 12 },
		{ "ca-file", required_argument, NULL, 13 },
		{ "syslog", no_argument, NULL, 14 },
		{ "seed", required_argument, NULL, 15 },
		{ "max-sessions", required_argument, NULL, 16 },
		{ "no-pipelining", no_argument, NULL, 17 },
		{ "fallback", required_argument, NULL, 18 },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts *o = calloc(1, sizeof(*o));
	unsigned long v;
	int opt, rc = EX_USAGE;

	if (o == NULL) {
		cli_error("send", "out of memory");
		return EX_OSERR;
	}
	o->cmd = "send";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vhtnf:F:s:a:H:", longopts, NULL)) != -1) {
		int c = cli_common_opt(&o->common, opt, optarg, "send");

		if (c < 0)
			goto done;
		if (c > 0)
			continue;
		switch (opt) {
		case 'h': send_usage(stdout); rc = EX_OK; goto done;
		case 'f': o->from = optarg; break;
		case 'F': o->from_name = optarg; break;
		case 1: if (push(o->to, &o->nto, optarg, "--to", "send") < 0) goto done; break;
		case 2: if (push(o->cc, &o->ncc, optarg, "--cc", "send") < 0) goto done; break;
		case 3: if (push(o->bcc, &o->nbcc, optarg, "--bcc", "send") < 0) goto done; break;
		case 4: if (push(o->reply_to, &o->nreply_to, optarg, "--reply-to", "send") < 0) goto done; break;
		case 's': o->subject = optarg; break;
		case 5: o->text_file = optarg; break;
		case 6: o->html_file = optarg; break;
		case 'a': if (push(o->attach, &o->nattach, optarg, "--attach", "send") < 0) goto done; break;
		case 'H': if (push(o->headers, &o->nheaders, optarg, "--header", "send") < 0) goto done; break;
		case 7: o->message_file = optarg; break;
		case 't': o->from_headers = 1; break;
		case 'n': o->dry_run = 1; break;
		case 8: o->tls = optarg; break;
		case 9: o->via = optarg; break;
		case 10: o->relay = optarg; break;
		case 11: o->no_queue = 1; break;
		case 18: o->fallback = optarg; break;
		case 12: o->hostname = optarg; break;
		case 13: o->ca_file = optarg; break;
		case 14: o->syslog = 1; break;
		case 15:
			if (cli_parse_uint(optarg, 0, ~0ul, &v) < 0) {
				cli_error("send", "--seed '%s': expected a whole number", optarg);
				goto done;
			}
			o->seed = v;
			o->seeded = 1;
			break;
		case 16:
			if (cli_parse_uint(optarg, 1, 10000, &v) < 0) {
				cli_error("send", "--max-sessions '%s': expected 1 to 10000", optarg);
				goto done;
			}
			o->max_sessions = (unsigned)v;
			break;
		case 17: o->no_pipelining = 1; break;
		case ':':
			cli_error("send", "option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			cli_error("send", "unknown option '%s'", argv[optind - 1]);
			send_usage(stderr);
			goto done;
		}
	}
	if (o->text_file && o->message_file) {
		cli_error("send", "--message reads a whole message; it does not go with --text");
		goto done;
	}
	o->rcpts = argv + optind;
	o->nrcpts = (size_t)(argc - optind);
	rc = send_run(o);
done:
	free(o);
	return rc;
}

/*
 * The sendmail command line, as cron, PHP's mail(), git send-email and
 * mutt use it: -t, -i, -oi, -f, -F, -v; the many sendmail options that
 * make no sense here are accepted and ignored, as dma and msmtp do, so
 * those programs work unchanged. Modes other than sending (-bp, -bs, -q,
 * -bv, ...) are refused with a clear message.
 */
int cli_sendmail(int argc, char **argv)
{
	struct send_opts *o = calloc(1, sizeof(*o));
	int i, rc = EX_USAGE;

	if (o == NULL)
		return EX_OSERR;
	o->cmd = "sendmail";
	o->dot_ends_input = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		switch (a[1]) {
		case 't':
			o->from_headers = 1;
			break;
		case 'i':
			o->dot_ends_input = 0;
			break;
		case 'v':
			o->common.verbose++;
			break;
		case 'f':
		case 'F':
		case 'r': /* -r is the old name of -f */
			if (a[2] == '\0' && i + 1 >= argc) {
				cli_error("sendmail", "-%c needs a value", a[1]);
				goto done;
			}
			if (a[1] == 'F')
				o->from_name = a[2] ? a + 2 : argv[++i];
			else
				o->from = a[2] ? a + 2 : argv[++i];
			break;
		case 'o':
			/* -oi is -i; -oem, -odb, -odi, -oee, -om, -oQ... mean nothing here. */
			if (strcmp(a, "-oi") == 0)
				o->dot_ends_input = 0;
			else if (strncmp(a, "-od", 3) == 0 && a[3] != '\0')
				o->deliver_mode = a[3]; /* -odb, -odi, -odq */
			else if (a[2] == '\0' && i + 1 < argc)
				i++; /* "-o X" with a separate value */
			break;
		case 'b':
			if (strcmp(a, "-bm") == 0)
				break;
			cli_error("sendmail", "mode '%s' is not supported: only sending (-bm, the "
			          "default) is; see mxsend(1) for queue and routing commands", a);
			goto done;
		case 'q':
			cli_error("sendmail", "'%s': queue runs are 'mxsend queue run'", a);
			goto done;
		case 'C':
			if (a[2] == '\0' && i + 1 < argc)
				o->common.config_path = argv[++i];
			else if (a[2] != '\0')
				o->common.config_path = a + 2;
			break;
		case 'B': case 'N': case 'R': case 'V': case 'X': case 'L': case 'h':
			/* Options with a value we ignore: -B 8BITMIME, -N never,
			 * -R hdrs, -V envid, -X logfile, -L tag, -h hops. */
			if (a[2] == '\0' && i + 1 < argc)
				i++;
			break;
		case 'U': case 'm': case 'n': case 'G': case 'e': case 'A':
			break; /* accepted and ignored */
		default:
			cli_error("sendmail", "unknown option '%s'", a);
			goto done;
		}
	}
	o->rcpts = argv + i;
	o->nrcpts = (size_t)(argc - i);
	rc = send_run(o);
done:
	free(o);
	return rc;
}
