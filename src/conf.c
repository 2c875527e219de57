/* conf: placeholder until the parser lands; defaults only. */
#include "config.h"

#include "conf.h"

#include <stdio.h>
#include <string.h>

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->tls = CONF_TLS_MAY;
	c->fallback = CONF_FALLBACK_UNREACHABLE | CONF_FALLBACK_DEFERRED;
	c->timeout_dns = 10;
	c->timeout_connect = 30;
	c->timeout_greeting = 300;
	c->timeout_ehlo = 300;
	c->timeout_starttls = 300;
	c->timeout_mail = 300;
	c->timeout_rcpt = 300;
	c->timeout_data = 120;
	c->timeout_data_block = 180;
	c->timeout_data_end = 600;
	c->timeout_quit = 300;
}

int conf_parse(const char *name, const char *text, size_t len, struct conf *c,
               char *err, size_t errlen)
{
	(void)text;
	(void)len;
	(void)c;
	snprintf(err, errlen, "%s: configuration files are not supported yet", name);
	return -1;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	conf_defaults(c);
	return conf_parse(path, "", 0, c, err, errlen);
}

const struct conf_relay *conf_relay_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nrelays; i++)
		if (strcmp(c->relays[i].name, name) == 0)
			return &c->relays[i];
	return NULL;
}
