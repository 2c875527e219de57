/*
 * Unit tests of the DNS answer parser (dnsmsg.c). Covers SEC-08 (compression
 * loops, ANCOUNT larger than the packet, truncated RDATA, names with escapes,
 * TTLs with the top bit set, a cap on records) and DLV-11 (the null MX
 * exchange comes out as "").
 *
 * Each case is a DNS message written out by hand as bytes (the large ones
 * are built by a function) and either the exact records it must yield or -1.
 * The same table is the seed corpus of the fuzz target tests/fuzz/fuzz_dnsmsg:
 * `test_dnsmsg --write-corpus DIR` writes one file per case into DIR.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnsmsg.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CASE_MSG_MAX 2048 /* room for the largest case (65 MX records) */
#define CASE_RR_MAX 4     /* records checked per case */

/* ---- writing messages by hand ---- */

/* Header with id 0x1234, the given flags, qdcount and ancount. */
#define HDR(flags, qd, an) \
	0x12, 0x34, ((flags) >> 8) & 0xff, (flags) & 0xff, 0, (qd), 0, (an), 0, 0, 0, 0
/* "example.com", which every case puts at offset 12 (0x0c). */
#define EXAMPLE_COM 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0
#define PTR_QNAME 0xc0, 0x0c
/* The question "example.com IN type": 17 octets, so answers start at 29. */
#define QUESTION(type) EXAMPLE_COM, 0, (type), 0, 1
#define TTL(t) (((t) >> 24) & 0xff), (((t) >> 16) & 0xff), (((t) >> 8) & 0xff), ((t) & 0xff)
/* Type, class IN, TTL and rdlength: the 10 octets after an owner name. */
#define RR_HEAD(type, ttl, rdlen) 0, (type), 0, 1, TTL(ttl), ((rdlen) >> 8) & 0xff, (rdlen) & 0xff
#define BYTES(...) .msg = { __VA_ARGS__ }, .len = sizeof((const uint8_t[]){ __VA_ARGS__ })

#define T_A DNSMSG_T_A
#define T_CNAME DNSMSG_T_CNAME
#define T_MX DNSMSG_T_MX
#define T_AAAA DNSMSG_T_AAAA
#define T_TXT 16

/* ---- the case table ---- */

struct want_rr {
	const char *owner;   /* NULL: this slot is not checked */
	uint16_t type;       /* record type */
	uint32_t ttl;        /* after the RFC 2181 section 8 rule */
	uint16_t pref;       /* MX preference */
	const char *target;  /* MX exchange or CNAME target; NULL means "" */
	uint8_t addr[16];    /* A: first 4 octets, AAAA: all 16 */
};

struct dns_case {
	const char *name;                    /* test name and corpus file name */
	uint8_t msg[CASE_MSG_MAX];           /* the message, when build is NULL */
	size_t len;                          /* its length */
	size_t (*build)(uint8_t *buf, size_t cap); /* makes the large messages */
	int rc;                              /* 0 or -1 */
	/* the rest is checked only when rc is 0 */
	int rcode;                           /* response code */
	int tc;                              /* TC flag */
	int ad;                              /* AD flag */
	const char *qname;                   /* NULL means "" (no question) */
	uint16_t qtype;                      /* question type */
	size_t nrr;                          /* records kept */
	int truncated;                       /* more than DNSMSG_MAX_RR came */
	struct want_rr rr[CASE_RR_MAX];      /* the first records, exactly */
	void (*check)(const struct dnsmsg_answer *a, int *bad); /* extra checks */
};

/* ---- builders for the large cases ---- */

struct wire {
	uint8_t *b;  /* output */
	size_t n;    /* octets written */
	size_t cap;  /* size of b */
};

static void put8(struct wire *w, unsigned v)
{
	if (w->n >= w->cap) {
		fprintf(stderr, "test case does not fit in %zu octets\n", w->cap);
		abort();
	}
	w->b[w->n++] = (uint8_t)v;
}

static void put16(struct wire *w, unsigned v)
{
	put8(w, (v >> 8) & 0xff);
	put8(w, v & 0xff);
}

static void put_header(struct wire *w, unsigned flags, unsigned qd, unsigned an)
{
	put16(w, 0x1234);
	put16(w, flags);
	put16(w, qd);
	put16(w, an);
	put16(w, 0);
	put16(w, 0);
}

static void put_label(struct wire *w, char fill, size_t len)
{
	put8(w, (unsigned)len);
	for (size_t i = 0; i < len; i++)
		put8(w, (unsigned char)fill);
}

