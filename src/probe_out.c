/*
 * probe_out: JSON and text renderings of a probed domain. Everything a
 * server sent (greeting, EHLO lines, certificate names) is outside input:
 * the reply parser has already replaced control octets, and text that is
 * not valid UTF-8 is made ASCII here before jansson sees it (jansson
 * refuses invalid UTF-8, and a result must never vanish for that).
 */
#include "config.h"

#include "probe_out.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "route_out.h"

void probe_domain_free(struct probe_domain *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; d->route != NULL && d->addrs != NULL && i < d->route->nhosts; i++) {
		for (size_t j = 0; d->addrs[i] != NULL && j < d->route->hosts[i].naddrs; j++) {
			free(d->addrs[i][j].res);
			strlist_clear(&d->addrs[i][j].reasons);
		}
		free(d->addrs[i]);
	}
	free(d->addrs);
	free(d->tally);
	strlist_clear(&d->reasons);
	route_result_free(d->route);
	free(d);
}

/* A JSON string of s; octets that do not make valid UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j != NULL)
		return j;
	copy = strdup(s);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *strlist_json(const struct strlist *l)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < l->n; i++)
		json_array_append_new(arr, jstr(l->v[i]));
	return arr;
}

static json_t *reply_json(const struct probe_reply *r)
{
	json_t *o;

	if (r->code == 0)
		return json_null();
	o = json_pack("{s:i, s:o, s:i}", "code", r->code, "text", jstr(r->text), "ms", (int)r->ms);
	return o ? o : json_null();
}

static json_t *caps_json(const struct smtp_caps *c)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < c->nlines; i++)
		json_array_append_new(arr, jstr(c->lines[i]));
	return arr ? arr : json_array();
}

static json_t *time_json(time_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	probe_format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *tls_json(const struct probe_result *r, time_t now)
{
	const struct tls_details *t = &r->tls;
	json_t *tls, *cert = json_null(), *chain;

	if (!r->tls_ok)
		return json_null();
	chain = json_array();
	if (t->have_cert) {
		json_t *san = json_array();

		for (size_t i = 0; san != NULL && i < t->nsan; i++)
			json_array_append_new(san, jstr(t->san[i]));
		cert = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:b, s:o}",
		                 "subject", jstr(t->subject),
		                 "san", san ? san : json_array(),
		                 "issuer", jstr(t->issuer),
		                 "not_before", time_json(t->not_before),
		                 "not_after", time_json(t->not_after),
		                 "days_left", (json_int_t)probe_days_left(t->not_after, now),
		                 "self_signed", t->self_signed,
		                 "name_match", t->name_checked ? json_boolean(t->name_match)
		                                               : json_null());
		if (cert == NULL)
			cert = json_null();
	}
	for (size_t i = 0; chain != NULL && i < r->chain_len; i++)
		json_array_append_new(chain, json_pack("{s:o, s:o}", "subject",
		                      jstr(r->chain_subject[i]), "issuer", jstr(r->chain_issuer[i])));
	tls = json_pack("{s:s, s:s, s:s?, s:b, s:o, s:o, s:o, s:i}",
	                "version", t->version,
	                "cipher", t->cipher,
	                "group", t->group[0] ? t->group : NULL,
	                "verified", t->verified,
	                "verify_error", t->verified ? json_null() : jstr(t->verify_error),
	                "cert", cert,
	                "chain", chain ? chain : json_array(),
	                "handshake_ms", (int)r->tls_ms);
	return tls ? tls : json_null();
}

static json_t *ptr_json(const struct probe_ptr *p)
{
	json_t *o;

	if (!p->asked)
		return json_null();
	o = json_pack("{s:o, s:s, s:b}",
	              "name", p->name[0] ? jstr(p->name) : json_null(),
	              "status", dns_status_name((enum dns_status)p->status),
	              "forward_confirmed", p->forward_confirmed);
	return o ? o : json_null();
}

static json_t *rcpt_json(const struct probe_result *r, const char *rcpt)
{
	json_t *o;

	if (rcpt == NULL)
		return NULL;
	o = json_pack("{s:o, s:b, s:o, s:o, s:b}",
	              "address", jstr(rcpt),
	              "checked", r->rcpt_tried && r->rcpt.code != 0,
	              "mail", reply_json(&r->mail),
	              "reply", reply_json(&r->rcpt),
	              "accepted", r->rcpt.code / 100 == 2);
	return o;
}

static json_t *session_json(const struct probe_domain *d, const struct route_addr *a,
                            const struct probe_addr *pa)
{
	const struct probe_result *r = pa->res;
	json_t *o;

	if (r == NULL)
		return json_pack("{s:s, s:i, s:s, s:[s]}", "address", a->text, "port", (int)pa->port,
		                 "verdict", "fail", "reasons", "not probed (out of memory)");
	o = json_pack("{s:s, s:s, s:i, s:b, s:i, s:o, s:o, s:b, s:o, s:o, s:o, s:s?, s:o, s:i,"
	              " s:o, s:s, s:o}",
	              "address", a->text,
	              "family", a->family == AF_INET ? "ipv4" : "ipv6",
	              "port", (int)pa->port,
	              "connected", r->connected,
	              "connect_ms", (int)r->connect_ms,
	              "greeting", reply_json(&r->greeting),
	              "ehlo", caps_json(&r->caps),
	              "starttls", r->starttls_offered,
	              "starttls_reply", reply_json(&r->starttls),
	              "tls", tls_json(r, d->now),
	              "tls_error", r->tls_attempted && !r->tls_ok ? jstr(r->tls_error) : json_null(),
	              "failed_step", r->error[0] ? probe_step_label(r->failed_step) : NULL,
	              /* It may quote a server's bytes: never let them void the
	               * whole session object. */
	              "error", r->error[0] ? jstr(r->error) : json_null(),
	              "total_ms", (int)r->total_ms,
	              "ptr", ptr_json(&pa->ptr),
	              "verdict", probe_verdict_name(pa->verdict),
	              "reasons", strlist_json(&pa->reasons));
	if (o == NULL)
		return json_pack("{s:s, s:s, s:[s]}", "address", a->text, "verdict",
		                 probe_verdict_name(pa->verdict), "reasons",
		                 "(result not shown: invalid text)");
	if (r->tls_ok)
		json_object_set_new(o, "ehlo_before_tls", caps_json(&r->caps_plain));
	if (r->helo_used)
		json_object_set_new(o, "helo", json_true());
	if (d->rcpt != NULL)
		json_object_set_new(o, "rcpt", rcpt_json(r, d->rcpt));
	return o;
}

