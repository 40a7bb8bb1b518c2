/*
 * transform.c - the small line services: upper, lower, count, digitsum
 * and reverse, over TCP (one reply line per line) and UDP (one reply
 * datagram per datagram, without line end).
 *
 * Text is UTF-8 and handled by character (code point): "grüße" counts 5,
 * "ä" becomes "Ä", reversing keeps every character whole.  Invalid UTF-8
 * gets "! invalid UTF-8".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conn.h"
#include "../log.h"
#include "../utf8.h"

#define TRANSFORM_STACK 4096          /* replies built on the stack up to this */
#define TRANSFORM_UDP_MAX 65507       /* largest IPv4 UDP payload */

enum transform_op {
	OP_UPPER,                     /* Unicode upper case */
	OP_LOWER,                     /* Unicode lower case */
	OP_COUNT,                     /* number of characters */
	OP_DIGITSUM,                  /* sum of the digits of a number */
	OP_REVERSE,                   /* characters in reverse order */
};

static const char *const transform_ops[] = {
	"upper", "lower", "count", "digitsum", "reverse", NULL
};

struct transform_conf {
	int  op;                      /* enum transform_op, -1 until set */
	long max_line;                /* longest TCP line, bytes */
};

static const struct transform_conf transform_defaults = {
	.op = -1,
	.max_line = 1024,
};

static const struct cfg_key transform_keys[] = {
	{ "op", CFG_ENUM, offsetof(struct transform_conf, op), 0, 0,
	  transform_ops },
	{ "max_line", CFG_INT, offsetof(struct transform_conf, max_line), 1,
	  65536, NULL },
	CFG_KEY_END
};

/* The digit sum of a non-negative integer written in decimal.  Blanks
 * around it and one leading "+" are allowed, as a careful user types
 * " 42" or "+42" for the number 42 and strtoul(3) and most languages read
 * it so; a "-" is not (the Quersumme of a negative number is not what was
 * asked), nor are blanks or separators inside it, nor digits of other
 * scripts.  The sum is at most 9 per digit, so a line of any length fits
 * in 64 bits and a 1000-digit number needs no big-number arithmetic.
 * Returns false when s is not such a number. */
static bool
transform_digitsum(const char *s, size_t len, unsigned long long *sum)
{
	size_t i = 0, digits = 0;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < len && s[i] == '+')
		i++;
	*sum = 0;
	for (; i < len; i++, digits++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*sum += (unsigned long long)(s[i] - '0');
	}
	return digits > 0;
}

/* Applies op to the text s.  out has room for the reply: UTF8_CASE_MAX(len)
 * bytes for upper and lower, len for reverse, 32 for a number; returns the reply (in out, or a constant error line) and its
 * length in *rlen. */
static const char *
transform_apply(int op, const char *s, size_t len, char *out, size_t *rlen)
{
	const char *err = NULL;
	unsigned long long sum;
	ssize_t n;

	if (!utf8_valid(s, len))
		err = "! invalid UTF-8";
	else if (op == OP_UPPER || op == OP_LOWER) {
		n = utf8_case(out, UTF8_CASE_MAX(len), s, len,
		    op == OP_UPPER ? UTF8_UPPER : UTF8_LOWER);
		if (n < 0)
			err = "! cannot map case here";
		else
			*rlen = (size_t)n;
	} else if (op == OP_COUNT) {
		*rlen = (size_t)sprintf(out, "%zu", utf8_count(s, len));
	} else if (op == OP_DIGITSUM) {
		if (transform_digitsum(s, len, &sum))
			*rlen = (size_t)sprintf(out, "%llu", sum);
		else
			err = "! not a number";
	} else {
		utf8_reverse(out, s, len);
		*rlen = len;
	}
	if (err != NULL) {
		*rlen = strlen(err);
		return err;
	}
	return out;
}

/* Runs transform_apply with a big enough buffer and hands the reply to
 * send; false when out of memory. */
