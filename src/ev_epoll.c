/*
 * ev_epoll.c - the epoll backend of the reactor, included by ev.c.
 *
 * Level-triggered on purpose: a connection that stops reading early to stay
 * fair (bounded work per wakeup) is simply woken again on the next turn.
 */
#include <sys/epoll.h>

struct ev_backend {
	int                 epfd;     /* the epoll instance */
	struct epoll_event *events;   /* what epoll_wait returned, setsize slots */
};

static int
ev_backend_create(struct ev_loop *loop)
{
	struct ev_backend *be = calloc(1, sizeof(*be));

	if (be == NULL)
		return -ENOMEM;
	be->events = calloc((size_t)loop->setsize, sizeof(*be->events));
	be->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->events == NULL || be->epfd == -1) {
		int err = be->epfd == -1 ? -errno : -ENOMEM;
		if (be->epfd != -1)
			close(be->epfd);
		free(be->events);
		free(be);
		return err;
	}
	loop->backend = be;
	return 0;
}

static void
ev_backend_free(struct ev_loop *loop)
{
	struct ev_backend *be = loop->backend;

	close(be->epfd);
	free(be->events);
	free(be);
}

/* Changes fd's registration from its old mask to the new one. */
static int
ev_backend_set(struct ev_loop *loop, int fd, int oldmask, int newmask)
{
	struct ev_backend *be = loop->backend;
	struct epoll_event ee = { 0 };
	int op;

	if (newmask == EV_NONE)
		op = EPOLL_CTL_DEL;
	else
		op = oldmask == EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (newmask & EV_READABLE)
		ee.events |= EPOLLIN;
	if (newmask & EV_WRITABLE)
		ee.events |= EPOLLOUT;
	ee.data.fd = fd;
	if (epoll_ctl(be->epfd, op, fd, &ee) == -1)
		return -errno;
	return 0;
}

/* Waits up to timeout ms; fills loop->fired and returns how many. */
static int
ev_backend_poll(struct ev_loop *loop, int timeout)
{
	struct ev_backend *be = loop->backend;
	int n = epoll_wait(be->epfd, be->events, loop->setsize, timeout);

	for (int i = 0; i < n; i++) {
		struct epoll_event *e = &be->events[i];
		int mask = 0;

		if (e->events & EPOLLIN)
			mask |= EV_READABLE;
		if (e->events & EPOLLOUT)
			mask |= EV_WRITABLE;
		/* Errors and hang-ups are reported as both, so the owner's
		 * read or write sees the failure and closes. */
		if (e->events & (EPOLLERR | EPOLLHUP))
			mask |= EV_READABLE | EV_WRITABLE;
		loop->fired[i].fd = e->data.fd;
		loop->fired[i].mask = mask;
	}
	return n < 0 ? 0 : n;
}