json_t *probe_out_json(const struct probe_domain *d)
{
	json_t *obj = route_out_json(d->route);
	json_t *mx = obj ? json_object_get(obj, "mx") : NULL;

	if (obj == NULL)
		return NULL;
	for (size_t i = 0; mx != NULL && d->addrs != NULL && i < d->route->nhosts; i++) {
		const struct route_host *h = &d->route->hosts[i];
		json_t *host = json_array_get(mx, i), *sessions = json_array();

		if (host == NULL || sessions == NULL) {
			json_decref(sessions);
			continue;
		}
		for (size_t j = 0; d->addrs[i] != NULL && j < h->naddrs; j++)
			json_array_append_new(sessions, session_json(d, &h->addrs[j], &d->addrs[i][j]));
		json_object_set_new(host, "sessions", sessions);
		if (d->tally != NULL && d->tally[i].sessions > 0)
			json_object_set_new(host, "verdict",
			                    json_string(probe_verdict_name(d->tally[i].worst)));
	}
	json_object_set_new(obj, "verdict", json_string(probe_verdict_name(d->verdict)));
	json_object_set_new(obj, "reasons", strlist_json(&d->reasons));
	json_object_set_new(obj, "probe_ms", json_integer((json_int_t)d->probe_ms));
	return obj;
}

/* ---- text ---- */

