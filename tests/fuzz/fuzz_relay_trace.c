/*
 * Fuzz target for relay.c's protocol-trace follower (relay_trace.h): the
 * commands libcurl sends and the reply lines it reads, from the input,
 * through the same debug callback that pairs each RCPT with its reply,
 * then the end-of-transfer classification.
 *
 * Input: octet 0 (bits 0-1: recipients - 1; bit 2: a `relay check`
 * instead of a send; bit 3: a transcript callback; bits 4-7: how the
 * transfer ended, a CURLcode from a short list), octet 1 (the preset),
 * then lines: '>' and a command, '<' and a reply line, anything else a
 * note; each event's data is its line without the direction octet, line
 * end included, as libcurl passes it.
 *
 * Asserts (abort()) what must hold for every input (CURL-03, CURL-06,
 * RELAY-02, RELAY-03, SEC-06):
 *   - every recipient ends SENT, BOUNCED or DEFERRED, never PENDING, with
 *     an enhanced code of its class (2, 5 or 4) and a code that agrees
 *     (SENT only with a 2xx);
 *   - strings written from replies stay inside their buffers;
 *   - a transcript line of an AUTH command shows the mechanism at most,
 *     then "<redacted>";
 *   - nothing is read past an event's data (each is a copy of exactly its
 *     size).
 *
 * Built with clang -fsanitize=fuzzer, or linked with the replay main
 * that runs the corpus (tests/fuzz/corpus/relay_trace/) in `make check`.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "relay.h"
#include "relay_trace.h"
#include "smtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EVENTS_MAX 4096

static void on_trace(void *arg, const char *peer, char dir, const char *line, size_t len)
{
	(void)arg;
	if (peer == NULL || strlen(peer) >= 320)
		abort();
	if (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		abort();
	if (dir == '>' && len >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		const char *sp = memchr(line + 5, ' ', len - 5);

		if (sp != NULL && ((size_t)(line + len - sp) != 11 || memcmp(sp, " <redacted>", 11)))
			abort();
	}
}

static void check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int results[16] = {
		CURLE_OK, CURLE_OK, CURLE_OK, CURLE_OK, CURLE_LOGIN_DENIED,
		CURLE_PEER_FAILED_VERIFICATION, CURLE_USE_SSL_FAILED, CURLE_OPERATION_TIMEDOUT,
		CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_WEIRD_SERVER_REPLY, CURLE_SSL_CONNECT_ERROR,
		CURLE_COULDNT_CONNECT, CURLE_GOT_NOTHING, CURLE_SSL_CACERT_BADFILE,
		CURLE_ABORTED_BY_CALLBACK,
	};
	static const char *const presets[] = { "qq", "", "163", "gmail", "exmail" };
	static const char *const addrs[4] = { "a@example.net", "b@example.net", "c@example.org",
	                                      "d@example.org" };
	struct relay_trace_event *ev;
	struct relay_outcome out;
	struct relay_opts o;
	struct conf_relay cr;
	struct smtp_rcpt rc[4], *rp[4];
	struct relay_job job;
	struct relay_check *check = NULL;
	size_t nev = 0, off = 2, nrcpts;
	int as_check, res;

	if (size < 2)
		return 0;
	nrcpts = (size_t)(data[0] & 3) + 1;
	as_check = (data[0] >> 2) & 1;
	res = results[data[0] >> 4];
	memset(&cr, 0, sizeof(cr));
	strcpy(cr.name, "fuzz");
	strcpy(cr.preset, presets[data[1] % 5]);
	strcpy(cr.host, "smtp.example.com");
	cr.port = 465;
	strcpy(cr.user, "me@example.com");
	memset(&o, 0, sizeof(o));
	o.conf = &cr;
	o.password = "not-the-secret";
	o.trace = (data[0] & 8) ? on_trace : NULL;

	ev = calloc(EVENTS_MAX, sizeof(*ev));
	if (ev == NULL)
		return 0;
	while (off < size && nev < EVENTS_MAX) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : size;

		ev[nev].dir = (char)data[off];
		if (data[off] == '>' || data[off] == '<') {
			ev[nev].data = (const char *)data + off + 1;
			ev[nev].len = end - off - 1;
		} else {
			ev[nev].data = (const char *)data + off;
			ev[nev].len = end - off;
		}
		nev++;
		off = end;
	}

	memset(rc, 0, sizeof(rc));
	for (size_t i = 0; i < 4; i++) {
		rc[i].address = addrs[i];
		rp[i] = &rc[i];
	}
	memset(&job, 0, sizeof(job));
	job.mail_from = "me@example.com";
	job.data = "Subject: x\r\n\r\nx\r\n";
	job.len = strlen(job.data);
	job.rcpts = rp;
	job.nrcpts = nrcpts;
	if (as_check) {
		check = calloc(1, sizeof(*check));
		if (check == NULL)
			goto done;
	}
	if (relay_trace_replay(&o, as_check ? NULL : &job, check, ev, nev, res, &out) != 0)
		goto done;
	check_str(out.reason, sizeof(out.reason));
	check_str(out.peer, sizeof(out.peer));
	if (as_check) {
		check_str(check->greeting, sizeof(check->greeting));
		check_str(check->auth_reply, sizeof(check->auth_reply));
		check_str(check->hint, sizeof(check->hint));
		if (check->ncaps > 64)
			abort();
		for (size_t i = 0; i < check->ncaps; i++)
			check_str(check->caps[i], sizeof(check->caps[i]));
		goto done;
	}
	for (size_t i = 0; i < nrcpts; i++) {
		const struct smtp_rcpt *r = &rc[i];

		check_str(r->dsn, sizeof(r->dsn));
		check_str(r->reply, sizeof(r->reply));
		switch (r->status) {
		case SMTP_RCPT_SENT:
			if (r->dsn[0] != '2' || r->code / 100 != 2)
				abort();
			break;
		case SMTP_RCPT_BOUNCED:
			if (r->dsn[0] != '5' || r->code / 100 != 5)
				abort();
			break;
		case SMTP_RCPT_DEFERRED:
			if (r->dsn[0] != '4')
				abort();
			break;
		default:
			abort();
		}
	}
done:
	free(check);
	free(ev);
	return 0;
}
