/*
 * mxsend.h: the public interface of libmxsend.
 *
 * libmxsend looks up where mail for a domain goes (MX routing with c-ares)
 * and delivers mail straight to those hosts over SMTP with STARTTLS.
 * Everything here is prefixed mxsend_; nothing else is exported from the
 * shared library. The manual is libmxsend(3); docs/example_send.c is a
 * complete program.
 *
 * Threading: an mxsend_router, an mxsend_message and an mxsend_result are
 * each used from one thread at a time. Run mxsend_send calls one at a
 * time in a process (the resolver library's first set-up is not guarded).
 * Ownership: every object returned by a _new, _route or _send call is
 * freed by the matching _free call; strings the library allocates for
 * the caller are freed with mxsend_free; strings returned as const char *
 * belong to the object they came from.
 */
#ifndef MXSEND_H
#define MXSEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXSEND_VERSION "0.1.0"

/* How routing one domain ended (the JSON "status"). */
enum mxsend_route_status {
	MXSEND_ROUTE_OK = 0,        /* at least one MX host has an address */
	MXSEND_ROUTE_PERMANENT = 1, /* NXDOMAIN, null MX, no usable host */
	MXSEND_ROUTE_TEMPORARY = 2, /* a DNS failure that may pass */
	MXSEND_ROUTE_INVALID = 3,   /* not a domain or address */
};

struct mxsend_router;

/* Options for mxsend_router_new; zero them, then set what you need. */
struct mxsend_router_options {
	const char *dns_servers;   /* "127.0.0.1:5300,[::1]:53"; NULL = resolv.conf */
	unsigned timeout_ms;       /* per query, all tries; 0 = 10000 */
	unsigned max_inflight;     /* DNS queries at once; 0 = 128 */
	int ipv4_only, ipv6_only;  /* address families to look up */
	int seeded;                /* 1: order equal preferences with `seed` */
	unsigned long long seed;
};

/* A router, or NULL with a reason in errbuf (when errbuf is not NULL). */
struct mxsend_router *mxsend_router_new(const struct mxsend_router_options *opts,
                                        char *errbuf, size_t errlen);
void mxsend_router_free(struct mxsend_router *r);

/* Routes n items (domains or addresses) concurrently and returns, for each,
 * a JSON object as a NUL-terminated string in the shape of `mxsend route
 * --json` (DESIGN.md), in *json_out[i], and its status in status_out[i]
 * (status_out may be NULL). Free each string with mxsend_free. Returns 0,
 * or -1 when out of memory. */
int mxsend_route(struct mxsend_router *r, const char *const *items, size_t n,
                 char **json_out, enum mxsend_route_status *status_out);

/* Frees a string returned by the library. */
void mxsend_free(void *p);

/* ------------------------------------------------------------ sending
 *
 * Build a message, send it, read a result per recipient:
 *
 *   struct mxsend_message *m = mxsend_message_new();
 *   mxsend_message_set_from(m, "noreply@example.org", "Grades");
 *   mxsend_message_add_to(m, "a@example.com");
 *   mxsend_message_set_subject(m, "Hi");
 *   mxsend_message_set_html(m, "<p>Hello</p>", 12);
 *   if (mxsend_send(NULL, m, &res, err, sizeof(err)) == 0)
 *           ... mxsend_result_count(res), mxsend_result_status(res, i) ...
 *
 * Delivery is direct to each recipient domain's MX hosts (port 25), with
 * the TLS policy of the options. A delivery problem is never an error
 * code: it is a recipient's result (deferred or bounced, with the
 * server's reply). mxsend_send neither queues nor falls back to a relay
 * (the mxsend command does both): a deferred recipient did not get the
 * message and the caller sends it again later.
 */

/* What the int-returning calls below return. Every error leaves a reason
 * for a person: in err for mxsend_send, in mxsend_message_error for the
 * message calls. Nothing is ever sent when mxsend_send returns an error. */
enum mxsend_error {
	MXSEND_OK = 0,
	MXSEND_EINVAL = -1,   /* bad input: an address, CR or LF in a header value,
	                         text that is not UTF-8, a limit exceeded, no sender
	                         or no recipient, a NULL argument */
	MXSEND_ENOMEM = -2,   /* out of memory */
	MXSEND_EOPTIONS = -3, /* struct mxsend_send_options is unusable: tls level,
	                         DNS servers, host name, ca_file */
	MXSEND_ESYSTEM = -4,  /* the environment: no event loop (file descriptors) */
};

/* A message being built. Text arguments are UTF-8 and NUL-terminated
 * unless a length is given; every argument is copied, so the caller's
 * memory can be reused as soon as a call returns. */
struct mxsend_message;

