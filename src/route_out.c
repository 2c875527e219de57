/*
 * route_out: JSON and text renderings of a route result. Every JSON
 * document goes through jansson, never hand-rolled escaping: domain names
 * and DNS data are outside input.
 */
#include "config.h"

#include "route_out.h"

#include <string.h>
#include <sys/socket.h>

#include "dns.h"

static json_t *strlist_json(const struct strlist *l)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < l->n; i++)
		json_array_append_new(arr, json_string(l->v[i]));
	if (arr != NULL && l->dropped)
		json_array_append_new(arr, json_sprintf("(%zu more not shown)", l->dropped));
	return arr;
}

static json_t *lookup_json(const struct route_lookup_outcome *o)
{
	if (!o->asked)
		return json_null();
	return json_pack("{s:s, s:s}", "status", dns_status_name((enum dns_status)o->status),
	                 "reason", o->reason);
}

static json_t *host_json(const struct route_host *h)
{
	json_t *obj, *addrs = json_array(), *details = json_array();

	for (size_t i = 0; addrs != NULL && details != NULL && i < h->naddrs; i++) {
		const struct route_addr *a = &h->addrs[i];

		json_array_append_new(addrs, json_string(a->text));
		json_array_append_new(details, json_pack("{s:s, s:s, s:I}", "address", a->text,
		                      "family", a->family == AF_INET ? "ipv4" : "ipv6",
		                      "ttl", (json_int_t)a->ttl));
	}
	obj = json_pack("{s:s, s:i, s:I, s:o, s:o, s:o, s:b, s:o, s:o}",
	                "host", h->name,
	                "preference", (int)h->pref,
	                "ttl", (json_int_t)h->ttl,
	                "addresses", addrs ? addrs : json_array(),
	                "address_details", details ? details : json_array(),
	                "warnings", strlist_json(&h->warnings),
	                "usable", h->usable,
	                "a_lookup", lookup_json(&h->a),
	                "aaaa_lookup", lookup_json(&h->aaaa));
	if (obj != NULL && h->cname[0] != '\0')
		json_object_set_new(obj, "cname", json_string(h->cname));
	return obj;
}

json_t *route_out_json(const struct route_result *res)
{
	json_t *mx = json_array();
	json_t *obj;
	const char *dom = res->target.name[0] ? res->target.name : res->input;

	for (size_t i = 0; mx != NULL && i < res->nhosts; i++)
		json_array_append_new(mx, host_json(&res->hosts[i]));
	/* Domain names from the user may be arbitrary bytes; jansson refuses
	 * invalid UTF-8, so the input falls back to a lossless-enough form. */
	obj = json_pack("{s:s?, s:s?, s:s, s:s, s:b, s:b, s:o, s:o, s:i, s:i}",
	                "domain", dom,
	                "input", res->input,
	                "status", route_status_name(res->status),
	                "reason", res->reason,
	                "implicit_mx", res->implicit_mx,
	                "null_mx", res->null_mx,
	                "mx", mx ? mx : json_array(),
	                "warnings", strlist_json(&res->warnings),
	                "elapsed_ms", (int)res->elapsed_ms,
	                "queries", (int)res->queries);
	if (obj == NULL) {
		/* Invalid UTF-8 in the input: say so rather than drop the item. */
		obj = json_pack("{s:s, s:s, s:s, s:b, s:b, s:[], s:[]}",
		                "domain", "(not valid UTF-8)", "status", route_status_name(res->status),
		                "reason", "the item is not valid UTF-8", "implicit_mx", 0,
		                "null_mx", 0, "mx", "warnings");
	}
	if (obj != NULL && res->target.is_address)
		json_object_set_new(obj, "is_address", json_true());
	return obj;
}

static void text_warnings(FILE *out, const struct strlist *l, const char *indent)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%swarning: %s\n", indent, l->v[i]);
	if (l->dropped)
		fprintf(out, "%s(%zu more warnings not shown)\n", indent, l->dropped);
}

void route_out_text(FILE *out, const struct route_result *res)
{
	const char *dom = res->target.name[0] ? res->target.name : res->input;

	fprintf(out, "%s: %s: %s\n", dom, route_status_name(res->status), res->reason);
	if (res->target.name[0] && res->target.unicode[0] &&
	    strcmp(res->target.unicode, res->target.name) != 0 && res->target.kind == DOMAIN_NAME)
		fprintf(out, "  (written as %s)\n", res->target.unicode);
	text_warnings(out, &res->warnings, "  ");
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct route_host *h = &res->hosts[i];

		if (res->implicit_mx || res->target.kind != DOMAIN_NAME)
			fprintf(out, "  %zu. %s%s\n", i + 1, h->name,
			        res->implicit_mx ? "  (implicit MX)" : "");
		else
			fprintf(out, "  %zu. %s  preference %u  ttl %u\n", i + 1, h->name,
			        (unsigned)h->pref, (unsigned)h->ttl);
		if (h->cname[0])
			fprintf(out, "       alias for %s\n", h->cname);
		for (size_t j = 0; j < h->naddrs; j++)
			fprintf(out, "       %-39s %-4s ttl %u\n", h->addrs[j].text,
			        h->addrs[j].family == AF_INET ? "A" : "AAAA", (unsigned)h->addrs[j].ttl);
		text_warnings(out, &h->warnings, "       ");
	}
}
