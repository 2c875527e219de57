/*
 * scripted_smtpd: the project's scripted SMTP server for tests.
 *
 * It plays the faults no real server produces on demand (a 421 greeting,
 * a greeting that never comes, a 100 KB reply line, endless continuation
 * lines, a close in the middle of DATA, bytes injected right after the
 * STARTTLS 220, QQ's exact AUTH and MAIL replies, ...) and records every
 * byte it receives, so a test can check the exact transcript. Real
 * behaviour (delivery, queueing) is Postfix's job, not this program's.
 *
 * Usage:
 *   scripted_smtpd --script FILE --listen ADDR:PORT [--listen ...]
 *                  --record DIR [--ready-file FILE] [--cert CERT --key KEY]
 *                  [--max-runtime SECONDS]
 *
 * One process serves every listen address, single-threaded, with ppoll()
 * and non-blocking sockets. The script has one section per fake host; an
 * accepted connection picks its section by the local address of the
 * socket, so 127.0.0.2:25 and 127.0.0.3:25 behave differently.
 *
 * Script format (tests/smtpd/README.md has examples). Line oriented: the
 * first word is the keyword, the rest of the line its argument; leading
 * blanks are cosmetic, trailing blanks (and a CR) are stripped, a line
 * starting with '#' is a comment:
 *
 *   host SPEC          start a section: 127.0.0.2, 127.0.0.2:465,
 *                      [::1]:25, ::1, or * (any address)
 *   cert CERT KEY      TLS identity of this host (default --cert/--key)
 *   implicit-tls       TLS handshake right after accept (like port 465)
 *   idle-timeout MS    close a session after MS without I/O (30000)
 *   greeting [TEXT]    start the greeting block; TEXT is a shorthand for
 *                      "reply TEXT". A greeting block with no action
 *                      never greets (the session waits until the client
 *                      leaves or the idle timeout)
 *   on PATTERN         start a block run for a matching command line;
 *   on-plain PATTERN   only before TLS; on-tls PATTERN only inside TLS.
 *                      PATTERN is a glob ('*' any run, '?' one byte) over
 *                      the whole line without its CRLF. The command part
 *                      (bytes before the first '<', or before the first
 *                      space if there is no '<') compares
 *                      case-insensitively, the rest exactly. "." is the
 *                      end of DATA. The first matching block of the
 *                      host wins, then the built-in defaults.
 *   limit N            this block matches N times in the server's life,
 *                      then is skipped (e.g. a 421 greeting only once)
 *
 * Actions, run in order inside a block:
 *   reply [TEXT]       send TEXT CRLF. A reply starting with "354"
 *                      switches to DATA mode: bytes up to CRLF.CRLF are
 *                      the message, and the end dispatches the line "."
 *   send TEXT          send TEXT as is (no CRLF added)
 *   longline LEN TEXT  send TEXT padded with 'x' to LEN bytes, then CRLF
 *   endless MAX TEXT   send TEXT CRLF again and again until MAX bytes
 *                      were sent or the client leaves, then go on
 *   delay MS           wait MS milliseconds (output so far is flushed)
 *   close              flush, then close the connection
 *   abort              flush, then close with a TCP RST
 *   hang               stop answering (wait for client or idle timeout)
 *   drop-after N       close once N more input bytes were consumed
 *   starttls           flush, discard buffered plaintext input, then
 *                      the TLS handshake. Last action of its block
 *   then               the rest of the block answers the next line,
 *                      whatever it is (AUTH LOGIN's 334 dialogue)
 *
 * Everything written between two waits (delay, endless, starttls, close)
 * leaves in one write(), so "reply 220 ready" + "send 250 injected\r\n" +
 * "starttls" puts both in one segment before the handshake.
 *
 * TEXT, PATTERN escapes: \r \n \t \\ \xHH (any byte), \s (space), and in
 * a pattern \* \? for literal characters.
 *
 * Start-up: the ready file (written atomically once every address is
 * bound) holds "listen ADDR PORT" lines (port 0 picks a free port) and
 * "ready PID"; without --ready-file, "ready" goes to stdout. SIGTERM or
 * SIGINT closes every session and exits 0; a script error exits 2 with
 * FILE:LINE on stderr.
 *
 * Recording: in --record DIR, per session BASE = ADDR_PORT_SEQ (SEQ counts
 * sessions per listen socket from 0001):
 *   BASE.raw     every byte read from the socket (TLS records included)
 *   BASE.plain   the SMTP bytes received before TLS
 *   BASE.tls     the decrypted SMTP bytes received inside TLS
 *   BASE.out     the SMTP bytes sent (first 1 MiB)
 *   BASE.dataN   the Nth message of the session, as on the wire (dot
 *                stuffing kept), without the final ".\r\n"
 *   BASE.events  "MS event" lines: accept, tls-ok/tls-fail, closed REASON
 *
 * Hard limits: 512 sessions, 1 MiB buffered input, 1 MiB script, 64 KiB
 * script line, 64 MiB longline/endless, 10 min delay, --max-runtime 600 s
 * by default. Every wait has a cap, so the program never hangs.
 *
 * Must not: become a real MTA (no relaying, no queue), or touch anything
 * but its listen sockets and its record directory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LISTEN 64                   /* --listen options */
#define MAX_SESSIONS 512                /* concurrent sessions */
#define MAX_INBUF (1024u * 1024u)       /* buffered input of a session */
#define MAX_SCRIPT (1024u * 1024u)      /* script file size */
#define MAX_SCRIPT_LINE 65536u          /* one script line */
#define MAX_BIG (64u * 1024u * 1024u)   /* longline and endless sizes */
#define MAX_DELAY_MS 600000u            /* one delay */
#define MAX_OUT_LOG (1024u * 1024u)     /* bytes kept in BASE.out */
#define ENDLESS_HIGH 65536u             /* endless refills below this */
#define DEFAULT_IDLE_MS 30000u          /* idle-timeout default */
#define DEFAULT_RUNTIME_S 600u          /* --max-runtime default */

/* A growable byte buffer. */
struct buf {
	unsigned char *p; /* bytes */
	size_t len;       /* used */
	size_t cap;       /* allocated */
};

enum act_kind {
	ACT_REPLY,
	ACT_SEND,
	ACT_LONGLINE,
	ACT_ENDLESS,
	ACT_DELAY,
	ACT_CLOSE,
	ACT_ABORT,
	ACT_HANG,
	ACT_DROP_AFTER,
	ACT_STARTTLS,
	ACT_THEN,
};

