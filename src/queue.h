/*
 * queue: messages kept for a later try, behind a small backend interface
 * (struct queue_ops): enqueue, claim what is due, record a recipient's
 * outcome, finish or release. The runner (queue_run.c) and the command
 * line (cli_queue.c) use only this interface, so a shared backend for
 * many workers on many machines (PostgreSQL: a row per message and per
 * recipient, SELECT ... FOR UPDATE SKIP LOCKED as the claim) can be added
 * beside the local spool without touching delivery.
 *
 * The local spool (queue_spool.c) is the one backend today. Its layout,
 * under queue_dir (created 0700):
 *
 *   tmp/ID         a message being written; never read by a runner
 *   msg/ID         the message file: envelope and the message, written
 *                  once (temporary file, fsync, rename, fsync of msg/),
 *                  never changed afterwards
 *   msg/ID.j       its journal: per-recipient outcomes and the schedule,
 *                  appended, one checksummed record a line
 *   quarantine/    files that failed to parse, moved aside with a log line
 *
 * The message file (text lines, then the data):
 *
 *   mxsend-queue 1
 *   id ID
 *   arrival SECONDS
 *   sender ADDRESS          (empty for the null reverse path)
 *   rcpt ADDRESS            (one per recipient, in order)
 *   R ... / S ...           (optional: the journal records of an attempt
 *                            made before enqueueing, as `mxsend send` does)
 *   data OCTETS
 *   the message, CRLF lines, not dot-stuffed, exactly OCTETS octets
 *
 * The journal: lines "CRC32HEX RECORD\n", CRC-32 (IEEE) of RECORD:
 *
 *   R INDEX STATE NOTIFIED LAST_ATTEMPT CODE DSN RELAY REPLY...
 *       a recipient's outcome; STATE is pending, sent or failed; NOTIFIED
 *       1 once the failure was reported (bounce queued, or none due);
 *       DSN and RELAY are "-" when empty; REPLY is the rest of the line
 *   S ARRIVAL LAST_SEEN NEXT_ATTEMPT AGE ATTEMPTS WARNED
 *       the queue_sched_state after an attempt
 *
 * Later records override earlier ones. Why a journal and not a state file
 * rewritten through rename: an append of one short line is one write(2)
 * and one fdatasync(2), where a rewrite is a file, an fsync, a rename and
 * an fsync of the directory, per recipient outcome. A record is written
 * as soon as the outcome is known (so a SIGKILL right after cannot lose
 * it: it is in the page cache) and made durable with fdatasync in the same
 * turn of the event loop. A last line without its newline or with a bad
 * checksum is a write torn by a crash: it is ignored and cut off (under
 * the lock) before anything is appended; a bad checksum anywhere else is
 * corruption, and the message goes to quarantine.
 *
 * Locking: a runner holds flock(LOCK_EX) on msg/ID from the claim to the
 * release, so two runners (two cron jobs, a daemon and a manual flush)
 * never deliver the same message at once; a claim skips a locked message.
 * `queue delete` takes the same lock.
 *
 * Duplicates: a recipient is marked sent right after the server's 250 to
 * the end of data. If the process dies (or the machine loses power before
 * the fdatasync) between that 250 and the record, the recipient is sent
 * again on the next run. A runner removes a message as soon as its last
 * recipient is sent (finish_lazy), in the same turn of the event loop,
 * and makes the removal durable with the other records of that turn
 * (sync_batch: one fsync of msg/ for all): the removal is then the
 * record, and no journal needs an fdatasync for it. That window is unavoidable for any store and
 * forward MTA (RFC 5321 6.1 prefers a duplicate to a loss); everything
 * confirmed in the journal is never sent again.
 */
#ifndef MXSEND_QUEUE_H
#define MXSEND_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "queue_sched.h"

#define QUEUE_ID_MAX 33            /* up to 32 characters [0-9A-Z] and a NUL */
#define QUEUE_RCPTS_MAX 10000      /* recipients per message */
#define QUEUE_LINE_MAX 2048        /* a header or journal line, newline included */
#define QUEUE_DATA_MAX (64u * 1024u * 1024u + 65536u) /* the message, octets */
#define QUEUE_JOURNAL_MAX (8u * 1024u * 1024u) /* journal octets */
#define QUEUE_REPLY_MAX 512        /* reply text kept per recipient */

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,  /* not delivered yet: due again at next_attempt */
	QUEUE_RCPT_SENT,     /* a server accepted it: never sent again */
	QUEUE_RCPT_FAILED,   /* bounced or expired: never tried again */
};

