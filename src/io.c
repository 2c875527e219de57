/*
 * io: a non-blocking socket with optional OpenSSL on top. See io.h.
 *
 * OpenSSL rules followed here (STANDARDS.md OSSL-04..07): the error queue
 * is cleared before every TLS call and SSL_get_error is read right after
 * it; a read may want a write and a write may want a read; buffered
 * plaintext inside OpenSSL is drained with SSL_pending because epoll does
 * not see it; SIGPIPE is avoided with MSG_NOSIGNAL on plaintext writes and
 * ignored by the CLI for TLS writes.
 *
 * Owns: the fd, the SSL object, both buffers. Must not: call the callback
 * from inside an io_* call (a zero timer carries deferred events), or
 * touch the io after a callback freed it (busy/zombie below).
 */
#include "config.h"

#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

enum io_state {
	IO_ST_CONNECTING,
	IO_ST_OPEN,       /* plaintext, or TLS after the handshake */
	IO_ST_HANDSHAKE,
	IO_ST_DEAD,       /* error or EOF reported */
};

struct io {
	struct loop *loop;
	int fd;
	SSL *ssl;                  /* NULL until io_start_tls */
	enum io_state state;
	io_cb cb;
	void *arg;
	struct buf in;             /* received, not consumed */
	struct buf out;            /* queued, owned */
	const char *ref;           /* queued, borrowed, after out */
	size_t ref_len;            /* bytes of ref left */
	struct buf tail;           /* queued, owned, after ref (io_write while
	                              ref_len > 0); becomes out when ref is done */
	int tls_read_wants_write;  /* SSL_read said WANT_WRITE */
	int tls_write_wants_read;  /* SSL_write said WANT_READ */
	int hs_wants_write;        /* the handshake waits to write */
	unsigned busy;             /* callbacks running */
	int zombie;                /* io_free called while busy */
	int pending_error;         /* an error to report from the loop */
	struct loop_timer later;   /* carries deferred events */
	unsigned watched;          /* interest registered with the loop */
	char err[256];
};

static void on_fd(int fd, unsigned events, void *arg);

static void really_free(struct io *io)
{
	loop_timer_stop(io->loop, &io->later);
	if (io->fd >= 0) {
		loop_watch(io->loop, io->fd, 0, NULL, NULL);
		close(io->fd);
	}
	if (io->ssl != NULL)
		SSL_free(io->ssl);
	buf_free(&io->in);
	buf_free(&io->out);
	buf_free(&io->tail);
	free(io);
}

void io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->busy > 0) {
		io->zombie = 1;
		io->cb = NULL;
		return;
	}
	really_free(io);
}

/* Calls the callback; returns -1 when the io was freed meanwhile (the
 * caller must then return without touching it). */
static int emit(struct io *io, enum io_event ev)
{
	if (io->cb == NULL)
		return -1;
	io->busy++;
	io->cb(io->arg, ev);
	io->busy--;
	if (io->zombie) {
		if (io->busy == 0)
			really_free(io);
		return -1;
	}
	return 0;
}

static void update_interest(struct io *io)
{
	unsigned ev = 0;

	switch (io->state) {
	case IO_ST_CONNECTING:
		ev = LOOP_WRITE;
		break;
	case IO_ST_HANDSHAKE:
		ev = LOOP_READ | (io->hs_wants_write ? LOOP_WRITE : 0);
		break;
	case IO_ST_OPEN:
		ev = LOOP_READ;
		if (io->out.len - io->out.off > 0 || io->ref_len > 0 || io->tls_read_wants_write)
			ev |= LOOP_WRITE;
		break;
	case IO_ST_DEAD:
		ev = 0;
		break;
	}
	if (ev != io->watched && io->fd >= 0) {
		if (loop_watch(io->loop, io->fd, ev, on_fd, io) == 0)
			io->watched = ev;
	}
}

/* Marks the io dead with a reason and reports IO_EV_ERROR. */
static int fail(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(io->err, sizeof(io->err), fmt, ap);
	va_end(ap);
	io->state = IO_ST_DEAD;
	update_interest(io);
	emit(io, IO_EV_ERROR);
	return -1;
}

/* The reason OpenSSL gives, with the certificate verdict when the
 * handshake failed over it. */
static void ssl_reason(struct io *io, int sslerr, char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e != 0) {
		char tmp[200];

		ERR_error_string_n(e, tmp, sizeof(tmp));
		snprintf(buf, len, "%s", tmp);
	} else if (sslerr == SSL_ERROR_SYSCALL) {
		snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed during TLS");
	} else {
		snprintf(buf, len, "TLS error %d", sslerr);
	}
	ERR_clear_error();
	(void)io;
}

/* ---- reading ---- */

/* Keeps n received bytes, within the input limit (a server that never
 * completes a reply must not make us grow without bound). */
