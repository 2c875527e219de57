/*
 * queue_spool: the local spool backend of queue.h (layout, file formats,
 * locking and the duplicate window are described there).
 *
 * Owns: the spool directory and its files; the durable write of a new
 * message (temporary file, fsync, rename without replacing, fsync of the
 * directory: only then is the message accepted); the journal appends; the
 * per-message flock; parsing both files with hard limits; moving a file
 * that does not parse to quarantine/.
 *
 * Must not: deliver, read the clock (callers pass "now"), print (reasons
 * go up in err, quarantines through the on_quarantine callback), or trust
 * anything in a spool file: a corrupt or hostile file is refused whole and
 * moved aside, never half-used.
 */
#include "config.h"

#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define SPOOL_MAGIC "mxsend-queue 1"
/* A message file is its header (bounded by the recipients) and its data. */
#define SPOOL_FILE_MAX ((size_t)QUEUE_LINE_MAX * (QUEUE_RCPTS_MAX * 2 + 16) + QUEUE_DATA_MAX)
#define SPOOL_ADDR_MAX 511 /* octets of an address, as struct deliver_rcpt holds it */
#define SPOOL_LIST_MAX 1000000 /* messages one scan looks at */

struct spool {
	struct queue base;     /* first: a struct queue * is a struct spool * */
	char dir[1024];        /* the spool directory */
	int dirfd;             /* the spool directory */
	int msgfd;             /* msg/ */
	int tmpfd;             /* tmp/ */
	int qfd;               /* quarantine/ */
	int dir_dirty;         /* msg/ changed (journal made, message removed
	                          lazily) since its last fsync */
};

/* A claimed entry's descriptors. */
struct spool_priv {
	int fd;                /* msg/ID, holding the flock */
	int jfd;               /* msg/ID.j, O_APPEND, -1 until first needed */
	int dirty;             /* records written since the last fdatasync */
	int jnew;              /* the journal was created: fsync msg/ too */
};

/* ---------------------------------------------------------------- CRC-32 */

