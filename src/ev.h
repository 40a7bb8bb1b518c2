/*
 * ev.h - the reactor: one epoll loop with file events, timers and a
 * before-sleep hook.
 *
 * The shape follows redis's ae: callbacks are function types, the epoll
 * backend lives behind a handful of static functions in ev_epoll.c, and
 * everything else in multid registers interest here and never calls
 * epoll_wait(2) itself.
 */
#ifndef MULTID_EV_H
#define MULTID_EV_H

#include <stdint.h>

#define EV_NONE     0
#define EV_READABLE 1
#define EV_WRITABLE 2

struct ev_loop;

/* Called when fd becomes readable and/or writable (mask says which). */
typedef void ev_file_proc(struct ev_loop *loop, int fd, void *data, int mask);
/* Called when a timer fires; returns the next delay in ms, or -1 to stop. */
typedef long ev_timer_proc(struct ev_loop *loop, long long id, void *data);
/* Called once per loop iteration, after events are handled, before waiting. */
typedef void ev_hook_proc(struct ev_loop *loop, void *data);

struct ev_loop *ev_create(int setsize);
void ev_destroy(struct ev_loop *loop);

/* Adds mask to the interest set of fd; returns 0 or a negative errno. */
int ev_add(struct ev_loop *loop, int fd, int mask, ev_file_proc *proc,
    void *data);
/* Removes mask from fd's interest set; events still queued are dropped. */
void ev_del(struct ev_loop *loop, int fd, int mask);

/* Calls proc after ms milliseconds; returns the timer id (> 0). */
long long ev_timer_add(struct ev_loop *loop, long ms, ev_timer_proc *proc,
    void *data);
void ev_timer_del(struct ev_loop *loop, long long id);

/* Adds a before-sleep hook; hooks run in the order they were added. */
int ev_before_sleep(struct ev_loop *loop, ev_hook_proc *proc, void *data);

/* The next wait does not sleep: a hook left work for the next iteration
 * and wants the events that came meanwhile handled first. */
void ev_no_wait(struct ev_loop *loop);

/* Runs until ev_stop(); ev_stop() may be called from any callback. */
void ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

/* Monotonic time in milliseconds, cached once per loop iteration. */
int64_t ev_now(const struct ev_loop *loop);
/* Monotonic time in milliseconds, read from the clock now. */
int64_t ev_clock_ms(void);
/* Monotonic time in microseconds, read from the clock now. */
int64_t ev_clock_us(void);

#endif
