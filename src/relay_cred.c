/*
 * relay_cred: see relay_cred.h.
 *
 * Owns the secret's buffer from the moment it is read until the caller
 * takes it. Must not: log or print (errors go up as sentences), put the
 * secret or a command's output in an error, follow a symlink to a
 * password file (O_NOFOLLOW, then fstat on the open file: SEC-06), or
 * leave a child running (the command is killed at its deadline and
 * always reaped).
 */
#include "config.h"

#include "relay_cred.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void relay_cred_free(char *secret)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

/* Keeps the first line of buf[0..len) (CR LF or LF ends it) as a new
 * string; wipes buf. Returns NULL (reason in err) when the line is empty. */
static char *first_line(char *buf, size_t len, const char *what, char *err, size_t errlen)
{
	size_t n = 0;
	char *s;

	while (n < len && buf[n] != '\n' && buf[n] != '\0')
		n++;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		text_say(err, errlen, "%s: the password is empty", what);
		OPENSSL_cleanse(buf, len);
		return NULL;
	}
	s = malloc(n + 1);
	if (s == NULL) {
		text_say(err, errlen, "%s: out of memory", what);
	} else {
		memcpy(s, buf, n);
		s[n] = '\0';
	}
	OPENSSL_cleanse(buf, len);
	return s;
}

static int from_env(const struct conf_relay *r, char **out, char *err, size_t errlen)
{
	const char *v = getenv(r->password_env);
	char what[200];

	text_say(what, sizeof(what), "relay %s: password_env %s", r->name, r->password_env);
	if (v == NULL || v[0] == '\0') {
		text_say(err, errlen, "%s: the environment variable is %s", what,
		         v == NULL ? "not set" : "empty");
		return -1;
	}
	if (strlen(v) > RELAY_CRED_MAX) {
		text_say(err, errlen, "%s: longer than %d octets", what, RELAY_CRED_MAX);
		return -1;
	}
	*out = strdup(v);
	if (*out == NULL) {
		text_say(err, errlen, "%s: out of memory", what);
		return -1;
	}
	return 0;
}

static int from_file(const struct conf_relay *r, char **out, char *err, size_t errlen)
{
	const char *path = r->password_file;
	char buf[RELAY_CRED_MAX + 2];
	struct stat sb;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		text_say(err, errlen, "relay %s: password_file %s: %s%s", r->name, path,
		         strerror(errno), errno == ELOOP ? " (a symlink is refused)" : "");
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		text_say(err, errlen, "relay %s: password_file %s: %s", r->name, path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		text_say(err, errlen, "relay %s: password_file %s is not a regular file", r->name, path);
		goto done;
	}
	if (sb.st_uid != geteuid()) {
		text_say(err, errlen, "relay %s: password_file %s is owned by uid %lu, not by the "
		         "user running mxsend (uid %lu): refused; fix: chown %lu %s", r->name, path,
		         (unsigned long)sb.st_uid, (unsigned long)geteuid(),
		         (unsigned long)geteuid(), path);
		goto done;
	}
	if ((sb.st_mode & 07777) != 0600 && (sb.st_mode & 07777) != 0400) {
		text_say(err, errlen, "relay %s: password_file %s has mode %04o; it must be 0600 "
		         "(or 0400) so that no one else can read it; fix: chmod 600 %s", r->name,
		         path, (unsigned)(sb.st_mode & 07777), path);
		goto done;
	}
	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			text_say(err, errlen, "relay %s: password_file %s: %s", r->name, path,
			         strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len >= sizeof(buf) - 1)
			break;
	}
	{
		size_t line = 0;

		while (line < len && buf[line] != '\n')
			line++;
		if (line > RELAY_CRED_MAX) {
			text_say(err, errlen, "relay %s: password_file %s: the first line is longer "
			         "than %d octets", r->name, path, RELAY_CRED_MAX);
			goto done;
		}
	}
	{
		char what[1200];

		text_say(what, sizeof(what), "relay %s: password_file %s", r->name, path);
		*out = first_line(buf, len, what, err, errlen);
	}
	if (*out != NULL)
		rc = 0;
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int from_cmd(const struct conf_relay *r, char **out, char *err, size_t errlen)
{
	char buf[RELAY_CRED_MAX + 2];
	size_t len = 0;
	int pfd[2] = { -1, -1 };
	pid_t pid;
	int status = 0, rc = -1, timed_out = 0, too_long = 0;
	long long deadline = mono_ms() + RELAY_CRED_CMD_TIMEOUT_MS;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		text_say(err, errlen, "relay %s: password_cmd: pipe: %s", r->name, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		text_say(err, errlen, "relay %s: password_cmd: fork: %s", r->name, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		/* stdin /dev/null: a command that asks for a passphrase fails
		 * instead of hanging; stderr stays the user's, for its reason. */
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(126);
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", r->password_cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents == 0)
			continue;
		if (len >= sizeof(buf) - 1) {
			/* More than a secret's worth: the first line decides;
			 * the rest is read and dropped, so the command is not
			 * killed by SIGPIPE. */
			char trash[4096];

			too_long = memchr(buf, '\n', len) == NULL;
			n = read(pfd[0], trash, sizeof(trash));
			OPENSSL_cleanse(trash, sizeof(trash));
		} else {
			n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < sizeof(buf) - 1)
			len += (size_t)n;
	}
	close(pfd[0]);
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		text_say(err, errlen, "relay %s: password_cmd '%s' did not finish within %d s",
		         r->name, r->password_cmd, RELAY_CRED_CMD_TIMEOUT_MS / 1000);
		goto done;
	}
	if (WIFSIGNALED(status)) {
		text_say(err, errlen, "relay %s: password_cmd '%s' was killed by signal %d", r->name,
		         r->password_cmd, WTERMSIG(status));
		goto done;
	}
	if (WEXITSTATUS(status) != 0) {
		text_say(err, errlen, "relay %s: password_cmd '%s' failed (exit status %d)",
		         r->name, r->password_cmd, WEXITSTATUS(status));
		goto done;
	}
	if (too_long) {
		text_say(err, errlen, "relay %s: password_cmd '%s' printed a first line longer "
		         "than %d octets", r->name, r->password_cmd, RELAY_CRED_MAX);
		goto done;
	}
	{
		char what[1200];

		text_say(what, sizeof(what), "relay %s: password_cmd '%s'", r->name, r->password_cmd);
		*out = first_line(buf, len, what, err, errlen);
	}
	if (*out != NULL)
		rc = 0;
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int relay_cred_get(const struct conf_relay *r, char **out, char *err, size_t errlen)
{
	*out = NULL;
	if (r->user[0] == '\0')
		return 0;
	if (r->password_env[0] != '\0')
		return from_env(r, out, err, errlen);
	if (r->password_file[0] != '\0')
		return from_file(r, out, err, errlen);
	if (r->password_cmd[0] != '\0')
		return from_cmd(r, out, err, errlen);
	text_say(err, errlen, "relay %s: user %s has no password source: add password_cmd, "
	         "password_file (mode 0600) or password_env to the section", r->name, r->user);
	return -1;
}
