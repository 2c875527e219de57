/*
 * dnsmsg: DNS answer parser. See dnsmsg.h.
 *
 * Names are decoded here rather than with ares_expand_name so that the
 * parser stays pure and bounded: at most 255 octets of name, at most
 * DNSMSG_MAX_POINTERS compression pointers per name (a loop of pointers
 * would otherwise never end), every offset checked against the buffer.
 * Label octets outside printable ASCII, '.' and '\\' are written in the
 * RFC 1035 section 5.1 escaped form, so a hostile name cannot smuggle
 * control characters into a log line.
 */
#include "config.h"

#include "dnsmsg.h"

#include <stdio.h>
#include <string.h>

#define DNSMSG_HEADER_LEN 12
#define DNSMSG_MAX_POINTERS 32

struct reader {
	const uint8_t *buf; /* the whole message (pointers are absolute) */
	size_t len;         /* its length */
	size_t pos;         /* next octet to read */
};

static int read_u16(struct reader *r, uint16_t *v)
{
	if (r->len - r->pos < 2)
		return -1;
	*v = (uint16_t)((r->buf[r->pos] << 8) | r->buf[r->pos + 1]);
	r->pos += 2;
	return 0;
}

static int read_u32(struct reader *r, uint32_t *v)
{
	if (r->len - r->pos < 4)
		return -1;
	*v = ((uint32_t)r->buf[r->pos] << 24) | ((uint32_t)r->buf[r->pos + 1] << 16) |
	     ((uint32_t)r->buf[r->pos + 2] << 8) | r->buf[r->pos + 3];
	r->pos += 4;
	return 0;
}

/* Appends one label octet in presentation form; -1 when out of room. */
static int put_label_octet(char *out, size_t *o, uint8_t c)
{
	char tmp[5];
	size_t n;

	if (c == '.' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		n = 2;
	} else if (c <= 0x20 || c >= 0x7f) {
		snprintf(tmp, sizeof(tmp), "\\%03u", c);
		n = 4;
	} else {
		tmp[0] = (char)c;
		n = 1;
	}
	if (*o + n >= DNSMSG_NAME_MAX)
		return -1;
	memcpy(out + *o, tmp, n);
	*o += n;
	return 0;
}

/* Reads a possibly compressed name at r->pos into out (presentation form,
 * no trailing dot, "" for the root). Advances r->pos past the name as it
 * stands in the record, not past the pointer targets. */
static int read_name(struct reader *r, char *out)
{
	size_t pos = r->pos;
	size_t o = 0;
	size_t wire_len = 0; /* octets of the name in wire form, max 255 */
	int jumps = 0;
	int jumped = 0;

	for (;;) {
		uint8_t c;

		if (pos >= r->len)
			return -1;
		c = r->buf[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= r->len || ++jumps > DNSMSG_MAX_POINTERS)
				return -1;
			target = ((size_t)(c & 0x3f) << 8) | r->buf[pos + 1];
			if (!jumped)
				r->pos = pos + 2;
			jumped = 1;
			if (target >= r->len)
				return -1;
			pos = target;
			continue;
		}
		if ((c & 0xc0) != 0)
			return -1; /* extended label types are not used in answers */
		pos++;
		wire_len += (size_t)c + 1;
		if (wire_len > 255)
			return -1;
		if (c == 0)
			break;
		if (pos + c > r->len)
			return -1;
		if (o > 0) {
			if (o + 1 >= DNSMSG_NAME_MAX)
				return -1;
			out[o++] = '.';
		}
		for (size_t i = 0; i < c; i++)
			if (put_label_octet(out, &o, r->buf[pos + i]) < 0)
				return -1;
		pos += c;
	}
	out[o] = '\0';
	if (!jumped)
		r->pos = pos;
	return 0;
}