uint32_t queue_crc32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= s[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* ---------------------------------------------------------------- records */

/* Copies src into dst (size len) with every control octet, which could
 * end or forge a record, replaced by '?'. Empty becomes "-" when dash. */
static void clean_copy(char *dst, size_t len, const char *src, int dash)
{
	size_t j = 0;

	for (size_t i = 0; src[i] != '\0' && j + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[j++] = (c < 0x20 || c == 0x7f || (dash && c == ' ')) ? '?' : (char)c;
	}
	dst[j] = '\0';
	if (dash && j == 0 && len > 1)
		snprintf(dst, len, "-");
}

static size_t seal(const char *rec, char *out, size_t len)
{
	int n = snprintf(out, len, "%08" PRIx32 " %s\n", queue_crc32(rec, strlen(rec)), rec);

	if (n < 0 || (size_t)n >= len || (size_t)n > QUEUE_LINE_MAX)
		return 0;
	return (size_t)n;
}

static int rcpt_record(const struct queue_rcpt *r, size_t i, char *rec, size_t len)
{
	char dsn[sizeof(r->dsn)], relay[sizeof(r->relay)], reply[sizeof(r->reply)];
	int n;

	clean_copy(dsn, sizeof(dsn), r->dsn, 1);
	clean_copy(relay, sizeof(relay), r->relay, 1);
	clean_copy(reply, sizeof(reply), r->reply, 0);
	n = snprintf(rec, len, "R %zu %s %d %" PRId64 " %d %s %s %s", i,
	             queue_rcpt_state_name(r->state), r->notified ? 1 : 0, r->last_attempt,
	             r->code, dsn, relay, reply);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int sched_record(const struct queue_sched_state *s, char *rec, size_t len)
{
	int n = snprintf(rec, len, "S %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %u %d",
	                 s->arrival, s->last_seen, s->next_attempt, s->age, s->attempts,
	                 s->warned ? 1 : 0);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

size_t queue_spool_format_rcpt(const struct queue_entry *e, size_t i, char *out, size_t len)
{
	char rec[QUEUE_LINE_MAX];

	if (i >= e->nrcpts || rcpt_record(&e->rcpts[i], i, rec, sizeof(rec)) < 0)
		return 0;
	return seal(rec, out, len);
}

size_t queue_spool_format_sched(const struct queue_sched_state *s, char *out, size_t len)
{
	char rec[QUEUE_LINE_MAX];

	if (sched_record(s, rec, sizeof(rec)) < 0)
		return 0;
	return seal(rec, out, len);
}

/* A cursor over one record's words. */
struct words {
	const char *p;         /* next octet */
	const char *end;
};

/* The next space-separated word into out (NUL-terminated); -1 when there
 * is none or it does not fit. */
static int word(struct words *w, char *out, size_t len)
{
	size_t n = 0;

	if (w->p >= w->end || *w->p == ' ')
		return -1;
	while (w->p < w->end && *w->p != ' ') {
		if (n + 1 >= len)
			return -1;
		out[n++] = *w->p++;
	}
	out[n] = '\0';
	if (w->p < w->end)
		w->p++; /* the one space */
	return 0;
}

/* A decimal whole number in [min, max]. */
static int num(struct words *w, int64_t min, int64_t max, int64_t *out)
{
	char t[24];
	char *end;
	long long v;

	if (word(w, t, sizeof(t)) < 0 || !((t[0] >= '0' && t[0] <= '9') || t[0] == '-'))
		return -1;
	errno = 0;
	v = strtoll(t, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Applies one record (no checksum, no newline) to e. */
static int apply_record(struct queue_entry *e, const char *rec, size_t len, char *err,
                        size_t errlen)
{
	struct words w = { rec, rec + len };
	char kind[4], state[16], dsn[sizeof(e->rcpts[0].dsn)], relay[sizeof(e->rcpts[0].relay)];
	int64_t idx, notified, last, code, v[6];

	if (!text_ok(rec, len) || word(&w, kind, sizeof(kind)) < 0)
		goto bad;
	if (strcmp(kind, "S") == 0) {
		if (num(&w, 0, INT64_MAX, &v[0]) < 0 || num(&w, 0, INT64_MAX, &v[1]) < 0 ||
		    num(&w, 0, INT64_MAX, &v[2]) < 0 || num(&w, 0, INT64_MAX, &v[3]) < 0 ||
		    num(&w, 0, UINT_MAX, &v[4]) < 0 || num(&w, 0, 1, &v[5]) < 0 || w.p != w.end)
			goto bad;
		e->sched.arrival = v[0];
		e->sched.last_seen = v[1];
		e->sched.next_attempt = v[2];
		e->sched.age = (uint64_t)v[3];
		e->sched.attempts = (unsigned)v[4];
		e->sched.warned = (int)v[5];
		return 0;
	}
	if (strcmp(kind, "R") == 0) {
		struct queue_rcpt *r;
		size_t rlen;

		if (num(&w, 0, (int64_t)e->nrcpts - 1, &idx) < 0 ||
		    word(&w, state, sizeof(state)) < 0 || num(&w, 0, 1, &notified) < 0 ||
		    num(&w, 0, INT64_MAX, &last) < 0 || num(&w, 0, 999, &code) < 0 ||
		    word(&w, dsn, sizeof(dsn)) < 0 || word(&w, relay, sizeof(relay)) < 0)
			goto bad;
		rlen = (size_t)(w.end - w.p);
		if (rlen >= sizeof(r->reply))
			goto bad;
		r = &e->rcpts[idx];
		if (strcmp(state, "pending") == 0)
			r->state = QUEUE_RCPT_PENDING;
		else if (strcmp(state, "sent") == 0)
			r->state = QUEUE_RCPT_SENT;
		else if (strcmp(state, "failed") == 0)
			r->state = QUEUE_RCPT_FAILED;
		else
			goto bad;
		r->notified = (int)notified;
		r->last_attempt = last;
		r->code = (int)code;
		snprintf(r->dsn, sizeof(r->dsn), "%s", strcmp(dsn, "-") == 0 ? "" : dsn);
		snprintf(r->relay, sizeof(r->relay), "%s", strcmp(relay, "-") == 0 ? "" : relay);
		memcpy(r->reply, w.p, rlen);
		r->reply[rlen] = '\0';
		return 0;
	}
bad:
	snprintf(err, errlen, "bad record '%.*s'", (int)(len > 60 ? 60 : len), rec);
	return -1;
}

int queue_spool_apply_journal(struct queue_entry *e, const char *buf, size_t len,
                              size_t *good_len, char *err, size_t errlen)
{
	size_t off = 0;

	*good_len = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n;
		char hex[9];
		char *end;
		unsigned long crc;
		int last;

		if (nl == NULL)
			return 0; /* torn: the write of the last record did not finish */
		n = (size_t)(nl - line);
		last = (size_t)(nl - buf) + 1 == len;
		if (n < 10 || n >= QUEUE_LINE_MAX || line[8] != ' ')
			goto bad;
		memcpy(hex, line, 8);
		hex[8] = '\0';
		crc = strtoul(hex, &end, 16);
		if (*end != '\0' || crc != queue_crc32(line + 9, n - 9))
			goto bad;
		if (apply_record(e, line + 9, n - 9, err, errlen) < 0)
			return -1;
		off += n + 1;
		*good_len = off;
		continue;
bad:
		if (last)
			return 0; /* a torn last record: cut off by the caller */
		snprintf(err, errlen, "journal record at octet %zu is damaged", off);
		return -1;
	}
	return 0;
}

int queue_spool_parse(const char *buf, size_t len, int with_data, struct queue_entry *e,
                      char *err, size_t errlen)
{
	size_t off = 0, cap = 0;
	int have_id = 0, have_arrival = 0, have_sched = 0, first = 1;

	memset(e, 0, sizeof(*e));
	for (;;) {
		const char *line = buf + off;
		const char *nl = off < len ? memchr(line, '\n', len - off) : NULL;
		const char *val;
		size_t n, vlen;
		int64_t v;

		if (nl == NULL || (size_t)(nl - line) >= QUEUE_LINE_MAX) {
			snprintf(err, errlen, "the header ends early or has a line that is too long");
			return -1;
		}
		n = (size_t)(nl - line);
		off += n + 1;
		if (first) {
			if (n != strlen(SPOOL_MAGIC) || memcmp(line, SPOOL_MAGIC, n) != 0) {
				snprintf(err, errlen, "not a queue file (no '%s' line)", SPOOL_MAGIC);
				return -1;
			}
			first = 0;
			continue;
		}
		val = memchr(line, ' ', n);
		if (val == NULL) {
			/* line is not NUL-terminated at its end: bounded by n */
			snprintf(err, errlen, "bad header line '%.*s'", (int)(n > 40 ? 40 : n), line);
			return -1;
		}
		val++;
		vlen = (size_t)(line + n - val);
		if (!text_ok(val, vlen)) {
			snprintf(err, errlen, "control characters in a header line");
			return -1;
		}
#define KEY(k) ((size_t)(val - 1 - line) == strlen(k) && memcmp(line, k, strlen(k)) == 0)
		if (KEY("id")) {
			if (have_id || vlen >= QUEUE_ID_MAX)
				goto bad;
			memcpy(e->id, val, vlen);
			e->id[vlen] = '\0';
			if (!queue_id_valid(e->id))
				goto bad;
			have_id = 1;
		} else if (KEY("arrival")) {
			struct words w = { val, val + vlen };

			if (have_arrival || num(&w, 0, INT64_MAX, &v) < 0 || w.p != w.end)
				goto bad;
			e->arrival = v;
			have_arrival = 1;
		} else if (KEY("sender")) {
			if (e->sender != NULL || vlen > SPOOL_ADDR_MAX)
				goto bad;
			e->sender = strndup(val, vlen);
			if (e->sender == NULL)
				goto nomem;
		} else if (KEY("rcpt")) {
			if (vlen == 0 || vlen > SPOOL_ADDR_MAX || e->nrcpts >= QUEUE_RCPTS_MAX ||
			    have_sched)
				goto bad;
			if (e->nrcpts == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				struct queue_rcpt *nr = realloc(e->rcpts, ncap * sizeof(*nr));

				if (nr == NULL)
					goto nomem;
				e->rcpts = nr;
				cap = ncap;
			}
			memset(&e->rcpts[e->nrcpts], 0, sizeof(e->rcpts[0]));
			e->rcpts[e->nrcpts].address = strndup(val, vlen);
			if (e->rcpts[e->nrcpts].address == NULL)
				goto nomem;
			e->nrcpts++;
		} else if (KEY("R") || KEY("S")) {
			if (!have_arrival)
				goto bad;
			if (!have_sched) {
				queue_sched_init(&e->sched, e->arrival);
				have_sched = 1;
			}
			if (apply_record(e, line, n, err, errlen) < 0)
				return -1;
		} else if (KEY("data")) {
			struct words w = { val, val + vlen };

			if (num(&w, 0, QUEUE_DATA_MAX, &v) < 0 || w.p != w.end)
				goto bad;
			if (!have_id || !have_arrival || e->sender == NULL || e->nrcpts == 0) {
				snprintf(err, errlen, "the header lacks id, arrival, sender or rcpt");
				return -1;
			}
			if ((size_t)v != len - off) {
				snprintf(err, errlen, "the data is %zu octets, the header says %" PRId64,
				         len - off, v);
				return -1;
			}
			e->size = (size_t)v;
			if (with_data) {
				e->data = malloc(e->size + 1);
				if (e->data == NULL)
					goto nomem;
				memcpy(e->data, buf + off, e->size);
				e->data[e->size] = '\0';
			}
			if (!have_sched)
				queue_sched_init(&e->sched, e->arrival);
			return 0;
		} else {
			goto bad;
		}
#undef KEY
	}
bad:
	{
		/* Name the line that failed (off is just past it). */
		size_t s = off - 1;

		while (s > 0 && buf[s - 1] != '\n')
			s--;
		snprintf(err, errlen, "bad header line '%.*s'", (int)(off - 1 - s > 60 ? 60 : off - 1 - s),
		         buf + s);
	}
	return -1;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---------------------------------------------------------------- file helpers */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads the whole of fd (at most max octets) into a malloc'd buffer. */
static int read_all(int fd, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat sb;
	char *b;
	size_t n = 0;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return -1;
	}
	if ((uint64_t)sb.st_size > max) {
		snprintf(err, errlen, "larger than %zu octets", max);
		return -1;
	}
	b = malloc((size_t)sb.st_size + 1);
	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t r = pread(fd, b + n, (size_t)sb.st_size - n, (off_t)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "read: %s", r < 0 ? strerror(errno) : "file shrank");
			free(b);
			return -1;
		}
		n += (size_t)r;
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
}

static int open_subdir(int dirfd, const char *name, char *err, size_t errlen)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s: %s", name, strerror(errno));
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s: %s", name, strerror(errno));
	return fd;
}

/* mkdir -p with mode 0700 for what is made. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
	char p[1024];

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
		snprintf(err, errlen, "queue_dir is too long");
		return -1;
	}
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				snprintf(err, errlen, "cannot make %s: %s", p, strerror(errno));
				return -1;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int queue_spool_default_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return snprintf(out, len, "/var/spool/mxsend") < (int)len ? 0 : -1;
	if (xdg != NULL && xdg[0] == '/')
		return snprintf(out, len, "%s/mxsend/queue", xdg) < (int)len ? 0 : -1;
	if (home != NULL && home[0] == '/')
		return snprintf(out, len, "%s/.local/state/mxsend/queue", home) < (int)len ? 0 : -1;
	return -1;
}

static void quarantine(struct spool *sp, const char *name, const char *reason)
{
	char jname[QUEUE_ID_MAX + 2];

	snprintf(jname, sizeof(jname), "%s.j", name);
	/* The message first: once it is gone from msg/ no runner sees it. */
	(void)renameat(sp->msgfd, name, sp->qfd, name);
	(void)renameat(sp->msgfd, jname, sp->qfd, jname);
	(void)fsync(sp->msgfd);
	if (sp->base.on_quarantine != NULL)
		sp->base.on_quarantine(sp->base.arg, name, reason);
}

/* ---------------------------------------------------------------- operations */

static void new_id(char id[QUEUE_ID_MAX])
{
	uint8_t b[7];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);

		memcpy(b, &t, sizeof(b));
	}
	snprintf(id, QUEUE_ID_MAX, "%02X%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2], b[3], b[4],
	         b[5], b[6]);
}

