/*
 * port25: remembers that outbound port 25 seems blocked from here.
 *
 * Many networks (home lines, clouds) drop outbound connections to port
 * 25. Then every direct delivery waits out its connect timeout before the
 * relay is tried. When the connections to every MX address of several
 * different domains (`port25_detect`, default 3) have timed out within
 * `port25_block_time` seconds, this module marks port 25 as blocked for
 * that long, persisted in STATE_DIR/port25, so later runs go to the relay
 * at once. Any MX that answers clears the mark. Refused connections do not
 * count: a refusal means packets do get through.
 *
 * The file is small text, read with hard limits, replaced atomically
 * (temporary file, fsync, rename); a file that does not parse is ignored
 * and rewritten: it is a hint, not data anyone would lose.
 */
#ifndef MXSEND_PORT25_H
#define MXSEND_PORT25_H

#include <stddef.h>
#include <stdint.h>

#define PORT25_RECENT_MAX 16   /* timed-out domains remembered */

struct port25_timeout {
	int64_t at;                /* wall-clock seconds */
	char domain[256];
};

struct port25 {
	char path[1100];           /* the state file; "" = not persisted */
	unsigned detect;           /* domains needed; 0 = detection off */
	unsigned block_time;       /* seconds */
	int64_t blocked_since;     /* 0 = not blocked */
	int64_t blocked_until;
	struct port25_timeout recent[PORT25_RECENT_MAX]; /* newest last */
	size_t nrecent;
	int dirty;                 /* changed since loaded */
};

/* The default state directory: /var/lib/mxsend for root, otherwise
 * $XDG_STATE_HOME/mxsend or ~/.local/state/mxsend. */
void port25_default_dir(char *out, size_t outlen);

/* Loads the state kept in state_dir (NULL or "" = the default) into p.
 * A missing or unreadable file is an empty state. Never fails. */
void port25_load(struct port25 *p, const char *state_dir, unsigned detect,
                 unsigned block_time, int64_t now);

/* Is port 25 marked blocked at now? */
int port25_blocked(const struct port25 *p, int64_t now);

/* Every address of domain timed out on connect at now. Returns 1 when
 * this marked port 25 blocked, else 0. */
int port25_note_timeout(struct port25 *p, const char *domain, int64_t now);

/* An MX answered: port 25 is open; forget the timeouts and the mark. */
void port25_note_reached(struct port25 *p);

/* The timed-out domains as "a, b, c" (for messages). */
void port25_domains(const struct port25 *p, char *out, size_t outlen);

/* The state for `route` and `probe` output: {"blocked": bool, "since":
 * "...", "until": "..." (UTC, RFC 3339, null when not blocked),
 * "timed_out_domains": [...]}. A new reference, or NULL when out of memory. */
struct json_t;
struct json_t *port25_json(const struct port25 *p, int64_t now);

/* One line for people when port 25 is marked blocked, "" otherwise. */
void port25_text(const struct port25 *p, int64_t now, char *out, size_t outlen);

/* Writes p back when it changed (creating the directory, mode 0700).
 * Returns 0, or -1 with a reason in err. */
int port25_save(struct port25 *p, char *err, size_t errlen);

#endif
