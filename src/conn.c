/*
 * conn.c - TCP connections: input, output queues, backpressure, closing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "admit.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define CONN_READ_CHUNK  (64 * 1024)   /* bytes read per wakeup at most */
#define CONN_WRITE_BURST (1024 * 1024) /* bytes sent per flush at most */
#define CONN_LINGER_MS   2000          /* wait for the client's FIN */
#define CONN_STUCK_MS    30000         /* a drain with no progress ends */
#define CONN_REJECT_MAX  1024          /* refused connections lingering */

static char conn_scratch[CONN_READ_CHUNK];  /* one read buffer for all */
static unsigned conn_rejects;               /* refused ones still open */

const char *
close_reason_text(enum close_reason why)
{
	static const char *const text[] = {
		[CLOSE_PEER] = "closed by client",
		[CLOSE_DONE] = "done",
		[CLOSE_IDLE] = "idle timeout",
		[CLOSE_SLOW] = "too slow",
		[CLOSE_ERROR] = "error",
		[CLOSE_SHUTDOWN] = "shutting down",
		[CLOSE_REMOVED] = "service removed",
	};
	return text[why];
}

/* Time one conn_flush_all may take before the loop looks for input. */
#define FLUSH_SLICE_US 200

static void conn_event(struct ev_loop *loop, int fd, void *data, int mask);
static void conn_flush(struct conn *c);

/* Whether the type makes output for this connection as the socket
 * drains. */
static bool
conn_produces(const struct conn *c)
{
	return c->state == CONN_OPEN && c->type->writable != NULL &&
	    !c->writable_off;
}

/* Puts c at the back of the flush list. */
static void
conn_queue(struct conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->flush_next = NULL;
	if (server.flush_tail != NULL)
		server.flush_tail->flush_next = c;
	else
		server.flush_list = c;
	server.flush_tail = c;
}

/* Input kept while the connection could not take it is delivered from
 * the flush list (or by the next read event), not at once: the caller
 * may be inside this connection's own callback.  So is input that the
 * transport holds and epoll cannot see. */
static void
conn_replay_later(struct conn *c)
{
	if (c->in.len > 0)
		c->replay = true;
	if (c->replay || c->read_pending)
		conn_queue(c);
}

/* Registers read interest unless input is stopped for a reason. */
static void
conn_update_read(struct conn *c)
{
	bool want = c->state == CONN_LINGERING || c->state == CONN_DRAINING ||
	    (c->state == CONN_OPEN && !c->paused && !c->throttled &&
	    !c->peer_eof);

	if (c->opening || c->handshaking)
		return;         /* conn_start registers once open has run */
	if (c->state == CONN_DRAINING && c->peer_eof)
		want = false;
	if (want)
		ev_add(server.loop, c->fd, EV_READABLE, conn_event, c);
	else
		ev_del(server.loop, c->fd, EV_READABLE);
}

static struct conn *
conn_alloc(struct svc *svc, struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->tp.ops = &transport_tcp;
	c->tp.fd = fd;
	c->svc = svc;
	c->conf = svc_conf_ref(svc->conf);
	c->type = c->conf->type;
	c->listener = l;
	c->proto = l->proto != NULL ? l->proto :
	    service_protocol_get(c->type, 0);
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	c->high_water = CONN_HIGH_WATER;
	c->hard_cap = CONN_HARD_CAP;
	c->last_input = c->last_progress = ev_now(server.loop);
	c->next = svc->conns;
	if (svc->conns != NULL)
		svc->conns->prev = c;
	svc->conns = c;
	return c;
}

/* The service meets its connection: framing, its open hook, the first
 * flush and read interest. */
static void
conn_start(struct conn *c)
{
	if (c->proto->frame != FRAME_RAW)
		frame_init(&c->lr, c->proto->frame, 1024);
	c->started = true;
	c->opening = true;
	if (c->proto->open != NULL && c->proto->open(c) < 0) {
		c->opening = false;
		conn_close(c, CLOSE_DONE);
		return;
	}
	c->opening = false;
	/* A one-shot reply (daytime, time) goes out at once: mostly the
	 * socket takes it and closes without ever being registered with
	 * epoll, two system calls fewer per connection. */
	if (c->state == CONN_DRAINING)
		conn_flush(c);
	if (c->state != CONN_CLOSED)
		conn_update_read(c);
	/* Output written by open is queued already; a type that makes
	 * output as the socket drains gets its first turn too. */
	if (conn_produces(c))
		conn_queue(c);
}