struct action {
	enum act_kind kind; /* what to do */
	unsigned char *txt; /* reply/send/longline/endless bytes, or NULL */
	size_t len;         /* length of txt */
	uint64_t num;       /* delay ms, longline length, endless cap, drop */
};

enum rule_kind {
	RULE_GREETING, /* run when a session starts */
	RULE_COMMAND,  /* run for a matching command line */
};

enum rule_tls {
	RULE_TLS_ANY,   /* on */
	RULE_TLS_PLAIN, /* on-plain */
	RULE_TLS_ON,    /* on-tls */
};

struct rule {
	enum rule_kind kind;  /* greeting or command */
	enum rule_tls tls;    /* TLS state it needs */
	int *pat;             /* pattern: byte, PAT_STAR or PAT_ONE */
	size_t patlen;        /* entries in pat */
	struct action *acts;  /* the block */
	size_t nacts;         /* actions in acts */
	long limit;           /* matches allowed, -1 = unlimited */
	long used;            /* matches so far (server-wide) */
	int line;             /* script line, for messages */
};

#define PAT_STAR (-1)
#define PAT_ONE (-2)

struct host {
	char *spec;          /* as written after "host" */
	char *addr;          /* address part, NULL for "*" */
	int port;            /* port, -1 = any */
	struct rule *rules;  /* in script order */
	size_t nrules;       /* entries in rules */
	char *certfile;      /* cert, NULL = --cert */
	char *keyfile;       /* key, NULL = --key */
	SSL_CTX *ctx;        /* TLS context, NULL = no TLS possible */
	int implicit_tls;    /* handshake before the greeting */
	uint64_t idle_ms;    /* idle timeout */
};

struct listener {
	int fd;           /* listening socket */
	char addr[64];    /* numeric address as given */
	int port;         /* bound port */
	unsigned seq;     /* sessions accepted so far */
};

enum tls_state {
	TLS_OFF,       /* plaintext */
	TLS_HANDSHAKE, /* SSL_do_handshake in progress */
	TLS_ON,        /* established */
	TLS_FAILED,    /* broken: input is only recorded raw, no output */
};

/* DATA mode: where we are in the search for CRLF.CRLF (RFC 5321 4.1.1.4) */
enum data_state {
	DS_LINESTART, /* after CRLF (or right after the 354) */
	DS_MID,       /* inside a line */
	DS_CR,        /* after a CR inside a line */
	DS_DOT,       /* line start + '.', held back */
	DS_DOTCR,     /* line start + ".\r", held back */
};

struct session {
	int fd;                      /* the connection, -1 once closed */
	struct host *host;           /* its script section */
	char base[128];              /* record file name base */
	uint64_t start_ms;           /* accept time */
	uint64_t last_io_ms;         /* last byte in or out */
	int rec_raw;                 /* BASE.raw */
	int rec_plain;               /* BASE.plain */
	int rec_tls;                 /* BASE.tls */
	int rec_out;                 /* BASE.out */
	int rec_events;              /* BASE.events */
	int rec_data;                /* BASE.dataN while in DATA, else -1 */
	size_t out_logged;           /* bytes written to BASE.out */
	unsigned ndata;              /* messages started */
	SSL *ssl;                    /* TLS session or NULL */
	BIO *rbio;                   /* socket bytes for OpenSSL */
	BIO *wbio;                   /* OpenSSL bytes for the socket */
	enum tls_state tls;          /* TLS state */
	int greet_after_tls;         /* implicit TLS: greet once it is up */
	struct buf in;               /* SMTP input not yet consumed */
	struct buf out;              /* bytes to write to the socket */
	struct buf tls_pending;      /* SMTP output to encrypt at the next flush */
	int data_mode;               /* inside DATA */
	enum data_state dstate;      /* end-of-data search */
	struct rule *run;            /* block being run, or NULL */
	size_t pc;                   /* next action in run */
	struct rule *cont;           /* block continued by the next line */
	size_t cont_pc;              /* where it continues */
	uint64_t wake_ms;            /* end of the current delay, 0 = none */
	uint64_t endless_sent;       /* bytes sent by the current endless */
	int drop_armed;              /* drop-after is counting */
	uint64_t drop_left;          /* bytes left before the drop */
	int hang;                    /* hang: ignore input */
	int peer_eof;                /* client closed its side (FIN) */
	int dead;                    /* socket error: close now */
	int closing;                 /* close (1) or abort (2) once flushed */
};

struct server {
	struct host *hosts;          /* script sections */
	size_t nhosts;               /* entries in hosts */
	struct host defaults;        /* built-in blocks, tried last */
	struct listener lst[MAX_LISTEN]; /* listen sockets */
	size_t nlst;                 /* entries in lst */
	struct session *sess[MAX_SESSIONS]; /* open sessions */
	size_t nsess;                /* entries in sess */
	const char *record_dir;      /* --record */
	SSL_CTX *default_ctx;        /* from --cert/--key, or NULL */
};

/*
 * The defaults: a sane reply to every common command. A host's own blocks
 * come first; these catch the rest.
 */
static const char default_script[] =
	"greeting 220 scripted.test ESMTP scripted_smtpd\n"
	"on EHLO *\n"
	" reply 250-scripted.test\n"
	" reply 250-PIPELINING\n"
	" reply 250-8BITMIME\n"
	" reply 250 ENHANCEDSTATUSCODES\n"
	"on HELO *\n reply 250 scripted.test\n"
	"on MAIL *\n reply 250 2.1.0 ok\n"
	"on RCPT *\n reply 250 2.1.5 ok\n"
	"on DATA\n reply 354 go ahead\n"
	"on .\n reply 250 2.0.0 queued\n"
	"on RSET\n reply 250 2.0.0 ok\n"
	"on NOOP*\n reply 250 2.0.0 ok\n"
	"on QUIT\n reply 221 2.0.0 bye\n close\n"
	"on-plain STARTTLS\n reply 220 2.0.0 ready\n starttls\n"
	"on-tls STARTTLS\n reply 503 5.5.1 TLS already active\n"
	"on AUTH PLAIN\n reply 334\\s\n then\n reply 235 2.7.0 accepted\n"
	"on AUTH PLAIN *\n reply 235 2.7.0 accepted\n"
	"on AUTH LOGIN\n reply 334 VXNlcm5hbWU6\n then\n"
	" reply 334 UGFzc3dvcmQ6\n then\n reply 235 2.7.0 accepted\n"
	"on AUTH LOGIN *\n reply 334 UGFzc3dvcmQ6\n then\n"
	" reply 235 2.7.0 accepted\n"
	"on *\n reply 502 5.5.2 command not recognized\n";

