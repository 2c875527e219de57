/*
 * loop: epoll plus a timer heap. See loop.h.
 *
 * Watchers are kept in an array indexed by fd, because the kernel hands out
 * the lowest free descriptor and the array stays dense. Timers live in a
 * 1-based binary min-heap of pointers to caller-owned structs; each timer
 * remembers its index so that stopping one is O(log n).
 *
 * Must not: close fds, allocate per event, or call back into a watcher that
 * was removed earlier in the same round (watch entries are checked again
 * after each callback).
 */
#include "config.h"

#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct loop_watcher {
	unsigned events; /* interest registered with epoll, 0 = none */
	loop_fd_cb cb;   /* callback for this fd */
	void *arg;       /* its argument */
};

struct loop {
	int epfd;                       /* the epoll instance */
	struct loop_watcher *watchers;  /* indexed by fd */
	size_t nwatchers_alloc;         /* size of watchers */
	size_t nwatched;                /* fds with interest != 0 */
	struct loop_timer **heap;       /* 1-based min-heap on due_ms */
	size_t heap_len;                /* armed timers */
	size_t heap_alloc;              /* allocated slots, including slot 0 */
	loop_clock_fn clock;            /* time source */
	void *clock_arg;                /* its argument */
	int stop;                       /* set by loop_break */
};

static uint64_t monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	loop->clock = monotonic_ms;
	return loop;
}

void loop_free(struct loop *loop)
{
	if (loop == NULL)
		return;
	close(loop->epfd);
	free(loop->watchers);
	free(loop->heap);
	free(loop);
}

void loop_set_clock(struct loop *loop, loop_clock_fn clock, void *arg)
{
	loop->clock = clock != NULL ? clock : monotonic_ms;
	loop->clock_arg = arg;
}

uint64_t loop_now_ms(struct loop *loop)
{
	return loop->clock(loop->clock_arg);
}

static int watchers_reserve(struct loop *loop, int fd)
{
	size_t want = (size_t)fd + 1;
	size_t n;
	struct loop_watcher *w;

	if (want <= loop->nwatchers_alloc)
		return 0;
	n = loop->nwatchers_alloc ? loop->nwatchers_alloc : 64;
	while (n < want)
		n *= 2;
	w = realloc(loop->watchers, n * sizeof(*w));
	if (w == NULL)
		return -1;
	memset(w + loop->nwatchers_alloc, 0, (n - loop->nwatchers_alloc) * sizeof(*w));
	loop->watchers = w;
	loop->nwatchers_alloc = n;
	return 0;
}

int loop_watch(struct loop *loop, int fd, unsigned events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev;
	struct loop_watcher *w;
	int op;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	events &= LOOP_READ | LOOP_WRITE;
	if (watchers_reserve(loop, fd) < 0)
		return -1;
	w = &loop->watchers[fd];
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = fd;
	if (events & LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (w->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (op == EPOLL_CTL_DEL && w->events == 0)
		return 0;
	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
		/* A closed fd has already left the epoll set. */
		if (!(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)))
			return -1;
	}
	if (w->events == 0 && events != 0)
		loop->nwatched++;
	else if (w->events != 0 && events == 0)
		loop->nwatched--;
	w->events = events;
	w->cb = events ? cb : NULL;
	w->arg = events ? arg : NULL;
	return 0;
}

/* ---- timer heap ---- */

static void heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->due_ms > t->due_ms) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t c = i * 2;

		if (c > loop->heap_len)
			break;
		if (c + 1 <= loop->heap_len && loop->heap[c + 1]->due_ms < loop->heap[c]->due_ms)
			c++;
		if (loop->heap[c]->due_ms >= t->due_ms)
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

void loop_timer_stop(struct loop *loop, struct loop_timer *timer)
{
	size_t i = timer->heap_index;
	struct loop_timer *last;

	if (i == 0)
		return;
	last = loop->heap[loop->heap_len--];
	timer->heap_index = 0;
	if (last == timer)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index);
}

void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint64_t ms,
                      loop_timer_cb cb, void *arg)
{
	loop_timer_stop(loop, timer);
	timer->due_ms = loop_now_ms(loop) + ms;
	timer->cb = cb;
	timer->arg = arg;
	if (loop->heap_len + 2 > loop->heap_alloc) {
		size_t n = loop->heap_alloc ? loop->heap_alloc * 2 : 64;
		struct loop_timer **h = realloc(loop->heap, n * sizeof(*h));

		if (h == NULL)
			abort(); /* a timer that silently never fires would hang a session */
		loop->heap = h;
		loop->heap_alloc = n;
	}
	loop->heap_len++;
	heap_set(loop, loop->heap_len, timer);
	heap_up(loop, loop->heap_len);
}

int loop_timer_armed(const struct loop_timer *timer)
{
	return timer->heap_index != 0;
}

void loop_break(struct loop *loop)
{
	loop->stop = 1;
}

static void run_due_timers(struct loop *loop)
{
	uint64_t now = loop_now_ms(loop);

	while (loop->heap_len > 0 && loop->heap[1]->due_ms <= now && !loop->stop) {
		struct loop_timer *t = loop->heap[1];

		loop_timer_stop(loop, t);
		t->cb(t->arg);
	}
}

static int next_wait_ms(struct loop *loop)
{
	uint64_t now, due;

	if (loop->heap_len == 0)
		return -1;
	now = loop_now_ms(loop);
	due = loop->heap[1]->due_ms;
	if (due <= now)
		return 0;
	return due - now > 60000 ? 60000 : (int)(due - now);
}

int loop_run(struct loop *loop)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	loop->stop = 0;
	while (!loop->stop && (loop->nwatched > 0 || loop->heap_len > 0)) {
		int n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, next_wait_ms(loop));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			int fd = evs[i].data.fd;
			struct loop_watcher *w;
			unsigned ready = 0;

			if ((size_t)fd >= loop->nwatchers_alloc)
				continue;
			w = &loop->watchers[fd];
			if (w->events == 0 || w->cb == NULL)
				continue; /* removed by an earlier callback in this round */
			if (evs[i].events & EPOLLIN)
				ready |= LOOP_READ;
			if (evs[i].events & EPOLLOUT)
				ready |= LOOP_WRITE;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				ready |= LOOP_ERROR | (w->events & (LOOP_READ | LOOP_WRITE));
			w->cb(fd, ready, w->arg);
		}
		run_due_timers(loop);
	}
	return 0;
}