/* A TLS handshake fails or times out: logged, counted, closed. */
static void
conn_handshake_failed(struct conn *c, const char *why)
{
	log_info("%s: %s: TLS handshake failed: %s", c->conf->name,
	    conn_peer_text(c), why);
	c->svc->stats.tls_handshakes[1]++;
	conn_close(c, CLOSE_ERROR);
}

/* Drives a TLS handshake on the reactor; once done, the service starts. */
static void
conn_handshake(struct conn *c)
{
	const char *why = NULL;
	bool want_write = false;
	int r = tls_handshake(&c->tp, &want_write, &why);

	if (r == -EAGAIN) {
		ev_add(server.loop, c->fd, want_write ? EV_WRITABLE : EV_READABLE,
		    conn_event, c);
		ev_del(server.loop, c->fd, want_write ? EV_READABLE : EV_WRITABLE);
		return;
	}
	if (r < 0) {
		conn_handshake_failed(c, why);
		return;
	}
	c->handshaking = false;
	c->deadline = 0;
	c->last_input = ev_now(server.loop);
	c->svc->stats.tls_handshakes[0]++;
	c->svc->stats.tls_resumed += tls_resumed(&c->tp);
	ev_del(server.loop, c->fd, EV_WRITABLE);
	if (c->started)
		conn_update_read(c);      /* after STARTTLS: the session goes on */
	else
		conn_start(c);
	/* Data that came with the handshake's last flight is inside
	 * OpenSSL already, out of epoll's sight. */
	if (c->state == CONN_OPEN && c->tp.ops->pending(&c->tp)) {
		c->read_pending = true;
		conn_queue(c);
	}
}

int
conn_starttls(struct conn *c)
{
	if (c->conf->tls.ctx == NULL || c->tp.ops != &transport_tcp ||
	    c->state != CONN_OPEN)
		return -ENOTSUP;
	c->starttls = true;
	c->paused = true;             /* nothing more is read in plain text */
	conn_update_read(c);
	conn_queue(c);
	return 0;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->tp.ops == &transport_tls;
}

/* The reply to STARTTLS is out: what was received in plain text and not
 * yet delivered goes, and the handshake begins. */
static void
conn_switch_to_tls(struct conn *c)
{
	c->starttls = false;
	c->paused = false;
	c->replay = c->read_pending = false;
	buf_consume(&c->in, c->in.len);
	if (c->proto->frame != FRAME_RAW) {
		line_free(&c->lr);
		frame_init(&c->lr, c->proto->frame, c->lr.max);
	}
	if (tls_transport_start(&c->tp, c->conf->tls.ctx) != 0) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	c->handshaking = true;
	c->deadline = ev_now(server.loop) + TLS_HANDSHAKE_MS;
	conn_handshake(c);
}

struct conn *
conn_new(struct svc *svc, struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct conn *c = conn_alloc(svc, l, fd, peer, peerlen);

	if (c == NULL)
		return NULL;
	svc->stats.connections_total++;
	if (l->addr.tls) {
		if (tls_transport_start(&c->tp, c->conf->tls.ctx) != 0) {
			conn_close(c, CLOSE_ERROR);
			return c;
		}
		c->handshaking = true;
		c->deadline = ev_now(server.loop) + TLS_HANDSHAKE_MS;
		conn_handshake(c);
		return c;
	}
	conn_start(c);
	return c;
}

