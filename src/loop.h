/*
 * loop: the single-threaded event loop under everything that waits.
 *
 * One epoll instance watches file descriptors; a binary heap holds timers.
 * Resolver sockets, SMTP sessions and libcurl transfers all register here,
 * so one process keeps thousands of queries and hundreds of sessions in
 * flight without a thread per connection.
 *
 * Ownership: the loop owns neither the file descriptors nor the timer
 * structs; callers embed a struct loop_timer in their own objects and must
 * cancel it (and unwatch their fds) before freeing them.
 */
#ifndef MXSEND_LOOP_H
#define MXSEND_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/* Interest and readiness bits for loop_watch and the fd callback. */
enum loop_event {
	LOOP_READ = 1 << 0,
	LOOP_WRITE = 1 << 1,
	LOOP_ERROR = 1 << 2, /* only ever reported, never requested */
};

/* Called with the ready bits (a mix of enum loop_event). */
typedef void (*loop_fd_cb)(int fd, unsigned events, void *arg);
typedef void (*loop_timer_cb)(void *arg);

/* A timer; embed it in the owner's struct and leave it zeroed. */
struct loop_timer {
	uint64_t due_ms;     /* monotonic deadline */
	size_t heap_index;   /* position in the heap, 0 = not armed */
	loop_timer_cb cb;    /* what to call when due */
	void *arg;           /* passed to cb */
};

/* A clock in milliseconds; the default reads CLOCK_MONOTONIC. Tests inject
 * their own (STYLE.md principle 5). */
typedef uint64_t (*loop_clock_fn)(void *arg);

/* New loop, or NULL when epoll or memory is not available. */
struct loop *loop_new(void);
/* Frees the loop; watched fds are not closed. NULL is fine. */
void loop_free(struct loop *loop);

void loop_set_clock(struct loop *loop, loop_clock_fn clock, void *arg);

/* Sets the interest for fd: events is a mix of LOOP_READ and LOOP_WRITE;
 * 0 stops watching fd. Returns 0, or -1 with errno set. */
int loop_watch(struct loop *loop, int fd, unsigned events, loop_fd_cb cb, void *arg);

/* Arms (or re-arms) timer to fire after ms milliseconds. */
void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint64_t ms,
                      loop_timer_cb cb, void *arg);
/* Disarms timer; harmless when it is not armed. */
void loop_timer_stop(struct loop *loop, struct loop_timer *timer);
int loop_timer_armed(const struct loop_timer *timer);

/* Current time of the loop's clock, in ms. */
uint64_t loop_now_ms(struct loop *loop);

/* Runs until nothing is watched and no timer is armed, or loop_break.
 * Returns 0, or -1 when epoll_wait fails for a reason other than EINTR. */
int loop_run(struct loop *loop);
/* Makes loop_run return after the current round of callbacks. */
void loop_break(struct loop *loop);

#endif
