/*
 * Unit tests of the configuration parser (conf.c), table-driven.
 * Covers DLV-19 (per-step timeouts are configurable, with a range),
 * TLS-04 (a relay defaults to implicit TLS on 465), SEC-06 (the file that
 * names a password_cmd is refused when world-writable; at most one
 * password source), and the relay presets of STANDARDS.md section 8.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

#define NAME "t.conf"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
	*state = malloc(sizeof(struct conf));
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int parse(struct conf *c, const char *text, char *err, size_t errlen)
{
	return conf_parse(NAME, text, strlen(text), c, err, errlen);
}

/* ------------------------------------------------------------ full file */

static const char full_file[] =
	"# mxsend.conf: every key once\n"
	"hostname      mail.example.org      # EHLO name\n"
	"tls           verify\n"
	"ca_file       /etc/ssl/extra.pem\n"
	"fallback      unreachable,deferred,rejected\n"
	"relay_default qq\n"
	"queue_dir     /var/spool/mxsend\n"
	"dns           127.0.0.1:5300\n"
	"dns           [::1]:5300, 10.0.0.1\n"
	"timeout_dns 11\n"
	"timeout_connect 31\n"
	"timeout_greeting 301\n"
	"timeout_ehlo 302\n"
	"timeout_starttls 303\n"
	"timeout_mail 304\n"
	"timeout_rcpt 305\n"
	"timeout_data 121\n"
	"timeout_data_block 181\n"
	"timeout_data_end 601\n"
	"timeout_quit 306\n"
	"\n"
	"relay qq\n"
	"  preset        qq                  # fills host, port, tls\n"
	"  ca_file       /path/ca.pem\n"
	"  user          6464xxxx8@qq.com\n"
	"  password_cmd  pass show mail/qq   # or password_file\n"
	"  rewrite_from  yes\n"
	"\n"
	"relay local\n"
	"  host          127.0.0.1\n"
	"  port          2525\n"
	"  tls           none\n"
	"  user          test\n"
	"  password_file /run/secrets/relay\n"
	"relay gm\n"
	"  preset gmail\n"
	"  user a@gmail.com\n"
	"  password_env MXSEND_GMAIL\n"
	"  rewrite_from off\n";

static void test_full_file(void **state)
{
	struct conf *c = *state;
	char err[1024] = "";
	const struct conf_relay *r;

	if (parse(c, full_file, err, sizeof(err)) != 0)
		fail_msg("want success, got: %s", err);
	assert_string_equal(c->path, NAME);
	assert_string_equal(c->hostname, "mail.example.org");
	assert_int_equal(c->tls, CONF_TLS_VERIFY);
	assert_string_equal(c->ca_file, "/etc/ssl/extra.pem");
	assert_int_equal(c->fallback, CONF_FALLBACK_UNREACHABLE | CONF_FALLBACK_DEFERRED |
	                              CONF_FALLBACK_REJECTED);
	assert_string_equal(c->relay_default, "qq");
	assert_string_equal(c->queue_dir, "/var/spool/mxsend");
	assert_int_equal(c->ndns, 3);
	assert_string_equal(c->dns[0], "127.0.0.1:5300");
	assert_string_equal(c->dns[1], "[::1]:5300");
	assert_string_equal(c->dns[2], "10.0.0.1");
	assert_int_equal(c->timeout_dns, 11);
	assert_int_equal(c->timeout_connect, 31);
	assert_int_equal(c->timeout_greeting, 301);
	assert_int_equal(c->timeout_ehlo, 302);
	assert_int_equal(c->timeout_starttls, 303);
	assert_int_equal(c->timeout_mail, 304);
	assert_int_equal(c->timeout_rcpt, 305);
	assert_int_equal(c->timeout_data, 121);
	assert_int_equal(c->timeout_data_block, 181);
	assert_int_equal(c->timeout_data_end, 601);
	assert_int_equal(c->timeout_quit, 306);
	assert_int_equal(c->nrelays, 3);

	r = conf_relay_find(c, "qq");
	assert_non_null(r);
	assert_string_equal(r->preset, "qq");
	assert_string_equal(r->host, "smtp.qq.com");
	assert_int_equal(r->port, 465);
	assert_int_equal(r->tls, CONF_RELAY_TLS_IMPLICIT);
	assert_true(r->tls_set);
	assert_string_equal(r->ca_file, "/path/ca.pem");
	assert_string_equal(r->user, "6464xxxx8@qq.com");
	assert_string_equal(r->password_cmd, "pass show mail/qq");
	assert_string_equal(r->password_file, "");
	assert_string_equal(r->password_env, "");
	assert_int_equal(r->rewrite_from, 1);
	assert_int_equal(r->line, 22);

	r = conf_relay_find(c, "local");
	assert_non_null(r);
	assert_string_equal(r->host, "127.0.0.1");
	assert_int_equal(r->port, 2525);
	assert_int_equal(r->tls, CONF_RELAY_TLS_NONE);
	assert_string_equal(r->password_file, "/run/secrets/relay");
	assert_string_equal(r->ca_file, "");

	r = conf_relay_find(c, "gm");
	assert_non_null(r);
	assert_string_equal(r->host, "smtp.gmail.com");
	assert_int_equal(r->port, 587);
	assert_int_equal(r->tls, CONF_RELAY_TLS_STARTTLS);
	assert_string_equal(r->password_env, "MXSEND_GMAIL");
	assert_int_equal(r->rewrite_from, 0);

	assert_null(conf_relay_find(c, "nope"));
}