static volatile sig_atomic_t stop_requested;

/* ---------------------------------------------------------------- utils */

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("scripted_smtpd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		die("out of memory");
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		die("out of memory");
	return d;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_drop(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* Record files are plain files: a blocking full write is fine. */
static void write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* ---------------------------------------------------------------- script */

/* Unescape s into out; wild != NULL keeps * and ? as wildcards. */
static int unescape(const char *s, struct buf *out, struct buf *wild, const char **err)
{
	while (*s != '\0') {
		int c = (unsigned char)*s++;
		int v = c;

		if (c == '\\') {
			c = (unsigned char)*s++;
			switch (c) {
			case 'r': v = '\r'; break;
			case 'n': v = '\n'; break;
			case 't': v = '\t'; break;
			case 's': v = ' '; break;
			case '\\': v = '\\'; break;
			case '*': v = '*'; break;
			case '?': v = '?'; break;
			case 'x':
				if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1])) {
					*err = "\\x needs two hex digits";
					return -1;
				}
				{
					char hex[3] = { s[0], s[1], '\0' };

					v = (int)strtol(hex, NULL, 16);
				}
				s += 2;
				break;
			default:
				*err = "unknown escape";
				return -1;
			}
			if (wild != NULL) {
				int p = v;

				buf_add(wild, &p, sizeof(p));
			} else {
				unsigned char b = (unsigned char)v;

				buf_add(out, &b, 1);
			}
			continue;
		}
		if (wild != NULL) {
			int p = c == '*' ? PAT_STAR : c == '?' ? PAT_ONE : c;

			buf_add(wild, &p, sizeof(p));
		} else {
			unsigned char b = (unsigned char)c;

			buf_add(out, &b, 1);
		}
	}
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > max)
		return -1;
	*out = v;
	return (int)(end - s);
}

/* "ADDR", "ADDR:PORT", "[ADDR]:PORT" -> addr (allocated) and port (-1). */
static int split_addr_port(const char *spec, char **addr, int *port, int need_port)
{
	const char *colon = strrchr(spec, ':');
	size_t alen;
	uint64_t p;
	int n;

	*port = -1;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL)
			return -1;
		*addr = strndup(spec + 1, (size_t)(close - spec - 1));
		if (*addr == NULL)
			die("out of memory");
		if (close[1] == '\0')
			return need_port ? -1 : 0;
		if (close[1] != ':')
			return -1;
		colon = close + 1;
	} else if (colon == NULL || (strchr(spec, ':') != colon && !need_port)) {
		/* no colon, or a bare IPv6 address in a host line */
		if (need_port)
			return -1;
		*addr = xstrdup(spec);
		return 0;
	} else {
		alen = (size_t)(colon - spec);
		*addr = strndup(spec, alen);
		if (*addr == NULL)
			die("out of memory");
	}
	n = parse_uint(colon + 1, 65535, &p);
	if (n < 0 || colon[1 + n] != '\0')
		return -1;
	*port = (int)p;
	return 0;
}

static struct rule *host_add_rule(struct host *h, enum rule_kind kind, enum rule_tls tls, int line)
{
	struct rule *r;

	h->rules = xrealloc(h->rules, (h->nrules + 1) * sizeof(*h->rules));
	r = &h->rules[h->nrules++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->tls = tls;
	r->limit = -1;
	r->line = line;
	return r;
}

static struct action *rule_add_action(struct rule *r, enum act_kind kind)
{
	struct action *a;

