/*
 * time.c - the time service (RFC 868), TCP and UDP.
 *
 * Seconds since 1900-01-01 00:00 UTC as a 32-bit big-endian number; the
 * count wraps in 2036, as RFC 868's clients expect.
 */
#include <stdint.h>
#include <time.h>

#include "../conn.h"

#define EPOCH_1900_TO_1970 2208988800u    /* seconds between the epochs */

static void
time_now(unsigned char out[4])
{
	uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900_TO_1970);

	out[0] = (unsigned char)(t >> 24);
	out[1] = (unsigned char)(t >> 16);
	out[2] = (unsigned char)(t >> 8);
	out[3] = (unsigned char)t;
}

static int
time_open(struct conn *c)
{
	unsigned char t[4];

	time_now(t);
	conn_send(c, t, sizeof(t));
	conn_close_after_flush(c);
	return 0;
}

static void
time_datagram(struct svc *svc, struct dgram *d)
{
	unsigned char t[4];

	(void)svc;
	time_now(t);
	dgram_reply(d, t, sizeof(t));
}

const struct service_type time_service = {
	.name = "time",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.open = time_open,
	.datagram = time_datagram,
};
