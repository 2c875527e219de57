/*
 * conf: reads mxsend.conf(5) into a struct conf that the caller then
 * passes down read-only (STYLE.md principle 4).
 *
 * Owns: the key table, the relay presets, the section rule, the byte-level
 * limits (file size, line length, NUL and control characters) and every
 * message a user sees about the file, each as "FILE:LINE: message" naming
 * the key and what would be accepted.
 *
 * Must not: open a password_file or run a password_cmd (the relay module
 * does that when it needs the secret, and checks the file's mode then),
 * print anything, or keep state between calls. conf_parse is pure, for the
 * unit tests and the fuzzer; only conf_load touches the file system.
 *
 * The section rule. mxsend.conf follows msmtp's `account` rule, which is
 * what users of msmtp (and of dma, which has no sections at all) read a
 * file by: a `relay NAME` line opens a section and every key after it
 * belongs to that relay until the next `relay` line or the end of the
 * file. Blank lines, comments and indentation do not end a section. So the
 * global keys go before the first `relay` line. A global-only key (such as
 * `hostname`) after a relay line is an error, not silently global: whoever
 * wrote it under the relay most likely meant it for the relay, and
 * guessing either way would hide the mistake. `tls` and `ca_file` exist in
 * both scopes, and after a relay line they are the relay's.
 */
#include "config.h"

#include "conf.h"

#include "domain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every key of the file. The order is the order of messages that list
 * keys, and of the man page. */
enum conf_key {
	KEY_HOSTNAME,
	KEY_TLS,
	KEY_CA_FILE,
	KEY_FALLBACK,
	KEY_RELAY_DEFAULT,
	KEY_QUEUE_DIR,
	KEY_STATE_DIR,
	KEY_PORT25_DETECT,
	KEY_PORT25_BLOCK_TIME,
	KEY_DNS,
	KEY_TIMEOUT_DNS,
	KEY_TIMEOUT_CONNECT,
	KEY_TIMEOUT_GREETING,
	KEY_TIMEOUT_EHLO,
	KEY_TIMEOUT_STARTTLS,
	KEY_TIMEOUT_MAIL,
	KEY_TIMEOUT_RCPT,
	KEY_TIMEOUT_DATA,
	KEY_TIMEOUT_DATA_BLOCK,
	KEY_TIMEOUT_DATA_END,
	KEY_TIMEOUT_QUIT,
	KEY_QUEUE_RETRY_MIN,
	KEY_QUEUE_RETRY_MAX,
	KEY_QUEUE_LIFETIME,
	KEY_QUEUE_WARN,
	KEY_RELAY,
	KEY_PRESET,
	KEY_HOST,
	KEY_PORT,
	KEY_USER,
	KEY_PASSWORD_CMD,
	KEY_PASSWORD_FILE,
	KEY_PASSWORD_ENV,
	KEY_REWRITE_FROM,
	KEY_LAST
};

#define IN_GLOBAL 1u /* valid before the first relay line */
#define IN_RELAY 2u  /* valid inside a relay section */

#define TIMEOUT_MAX 86400u /* one day: longer is a typo, not a policy */

struct key_def {
	const char *name;         /* as written in the file */
	unsigned scope;           /* IN_GLOBAL, IN_RELAY or both */
	int repeatable;           /* may appear more than once in one scope */
	const char *expect;       /* what a value looks like, for messages */
	const char *expect_relay; /* the same inside a relay section, when it differs */
	int is_timeout;           /* a timeout_* key: seconds, 1..TIMEOUT_MAX */
	size_t off;               /* timeouts, seconds: offsetof(struct conf, field) */
	int is_seconds;           /* a queue_* duration: seconds, min..max */
	unsigned min, max;        /* its range */
};

#define TIMEOUT_KEY(k, field) \
	[k] = { .name = #field, .scope = IN_GLOBAL, \
	        .expect = "a whole number of seconds from 1 to 86400", \
	        .is_timeout = 1, .off = offsetof(struct conf, field) }

/* A queue duration (queue_sched.h): lifetimes run to days, so these
 * have their own ranges rather than TIMEOUT_MAX. */
#define SECONDS_KEY(k, field, lo, hi, text) \
	[k] = { .name = #field, .scope = IN_GLOBAL, .expect = text, \
	        .is_seconds = 1, .min = lo, .max = hi, .off = offsetof(struct conf, field) }