	r->acts = xrealloc(r->acts, (r->nacts + 1) * sizeof(*r->acts));
	a = &r->acts[r->nacts++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static void action_set_text(struct action *a, const char *text, const char **err, int *bad)
{
	struct buf b = { 0 };

	if (unescape(text, &b, NULL, err) < 0) {
		*bad = 1;
		free(b.p);
		return;
	}
	a->txt = b.p;
	a->len = b.len;
}

/*
 * Parse script text. cur is the host that lines before the first "host"
 * belong to (the defaults), or NULL (then such lines are an error).
 * Returns 0, or -1 with *err and *errline set.
 */
static int script_parse(struct server *srv, const char *text, struct host *cur,
			const char **err, int *errline)
{
	struct rule *rule = NULL;
	const char *p = text;
	char *line = xrealloc(NULL, MAX_SCRIPT_LINE + 1);
	int lineno = 0;
	int rc = -1;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *kw, *arg;
		int bad = 0;

		lineno++;
		*errline = lineno;
		if (n > MAX_SCRIPT_LINE) {
			*err = "line too long";
			goto done;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		kw = line + strspn(line, " \t");
		if (*kw == '\0' || *kw == '#')
			continue;
		arg = kw + strcspn(kw, " \t");
		if (*arg != '\0') {
			*arg++ = '\0';
			arg += strspn(arg, " \t");
		}

		if (strcmp(kw, "host") == 0) {
			struct host *h;

			if (*arg == '\0') {
				*err = "host needs an address or *";
				goto done;
			}
			srv->hosts = xrealloc(srv->hosts, (srv->nhosts + 1) * sizeof(*srv->hosts));
			h = &srv->hosts[srv->nhosts++];
			memset(h, 0, sizeof(*h));
			h->spec = xstrdup(arg);
			h->port = -1;
			h->idle_ms = DEFAULT_IDLE_MS;
			if (strcmp(arg, "*") != 0 && split_addr_port(arg, &h->addr, &h->port, 0) < 0) {
				*err = "bad host address";
				goto done;
			}
			cur = h;
			rule = NULL;
			continue;
		}
		if (cur == NULL) {
			*err = "a host line must come first";
			goto done;
		}
		if (strcmp(kw, "cert") == 0) {
			char *key = arg + strcspn(arg, " \t");

			if (*key == '\0') {
				*err = "cert needs CERTFILE KEYFILE";
				goto done;
			}
			*key++ = '\0';
			key += strspn(key, " \t");
			free(cur->certfile);
			free(cur->keyfile);
			cur->certfile = xstrdup(arg);
			cur->keyfile = xstrdup(key);
			continue;
		}
		if (strcmp(kw, "implicit-tls") == 0) {
			cur->implicit_tls = 1;
			continue;
		}
		if (strcmp(kw, "idle-timeout") == 0) {
			if (parse_uint(arg, MAX_DELAY_MS, &cur->idle_ms) <= 0 || cur->idle_ms == 0) {
				*err = "idle-timeout needs milliseconds (1..600000)";
				goto done;
			}
			continue;
		}
		if (strcmp(kw, "greeting") == 0) {
			rule = host_add_rule(cur, RULE_GREETING, RULE_TLS_ANY, lineno);
			if (*arg != '\0')
				action_set_text(rule_add_action(rule, ACT_REPLY), arg, err, &bad);
			if (bad)
				goto done;
			continue;
		}
		if (strcmp(kw, "on") == 0 || strcmp(kw, "on-plain") == 0 || strcmp(kw, "on-tls") == 0) {
			struct buf pat = { 0 };

			rule = host_add_rule(cur, RULE_COMMAND,
					     kw[2] == '\0' ? RULE_TLS_ANY
					     : kw[3] == 'p' ? RULE_TLS_PLAIN : RULE_TLS_ON, lineno);
			if (*arg == '\0') {
				*err = "on needs a pattern";
				goto done;
			}
			if (unescape(arg, NULL, &pat, err) < 0) {
				free(pat.p);
				goto done;
			}
			rule->pat = (int *)(void *)pat.p;
			rule->patlen = pat.len / sizeof(int);
			continue;
		}
		if (rule == NULL) {
			*err = "action or limit outside a greeting/on block (or unknown keyword)";
			goto done;
		}
		if (rule->nacts > 0 && rule->acts[rule->nacts - 1].kind == ACT_STARTTLS) {
			*err = "starttls must be the last action of its block";
			goto done;
		}
		if (strcmp(kw, "limit") == 0) {
			uint64_t v;

			if (parse_uint(arg, 1000000000u, &v) <= 0 || arg[strspn(arg, "0123456789")] != '\0') {
				*err = "limit needs a count";
				goto done;
			}
			rule->limit = (long)v;
		} else if (strcmp(kw, "reply") == 0) {
			action_set_text(rule_add_action(rule, ACT_REPLY), arg, err, &bad);
		} else if (strcmp(kw, "send") == 0) {
			action_set_text(rule_add_action(rule, ACT_SEND), arg, err, &bad);
		} else if (strcmp(kw, "longline") == 0 || strcmp(kw, "endless") == 0) {
			int is_long = kw[0] == 'l';
			struct action *a = rule_add_action(rule, is_long ? ACT_LONGLINE : ACT_ENDLESS);
			int n2 = parse_uint(arg, MAX_BIG, &a->num);
			const char *t = arg + (n2 > 0 ? n2 : 0);

			if (n2 <= 0 || (*t != '\0' && *t != ' ' && *t != '\t')) {
				*err = is_long ? "longline needs LEN [TEXT]" : "endless needs MAXBYTES TEXT";
				goto done;
			}
			t += strspn(t, " \t");
			action_set_text(a, t, err, &bad);
			if (!bad && !is_long && a->len == 0) {
				*err = "endless needs a non-empty TEXT";
				goto done;
			}
		} else if (strcmp(kw, "delay") == 0 || strcmp(kw, "drop-after") == 0) {
			int is_delay = kw[0] == 'd' && kw[1] == 'e';
			struct action *a = rule_add_action(rule, is_delay ? ACT_DELAY : ACT_DROP_AFTER);
			int n2 = parse_uint(arg, is_delay ? MAX_DELAY_MS : MAX_BIG, &a->num);

			if (n2 <= 0 || arg[n2] != '\0' || (!is_delay && a->num == 0)) {
				*err = is_delay ? "delay needs milliseconds (<= 600000)" : "drop-after needs a byte count >= 1";
				goto done;
			}
		} else if (strcmp(kw, "close") == 0 || strcmp(kw, "abort") == 0 ||
			   strcmp(kw, "hang") == 0 || strcmp(kw, "starttls") == 0 ||
			   strcmp(kw, "then") == 0) {
			enum act_kind k = kw[0] == 'c' ? ACT_CLOSE : kw[0] == 'a' ? ACT_ABORT
					  : kw[0] == 'h' ? ACT_HANG : kw[0] == 's' ? ACT_STARTTLS : ACT_THEN;

			if (*arg != '\0') {
				*err = "this action takes no argument";
				goto done;
			}
			rule_add_action(rule, k);
		} else {
			*err = "unknown keyword";
			goto done;
		}
		if (bad)
			goto done;
	}
	rc = 0;
done:
	free(line);
	return rc;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	size_t n;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	s = xrealloc(NULL, MAX_SCRIPT + 2);
	n = fread(s, 1, MAX_SCRIPT + 1, f);
	fclose(f);
	if (n > MAX_SCRIPT)
		die("%s: larger than %u bytes", path, MAX_SCRIPT);
	if (memchr(s, '\0', n) != NULL)
		die("%s: contains a NUL byte (write \\x00)", path);
	s[n] = '\0';
	return s;
}

static SSL_CTX *tls_context(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char msg[256];

	if (ctx == NULL)
		die("SSL_CTX_new failed");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
		die("cannot load %s / %s: %s", cert, key, msg);
	}
	return ctx;
}

/* ---------------------------------------------------------------- matching */

/* Glob match; subject bytes before verb_end compare case-insensitively. */
static int glob_match(const int *pat, size_t plen, const unsigned char *s, size_t slen, size_t verb_end)
{
	size_t pi = 0, si = 0;
	size_t star_p = (size_t)-1, star_s = 0;

	while (si < slen) {
		if (pi < plen && pat[pi] == PAT_STAR) {
			star_p = pi++;
			star_s = si;
			continue;
		}
		if (pi < plen && (pat[pi] == PAT_ONE ||
				  pat[pi] == s[si] ||
				  (si < verb_end && pat[pi] >= 0 &&
				   tolower(pat[pi]) == tolower(s[si])))) {
			pi++;
			si++;
			continue;
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p + 1;
		si = ++star_s;
	}
	while (pi < plen && pat[pi] == PAT_STAR)
		pi++;
	return pi == plen;
}

static struct rule *find_rule(struct server *srv, struct session *s, enum rule_kind kind,
			      const unsigned char *line, size_t len)
{
	struct host *hs[2] = { s->host, &srv->defaults };
	/* verbs and keywords (MAIL FROM:) are case-insensitive, RFC 5321 2.4 */
	const unsigned char *lt = len ? memchr(line, '<', len) : NULL;
	const unsigned char *sp = len ? memchr(line, ' ', len) : NULL;
	size_t verb_end = lt ? (size_t)(lt - line) : sp ? (size_t)(sp - line) : len;

	for (size_t h = 0; h < 2; h++) {
		if (hs[h] == NULL)
			continue;
		for (size_t i = 0; i < hs[h]->nrules; i++) {
			struct rule *r = &hs[h]->rules[i];

			if (r->kind != kind)
				continue;
			if (r->limit >= 0 && r->used >= r->limit)
				continue;
			if ((r->tls == RULE_TLS_PLAIN && s->tls != TLS_OFF) ||
			    (r->tls == RULE_TLS_ON && s->tls != TLS_ON))
				continue;
			if (kind == RULE_COMMAND && !glob_match(r->pat, r->patlen, line, len, verb_end))
				continue;
			r->used++;
			return r;
		}
	}
	return NULL;
}

static struct host *find_host(struct server *srv, const char *addr, int port)
{
	struct host *any = NULL, *by_addr = NULL;

	for (size_t i = 0; i < srv->nhosts; i++) {
		struct host *h = &srv->hosts[i];

		if (h->addr == NULL) {
			if (any == NULL)
				any = h;
		} else if (strcmp(h->addr, addr) == 0) {
			if (h->port == port)
				return h;
			if (h->port < 0 && by_addr == NULL)
				by_addr = h;
		}
	}
	return by_addr ? by_addr : any;
}

/* ---------------------------------------------------------------- sessions */

static void sess_event(struct session *s, const char *fmt, ...)
{
	char msg[1024];
	char line[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line), "%llu %s\n",
		     (unsigned long long)(now_ms() - s->start_ms), msg);
	if (n > 0)
		write_all(s->rec_events, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int open_record(struct server *srv, struct session *s, const char *ext)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.%s", srv->record_dir, s->base, ext);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "scripted_smtpd: %s: %s\n", path, strerror(errno));
	return fd;
}

/* Move what OpenSSL wants to send into the socket buffer. */
static void tls_drain(struct session *s)
{
	unsigned char tmp[16384];
	int n;

	while (s->wbio != NULL && (n = BIO_read(s->wbio, tmp, sizeof(tmp))) > 0)
		buf_add(&s->out, tmp, (size_t)n);
}

static void tls_fail(struct session *s, const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256] = "no OpenSSL error";

	if (e != 0)
		ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	sess_event(s, "tls-fail %s: %s", what, msg);
	s->tls = TLS_FAILED;
	s->tls_pending.len = 0;
	tls_drain(s); /* the alert, if any */
	s->closing = 1;
	s->run = NULL;
}

/*
 * SMTP-level output: recorded, then queued. Inside TLS it is staged and
 * encrypted at once by tls_flush, so what a block sends between two waits
 * is one TLS record (up to 16 KB), just as it is one write() in plaintext.
 */
static void smtp_send(struct session *s, const void *p, size_t n)
{
	if (s->out_logged < MAX_OUT_LOG) {
		size_t keep = n < MAX_OUT_LOG - s->out_logged ? n : MAX_OUT_LOG - s->out_logged;

		write_all(s->rec_out, p, keep);
		s->out_logged += keep;
	}
	if (s->tls != TLS_FAILED)
		buf_add(s->tls == TLS_ON ? &s->tls_pending : &s->out, p, n);
}

static void tls_flush(struct session *s)
{
	if (s->tls != TLS_ON || s->tls_pending.len == 0)
		return;
	if (SSL_write(s->ssl, s->tls_pending.p, (int)s->tls_pending.len) <= 0) {
		tls_fail(s, "write");
		return;
	}
	s->tls_pending.len = 0;
	tls_drain(s);
}

static void start_data(struct server *srv, struct session *s)
{
	char ext[32];

	s->data_mode = 1;
	s->dstate = DS_LINESTART;
	s->ndata++;
	snprintf(ext, sizeof(ext), "data%u", s->ndata);
	if (s->rec_data >= 0)
		close(s->rec_data);
	s->rec_data = open_record(srv, s, ext);
}

static void start_block(struct session *s, struct rule *r, size_t pc)
{
	s->run = r;
	s->pc = pc;
	s->wake_ms = 0;
	s->endless_sent = 0;
}

/* "script line N" or "default line N": which block answered */
static void log_match(struct server *srv, struct session *s, const char *what, const struct rule *r)
{
	int from_defaults = r >= srv->defaults.rules && r < srv->defaults.rules + srv->defaults.nrules;

	sess_event(s, "%s: %s line %d", what, from_defaults ? "default" : "script", r->line);
}

static void start_greeting(struct server *srv, struct session *s)
{
	struct rule *r = find_rule(srv, s, RULE_GREETING, NULL, 0);

	if (r != NULL) {
		log_match(srv, s, "greeting", r);
		start_block(s, r, 0);
		if (r->nacts == 0) {
			/* never greet: answer nothing, not even early commands */
			sess_event(s, "hang");
			s->hang = 1;
		}
	}
}

static int begin_tls(struct session *s)
{
	SSL_CTX *ctx = s->host ? s->host->ctx : NULL;

	if (ctx == NULL) {
		sess_event(s, "tls-fail no certificate configured for this host");
		s->closing = 1;
		return -1;
	}
	s->ssl = SSL_new(ctx);
	s->rbio = BIO_new(BIO_s_mem());
	s->wbio = BIO_new(BIO_s_mem());
	if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL)
		die("out of memory (TLS)");
	SSL_set_bio(s->ssl, s->rbio, s->wbio);
	SSL_set_accept_state(s->ssl);
	s->tls = TLS_HANDSHAKE;
	sess_event(s, "tls-start");
	return 0;
}

/*
 * Run the current block until it waits or ends. Returns 1 if it made
 * progress that may allow more (the caller loops), 0 if it waits.
 */
static int run_block(struct server *srv, struct session *s, uint64_t now)
{
	while (s->run != NULL && s->pc < s->run->nacts && !s->closing) {
		struct action *a = &s->run->acts[s->pc];

		switch (a->kind) {
		case ACT_REPLY:
			smtp_send(s, a->txt, a->len);
			smtp_send(s, "\r\n", 2);
			if (a->len >= 3 && memcmp(a->txt, "354", 3) == 0)
				start_data(srv, s);
			break;
		case ACT_SEND:
			smtp_send(s, a->txt, a->len);
			break;
		case ACT_LONGLINE: {
			size_t total = (size_t)a->num;
			unsigned char *line = xrealloc(NULL, total + 2);
			size_t head = a->len < total ? a->len : total;

			memcpy(line, a->txt, head);
			memset(line + head, 'x', total - head);
			memcpy(line + total, "\r\n", 2);
			smtp_send(s, line, total + 2);
			free(line);
			break;
		}
		case ACT_ENDLESS:
			while (s->out.len + s->tls_pending.len < ENDLESS_HIGH &&
			       s->endless_sent < a->num && !s->closing) {
				smtp_send(s, a->txt, a->len);
				smtp_send(s, "\r\n", 2);
				s->endless_sent += a->len + 2;
			}
			if (s->endless_sent < a->num && !s->closing)
				return 0; /* wait until the client reads */
			sess_event(s, "endless done %llu bytes", (unsigned long long)s->endless_sent);
			s->endless_sent = 0;
			break;
		case ACT_DELAY:
			if (s->wake_ms == 0) {
				s->wake_ms = now + a->num;
				if (a->num > 0)
					return 0;
			}
			if (now < s->wake_ms)
				return 0;
			s->wake_ms = 0;
			s->last_io_ms = now;
			break;
		case ACT_CLOSE:
		case ACT_ABORT:
			s->closing = a->kind == ACT_CLOSE ? 1 : 2;
			sess_event(s, "%s by script", a->kind == ACT_CLOSE ? "close" : "abort");
			s->run = NULL;
			return 0;
		case ACT_HANG:
			sess_event(s, "hang");
			s->hang = 1;
			s->run = NULL;
			return 0;
		case ACT_DROP_AFTER:
			s->drop_armed = 1;
			s->drop_left = a->num;
			break;
		case ACT_STARTTLS:
			if (s->out.len > 0 || s->tls_pending.len > 0)
				return 0; /* the 220 (and any injection) leaves first */
			if (s->in.len > 0) {
				/* RFC 3207 4.2: plaintext pipelined after STARTTLS is void */
				sess_event(s, "discarded %zu plaintext bytes after STARTTLS", s->in.len);
				s->in.len = 0;
			}
			s->run = NULL;
			begin_tls(s);
			return 1;
		case ACT_THEN:
			s->cont = s->run;
			s->cont_pc = s->pc + 1;
			s->run = NULL;
			return 1;
		}
		s->pc++;
	}
	if (s->run != NULL && s->pc >= s->run->nacts)
		s->run = NULL;
	return 1;
}

/* drop-after: close at once, unsent output included. */
static void drop_now(struct session *s)
{
	sess_event(s, "drop-after reached");
	s->closing = 1;
	s->out.len = 0;
	s->tls_pending.len = 0;
	s->run = NULL;
	s->in.len = 0;
}

/* Message octets on their way to the .data file, written in chunks: one
 * write() per octet made a 16 MB message take a minute. */
struct data_out {
	int fd;                  /* the .data file */
	size_t n;                /* octets held */
	unsigned char b[65536];  /* held octets */
};

static void data_flush(struct data_out *o)
{
	write_all(o->fd, o->b, o->n);
	o->n = 0;
}

static void data_put(struct data_out *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		data_flush(o);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

/* DATA mode: consume message bytes until CRLF.CRLF. Returns 1 at the end. */
static int data_consume(struct session *s)
{
	struct data_out o;
	size_t i;

	o.fd = s->rec_data;
	o.n = 0;

	for (i = 0; i < s->in.len; i++) {
		unsigned char c = s->in.p[i];

		if (s->drop_armed && s->drop_left-- == 0) {
			data_flush(&o);
			drop_now(s);
			return 0;
		}
		switch (s->dstate) {
		case DS_LINESTART:
			if (c == '.') {
				s->dstate = DS_DOT;
				continue;
			}
			s->dstate = c == '\r' ? DS_CR : DS_MID;
			break;
		case DS_MID:
			if (c == '\r')
				s->dstate = DS_CR;
			break;
		case DS_CR:
			s->dstate = c == '\n' ? DS_LINESTART : c == '\r' ? DS_CR : DS_MID;
			break;
		case DS_DOT:
			if (c == '\r') {
				s->dstate = DS_DOTCR;
				continue;
			}
			data_put(&o, ".", 1);
			s->dstate = DS_MID;
			break;
		case DS_DOTCR:
			if (c == '\n') {
				data_flush(&o);
				buf_drop(&s->in, i + 1);
				close(s->rec_data);
				s->rec_data = -1;
				s->data_mode = 0;
				return 1;
			}
			data_put(&o, ".\r", 2);
			s->dstate = c == '\r' ? DS_CR : DS_MID;
			break;
		}
		data_put(&o, &c, 1);
	}
	data_flush(&o);
	s->in.len = 0;
	if (s->drop_armed && s->drop_left == 0)
		drop_now(s);
	return 0;
}

static void dispatch_line(struct server *srv, struct session *s, const unsigned char *line, size_t len)
{
	struct rule *r;

	if (s->cont != NULL) {
		log_match(srv, s, "then", s->cont);
		start_block(s, s->cont, s->cont_pc);
		s->cont = NULL;
		return;
	}
	r = find_rule(srv, s, RULE_COMMAND, line, len);
	if (r != NULL) {
		log_match(srv, s, "command", r);
		start_block(s, r, 0);
	}
}

/* Do everything possible now without waiting for I/O. */
static void sess_advance_input(struct server *srv, struct session *s, uint64_t now)
{
	for (;;) {
		if (s->closing || s->fd < 0)
			return;
		if (s->run != NULL) {
			if (!run_block(srv, s, now))
				return;
			continue;
		}
		if (s->tls == TLS_HANDSHAKE || s->hang)
			return;
		if (s->data_mode) {
			if (!data_consume(s))
				return;
			dispatch_line(srv, s, (const unsigned char *)".", 1);
			continue;
		}
		{
			unsigned char *lf = s->in.len ? memchr(s->in.p, '\n', s->in.len) : NULL;
			size_t take, len;

			if (s->in.len == 0 || lf == NULL) {
				if (s->in.len >= MAX_INBUF) {
					sess_event(s, "line too long");
					s->closing = 1;
					s->out.len = 0;
					s->tls_pending.len = 0;
				}
				return;
			}
			take = (size_t)(lf - s->in.p) + 1;
			if (s->drop_armed) {
				/* the line that reaches the limit is never answered */
				if (take >= s->drop_left) {
					drop_now(s);
					return;
				}
				s->drop_left -= take;
			}
			len = take - 1;
			if (len > 0 && s->in.p[len - 1] == '\r')
				len--;
			{
				unsigned char *copy = xrealloc(NULL, len + 1);

				memcpy(copy, s->in.p, len);
				buf_drop(&s->in, take);
				dispatch_line(srv, s, copy, len);
				free(copy);
			}
		}
	}
}

static void sess_advance(struct server *srv, struct session *s, uint64_t now)
{
	sess_advance_input(srv, s, now);
	tls_flush(s);
}

/* Bytes for the SMTP layer (plaintext, or decrypted). */
static void smtp_input(struct session *s, const unsigned char *p, size_t n)
{
	write_all(s->tls == TLS_OFF ? s->rec_plain : s->rec_tls, p, n);
	if (s->hang)
		return;
	buf_add(&s->in, p, n);
}

static void tls_pump(struct server *srv, struct session *s)
{
	unsigned char tmp[16384];
	int n;

	if (s->tls == TLS_HANDSHAKE) {
		n = SSL_do_handshake(s->ssl);
		if (n == 1) {
			const char *sni = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);

			s->tls = TLS_ON;
			sess_event(s, "tls-ok %s %s sni=%s", SSL_get_version(s->ssl),
				   SSL_get_cipher_name(s->ssl), sni ? sni : "-");
			if (s->greet_after_tls) {
				s->greet_after_tls = 0;
				start_greeting(srv, s);
			}
		} else {
			int e = SSL_get_error(s->ssl, n);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				tls_fail(s, "handshake");
				return;
			}
		}
	}
	while (s->tls == TLS_ON && !s->closing) {
		n = SSL_read(s->ssl, tmp, sizeof(tmp));
		if (n > 0) {
			smtp_input(s, tmp, (size_t)n);
			continue;
		}
		n = SSL_get_error(s->ssl, n);
		if (n == SSL_ERROR_ZERO_RETURN) {
			sess_event(s, "tls close_notify from client");
			s->peer_eof = 1;
		} else if (n != SSL_ERROR_WANT_READ && n != SSL_ERROR_WANT_WRITE) {
			tls_fail(s, "read");
		}
		break;
	}
	tls_drain(s);
}

