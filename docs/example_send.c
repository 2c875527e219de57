/*
 * example_send: sends one message with libmxsend, as the Go program in
 * DESIGN.md's seed does with gomail: a From with a display name, several
 * To recipients, a subject and an HTML body; then prints what became of
 * each recipient.
 *
 *   cc -o example_send example_send.c $(pkg-config --cflags --libs mxsend)
 *   ./example_send noreply@example.org 2693xxxx8@qq.com 196xxxxx30@qq.com
 *
 * Environment, all optional: MXSEND_DNS ("127.0.0.1:5300": DNS servers
 * instead of /etc/resolv.conf), MXSEND_TLS (none, may, encrypt, verify;
 * default may), MXSEND_CA_FILE (trust anchors for verify).
 *
 * Prints a line per recipient, then the result as JSON. Exits 0 when every
 * recipient got the message, 1 when one did not, 2 when nothing was sent.
 *
 * It uses nothing but <mxsend.h>; `make check` builds it and
 * tests/integration/api.test runs it against a test MX.
 */
#include <mxsend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static const char html[] = "<p>请查收您的新成绩</p>";
	struct mxsend_send_options opts;
	struct mxsend_message *m;
	struct mxsend_result *res = NULL;
	char err[512];
	char *json;
	int rc, exit_code = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s FROM TO...\n", argv[0]);
		return 2;
	}
	m = mxsend_message_new();
	if (m == NULL) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	/* A setter's error sticks to the message and mxsend_send reports it,
	 * so one check covers every call; each also returns its own code. */
	mxsend_message_set_from(m, argv[1], "自动化成绩查询");
	for (int i = 2; i < argc; i++)
		mxsend_message_add_to(m, argv[i]);
	mxsend_message_set_subject(m, "Hi 出成绩了");
	mxsend_message_set_html(m, html, strlen(html));

	memset(&opts, 0, sizeof(opts)); /* zero: the defaults */
	opts.dns_servers = getenv("MXSEND_DNS");
	opts.tls = getenv("MXSEND_TLS");
	opts.ca_file = getenv("MXSEND_CA_FILE");
	opts.timeout_ms = 30000; /* no SMTP step may take longer */

	rc = mxsend_send(&opts, m, &res, err, sizeof(err));
	mxsend_message_free(m);
	if (rc != MXSEND_OK) {
		fprintf(stderr, "not sent (error %d): %s\n", rc, err);
		return 2;
	}
	for (size_t i = 0; i < mxsend_result_count(res); i++) {
		const char *tls = mxsend_result_tls_version(res, i);

		printf("%s: %s %d %s via %s, %s%s%s, %llu ms: %s\n", mxsend_result_address(res, i),
		       mxsend_status_name(mxsend_result_status(res, i)), mxsend_result_code(res, i),
		       mxsend_result_dsn(res, i), mxsend_result_relay(res, i),
		       tls != NULL ? tls : "without TLS", tls != NULL ? " " : "",
		       tls != NULL ? mxsend_result_tls_cipher(res, i) : "",
		       mxsend_result_delay_ms(res, i), mxsend_result_reply(res, i));
		if (mxsend_result_status(res, i) != MXSEND_SENT)
			exit_code = 1;
	}
	json = mxsend_result_json(res);
	if (json != NULL) {
		printf("%s\n", json);
		mxsend_free(json);
	}
	mxsend_result_free(res);
	return exit_code;
}