static const struct key_def keys[KEY_LAST] = {
	[KEY_HOSTNAME] = { .name = "hostname", .scope = IN_GLOBAL,
	                   .expect = "a host name such as mail.example.org, or an address "
	                             "literal such as [192.0.2.1]" },
	[KEY_TLS] = { .name = "tls", .scope = IN_GLOBAL | IN_RELAY,
	              .expect = "may, encrypt, verify or none",
	              .expect_relay = "implicit, starttls or none" },
	[KEY_CA_FILE] = { .name = "ca_file", .scope = IN_GLOBAL | IN_RELAY,
	                  .expect = "the path of a PEM file of CA certificates" },
	[KEY_FALLBACK] = { .name = "fallback", .scope = IN_GLOBAL,
	                   .expect = "never, or a comma list of unreachable, deferred, rejected" },
	[KEY_RELAY_DEFAULT] = { .name = "relay_default", .scope = IN_GLOBAL,
	                        .expect = "the name of a relay section" },
	[KEY_QUEUE_DIR] = { .name = "queue_dir", .scope = IN_GLOBAL,
	                    .expect = "the path of the spool directory" },
	[KEY_STATE_DIR] = { .name = "state_dir", .scope = IN_GLOBAL,
	                    .expect = "the path of a directory for state kept between runs" },
	[KEY_PORT25_DETECT] = { .name = "port25_detect", .scope = IN_GLOBAL,
	                        .expect = "a number of domains from 0 (off) to 100" },
	[KEY_PORT25_BLOCK_TIME] = { .name = "port25_block_time", .scope = IN_GLOBAL,
	                            .expect = "a whole number of seconds from 60 to 604800" },
	[KEY_DNS] = { .name = "dns", .scope = IN_GLOBAL, .repeatable = 1,
	              .expect = "IP addresses with optional ports, such as 127.0.0.1, "
	                        "127.0.0.1:5300, ::1 or [::1]:5300" },
	TIMEOUT_KEY(KEY_TIMEOUT_DNS, timeout_dns),
	TIMEOUT_KEY(KEY_TIMEOUT_CONNECT, timeout_connect),
	TIMEOUT_KEY(KEY_TIMEOUT_GREETING, timeout_greeting),
	TIMEOUT_KEY(KEY_TIMEOUT_EHLO, timeout_ehlo),
	TIMEOUT_KEY(KEY_TIMEOUT_STARTTLS, timeout_starttls),
	TIMEOUT_KEY(KEY_TIMEOUT_MAIL, timeout_mail),
	TIMEOUT_KEY(KEY_TIMEOUT_RCPT, timeout_rcpt),
	TIMEOUT_KEY(KEY_TIMEOUT_DATA, timeout_data),
	TIMEOUT_KEY(KEY_TIMEOUT_DATA_BLOCK, timeout_data_block),
	TIMEOUT_KEY(KEY_TIMEOUT_DATA_END, timeout_data_end),
	TIMEOUT_KEY(KEY_TIMEOUT_QUIT, timeout_quit),
	SECONDS_KEY(KEY_QUEUE_RETRY_MIN, queue_retry_min, 1, 86400,
	            "a whole number of seconds from 1 to 86400"),
	SECONDS_KEY(KEY_QUEUE_RETRY_MAX, queue_retry_max, 1, 86400,
	            "a whole number of seconds from 1 to 86400"),
	SECONDS_KEY(KEY_QUEUE_LIFETIME, queue_lifetime, 1, 100u * 86400u,
	            "a whole number of seconds from 1 to 8640000 (100 days)"),
	SECONDS_KEY(KEY_QUEUE_WARN, queue_warn, 0, 100u * 86400u,
	            "a whole number of seconds from 0 (no warning) to 8640000"),
	[KEY_RELAY] = { .name = "relay", .scope = IN_GLOBAL | IN_RELAY, .repeatable = 1,
	                .expect = "a relay name of letters, digits, '.', '_' and '-'" },
	[KEY_PRESET] = { .name = "preset", .scope = IN_RELAY,
	                 .expect = "qq, qq-starttls, exmail, 163 or gmail" },
	[KEY_HOST] = { .name = "host", .scope = IN_RELAY,
	               .expect = "a host name such as smtp.qq.com, or an IP address" },
	[KEY_PORT] = { .name = "port", .scope = IN_RELAY,
	               .expect = "a port number from 1 to 65535" },
	[KEY_USER] = { .name = "user", .scope = IN_RELAY,
	               .expect = "the account to log in as, such as 12345@qq.com" },
	[KEY_PASSWORD_CMD] = { .name = "password_cmd", .scope = IN_RELAY,
	                       .expect = "a command that prints the password" },
	[KEY_PASSWORD_FILE] = { .name = "password_file", .scope = IN_RELAY,
	                        .expect = "the path of a mode 0600 file holding the password" },
	[KEY_PASSWORD_ENV] = { .name = "password_env", .scope = IN_RELAY,
	                       .expect = "an environment variable name such as MXSEND_PASSWORD" },
	[KEY_REWRITE_FROM] = { .name = "rewrite_from", .scope = IN_RELAY,
	                       .expect = "yes or no" },
};

/* RFC 8314 section 3.3: implicit TLS on 465 for submission; 587 is the
 * STARTTLS submission port (RFC 6409). The hosts are STANDARDS.md section 8. */