static void sess_close(struct server *srv, size_t idx, const char *why)
{
	struct session *s = srv->sess[idx];

	sess_event(s, "closed %s", why);
	if (s->closing == 2) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s->fd);
	SSL_free(s->ssl); /* frees both BIOs */
	free(s->in.p);
	free(s->out.p);
	free(s->tls_pending.p);
	{
		int fds[] = { s->rec_raw, s->rec_plain, s->rec_tls, s->rec_out, s->rec_events, s->rec_data };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	free(s);
	srv->sess[idx] = srv->sess[--srv->nsess];
}

static void sess_read(struct server *srv, struct session *s)
{
	unsigned char tmp[65536];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		sess_event(s, "read error %s", strerror(errno));
		s->dead = 1;
		return;
	}
	if (n == 0) {
		sess_event(s, "eof from client");
		s->peer_eof = 1;
		return;
	}
	s->last_io_ms = now_ms();
	write_all(s->rec_raw, tmp, (size_t)n);
	if (s->tls == TLS_OFF) {
		smtp_input(s, tmp, (size_t)n);
		return;
	}
	if (s->tls == TLS_FAILED)
		return;
	BIO_write(s->rbio, tmp, (int)n);
	tls_pump(srv, s);
}

static void sess_write(struct session *s)
{
	ssize_t n = write(s->fd, s->out.p, s->out.len);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		sess_event(s, "write error %s", strerror(errno));
		s->dead = 1;
		return;
	}
	s->last_io_ms = now_ms();
	buf_drop(&s->out, (size_t)n);
}

