/*
 * io: one non-blocking TCP connection, optionally upgraded to TLS, driven
 * by the event loop (STYLE.md principle 1: transport apart from protocol).
 *
 * It owns the socket, the SSL object once TLS starts, an input buffer of
 * bytes received and not yet consumed, and the output queue. It reports
 * events to one callback; the SMTP session is a state machine that only
 * reacts to them. Every event is delivered from the loop, never from
 * inside an io_* call, and io_free is safe from inside the callback.
 */
#ifndef MXSEND_IO_H
#define MXSEND_IO_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"

#define IO_INPUT_MAX (1u << 20) /* unconsumed input past this is an error */

struct loop;
struct io;

enum io_event {
	IO_EV_CONNECTED, /* the TCP connection is up */
	IO_EV_READ,      /* new bytes are in io_input() */
	IO_EV_TLS_READY, /* the TLS handshake finished */
	IO_EV_EOF,       /* the peer closed the connection */
	IO_EV_ERROR,     /* io_error() says why; nothing more will come */
};

typedef void (*io_cb)(void *arg, enum io_event ev);

/* Starts connecting to sa. Returns NULL only when out of memory; any other
 * failure arrives as IO_EV_ERROR from the loop. */
struct io *io_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
                      io_cb cb, void *arg);

/* Queues n bytes (copied). Returns 0, or -1 when out of memory. */
int io_write(struct io *io, const void *p, size_t n);
/* Queues n bytes that the caller keeps alive and unchanged until the
 * output queue is empty (see io_output_pending). io_write may queue more
 * behind them (a command pipelined after the message); another
 * io_write_ref may not, until they are written. Returns 0 or -1. */
int io_write_ref(struct io *io, const void *p, size_t n);
/* Bytes queued and not yet written. */
size_t io_output_pending(const struct io *io);

/* Received bytes not yet consumed; the caller consumes with buf_consume. */
struct buf *io_input(struct io *io);

/* Drops every received byte not yet consumed and starts a TLS handshake on
 * ssl (taken over: io_free frees it). Dropping the input is the defence
 * against STARTTLS command injection: nothing the server sent before the
 * handshake may be read as if it came through TLS (RFC 3207 section 6,
 * CVE-2011-0411). Returns the number of bytes dropped. */
size_t io_start_tls(struct io *io, SSL *ssl);
/* The SSL object once TLS started, else NULL. */
SSL *io_ssl(const struct io *io);

/* Why the connection failed, for IO_EV_ERROR. */
const char *io_error(const struct io *io);
/* The local and peer addresses (valid after IO_EV_CONNECTED). */
int io_fd(const struct io *io);

/* Closes and frees; safe inside the callback and with NULL. */
void io_free(struct io *io);

#endif