/* Three labels of 63 and one of 61: 255 octets on the wire with the root,
 * the most RFC 1035 section 2.3.4 allows. */
static void put_name_255(struct wire *w)
{
	put_label(w, 'a', 63);
	put_label(w, 'b', 63);
	put_label(w, 'c', 63);
	put_label(w, 'd', 61);
	put8(w, 0);
}

static size_t build_name_255(uint8_t *buf, size_t cap)
{
	struct wire w = { buf, 0, cap };

	put_header(&w, 0x8180, 1, 0);
	put_name_255(&w);
	put16(&w, T_MX);
	put16(&w, 1);
	return w.n;
}

/* One octet more than the limit: the last label has 62 octets. */
static size_t build_name_256(uint8_t *buf, size_t cap)
{
	struct wire w = { buf, 0, cap };

	put_header(&w, 0x8180, 1, 0);
	put_label(&w, 'a', 63);
	put_label(&w, 'b', 63);
	put_label(&w, 'c', 63);
	put_label(&w, 'd', 62);
	put8(&w, 0);
	put16(&w, T_MX);
	put16(&w, 1);
	return w.n;
}

/* Names whose octets all need escaping: two labels of 63 backslashes are
 * 128 wire octets but 253 characters written out ("\\" each). The parser
 * keeps names within DNSMSG_NAME_MAX characters including the NUL, so
 * such a name can be legal on the wire and still too long to keep: then
 * the whole answer is refused. tail is appended as further labels. */
static size_t build_escaped(uint8_t *buf, size_t cap, const char *const *tail)
{
	struct wire w = { buf, 0, cap };

	put_header(&w, 0x8180, 1, 0);
	put_label(&w, '\\', 63);
	put_label(&w, '\\', 63);
	for (size_t i = 0; tail[i] != NULL; i++) {
		put8(&w, (unsigned)strlen(tail[i]));
		for (const char *p = tail[i]; *p; p++)
			put8(&w, (unsigned char)*p);
	}
	put8(&w, 0);
	put16(&w, T_MX);
	put16(&w, 1);
	return w.n;
}

/* 253 + ".a" = 255 characters: the longest name kept */
static size_t build_escaped_255(uint8_t *buf, size_t cap)
{
	static const char *const tail[] = { "a", NULL };

	return build_escaped(buf, cap, tail);
}

/* 253 + ".ab" = 256 characters: one too many, inside a label */
static size_t build_escaped_256(uint8_t *buf, size_t cap)
{
	static const char *const tail[] = { "ab", NULL };

	return build_escaped(buf, cap, tail);
}

/* 253 + ".a" + ".b": the limit is reached at a dot */
static size_t build_escaped_dot(uint8_t *buf, size_t cap)
{
	static const char *const tail[] = { "a", "b", NULL };

	return build_escaped(buf, cap, tail);
}

/* The question is 255 octets; an owner "x" + pointer to it is 257: the
 * limit applies to the name as assembled across pointers. */
static size_t build_name_long_via_pointer(uint8_t *buf, size_t cap)
{
	struct wire w = { buf, 0, cap };

	put_header(&w, 0x8180, 1, 1);
	put_name_255(&w);
	put16(&w, T_A);
	put16(&w, 1);
	put_label(&w, 'x', 1);
	put16(&w, 0xc00c);
	put16(&w, T_A);
	put16(&w, 1);
	put16(&w, 0);
	put16(&w, 60);
	put16(&w, 4);
	put16(&w, 0xc000);
	put16(&w, 0x0201);
	return w.n;
}

/* A chain of pointers, each to the one before, the first to "example.com"
 * at 12; they sit in the data of a TXT record, and an A record's owner is
 * the last of them, so reading it takes hops jumps. */
static size_t build_pointer_chain(uint8_t *buf, size_t cap, unsigned hops)
{
	struct wire w = { buf, 0, cap };
	static const uint8_t owner[] = { EXAMPLE_COM };
	size_t prev = 12;

	put_header(&w, 0x8180, 0, 2);
	for (size_t i = 0; i < sizeof(owner); i++)
		put8(&w, owner[i]);
	put16(&w, T_TXT);
	put16(&w, 1);
	put16(&w, 0);
	put16(&w, 60);
	put16(&w, 2 * (hops - 1));
	for (unsigned i = 0; i < hops - 1; i++) {
		size_t here = w.n;

		put16(&w, 0xc000 | (unsigned)prev);
		prev = here;
	}
	put16(&w, 0xc000 | (unsigned)prev);
	put16(&w, T_A);
	put16(&w, 1);
	put16(&w, 0);
	put16(&w, 60);
	put16(&w, 4);
	put16(&w, 0xc000);
	put16(&w, 0x0201);
	return w.n;
}