static void do_accept(struct server *srv, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[64] = "?";
	int port = l->port;
	struct session *s;
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (srv->nsess >= MAX_SESSIONS) {
		fprintf(stderr, "scripted_smtpd: too many sessions, refusing one\n");
		close(fd);
		return;
	}
	/* the host section is chosen by the address the client reached */
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
			port = ntohs(in6->sin6_port);
		}
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		die("out of memory");
	s->fd = fd;
	s->start_ms = s->last_io_ms = now_ms();
	s->host = find_host(srv, addr, port);
	snprintf(s->base, sizeof(s->base), "%s_%d_%04u", addr, port, ++l->seq);
	s->rec_raw = open_record(srv, s, "raw");
	s->rec_plain = open_record(srv, s, "plain");
	s->rec_tls = open_record(srv, s, "tls");
	s->rec_out = open_record(srv, s, "out");
	s->rec_events = open_record(srv, s, "events");
	s->rec_data = -1;
	srv->sess[srv->nsess++] = s;
	sess_event(s, "accept host %s", s->host ? s->host->spec : "(defaults)");
	if (s->host != NULL && s->host->implicit_tls) {
		s->greet_after_tls = 1;
		begin_tls(s);
	} else {
		start_greeting(srv, s);
	}
}

/* ---------------------------------------------------------------- main */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void add_listener(struct server *srv, const char *spec)
{
	struct listener *l;
	struct sockaddr_storage ss;
	socklen_t sl;
	char *addr = NULL;
	int port, one = 1;

	if (srv->nlst >= MAX_LISTEN)
		die("too many --listen");
	if (split_addr_port(spec, &addr, &port, 1) < 0 || addr == NULL)
		die("--listen %s: want ADDR:PORT or [ADDR6]:PORT", spec);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		die("--listen %s: not a numeric address", spec);
	}
	l = &srv->lst[srv->nlst++];
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	free(addr);
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, sl) < 0)
		die("bind %s: %s", spec, strerror(errno));
	if (listen(l->fd, 128) < 0)
		die("listen %s: %s", spec, strerror(errno));
	sl = sizeof(ss);
	getsockname(l->fd, (struct sockaddr *)&ss, &sl);
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
			: ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void write_ready(struct server *srv, const char *path)
{
	char tmp[4096];
	FILE *f;

	if (path == NULL) {
		printf("ready\n");
		fflush(stdout);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		die("%s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < srv->nlst; i++)
		fprintf(f, "listen %s %d\n", srv->lst[i].addr, srv->lst[i].port);
	fprintf(f, "ready %ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die("%s: %s", path, strerror(errno));
}

static void usage(void)
{
	fprintf(stderr, "usage: scripted_smtpd --script FILE --listen ADDR:PORT [--listen ...]\n"
		"       --record DIR [--ready-file FILE] [--cert CERT --key KEY] [--max-runtime S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct server srv;
	const char *script = NULL, *ready = NULL, *cert = NULL, *key = NULL;
	const char *listens[MAX_LISTEN];
	size_t nlistens = 0;
	uint64_t runtime_s = DEFAULT_RUNTIME_S, deadline;
	const char *err = NULL;
	int errline = 0;
	char *text;
	struct sigaction sa;
	sigset_t block, empty;
	struct pollfd *pfd;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--script") == 0)
			script = v;
		else if (strcmp(o, "--listen") == 0) {
			if (nlistens >= MAX_LISTEN)
				die("at most %d --listen", MAX_LISTEN);
			listens[nlistens++] = v;
		}
		else if (strcmp(o, "--record") == 0)
			srv.record_dir = v;
		else if (strcmp(o, "--ready-file") == 0)
			ready = v;
		else if (strcmp(o, "--cert") == 0)
			cert = v;
		else if (strcmp(o, "--key") == 0)
			key = v;
		else if (strcmp(o, "--max-runtime") == 0) {
			if (parse_uint(v, 86400, &runtime_s) <= 0)
				usage();
		} else
			usage();
	}
	if (script == NULL || nlistens == 0 || srv.record_dir == NULL || (cert == NULL) != (key == NULL))
		usage();

	srv.defaults.spec = xstrdup("(defaults)");
	srv.defaults.port = -1;
	if (script_parse(&srv, default_script, &srv.defaults, &err, &errline) < 0)
		die("built-in defaults:%d: %s", errline, err);
	text = read_file(script);
	if (script_parse(&srv, text, NULL, &err, &errline) < 0)
		die("%s:%d: %s", script, errline, err);
	free(text);

	if (cert != NULL)
		srv.default_ctx = tls_context(cert, key);
	for (size_t i = 0; i < srv.nhosts; i++) {
		struct host *h = &srv.hosts[i];

		/* each host owns one reference, freed at exit */
		if (h->certfile != NULL)
			h->ctx = tls_context(h->certfile, h->keyfile);
		else if (srv.default_ctx != NULL && SSL_CTX_up_ref(srv.default_ctx) == 1)
			h->ctx = srv.default_ctx;
		if (h->implicit_tls && h->ctx == NULL)
			die("host %s: implicit-tls needs cert or --cert", h->spec);
	}
	srv.defaults.ctx = srv.default_ctx;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	for (size_t i = 0; i < nlistens; i++)
		add_listener(&srv, listens[i]);
	write_ready(&srv, ready);
	deadline = now_ms() + runtime_s * 1000u;

	pfd = xrealloc(NULL, (MAX_LISTEN + MAX_SESSIONS) * sizeof(*pfd));
	while (!stop_requested) {
		uint64_t now = now_ms();
		uint64_t next = deadline;
		size_t np = 0;
		struct timespec ts;

		if (now >= deadline) {
			fprintf(stderr, "scripted_smtpd: --max-runtime reached, stopping\n");
			break;
		}
		/* advance every session, close the finished ones */
		for (size_t i = 0; i < srv.nsess;) {
			struct session *s = srv.sess[i];
			uint64_t idle_end = s->last_io_ms + (s->host ? s->host->idle_ms : DEFAULT_IDLE_MS);

			sess_advance(&srv, s, now);
			if (s->dead) {
				sess_close(&srv, i, "on socket error");
				continue;
			}
			if (s->closing && s->out.len == 0) {
				sess_close(&srv, i, s->closing == 2 ? "by server (RST)" : "by server");
				continue;
			}
			if (s->peer_eof && s->out.len == 0 && s->run == NULL) {
				sess_close(&srv, i, "by client");
				continue;
			}
			/* a running delay is not idleness; it has its own cap */
			if (s->wake_ms == 0 && now >= idle_end) {
				sess_close(&srv, i, "idle timeout");
				continue;
			}
			if (idle_end < next)
				next = idle_end;
			if (s->wake_ms != 0 && s->wake_ms < next)
				next = s->wake_ms;
			i++;
		}
		for (size_t i = 0; i < srv.nlst; i++) {
			pfd[np].fd = srv.lst[i].fd;
			pfd[np++].events = POLLIN;
		}
		for (size_t i = 0; i < srv.nsess; i++) {
			struct session *s = srv.sess[i];

			pfd[np].fd = s->fd;
			pfd[np].events = (short)((s->peer_eof ? 0 : POLLIN) | (s->out.len ? POLLOUT : 0));
			np++;
		}
		next = next > now ? next - now : 0;
		ts.tv_sec = (time_t)(next / 1000u);
		ts.tv_nsec = (long)(next % 1000u) * 1000000L;
		if (ppoll(pfd, np, &ts, &empty) < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll: %s", strerror(errno));
		}
		/* sessions first (accepting reorders nothing in sess[] before nsess) */
		for (size_t i = srv.nlst, si = 0; i < np; i++, si++) {
			struct session *s = srv.sess[si];

			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				if (!s->peer_eof)
					sess_read(&srv, s);
			if ((pfd[i].revents & POLLOUT) && s->out.len > 0 && !s->dead)
				sess_write(s);
			if (!s->dead && ((pfd[i].revents & POLLERR) ||
					 ((pfd[i].revents & POLLHUP) && s->peer_eof))) {
				sess_event(s, "socket error or hang-up");
				s->dead = 1;
			}
		}
		for (size_t i = 0; i < srv.nlst; i++)
			if (pfd[i].revents & POLLIN)
				do_accept(&srv, &srv.lst[i]);
	}

	while (srv.nsess > 0)
		sess_close(&srv, srv.nsess - 1, "server stopping");
	for (size_t i = 0; i < srv.nlst; i++)
		close(srv.lst[i].fd);
	for (size_t i = 0; i <= srv.nhosts; i++) {
		struct host *h = i < srv.nhosts ? &srv.hosts[i] : &srv.defaults;

		for (size_t r = 0; r < h->nrules; r++) {
			for (size_t a = 0; a < h->rules[r].nacts; a++)
				free(h->rules[r].acts[a].txt);
			free(h->rules[r].acts);
			free(h->rules[r].pat);
		}
		free(h->rules);
		free(h->spec);
		free(h->addr);
		free(h->certfile);
		free(h->keyfile);
		if (h != &srv.defaults)
			SSL_CTX_free(h->ctx);
	}
	free(srv.hosts);
	SSL_CTX_free(srv.default_ctx);
	free(pfd);
	return 0;
}