/* One recipient of a queued message and what became of it so far. */
struct queue_rcpt {
	char *address;             /* envelope address, owned */
	enum queue_rcpt_state state;
	int notified;              /* a failure was reported (or none is due) */
	int64_t last_attempt;      /* wall-clock seconds, 0 = never tried */
	int code;                  /* the last reply's code, 0 = none */
	char dsn[16];              /* its enhanced status code, "" = none */
	char relay[320];           /* "host[ip]:port" it came from, "" = none */
	char reply[QUEUE_REPLY_MAX]; /* the last reply, or a local reason */
};

/* A queued message as a backend hands it out. */
struct queue_entry {
	char id[QUEUE_ID_MAX];
	int64_t arrival;           /* when it was accepted, wall clock */
	char *sender;              /* reverse path, "" for <>, owned */
	struct queue_rcpt *rcpts;  /* owned */
	size_t nrcpts;
	struct queue_sched_state sched;
	char *data;                /* the message (CRLF, not stuffed), owned; NULL
	                              when loaded without it (list) */
	size_t size;               /* octets of the message */
	int locked;                /* claimed: the caller holds the lock */
	void *priv;                /* the backend's (lock and journal descriptors) */
};

/* What to enqueue. */
struct queue_new {
	const char *sender;        /* "" for the null reverse path */
	const char *const *rcpts;  /* envelope addresses */
	size_t nrcpts;
	const char *data;          /* the message, CRLF lines, not stuffed */
	size_t data_len;
	int64_t arrival;           /* wall clock */
	/* Optional: the outcome of an attempt made before enqueueing (`mxsend
	 * send` tried first). results[i] for rcpts[i] when results is set;
	 * sched when has_sched. */
	const struct queue_rcpt *results;
	const struct queue_sched_state *sched;
};

struct queue;

/* Why a queue call failed; the CLI maps it to an exit code. */
enum queue_fail {
	QUEUE_FAIL_NONE,
	QUEUE_FAIL_IO,        /* a write, fsync or rename failed (disk full: ENOSPC) */
	QUEUE_FAIL_NOTFOUND,  /* no such message */
	QUEUE_FAIL_BUSY,      /* locked by a runner */
	QUEUE_FAIL_CORRUPT,   /* unreadable; moved to quarantine */
	QUEUE_FAIL_NOMEM,
	QUEUE_FAIL_SETUP,     /* the spool directory cannot be made or opened */
};

/* Called for each message the backend moved aside, with the reason, so
 * that the caller logs it. */
typedef void (*queue_quarantine_fn)(void *arg, const char *id, const char *reason);