/* DNSMSG_MAX_POINTERS (32) jumps are followed, one more is a loop */
static size_t build_pointer_chain_32(uint8_t *buf, size_t cap)
{
	return build_pointer_chain(buf, cap, 32);
}

static size_t build_pointer_chain_33(uint8_t *buf, size_t cap)
{
	return build_pointer_chain(buf, cap, 33);
}

/* n MX records "example.com MX i mx.example.com", compressed. */
static size_t build_many_mx(uint8_t *buf, size_t cap, unsigned n)
{
	struct wire w = { buf, 0, cap };

	static const uint8_t question[] = { QUESTION(T_MX) };

	put_header(&w, 0x8180, 1, n);
	for (size_t i = 0; i < sizeof(question); i++)
		put8(&w, question[i]);
	for (unsigned i = 0; i < n; i++) {
		put16(&w, 0xc00c);
		put16(&w, T_MX);
		put16(&w, 1);
		put16(&w, 0);
		put16(&w, 3600);
		put16(&w, 2 + 3 + 2);
		put16(&w, i);
		put_label(&w, 'm', 2);
		put16(&w, 0xc00c);
	}
	return w.n;
}

static size_t build_mx_64(uint8_t *buf, size_t cap)
{
	return build_many_mx(buf, cap, DNSMSG_MAX_RR);
}

static size_t build_mx_65(uint8_t *buf, size_t cap)
{
	return build_many_mx(buf, cap, DNSMSG_MAX_RR + 1);
}

/* 65535 records announced, two present. */
static size_t build_ancount_max(uint8_t *buf, size_t cap)
{
	size_t n = build_many_mx(buf, cap, 2);

	buf[6] = 0xff;
	buf[7] = 0xff;
	return n;
}

/* ---- extra checks for the built cases ---- */

static void want_int(int *bad, const char *what, long long want, long long got)
{
	if (want != got) {
		print_error("  %s: want %lld, got %lld\n", what, want, got);
		(*bad)++;
	}
}

static void want_str(int *bad, const char *what, const char *want, const char *got)
{
	if (strcmp(want, got) != 0) {
		print_error("  %s: want \"%s\", got \"%s\"\n", what, want, got);
		(*bad)++;
	}
}

