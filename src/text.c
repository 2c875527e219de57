/* text: see text.h. */
#include "config.h"

#include "text.h"

#include <stdarg.h>
#include <stdio.h>

void text_say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