static void text_session(FILE *out, const struct probe_domain *d, const struct route_addr *a,
                         const struct probe_addr *pa)
{
	const struct probe_result *r = pa->res;
	const char *ind = "        ";

	fprintf(out, "    %s port %u: %s\n", a->text, pa->port, probe_verdict_name(pa->verdict));
	if (r == NULL)
		return;
	if (r->connected)
		fprintf(out, "%sconnect %u ms", ind, r->connect_ms);
	else
		fprintf(out, "%sno connection (%u ms)", ind, r->connect_ms);
	if (r->greeting.code != 0)
		fprintf(out, ", greeting after %u ms: %.200s", r->greeting.ms, r->greeting.text);
	fputc('\n', out);
	if (r->caps.nlines > 0 || r->helo_used) {
		fprintf(out, "%s%s:", ind, r->helo_used ? "HELO (no extensions)" : "EHLO");
		for (size_t i = 0; i < r->caps.nlines; i++)
			fprintf(out, "%s%s", i ? ", " : " ", r->caps.lines[i]);
		fputc('\n', out);
	}
	if (r->tls_ok) {
		const struct tls_details *t = &r->tls;
		char until[32];

		fprintf(out, "%sTLS: %s %s%s%s, handshake %u ms, certificate %s%s\n", ind, t->version,
		        t->cipher, t->group[0] ? " " : "", t->group, r->tls_ms,
		        t->verified ? "verified" : "NOT verified: ", t->verified ? "" : t->verify_error);
		if (t->have_cert) {
			long left = probe_days_left(t->not_after, d->now);

			probe_format_time(t->not_after, until, sizeof(until));
			fprintf(out, "%scertificate: %s, issuer %s, until %s (%ld day%s)\n", ind,
			        t->subject, t->issuer, until, left, left == 1 || left == -1 ? "" : "s");
			if (t->nsan > 0) {
				fprintf(out, "%snames:", ind);
				for (size_t i = 0; i < t->nsan; i++)
					fprintf(out, "%s%s", i ? ", " : " ", t->san[i]);
				fputc('\n', out);
			}
		}
	} else if (r->starttls_offered && r->tls_attempted) {
		fprintf(out, "%sTLS: handshake failed: %s\n", ind, r->tls_error);
	}
	if (d->rcpt != NULL && r->rcpt_tried)
		fprintf(out, "%sRCPT TO:<%s>: %.200s\n", ind, d->rcpt,
		        r->rcpt.code ? r->rcpt.text : r->mail.code / 100 != 2 ? r->mail.text : "no reply");
	if (pa->ptr.asked)
		fprintf(out, "%sPTR: %s%s\n", ind, pa->ptr.name[0] ? pa->ptr.name : "none",
		        pa->ptr.name[0] ? (pa->ptr.forward_confirmed ? " (forward-confirmed)"
		                                                     : " (NOT forward-confirmed)") : "");
	for (size_t i = 0; i < pa->reasons.n; i++)
		fprintf(out, "%s%s %s\n", ind, pa->verdict == PROBE_FAIL ? "fail:" : "warn:",
		        pa->reasons.v[i]);
}

void probe_out_text(FILE *out, const struct probe_domain *d)
{
	const struct route_result *res = d->route;
	const char *dom = res->target.name[0] ? res->target.name : res->input;

	fprintf(out, "%s: %s\n", dom, probe_verdict_name(d->verdict));
	for (size_t i = 0; i < d->reasons.n; i++)
		fprintf(out, "  - %s\n", d->reasons.v[i]);
	if (res->status != ROUTE_OK) {
		route_out_text(out, res);
		return;
	}
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct route_host *h = &res->hosts[i];

		if (res->implicit_mx || res->target.kind != DOMAIN_NAME)
			fprintf(out, "  %s%s\n", h->name, res->implicit_mx ? "  (implicit MX)" : "");
		else
			fprintf(out, "  %s  preference %u\n", h->name, (unsigned)h->pref);
		for (size_t k = 0; k < h->warnings.n; k++)
			fprintf(out, "    warning: %s\n", h->warnings.v[k]);
		if (h->naddrs == 0)
			fprintf(out, "    no addresses\n");
		for (size_t j = 0; d->addrs != NULL && d->addrs[i] != NULL && j < h->naddrs; j++)
			text_session(out, d, &h->addrs[j], &d->addrs[i][j]);
	}
	fputc('\n', out);
}
