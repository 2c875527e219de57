/*
 * tls_policy: what a TLS policy level means for one SMTP session. Pure.
 *
 * Levels are ordered none < may < encrypt < verify (Postfix's names).
 * A required level that is not met defers the host; it never falls back
 * to plaintext (DESIGN.md "What it must never do").
 */
#ifndef MXSEND_TLS_POLICY_H
#define MXSEND_TLS_POLICY_H

#include <stddef.h>

enum tls_level {
	TLS_LEVEL_NONE,    /* never STARTTLS */
	TLS_LEVEL_MAY,     /* STARTTLS when offered, any certificate */
	TLS_LEVEL_ENCRYPT, /* STARTTLS required, any certificate */
	TLS_LEVEL_VERIFY,  /* STARTTLS required, certificate valid for the MX name */
	TLS_LEVEL_LAST
};

enum tls_verdict {
	TLS_GO_PLAIN,  /* carry on without TLS */
	TLS_GO_TLS,    /* send STARTTLS / carry on over TLS */
	TLS_DEFER,     /* leave this host: the policy is not met */
};

const char *tls_level_name(enum tls_level l);
/* Parses "none", "may", "encrypt", "verify"; returns -1 when unknown. */
int tls_level_parse(const char *s, enum tls_level *out);

/* After EHLO: whether to send STARTTLS. */
enum tls_verdict tls_policy_offer(enum tls_level l, int starttls_offered,
                                  char *why, size_t whylen);
/* After the STARTTLS reply: code is the reply code (220 = go ahead). */
enum tls_verdict tls_policy_starttls_reply(enum tls_level l, int code,
                                           char *why, size_t whylen);
/* After the handshake: whether the session may go on. */
enum tls_verdict tls_policy_peer(enum tls_level l, int verified, const char *verify_error,
                                 const char *mx_name, char *why, size_t whylen);

#endif