static int parse_rdata(struct reader *r, struct dnsmsg_rr *rr, uint16_t rdlen)
{
	size_t end = r->pos + rdlen;
	struct reader sub = *r;

	if (rdlen > r->len - r->pos)
		return -1;
	rr->target[0] = '\0';
	switch (rr->type) {
	case DNSMSG_T_A:
		if (rdlen != 4)
			return -1;
		memcpy(rr->addr, r->buf + r->pos, 4);
		break;
	case DNSMSG_T_AAAA:
		if (rdlen != 16)
			return -1;
		memcpy(rr->addr, r->buf + r->pos, 16);
		break;
	case DNSMSG_T_MX:
		/* The name may be compressed, so it is read against the whole
		 * message, but it must end inside this record's data. */
		sub.len = end;
		if (read_u16(&sub, &rr->mx_pref) < 0 || read_name(&sub, rr->target) < 0)
			return -1;
		if (sub.pos != end)
			return -1;
		break;
	case DNSMSG_T_CNAME:
	case DNSMSG_T_PTR: /* RFC 1035 3.3.12: one domain name */
		sub.len = end;
		if (read_name(&sub, rr->target) < 0 || sub.pos != end)
			return -1;
		break;
	default:
		break; /* kept with its type, data ignored */
	}
	r->pos = end;
	return 0;
}

int dnsmsg_parse(const uint8_t *buf, size_t len, struct dnsmsg_answer *out)
{
	struct reader r = { buf, len, 0 };
	uint16_t id, flags, qd, an, ns, ar;

	memset(out, 0, offsetof(struct dnsmsg_answer, rr));
	if (len < DNSMSG_HEADER_LEN)
		return -1;
	if (read_u16(&r, &id) < 0 || read_u16(&r, &flags) < 0 || read_u16(&r, &qd) < 0 ||
	    read_u16(&r, &an) < 0 || read_u16(&r, &ns) < 0 || read_u16(&r, &ar) < 0)
		return -1;
	(void)ns;
	(void)ar;
	if (!(flags & 0x8000))
		return -1; /* a query, not a response */
	out->id = id;
	out->rcode = flags & 0x000f;
	out->tc = (flags & 0x0200) != 0;
	out->ad = (flags & 0x0020) != 0;
	if (qd > 1)
		return -1; /* no server sends more than one question */
	if (qd == 1) {
		uint16_t qclass;

		if (read_name(&r, out->qname) < 0 || read_u16(&r, &out->qtype) < 0 ||
		    read_u16(&r, &qclass) < 0)
			return -1;
	}
	for (uint16_t i = 0; i < an; i++) {
		struct dnsmsg_rr scratch;
		struct dnsmsg_rr *rr = out->nrr < DNSMSG_MAX_RR ? &out->rr[out->nrr] : &scratch;
		uint16_t rdlen;

		if (read_name(&r, rr->owner) < 0 || read_u16(&r, &rr->type) < 0 ||
		    read_u16(&r, &rr->rrclass) < 0 || read_u32(&r, &rr->ttl) < 0 ||
		    read_u16(&r, &rdlen) < 0 || parse_rdata(&r, rr, rdlen) < 0)
			return -1;
		/* RFC 2181 section 8: a TTL with the top bit set means zero. */
		if (rr->ttl > 0x7fffffffu)
			rr->ttl = 0;
		if (rr == &scratch)
			out->truncated = 1;
		else
			out->nrr++;
	}
	return 0;
}

const char *dnsmsg_rcode_name(int rcode)
{
	static const char *const names[] = {
		[DNSMSG_NOERROR] = "NOERROR",   [DNSMSG_FORMERR] = "FORMERR",
		[DNSMSG_SERVFAIL] = "SERVFAIL", [DNSMSG_NXDOMAIN] = "NXDOMAIN",
		[DNSMSG_NOTIMP] = "NOTIMP",     [DNSMSG_REFUSED] = "REFUSED",
	};
	static char other[16];

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(other, sizeof(other), "RCODE%d", rcode);
	return other;
}

const char *dnsmsg_type_name(int type)
{
	static char other[16];

	switch (type) {
	case DNSMSG_T_A: return "A";
	case DNSMSG_T_CNAME: return "CNAME";
	case DNSMSG_T_MX: return "MX";
	case DNSMSG_T_PTR: return "PTR";
	case DNSMSG_T_AAAA: return "AAAA";
	default:
		snprintf(other, sizeof(other), "TYPE%d", type);
		return other;
	}
}

int dnsmsg_name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	if (la != lb)
		return 0;
	for (size_t i = 0; i < la; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}