static void check_name_255(const struct dnsmsg_answer *a, int *bad)
{
	char want[DNSMSG_NAME_MAX];

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters */
	snprintf(want, sizeof(want), "%.63s.%.63s.%.63s.%.61s",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	         "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	         "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	want_int(bad, "strlen(qname)", 253, (long long)strlen(a->qname));
	want_str(bad, "qname", want, a->qname);
}

static void check_escaped_255(const struct dnsmsg_answer *a, int *bad)
{
	want_int(bad, "strlen(qname)", 255, (long long)strlen(a->qname));
	want_str(bad, "qname tail", "\\\\.a", a->qname + strlen(a->qname) - 4);
}

static void check_many_mx(const struct dnsmsg_answer *a, int *bad)
{
	for (size_t i = 0; i < a->nrr; i++) {
		char what[48];

		snprintf(what, sizeof(what), "rr[%zu].mx_pref", i);
		want_int(bad, what, (long long)i, a->rr[i].mx_pref);
		snprintf(what, sizeof(what), "rr[%zu].target", i);
		want_str(bad, what, "mm.example.com", a->rr[i].target);
	}
}

static const struct dns_case cases[] = {
	/* ---- well-formed answers ---- */
	{
		.name = "mx_compressed",
		/* answers at 29; the first exchange's label "mx1" sits at 43 */
		BYTES(HDR(0x8180, 1, 3), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 8), 0, 10, 3, 'm', 'x', '1', PTR_QNAME,
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 8), 0, 20, 3, 'm', 'x', '2', PTR_QNAME,
		      PTR_QNAME, RR_HEAD(T_MX, 300, 4), 0, 30, 0xc0, 43),
		.qname = "example.com", .qtype = T_MX, .nrr = 3,
		.rr = {
			{ .owner = "example.com", .type = T_MX, .ttl = 3600, .pref = 10, .target = "mx1.example.com" },
			{ .owner = "example.com", .type = T_MX, .ttl = 3600, .pref = 20, .target = "mx2.example.com" },
			{ .owner = "example.com", .type = T_MX, .ttl = 300, .pref = 30, .target = "mx1.example.com" },
		},
	},
	{
		.name = "null_mx",
		/* DLV-11: "0 ." comes out as preference 0 and exchange "" */
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 3), 0, 0, 0),
		.qname = "example.com", .qtype = T_MX, .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_MX, .ttl = 3600, .pref = 0, .target = "" } },
	},
	{
		.name = "a_record",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_A, 300, 4), 192, 0, 2, 1),
		.qname = "example.com", .qtype = T_A, .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_A, .ttl = 300, .addr = { 192, 0, 2, 1 } } },
	},
	{
		.name = "aaaa_record",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_AAAA),
		      PTR_QNAME, RR_HEAD(T_AAAA, 300, 16),
		      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		.qname = "example.com", .qtype = T_AAAA, .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_AAAA, .ttl = 300,
		          .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } } },
	},
	{
		.name = "cname_chain",
		/* example.com CNAME alias.example.com ("alias" at 41),
		 * alias.example.com CNAME host.alias.example.com ("host" at 61),
		 * host.alias.example.com A 192.0.2.7 */
		BYTES(HDR(0x8180, 1, 3), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_CNAME, 60, 8), 5, 'a', 'l', 'i', 'a', 's', PTR_QNAME,
		      0xc0, 41, RR_HEAD(T_CNAME, 60, 7), 4, 'h', 'o', 's', 't', 0xc0, 41,
		      0xc0, 61, RR_HEAD(T_A, 60, 4), 192, 0, 2, 7),
		.qname = "example.com", .qtype = T_A, .nrr = 3,
		.rr = {
			{ .owner = "example.com", .type = T_CNAME, .ttl = 60, .target = "alias.example.com" },
			{ .owner = "alias.example.com", .type = T_CNAME, .ttl = 60, .target = "host.alias.example.com" },
			{ .owner = "host.alias.example.com", .type = T_A, .ttl = 60, .addr = { 192, 0, 2, 7 } },
		},
	},
	{
		.name = "nxdomain",
		BYTES(HDR(0x8183, 1, 0), QUESTION(T_MX)),
		.rcode = DNSMSG_NXDOMAIN, .qname = "example.com", .qtype = T_MX,
	},
	{
		.name = "servfail",
		BYTES(HDR(0x8182, 1, 0), QUESTION(T_MX)),
		.rcode = DNSMSG_SERVFAIL, .qname = "example.com", .qtype = T_MX,
	},
	{
		.name = "ad_flag",
		BYTES(HDR(0x81a0, 1, 1), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_A, 300, 4), 192, 0, 2, 1),
		.ad = 1, .qname = "example.com", .qtype = T_A, .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_A, .ttl = 300, .addr = { 192, 0, 2, 1 } } },
	},
	{
		.name = "tc_flag",
		BYTES(HDR(0x8380, 1, 0), QUESTION(T_MX)),
		.tc = 1, .qname = "example.com", .qtype = T_MX,
	},
	{
		.name = "header_only",
		BYTES(HDR(0x8180, 0, 0)),
		.qname = "",
	},
	{
		.name = "no_question",
		/* the owner name is written out in full at offset 12 */
		BYTES(HDR(0x8180, 0, 1), EXAMPLE_COM, RR_HEAD(T_A, 300, 4), 192, 0, 2, 9),
		.qname = "", .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_A, .ttl = 300, .addr = { 192, 0, 2, 9 } } },
	},
	{
		.name = "ttl_top_bit",
		/* RFC 2181 section 8: a TTL with the top bit set is zero */
		BYTES(HDR(0x8180, 1, 3), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_A, 0x80000000u, 4), 192, 0, 2, 1,
		      PTR_QNAME, RR_HEAD(T_A, 0xffffffffu, 4), 192, 0, 2, 2,
		      PTR_QNAME, RR_HEAD(T_A, 0x7fffffffu, 4), 192, 0, 2, 3),
		.qname = "example.com", .qtype = T_A, .nrr = 3,
		.rr = {
			{ .owner = "example.com", .type = T_A, .ttl = 0, .addr = { 192, 0, 2, 1 } },
			{ .owner = "example.com", .type = T_A, .ttl = 0, .addr = { 192, 0, 2, 2 } },
			{ .owner = "example.com", .type = T_A, .ttl = 0x7fffffffu, .addr = { 192, 0, 2, 3 } },
		},
	},
	{
		.name = "escaped_octets",
		/* RFC 1035 section 5.1: '.' and '\' get a backslash, other
		 * octets outside 0x21-0x7e become \DDD (space too) */
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 13), 0, 5,
		      8, 'a', '.', 'b', '\\', 0x01, 0xe9, ' ', '~', PTR_QNAME),
		.qname = "example.com", .qtype = T_MX, .nrr = 1,
		.rr = { { .owner = "example.com", .type = T_MX, .ttl = 3600, .pref = 5,
		          .target = "a\\.b\\\\\\001\\233\\032~.example.com" } },
	},
	{
		.name = "escaped_owner",
		/* an owner with a control octet and a DEL, case kept as sent */
		BYTES(HDR(0x8180, 0, 1), 4, 'E', 0x0a, 0x7f, 'x', 0, RR_HEAD(T_A, 1, 4), 192, 0, 2, 1),
		.qname = "", .nrr = 1,
		.rr = { { .owner = "E\\010\\127x", .type = T_A, .ttl = 1, .addr = { 192, 0, 2, 1 } } },
	},
	{
		.name = "other_type_kept",
		/* a TXT record is kept with its type, its data skipped */
		BYTES(HDR(0x8180, 1, 2), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_TXT, 60, 4), 3, 'a', 'b', 'c',
		      PTR_QNAME, RR_HEAD(T_A, 60, 4), 192, 0, 2, 4),
		.qname = "example.com", .qtype = T_A, .nrr = 2,
		.rr = {
			{ .owner = "example.com", .type = T_TXT, .ttl = 60 },
			{ .owner = "example.com", .type = T_A, .ttl = 60, .addr = { 192, 0, 2, 4 } },
		},
	},
	{
		.name = "name_255_octets",
		.build = build_name_255,
		.qtype = T_MX, .check = check_name_255,
	},
	{
		.name = "escaped_255_chars",
		.build = build_escaped_255,
		.qtype = T_MX, .check = check_escaped_255,
	},
	{
		.name = "pointer_chain_32",
		.build = build_pointer_chain_32,
		.qname = "", .nrr = 2,
		.rr = {
			{ .owner = "example.com", .type = T_TXT, .ttl = 60 },
			{ .owner = "example.com", .type = T_A, .ttl = 60, .addr = { 192, 0, 2, 1 } },
		},
	},
	{
		.name = "mx_64_records",
		.build = build_mx_64,
		.qname = "example.com", .qtype = T_MX, .nrr = DNSMSG_MAX_RR, .truncated = 0,
		.check = check_many_mx,
	},
	{
		.name = "mx_65_records",
		/* one more than DNSMSG_MAX_RR: parsed, dropped, flagged */
		.build = build_mx_65,
		.qname = "example.com", .qtype = T_MX, .nrr = DNSMSG_MAX_RR, .truncated = 1,
		.check = check_many_mx,
	},

	/* ---- malformed: each must return -1 ---- */
	{ .name = "empty", .len = 0, .rc = -1 },
	{ .name = "header_11_octets", BYTES(0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0), .rc = -1 },
	{ .name = "query_not_response", BYTES(HDR(0x0100, 1, 0), QUESTION(T_MX)), .rc = -1 },
	{ .name = "qdcount_2", BYTES(HDR(0x8180, 2, 0), QUESTION(T_MX), QUESTION(T_MX)), .rc = -1 },
	/* cut inside each field of the question and of a record */
	{ .name = "question_cut_in_type", BYTES(HDR(0x8180, 1, 0), EXAMPLE_COM, 0), .rc = -1 },
	{ .name = "question_cut_in_class", BYTES(HDR(0x8180, 1, 0), EXAMPLE_COM, 0, T_MX, 0), .rc = -1 },
	{
		.name = "rr_cut_in_type",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, 0),
		.rc = -1,
	},
	{
		.name = "rr_cut_in_class",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, 0, T_A, 0),
		.rc = -1,
	},
	{
		.name = "ancount_past_end",
		BYTES(HDR(0x8180, 1, 2), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 3), 0, 0, 0),
		.rc = -1,
	},
	{ .name = "ancount_65535", .build = build_ancount_max, .rc = -1 },
	{ .name = "pointer_self", BYTES(HDR(0x8180, 1, 0), 0xc0, 0x0c, 0, T_MX, 0, 1), .rc = -1 },
	{
		.name = "pointer_cycle_2",
		BYTES(HDR(0x8180, 1, 0), 0xc0, 0x0e, 0xc0, 0x0c, 0, T_MX, 0, 1),
		.rc = -1,
	},
	{
		.name = "pointer_cycle_after_label",
		/* owner at 29: "abc" then a pointer back to 29 */
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A),
		      3, 'a', 'b', 'c', 0xc0, 29, RR_HEAD(T_A, 60, 4), 192, 0, 2, 1),
		.rc = -1,
	},
	{ .name = "pointer_chain_33", .build = build_pointer_chain_33, .rc = -1 },
	{ .name = "pointer_past_end", BYTES(HDR(0x8180, 1, 0), 0xc0, 0xff, 0, T_MX, 0, 1), .rc = -1 },
	{ .name = "pointer_high_offset", BYTES(HDR(0x8180, 1, 0), 0xff, 0xff, 0, T_MX, 0, 1), .rc = -1 },
	{ .name = "pointer_cut", BYTES(HDR(0x8180, 1, 0), 0xc0), .rc = -1 },
	{ .name = "label_past_end", BYTES(HDR(0x8180, 1, 0), 7, 'e', 'x', 'a'), .rc = -1 },
	{ .name = "name_unterminated", BYTES(HDR(0x8180, 1, 0), 3, 'c', 'o', 'm'), .rc = -1 },
	{ .name = "label_type_01", BYTES(HDR(0x8180, 1, 0), 0x41, 'a', 0, 0, T_MX, 0, 1), .rc = -1 },
	{ .name = "label_type_10", BYTES(HDR(0x8180, 1, 0), 0x81, 'a', 0, 0, T_MX, 0, 1), .rc = -1 },
	{ .name = "name_256_octets", .build = build_name_256, .rc = -1 },
	{ .name = "escaped_256_chars", .build = build_escaped_256, .rc = -1 },
	{ .name = "escaped_limit_at_dot", .build = build_escaped_dot, .rc = -1 },
	{ .name = "name_257_via_pointer", .build = build_name_long_via_pointer, .rc = -1 },
	{
		.name = "rr_cut_in_ttl",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, 0, T_A, 0, 1, 0, 0),
		.rc = -1,
	},
	{
		.name = "rr_cut_in_rdlength",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, 0, T_A, 0, 1, TTL(60), 0),
		.rc = -1,
	},
	{
		.name = "rdlength_past_end",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, RR_HEAD(T_A, 60, 4), 192, 0),
		.rc = -1,
	},
	{
		.name = "rdlength_65535",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_TXT), PTR_QNAME, RR_HEAD(T_TXT, 60, 0xffff), 1, 'x'),
		.rc = -1,
	},
	{
		.name = "mx_name_past_rdata",
		/* rdlength 4 covers the preference and "\3m"; the name goes on */
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 4), 0, 10, 3, 'm', 'x', '1', 0),
		.rc = -1,
	},
	{
		.name = "mx_rdata_trailing",
		/* the name ends one octet before the rdata does */
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 9), 0, 10, 3, 'm', 'x', '1', PTR_QNAME, 0),
		.rc = -1,
	},
	{
		.name = "mx_rdlength_1",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_MX), PTR_QNAME, RR_HEAD(T_MX, 3600, 1), 0, 0),
		.rc = -1,
	},
	{
		.name = "mx_pointer_forward",
		/* the exchange points past its own rdata (to the A record) */
		BYTES(HDR(0x8180, 1, 2), QUESTION(T_MX),
		      PTR_QNAME, RR_HEAD(T_MX, 3600, 4), 0, 10, 0xc0, 45,
		      PTR_QNAME, RR_HEAD(T_A, 60, 4), 192, 0, 2, 1),
		.rc = -1,
	},
	{
		.name = "cname_name_past_rdata",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_CNAME, 60, 3), 5, 'a', 'l', 'i', 'a', 's', 0),
		.rc = -1,
	},
	{
		.name = "cname_rdata_trailing",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A),
		      PTR_QNAME, RR_HEAD(T_CNAME, 60, 9), 5, 'a', 'l', 'i', 'a', 's', PTR_QNAME, 0),
		.rc = -1,
	},
	{
		.name = "a_rdlength_5",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, RR_HEAD(T_A, 60, 5), 192, 0, 2, 1, 0),
		.rc = -1,
	},
	{
		.name = "a_rdlength_3",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_A), PTR_QNAME, RR_HEAD(T_A, 60, 3), 192, 0, 2),
		.rc = -1,
	},
	{
		.name = "aaaa_rdlength_4",
		BYTES(HDR(0x8180, 1, 1), QUESTION(T_AAAA), PTR_QNAME, RR_HEAD(T_AAAA, 60, 4), 192, 0, 2, 1),
		.rc = -1,
	},
};

