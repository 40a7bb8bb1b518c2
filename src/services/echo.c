/*
 * echo.c - the echo service (RFC 862), TCP and UDP.
 *
 * Every byte comes back in order.  The core's backpressure keeps a client
 * that sends without reading from growing the daemon: above the output
 * high-water mark the connection is simply not read.  On half-close the
 * core's default sends what remains and closes.
 *
 * The course's echo server (protocol "course") answers each message in
 * the course's framing, and closes on a message that is exactly "exit".
 */
#include <string.h>

#include "../conn.h"

static size_t
echo_read(struct conn *c, const char *data, size_t len)
{
	if (conn_send(c, data, len) != 0)
		conn_close(c, CLOSE_ERROR);
	return len;
}

static enum line_result
echo_course_message(struct conn *c, char *msg, size_t len)
{
	if (len == 4 && memcmp(msg, "exit", 4) == 0) {
		conn_close_after_flush(c);
		return LINE_STOP;
	}
	if (conn_send(c, msg, len) != 0 ||
	    conn_send(c, c->lr.end, c->lr.endlen) != 0)
		conn_close(c, CLOSE_ERROR);
	return LINE_MORE;
}

static void
echo_datagram(struct svc *svc, struct dgram *d)
{
	(void)svc;
	dgram_reply(d, d->data, d->len);
}

static const struct service_protocol echo_protocols[] = {
	{ .name = "", .frame = FRAME_RAW, .read = echo_read },
	{ .name = "course", .frame = FRAME_COURSE,
	  .message = echo_course_message },
	{ .name = NULL },
};

const struct service_type echo_service = {
	.name = "echo",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.protocols = echo_protocols,
	.datagram = echo_datagram,
};