void
conn_reject(struct svc *svc, struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen)
{
	/* A TLS client would take a plain busy line for garbage. */
	const char *busy = l->addr.tls ? NULL : l->proto != NULL ?
	    l->proto->busy : svc->conf->type->busy;
	struct conn *c;

	/* Past the cap a refusal costs no memory and lingers no more. */
	if (conn_rejects >= CONN_REJECT_MAX ||
	    (c = conn_alloc(svc, l, fd, peer, peerlen)) == NULL) {
		if (busy != NULL)
			(void)send(fd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	conn_rejects++;
	c->rejected = true;
	if (busy != NULL)
		outq_append(&c->out, busy, strlen(busy));
	conn_close_after_flush(c);
}

void
conn_set_max_line(struct conn *c, size_t max)
{
	if (c->lr.frame != FRAME_IRC)
		c->lr.max = max;
}

void
conn_forget_listener(const struct listener *l)
{
	for (struct svc *s = server.services; s != NULL; s = s->next)
		for (struct conn *c = s->conns; c != NULL; c = c->next)
			if (c->listener == l)
				c->listener = NULL;
}

const char *
conn_peer_text(const struct conn *c)
{
	static char text[ADDR_TEXT_MAX];

	addr_text((const struct sockaddr *)&c->peer, text, sizeof(text));
	return text;
}

/* Decides whether len more bytes may be queued.  A draining connection
 * still takes output (a reply to a command that was in flight when the
 * close began).  Past the hard cap, which counts the queue's bookkeeping
 * too, the client is marked to be dropped and nothing more is queued, so
 * memory stays bounded.  0, -EPIPE or -ENOBUFS. */
static int
conn_may_queue(struct conn *c, size_t len)
{
	if ((c->state != CONN_OPEN && c->state != CONN_DRAINING) || c->over_cap)
		return -EPIPE;
	conn_queue(c);
	if (c->out.pending - c->out.file_bytes + c->out.overhead + len >
	    c->hard_cap) {
		c->over_cap = true;
		return -ENOBUFS;
	}
	return 0;
}

int
conn_send(struct conn *c, const void *data, size_t len)
{
	int err = conn_may_queue(c, len);

	return err != 0 ? err : outq_append(&c->out, data, len);
}

static int
conn_vprintf(struct conn *c, const char *crlf, const char *fmt, va_list ap)
{
	char small[1024], *big = NULL;
	va_list ap2;
	int n, err;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small) - 2, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return -EINVAL;
	}
	if ((size_t)n < sizeof(small) - 2) {
		va_end(ap2);
		memcpy(small + n, crlf, strlen(crlf));
		return conn_send(c, small, (size_t)n + strlen(crlf));
	}
	if ((big = malloc((size_t)n + 3)) == NULL) {
		va_end(ap2);
		return -ENOMEM;
	}
	vsnprintf(big, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	memcpy(big + n, crlf, strlen(crlf));
	err = conn_send(c, big, (size_t)n + strlen(crlf));
	free(big);
	return err;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = conn_vprintf(c, "", fmt, ap);
	va_end(ap);
	return err;
}

int
conn_reply(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = conn_vprintf(c, "\r\n", fmt, ap);
	va_end(ap);
	return err;
}

int
conn_answer(struct conn *c, const char *fmt, ...)
{
	char end[3] = { 0 };
	va_list ap;
	int err;

	/* A NUL ending is written after the text, as conn_vprintf copies
	 * the ending with strlen. */
	if (c->lr.frame == FRAME_NUL) {
		va_start(ap, fmt);
		err = conn_vprintf(c, "", fmt, ap);
		va_end(ap);
		return err != 0 ? err : conn_send(c, "", 1);
	}
	memcpy(end, c->lr.end, c->lr.endlen);
	va_start(ap, fmt);
	err = conn_vprintf(c, end, fmt, ap);
	va_end(ap);
	return err;
}

int
conn_send_shared(struct conn *c, struct rbuf *rb)
{
	int err = conn_may_queue(c, rb->len);

	return err != 0 ? err : outq_append_shared(&c->out, rb, 0, rb->len);
}

/* A file range counts against no cap: it is sent from the page cache, not
 * held in memory. */
int
conn_send_file(struct conn *c, int fd, off_t off, size_t len)
{
	int err = conn_may_queue(c, 0);

	if (err != 0) {
		close(fd);
		return err;
	}
	return outq_append_file(&c->out, fd, off, len);
}

void
conn_want_writable(struct conn *c, bool want)
{
	c->writable_off = !want;
	if (conn_produces(c))
		conn_queue(c);
}

void
conn_pause(struct conn *c)
{
	c->paused = true;
	conn_update_read(c);
}

void
conn_resume(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	if (c->state == CONN_DRAINING)
		conn_queue(c);          /* the flush may finish the close now */
	if (c->state != CONN_OPEN)
		return;
	conn_update_read(c);
	conn_replay_later(c);
}

/* Whether the service may be handed more input now. */
static bool
conn_accepts_input(const struct conn *c)
{
	return c->state == CONN_OPEN && !c->paused && !c->throttled &&
	    !c->over_cap;
}

/* Stops reading while the output queue is above the high-water mark:
 * a client that sends but does not read is not read from either. */
static void
conn_check_throttle(struct conn *c)
{
	if (!c->throttled && c->out.pending > c->high_water) {
		c->throttled = true;
		conn_update_read(c);
	}
}

static enum line_result
conn_on_line(void *ctx, char *line, size_t len)
{
	struct conn *c = ctx;
	enum line_result r = c->proto->message(c, line, len);

	conn_check_throttle(c);
	return conn_accepts_input(c) ? r : LINE_STOP;
}

static enum line_result
conn_on_long_line(void *ctx, char *line, size_t len)
{
	struct conn *c = ctx;

	(void)line;
	(void)len;
	if (c->proto->too_long != NULL) {
		if (c->lr.frame == FRAME_LINE || c->lr.frame == FRAME_IRC)
			conn_reply(c, "%s", c->proto->too_long);
		else
			conn_answer(c, "%s", c->proto->too_long);
	}
	conn_check_throttle(c);
	return conn_accepts_input(c) ? LINE_MORE : LINE_STOP;
}

/* A telnet client's negotiation gets its answer at once. */
static void
conn_on_telnet(void *ctx, const void *reply, size_t len)
{
	conn_send(ctx, reply, len);
}

static const struct frame_ops conn_frame_ops = {
	conn_on_line, conn_on_long_line, conn_on_telnet,
};

/* Hands input to the service: raw bytes or framed messages. */
static size_t
conn_consume(struct conn *c, const char *data, size_t len)
{
	size_t used;

	if (c->proto->frame != FRAME_RAW)
		return frame_feed(&c->lr, data, len, &conn_frame_ops, c);
	if (c->proto->read == NULL)
		return len;
	used = c->proto->read(c, data, len);
	conn_check_throttle(c);
	return used;
}

/* The bytes the framer holds are one message of their own: the course's
 * clients send one message without an ending and wait for the answer,
 * and at the end of input the last line counts (SPEC §3).  Only once
 * every byte read before has been delivered. */
static void
conn_flush_message(struct conn *c)
{
	if (c->proto->frame == FRAME_RAW || c->in.len > 0 ||
	    !frame_holding(&c->lr) || !conn_accepts_input(c))
		return;
	frame_flush(&c->lr, &conn_frame_ops, c);
}

/* Delivers new input (or, with len 0, what is buffered); whatever the
 * service leaves is kept for the next time. */
static void
conn_deliver(struct conn *c, const char *data, size_t len)
{
	size_t used;

	if (c->in.len > 0) {
		if (len > 0 && buf_append(&c->in, data, len) != 0) {
			conn_close(c, CLOSE_ERROR);
			return;
		}
		used = conn_consume(c, buf_head(&c->in), c->in.len);
		if (c->state != CONN_CLOSED)
			buf_consume(&c->in, used);
	} else {
		used = conn_consume(c, data, len);
		if (used < len && c->state != CONN_CLOSED &&
		    buf_append(&c->in, data + used, len - used) != 0)
			conn_close(c, CLOSE_ERROR);
	}
	if (c->state == CONN_OPEN && c->in.len > CONN_INPUT_MAX) {
		log_info("%s: %s: input not consumed, closing", c->conf->name,
		    conn_peer_text(c));
		conn_close(c, CLOSE_ERROR);
	}
	if (c->proto->frame == FRAME_COURSE && !c->input_waits && !c->peer_eof)
		conn_flush_message(c);
}

/* Delivers the input kept for later if the connection takes input now;
 * true when it did. */
static bool
conn_replay(struct conn *c)
{
	if (!c->replay || !conn_accepts_input(c))
		return false;
	c->replay = false;
	conn_deliver(c, NULL, 0);
	return true;
}

/* The client half-closed: the service decides, or by default whatever is
 * queued is sent and the connection closed. */
static void
conn_on_eof(struct conn *c)
{
	c->peer_eof = true;
	conn_update_read(c);
	conn_flush_message(c);
	if (c->state != CONN_OPEN)
		return;
	if (c->proto->eof != NULL) {
		c->proto->eof(c);
	} else {
		conn_close_after_flush(c);
		c->why = CLOSE_PEER;
	}
}

static void
conn_on_readable(struct conn *c)
{
	ssize_t n;

	/* Input kept while the connection was paused comes before anything
	 * newer, the end of input included; its replay may still be waiting
	 * on the flush list.  If it pauses the connection again, the socket
	 * is read once the connection resumes. */
	if (conn_replay(c) && !conn_accepts_input(c))
		return;
	n = c->tp.ops->recv(&c->tp, conn_scratch, sizeof(conn_scratch));
	if (n < 0) {
		if (n != -EAGAIN && n != -EINTR)
			conn_close(c, CLOSE_PEER);
		return;
	}
	c->input_waits = (size_t)n == sizeof(conn_scratch);
	if (c->tp.ops->pending != NULL && c->tp.ops->pending(&c->tp)) {
		c->input_waits = c->read_pending = true;
		conn_queue(c);
	}
	if (n == 0) {
		if (c->state == CONN_OPEN)
			conn_on_eof(c);
		else
			conn_close(c, c->why);
		return;
	}
	c->svc->stats.bytes_received += (uint64_t)n;
	c->received += (uint64_t)n;
	if (c->state != CONN_OPEN)
		return;    /* draining or lingering: input is discarded */
	c->last_input = ev_now(server.loop);
	conn_deliver(c, conn_scratch, (size_t)n);
}

/* Whether bytes from the client wait unread in the socket. */
static bool
conn_unread_input(const struct conn *c)
{
	int n = 0;

	return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

/* Everything is sent on a closing connection.  If the client may still be
 * sending, close only the write side and wait a moment for its FIN:
 * closing with unread input would reset the connection, and the client
 * could lose the last reply (nginx's lingering close).  A connection that
 * was never read from (daytime, a download) closes at once unless the
 * client's bytes have come meanwhile. */
static void
conn_finish(struct conn *c)
{
	if (c->peer_eof || (c->received == 0 && !c->rejected &&
	    !conn_unread_input(c))) {
		conn_close(c, c->why);
		return;
	}
	c->tp.ops->shutdown(&c->tp);
	c->state = CONN_LINGERING;
	c->last_progress = ev_now(server.loop);
	conn_update_read(c);
}

/* Sends queued output, at most a burst, and re-arms interest. */
static void
conn_flush(struct conn *c)
{
	size_t sent = 0;
	bool last;

	if (c->over_cap) {
		conn_close(c, CLOSE_SLOW);
		return;
	}
	if (conn_produces(c) && c->out.pending < c->high_water / 2)
		c->type->writable(c);
	/* Nothing follows the queue of a draining connection but the FIN,
	 * which then rides on the last data segment: one packet and one
	 * wake-up of the client fewer per one-shot reply. */
	last = c->state == CONN_DRAINING && !c->paused;
	while (c->out.pending > 0 && sent < CONN_WRITE_BURST) {
		ssize_t n = outq_write(&c->out, &c->tp, last);
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			conn_close(c, CLOSE_PEER);
			return;
		}
		sent += (size_t)n;
	}
	if (sent > 0) {
		c->svc->stats.bytes_sent += sent;
		c->last_progress = ev_now(server.loop);
	}
	/* A type that makes output as the socket drains (chargen) is woken
	 * by the socket's room even when the queue is empty. */
	if (c->out.pending > 0 || conn_produces(c))
		ev_add(server.loop, c->fd, EV_WRITABLE, conn_event, c);
	else
		ev_del(server.loop, c->fd, EV_WRITABLE);
	/* A paused draining connection waits for its service's last reply. */
	if (c->state == CONN_DRAINING && c->out.pending == 0 && !c->paused) {
		conn_finish(c);
	} else if (c->throttled && c->out.pending <= c->high_water / 2) {
		c->throttled = false;
		conn_update_read(c);
		conn_replay_later(c);
	}
	if (c->starttls && c->out.pending == 0 && c->state == CONN_OPEN)
		conn_switch_to_tls(c);
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->state = CONN_DRAINING;
	c->why = CLOSE_DONE;
	c->last_progress = ev_now(server.loop);
	conn_update_read(c);
	conn_queue(c);
}

/* Gives back the connection's place in the limits (once: conn_close
 * calls it when the connection closes).  A refused one never had one. */
static void
conn_uncount(struct conn *c)
{
	struct ip_key ip;

	if (c->rejected) {
		conn_rejects--;
		return;
	}
	addr_key((const struct sockaddr *)&c->peer, &ip);
	admit_release(c->svc, &ip);
}

void
conn_close(struct conn *c, enum close_reason why)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	c->why = why;
	ev_del(server.loop, c->fd, EV_READABLE | EV_WRITABLE);
	if (!c->rejected && c->started && c->proto->close != NULL)
		c->proto->close(c, why);
	conn_uncount(c);
	/* The fd stays open until the reap, so its number cannot be reused
	 * by an accept in the same batch of events. */
	c->reap_next = server.reap_list;
	server.reap_list = c;
}