static bool
transform_run(int op, const char *s, size_t len,
    void (*send)(void *, const char *, size_t), void *ctx)
{
	char small[TRANSFORM_STACK], *big = NULL;
	size_t rlen = 0, need = 32 +     /* count and digitsum: a number */
	    (op == OP_UPPER || op == OP_LOWER ? UTF8_CASE_MAX(len) : len);
	const char *reply;

	if (need > sizeof(small) && (big = malloc(need)) == NULL)
		return false;
	reply = transform_apply(op, s, len, big ? big : small, &rlen);
	send(ctx, reply, rlen);
	free(big);
	return true;
}

static void
transform_send_line(void *ctx, const char *reply, size_t len)
{
	struct conn *c = ctx;

	/* Not conn_answer("%.*s"): a line may hold NUL (U+0000 is valid).
	 * The answer ends as the message did (CR LF in the line protocol). */
	conn_send(c, reply, len);
	conn_send(c, c->lr.end, c->lr.endlen);
}

static enum line_result
transform_line(struct conn *c, char *line, size_t len)
{
	const struct transform_conf *tc = c->conf->tconf;

	if (!transform_run(tc->op, line, len, transform_send_line, c))
		conn_answer(c, "! out of memory");
	return LINE_MORE;
}

static int
transform_open(struct conn *c)
{
	const struct transform_conf *tc = c->conf->tconf;

	conn_set_max_line(c, (size_t)tc->max_line);
	return 0;
}

static void
transform_send_datagram(void *ctx, const char *reply, size_t len)
{
	static const char too_long[] = "! line too long";

	/* Case mapping may grow a datagram past what UDP carries. */
	if (len > TRANSFORM_UDP_MAX)
		dgram_reply(ctx, too_long, sizeof(too_long) - 1);
	else
		dgram_reply(ctx, reply, len);
}

/* One datagram is one line: a trailing LF, and a CR before it, go. */
static void
transform_datagram(struct svc *svc, struct dgram *d)
{
	const struct transform_conf *tc = svc->conf->tconf;
	size_t len = d->len;

	if (d->truncated) {
		transform_send_datagram(d, "! line too long", 15);
		return;
	}
	if (len > 0 && d->data[len - 1] == '\n')
		len--;
	if (len > 0 && d->data[len - 1] == '\r')
		len--;
	if (!transform_run(tc->op, d->data, len, transform_send_datagram, d))
		svc->stats.datagrams_dropped++;
}

static const char *
transform_configure(struct svc_conf *sc)
{
	const struct transform_conf *tc = sc->tconf;

	if (tc->op < 0)
		return "op: missing (upper, lower, count, digitsum or reverse)";
	return NULL;
}

/* Case mapping needs the C.UTF-8 character tables; without them the
 * service would answer every line with an error, so it does not start. */
static int
transform_check_locale(struct svc *svc)
{
	const struct transform_conf *tc = svc->conf->tconf;
	int err;

	if (tc->op != OP_UPPER && tc->op != OP_LOWER)
		return 0;
	if ((err = utf8_init()) < 0)
		svc_log(svc, LOG_LVL_ERROR, "cannot load the C.UTF-8 locale for "
		    "case mapping: %s", strerror(-err));
	return err;
}

static void
transform_reconfigure(struct svc *svc)
{
	(void)transform_check_locale(svc);
}

/* The line protocol, and the course's: the same answers, framed as the
 * course's servers frame them. */
static const struct service_protocol transform_protocols[] = {
	{ .name = "", .frame = FRAME_LINE, .busy = "! busy\r\n",
	  .too_long = "! line too long", .open = transform_open,
	  .message = transform_line },
	{ .name = "course", .frame = FRAME_COURSE, .busy = "! busy\r\n",
	  .too_long = "! line too long", .open = transform_open,
	  .message = transform_line },
	{ .name = NULL },
};

const struct service_type transform_service = {
	.name = "transform",
	.protos = PROTO_TCP | PROTO_UDP,
	.keys = transform_keys,
	.conf_size = sizeof(struct transform_conf),
	.conf_defaults = &transform_defaults,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.configure = transform_configure,
	.start = transform_check_locale,
	.reconfigure = transform_reconfigure,
	.protocols = transform_protocols,
	.datagram = transform_datagram,
};
