/* mx: MX ordering. See mx.h. */
#include "config.h"

#include "mx.h"

#include <string.h>

#include "rng.h"

static void swap(struct mx_record *a, struct mx_record *b)
{
	struct mx_record t;

	if (a == b)
		return;
	t = *a;
	*a = *b;
	*b = t;
}

/* Insertion sort on preference: stable, and MX sets are small (the DNS
 * layer keeps at most DNSMSG_MAX_RR). */
static void sort_by_pref(struct mx_record *recs, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && recs[j - 1].pref > recs[j].pref; j--)
			swap(&recs[j - 1], &recs[j]);
}

size_t mx_order(struct mx_record *recs, size_t n, struct rng *rng, struct mx_order_info *info)
{
	size_t kept = 0, nulls = 0;

	memset(info, 0, sizeof(*info));
	for (size_t i = 0; i < n; i++) {
		if (recs[i].host[0] == '\0' || strcmp(recs[i].host, ".") == 0) {
			nulls++;
			if (recs[i].pref != 0)
				info->null_nonzero = 1;
			continue;
		}
		/* The same host twice: keep it once, at its lowest preference. */
		size_t j;
		for (j = 0; j < kept; j++)
			if (dnsmsg_name_equal(recs[j].host, recs[i].host))
				break;
		if (j < kept) {
			info->duplicates++;
			if (recs[i].pref < recs[j].pref)
				recs[j].pref = recs[i].pref;
			continue;
		}
		recs[kept++] = recs[i];
	}
	if (nulls > 0 && kept == 0) {
		info->null_mx = 1;
		return 0;
	}
	if (nulls > 0)
		info->null_mixed = 1;
	sort_by_pref(recs, kept);
	/* Fisher-Yates within each run of equal preference (RFC 5321 5.1:
	 * "the sender-SMTP MUST randomize them to spread the load"). */
	for (size_t start = 0; start < kept;) {
		size_t end = start + 1;

		while (end < kept && recs[end].pref == recs[start].pref)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + rng_below(rng, (uint32_t)(i - start + 1));
			swap(&recs[i], &recs[j]);
		}
		start = end;
	}
	return kept;
}
