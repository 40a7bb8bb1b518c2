/*
 * ev.c - the reactor: file events, timers and before-sleep hooks.
 *
 * File events are kept in an array indexed by fd, as in redis's ae.  Timers
 * are few (service sweeps, flush deadlines, the watchdog), so they live in
 * an unsorted list and the nearest one is found by a scan.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

struct ev_file {
	int           mask;   /* EV_READABLE | EV_WRITABLE wanted */
	ev_file_proc *proc;   /* the callback for both directions */
	void         *data;   /* the owner's pointer */
};

struct ev_fired {
	int fd;               /* which fd, or -1 once stale */
	int mask;             /* what happened */
};

struct ev_timer {
	long long        id;      /* handle returned to the caller */
	int64_t          when;    /* deadline in monotonic ms */
	ev_timer_proc   *proc;    /* the callback */
	void            *data;    /* the owner's pointer */
	int              dead;    /* deleted, freed after the timer pass */
	struct ev_timer *next;    /* next in the unsorted list */
};

struct ev_hook {
	ev_hook_proc   *proc;     /* the callback */
	void           *data;     /* the owner's pointer */
	struct ev_hook *next;     /* next hook, in order of addition */
};

struct ev_loop {
	int              setsize;     /* fds tracked: max fd + 1 */
	struct ev_file  *files;       /* per-fd registration */
	struct ev_fired *fired;       /* events of the current batch */
	int              nfired;      /* how many in fired */
	struct ev_timer *timers;      /* all timers */
	long long        next_timer;  /* last id handed out */
	struct ev_hook  *hooks;       /* before-sleep hooks */
	int              stop;        /* ev_stop() was called */
	int              no_wait;     /* ev_no_wait() was called */
	int64_t          now;         /* cached monotonic ms */
	void            *backend;     /* struct ev_backend */
};

#include "ev_epoll.c"

int64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ev_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct ev_loop *
ev_create(int setsize)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->setsize = setsize;
	loop->files = calloc((size_t)setsize, sizeof(*loop->files));
	loop->fired = calloc((size_t)setsize, sizeof(*loop->fired));
	if (loop->files == NULL || loop->fired == NULL ||
	    ev_backend_create(loop) != 0) {
		free(loop->files);
		free(loop->fired);
		free(loop);
		return NULL;
	}
	loop->now = ev_clock_ms();
	return loop;
}

void
ev_destroy(struct ev_loop *loop)
{
	while (loop->timers != NULL) {
		struct ev_timer *t = loop->timers;
		loop->timers = t->next;
		free(t);
	}
	while (loop->hooks != NULL) {
		struct ev_hook *h = loop->hooks;
		loop->hooks = h->next;
		free(h);
	}
	ev_backend_free(loop);
	free(loop->files);
	free(loop->fired);
	free(loop);
}

int64_t
ev_now(const struct ev_loop *loop)
{
	return loop->now;
}

int
ev_add(struct ev_loop *loop, int fd, int mask, ev_file_proc *proc, void *data)
{
	struct ev_file *f;
	int err;

	if (fd < 0 || fd >= loop->setsize)
		return -ERANGE;
	f = &loop->files[fd];
	if ((f->mask | mask) != f->mask) {
		err = ev_backend_set(loop, fd, f->mask, f->mask | mask);
		if (err != 0)
			return err;
	}
	f->mask |= mask;
	f->proc = proc;
	f->data = data;
	return 0;
}

void
ev_del(struct ev_loop *loop, int fd, int mask)
{
	struct ev_file *f;

	if (fd < 0 || fd >= loop->setsize)
		return;
	f = &loop->files[fd];
	if ((f->mask & mask) == 0)
		return;
	(void)ev_backend_set(loop, fd, f->mask, f->mask & ~mask);
	f->mask &= ~mask;
}

long long
ev_timer_add(struct ev_loop *loop, long ms, ev_timer_proc *proc, void *data)
{
	struct ev_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->id = ++loop->next_timer;
	t->when = ev_clock_ms() + ms;
	t->proc = proc;
	t->data = data;
	t->next = loop->timers;
	loop->timers = t;
	return t->id;
}

void
ev_timer_del(struct ev_loop *loop, long long id)
{
	for (struct ev_timer *t = loop->timers; t != NULL; t = t->next)
		if (t->id == id)
			t->dead = 1;
}

int
ev_before_sleep(struct ev_loop *loop, ev_hook_proc *proc, void *data)
{
	struct ev_hook *h = calloc(1, sizeof(*h)), **tail = &loop->hooks;

	if (h == NULL)
		return -ENOMEM;
	h->proc = proc;
	h->data = data;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = h;
	return 0;
}

void
ev_no_wait(struct ev_loop *loop)
{
	loop->no_wait = 1;
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stop = 1;
}

/* Milliseconds until the nearest timer, or -1 to wait without limit. */
static int
ev_timeout(struct ev_loop *loop)
{
	int64_t nearest = -1;

	for (struct ev_timer *t = loop->timers; t != NULL; t = t->next)
		if (!t->dead && (nearest == -1 || t->when < nearest))
			nearest = t->when;
	if (nearest == -1)
		return -1;
	nearest -= ev_clock_ms();
	return nearest < 0 ? 0 : (int)(nearest > 60000 ? 60000 : nearest);
}

/* Runs due timers once, then frees the ones that ended. */
static void
ev_run_timers(struct ev_loop *loop)
{
	int64_t now = loop->now;

	for (struct ev_timer *t = loop->timers; t != NULL; t = t->next) {
		long next;

		if (t->dead || t->when > now)
			continue;
		next = t->proc(loop, t->id, t->data);
		if (next < 0)
			t->dead = 1;
		else
			t->when = now + next;
	}
	for (struct ev_timer **p = &loop->timers; *p != NULL;) {
		struct ev_timer *t = *p;
		if (t->dead) {
			*p = t->next;
			free(t);
		} else {
			p = &t->next;
		}
	}
}

/* Delivers one batch of file events.  An fd whose interest was removed
 * earlier in the batch (its owner closed) has mask 0 and is skipped. */
static void
ev_run_files(struct ev_loop *loop)
{
	for (int i = 0; i < loop->nfired; i++) {
		int fd = loop->fired[i].fd;
		struct ev_file *f = &loop->files[fd];
		int mask = loop->fired[i].mask & f->mask;

		if (mask != 0)
			f->proc(loop, fd, f->data, mask);
	}
	loop->nfired = 0;
}

void
ev_run(struct ev_loop *loop)
{
	loop->stop = 0;
	while (!loop->stop) {
		for (struct ev_hook *h = loop->hooks; h != NULL; h = h->next)
			h->proc(loop, h->data);
		if (loop->stop)
			break;
		loop->nfired = ev_backend_poll(loop,
		    loop->no_wait ? 0 : ev_timeout(loop));
		loop->no_wait = 0;
		loop->now = ev_clock_ms();
		ev_run_files(loop);
		ev_run_timers(loop);
	}
}
