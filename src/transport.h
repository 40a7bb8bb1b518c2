/*
 * transport.h - the one way in and out of a connection's socket.
 *
 * Every system call on a connection (recv, sendmsg, sendfile, shutdown)
 * goes through its transport, as in redis' ConnectionType and nginx's
 * c->recv / c->send_chain, so that TLS, STARTTLS and test doubles slot in
 * beneath every service unchanged.  Plain TCP is the first transport.
 * Functions return bytes done, or a negative errno (-EAGAIN: not now).
 */
#ifndef MULTID_TRANSPORT_H
#define MULTID_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

struct transport_ops {
	const char *name;                 /* "tcp", "tls", "memory" */
	/* Reads into buf; bytes, 0 at the end of input, or -errno. */
	ssize_t (*recv)(struct transport *t, void *buf, size_t len);
	/* Sends from iov; more: further bytes follow at once (MSG_MORE). */
	ssize_t (*writev)(struct transport *t, const struct iovec *iov,
	    int n, bool more);
	/* Sends len bytes of fd from *off, advancing it; NULL: the queue
	 * reads the file and uses writev. */
	ssize_t (*sendfile)(struct transport *t, int fd, off_t *off,
	    size_t len);
	/* True while bytes are held inside the transport that epoll cannot
	 * see (a TLS record already read); NULL: never. */
	bool    (*pending)(const struct transport *t);
	/* No more output: the write side ends (FIN, or TLS close_notify). */
	void    (*shutdown)(struct transport *t);
	/* Frees the transport's state (not the fd, which the conn closes). */
	void    (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;  /* how */
	int                         fd;   /* the socket */
	void                       *state; /* the transport's own (TLS), or NULL */
	bool                        eof;  /* the end of input was seen inside
	                                     the transport (a TLS close_notify
	                                     read with data before it) */
};

extern const struct transport_ops transport_tcp;

/* Sends from a file through a transport that has no sendfile of its own:
 * pread into a bounded buffer, then writev. */
ssize_t transport_copy_file(struct transport *t, int fd, off_t *off,
    size_t len);

#endif
