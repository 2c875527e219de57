/*
 * port25: see port25.h.
 *
 * File format, one item per line, at most PORT25_FILE_MAX octets:
 *   mxsend-port25 1
 *   blocked SINCE UNTIL
 *   timeout AT DOMAIN
 */
#include "config.h"

#include "port25.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORT25_FILE_MAX 8192
#define PORT25_MAGIC "mxsend-port25 1"

void port25_default_dir(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		snprintf(out, outlen, "/var/lib/mxsend");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(out, outlen, "%s/mxsend", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(out, outlen, "%s/.local/state/mxsend", home);
	else
		out[0] = '\0';
}

static void forget_old(struct port25 *p, int64_t now)
{
	size_t keep = 0;

	for (size_t i = 0; i < p->nrecent; i++)
		if (p->recent[i].at <= now && now - p->recent[i].at < (int64_t)p->block_time)
			p->recent[keep++] = p->recent[i];
	if (keep != p->nrecent)
		p->dirty = 1;
	p->nrecent = keep;
	if (p->blocked_until != 0 && (p->blocked_until <= now || p->blocked_since > now)) {
		/* Over, or a clock that went back: start afresh. */
		p->blocked_since = p->blocked_until = 0;
		p->dirty = 1;
	}
}

static void parse_line(struct port25 *p, const char *line)
{
	long long a, b;
	char domain[256];

	if (sscanf(line, "blocked %lld %lld", &a, &b) == 2 && a > 0 && b > a) {
		p->blocked_since = a;
		p->blocked_until = b;
	} else if (sscanf(line, "timeout %lld %255s", &a, domain) == 2 && a > 0 &&
	           p->nrecent < PORT25_RECENT_MAX) {
		p->recent[p->nrecent].at = a;
		snprintf(p->recent[p->nrecent].domain, sizeof(p->recent[0].domain), "%s", domain);
		p->nrecent++;
	}
}

void port25_load(struct port25 *p, const char *state_dir, unsigned detect,
                 unsigned block_time, int64_t now)
{
	char dir[1024], buf[PORT25_FILE_MAX + 1];
	ssize_t n;
	int fd;

	memset(p, 0, sizeof(*p));
	p->detect = detect;
	p->block_time = block_time ? block_time : 3600;
	if (state_dir != NULL && state_dir[0] != '\0')
		snprintf(dir, sizeof(dir), "%s", state_dir);
	else
		port25_default_dir(dir, sizeof(dir));
	if (dir[0] == '\0')
		return;
	snprintf(p->path, sizeof(p->path), "%s/port25", dir);
	fd = open(p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, PORT25_FILE_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (strncmp(buf, PORT25_MAGIC "\n", sizeof(PORT25_MAGIC)) != 0) {
		p->dirty = 1; /* not ours, or damaged: rewrite it */
		return;
	}
	for (char *line = buf, *nl; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		parse_line(p, line);
	}
	forget_old(p, now);
}

int port25_blocked(const struct port25 *p, int64_t now)
{
	return p->detect > 0 && p->blocked_until > now && p->blocked_since <= now;
}

int port25_note_timeout(struct port25 *p, const char *domain, int64_t now)
{
	size_t distinct;

	if (p->detect == 0)
		return 0;
	forget_old(p, now);
	for (size_t i = 0; i < p->nrecent; i++)
		if (strcasecmp(p->recent[i].domain, domain) == 0) {
			memmove(&p->recent[i], &p->recent[i + 1],
			        (p->nrecent - i - 1) * sizeof(p->recent[0]));
			p->nrecent--;
			break;
		}
	if (p->nrecent == PORT25_RECENT_MAX) {
		memmove(&p->recent[0], &p->recent[1], (p->nrecent - 1) * sizeof(p->recent[0]));
		p->nrecent--;
	}
	p->recent[p->nrecent].at = now;
	snprintf(p->recent[p->nrecent].domain, sizeof(p->recent[0].domain), "%s", domain);
	p->nrecent++;
	p->dirty = 1;
	distinct = p->nrecent; /* one entry per domain, kept so above */
	if (distinct >= p->detect && !port25_blocked(p, now)) {
		p->blocked_since = now;
		p->blocked_until = now + p->block_time;
		return 1;
	}
	return 0;
}

void port25_note_reached(struct port25 *p)
{
	if (p->nrecent == 0 && p->blocked_until == 0)
		return;
	p->nrecent = 0;
	p->blocked_since = p->blocked_until = 0;
	p->dirty = 1;
}

void port25_domains(const struct port25 *p, char *out, size_t outlen)
{
	size_t used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < p->nrecent && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "",
		                 p->recent[i].domain);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int make_dir(const char *path)
{
	char tmp[1100];

	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* ~/.local/state may not exist yet: one level of parents is enough
	 * for the defaults, two for ~/.local. */
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *slash = tmp + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int port25_save(struct port25 *p, char *err, size_t errlen)
{
	char dir[1100], tmp[1200];
	char *slash;
	FILE *f;
	int fd, rc = -1;

	if (!p->dirty || p->path[0] == '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s", p->path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	if (make_dir(dir) < 0) {
		snprintf(err, errlen, "%s: cannot create the state directory: %s", dir,
		         strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", p->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, PORT25_MAGIC "\n");
	if (p->blocked_until != 0)
		fprintf(f, "blocked %" PRId64 " %" PRId64 "\n", p->blocked_since, p->blocked_until);
	for (size_t i = 0; i < p->nrecent; i++)
		fprintf(f, "timeout %" PRId64 " %s\n", p->recent[i].at, p->recent[i].domain);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		fclose(f);
		goto done;
	}
	if (fclose(f) != 0 || rename(tmp, p->path) != 0) {
		snprintf(err, errlen, "%s: %s", p->path, strerror(errno));
		goto done;
	}
	p->dirty = 0;
	rc = 0;
done:
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void rfc3339(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

json_t *port25_json(const struct port25 *p, int64_t now)
{
	int blocked = port25_blocked(p, now);
	char since[32], until[32];
	json_t *domains = json_array();

	if (domains == NULL)
		return NULL;
	for (size_t i = 0; i < p->nrecent; i++)
		json_array_append_new(domains, json_string(p->recent[i].domain));
	rfc3339(p->blocked_since, since, sizeof(since));
	rfc3339(p->blocked_until, until, sizeof(until));
	return json_pack("{s:b, s:s?, s:s?, s:o, s:b}", "blocked", blocked,
	                 "since", blocked ? since : NULL, "until", blocked ? until : NULL,
	                 "timed_out_domains", domains, "detection", p->detect > 0);
}

void port25_text(const struct port25 *p, int64_t now, char *out, size_t outlen)
{
	char domains[512], until[32];

	if (!port25_blocked(p, now)) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	port25_domains(p, domains, sizeof(domains));
	rfc3339(p->blocked_until, until, sizeof(until));
	snprintf(out, outlen, "note: outbound port 25 is marked blocked from here until %s "
	         "(connections to every MX of %s timed out); `mxsend send` goes by the relay "
	         "at once when fallback includes unreachable", until,
	         domains[0] ? domains : "several domains");
}