struct preset {
	const char *name;         /* the value of `preset` */
	const char *host;         /* submission server */
	unsigned port;            /* its port for tls below */
	enum conf_relay_tls tls;  /* how that port is protected */
};

static const struct preset presets[] = {
	{ "qq", "smtp.qq.com", 465, CONF_RELAY_TLS_IMPLICIT },
	{ "qq-starttls", "smtp.qq.com", 587, CONF_RELAY_TLS_STARTTLS },
	{ "exmail", "smtp.exmail.qq.com", 465, CONF_RELAY_TLS_IMPLICIT },
	{ "163", "smtp.163.com", 465, CONF_RELAY_TLS_IMPLICIT },
	{ "gmail", "smtp.gmail.com", 587, CONF_RELAY_TLS_STARTTLS },
};
#define NPRESETS (sizeof(presets) / sizeof(presets[0]))
#define PRESET_NAMES "qq, qq-starttls, exmail, 163, gmail"

struct name_value {
	const char *name; /* as written in the file (case ignored) */
	int value;        /* the enum it stands for */
};

static const struct name_value tls_names[] = {
	{ "none", CONF_TLS_NONE },
	{ "may", CONF_TLS_MAY },
	{ "encrypt", CONF_TLS_ENCRYPT },
	{ "verify", CONF_TLS_VERIFY },
};

static const struct name_value relay_tls_names[] = {
	{ "implicit", CONF_RELAY_TLS_IMPLICIT },
	{ "starttls", CONF_RELAY_TLS_STARTTLS },
	{ "none", CONF_RELAY_TLS_NONE },
};

static const struct name_value bool_names[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 }, { "on", 1 }, { "off", 0 },
};

static const struct name_value fallback_names[] = {
	{ "unreachable", CONF_FALLBACK_UNREACHABLE },
	{ "deferred", CONF_FALLBACK_DEFERRED },
	{ "rejected", CONF_FALLBACK_REJECTED },
};

#define LOOKUP(table, s, out) lookup(table, sizeof(table) / sizeof(table[0]), s, out)

struct parser {
	const char *name;             /* file name for messages */
	struct conf *c;               /* being filled */
	unsigned line;                /* current line, from 1 */
	struct conf_relay *relay;     /* the open relay section, NULL before the first */
	unsigned global_at[KEY_LAST]; /* line each global key was set on, 0 = not yet */
	unsigned relay_at[KEY_LAST];  /* the same for the open relay section */
	char *err;                    /* caller's message buffer */
	size_t errlen;                /* its size */
};

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->tls = CONF_TLS_MAY;
	c->fallback = CONF_FALLBACK_UNREACHABLE | CONF_FALLBACK_DEFERRED;
	c->port25_detect = 3;
	c->port25_block_time = 3600;
	c->timeout_dns = 10;
	c->timeout_connect = 30;
	c->timeout_greeting = 300;
	c->timeout_ehlo = 300;
	c->timeout_starttls = 300;
	c->timeout_mail = 300;
	c->timeout_rcpt = 300;
	c->timeout_data = 120;
	c->timeout_data_block = 180;
	c->timeout_data_end = 600;
	c->timeout_quit = 300;
	c->queue_retry_min = 300;    /* queue_sched.h's defaults */
	c->queue_retry_max = 3600;
	c->queue_lifetime = 432000;  /* 5 days, RFC 5321 4.5.4.1 */
	c->queue_warn = 0;
}

__attribute__((format(printf, 3, 4)))
static int fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errlen > 0) {
		if (line > 0)
			snprintf(p->err, p->errlen, "%s:%u: %s", p->name, line, msg);
		else
			snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	}
	return -1;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static int lookup(const struct name_value *t, size_t n, const char *s, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(t[i].name, s) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return -1;
}