/* A new, empty message, or NULL when out of memory. Free it with
 * mxsend_message_free. */
struct mxsend_message *mxsend_message_new(void);

/* Frees m and everything it holds; NULL is allowed. */
void mxsend_message_free(struct mxsend_message *m);

/* Each setter below returns MXSEND_OK, or MXSEND_EINVAL / MXSEND_ENOMEM
 * with the reason in mxsend_message_error. The first failure sticks to the
 * message: mxsend_send then refuses it with the same code and reason, so
 * a program that checks only mxsend_send never sends a message that is
 * missing a recipient or a part. A failed call changes nothing else. */

/* The author, and the envelope sender (MAIL FROM). address is
 * "local@domain" or "Name <local@domain>"; display_name (UTF-8, no CR, LF
 * or other control characters, at most 512 octets) replaces the name in
 * address, NULL keeps it and "" removes it. A non-ASCII name is written
 * as RFC 2047 encoded words. Required before mxsend_send; a second call
 * replaces the first. */
int mxsend_message_set_from(struct mxsend_message *m, const char *address,
                            const char *display_name);

/* Adds recipients: address is one mailbox ("a@example.com", "Name
 * <a@example.com>") or a comma-separated list of them, as a To field
 * holds. An internationalised domain is converted to its A-label. To and
 * Cc appear in the header; Bcc recipients get the message but no header
 * names them. Reply-To sets where replies go and adds no recipient. A
 * recipient named twice gets one copy. */
int mxsend_message_add_to(struct mxsend_message *m, const char *address);
int mxsend_message_add_cc(struct mxsend_message *m, const char *address);
int mxsend_message_add_bcc(struct mxsend_message *m, const char *address);
int mxsend_message_add_reply_to(struct mxsend_message *m, const char *address);

/* The Subject (UTF-8, no control characters but tab); a non-ASCII subject
 * is written as RFC 2047 encoded words. NULL removes it. */
int mxsend_message_set_subject(struct mxsend_message *m, const char *subject);

/* The text/plain and the text/html body: len octets of UTF-8, LF or CRLF
 * line ends (a bare CR is refused). Both make a multipart/alternative
 * message that shows the HTML where it can. NULL removes the part; a
 * second call replaces it. Without text, HTML or attachments the message
 * has an empty text body. */
int mxsend_message_set_text(struct mxsend_message *m, const void *text, size_t len);
int mxsend_message_set_html(struct mxsend_message *m, const void *html, size_t len);

/* Attaches len octets of data (base64 on the wire) as file_name (UTF-8,
 * no directory, at most 255 octets). content_type is "type/subtype", or
 * NULL to pick one from the file name's extension. Bodies and
 * attachments together hold at most 64 MiB, in at most 1000 attachments. */
int mxsend_message_attach(struct mxsend_message *m, const char *file_name, const void *data,
                          size_t len, const char *content_type);

/* Adds a header field "Name: value" (no CR or LF: folding is the
 * library's; a non-ASCII value is RFC 2047-encoded). Up to 100. The
 * library owns From, To, Cc, Bcc, Reply-To, Subject, MIME-Version,
 * Content-* and Return-Path: mxsend_send refuses them here. Date and
 * Message-ID, given once, replace the generated ones. */
int mxsend_message_add_header(struct mxsend_message *m, const char *field);

/* The reason of the first failed call on m, or NULL when none failed.
 * Valid until m is freed. */
const char *mxsend_message_error(const struct mxsend_message *m);

/* How mxsend_send delivers. Zero it (or pass NULL): every zero field
 * means its default. Strings are borrowed for the call. */
struct mxsend_send_options {
	const char *dns_servers; /* "127.0.0.1:5300,[::1]:53": IP addresses, each
	                            with an optional port; NULL = /etc/resolv.conf */
	const char *tls;         /* TLS policy for every MX host: "none" (never
	                            STARTTLS), "may" (STARTTLS when offered, any
	                            certificate), "encrypt" (STARTTLS required),
	                            "verify" (STARTTLS and a certificate valid for
	                            the MX name); NULL = "may". A required level
	                            not met defers; it never falls back to plaintext */
	const char *ca_file;     /* PEM trust anchors added to the system store
	                            (for "verify"); NULL = the system store only */
	const char *hostname;    /* the EHLO name and the right side of the
	                            Message-ID, a host name; NULL = gethostname() */
	unsigned timeout_ms;     /* cap on every SMTP step and DNS query; 0 = the
	                            RFC 5321 4.5.3.2 timeouts (minutes per step) */
	unsigned max_sessions;   /* SMTP connections at once; 0 = 100 */
};

/* The outcome of one mxsend_send: a result per envelope recipient. */
struct mxsend_result;

