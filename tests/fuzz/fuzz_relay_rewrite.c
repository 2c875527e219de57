/*
 * Fuzz target for the From rules of a provider relay: relay_rewrite_apply
 * with a relay section and a message taken from the input.
 *
 * Input: three lines (each up to '\n'): the first octet of the first
 * picks the relay (bits 0-1: preset qq, none, 163, gmail; bit 2:
 * rewrite_from yes; so "4" is qq with rewrite_from), the second is the
 * relay's user, the third the envelope sender; the rest is the message.
 *
 * Asserts (abort()) what must hold for every input (RELAY-01, SEC-04):
 *   - the result is 0 or -1, and a refusal says why;
 *   - with rewrite_from, a rewritten message is a message: when the input
 *     had CRLF line ends only, so has the output; its one From address is
 *     the account, whatever the original display name held; everything
 *     after the header section is unchanged; the envelope sender is the
 *     account;
 *   - without it, nothing is rewritten, the envelope sender is kept, and
 *     an enforcing preset accepts only a From and sender equal to user;
 *   - nothing is read past the message (ASan: it is copied into a buffer
 *     of exactly its size).
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/relay_rewrite/) in `make check`.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "relay_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copies the line at *p (up to '\n', which is consumed) into out as a
 * string; NUL octets end it early. */
static void take_line(const uint8_t **p, const uint8_t *end, char *out, size_t len)
{
	size_t n = 0;

	while (*p < end && **p != '\n') {
		if (n + 1 < len && **p != '\0')
			out[n++] = (char)**p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	out[n] = '\0';
}

/* 1 when every CR is followed by LF and every LF follows a CR. */
static int crlf_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return 0;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

/* Offset of the empty line that ends the header section, or n. */
static size_t body_at(const char *s, size_t n)
{
	size_t off = 0;

	while (off < n) {
		const char *lf;

		if (off + 1 < n && s[off] == '\r' && s[off + 1] == '\n')
			return off;
		lf = memchr(s + off, '\n', n - off);
		if (lf == NULL)
			return n;
		off = (size_t)(lf - s) + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const presets[] = { "qq", "", "163", "gmail" };
	const uint8_t *p = data, *end = data + size;
	struct conf_relay r;
	char flags[8], mail_from[300], eff[ADDR_PATH_MAX], err[2048], from[ADDR_PATH_MAX];
	char *msg, *out = NULL;
	size_t len, outlen = 0;
	int rc;

	take_line(&p, end, flags, sizeof(flags));
	memset(&r, 0, sizeof(r));
	strcpy(r.name, "fuzz");
	strcpy(r.preset, presets[flags[0] & 3]);
	r.rewrite_from = (flags[0] >> 2) & 1;
	take_line(&p, end, r.user, sizeof(r.user));
	take_line(&p, end, mail_from, sizeof(mail_from));
	/* the message in a buffer of exactly its size */
	len = (size_t)(end - p);
	msg = malloc(len > 0 ? len : 1);
	if (msg == NULL)
		return 0;
	if (len > 0)
		memcpy(msg, p, len);
	err[0] = '\0';
	eff[0] = '\0';
	rc = relay_rewrite_apply(&r, mail_from, msg, len, &out, &outlen, eff, sizeof(eff), err,
	                         sizeof(err));
	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0) {
		if (err[0] == '\0' || out != NULL)
			abort();
		goto done;
	}
	if (r.rewrite_from) {
		struct addr account;
		char why[256];
		size_t tail;

		if (out == NULL || addr_parse_path(r.user, 0, &account, why, sizeof(why)) < 0)
			abort();
		if (strcmp(eff, account.addr) != 0)
			abort();
		if (crlf_only(msg, len) && !crlf_only(out, outlen))
			abort();
		/* the From of the new message is the account, and it is the
		 * only one (relay_rewrite_from_addr reads the first) */
		if (relay_rewrite_from_addr(out, outlen, from, sizeof(from), why, sizeof(why)) != 1)
			abort();
		if (strcasecmp(from, account.addr) != 0)
			abort();
		/* the body is untouched */
		tail = len - body_at(msg, len);
		if (outlen < tail || memcmp(out + outlen - tail, msg + len - tail, tail) != 0)
			abort();
	} else {
		if (out != NULL || outlen != 0)
			abort();
		if (strlen(mail_from) < sizeof(eff) && strcmp(eff, mail_from) != 0)
			abort();
		if (relay_rewrite_enforced(&r)) {
			char why[256];

			if (relay_rewrite_from_addr(msg, len, from, sizeof(from), why, sizeof(why)) != 1)
				abort();
			if (strcasecmp(from, r.user) != 0 || strcasecmp(mail_from, r.user) != 0)
				abort();
		}
	}
done:
	free(out);
	free(msg);
	return 0;
}