static int take_input(struct io *io, const char *p, size_t n)
{
	if (buf_append(&io->in, p, n) < 0)
		return fail(io, "out of memory");
	if (buf_avail(&io->in) > IO_INPUT_MAX)
		return fail(io, "the server sent more than %u bytes without a complete reply",
		            IO_INPUT_MAX);
	return 0;
}

static int read_plain(struct io *io)
{
	char chunk[16384];

	for (;;) {
		ssize_t n = recv(io->fd, chunk, sizeof(chunk), 0);

		if (n > 0) {
			if (take_input(io, chunk, (size_t)n) < 0)
				return -1;
			if ((size_t)n < sizeof(chunk))
				return 1;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		return fail(io, "read: %s", strerror(errno));
	}
}

static int read_tls(struct io *io)
{
	char chunk[16384];

	io->tls_read_wants_write = 0;
	for (;;) {
		int n, e;

		ERR_clear_error();
		n = SSL_read(io->ssl, chunk, sizeof(chunk));
		if (n > 0) {
			if (take_input(io, chunk, (size_t)n) < 0)
				return -1;
			continue; /* drain what OpenSSL holds: epoll cannot see it */
		}
		e = SSL_get_error(io->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			return 1;
		if (e == SSL_ERROR_WANT_WRITE) {
			io->tls_read_wants_write = 1;
			return 1;
		}
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		{
			char why[200];

			ssl_reason(io, e, why, sizeof(why));
			return fail(io, "TLS read: %s", why);
		}
	}
}

/* ---- writing ---- */

static int write_some(struct io *io, const char *p, size_t n, size_t *done)
{
	*done = 0;
	if (io->ssl == NULL) {
		ssize_t w = send(io->fd, p, n, MSG_NOSIGNAL);

		if (w >= 0) {
			*done = (size_t)w;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return fail(io, "write: %s", strerror(errno));
	} else {
		int w, e;

		io->tls_write_wants_read = 0;
		ERR_clear_error();
		w = SSL_write(io->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
		if (w > 0) {
			*done = (size_t)w;
			return 0;
		}
		e = SSL_get_error(io->ssl, w);
		if (e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_WANT_READ) {
			io->tls_write_wants_read = 1;
			return 0;
		}
		{
			char why[200];

			ssl_reason(io, e, why, sizeof(why));
			return fail(io, "TLS write: %s", why);
		}
	}
}

/* Asks the kernel to acknowledge what arrives next at once. A client
 * that has just written waits for the reply, so a delayed ACK saves
 * nothing, and it can cost: a server with Nagle's algorithm on (Postfix
 * smtpd) holds its EHLO reply after STARTTLS until the client has
 * acknowledged the TLS 1.3 session tickets sent just before, and Linux
 * delays that ACK by some 40 ms in an interactive exchange (measured with
 * tests/bench/send-bench: 40 ms more than a round trip). Linux resets the
 * flag on its own, hence after every write. A failure costs only time. */
static void quickack(struct io *io)
{
#ifdef TCP_QUICKACK
	(void)setsockopt(io->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
#else
	(void)io;
#endif
}

/* Writes as much as the socket takes: out, then ref, then tail (which
 * then becomes out); -1 when the io failed. */
static int flush(struct io *io)
{
	size_t done;
	int wrote = 0;

	for (;;) {
		while (buf_avail(&io->out) > 0) {
			if (write_some(io, buf_head(&io->out), buf_avail(&io->out), &done) < 0)
				return -1;
			if (done == 0)
				goto out;
			wrote = 1;
			buf_consume(&io->out, done);
		}
		while (io->ref_len > 0) {
			if (write_some(io, io->ref, io->ref_len, &done) < 0)
				return -1;
			if (done == 0)
				goto out;
			wrote = 1;
			io->ref += done;
			io->ref_len -= done;
		}
		if (buf_avail(&io->tail) == 0)
			break;
		/* out is empty here: what waited behind ref goes next. */
		{
			struct buf t = io->out;

			io->out = io->tail;
			io->tail = t;
			buf_reset(&io->tail);
		}
	}
out:
	if (wrote)
		quickack(io);
	return 0;
}

/* ---- the handshake ---- */

static int handshake(struct io *io)
{
	int r, e;

	io->hs_wants_write = 0;
	ERR_clear_error();
	r = SSL_connect(io->ssl);
	if (r == 1) {
		io->state = IO_ST_OPEN;
		update_interest(io);
		return emit(io, IO_EV_TLS_READY);
	}
	e = SSL_get_error(io->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		update_interest(io);
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		io->hs_wants_write = 1;
		update_interest(io);
		return 0;
	}
	{
		char why[200];
		long vr = SSL_get_verify_result(io->ssl);

		ssl_reason(io, e, why, sizeof(why));
		if (vr != X509_V_OK)
			return fail(io, "TLS handshake failed: %s (certificate: %s)", why,
			            X509_verify_cert_error_string(vr));
		return fail(io, "TLS handshake failed: %s", why);
	}
}

/* ---- events ---- */

static void on_connected(struct io *io)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr != 0) {
		fail(io, "connect: %s", strerror(soerr));
		return;
	}
	io->state = IO_ST_OPEN;
	update_interest(io);
	emit(io, IO_EV_CONNECTED);
}

static void on_fd(int fd, unsigned events, void *arg)
{
	struct io *io = arg;
	int r;

	(void)fd;
	io->busy++; /* keep io alive across the steps below */
	switch (io->state) {
	case IO_ST_CONNECTING:
		on_connected(io);
		break;
	case IO_ST_HANDSHAKE:
		handshake(io);
		break;
	case IO_ST_OPEN:
		if ((events & LOOP_WRITE) || io->tls_write_wants_read) {
			if (flush(io) < 0)
				break;
		}
		if (io->state != IO_ST_OPEN || io->zombie)
			break;
		if (events & (LOOP_READ | LOOP_ERROR) || io->tls_read_wants_write) {
			size_t before = buf_avail(&io->in);

			r = io->ssl ? read_tls(io) : read_plain(io);
			if (r < 0 || io->zombie)
				break;
			if (buf_avail(&io->in) > before && emit(io, IO_EV_READ) < 0)
				break;
			if (r == 0 && io->state == IO_ST_OPEN) {
				io->state = IO_ST_DEAD;
				update_interest(io);
				emit(io, IO_EV_EOF);
				break;
			}
		}
		if (io->state == IO_ST_OPEN && !io->zombie)
			update_interest(io);
		break;
	case IO_ST_DEAD:
		break;
	}
	io->busy--;
	if (io->zombie && io->busy == 0)
		really_free(io);
}

static void on_later(void *arg)
{
	struct io *io = arg;

	if (io->pending_error) {
		io->pending_error = 0;
		io->state = IO_ST_DEAD;
		update_interest(io);
		emit(io, IO_EV_ERROR);
	}
}

struct io *io_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
                      io_cb cb, void *arg)
{
	struct io *io = calloc(1, sizeof(*io));

	if (io == NULL)
		return NULL;
	io->loop = loop;
	io->cb = cb;
	io->arg = arg;
	io->state = IO_ST_CONNECTING;
	io->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd >= 0) {
		/* Every write here is a whole flight (a pipelined group, the
		 * message, the client's TLS flight), so Nagle's algorithm only
		 * delays: it held the EHLO after STARTTLS back until the server
		 * answered the client Finished (with its session tickets), one
		 * round trip for nothing (tests/bench/send-bench). A failure
		 * costs only that, so it is not an error. */
		(void)setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	}
	if (io->fd < 0) {
		snprintf(io->err, sizeof(io->err), "socket: %s", strerror(errno));
		io->pending_error = 1;
	} else if (connect(io->fd, sa, salen) < 0 && errno != EINPROGRESS) {
		snprintf(io->err, sizeof(io->err), "connect: %s", strerror(errno));
		io->pending_error = 1;
	}
	if (io->pending_error) {
		loop_timer_start(loop, &io->later, 0, on_later, io);
		return io;
	}
	update_interest(io);
	return io;
}

int io_write(struct io *io, const void *p, size_t n)
{
	if (buf_append(io->ref_len > 0 ? &io->tail : &io->out, p, n) < 0)
		return -1;
	if (io->state == IO_ST_OPEN)
		update_interest(io);
	return 0;
}

int io_write_ref(struct io *io, const void *p, size_t n)
{
	if (io->ref_len > 0 || buf_avail(&io->tail) > 0)
		return -1;
	io->ref = p;
	io->ref_len = n;
	if (io->state == IO_ST_OPEN)
		update_interest(io);
	return 0;
}

size_t io_output_pending(const struct io *io)
{
	return buf_avail(&io->out) + io->ref_len + buf_avail(&io->tail);
}

struct buf *io_input(struct io *io)
{
	return &io->in;
}

size_t io_start_tls(struct io *io, SSL *ssl)
{
	size_t dropped = buf_avail(&io->in);

	buf_reset(&io->in);
	io->ssl = ssl;
	SSL_set_fd(ssl, io->fd);
	SSL_set_connect_state(ssl);
	io->state = IO_ST_HANDSHAKE;
	/* Start on the next writable event so the callback never runs inside
	 * this call. */
	io->hs_wants_write = 1;
	update_interest(io);
	return dropped;
}

SSL *io_ssl(const struct io *io)
{
	return io->state == IO_ST_OPEN ? io->ssl : NULL;
}

const char *io_error(const struct io *io)
{
	return io->err;
}

int io_fd(const struct io *io)
{
	return io->fd;
}
