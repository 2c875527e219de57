/*
 * domain: input names and addresses. See domain.h.
 *
 * RFC 5321 4.1.2 and 4.1.3 give the grammar of a domain and of address
 * literals; RFC 1035 2.3.4 the length limits. Internationalised names are
 * turned into A-labels with libidn2 (IDNA 2008, non-transitional), the form
 * that DNS and SMTP without SMTPUTF8 need.
 */
#include "config.h"

#include "domain.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

int domain_is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int domain_check_hostname(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);
	size_t label = 0;
	const char *label_start = name;

	if (len == 0) {
		snprintf(err, errlen, "empty name");
		return -1;
	}
	if (len > DOMAIN_MAX) {
		snprintf(err, errlen, "name is %zu characters long, the limit is %d", len, DOMAIN_MAX);
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label == 0) {
				snprintf(err, errlen, "empty label (two dots in a row, or a leading dot)");
				return -1;
			}
			if (label > DOMAIN_LABEL_MAX) {
				snprintf(err, errlen, "label '%.*s...' is %zu characters long, the limit is %d",
				         20, label_start, label, DOMAIN_LABEL_MAX);
				return -1;
			}
			if (label_start[0] == '-' || name[i - 1] == '-') {
				snprintf(err, errlen, "label '%.*s' starts or ends with a hyphen",
				         (int)label, label_start);
				return -1;
			}
			label = 0;
			label_start = name + i + 1;
			continue;
		}
		if (!(isalnum(c) || c == '-')) {
			if (c < 0x20 || c == 0x7f)
				snprintf(err, errlen, "control character 0x%02x in the name", c);
			else
				snprintf(err, errlen, "character '%c' is not allowed in a host name "
				         "(letters, digits, '-' and '.' only)", c);
			return -1;
		}
		label++;
	}
	return 0;
}

static int parse_literal(const char *lit, size_t len, struct domain_target *out,
                         char *err, size_t errlen)
{
	char inner[64];

	/* lit includes the brackets */
	if (len < 3 || len - 2 >= sizeof(inner)) {
		snprintf(err, errlen, "address literal '%.*s' is malformed", (int)len, lit);
		return -1;
	}
	memcpy(inner, lit + 1, len - 2);
	inner[len - 2] = '\0';
	if (strncasecmp(inner, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, inner + 5, out->addr) != 1) {
			snprintf(err, errlen, "'%s' is not a valid IPv6 address literal", inner + 5);
			return -1;
		}
		out->kind = DOMAIN_LITERAL6;
	} else {
		/* inet_pton accepts exactly dotted-quad decimal, 0-255 each
		 * (RFC 5321 Snum). */
		if (inet_pton(AF_INET, inner, out->addr) != 1) {
			snprintf(err, errlen, "'%s' is not a valid IPv4 address literal "
			         "(IPv6 needs the tag: [IPv6:...])", inner);
			return -1;
		}
		out->kind = DOMAIN_LITERAL4;
	}
	snprintf(out->name, sizeof(out->name), "[%s]", inner);
	return 0;
}

int domain_parse(const char *input, struct domain_target *out, char *err, size_t errlen)
{
	const char *start = input, *end, *at;
	char dom[DOMAIN_INPUT_MAX];
	size_t len;

	memset(out, 0, sizeof(*out));
	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	len = (size_t)(end - start);
	if (len == 0) {
		snprintf(err, errlen, "empty item");
		return -1;
	}
	if (len >= DOMAIN_INPUT_MAX) {
		snprintf(err, errlen, "item is %zu characters long, the limit is %d", len,
		         DOMAIN_INPUT_MAX - 1);
		return -1;
	}
	for (const char *p = start; p < end; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "control character 0x%02x in the item", (unsigned char)*p);
			return -1;
		}
	}
	/* The domain is what follows the last '@' (a quoted local part may
	 * itself hold '@'). */
	at = NULL;
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		if (at == start) {
			snprintf(err, errlen, "address has an empty local part");
			return -1;
		}
		for (const char *p = start; p < at; p++) {
			if (*p == ' ' && start[0] != '"') {
				snprintf(err, errlen, "address has a space in its local part");
				return -1;
			}
		}
		out->is_address = 1;
		start = at + 1;
	}
	len = (size_t)(end - start);
	if (len == 0) {
		snprintf(err, errlen, "address has no domain after '@'");
		return -1;
	}
	memcpy(dom, start, len);
	dom[len] = '\0';
	snprintf(out->unicode, sizeof(out->unicode), "%s", dom);
	if (dom[0] == '[') {
		if (dom[len - 1] != ']') {
			snprintf(err, errlen, "address literal '%s' lacks its closing ']'", dom);
			return -1;
		}
		return parse_literal(dom, len, out, err, errlen);
	}
	/* One trailing dot is the root: 'example.com.' is 'example.com'. */
	if (len > 1 && dom[len - 1] == '.')
		dom[--len] = '\0';
	if (domain_is_ip(dom)) {
		snprintf(err, errlen, "'%s' is an IP address, not a domain (write an address "
		         "literal as [%s%s])", dom, strchr(dom, ':') ? "IPv6:" : "", dom);
		return -1;
	}
	if (!is_ascii(dom)) {
		char *alabel = NULL;
		int rc = idn2_to_ascii_8z(dom, &alabel, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

		if (rc != IDN2_OK) {
			snprintf(err, errlen, "internationalised name '%s' is not valid: %s", dom,
			         idn2_strerror(rc));
			return -1;
		}
		if (strlen(alabel) >= sizeof(dom)) {
			idn2_free(alabel);
			snprintf(err, errlen, "internationalised name is too long");
			return -1;
		}
		snprintf(dom, sizeof(dom), "%s", alabel);
		idn2_free(alabel);
	}
	if (domain_check_hostname(dom, err, errlen) < 0)
		return -1;
	/* domain_check_hostname bounds the length to DOMAIN_MAX. */
	for (size_t i = 0; i <= strlen(dom) && i < sizeof(out->name); i++)
		out->name[i] = (char)tolower((unsigned char)dom[i]);
	out->name[sizeof(out->name) - 1] = '\0';
	out->kind = DOMAIN_NAME;
	return 0;
}
