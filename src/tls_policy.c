/* tls_policy: see tls_policy.h. Each function states its reason in words
 * an operator can act on. */
#include "config.h"

#include "tls_policy.h"

#include <stdio.h>
#include <string.h>

const char *tls_level_name(enum tls_level l)
{
	static const char *const names[TLS_LEVEL_LAST] = {
		[TLS_LEVEL_NONE] = "none",
		[TLS_LEVEL_MAY] = "may",
		[TLS_LEVEL_ENCRYPT] = "encrypt",
		[TLS_LEVEL_VERIFY] = "verify",
	};

	return (unsigned)l < TLS_LEVEL_LAST ? names[l] : "unknown";
}

int tls_level_parse(const char *s, enum tls_level *out)
{
	for (int l = 0; l < TLS_LEVEL_LAST; l++) {
		if (strcmp(s, tls_level_name((enum tls_level)l)) == 0) {
			*out = (enum tls_level)l;
			return 0;
		}
	}
	return -1;
}

enum tls_verdict tls_policy_offer(enum tls_level l, int starttls_offered, char *why, size_t whylen)
{
	why[0] = '\0';
	if (l == TLS_LEVEL_NONE)
		return TLS_GO_PLAIN;
	if (starttls_offered)
		return TLS_GO_TLS;
	if (l == TLS_LEVEL_MAY)
		return TLS_GO_PLAIN;
	snprintf(why, whylen, "TLS is required (policy %s) but the server does not offer "
	         "STARTTLS", tls_level_name(l));
	return TLS_DEFER;
}

enum tls_verdict tls_policy_starttls_reply(enum tls_level l, int code, char *why, size_t whylen)
{
	why[0] = '\0';
	if (code == 220)
		return TLS_GO_TLS;
	if (l == TLS_LEVEL_MAY) {
		snprintf(why, whylen, "STARTTLS refused with %d: going on without TLS", code);
		return TLS_GO_PLAIN;
	}
	snprintf(why, whylen, "TLS is required (policy %s) but STARTTLS was refused with %d",
	         tls_level_name(l), code);
	return TLS_DEFER;
}

enum tls_verdict tls_policy_peer(enum tls_level l, int verified, const char *verify_error,
                                 const char *mx_name, char *why, size_t whylen)
{
	why[0] = '\0';
	if (l != TLS_LEVEL_VERIFY || verified)
		return TLS_GO_TLS;
	snprintf(why, whylen, "the certificate of %s does not verify (%s) and the policy is "
	         "verify", mx_name, verify_error && verify_error[0] ? verify_error : "unknown error");
	return TLS_DEFER;
}