/* What became of one recipient (the JSON "status"). */
enum mxsend_status {
	MXSEND_STATUS_NONE = -1, /* no such recipient (index out of range) */
	MXSEND_SENT = 0,         /* an MX host accepted the message (2xx after DATA) */
	MXSEND_DEFERRED = 1,     /* not delivered for now (4xx, no host reachable,
	                            TLS policy not met, DNS failure): try later */
	MXSEND_BOUNCED = 2,      /* refused for good (5xx, no such domain, null MX) */
};

/* Composes m (Date, Message-ID, MIME structure), renders it with CRLF line
 * ends, looks up the MX hosts of every recipient domain and delivers to
 * all recipients at once, waiting until each has a final status (at most
 * about timeout_ms per step when set). opts may be NULL for the defaults;
 * m is not changed and can be sent again.
 *
 * Returns MXSEND_OK with a new result in *out (free it with
 * mxsend_result_free), whatever became of each recipient. Or an error,
 * with *out NULL, the reason in err (when err is not NULL: at most errlen
 * octets, NUL-terminated) and nothing sent:
 *   MXSEND_EINVAL    the message (a sticky error of a setter, no sender,
 *                    no recipient, a header the library owns, a body that
 *                    is not UTF-8, a line over 998 octets after encoding)
 *                    or a NULL m or out;
 *   MXSEND_EOPTIONS  opts (an unknown tls level, a DNS server that is not
 *                    an IP address, a bad host name, an unreadable ca_file);
 *   MXSEND_ENOMEM, MXSEND_ESYSTEM.
 * SIGPIPE from a peer that closes during TLS is blocked in the calling
 * thread for the duration of the call and never reaches the program. */
int mxsend_send(const struct mxsend_send_options *opts, struct mxsend_message *m,
                struct mxsend_result **out, char *err, size_t errlen);

/* Readers of a result. i counts from 0 to mxsend_result_count - 1, in the
 * order the recipients were added (To, then Cc, then Bcc, each address
 * once). An i out of range gives NULL, 0 or MXSEND_STATUS_NONE. Strings
 * live as long as r. */
size_t mxsend_result_count(const struct mxsend_result *r);
/* The envelope address, "local@domain" (domain in A-label form). */
const char *mxsend_result_address(const struct mxsend_result *r, size_t i);
enum mxsend_status mxsend_result_status(const struct mxsend_result *r, size_t i);
/* "sent", "deferred", "bounced" (the JSON names), or NULL. */
const char *mxsend_status_name(enum mxsend_status status);
/* The SMTP reply code that decided (250, 451, 550, ...), or 0 when no
 * server gave one (DNS failure, no host reachable). */
int mxsend_result_code(const struct mxsend_result *r, size_t i);
/* The enhanced status code (RFC 3463), "2.0.0", "5.1.1": the server's, or
 * the one mxsend gave to a local outcome ("4.4.1" no answer from host). */
const char *mxsend_result_dsn(const struct mxsend_result *r, size_t i);
/* The reply as one line ("250 2.0.0 Ok: queued as 4Xy"), or the local
 * reason; control characters in a server's text are replaced. */
const char *mxsend_result_reply(const struct mxsend_result *r, size_t i);
/* The host that decided, "mx.example.com[192.0.2.1]:25", or "none". */
const char *mxsend_result_relay(const struct mxsend_result *r, size_t i);
/* The TLS version ("TLSv1.3") and cipher of that session, or NULL when it
 * was plaintext; and 1 when its certificate was verified for the MX name. */
const char *mxsend_result_tls_version(const struct mxsend_result *r, size_t i);
const char *mxsend_result_tls_cipher(const struct mxsend_result *r, size_t i);
int mxsend_result_tls_verified(const struct mxsend_result *r, size_t i);
/* Milliseconds from the start of delivery to this recipient's outcome. */
unsigned long long mxsend_result_delay_ms(const struct mxsend_result *r, size_t i);
/* The Message-ID the message went out with, "<...@host>". */
const char *mxsend_result_message_id(const struct mxsend_result *r);

/* The result as one line of JSON in the shape of `mxsend send --json`
 * (mxsend-json(7)): {"queue_id", "message_id", "from", "size",
 * "recipients": [{"address", "domain", "status", "via", "relay",
 * "reply", "code", "dsn", "tls": {"version", "cipher", "verified"} | null,
 * "delay_ms", "queue_id": null}]}. Free it with mxsend_free. NULL when out
 * of memory. */
char *mxsend_result_json(const struct mxsend_result *r);

/* Frees r; NULL is allowed. */
void mxsend_result_free(struct mxsend_result *r);

#ifdef __cplusplus
}
#endif

#endif
