/*
 * probe_verdict: the meaning of a probe's facts. See probe_verdict.h.
 * Pure: the time comes in through the options, never from the clock.
 * Reasons are written for a person reading a terminal, and each names
 * what a sender would do about it.
 */
#include "config.h"

#include "probe_verdict.h"

#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

const char *probe_verdict_name(enum probe_verdict v)
{
	static const char *const names[PROBE_VERDICT_LAST] = {
		[PROBE_OK] = "ok",
		[PROBE_WARN] = "warn",
		[PROBE_FAIL] = "fail",
	};

	return (unsigned)v < PROBE_VERDICT_LAST && names[v] ? names[v] : "fail";
}

long probe_days_left(time_t t, time_t now)
{
	long long d = (long long)t - (long long)now;

	/* Round toward minus infinity: one second past the end is -1 days,
	 * not 0. */
	return (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

void probe_format_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "?");
}

static enum probe_verdict worse(enum probe_verdict a, enum probe_verdict b)
{
	return b > a ? b : a;
}

/* The protocol names OpenSSL gives that a 2020s sender treats as too old
 * (RFC 8996 deprecates TLS 1.0 and 1.1). */
static int old_protocol(const char *v)
{
	return strcmp(v, "TLSv1") == 0 || strcmp(v, "TLSv1.1") == 0 || strcmp(v, "SSLv3") == 0 ||
	       strcmp(v, "SSLv2") == 0;
}

/* The certificate's names, for a mismatch message: its DNS SANs, or its
 * subject when it has none. */
static void cert_names(const struct tls_details *t, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < t->nsan && used + 1 < len; i++) {
		int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", t->san[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (t->nsan == 0)
		snprintf(out, len, "%s", t->subject[0] ? t->subject : "no names");
}

/* TLS-05, SEC-02: what the certificate means to a sender that checks it.
 * Each fact is judged on its own, since OpenSSL reports only the first
 * verification error. */
static enum probe_verdict judge_cert(const struct probe_result *r, const char *mx_name,
                                     const struct probe_verdict_opts *o, struct strlist *reasons)
{
	const struct tls_details *t = &r->tls;
	enum probe_verdict v = PROBE_OK;
	int explained = 0;
	char when[32], names[512];

	if (!t->have_cert) {
		strlist_addf(reasons, "the server sent no certificate: a sender that verifies TLS "
		             "cannot deliver");
		return PROBE_WARN;
	}
	if (t->not_after != 0 && t->not_after < o->now) {
		probe_format_time(t->not_after, when, sizeof(when));
		long ago = -probe_days_left(t->not_after, o->now);

		strlist_addf(reasons, "certificate expired on %s (%ld day%s ago): a sender that "
		             "verifies TLS cannot deliver", when, ago, ago == 1 ? "" : "s");
		v = PROBE_WARN;
		explained |= t->verify_code == X509_V_ERR_CERT_HAS_EXPIRED;
	} else if (t->not_before > o->now) {
		probe_format_time(t->not_before, when, sizeof(when));
		strlist_addf(reasons, "certificate is not valid before %s", when);
		v = PROBE_WARN;
		explained |= t->verify_code == X509_V_ERR_CERT_NOT_YET_VALID;
	} else if (t->not_after != 0 && probe_days_left(t->not_after, o->now) < (long)o->expiry_days) {
		probe_format_time(t->not_after, when, sizeof(when));
		long left = probe_days_left(t->not_after, o->now);

		strlist_addf(reasons, "certificate expires in %ld day%s (%s)", left,
		             left == 1 ? "" : "s", when);
		v = PROBE_WARN;
	}
	if (t->self_signed) {
		strlist_addf(reasons, "self-signed certificate: no certificate authority vouches "
		             "for it");
		v = PROBE_WARN;
		explained |= t->verify_code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		             t->verify_code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
	}
	if (t->name_checked && !t->name_match && mx_name != NULL) {
		cert_names(t, names, sizeof(names));
		strlist_addf(reasons, "name mismatch: the certificate is not valid for %s (it is "
		             "for %s)", mx_name, names);
		v = PROBE_WARN;
		explained |= t->verify_code == X509_V_ERR_HOSTNAME_MISMATCH;
	}
	if (!t->verified && !explained) {
		strlist_addf(reasons, "certificate not verified: %s (issuer: %s)",
		             t->verify_error[0] ? t->verify_error : "unknown error",
		             t->issuer[0] ? t->issuer : "unknown");
		v = PROBE_WARN;
	}
	return v;
}

