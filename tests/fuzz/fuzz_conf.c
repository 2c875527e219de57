/*
 * Fuzz target for the configuration parser (conf_parse): any bytes must
 * give either an error in "NAME:LINE: ..." form or a struct that keeps the
 * parser's promises. Built by the fuzz rules (libFuzzer with clang, or the
 * corpus replay main in tests/fuzz/replay.c); corpus in tests/fuzz/corpus/conf.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c; /* about 120 KiB: not on the stack */
	char err[512];

	if (conf_parse("fuzz.conf", (const char *)data, size, &c, err, sizeof(err)) < 0) {
		/* Every message names the file. */
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	if (c.nrelays > CONF_RELAYS_MAX || c.ndns > CONF_DNS_MAX)
		abort();
	if (c.timeout_connect < 1 || c.timeout_connect > 86400 || c.timeout_dns < 1)
		abort();
	if (c.fallback & ~(unsigned)(CONF_FALLBACK_UNREACHABLE | CONF_FALLBACK_DEFERRED |
	                             CONF_FALLBACK_REJECTED))
		abort();
	if (!terminated(c.hostname, sizeof(c.hostname)) || !terminated(c.queue_dir, sizeof(c.queue_dir)))
		abort();
	if (c.relay_default[0] != '\0' && conf_relay_find(&c, c.relay_default) == NULL)
		abort();
	for (size_t i = 0; i < c.nrelays; i++) {
		const struct conf_relay *r = &c.relays[i];
		int sources = (r->password_cmd[0] != '\0') + (r->password_file[0] != '\0') +
		              (r->password_env[0] != '\0');

		/* Presets applied, a port chosen, at most one password source. */
		if (r->host[0] == '\0' || r->port < 1 || r->port > 65535 || sources > 1)
			abort();
		if (!terminated(r->name, sizeof(r->name)) ||
		    !terminated(r->password_cmd, sizeof(r->password_cmd)))
			abort();
		if (conf_relay_find(&c, r->name) != r) /* names are unique */
			abort();
	}
	return 0;
}
