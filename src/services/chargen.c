/*
 * chargen.c - the character generator (RFC 864), TCP and UDP.
 *
 * Lines of 72 printable characters, each starting one character later in
 * the 95-character cycle, ending CRLF.  Over TCP lines are made only while
 * the output queue is below a small mark, so the generator never runs
 * ahead of its reader.  Input is ignored, as RFC 864 says (no read hook:
 * the core throws it away).
 */
#include <stdint.h>

#include "../conn.h"

#define CHARGEN_LINE     72               /* characters per line */
#define CHARGEN_CYCLE    95               /* printable ASCII 32..126 */
#define CHARGEN_QUEUE    (64 * 1024)      /* bytes kept queued at most */
#define CHARGEN_UDP_MAX  512              /* RFC 864's datagram bound */

/* Writes line number n of the pattern (74 bytes) into out. */
static void
chargen_line(unsigned n, char *out)
{
	for (unsigned k = 0; k < CHARGEN_LINE; k++)
		out[k] = (char)(' ' + (n + k) % CHARGEN_CYCLE);
	out[CHARGEN_LINE] = '\r';
	out[CHARGEN_LINE + 1] = '\n';
}

/* Fills the queue up to the mark; the line number lives in c->data. */
static void
chargen_writable(struct conn *c)
{
	unsigned n = (unsigned)(uintptr_t)c->data;
	char block[16 * (CHARGEN_LINE + 2)];

	while (c->out.pending < CHARGEN_QUEUE && c->state == CONN_OPEN) {
		for (int i = 0; i < 16; i++, n++)
			chargen_line(n % CHARGEN_CYCLE, block + i * (CHARGEN_LINE + 2));
		if (conn_send(c, block, sizeof(block)) != 0)
			break;
	}
	c->data = (void *)(uintptr_t)(n % CHARGEN_CYCLE);
}

static int
chargen_open(struct conn *c)
{
	c->high_water = CHARGEN_QUEUE * 2;
	chargen_writable(c);
	return 0;
}

/* Answers with 512 bytes of the pattern, continuing where the last
 * answer stopped. */
static void
chargen_datagram(struct svc *svc, struct dgram *d)
{
	unsigned n = (unsigned)(uintptr_t)svc->state;
	char out[CHARGEN_UDP_MAX + CHARGEN_LINE + 2];
	size_t len = 0;

	while (len < CHARGEN_UDP_MAX) {
		chargen_line(n++ % CHARGEN_CYCLE, out + len);
		len += CHARGEN_LINE + 2;
	}
	svc->state = (void *)(uintptr_t)(n % CHARGEN_CYCLE);
	dgram_reply(d, out, CHARGEN_UDP_MAX);
}

const struct service_type chargen_service = {
	.name = "chargen",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.open = chargen_open,
	.writable = chargen_writable,
	.datagram = chargen_datagram,
};