/* The message of case c in buf; returns its length. */
static size_t case_message(const struct dns_case *c, uint8_t *buf, size_t cap)
{
	if (c->build != NULL)
		return c->build(buf, cap);
	memcpy(buf, c->msg, c->len);
	return c->len;
}

static void check_rr(int *bad, size_t i, const struct want_rr *w, const struct dnsmsg_rr *g)
{
	char what[48];
	size_t alen = w->type == T_A ? 4 : w->type == T_AAAA ? 16 : 0;

	snprintf(what, sizeof(what), "rr[%zu].owner", i);
	want_str(bad, what, w->owner, g->owner);
	snprintf(what, sizeof(what), "rr[%zu].type", i);
	want_int(bad, what, w->type, g->type);
	snprintf(what, sizeof(what), "rr[%zu].class", i);
	want_int(bad, what, 1, g->rrclass);
	snprintf(what, sizeof(what), "rr[%zu].ttl", i);
	want_int(bad, what, w->ttl, g->ttl);
	if (w->type == T_MX) {
		snprintf(what, sizeof(what), "rr[%zu].mx_pref", i);
		want_int(bad, what, w->pref, g->mx_pref);
	}
	snprintf(what, sizeof(what), "rr[%zu].target", i);
	want_str(bad, what, w->target != NULL ? w->target : "", g->target);
	for (size_t k = 0; k < alen; k++) {
		snprintf(what, sizeof(what), "rr[%zu].addr[%zu]", i, k);
		want_int(bad, what, w->addr[k], g->addr[k]);
	}
}

