/*
 * Fuzz target for the message layer: msg_parse, msg_prepare (-t),
 * msg_encode_7bit and msg_render on arbitrary input, then composing a
 * message from the parsed Subject and From values.
 *
 * Asserts (abort()) what must hold for every input:
 *   - whatever renders has CRLF line ends only, no line over 998 octets,
 *     and ends with CRLF (DLV-23, DLV-25, SEC-04);
 *   - msg_info's size is the rendered size;
 *   - a rendered message parses again and renders to the same bytes;
 *   - after msg_prepare no Bcc field is left.
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/msg/) in `make check`.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hdr.h"
#include "msg.h"
#include "msg_compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_wire(const char *s, size_t n)
{
	size_t col = 0;

	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		abort();
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 == n || s[i + 1] != '\n')
				abort();
			continue;
		}
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r')
				abort();
			col = 0;
			continue;
		}
		if (++col > 998)
			abort();
	}
}

/* Renders m (when it renders), checks the bytes, and checks that they
 * parse back to the same rendering. */
static void render_check(const struct msg *m)
{
	char err[512], *out = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	struct msg *back = NULL;
	struct msg_info info;

	if (msg_render(m, &out, &n, err, sizeof(err)) != 0)
		return;
	check_wire(out, n);
	msg_info(m, &info);
	if (info.size != n)
		abort();
	if (msg_parse(out, n, NULL, &back, err, sizeof(err)) != 0)
		abort();
	if (msg_render(back, &again, &n2, err, sizeof(err)) != 0)
		abort();
	if (n2 != n || memcmp(again, out, n) != 0)
		abort();
	free(again);
	msg_free(back);
	free(out);
}

/* Composes a message with the parsed Subject and From as inputs. */
static void compose_from(const struct msg *m, const struct msg_stamp *st)
{
	long si = hdr_list_find(&m->hdrs, "Subject", 0);
	long fi = hdr_list_find(&m->hdrs, "From", 0);
	char *subject = NULL, *from = NULL, err[512];
	struct msg *c = NULL;
	struct addr_list rcpts = { NULL, 0, 0 };
	const char *to[] = { "to@example.com" };
	struct msg_attachment at = { NULL, m->body, m->body_len, NULL };
	struct msg_compose_opts o;

	if (si >= 0)
		subject = hdr_unfold(m->hdrs.v[si].value, m->hdrs.v[si].value_len);
	if (fi >= 0)
		from = hdr_unfold(m->hdrs.v[fi].value, m->hdrs.v[fi].value_len);
	memset(&o, 0, sizeof(o));
	o.from = from != NULL ? from : "a@example.com";
	o.from_name = subject;
	o.to = to;
	o.nto = 1;
	o.subject = subject;
	o.text = m->body;
	o.text_len = m->body_len;
	o.html = subject;
	o.html_len = subject != NULL ? strlen(subject) : 0;
	at.name = subject != NULL && subject[0] != '\0' ? subject : "x.bin";
	o.attach = &at;
	o.nattach = 1;
	o.stamp = st;
	if (msg_compose(&o, &c, &rcpts, err, sizeof(err)) == 0) {
		struct msg_info info;

		msg_info(c, &info);
		/* composed messages never need 8BITMIME */
		if (info.body_8bit)
			abort();
		render_check(c);
	}
	msg_free(c);
	addr_list_free(&rcpts);
	free(subject);
	free(from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_limits lim = { 1u << 20, 200, 64u << 10, 0 };
	struct msg_stamp st;
	struct msg *m = NULL;
	struct addr_list rcpts = { NULL, 0, 0 };
	struct addr sender;
	char err[512];

	/* the first octet picks the bare-CR policy */
	if (size > 0 && (data[0] & 1))
		lim.bare_cr_to_crlf = 1;
	memset(&st, 0, sizeof(st));
	st.time = 1700000000;
	st.tz_offset_min = 480;
	st.hostname = "fuzz.example";
	for (int i = 0; i < MSG_RANDOM_LEN; i++)
		st.random[i] = (uint8_t)(i * 37);
	if (msg_parse(data, size, &lim, &m, err, sizeof(err)) != 0)
		return 0;
	render_check(m);
	compose_from(m, &st);
	if (addr_parse_path("sender@example.org", 0, &sender, err, sizeof(err)) != 0)
		abort();
	if (msg_prepare(m, &st, &sender, &rcpts, err, sizeof(err)) == 0) {
		if (hdr_list_find(&m->hdrs, "Bcc", 0) >= 0)
			abort();
		render_check(m);
	}
	if (msg_encode_7bit(m, err, sizeof(err)) == 0) {
		struct msg_info info;

		msg_info(m, &info);
		if (info.body_8bit)
			abort();
		render_check(m);
	}
	addr_list_free(&rcpts);
	msg_free(m);
	return 0;
}
