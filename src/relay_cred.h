/*
 * relay_cred: the secret (password or provider authorization code) of a
 * relay section, from exactly one of password_env, password_file or
 * password_cmd (mxsend.conf(5)). Never from argv (SEC-06).
 *
 * The secret is returned in memory the caller owns and must give back to
 * relay_cred_free, which wipes it (OPENSSL_cleanse) before freeing. Error
 * messages name the source (variable, file and its mode, command) but
 * never hold a byte of the secret or of the command's output.
 */
#ifndef MXSEND_RELAY_CRED_H
#define MXSEND_RELAY_CRED_H

#include <stddef.h>

#include "conf.h"

#define RELAY_CRED_MAX 1024            /* octets of a secret, the first line only */
#define RELAY_CRED_CMD_TIMEOUT_MS 10000 /* password_cmd must finish within this */

/* Reads the secret of r into *out (NUL-terminated, owned by the caller,
 * free with relay_cred_free). A relay without `user` needs none: *out is
 * NULL and 0 is returned. Returns 0, or -1 with a sentence in err:
 * a user without a password source; password_env unset or empty;
 * password_file missing, not a regular file, a symlink, not owned by the
 * running user, or of a mode other than 0600/0400 (the message names the
 * file, its mode and `chmod 600 FILE`); empty or over RELAY_CRED_MAX;
 * password_cmd failing to start, exiting non-zero, killed, printing
 * nothing, or taking longer than RELAY_CRED_CMD_TIMEOUT_MS. */
int relay_cred_get(const struct conf_relay *r, char **out, char *err, size_t errlen);

/* Wipes and frees a secret from relay_cred_get; NULL is fine. */
void relay_cred_free(char *secret);

#endif