static int spool_enqueue(struct queue *q, const struct queue_new *m, char id[QUEUE_ID_MAX],
                         enum queue_fail *fail, char *err, size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	struct buf h = { 0 };
	char line[QUEUE_LINE_MAX];
	int fd = -1, rc = -1, tries;

	*fail = QUEUE_FAIL_IO;
	if (m->nrcpts == 0 || m->nrcpts > QUEUE_RCPTS_MAX || m->data_len > QUEUE_DATA_MAX ||
	    strlen(m->sender) > SPOOL_ADDR_MAX || !text_ok(m->sender, strlen(m->sender))) {
		*fail = QUEUE_FAIL_SETUP;
		snprintf(err, errlen, "the message cannot be queued (no recipient, too many, or "
		         "too large)");
		return -1;
	}
	if (!queue_id_valid(id))
		new_id(id);
	for (tries = 0; tries < 8; tries++) {
		fd = openat(sp->tmpfd, id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
		new_id(id);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file in %s/tmp: %s", sp->dir, strerror(errno));
		goto done;
	}
	buf_printf(&h, "%s\nid %s\narrival %" PRId64 "\nsender %s\n", SPOOL_MAGIC, id, m->arrival,
	           m->sender);
	for (size_t i = 0; i < m->nrcpts; i++) {
		size_t al = strlen(m->rcpts[i]);

		if (al == 0 || al > SPOOL_ADDR_MAX || !text_ok(m->rcpts[i], al)) {
			*fail = QUEUE_FAIL_SETUP;
			snprintf(err, errlen, "recipient '%.60s' cannot be queued", m->rcpts[i]);
			goto done;
		}
		buf_printf(&h, "rcpt %s\n", m->rcpts[i]);
	}
	if (m->sched != NULL) {
		if (sched_record(m->sched, line, sizeof(line)) == 0)
			buf_printf(&h, "%s\n", line);
	}
	for (size_t i = 0; m->results != NULL && i < m->nrcpts; i++)
		if (rcpt_record(&m->results[i], i, line, sizeof(line)) == 0)
			buf_printf(&h, "%s\n", line);
	buf_printf(&h, "data %zu\n", m->data_len);
	if (h.data == NULL) {
		*fail = QUEUE_FAIL_NOMEM;
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* Durable before visible: the data is on disk before the name in
	 * msg/ exists, and the name is on disk before anyone is told. */
	if (write_all(fd, buf_head(&h), buf_avail(&h)) < 0 ||
	    write_all(fd, m->data, m->data_len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write the message to %s/tmp: %s", sp->dir,
		         strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write the message to %s/tmp: %s", sp->dir,
		         strerror(errno));
		goto done;
	}
	fd = -1;
	if (renameat2(sp->tmpfd, id, sp->msgfd, id, RENAME_NOREPLACE) < 0) {
		snprintf(err, errlen, "cannot move the message into %s/msg: %s", sp->dir,
		         strerror(errno));
		goto done;
	}
	if (fsync(sp->msgfd) < 0) {
		int e = errno;

		/* Not known to be durable: take it back rather than claim it. */
		(void)unlinkat(sp->msgfd, id, 0);
		snprintf(err, errlen, "cannot sync %s/msg: %s", sp->dir, strerror(e));
		goto done;
	}
	*fail = QUEUE_FAIL_NONE;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		(void)unlinkat(sp->tmpfd, id, 0);
	buf_free(&h);
	return rc;
}

/* Reads msg/name (open as fd) and its journal into e. jfd_out, when not
 * NULL, gets the journal opened for appending (-1 when there is none);
 * then a torn tail is cut off. Returns 0, -1 with a reason (the files
 * are damaged), or -2 when the message is gone. */
static int load_files(struct spool *sp, int fd, const char *name, int with_data,
                      struct queue_entry *e, int *jfd_out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len, good;
	char jname[QUEUE_ID_MAX + 2];
	int jfd = -1, rc = -1;
	struct stat sb;

	if (jfd_out != NULL)
		*jfd_out = -1;
	if (fstat(fd, &sb) == 0 && sb.st_nlink == 0)
		return -2; /* finished or deleted since the directory was read */
	if (read_all(fd, SPOOL_FILE_MAX, &buf, &len, err, errlen) < 0)
		goto done;
	if (queue_spool_parse(buf, len, with_data, e, err, errlen) < 0)
		goto done;
	if (strcmp(e->id, name) != 0) {
		snprintf(err, errlen, "the file says id %s", e->id);
		goto done;
	}
	free(buf);
	buf = NULL;
	snprintf(jname, sizeof(jname), "%s.j", name);
	jfd = openat(sp->msgfd, jname, (jfd_out ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC |
	             O_NOFOLLOW);
	if (jfd < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "journal: %s", strerror(errno));
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (read_all(jfd, QUEUE_JOURNAL_MAX, &buf, &len, err, errlen) < 0)
		goto done;
	if (queue_spool_apply_journal(e, buf, len, &good, err, errlen) < 0)
		goto done;
	if (good < len && jfd_out != NULL && ftruncate(jfd, (off_t)good) < 0) {
		snprintf(err, errlen, "journal: cannot cut a torn record: %s", strerror(errno));
		goto done;
	}
	rc = 0;
done:
	free(buf);
	if (rc == 0 && jfd_out != NULL)
		*jfd_out = jfd;
	else if (jfd >= 0)
		close(jfd);
	return rc;
}

/* The names in msg/ that are message files. */
static int scan(struct spool *sp, char ***names, size_t *n, char *err, size_t errlen)
{
	int fd = dup(sp->msgfd);
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot read %s/msg: %s", sp->dir, strerror(errno));
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL && *n < SPOOL_LIST_MAX) {
		size_t l = strlen(de->d_name);

		if (l > 2 && strcmp(de->d_name + l - 2, ".j") == 0) {
			char base[QUEUE_ID_MAX + 2];

			/* A journal left by a crash between the two unlinks of
			 * finish: its message is gone. */
			snprintf(base, sizeof(base), "%.*s", (int)(l - 2), de->d_name);
			if (faccessat(sp->msgfd, base, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
				(void)unlinkat(sp->msgfd, de->d_name, 0);
			continue;
		}
		if (!queue_id_valid(de->d_name)) {
			if (de->d_name[0] != '.')
				quarantine(sp, de->d_name, "not a queue file name");
			continue;
		}
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nv = realloc(*names, ncap * sizeof(*nv));

			if (nv == NULL)
				break;
			*names = nv;
			cap = ncap;
		}
		if (((*names)[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int push_entry(struct queue_entry **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct queue_entry *nv = realloc(*v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return 0;
}

static int spool_claim(struct queue *q, const struct queue_sched_conf *sc, int64_t now, int all,
                       size_t max, const char *only_id, struct queue_entry **out, size_t *n,
                       char *err, size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	char **names;
	size_t nnames, cap = 0;

	*out = NULL;
	*n = 0;
	if (scan(sp, &names, &nnames, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < nnames && (max == 0 || *n < max); i++) {
		struct queue_entry *e;
		struct spool_priv *pv;
		char why[256];
		int fd, jfd, r;

		if (only_id != NULL && strcmp(only_id, names[i]) != 0)
			continue;
		fd = openat(sp->msgfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			break; /* out of descriptors: the rest waits for the next pass */
		if (fd < 0)
			continue; /* gone since the scan */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd); /* another runner has it */
			continue;
		}
		if (push_entry(out, n, &cap) < 0 || (pv = malloc(sizeof(*pv))) == NULL) {
			close(fd);
			break;
		}
		e = &(*out)[*n];
		r = load_files(sp, fd, names[i], 1, e, &jfd, why, sizeof(why));
		if (r < 0 || (!all && !queue_sched_due(sc, &e->sched, now))) {
			if (r == -1)
				quarantine(sp, names[i], why);
			queue_entry_clear(q, e);
			free(pv);
			close(fd);
			continue;
		}
		pv->fd = fd;
		pv->jfd = jfd;
		pv->dirty = 0;
		pv->jnew = 0;
		e->priv = pv;
		e->locked = 1;
		(*n)++;
	}
	free_names(names, nnames);
	return 0;
}

static int spool_record_line(struct spool *sp, struct queue_entry *e, const char *line,
                             size_t len, char *err, size_t errlen)
{
	struct spool_priv *pv = e->priv;

	if (pv == NULL || len == 0) {
		snprintf(err, errlen, "not claimed, or a record too long");
		return -1;
	}
	if (pv->jfd < 0) {
		char jname[QUEUE_ID_MAX + 2];

		snprintf(jname, sizeof(jname), "%s.j", e->id);
		pv->jfd = openat(sp->msgfd, jname, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		                 O_NOFOLLOW, 0600);
		if (pv->jfd < 0) {
			snprintf(err, errlen, "cannot create the journal of %s: %s", e->id,
			         strerror(errno));
			return -1;
		}
		pv->jnew = 1;
	}
	/* One write(2) per record: a crash leaves it whole or torn at the
	 * end, which the next load cuts off. */
	if (write_all(pv->jfd, line, len) < 0) {
		snprintf(err, errlen, "cannot write the journal of %s: %s", e->id, strerror(errno));
		return -1;
	}
	pv->dirty = 1;
	return 0;
}

static int spool_record_rcpt(struct queue *q, struct queue_entry *e, size_t i, char *err,
                             size_t errlen)
{
	char line[QUEUE_LINE_MAX + 1];

	return spool_record_line((struct spool *)q, e, line,
	                         queue_spool_format_rcpt(e, i, line, sizeof(line)), err, errlen);
}

static int spool_record_sched(struct queue *q, struct queue_entry *e, char *err, size_t errlen)
{
	char line[QUEUE_LINE_MAX + 1];

	return spool_record_line((struct spool *)q, e, line,
	                         queue_spool_format_sched(&e->sched, line, sizeof(line)), err,
	                         errlen);
}

/* fdatasync of e's journal when it was written to; a journal just made
 * marks msg/ for the directory fsync that follows. */
static int sync_journal(struct spool *sp, struct queue_entry *e, char *err, size_t errlen)
{
	struct spool_priv *pv = e->priv;

	if (pv == NULL || !pv->dirty)
		return 0;
	if (fdatasync(pv->jfd) < 0) {
		snprintf(err, errlen, "cannot sync the journal of %s: %s", e->id, strerror(errno));
		return -1;
	}
	if (pv->jnew)
		sp->dir_dirty = 1;
	pv->dirty = 0;
	pv->jnew = 0;
	return 0;
}

static int sync_dir(struct spool *sp, char *err, size_t errlen)
{
	if (!sp->dir_dirty)
		return 0;
	if (fsync(sp->msgfd) < 0) {
		snprintf(err, errlen, "cannot sync %s/msg: %s", sp->dir, strerror(errno));
		return -1; /* still dirty: the next sync tries again */
	}
	sp->dir_dirty = 0;
	return 0;
}

static int spool_sync(struct queue *q, struct queue_entry *e, char *err, size_t errlen)
{
	struct spool *sp = (struct spool *)q;

	if (sync_journal(sp, e, err, errlen) < 0)
		return -1;
	return sync_dir(sp, err, errlen);
}

static int spool_sync_batch(struct queue *q, struct queue_entry *const *v, size_t n, char *err,
                            size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	char why[sizeof(sp->dir) + 256]; /* a reason after the first */
	int rc = 0;

	/* Every journal first, then the directory once for all of them and
	 * for the removals: its fsync is what a lone message pays twice. */
	for (size_t i = 0; i < n; i++) {
		if (sync_journal(sp, v[i], why, sizeof(why)) < 0) {
			if (rc == 0)
				snprintf(err, errlen, "%s", why);
			rc = -1;
		}
	}
	if (sync_dir(sp, why, sizeof(why)) < 0) {
		if (rc == 0)
			snprintf(err, errlen, "%s", why);
		rc = -1;
	}
	return rc;
}

/* Removes e's message, then its journal, in that order: a crash in
 * between leaves an orphan journal that the next scan removes, never a
 * message without its journal (which would be sent again). With sync
 * the message's removal is made durable before the journal goes; without
 * it (spool_finish_lazy, once per loop turn for many messages) should
 * only the journal's removal reach the disk before a power loss, the
 * message comes back without it and is sent again: the duplicate window
 * of queue.h, never a loss. */
static int remove_files(struct spool *sp, const struct queue_entry *e, int sync, char *err,
                        size_t errlen)
{
	char jname[QUEUE_ID_MAX + 2];

	if (unlinkat(sp->msgfd, e->id, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", e->id, strerror(errno));
		return -1;
	}
	if (sync)
		(void)fsync(sp->msgfd);
	snprintf(jname, sizeof(jname), "%s.j", e->id);
	(void)unlinkat(sp->msgfd, jname, 0);
	return 0;
}

static int spool_finish(struct queue *q, struct queue_entry *e, char *err, size_t errlen)
{
	return remove_files((struct spool *)q, e, 1, err, errlen);
}

static void release_fds(struct queue_entry *e);

static int spool_finish_lazy(struct queue *q, struct queue_entry *e, char *err, size_t errlen)
{
	struct spool *sp = (struct spool *)q;

	if (remove_files(sp, e, 0, err, errlen) < 0)
		return -1;
	sp->dir_dirty = 1;
	release_fds(e); /* nothing to sync: the files are gone */
	return 0;
}

/* Closes e's descriptors, which drops its lock. */
static void release_fds(struct queue_entry *e)
{
	struct spool_priv *pv = e->priv;

	if (pv != NULL) {
		if (pv->jfd >= 0)
			close(pv->jfd);
		close(pv->fd); /* drops the flock */
		free(pv);
	}
	e->priv = NULL;
	e->locked = 0;
}

static void spool_release(struct queue *q, struct queue_entry *e)
{
	char err[256];

	if (e->priv != NULL)
		(void)spool_sync(q, e, err, sizeof(err));
	release_fds(e);
}

static int cmp_arrival(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int spool_list(struct queue *q, struct queue_entry **out, size_t *n, char *err,
                      size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	char **names;
	size_t nnames, cap = 0;

	*out = NULL;
	*n = 0;
	if (scan(sp, &names, &nnames, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < nnames; i++) {
		char why[256];
		int fd = openat(sp->msgfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			continue;
		if (push_entry(out, n, &cap) < 0) {
			close(fd);
			break;
		}
		if (load_files(sp, fd, names[i], 0, &(*out)[*n], NULL, why, sizeof(why)) < 0)
			queue_entry_clear(q, &(*out)[*n]); /* a runner quarantines it */
		else
			(*n)++;
		close(fd);
	}
	free_names(names, nnames);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_arrival);
	return 0;
}

static int spool_load(struct queue *q, const char *id, struct queue_entry *e,
                      enum queue_fail *fail, char *err, size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	int fd, r;

	memset(e, 0, sizeof(*e));
	*fail = QUEUE_FAIL_NOTFOUND;
	if (!queue_id_valid(id) || (fd = openat(sp->msgfd, id, O_RDONLY | O_CLOEXEC |
	                                        O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "no message %s in the queue", id);
		return -1;
	}
	r = load_files(sp, fd, id, 1, e, NULL, err, errlen);
	close(fd);
	if (r == -2)
		snprintf(err, errlen, "no message %s in the queue", id);
	else if (r < 0)
		*fail = QUEUE_FAIL_CORRUPT;
	else
		*fail = QUEUE_FAIL_NONE;
	return r < 0 ? -1 : 0;
}

static int spool_remove(struct queue *q, const char *id, enum queue_fail *fail, char *err,
                        size_t errlen)
{
	struct spool *sp = (struct spool *)q;
	struct queue_entry e;
	struct stat sb;
	int fd, rc;

	*fail = QUEUE_FAIL_NOTFOUND;
	if (!queue_id_valid(id) || (fd = openat(sp->msgfd, id, O_RDONLY | O_CLOEXEC |
	                                        O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "no message %s in the queue", id);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		*fail = QUEUE_FAIL_BUSY;
		snprintf(err, errlen, "message %s is being delivered right now; try again", id);
		return -1;
	}
	if (fstat(fd, &sb) == 0 && sb.st_nlink == 0) {
		close(fd);
		snprintf(err, errlen, "no message %s in the queue", id);
		return -1;
	}
	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "%s", id);
	rc = spool_finish(q, &e, err, errlen);
	close(fd);
	*fail = rc < 0 ? QUEUE_FAIL_IO : QUEUE_FAIL_NONE;
	return rc;
}

static void spool_close(struct queue *q)
{
	struct spool *sp = (struct spool *)q;

	if (sp == NULL)
		return;
	close(sp->qfd);
	close(sp->tmpfd);
	close(sp->msgfd);
	close(sp->dirfd);
	free(sp);
}

static const struct queue_ops spool_ops = {
	.enqueue = spool_enqueue,
	.claim = spool_claim,
	.record_rcpt = spool_record_rcpt,
	.record_sched = spool_record_sched,
	.sync = spool_sync,
	.sync_batch = spool_sync_batch,
	.finish = spool_finish,
	.finish_lazy = spool_finish_lazy,
	.release = spool_release,
	.list = spool_list,
	.load = spool_load,
	.remove = spool_remove,
	.close = spool_close,
};

struct queue *queue_spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	struct stat sb;

	if (sp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->base.ops = &spool_ops;
	sp->dirfd = sp->msgfd = sp->tmpfd = sp->qfd = -1;
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	if (dir[0] == '\0' || make_dirs(dir, err, errlen) < 0)
		goto fail;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		snprintf(err, errlen, "cannot open the queue directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	/* A spool others can write to could be fed forged messages. */
	if (fstat(sp->dirfd, &sb) == 0 && (sb.st_mode & 0022) != 0) {
		snprintf(err, errlen, "the queue directory %s is writable by others (mode %03o): "
		         "refusing it", dir, (unsigned)(sb.st_mode & 0777));
		goto fail;
	}
	if ((sp->msgfd = open_subdir(sp->dirfd, "msg", err, errlen)) < 0 ||
	    (sp->tmpfd = open_subdir(sp->dirfd, "tmp", err, errlen)) < 0 ||
	    (sp->qfd = open_subdir(sp->dirfd, "quarantine", err, errlen)) < 0)
		goto fail;
	return &sp->base;
fail:
	if (sp->qfd >= 0)
		close(sp->qfd);
	if (sp->tmpfd >= 0)
		close(sp->tmpfd);
	if (sp->msgfd >= 0)
		close(sp->msgfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp);
	return NULL;
}