/* An empty file, and one of comments only, give the defaults. */
static void test_empty_gives_defaults(void **state)
{
	struct conf *c = *state;
	struct conf want;
	char err[256] = "";
	static const char *const texts[] = { "", "\n\n", "# only a comment\n   \t\n  # indented\n" };

	conf_defaults(&want);
	snprintf(want.path, sizeof(want.path), "%s", NAME);
	for (size_t i = 0; i < COUNT(texts); i++) {
		if (parse(c, texts[i], err, sizeof(err)) != 0)
			fail_msg("case %zu: want success, got: %s", i, err);
		assert_memory_equal(c, &want, sizeof(want));
	}
	assert_int_equal(want.tls, CONF_TLS_MAY);
	assert_int_equal(want.fallback, CONF_FALLBACK_UNREACHABLE | CONF_FALLBACK_DEFERRED);
	assert_int_equal(want.timeout_connect, 30);
	assert_int_equal(want.timeout_data_end, 600);
}

/* ------------------------------------------------------------ presets */

struct relay_case {
	const char *name;          /* what the case shows */
	const char *body;          /* lines after "relay r\n" */
	const char *host;          /* want */
	unsigned port;             /* want */
	enum conf_relay_tls tls;   /* want */
	int tls_set;               /* want */
};

static const struct relay_case relay_cases[] = {
	{ .name = "qq", .body = "preset qq\n",
	  .host = "smtp.qq.com", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "qq-starttls", .body = "preset qq-starttls\n",
	  .host = "smtp.qq.com", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
	{ .name = "exmail", .body = "preset exmail\n",
	  .host = "smtp.exmail.qq.com", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "163", .body = "preset 163\n",
	  .host = "smtp.163.com", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "gmail", .body = "preset gmail\n",
	  .host = "smtp.gmail.com", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
	{ .name = "host after preset", .body = "preset qq\nhost smtp.example.net\n",
	  .host = "smtp.example.net", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "host before preset", .body = "host smtp.example.net\npreset qq\n",
	  .host = "smtp.example.net", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "port after preset", .body = "preset qq\nport 2465\n",
	  .host = "smtp.qq.com", .port = 2465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "port before preset", .body = "port 2465\npreset qq\n",
	  .host = "smtp.qq.com", .port = 2465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 1 },
	{ .name = "tls before preset", .body = "tls none\npreset gmail\n",
	  .host = "smtp.gmail.com", .port = 25, .tls = CONF_RELAY_TLS_NONE, .tls_set = 1 },
	{ .name = "tls override takes its own port", .body = "preset qq\ntls starttls\n",
	  .host = "smtp.qq.com", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
	{ .name = "tls same as preset keeps preset port", .body = "tls starttls\npreset gmail\n",
	  .host = "smtp.gmail.com", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
	{ .name = "everything overridden", .body = "port 25\ntls none\nhost 127.0.0.2\npreset qq\n",
	  .host = "127.0.0.2", .port = 25, .tls = CONF_RELAY_TLS_NONE, .tls_set = 1 },
	{ .name = "no preset: implicit 465", .body = "host smtp.example.net\n",
	  .host = "smtp.example.net", .port = 465, .tls = CONF_RELAY_TLS_IMPLICIT, .tls_set = 0 },
	{ .name = "no preset: starttls 587", .body = "host smtp.example.net\ntls starttls\n",
	  .host = "smtp.example.net", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
	{ .name = "no preset: none 25", .body = "tls none\nhost 127.0.0.1\n",
	  .host = "127.0.0.1", .port = 25, .tls = CONF_RELAY_TLS_NONE, .tls_set = 1 },
	{ .name = "IPv6 host", .body = "host ::1\nport 2525\ntls none\n",
	  .host = "::1", .port = 2525, .tls = CONF_RELAY_TLS_NONE, .tls_set = 1 },
	{ .name = "enum case ignored", .body = "host h.example\ntls STARTTLS\n",
	  .host = "h.example", .port = 587, .tls = CONF_RELAY_TLS_STARTTLS, .tls_set = 1 },
};

static void test_presets(void **state)
{
	struct conf *c = *state;

	for (size_t i = 0; i < COUNT(relay_cases); i++) {
		const struct relay_case *t = &relay_cases[i];
		char text[512], err[1024] = "";

		snprintf(text, sizeof(text), "relay r\n%s", t->body);
		if (parse(c, text, err, sizeof(err)) != 0)
			fail_msg("%s: want success, got: %s", t->name, err);
		assert_int_equal(c->nrelays, 1);
		if (strcmp(c->relays[0].host, t->host) != 0 || c->relays[0].port != t->port ||
		    c->relays[0].tls != t->tls || c->relays[0].tls_set != t->tls_set)
			fail_msg("%s: want %s:%u tls %d set %d, got %s:%u tls %d set %d", t->name,
			         t->host, t->port, t->tls, t->tls_set, c->relays[0].host,
			         c->relays[0].port, c->relays[0].tls, c->relays[0].tls_set);
	}
}

/* ------------------------------------------------------------ values */

enum field {
	F_HOSTNAME,
	F_CA_FILE,
	F_QUEUE_DIR,
	F_PASSWORD_CMD,
	F_USER,
	F_FALLBACK,
	F_DNS,
	F_TLS,
};

struct value_case {
	const char *name; /* what the case shows */
	const char *text; /* the whole file */
	size_t len;       /* 0: strlen(text) */
	enum field field; /* what to look at */
	const char *want; /* its value; F_FALLBACK, F_TLS: a number; F_DNS: "a|b|..." */
};

static const struct value_case value_cases[] = {
	{ .name = "comment after value", .field = F_HOSTNAME, .want = "mail.example.org",
	  .text = "hostname mail.example.org # EHLO name\n" },
	{ .name = "tabs around key and value", .field = F_HOSTNAME, .want = "mail.example.org",
	  .text = "\thostname\t\tmail.example.org\t#\tc\t\n" },
	{ .name = "trailing blanks", .field = F_QUEUE_DIR, .want = "/var/q",
	  .text = "queue_dir /var/q   \t \n" },
	{ .name = "rest of line with spaces", .field = F_PASSWORD_CMD, .want = "pass show mail/qq",
	  .text = "relay r\nhost h\nuser u\npassword_cmd   pass show mail/qq   # where\n" },
	{ .name = "# without blank before is data", .field = F_PASSWORD_CMD, .want = "pass show a#b",
	  .text = "relay r\nhost h\nuser u\npassword_cmd pass show a#b\n" },
	{ .name = "# inside quotes in a command", .field = F_PASSWORD_CMD,
	  .want = "sh -c \"echo # x\"",
	  .text = "relay r\nhost h\nuser u\npassword_cmd sh -c \"echo # x\"   # comment\n" },
	{ .name = "whole value quoted", .field = F_PASSWORD_CMD, .want = "pass show mail/qq",
	  .text = "relay r\nhost h\nuser u\npassword_cmd \"pass show mail/qq\"\n" },
	{ .name = "quoted value keeps # and blanks", .field = F_CA_FILE, .want = " /a # b ",
	  .text = "ca_file \" /a # b \"  # comment\n" },
	{ .name = "escapes inside quotes", .field = F_CA_FILE, .want = "/a \"b\" \\c \\n",
	  .text = "ca_file \"/a \\\"b\\\" \\\\c \\n\"\n" },
	{ .name = "two quoted words stay literal", .field = F_CA_FILE, .want = "\"a\" \"b\"",
	  .text = "ca_file \"a\" \"b\"\n" },
	{ .name = "user with spaces", .field = F_USER, .want = "Jane Doe",
	  .text = "relay r\nhost h\nuser Jane Doe\npassword_env PW\n" },
	{ .name = "CRLF line ends", .field = F_HOSTNAME, .want = "mail.example.org",
	  .text = "# c\r\nhostname mail.example.org\r\nqueue_dir /q\r\n" },
	{ .name = "CRLF with comment", .field = F_QUEUE_DIR, .want = "/q",
	  .text = "hostname mail.example.org # x\r\nqueue_dir /q # y\r\n" },
	{ .name = "no newline at the end", .field = F_QUEUE_DIR, .want = "/q",
	  .text = "queue_dir /q" },
	{ .name = "UTF-8 byte order mark", .field = F_HOSTNAME, .want = "mx.example.org",
	  .text = "\xef\xbb\xbfhostname mx.example.org\n" },
	{ .name = "UTF-8 in a value", .field = F_QUEUE_DIR, .want = "/var/\xe9\x82\xae\xe4\xbb\xb6",
	  .text = "queue_dir /var/\xe9\x82\xae\xe4\xbb\xb6\n" },
	{ .name = "address literal as EHLO name", .field = F_HOSTNAME, .want = "[192.0.2.1]",
	  .text = "hostname [192.0.2.1]\n" },
	{ .name = "fallback never", .field = F_FALLBACK, .want = "0", .text = "fallback never\n" },
	{ .name = "fallback list with blanks", .field = F_FALLBACK, .want = "5",
	  .text = "fallback rejected , unreachable\n" },
	{ .name = "fallback one", .field = F_FALLBACK, .want = "2", .text = "fallback deferred\n" },
	{ .name = "tls none accepted", .field = F_TLS, .want = "0", .text = "tls none\n" },
	{ .name = "tls encrypt", .field = F_TLS, .want = "2", .text = "tls encrypt\n" },
	{ .name = "dns lists and repeats", .field = F_DNS,
	  .want = "127.0.0.1:5300|[::1]:53|::1|10.0.0.1|[2001:db8::1]",
	  .text = "dns 127.0.0.1:5300, [::1]:53\ndns ::1 10.0.0.1\ndns [2001:db8::1]\n" },
	{ .name = "dns list: comma without blanks", .field = F_DNS, .want = "10.0.0.1|10.0.0.2",
	  .text = "dns 10.0.0.1,10.0.0.2\n" },
};

static void field_text(const struct conf *c, enum field f, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	switch (f) {
	case F_HOSTNAME:
		snprintf(buf, len, "%s", c->hostname);
		break;
	case F_CA_FILE:
		snprintf(buf, len, "%s", c->ca_file);
		break;
	case F_QUEUE_DIR:
		snprintf(buf, len, "%s", c->queue_dir);
		break;
	case F_PASSWORD_CMD:
		snprintf(buf, len, "%s", c->nrelays ? c->relays[0].password_cmd : "(no relay)");
		break;
	case F_USER:
		snprintf(buf, len, "%s", c->nrelays ? c->relays[0].user : "(no relay)");
		break;
	case F_FALLBACK:
		snprintf(buf, len, "%u", c->fallback);
		break;
	case F_TLS:
		snprintf(buf, len, "%d", (int)c->tls);
		break;
	case F_DNS:
		for (size_t i = 0; i < c->ndns && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "", c->dns[i]);
		break;
	}
}

static void test_values(void **state)
{
	struct conf *c = *state;

	for (size_t i = 0; i < COUNT(value_cases); i++) {
		const struct value_case *t = &value_cases[i];
		char err[1024] = "", got[1024];
		size_t len = t->len ? t->len : strlen(t->text);

		if (conf_parse(NAME, t->text, len, c, err, sizeof(err)) != 0)
			fail_msg("%s: want success, got: %s", t->name, err);
		field_text(c, t->field, got, sizeof(got));
		if (strcmp(got, t->want) != 0)
			fail_msg("%s: want [%s], got [%s]", t->name, t->want, got);
	}
}

/* ------------------------------------------------------------ errors */

struct err_case {
	const char *name; /* what the case shows */
	const char *text; /* the whole file */
	size_t len;       /* 0: strlen(text) (for texts holding NUL) */
	unsigned line;    /* want "t.conf:LINE: "; 0 = "t.conf: " */
	const char *want; /* a substring of the message */
};

static const struct err_case err_cases[] = {
	/* unknown keys */
	{ .name = "unknown key, close to a known one", .text = "hostnme mx.example\n",
	  .line = 1, .want = "unknown key 'hostnme' (did you mean 'hostname'?)" },
	{ .name = "unknown key, transposition", .text = "relay a\nhsot h\n",
	  .line = 2, .want = "unknown key 'hsot' (did you mean 'host'?)" },
	{ .name = "unknown key, case", .text = "\n\nTimeout_Quit 5\n",
	  .line = 3, .want = "(did you mean 'timeout_quit'?)" },
	{ .name = "unknown key, nothing close", .text = "# c\nfrobnicate 1\n",
	  .line = 2, .want = "unknown key 'frobnicate'; keys before the first relay line: "
	                     "hostname, tls, ca_file, fallback, relay_default, queue_dir, state_dir, "
	                     "port25_detect, port25_block_time, dns, timeout_*, queue_retry_min, "
	                     "queue_retry_max, queue_lifetime, queue_warn, relay" },
	/* the blocked-port-25 memory */
	{ .name = "port25_detect too big", .text = "port25_detect 101\n", .line = 1,
	  .want = "port25_detect '101': expected a number of domains from 0 (off) to 100" },
	{ .name = "port25_block_time too short", .text = "port25_block_time 5\n", .line = 1,
	  .want = "port25_block_time '5': expected a whole number of seconds from 60 to 604800" },
	{ .name = "unknown key in a relay", .text = "relay a\nhost h\nfrobnicate 1\n",
	  .line = 3, .want = "keys of a relay section: tls, ca_file, relay, preset, host, port, "
	                     "user, password_cmd, password_file, password_env, rewrite_from" },
	/* missing values */
	{ .name = "missing value", .text = "hostname\n", .line = 1,
	  .want = "'hostname' needs a value: expected a host name" },
	{ .name = "missing value, blanks", .text = "queue_dir   \t\n", .line = 1,
	  .want = "'queue_dir' needs a value" },
	{ .name = "missing value, only a comment", .text = "tls   # later\n", .line = 1,
	  .want = "'tls' needs a value: expected may, encrypt, verify or none" },
	{ .name = "missing value, empty quotes", .text = "ca_file \"\"\n", .line = 1,
	  .want = "'ca_file' needs a value" },
	{ .name = "missing value, relay tls", .text = "relay a\n  tls\n", .line = 2,
	  .want = "'tls' needs a value: expected implicit, starttls or none" },
	{ .name = "relay without name", .text = "relay\n", .line = 1,
	  .want = "'relay' needs a value" },
	{ .name = "unclosed quote", .text = "relay a\nhost h\nuser u\npassword_cmd \"pass show\n",
	  .line = 4, .want = "'password_cmd': a double quote is not closed" },
	/* numbers */
	{ .name = "timeout zero", .text = "timeout_connect 0\n", .line = 1,
	  .want = "timeout_connect '0': expected a whole number of seconds from 1 to 86400" },
	{ .name = "timeout too big", .text = "timeout_data 86401\n", .line = 1,
	  .want = "timeout_data '86401': expected a whole number of seconds from 1 to 86400" },
	{ .name = "timeout with unit", .text = "timeout_quit 30s\n", .line = 1,
	  .want = "timeout_quit '30s': expected" },
	{ .name = "timeout negative", .text = "timeout_ehlo -5\n", .line = 1,
	  .want = "timeout_ehlo '-5': expected" },
	{ .name = "timeout overflow", .text = "timeout_rcpt 99999999999999999999999\n", .line = 1,
	  .want = "timeout_rcpt '99999999999999999999999': expected" },
	{ .name = "port zero", .text = "relay a\nhost h\nport 0\n", .line = 3,
	  .want = "port '0': expected a port number from 1 to 65535" },
	{ .name = "port too big", .text = "relay a\nhost h\nport 65536\n", .line = 3,
	  .want = "port '65536': expected a port number from 1 to 65535" },
	{ .name = "port not a number", .text = "relay a\nhost h\nport smtps\n", .line = 3,
	  .want = "port 'smtps'" },
	/* enums */
	{ .name = "bad global tls", .text = "tls maybe\n", .line = 1,
	  .want = "tls 'maybe': expected may, encrypt, verify or none" },
	{ .name = "relay tls mode as global", .text = "tls implicit\n", .line = 1,
	  .want = "implicit and starttls are relay modes" },
	{ .name = "global tls mode in a relay", .text = "relay a\nhost h\ntls verify\n", .line = 3,
	  .want = "tls 'verify': expected implicit, starttls or none inside relay section 'a' "
	          "(line 1); the global tls policy goes before the first relay line" },
	{ .name = "bad fallback", .text = "fallback sometimes\n", .line = 1,
	  .want = "fallback 'sometimes': expected never, or a comma list of unreachable, "
	          "deferred, rejected" },
	{ .name = "never with others", .text = "fallback never,deferred\n", .line = 1,
	  .want = "'never' cannot be combined" },
	{ .name = "fallback empty entry", .text = "fallback unreachable,,deferred\n", .line = 1,
	  .want = "fallback: an empty entry" },
	{ .name = "fallback trailing comma", .text = "fallback deferred,\n", .line = 1,
	  .want = "fallback: an empty entry" },
	{ .name = "bad rewrite_from", .text = "relay a\nhost h\nrewrite_from maybe\n", .line = 3,
	  .want = "rewrite_from 'maybe': expected yes or no" },
	{ .name = "unknown preset", .text = "relay a\n  preset outlook\n", .line = 2,
	  .want = "preset 'outlook': unknown; expected one of qq, qq-starttls, exmail, 163, "
	          "gmail" },
	/* sections */
	{ .name = "duplicate relay", .text = "relay a\nhost h\n\nrelay a\nhost g\n", .line = 4,
	  .want = "relay 'a' is defined twice (first on line 1)" },
	{ .name = "relay key before any relay", .text = "# c\nuser 6464@qq.com\n", .line = 2,
	  .want = "'user' belongs in a relay section: put it after a 'relay NAME' line" },
	{ .name = "preset before any relay", .text = "preset qq\n", .line = 1,
	  .want = "'preset' belongs in a relay section" },
	{ .name = "global key after a relay, blank line between",
	  .text = "relay a\nhost h\n\nhostname mail.example.org\n", .line = 4,
	  .want = "'hostname' is a global key, but this line is inside relay section 'a' "
	          "(opened on line 1): global keys go before the first relay line" },
	{ .name = "global key after a relay, unindented",
	  .text = "relay a\n  host h\ntimeout_connect 5\n", .line = 3,
	  .want = "'timeout_connect' is a global key" },
	{ .name = "bad relay name", .text = "relay my relay\n", .line = 1,
	  .want = "relay 'my relay': expected a relay name of 1 to 63 letters, digits" },
	{ .name = "relay name too long",
	  .text = "relay aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  .line = 1, .want = "expected a relay name of 1 to 63" },
	{ .name = "two password sources",
	  .text = "relay a\nhost h\nuser u\npassword_cmd pass x\npassword_env PW\n", .line = 5,
	  .want = "password_env: relay 'a' already has password_cmd (line 4); use only one of "
	          "password_cmd, password_file, password_env" },
	{ .name = "two password sources, file then cmd",
	  .text = "relay a\nhost h\nuser u\npassword_file /p\npassword_cmd c\n", .line = 5,
	  .want = "already has password_file (line 4)" },
	{ .name = "relay without host", .text = "hostname m.example\nrelay a\nport 25\n",
	  .line = 2, .want = "relay 'a' has no host: add 'host NAME' or 'preset NAME'" },
	{ .name = "relay without host, next relay", .text = "relay a\nrelay b\nhost h\n",
	  .line = 1, .want = "relay 'a' has no host" },
	{ .name = "password without user", .text = "relay a\nhost h\n\npassword_env PW\n",
	  .line = 4, .want = "relay 'a' has a password source but no 'user'" },
	{ .name = "user without password", .text = "relay a\nhost h\nuser u\n", .line = 3,
	  .want = "relay 'a' has a user but no password: add password_cmd" },
	{ .name = "bad password_env", .text = "relay a\nhost h\nuser u\npassword_env 1PW\n",
	  .line = 4, .want = "password_env '1PW': expected an environment variable name" },
	{ .name = "bad password_env, dash", .text = "relay a\nhost h\nuser u\npassword_env A-B\n",
	  .line = 4, .want = "password_env 'A-B'" },
	{ .name = "duplicate global key", .text = "hostname a.example\nhostname b.example\n",
	  .line = 2, .want = "'hostname' is set twice (first on line 1)" },
	{ .name = "duplicate relay key", .text = "relay a\nhost h\nhost g\n", .line = 3,
	  .want = "'host' is set twice in relay 'a' (first on line 2)" },
	{ .name = "relay_default names no relay", .text = "relay_default qq\nrelay a\nhost h\n",
	  .line = 1, .want = "relay_default 'qq': no relay section has that name (relays: a)" },
	{ .name = "relay_default without relays", .text = "\nrelay_default qq\n", .line = 2,
	  .want = "relay_default 'qq': there is no relay section" },
	/* values */
	{ .name = "dns by name", .text = "dns ns.example.org\n", .line = 1,
	  .want = "dns 'ns.example.org': expected IP addresses with optional ports, such as "
	          "127.0.0.1, 127.0.0.1:5300, ::1 or [::1]:5300 (names cannot be used" },
	{ .name = "dns port zero", .text = "dns 127.0.0.1:0\n", .line = 1,
	  .want = "dns '127.0.0.1:0'" },
	{ .name = "dns unclosed bracket", .text = "dns [::1:53\n", .line = 1,
	  .want = "dns '[::1:53'" },
	{ .name = "dns v4 in brackets", .text = "dns [127.0.0.1]:53\n", .line = 1,
	  .want = "dns '[127.0.0.1]:53'" },
	{ .name = "dns trailing comma", .text = "dns 127.0.0.1,\n", .line = 1,
	  .want = "dns: the list ends with a separator" },
	{ .name = "dns empty entry", .text = "dns 127.0.0.1,,127.0.0.2\n", .line = 1,
	  .want = "dns: an empty entry" },
	{ .name = "dns too many",
	  .text = "dns 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4\ndns 10.0.0.5 10.0.0.6 10.0.0.7 "
	          "10.0.0.8\ndns 10.0.0.9\n",
	  .line = 3, .want = "dns: too many servers, at most 8" },
	{ .name = "hostname with a space", .text = "hostname mail example\n", .line = 1,
	  .want = "hostname 'mail example': character ' ' is not allowed" },
	{ .name = "hostname bad literal", .text = "hostname [1.2.3]\n", .line = 1,
	  .want = "hostname '[1.2.3]': not an address literal" },
	{ .name = "relay host empty label", .text = "relay a\nhost smtp..qq.com\n", .line = 2,
	  .want = "host 'smtp..qq.com': empty label" },
	{ .name = "value too long", .text = "relay a\nhost h\npassword_env "
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	  .line = 3, .want = "password_env: the value is 168 bytes long, at most 127" },
	/* bytes */
	{ .name = "NUL byte", .text = "hostname a\0b\n", .len = 13, .line = 1,
	  .want = "NUL byte at column 11" },
	{ .name = "NUL byte in a comment on line 3", .text = "\n\n# a\0b\n", .len = 7,
	  .line = 3, .want = "NUL byte" },
	{ .name = "escape sequence", .text = "queue_dir /q\nhostname a\x1b[31m\n", .line = 2,
	  .want = "control character 0x1b at column 11: only tab is allowed" },
	{ .name = "bare CR inside a line", .text = "hostname a\rb\n", .line = 1,
	  .want = "control character 0x0d at column 11" },
	{ .name = "DEL", .text = "relay a\nhost h\nuser u\x7f\n", .line = 3,
	  .want = "control character 0x7f" },
};

static void check_err(const char *name, int rc, const char *err, unsigned line,
                      const char *want)
{
	char prefix[64];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", NAME, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", NAME);
	if (rc != -1)
		fail_msg("%s: want failure [%s%s], got success", name, prefix, want);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL)
		fail_msg("%s:\n want [%s...%s]\n got  [%s]", name, prefix, want, err);
}

static void test_errors(void **state)
{
	struct conf *c = *state;
	struct conf defaults;

	conf_defaults(&defaults);
	for (size_t i = 0; i < COUNT(err_cases); i++) {
		const struct err_case *t = &err_cases[i];
		char err[1024] = "";
		size_t len = t->len ? t->len : strlen(t->text);
		int rc = conf_parse(NAME, t->text, len, c, err, sizeof(err));

		check_err(t->name, rc, err, t->line, t->want);
		/* A failed parse leaves nothing half-read behind. */
		assert_memory_equal(c, &defaults, sizeof(defaults));
	}
}

/* Errors that need a generated text. */
static void test_limits(void **state)
{
	struct conf *c = *state;
	size_t cap = CONF_FILE_MAX + 16;
	char *text = malloc(cap);
	char err[1024];
	size_t n = 0;
	int rc;

	assert_non_null(text);

	/* CONF_RELAYS_MAX relays are fine, one more is not. */
	for (int i = 0; i <= CONF_RELAYS_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n, "relay r%d\nhost h%d.example\n", i, i);
	rc = conf_parse(NAME, text, n, c, err, sizeof(err));
	check_err("too many relays", rc, err, 2 * CONF_RELAYS_MAX + 1,
	          "relay 'r32': too many relay sections, at most 32");
	n -= strlen("relay r32\nhost h32.example\n");
	rc = conf_parse(NAME, text, n, c, err, sizeof(err));
	if (rc != 0)
		fail_msg("32 relays: want success, got: %s", err);
	assert_int_equal(c->nrelays, CONF_RELAYS_MAX);

	/* A line of CONF_LINE_MAX bytes is fine, one more is not (CRLF or not). */
	memcpy(text, "hostname m.example\n#", 20);
	memset(text + 20, 'x', CONF_LINE_MAX - 1);
	memcpy(text + 19 + CONF_LINE_MAX, "\r\n", 2);
	rc = conf_parse(NAME, text, 19 + CONF_LINE_MAX + 2, c, err, sizeof(err));
	if (rc != 0)
		fail_msg("line of %d bytes: want success, got: %s", CONF_LINE_MAX, err);
	text[19 + CONF_LINE_MAX] = 'x';
	rc = conf_parse(NAME, text, 19 + CONF_LINE_MAX + 2, c, err, sizeof(err));
	check_err("long line", rc, err, 2, "the line is 4097 bytes long, at most 4096");

	/* 1 MiB of comments is fine, one byte more is not. */
	memset(text, '\n', CONF_FILE_MAX + 1);
	rc = conf_parse(NAME, text, CONF_FILE_MAX, c, err, sizeof(err));
	if (rc != 0)
		fail_msg("1 MiB: want success, got: %s", err);
	rc = conf_parse(NAME, text, CONF_FILE_MAX + 1, c, err, sizeof(err));
	check_err("file too large", rc, err, 0, "at most 1048576 (1 MiB)");
	free(text);
}

/* ------------------------------------------------------------ conf_load */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state)
{
	struct conf *c = *state;
	char dir[] = "/tmp/test_conf.XXXXXX";
	char path[256], fifo[256], err[1024];
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mxsend.conf", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);

	write_file(path, "hostname mx.example\nrelay qq\n preset qq\n", 0644);
	rc = conf_load(path, c, err, sizeof(err));
	if (rc != 0)
		fail_msg("load: want success, got: %s", err);
	assert_string_equal(c->path, path);
	assert_string_equal(c->hostname, "mx.example");
	assert_string_equal(c->relays[0].host, "smtp.qq.com");

	/* Errors carry the path given. */
	write_file(path, "hostname mx.example\nuser x\n", 0600);
	rc = conf_load(path, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/mxsend.conf:2: 'user' belongs in a relay section"));
	assert_int_equal(strncmp(err, dir, strlen(dir)), 0);

	/* SEC-06: anyone who can write the file could set a password_cmd. */
	write_file(path, "hostname mx.example\n", 0646);
	rc = conf_load(path, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	if (strstr(err, ": refusing a world-writable configuration file (mode 0646)") == NULL)
		fail_msg("world-writable: got [%s]", err);
	assert_string_equal(c->hostname, "");
	write_file(path, "hostname mx.example\n", 0664); /* group-writable is the owner's call */
	assert_int_equal(conf_load(path, c, err, sizeof(err)), 0);

	rc = conf_load(dir, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, ": not a regular file"));

	/* A FIFO is refused without waiting for a writer. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	rc = conf_load(fifo, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/fifo: not a regular file"));
	unlink(fifo);

	rc = conf_load("/dev/null", c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_string_equal(err, "/dev/null: not a regular file");

	unlink(path);
	rc = conf_load(path, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/mxsend.conf: cannot open: No such file or directory"));

	/* Too large, checked before reading. */
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		assert_int_equal(fseek(f, CONF_FILE_MAX, SEEK_SET), 0);
		assert_int_equal(fputc('\n', f), '\n');
		assert_int_equal(fclose(f), 0);
	}
	rc = conf_load(path, c, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/mxsend.conf: the file is 1048577 bytes long"));
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_gives_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_presets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