static void test_case(void **state)
{
	const struct dns_case *c = *state;
	static uint8_t buf[CASE_MSG_MAX];
	struct dnsmsg_answer *a = calloc(1, sizeof(*a));
	size_t len = case_message(c, buf, sizeof(buf));
	int bad = 0;
	int rc;

	assert_non_null(a);
	rc = dnsmsg_parse(buf, len, a);
	print_message("%s: %zu octets, rc %d\n", c->name, len, rc);
	want_int(&bad, "return", c->rc, rc);
	if (rc == 0 && c->rc == 0) {
		want_int(&bad, "id", 0x1234, a->id);
		want_int(&bad, "rcode", c->rcode, a->rcode);
		want_int(&bad, "tc", c->tc, a->tc);
		want_int(&bad, "ad", c->ad, a->ad);
		if (c->qname != NULL)
			want_str(&bad, "qname", c->qname, a->qname);
		want_int(&bad, "qtype", c->qtype, a->qtype);
		want_int(&bad, "nrr", (long long)c->nrr, (long long)a->nrr);
		want_int(&bad, "truncated", c->truncated, a->truncated);
		for (size_t i = 0; i < CASE_RR_MAX && i < a->nrr; i++)
			if (c->rr[i].owner != NULL)
				check_rr(&bad, i, &c->rr[i], &a->rr[i]);
		if (c->check != NULL)
			c->check(a, &bad);
	}
	free(a);
	if (bad > 0)
		fail_msg("%s: %d field(s) differ", c->name, bad);
}

