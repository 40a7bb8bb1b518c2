/*
 * transport_tcp.c - plain TCP under a connection: the system calls
 * themselves, nothing held in between.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "transport.h"

#define TRANSPORT_COPY_CHUNK (64 * 1024)  /* bytes read from a file at once */

static ssize_t
tcp_recv(struct transport *t, void *buf, size_t len)
{
	ssize_t n = recv(t->fd, buf, len, 0);

	return n < 0 ? -errno : n;
}

static ssize_t
tcp_writev(struct transport *t, const struct iovec *iov, int n, bool more)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov,
	    .msg_iovlen = (size_t)n };
	ssize_t r = sendmsg(t->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));

	return r < 0 ? -errno : r;
}

static ssize_t
tcp_sendfile(struct transport *t, int fd, off_t *off, size_t len)
{
	ssize_t r = sendfile(t->fd, fd, off, len);

	return r < 0 ? -errno : r;
}

static void
tcp_shutdown(struct transport *t)
{
	shutdown(t->fd, SHUT_WR);
}

const struct transport_ops transport_tcp = {
	.name = "tcp",
	.recv = tcp_recv,
	.writev = tcp_writev,
	.sendfile = tcp_sendfile,
	.shutdown = tcp_shutdown,
};

ssize_t
transport_copy_file(struct transport *t, int fd, off_t *off, size_t len)
{
	static char chunk[TRANSPORT_COPY_CHUNK];   /* one reactor thread */
	struct iovec iov;
	ssize_t r, w;

	if (len > sizeof(chunk))
		len = sizeof(chunk);
	if ((r = pread(fd, chunk, len, *off)) < 0)
		return -errno;
	if (r == 0)
		return 0;
	iov.iov_base = chunk;
	iov.iov_len = (size_t)r;
	if ((w = t->ops->writev(t, &iov, 1, false)) > 0)
		*off += w;
	return w;
}