static enum probe_verdict judge_tls(const struct probe_result *r, const char *mx_name,
                                    const struct probe_verdict_opts *o, struct strlist *reasons)
{
	enum probe_verdict v = PROBE_OK;

	if (r->helo_used) {
		strlist_addf(reasons, "EHLO not supported (HELO only): no extensions, so no "
		             "STARTTLS; mail travels unencrypted");
		return PROBE_WARN;
	}
	if (!r->starttls_offered) {
		strlist_addf(reasons, "no STARTTLS: mail to this host travels unencrypted");
		return PROBE_WARN;
	}
	if (r->starttls.code != 0 && r->starttls.code != 220) {
		strlist_addf(reasons, "STARTTLS offered but refused: %d %s", r->starttls.code,
		             r->starttls.text);
		return PROBE_WARN;
	}
	if (r->tls_attempted && !r->tls_ok) {
		strlist_addf(reasons, "TLS handshake failed: %s (senders that require TLS cannot "
		             "deliver; others retry in plaintext)",
		             r->tls_error[0] ? r->tls_error : "unknown error");
		return PROBE_WARN;
	}
	if (!r->tls_ok)
		return v;
	if (old_protocol(r->tls.version)) {
		strlist_addf(reasons, "old protocol %s: TLS 1.2 or later expected (RFC 8996)",
		             r->tls.version);
		v = PROBE_WARN;
	}
	if (r->dropped_plaintext > 0) {
		strlist_addf(reasons, "the server sent %zu bytes after its STARTTLS reply and "
		             "before the handshake (discarded; RFC 3207 section 6)",
		             r->dropped_plaintext);
		v = PROBE_WARN;
	}
	return worse(v, judge_cert(r, mx_name, o, reasons));
}

enum probe_verdict probe_verdict_session(const struct probe_result *r, const char *mx_name,
                                         const struct probe_verdict_opts *o,
                                         enum probe_reach *reach, struct strlist *reasons)
{
	enum probe_verdict v;

	if (!r->connected) {
		if (r->connect_timeout) {
			*reach = PROBE_REACH_CONNECT_TIMEOUT;
			strlist_addf(reasons, "connection timed out after %.1f s: the host is down, "
			             "or port 25 is blocked on the way", r->connect_ms / 1000.0);
		} else {
			*reach = PROBE_REACH_NO_CONNECT;
			if (r->connect_refused)
				strlist_addf(reasons, "connection refused: nothing listens on port 25");
			else
				strlist_addf(reasons, "cannot connect: %s", r->error);
		}
		return PROBE_FAIL;
	}
	if (r->greeting.code == 0) {
		*reach = PROBE_REACH_BROKEN;
		if (r->timed_out)
			strlist_addf(reasons, "no greeting: connected, but the server said nothing "
			             "(%s)", r->error);
		else
			strlist_addf(reasons, "no greeting: %s", r->error);
		return PROBE_FAIL;
	}
	if (r->greeting.code != 220) {
		int perm = r->greeting.code / 100 == 5;

		*reach = perm ? PROBE_REACH_REFUSED_5XX : PROBE_REACH_REFUSED_4XX;
		strlist_addf(reasons, "%s: greets with %d %s", perm ? "refuses service" :
		             "refuses service for now", r->greeting.code, r->greeting.text);
		return PROBE_FAIL;
	}
	if (!r->ehlo_ok) {
		if (r->failed_step == PROBE_ST_EHLO || r->failed_step == PROBE_ST_HELO) {
			*reach = r->ehlo.code / 100 == 5 ? PROBE_REACH_REFUSED_5XX :
			         r->ehlo.code / 100 == 4 ? PROBE_REACH_REFUSED_4XX : PROBE_REACH_BROKEN;
			if (r->ehlo.code)
				strlist_addf(reasons, "EHLO refused: %d %s", r->ehlo.code, r->ehlo.text);
			else
				strlist_addf(reasons, "EHLO refused: %s", r->error);
		} else {
			*reach = PROBE_REACH_BROKEN;
			strlist_addf(reasons, "session broke at %s: %s",
			             probe_step_label(r->failed_step), r->error);
		}
		return PROBE_FAIL;
	}
	*reach = PROBE_REACH_WORKS;
	v = judge_tls(r, mx_name, o, reasons);
	if (r->tls_ok && !r->ehlo_tls_ok) {
		strlist_addf(reasons, "session broke after the TLS handshake, at %s: %s",
		             probe_step_label(r->failed_step), r->error);
		v = PROBE_WARN;
	}
	if (o->rcpt != NULL && r->rcpt_tried) {
		if (r->mail.code / 100 != 2) {
			strlist_addf(reasons, "MAIL FROM refused, so %s could not be checked: %d %s",
			             o->rcpt, r->mail.code, r->mail.code ? r->mail.text : r->error);
			v = PROBE_WARN;
		} else if (r->rcpt.code == 0) {
			strlist_addf(reasons, "no answer to RCPT TO:<%s>: %s", o->rcpt, r->error);
			v = PROBE_WARN;
		} else if (r->rcpt.code / 100 != 2) {
			strlist_addf(reasons, "recipient %s %s: %d %s", o->rcpt,
			             r->rcpt.code / 100 == 5 ? "refused" : "deferred", r->rcpt.code,
			             r->rcpt.text);
			v = PROBE_WARN;
		}
	} else if (o->rcpt != NULL && r->ehlo_ok) {
		strlist_addf(reasons, "recipient %s not checked: the session ended at %s",
		             o->rcpt, probe_step_label(r->failed_step));
		v = PROBE_WARN;
	}
	return v;
}