static void
conn_event(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct conn *c = data;

	(void)loop;
	(void)fd;
	if (c->handshaking) {
		if (c->state != CONN_CLOSED)
			conn_handshake(c);
		return;
	}
	if ((mask & EV_READABLE) && c->state != CONN_CLOSED)
		conn_on_readable(c);
	if ((mask & EV_WRITABLE) && c->state != CONN_CLOSED)
		conn_flush(c);
}

/* Flushes queued connections in the order they were queued, for one time
 * slice.  What is left waits for the next iteration, which first takes the
 * events that came meanwhile: a chat line read then is appended to every
 * receiver still waiting its turn, so it goes out in this round of the
 * fan-out rather than after it.  A connection queued again goes to the
 * back, so all are served in turn. */
void
conn_flush_all(void)
{
	int64_t until = ev_clock_us() + FLUSH_SLICE_US;
	struct conn *c;

	/* At least one connection per call, so that the loop always moves. */
	for (bool first = true; (c = server.flush_list) != NULL; first = false) {
		if (!first && ev_clock_us() >= until) {
			ev_no_wait(server.loop);
			return;
		}
		server.flush_list = c->flush_next;
		if (server.flush_list == NULL)
			server.flush_tail = NULL;
		c->queued = false;
		if (c->state == CONN_CLOSED)
			continue;
		if (conn_replay(c) && c->state == CONN_CLOSED)
			continue;
		if (c->read_pending && conn_accepts_input(c)) {
			c->read_pending = false;
			conn_on_readable(c);
			if (c->state == CONN_CLOSED)
				continue;
		}
		conn_flush(c);
	}
}