/* Every proper prefix of every well-formed case drops something the header
 * announced, so each must return -1; each is parsed from a buffer of
 * exactly that size, so the sanitizer build catches any read past the end
 * (SEC-08 truncated RDATA). */
static void test_every_prefix(void **state)
{
	static uint8_t buf[CASE_MSG_MAX];
	struct dnsmsg_answer *a = calloc(1, sizeof(*a));

	(void)state;
	assert_non_null(a);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct dns_case *c = &cases[i];
		size_t len = case_message(c, buf, sizeof(buf));

		if (c->rc != 0)
			continue;
		for (size_t cut = 0; cut < len; cut++) {
			/* a copy of exactly cut octets, so ASan sees any overread */
			uint8_t *p = malloc(cut > 0 ? cut : 1);
			int rc;

			assert_non_null(p);
			memcpy(p, buf, cut);
			rc = dnsmsg_parse(p, cut, a);
			free(p);
			if (rc != -1)
				fail_msg("%s cut to %zu of %zu octets: want -1, got %d", c->name, cut, len, rc);
		}
	}
	free(a);
}

static void test_rcode_names(void **state)
{
	static const struct {
		int rcode;
		const char *want;
	} t[] = {
		{ DNSMSG_NOERROR, "NOERROR" },   { DNSMSG_FORMERR, "FORMERR" },
		{ DNSMSG_SERVFAIL, "SERVFAIL" }, { DNSMSG_NXDOMAIN, "NXDOMAIN" },
		{ DNSMSG_NOTIMP, "NOTIMP" },     { DNSMSG_REFUSED, "REFUSED" },
		{ 6, "RCODE6" },                 { 15, "RCODE15" },
		{ -1, "RCODE-1" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char what[32];

		snprintf(what, sizeof(what), "rcode %d", t[i].rcode);
		want_str(&bad, what, t[i].want, dnsmsg_rcode_name(t[i].rcode));
	}
	if (bad > 0)
		fail_msg("%d name(s) differ", bad);
}

static void test_type_names(void **state)
{
	static const struct {
		int type;
		const char *want;
	} t[] = {
		{ T_A, "A" },       { T_CNAME, "CNAME" }, { T_MX, "MX" },
		{ T_AAAA, "AAAA" }, { T_TXT, "TYPE16" },  { 52, "TYPE52" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char what[32];

		snprintf(what, sizeof(what), "type %d", t[i].type);
		want_str(&bad, what, t[i].want, dnsmsg_type_name(t[i].type));
	}
	if (bad > 0)
		fail_msg("%d name(s) differ", bad);
}

static void test_name_equal(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
		{ "example.com", "example.com", 1 },
		{ "Example.COM", "example.com", 1 },
		{ "example.com.", "example.com", 1 },
		{ "example.com", "EXAMPLE.COM.", 1 },
		{ "", ".", 1 },
		{ "example.com", "example.org", 0 },
		{ "example.com", "example.co", 0 },
		{ "example.com..", "example.com", 0 }, /* only one dot is dropped */
		{ "\xc3\xa9", "\xc3\x89", 0 },          /* only ASCII folds */
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char what[80];

		snprintf(what, sizeof(what), "name_equal(\"%s\", \"%s\")", t[i].a, t[i].b);
		want_int(&bad, what, t[i].want, dnsmsg_name_equal(t[i].a, t[i].b));
		want_int(&bad, what, t[i].want, dnsmsg_name_equal(t[i].b, t[i].a));
	}
	if (bad > 0)
		fail_msg("%d comparison(s) differ", bad);
}

/* The committed seed corpus holds every case of the table as it stands:
 * a case added or changed without rerunning --write-corpus fails here. */
static void test_corpus_current(void **state)
{
	static uint8_t want[CASE_MSG_MAX], got[CASE_MSG_MAX + 1];
	const char *srcdir = getenv("MXSEND_SRCDIR");
	int bad = 0;

	(void)state;
	if (srcdir == NULL)
		skip(); /* run by hand, outside make check */
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char path[4096];
		size_t len = case_message(&cases[i], want, sizeof(want));
		size_t n = 0;
		FILE *f;

		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/dnsmsg/%s", srcdir, cases[i].name);
		f = fopen(path, "rb");
		if (f != NULL) {
			n = fread(got, 1, sizeof(got), f);
			fclose(f);
		}
		if (f == NULL || n != len || memcmp(got, want, len) != 0) {
			print_error("%s: %s\n", path, f == NULL ? "missing" : "differs from the table");
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%d corpus file(s) out of date: run tests/unit/test_dnsmsg --write-corpus "
		         "tests/fuzz/corpus/dnsmsg", bad);
}

/* Writes each case to dir/<name>: the seed corpus of tests/fuzz/fuzz_dnsmsg. */
static int write_corpus(const char *dir)
{
	static uint8_t buf[CASE_MSG_MAX];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char path[4096];
		size_t len = case_message(&cases[i], buf, sizeof(buf));
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "test_dnsmsg: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct CMUnitTest tests[ARRAY_LEN(cases) + 5];
	size_t n = 0;

	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = test_case,
			.initial_state = (void *)&cases[i],
		};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_every_prefix);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rcode_names);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_type_names);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_name_equal);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_corpus_current);
	return cmocka_run_group_tests_name("dnsmsg", tests, NULL, NULL);
}
