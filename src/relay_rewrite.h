/*
 * relay_rewrite: what a provider relay requires of the sender, applied to
 * the rendered message bytes (so that composed messages, `-t` messages
 * and, later, queued ones are treated the same).
 *
 * QQ Mail, Exmail and 163 accept MAIL FROM and a From field only when
 * they name the authenticated account (QQ answers "501 mail from address
 * must be same as authorization user"; STANDARDS.md RELAY-01). With
 * `rewrite_from yes` the envelope sender becomes the account, From
 * becomes the account with the original display name (RFC 2047 encoded
 * words kept as they are), and the original From moves to Reply-To unless
 * the message has one. Without it, for those presets, a message that does
 * not match is refused before anything connects, saying how to fix it.
 *
 * Pure: no I/O, no globals. Hard limits on the header section it reads.
 */
#ifndef MXSEND_RELAY_REWRITE_H
#define MXSEND_RELAY_REWRITE_H

#include <stddef.h>

#include "conf.h"

#define RELAY_REWRITE_HEADER_MAX (1024u * 1024u) /* header section octets read */
#define RELAY_REWRITE_FIELDS_MAX 1000            /* header fields */
#define RELAY_REWRITE_FROM_MAX 8192              /* one From field, folded */

/* 1 when r's provider insists that From and MAIL FROM be the account
 * (presets qq, qq-starttls, exmail, 163). */
int relay_rewrite_enforced(const struct conf_relay *r);

/* The address of the first mailbox of the From field of data (len
 * octets, CRLF lines) into from (fromlen octets). Returns 1 when found,
 * 0 when the message has no From field, -1 with a reason in err when the
 * header section is malformed or over the limits above. */
int relay_rewrite_from_addr(const char *data, size_t len, char *from, size_t fromlen,
                            char *err, size_t errlen);

/* Decides what goes to relay r for a message data (len octets, rendered,
 * CRLF, not dot-stuffed) from envelope sender mail_from ("" for <>).
 *  - r->rewrite_from: *out is a new message (the caller frees it) of
 *    *outlen octets with From and Reply-To rewritten as above, and
 *    eff_from gets r->user.
 *  - otherwise: *out is NULL (send data as it is) and eff_from gets
 *    mail_from; but for an enforcing preset a From address or a
 *    mail_from that is not r->user (compared case-insensitively) is
 *    refused.
 * Returns 0, or -1 with a sentence for a person in err that says what
 * differs and how to fix it (`rewrite_from yes`, or --from ACCOUNT). */
int relay_rewrite_apply(const struct conf_relay *r, const char *mail_from, const char *data,
                        size_t len, char **out, size_t *outlen, char *eff_from,
                        size_t efflen, char *err, size_t errlen);

#endif
