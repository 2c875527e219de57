/*
 * conf: the configuration file, read once into a struct that is then
 * passed down read-only (STYLE.md principle 4: no global configuration).
 *
 * Format (DESIGN.md, mxsend.conf(5)): `key value` lines, '#' comments,
 * and named relay sections opened by `relay NAME`; keys after it belong to
 * that relay until the next `relay` line (blank lines and indentation do
 * not end a section, and global-only keys after a relay line are an
 * error). Every error names file:line, the key and what would be accepted.
 */
#ifndef MXSEND_CONF_H
#define MXSEND_CONF_H

#include <stddef.h>

#define CONF_LINE_MAX 4096  /* longer lines are an error, not truncated */
#define CONF_RELAYS_MAX 32
#define CONF_DNS_MAX 8      /* `dns` servers */
#define CONF_FILE_MAX (1024 * 1024) /* bigger files are refused: 1 MiB */

enum conf_tls {             /* TLS policy for direct delivery */
	CONF_TLS_NONE,
	CONF_TLS_MAY,
	CONF_TLS_ENCRYPT,
	CONF_TLS_VERIFY,
};

enum conf_relay_tls {       /* how a relay connection is protected */
	CONF_RELAY_TLS_IMPLICIT, /* RFC 8314 implicit TLS (port 465) */
	CONF_RELAY_TLS_STARTTLS, /* STARTTLS required */
	CONF_RELAY_TLS_NONE,     /* plaintext: loopback tests only */
};

enum conf_fallback {        /* when direct delivery falls back to the relay */
	CONF_FALLBACK_UNREACHABLE = 1 << 0,
	CONF_FALLBACK_DEFERRED = 1 << 1,
	CONF_FALLBACK_REJECTED = 1 << 2,
	/* 0 = never */
};

struct conf_relay {
	char name[64];           /* section name */
	char preset[32];         /* "qq", "qq-starttls", "exmail", "163", "gmail" or "" */
	char host[256];          /* filled by the preset, overridable */
	unsigned port;           /* never 0 after parsing: explicit, preset, or TLS mode */
	enum conf_relay_tls tls;
	int tls_set;             /* tls given explicitly or by a preset; else implicit */
	char ca_file[1024];
	char user[256];
	char password_cmd[1024]; /* exactly one of the three password sources */
	char password_file[1024];
	char password_env[128];
	int rewrite_from;        /* yes/no */
	int line;                /* where the section starts, for messages */
};

struct conf {
	char path[1024];          /* the file read, "" for defaults only */
	char hostname[256];       /* EHLO name, "" = gethostname(2) */
	enum conf_tls tls;        /* default CONF_TLS_MAY */
	char ca_file[1024];
	unsigned fallback;        /* enum conf_fallback bits; default unreachable|deferred */
	char relay_default[64];
	char queue_dir[1024];
	char state_dir[1024];      /* state between runs (port 25 memory); "" = default */
	unsigned port25_detect;    /* domains whose every MX timed out before port 25
	                              is taken as blocked; 0 = off; default 3 */
	unsigned port25_block_time;/* seconds that verdict is remembered; default 3600 */
	char dns[CONF_DNS_MAX][64]; /* "HOST[:PORT]" each */
	size_t ndns;
	unsigned timeout_dns;      /* seconds per DNS query, all tries; default 10 */
	unsigned timeout_connect;  /* default 30 (Postfix smtp_connect_timeout) */
	unsigned timeout_greeting; /* default 300, RFC 5321 4.5.3.2.1 */
	unsigned timeout_ehlo;     /* default 300 */
	unsigned timeout_starttls; /* default 300 */
	unsigned timeout_mail;     /* default 300, 4.5.3.2.2 */
	unsigned timeout_rcpt;     /* default 300, 4.5.3.2.3 */
	unsigned timeout_data;     /* default 120, 4.5.3.2.4 */
	unsigned timeout_data_block; /* default 180, 4.5.3.2.5 */
	unsigned timeout_data_end; /* default 600, 4.5.3.2.6 */
	unsigned timeout_quit;     /* default 300 */
	unsigned queue_retry_min;  /* seconds before the first retry; default 300 */
	unsigned queue_retry_max;  /* cap of the doubling backoff; default 3600 */
	unsigned queue_lifetime;   /* give up (bounce) after; default 432000 (5 days) */
	unsigned queue_warn;       /* delay warning after; 0 = none (default) */
	struct conf_relay relays[CONF_RELAYS_MAX];
	size_t nrelays;
};

/* Fills c with the defaults above. */
void conf_defaults(struct conf *c);

/* Reads path into c (which conf_load first sets to defaults). Returns 0,
 * or -1 with "FILE:LINE: message" in err ("FILE: message" for what is
 * wrong with the whole file) and c reset to the defaults. A missing file,
 * a file that is not regular, world-writable, or larger than
 * CONF_FILE_MAX is an error. Password files and commands are not touched:
 * the relay checks them when it needs the secret. */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);

/* Parses text (len bytes, not NUL-terminated, the contents of a file
 * named name, for messages) into c, which it first sets to the defaults;
 * presets are applied and relay ports defaulted. Pure: for unit tests and
 * the fuzzer. Same returns as conf_load. */
int conf_parse(const char *name, const char *text, size_t len, struct conf *c,
               char *err, size_t errlen);

/* Reads a `fallback` value ("never", or a comma list of unreachable,
 * deferred, rejected: `--fallback` on the command line) into *bits.
 * Returns 0, or -1 with the reason in err. */
int conf_fallback_parse(const char *text, unsigned *bits, char *err, size_t errlen);

/* The relay called name, or NULL. */
const struct conf_relay *conf_relay_find(const struct conf *c, const char *name);

#endif
