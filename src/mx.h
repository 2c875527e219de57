/*
 * mx: the order in which MX hosts are tried. Pure: records in, order out.
 *
 * RFC 5321 5.1: lowest preference first, hosts of equal preference in
 * random order. RFC 7505: a lone "0 ." record is a null MX, the domain
 * accepts no mail.
 */
#ifndef MXSEND_MX_H
#define MXSEND_MX_H

#include <stddef.h>
#include <stdint.h>

#include "dnsmsg.h"

struct rng;

struct mx_record {
	uint16_t pref;                  /* preference, lower first */
	uint32_t ttl;                   /* of the MX record */
	char host[DNSMSG_NAME_MAX];     /* exchange, "" for "." */
};

/* What mx_order found besides the order. */
struct mx_order_info {
	int null_mx;        /* every record was "." : the domain takes no mail */
	int null_mixed;     /* a "." stood beside real hosts; it was dropped */
	int null_nonzero;   /* a null MX with a preference other than 0 */
	size_t duplicates;  /* hosts listed more than once, kept once */
};

/* Orders recs[0..n) in place: drops "." entries and duplicate hosts
 * (keeping the lowest preference), sorts by preference and shuffles each
 * group of equal preference with rng (which may not be NULL). Returns how
 * many records remain at the front of recs. */
size_t mx_order(struct mx_record *recs, size_t n, struct rng *rng, struct mx_order_info *info);

#endif