static void
conn_free(struct conn *c)
{
	struct svc *svc = c->svc;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		svc->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->tp.ops->free != NULL)
		c->tp.ops->free(&c->tp);
	close(c->fd);
	outq_free(&c->out);
	buf_free(&c->in);
	line_free(&c->lr);
	svc_conf_unref(c->conf);
	free(c);
}

void
conn_unqueue_all(void)
{
	while (server.flush_list != NULL) {
		server.flush_list->queued = false;
		server.flush_list = server.flush_list->flush_next;
	}
	server.flush_tail = NULL;
}

/* Frees closed connections; one still on the flush list (its time slice
 * ran out first) waits for a later call. */
void
conn_reap_all(void)
{
	struct conn **p = &server.reap_list;

	while (*p != NULL) {
		struct conn *c = *p;

		if (c->queued) {
			p = &c->reap_next;
			continue;
		}
		*p = c->reap_next;
		conn_free(c);
	}
}

void
conn_sweep(struct svc *svc, int64_t now)
{
	for (struct conn *c = svc->conns; c != NULL; c = c->next) {
		long idle_ms = c->conf->idle_timeout * 1000;

		switch (c->state) {
		case CONN_OPEN:
			if (c->handshaking) {
				if (now >= c->deadline)
					conn_handshake_failed(c, "not done within 10 s");
				break;
			}
			/* A deadline the service set (a whole request, the
			 * wait between requests) stands in for idle_timeout,
			 * longer or shorter. */
			if (c->deadline != 0 ? now < c->deadline :
			    idle_ms == 0 || now - c->last_input < idle_ms)
				break;
			if (c->type->timeout != NULL)
				c->type->timeout(c);
			/* The hook may keep it by setting a later deadline
			 * (an IRC server's PING). */
			if (c->state == CONN_OPEN && c->deadline <= now)
				conn_close(c, CLOSE_IDLE);
			break;
		case CONN_DRAINING:
			if (now - c->last_progress >=
			    (idle_ms > CONN_STUCK_MS ? idle_ms : CONN_STUCK_MS))
				conn_close(c, CLOSE_SLOW);
			break;
		case CONN_LINGERING:
			if (now - c->last_progress >= CONN_LINGER_MS)
				conn_close(c, c->why);
			break;
		case CONN_CLOSED:
			break;
		}
	}
}

void
conn_close_all(struct svc *svc, enum close_reason why)
{
	for (struct conn *c = svc->conns; c != NULL; c = c->next)
		conn_close(c, why);
}