struct queue_ops {
	/* Stores m durably, then writes its new id into id. Returns 0, or -1
	 * with *fail and a reason; then nothing is visible to a runner. */
	int (*enqueue)(struct queue *q, const struct queue_new *m, char id[QUEUE_ID_MAX],
	               enum queue_fail *fail, char *err, size_t errlen);
	/* Locks and loads (with data) every message due at now by sc, or
	 * every message when all is 1; a message locked elsewhere is skipped,
	 * an unreadable one quarantined. *out: an array of *n entries for
	 * queue_entries_free. At most max messages (0 = no limit); only the
	 * message only_id when it is not NULL. */
	int (*claim)(struct queue *q, const struct queue_sched_conf *sc, int64_t now, int all,
	             size_t max, const char *only_id, struct queue_entry **out, size_t *n,
	             char *err, size_t errlen);
	/* Records e->rcpts[i] as it is now (written at once, durable after
	 * sync). Returns 0 or -1 with a reason. */
	int (*record_rcpt)(struct queue *q, struct queue_entry *e, size_t i, char *err,
	                   size_t errlen);
	/* Records e->sched. */
	int (*record_sched)(struct queue *q, struct queue_entry *e, char *err, size_t errlen);
	/* Makes every record of e durable (fdatasync). */
	int (*sync)(struct queue *q, struct queue_entry *e, char *err, size_t errlen);
	/* Makes every record of the n entries durable, and every removal by
	 * finish_lazy since the last sync: one fdatasync per journal written
	 * to, and one fsync of the directory for all the journals made and
	 * messages removed. Returns 0, or -1 with the first reason. */
	int (*sync_batch)(struct queue *q, struct queue_entry *const *v, size_t n, char *err,
	                  size_t errlen);
	/* Removes a claimed message for good (everything is final). */
	int (*finish)(struct queue *q, struct queue_entry *e, char *err, size_t errlen);
	/* The same, then releases e, without waiting for the disk: the
	 * removal is durable after the next sync_batch (or sync). A power
	 * loss before it may bring the message back, to be sent again (the
	 * duplicate window below), never lose it. */
	int (*finish_lazy)(struct queue *q, struct queue_entry *e, char *err, size_t errlen);
	/* Drops the claim (the lock) of e; e stays loaded. */
	void (*release)(struct queue *q, struct queue_entry *e);
	/* Loads every message without its data and without locking, sorted
	 * by arrival: a snapshot for `queue list`. */
	int (*list)(struct queue *q, struct queue_entry **out, size_t *n, char *err,
	            size_t errlen);
	/* Loads one message with its data, without locking. */
	int (*load)(struct queue *q, const char *id, struct queue_entry *e, enum queue_fail *fail,
	            char *err, size_t errlen);
	/* Deletes one message (takes the lock; QUEUE_FAIL_BUSY when a runner
	 * holds it). */
	int (*remove)(struct queue *q, const char *id, enum queue_fail *fail, char *err,
	              size_t errlen);
	void (*close)(struct queue *q);
};

struct queue {
	const struct queue_ops *ops;
	queue_quarantine_fn on_quarantine; /* may be NULL */
	void *arg;                         /* for on_quarantine */
};

/* Frees what an entry owns (not the entry); releases it first if locked
 * (through its backend, which must still be open). */
void queue_entry_clear(struct queue *q, struct queue_entry *e);
void queue_entries_free(struct queue *q, struct queue_entry *v, size_t n);

/* Is id a well-formed queue id (1 to 32 of [0-9A-Z])? */
int queue_id_valid(const char *id);

/* The name of a recipient state: "pending", "sent", "failed". */
const char *queue_rcpt_state_name(enum queue_rcpt_state s);

/* ---- the local spool backend (queue_spool.c) ---- */

/* The default spool directory into out: /var/spool/mxsend as root, else
 * $XDG_STATE_HOME/mxsend/queue or ~/.local/state/mxsend/queue. Returns 0
 * or -1 when no home is known. */
int queue_spool_default_dir(char *out, size_t len);

/* Opens (creating with mode 0700 where missing) the spool at dir.
 * Returns the queue, or NULL with a reason. */
struct queue *queue_spool_open(const char *dir, char *err, size_t errlen);

/* The pure parts, for the unit tests and the fuzzer. */

/* Parses a message file of len octets into e (zeroed first; clear it with
 * queue_entry_clear even on error). with_data 0 skips copying the data
 * but still checks its length. Returns 0, or -1 with a reason. */
int queue_spool_parse(const char *buf, size_t len, int with_data, struct queue_entry *e,
                      char *err, size_t errlen);

/* Applies a journal of len octets to e. *good_len gets the octets of
 * complete, valid records: what follows is a torn tail to cut off.
 * Returns 0, or -1 with a reason when a record before the last is bad. */
int queue_spool_apply_journal(struct queue_entry *e, const char *buf, size_t len,
                              size_t *good_len, char *err, size_t errlen);

/* Formats the journal line (with its checksum and newline) recording
 * e->rcpts[i] into out. Returns its length, or 0 when it does not fit. */
size_t queue_spool_format_rcpt(const struct queue_entry *e, size_t i, char *out, size_t len);
size_t queue_spool_format_sched(const struct queue_sched_state *s, char *out, size_t len);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of n octets. */
uint32_t queue_crc32(const void *p, size_t n);

#endif