static const struct preset *preset_find(const char *name)
{
	for (size_t i = 0; i < NPRESETS; i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

static enum conf_key key_find(const char *name)
{
	for (int k = 0; k < KEY_LAST; k++)
		if (strcmp(keys[k].name, name) == 0)
			return (enum conf_key)k;
	return KEY_LAST;
}

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transposition, so "hsot" is one edit from "host"). Both strings are
 * short: the caller only compares names of at most 31 bytes. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[32][32];

	if (la > 31 || lb > 31)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The keys valid in the current scope, timeouts folded into one entry. */
static void keys_in_scope(unsigned scope, char *buf, size_t len)
{
	size_t used = 0;
	int timeouts = 0;

	buf[0] = '\0';
	for (int k = 0; k < KEY_LAST; k++) {
		const char *name = keys[k].name;
		int n;

		if (!(keys[k].scope & scope))
			continue;
		if (keys[k].is_timeout) {
			if (timeouts++)
				continue;
			name = "timeout_*";
		}
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

static int unknown_key(struct parser *p, const char *key)
{
	enum conf_key best = KEY_LAST;
	unsigned best_d = 3; /* suggest only within edit distance 2 */
	char list[512];

	for (int k = 0; k < KEY_LAST; k++) {
		unsigned d = edit_distance(key, keys[k].name);

		if (d < best_d) {
			best_d = d;
			best = (enum conf_key)k;
		}
	}
	if (best != KEY_LAST)
		return fail(p, "unknown key '%.64s' (did you mean '%s'?)", key, keys[best].name);
	keys_in_scope(p->relay ? IN_RELAY : IN_GLOBAL, list, sizeof(list));
	return fail(p, "unknown key '%.64s'; %s: %s", key,
	            p->relay ? "keys of a relay section" : "keys before the first relay line", list);
}

/* Strips a trailing comment and white space from the value v (in place),
 * then removes the quotes when the whole value is one double-quoted
 * string. A '#' starts a comment only after white space and outside
 * double quotes, so "pass show a#b" keeps its '#'. Inside quotes, \" and
 * \\ stand for " and \; any other backslash is kept. */
static int value_extract(struct parser *p, const char *key, char *v)
{
	int inq = 0;
	size_t n, close = 0;

	for (size_t i = 0; v[i] != '\0'; i++) {
		if (inq && v[i] == '\\' && v[i + 1] != '\0') {
			i++;
			continue;
		}
		if (v[i] == '"') {
			inq = !inq;
			if (!inq && close == 0)
				close = i;
		} else if (!inq && v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) {
			v[i] = '\0';
			break;
		}
	}
	if (inq)
		return fail(p, "'%s': a double quote is not closed (put \\\" for a quote "
		            "inside a quoted value)", key);
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
	if (n >= 2 && v[0] == '"' && close == n - 1) {
		size_t o = 0;

		for (size_t i = 1; i < n - 1; i++) {
			if (v[i] == '\\' && (v[i + 1] == '"' || v[i + 1] == '\\'))
				i++;
			v[o++] = v[i];
		}
		v[o] = '\0';
	}
	return 0;
}

static int copy_value(struct parser *p, const char *key, char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n >= size)
		return fail(p, "%s: the value is %zu bytes long, at most %zu are allowed", key, n,
		            size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

/* A whole number in [min, max], digits only (no sign, no suffix). */
static int parse_number(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* A POSIX environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int env_name_ok(const char *s)
{
	if (*s >= '0' && *s <= '9')
		return 0;
	return name_ok(s) && strpbrk(s, ".-") == NULL;
}

static int check_relay_name(struct parser *p, const char *key, const char *v)
{
	if (!name_ok(v) || strlen(v) >= sizeof(p->c->relays[0].name))
		return fail(p, "%s '%.64s': expected a relay name of 1 to %zu letters, digits, "
		            "'.', '_' or '-'", key, v, sizeof(p->c->relays[0].name) - 1);
	return 0;
}

/* A relay host: an LDH name or an IP address. */
static int check_host(struct parser *p, const char *key, const char *v)
{
	char why[256];

	if (domain_is_ip(v))
		return 0;
	if (domain_check_hostname(v, why, sizeof(why)) < 0)
		return fail(p, "%s '%.64s': %s; expected %s", key, v, why, keys[KEY_HOST].expect);
	return 0;
}

/* The EHLO name: an LDH name or an address literal (RFC 5321 4.1.1.1). */
static int check_hostname(struct parser *p, const char *v)
{
	char why[256];

	if (v[0] == '[') {
		struct domain_target t;

		if (domain_parse(v, &t, why, sizeof(why)) == 0 && t.kind != DOMAIN_NAME &&
		    !t.is_address)
			return 0;
		return fail(p, "hostname '%.64s': not an address literal; expected %s", v,
		            keys[KEY_HOSTNAME].expect);
	}
	if (domain_check_hostname(v, why, sizeof(why)) < 0)
		return fail(p, "hostname '%.64s': %s; expected %s", v, why, keys[KEY_HOSTNAME].expect);
	return 0;
}

/* One DNS server: IPv4[:PORT], a bare IPv6 address, or [IPv6][:PORT], the
 * forms c-ares' ares_set_servers_ports_csv takes. Names are refused: the
 * resolver cannot be found by asking a resolver. */
static int check_dns_entry(const char *e)
{
	char addr[64];
	unsigned char bin[16];
	const char *port = NULL;
	unsigned pv;
	size_t n;

	if (e[0] == '[') {
		const char *rb = strchr(e, ']');

		if (rb == NULL || (size_t)(rb - e - 1) >= sizeof(addr))
			return -1;
		n = (size_t)(rb - e - 1);
		memcpy(addr, e + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return -1;
		if (rb[1] == '\0')
			return 0;
		if (rb[1] != ':')
			return -1;
		port = rb + 2;
	} else if (strchr(e, ':') != strrchr(e, ':')) {
		return inet_pton(AF_INET6, e, bin) == 1 ? 0 : -1;
	} else {
		const char *colon = strchr(e, ':');

		n = colon ? (size_t)(colon - e) : strlen(e);
		if (n >= sizeof(addr))
			return -1;
		memcpy(addr, e, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET, addr, bin) != 1)
			return -1;
		if (colon == NULL)
			return 0;
		port = colon + 1;
	}
	return parse_number(port, 1, 65535, &pv);
}

/* `dns` may repeat, and each value may be a comma or space list. */
static int parse_dns(struct parser *p, char *v)
{
	struct conf *c = p->c;
	char *s = v;

	for (;;) {
		size_t n = strcspn(s, ", \t");
		char save = s[n];

		if (n == 0)
			return fail(p, "dns: an empty entry in the list; expected %s",
			            keys[KEY_DNS].expect);
		s[n] = '\0';
		if (c->ndns >= CONF_DNS_MAX)
			return fail(p, "dns: too many servers, at most %d", CONF_DNS_MAX);
		if (n >= sizeof(c->dns[0]) || check_dns_entry(s) < 0)
			return fail(p, "dns '%.64s': expected %s%s", s, keys[KEY_DNS].expect,
			            strpbrk(s, "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") != NULL
			                    ? " (names cannot be used: the resolver cannot be looked "
			                      "up by name)"
			                    : "");
		memcpy(c->dns[c->ndns++], s, n + 1);
		if (save == '\0')
			return 0;
		/* One separator: a comma with optional blanks around it, or blanks. */
		s += n + 1;
		while (*s == ' ' || *s == '\t')
			s++;
		if (save != ',' && *s == ',') {
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
		}
		if (*s == '\0')
			return fail(p, "dns: the list ends with a separator; expected %s",
			            keys[KEY_DNS].expect);
	}
}

/* Reads "never" or a comma list of fallback names from v (modified in
 * place) into *bits. Returns 0, or -1 with *bad pointing at the entry that
 * is wrong ("" for an empty one, "never" when it is combined). */
static int fallback_scan(char *v, unsigned *bits, const char **bad)
{
	int never = 0, items = 0;
	char *s = v;

	*bits = 0;
	for (;;) {
		char *comma = strchr(s, ',');
		char *item = s, *end;
		int bit;

		if (comma != NULL)
			*comma = '\0';
		item += strspn(item, " \t");
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		*bad = item;
		if (*item == '\0')
			return -1;
		items++;
		if (strcasecmp(item, "never") == 0)
			never = 1;
		else if (LOOKUP(fallback_names, item, &bit) == 0)
			*bits |= (unsigned)bit;
		else
			return -1;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	if (never && items > 1) {
		*bad = "never";
		return -1;
	}
	return 0;
}

static int parse_fallback(struct parser *p, char *v)
{
	const char *bad;
	unsigned bits;

	if (fallback_scan(v, &bits, &bad) == 0) {
		p->c->fallback = bits;
		return 0;
	}
	if (*bad == '\0')
		return fail(p, "fallback: an empty entry in the comma list; expected %s",
		            keys[KEY_FALLBACK].expect);
	if (strcmp(bad, "never") == 0)
		return fail(p, "fallback: 'never' cannot be combined with other values; expected %s",
		            keys[KEY_FALLBACK].expect);
	return fail(p, "fallback '%.64s': expected %s", bad, keys[KEY_FALLBACK].expect);
}

int conf_fallback_parse(const char *text, unsigned *bits, char *err, size_t errlen)
{
	char v[CONF_LINE_MAX];
	const char *bad;

	if (strlen(text) >= sizeof(v)) {
		snprintf(err, errlen, "the fallback list is too long");
		return -1;
	}
	snprintf(v, sizeof(v), "%s", text);
	if (fallback_scan(v, bits, &bad) == 0)
		return 0;
	if (*bad == '\0')
		snprintf(err, errlen, "an empty entry in the comma list; expected %s",
		         keys[KEY_FALLBACK].expect);
	else if (strcmp(bad, "never") == 0)
		snprintf(err, errlen, "'never' cannot be combined with other values");
	else
		snprintf(err, errlen, "'%.64s': expected %s", bad, keys[KEY_FALLBACK].expect);
	return -1;
}

static int set_global(struct parser *p, enum conf_key k, char *v)
{
	struct conf *c = p->c;
	int e;

	if (keys[k].is_timeout) {
		unsigned n;

		if (parse_number(v, 1, TIMEOUT_MAX, &n) < 0)
			return fail(p, "%s '%.64s': expected %s", keys[k].name, v, keys[k].expect);
		*(unsigned *)(void *)((char *)c + keys[k].off) = n;
		return 0;
	}
	if (keys[k].is_seconds) {
		unsigned n;

		if (parse_number(v, keys[k].min, keys[k].max, &n) < 0)
			return fail(p, "%s '%.64s': expected %s", keys[k].name, v, keys[k].expect);
		*(unsigned *)(void *)((char *)c + keys[k].off) = n;
		return 0;
	}
	switch (k) {
	case KEY_HOSTNAME:
		if (check_hostname(p, v) < 0)
			return -1;
		return copy_value(p, "hostname", c->hostname, sizeof(c->hostname), v);
	case KEY_TLS:
		if (LOOKUP(tls_names, v, &e) < 0)
			return fail(p, "tls '%.64s': expected %s%s", v, keys[k].expect,
			            LOOKUP(relay_tls_names, v, &e) == 0
			                    ? " (implicit and starttls are relay modes: they go after "
			                      "a 'relay NAME' line)"
			                    : "");
		c->tls = (enum conf_tls)e;
		return 0;
	case KEY_CA_FILE:
		return copy_value(p, "ca_file", c->ca_file, sizeof(c->ca_file), v);
	case KEY_FALLBACK:
		return parse_fallback(p, v);
	case KEY_RELAY_DEFAULT:
		if (check_relay_name(p, "relay_default", v) < 0)
			return -1;
		return copy_value(p, "relay_default", c->relay_default, sizeof(c->relay_default), v);
	case KEY_QUEUE_DIR:
		return copy_value(p, "queue_dir", c->queue_dir, sizeof(c->queue_dir), v);
	case KEY_STATE_DIR:
		return copy_value(p, "state_dir", c->state_dir, sizeof(c->state_dir), v);
	case KEY_PORT25_DETECT:
		if (parse_number(v, 0, 100, &c->port25_detect) < 0)
			return fail(p, "port25_detect '%.64s': expected %s", v, keys[k].expect);
		return 0;
	case KEY_PORT25_BLOCK_TIME:
		if (parse_number(v, 60, 604800, &c->port25_block_time) < 0)
			return fail(p, "port25_block_time '%.64s': expected %s", v, keys[k].expect);
		return 0;
	case KEY_DNS:
		return parse_dns(p, v);
	default:
		/* key_line sends only IN_GLOBAL keys here. */
		return fail(p, "internal error: key '%s' has no global handler", keys[k].name);
	}
}

static const enum conf_key password_keys[] = {
	KEY_PASSWORD_CMD, KEY_PASSWORD_FILE, KEY_PASSWORD_ENV,
};

static int set_relay(struct parser *p, enum conf_key k, char *v)
{
	struct conf_relay *r = p->relay;
	unsigned n;
	int e;

	switch (k) {
	case KEY_PRESET:
		if (preset_find(v) == NULL)
			return fail(p, "preset '%.64s': unknown; expected one of " PRESET_NAMES, v);
		return copy_value(p, "preset", r->preset, sizeof(r->preset), v);
	case KEY_HOST:
		if (check_host(p, "host", v) < 0)
			return -1;
		return copy_value(p, "host", r->host, sizeof(r->host), v);
	case KEY_PORT:
		if (parse_number(v, 1, 65535, &n) < 0)
			return fail(p, "port '%.64s': expected %s", v, keys[k].expect);
		r->port = n;
		return 0;
	case KEY_TLS:
		if (LOOKUP(relay_tls_names, v, &e) < 0)
			return fail(p, "tls '%.64s': expected %s inside relay section '%s' (line %d)%s",
			            v, keys[k].expect_relay, r->name, r->line,
			            LOOKUP(tls_names, v, &e) == 0
			                    ? "; the global tls policy goes before the first relay line"
			                    : "");
		r->tls = (enum conf_relay_tls)e;
		r->tls_set = 1;
		return 0;
	case KEY_CA_FILE:
		return copy_value(p, "ca_file", r->ca_file, sizeof(r->ca_file), v);
	case KEY_USER:
		return copy_value(p, "user", r->user, sizeof(r->user), v);
	case KEY_PASSWORD_CMD:
	case KEY_PASSWORD_FILE:
	case KEY_PASSWORD_ENV:
		for (size_t i = 0; i < sizeof(password_keys) / sizeof(password_keys[0]); i++) {
			enum conf_key o = password_keys[i];

			if (o != k && p->relay_at[o] != 0)
				return fail(p, "%s: relay '%s' already has %s (line %u); use only one "
				            "of password_cmd, password_file, password_env",
				            keys[k].name, r->name, keys[o].name, p->relay_at[o]);
		}
		if (k == KEY_PASSWORD_CMD)
			return copy_value(p, "password_cmd", r->password_cmd, sizeof(r->password_cmd), v);
		if (k == KEY_PASSWORD_FILE)
			return copy_value(p, "password_file", r->password_file,
			                  sizeof(r->password_file), v);
		if (!env_name_ok(v))
			return fail(p, "password_env '%.64s': expected %s (letters, digits and '_', "
			            "not starting with a digit)", v, keys[k].expect);
		return copy_value(p, "password_env", r->password_env, sizeof(r->password_env), v);
	case KEY_REWRITE_FROM:
		if (LOOKUP(bool_names, v, &e) < 0)
			return fail(p, "rewrite_from '%.64s': expected %s", v, keys[k].expect);
		r->rewrite_from = e;
		return 0;
	default:
		return fail(p, "internal error: key '%s' has no relay handler", keys[k].name);
	}
}

/* Ends the open relay section: applies its preset under the keys given
 * explicitly (in whichever order they came), defaults the port from the
 * TLS mode, and checks what only the whole section can tell. */
static int relay_close(struct parser *p)
{
	struct conf_relay *r = p->relay;
	const struct preset *pr;
	unsigned password_at = 0; /* line of the password source, 0 = none */

	if (r == NULL)
		return 0;
	pr = r->preset[0] ? preset_find(r->preset) : NULL;
	if (pr != NULL) {
		if (p->relay_at[KEY_HOST] == 0)
			snprintf(r->host, sizeof(r->host), "%s", pr->host);
		if (p->relay_at[KEY_TLS] == 0) {
			r->tls = pr->tls;
			r->tls_set = 1;
		}
		/* The preset's port goes with its TLS mode: `preset qq` with
		 * `tls starttls` means smtp.qq.com:587, not STARTTLS on 465. */
		if (p->relay_at[KEY_PORT] == 0 && r->tls == pr->tls)
			r->port = pr->port;
	}
	if (r->host[0] == '\0')
		return fail_at(p, (unsigned)r->line, "relay '%s' has no host: add 'host NAME' or "
		               "'preset NAME' (presets: " PRESET_NAMES ")", r->name);
	if (r->port == 0) {
		switch (r->tls) {
		case CONF_RELAY_TLS_IMPLICIT:
			r->port = 465; /* RFC 8314 3.3 */
			break;
		case CONF_RELAY_TLS_STARTTLS:
			r->port = 587; /* RFC 6409 3.1 */
			break;
		case CONF_RELAY_TLS_NONE:
			r->port = 25;
			break;
		}
	}
	for (size_t i = 0; i < sizeof(password_keys) / sizeof(password_keys[0]); i++)
		if (p->relay_at[password_keys[i]] != 0)
			password_at = p->relay_at[password_keys[i]];
	if (password_at != 0 && r->user[0] == '\0')
		return fail_at(p, password_at, "relay '%s' has a password source but no 'user' "
		               "to log in as", r->name);
	if (password_at == 0 && r->user[0] != '\0')
		return fail_at(p, p->relay_at[KEY_USER], "relay '%s' has a user but no password: "
		               "add password_cmd, password_file or password_env", r->name);
	p->relay = NULL;
	memset(p->relay_at, 0, sizeof(p->relay_at));
	return 0;
}

static int relay_open(struct parser *p, const char *name)
{
	struct conf *c = p->c;
	const struct conf_relay *dup;
	struct conf_relay *r;

	if (relay_close(p) < 0)
		return -1;
	if (check_relay_name(p, "relay", name) < 0)
		return -1;
	dup = conf_relay_find(c, name);
	if (dup != NULL)
		return fail(p, "relay '%s' is defined twice (first on line %d); relay names must "
		            "be unique", name, dup->line);
	if (c->nrelays >= CONF_RELAYS_MAX)
		return fail(p, "relay '%s': too many relay sections, at most %d", name,
		            CONF_RELAYS_MAX);
	r = &c->relays[c->nrelays++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->line = (int)p->line;
	p->relay = r;
	return 0;
}

static int key_line(struct parser *p, char *s)
{
	char *key, *v;
	enum conf_key k;
	unsigned *at;

	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#')
		return 0;
	key = s;
	s += strcspn(s, " \t");
	if (*s != '\0')
		*s++ = '\0';
	v = s + strspn(s, " \t");

	k = key_find(key);
	if (k == KEY_LAST)
		return unknown_key(p, key);
	if (p->relay == NULL && !(keys[k].scope & IN_GLOBAL))
		return fail(p, "'%s' belongs in a relay section: put it after a 'relay NAME' line",
		            key);
	if (p->relay != NULL && !(keys[k].scope & IN_RELAY))
		return fail(p, "'%s' is a global key, but this line is inside relay section '%s' "
		            "(opened on line %d): global keys go before the first relay line "
		            "(blank lines and indentation do not end a section)",
		            key, p->relay->name, p->relay->line);
	if (value_extract(p, key, v) < 0)
		return -1;
	if (*v == '\0')
		return fail(p, "'%s' needs a value: expected %s", key,
		            p->relay && keys[k].expect_relay ? keys[k].expect_relay : keys[k].expect);
	if (k == KEY_RELAY)
		return relay_open(p, v);
	at = p->relay ? p->relay_at : p->global_at;
	if (!keys[k].repeatable && at[k] != 0)
		return fail(p, "'%s' is set twice%s%s%s (first on line %u)", key,
		            p->relay ? " in relay '" : "", p->relay ? p->relay->name : "",
		            p->relay ? "'" : "", at[k]);
	at[k] = p->line;
	return p->relay ? set_relay(p, k, v) : set_global(p, k, v);
}

/* Byte-level checks of one line (without its line ending). */
static int line_check(struct parser *p, const char *s, size_t n)
{
	if (n > CONF_LINE_MAX)
		return fail(p, "the line is %zu bytes long, at most %d are allowed", n, CONF_LINE_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0')
			return fail(p, "NUL byte at column %zu: this is not a text file", i + 1);
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(p, "control character 0x%02x at column %zu: only tab is allowed "
			            "(keys, values and comments are text)", ch, i + 1);
	}
	return 0;
}

static int validate(struct parser *p)
{
	const struct conf *c = p->c;
	char list[CONF_RELAYS_MAX * 66];
	size_t used = 0;

	if (c->relay_default[0] == '\0' || conf_relay_find(c, c->relay_default) != NULL)
		return 0;
	list[0] = '\0';
	for (size_t i = 0; i < c->nrelays; i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
		                 c->relays[i].name);

		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	if (c->nrelays == 0)
		return fail_at(p, p->global_at[KEY_RELAY_DEFAULT], "relay_default '%s': there is no "
		               "relay section; add 'relay %s' with its keys", c->relay_default,
		               c->relay_default);
	return fail_at(p, p->global_at[KEY_RELAY_DEFAULT], "relay_default '%s': no relay section "
	               "has that name (relays: %s)", c->relay_default, list);
}

int conf_parse(const char *name, const char *text, size_t len, struct conf *c,
               char *err, size_t errlen)
{
	struct parser p;
	char line[CONF_LINE_MAX + 1];
	size_t pos = 0;
	int rc = -1;

	conf_defaults(c);
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.c = c;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (strlen(name) >= sizeof(c->path)) {
		fail_at(&p, 0, "the file name is longer than %zu bytes", sizeof(c->path) - 1);
		goto done;
	}
	if (len > CONF_FILE_MAX) {
		fail_at(&p, 0, "the file is %zu bytes long, at most %d (1 MiB) are allowed", len,
		        CONF_FILE_MAX);
		goto done;
	}
	/* A UTF-8 byte order mark, as some editors write. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;

		pos += n + (nl != NULL);
		p.line++;
		if (n > 0 && start[n - 1] == '\r') /* CRLF line ends */
			n--;
		if (line_check(&p, start, n) < 0)
			goto done;
		memcpy(line, start, n);
		line[n] = '\0';
		if (key_line(&p, line) < 0)
			goto done;
	}
	if (relay_close(&p) < 0 || validate(&p) < 0)
		goto done;
	snprintf(c->path, sizeof(c->path), "%s", name);
	rc = 0;
done:
	if (rc < 0)
		conf_defaults(c);
	return rc;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	struct parser p; /* only for messages */
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc = -1;

	conf_defaults(c);
	memset(&p, 0, sizeof(p));
	p.name = path;
	p.err = err;
	p.errlen = errlen;
	/* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it. */
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fail_at(&p, 0, "cannot open: %s", strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		fail_at(&p, 0, "cannot stat: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		fail_at(&p, 0, "not a regular file");
		goto done;
	}
	/* The file can name a password_cmd, which runs as the user: anyone who
	 * can write it can run commands as them. */
	if (st.st_mode & S_IWOTH) {
		fail_at(&p, 0, "refusing a world-writable configuration file (mode %04o): anyone "
		        "could set a password_cmd that runs as you; fix it with chmod o-w",
		        (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if (st.st_size > CONF_FILE_MAX) {
		fail_at(&p, 0, "the file is %lld bytes long, at most %d (1 MiB) are allowed",
		        (long long)st.st_size, CONF_FILE_MAX);
		goto done;
	}
	/* One byte more than the limit, in case the file grows after fstat. */
	buf = malloc((size_t)CONF_FILE_MAX + 1);
	if (buf == NULL) {
		fail_at(&p, 0, "out of memory");
		goto done;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, (size_t)CONF_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail_at(&p, 0, "cannot read: %s", strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CONF_FILE_MAX)
			break;
	}
	rc = conf_parse(path, buf, len, c, err, errlen);
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

const struct conf_relay *conf_relay_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nrelays; i++)
		if (strcmp(c->relays[i].name, name) == 0)
			return &c->relays[i];
	return NULL;
}
