/* utf8: see utf8.h. */
#include "config.h"

#include "utf8.h"

/* Length of the well-formed sequence at s, or 0. */
static size_t seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		       ? 4 : 0;
	}
	return 0;
}

size_t utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t replaced = 0;

	/* The NUL ends every check above early: s[k] == 0 fails each
	 * continuation test, so nothing is read past the terminator. */
	while (*p != '\0') {
		size_t n = seq_len(p);

		if (n == 0) {
			*p++ = '?';
			replaced++;
		} else {
			p += n;
		}
	}
	return replaced;
}
