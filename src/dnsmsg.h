/*
 * dnsmsg: a pure parser for DNS answers (RFC 1035 section 4).
 *
 * c-ares 1.18 parses MX and A replies, but hides the TTL of MX records,
 * the response code and the CNAME chain, all of which `route` reports.
 * This parser reads the header and the answer section into plain records.
 * It has hard limits (DNSMSG_MAX_RR records, names of at most 255 octets)
 * and never reads outside the buffer it is given; it is a fuzz target.
 */
#ifndef MXSEND_DNSMSG_H
#define MXSEND_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define DNSMSG_MAX_RR 64    /* answer records kept; more sets `truncated` */
#define DNSMSG_NAME_MAX 256 /* presentation form, NUL included */

enum dnsmsg_type {
	DNSMSG_T_A = 1,
	DNSMSG_T_CNAME = 5,
	DNSMSG_T_PTR = 12,
	DNSMSG_T_MX = 15,
	DNSMSG_T_AAAA = 28,
};

enum dnsmsg_rcode {
	DNSMSG_NOERROR = 0,
	DNSMSG_FORMERR = 1,
	DNSMSG_SERVFAIL = 2,
	DNSMSG_NXDOMAIN = 3,
	DNSMSG_NOTIMP = 4,
	DNSMSG_REFUSED = 5,
};

/* One answer record, decoded for the types mxsend uses. */
struct dnsmsg_rr {
	char owner[DNSMSG_NAME_MAX]; /* owner name, no trailing dot */
	uint16_t type;               /* enum dnsmsg_type or another type */
	uint16_t rrclass;            /* 1 = IN */
	uint32_t ttl;                /* seconds */
	uint16_t mx_pref;            /* MX: preference */
	char target[DNSMSG_NAME_MAX];/* MX: exchange ("" for "."),
	                                CNAME, PTR: target */
	uint8_t addr[16];            /* A: 4 octets, AAAA: 16 octets */
};

/* A parsed answer; the caller owns it (it is large: allocate it). */
struct dnsmsg_answer {
	uint16_t id;            /* query id */
	int rcode;              /* enum dnsmsg_rcode or another code */
	int tc;                 /* truncated flag from the header */
	int ad;                 /* authentic data flag */
	char qname[DNSMSG_NAME_MAX]; /* the question's name */
	uint16_t qtype;         /* the question's type */
	size_t nrr;             /* records in rr */
	int truncated;          /* 1 when more than DNSMSG_MAX_RR answers came */
	struct dnsmsg_rr rr[DNSMSG_MAX_RR];
};

/* Parses len octets of buf into *out. Returns 0, or -1 when the message is
 * malformed (then *out is partly filled and must not be used). */
int dnsmsg_parse(const uint8_t *buf, size_t len, struct dnsmsg_answer *out);

/* Name of a response code ("NXDOMAIN"), or "RCODE<n>" in a static buffer. */
const char *dnsmsg_rcode_name(int rcode);
/* Name of a record type ("MX"), or "TYPE<n>". */
const char *dnsmsg_type_name(int type);

/* Compares two domain names ignoring ASCII case and one trailing dot. */
int dnsmsg_name_equal(const char *a, const char *b);

#endif
