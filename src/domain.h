/*
 * domain: turns what a user typed (a domain, an address, an address
 * literal) into the name mxsend resolves, or into a reason it cannot.
 * Pure: no DNS, no globals.
 */
#ifndef MXSEND_DOMAIN_H
#define MXSEND_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

#define DOMAIN_MAX 253     /* RFC 1035 2.3.4: 255 octets on the wire */
#define DOMAIN_LABEL_MAX 63
#define DOMAIN_INPUT_MAX 1024 /* longer input is refused before parsing */

enum domain_kind {
	DOMAIN_NAME,     /* a host or domain name, in A-label form */
	DOMAIN_LITERAL4, /* [192.0.2.1] */
	DOMAIN_LITERAL6, /* [IPv6:2001:db8::1] */
};

struct domain_target {
	enum domain_kind kind;
	char name[DOMAIN_MAX + 1];     /* ASCII, lower case, no trailing dot;
	                                  for literals the bracketed form */
	char unicode[DOMAIN_INPUT_MAX];/* what the user wrote for the domain */
	int is_address;                /* the input was user@domain */
	uint8_t addr[16];              /* literal address, network order */
};

/* Parses input (surrounding white space ignored). Returns 0, or -1 with a
 * reason of at most errlen octets in err. */
int domain_parse(const char *input, struct domain_target *out, char *err, size_t errlen);

/* Checks that name is a valid host name in LDH form (what an MX exchange
 * must be). Returns 0, or -1 with a reason in err. */
int domain_check_hostname(const char *name, char *err, size_t errlen);

/* 1 when s is a textual IPv4 or IPv6 address. */
int domain_is_ip(const char *s);

#endif
