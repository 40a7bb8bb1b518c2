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
#define CHARGEN_ROW      (CHARGEN_LINE + 2) /* a line with its CRLF */
#define CHARGEN_BLOCK    16               /* lines per TCP send */
#define CHARGEN_QUEUE    (64 * 1024)      /* bytes kept queued at most */
#define CHARGEN_UDP_MAX  512              /* RFC 864's datagram bound */
#define CHARGEN_UDP_ROWS ((CHARGEN_UDP_MAX + CHARGEN_ROW - 1) / CHARGEN_ROW)

/* The whole pattern, its 95 lines once, and then as many again as one
 * send may run past the last: any run of lines is one span of it. */
static char chargen_text[(CHARGEN_CYCLE + CHARGEN_BLOCK) * CHARGEN_ROW];
_Static_assert(CHARGEN_UDP_ROWS <= CHARGEN_BLOCK, "a datagram's lines fit");

/* Lines n.. of the pattern (n below CHARGEN_CYCLE). */
static const char *
chargen_lines(unsigned n)
{
	if (chargen_text[0] == '\0')
		for (unsigned i = 0; i < CHARGEN_CYCLE + CHARGEN_BLOCK; i++) {
			char *row = chargen_text + i * CHARGEN_ROW;

			for (unsigned k = 0; k < CHARGEN_LINE; k++)
				row[k] = (char)(' ' + (i + k) % CHARGEN_CYCLE);
			row[CHARGEN_LINE] = '\r';
			row[CHARGEN_LINE + 1] = '\n';
		}
	return chargen_text + n * CHARGEN_ROW;
}

/* Fills the queue up to the mark; the next line number lives in c->data. */
static void
chargen_writable(struct conn *c)
{
	unsigned n = (unsigned)(uintptr_t)c->data;

	while (c->out.pending < CHARGEN_QUEUE && c->state == CONN_OPEN) {
		if (conn_send(c, chargen_lines(n), CHARGEN_BLOCK * CHARGEN_ROW) != 0)
			break;
		n = (n + CHARGEN_BLOCK) % CHARGEN_CYCLE;
	}
	c->data = (void *)(uintptr_t)n;
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

	dgram_reply(d, chargen_lines(n), CHARGEN_UDP_MAX);
	svc->state = (void *)(uintptr_t)((n + CHARGEN_UDP_ROWS) % CHARGEN_CYCLE);
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
