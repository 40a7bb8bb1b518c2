/*
 * echo.c - the echo service (RFC 862), TCP and UDP.
 *
 * Every byte comes back in order.  The core's backpressure keeps a client
 * that sends without reading from growing the daemon: above the output
 * high-water mark the connection is simply not read.  On half-close the
 * core's default sends what remains and closes.
 */
#include "../conn.h"

static size_t
echo_read(struct conn *c, const char *data, size_t len)
{
	if (conn_send(c, data, len) != 0)
		conn_close(c, CLOSE_ERROR);
	return len;
}

static void
echo_datagram(struct svc *svc, struct dgram *d)
{
	(void)svc;
	dgram_reply(d, d->data, d->len);
}

const struct service_type echo_service = {
	.name = "echo",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.read = echo_read,
	.datagram = echo_datagram,
};