enum probe_verdict probe_verdict_domain(enum route_status st, const char *route_reason,
                                        const struct probe_host_tally *hosts, size_t nhosts,
                                        struct strlist *reasons, int *exit_code)
{
	size_t working = 0, probed = 0, sessions = 0, refused5 = 0, timeouts = 0;
	enum probe_verdict v = PROBE_OK;

	*exit_code = EX_OK;
	switch (st) {
	case ROUTE_OK:
		break;
	case ROUTE_INVALID:
		strlist_addf(reasons, "not a domain or address: %s", route_reason);
		*exit_code = EX_DATAERR;
		return PROBE_FAIL;
	case ROUTE_PERMANENT:
		strlist_addf(reasons, "unroutable: %s", route_reason);
		*exit_code = EX_UNAVAILABLE;
		return PROBE_FAIL;
	default:
		strlist_addf(reasons, "DNS failed for now: %s", route_reason);
		*exit_code = EX_TEMPFAIL;
		return PROBE_FAIL;
	}
	for (size_t i = 0; i < nhosts; i++) {
		const struct probe_host_tally *h = &hosts[i];

		if (h->sessions == 0)
			continue;
		probed++;
		sessions += h->sessions;
		refused5 += h->reach[PROBE_REACH_REFUSED_5XX];
		timeouts += h->reach[PROBE_REACH_CONNECT_TIMEOUT];
		if (h->reach[PROBE_REACH_WORKS] > 0)
			working++;
	}
	if (working == 0) {
		if (sessions > 0 && refused5 == sessions) {
			strlist_addf(reasons, "every MX host refuses service with a 5xx reply");
			*exit_code = EX_UNAVAILABLE;
		} else if (sessions > 0 && timeouts == sessions) {
			strlist_addf(reasons, "no MX host reachable: every connection to port 25 timed "
			             "out (port 25 may be blocked from here)");
			*exit_code = EX_TEMPFAIL;
		} else {
			strlist_addf(reasons, "no MX host reachable");
			*exit_code = EX_TEMPFAIL;
		}
		for (size_t i = 0; i < nhosts; i++)
			if (hosts[i].sessions > 0 && hosts[i].first_reason != NULL)
				strlist_addf(reasons, "%s: %s", hosts[i].name, hosts[i].first_reason);
		return PROBE_FAIL;
	}
	if (working < probed) {
		strlist_addf(reasons, "mixed MX set: %zu of %zu hosts work", working, probed);
		v = PROBE_WARN;
	}
	for (size_t i = 0; i < nhosts; i++) {
		const struct probe_host_tally *h = &hosts[i];

		if (h->sessions > 0 && h->worst != PROBE_OK) {
			v = PROBE_WARN;
			if (h->first_reason != NULL &&
			    strlist_addf(reasons, "%s: %s", h->name, h->first_reason) < 0)
				break;
		}
	}
	return v;
}
