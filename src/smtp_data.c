/* smtp_data: see smtp_data.h. */
#include "config.h"

#include "smtp_data.h"

#include <string.h>

int smtp_data_stuff(const char *msg, size_t len, struct buf *out, size_t *bad_offset)
{
	size_t line_start = 0;

	*bad_offset = (size_t)-1;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r' && (i + 1 >= len || msg[i + 1] != '\n')) {
			*bad_offset = i;
			return -1;
		}
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) {
			*bad_offset = i;
			return -1;
		}
	}
	while (line_start < len) {
		const char *nl = memchr(msg + line_start, '\n', len - line_start);
		size_t end = nl ? (size_t)(nl - msg) + 1 : len;

		if (msg[line_start] == '.' && buf_append(out, ".", 1) < 0)
			return -1;
		if (buf_append(out, msg + line_start, end - line_start) < 0)
			return -1;
		line_start = end;
	}
	if (len > 0 && msg[len - 1] != '\n' && buf_append(out, "\r\n", 2) < 0)
		return -1;
	return buf_append(out, ".\r\n", 3);
}
