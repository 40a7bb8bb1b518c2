/*
 * forward.c - sending a log service's records on to a collector over
 * TCP, on the reactor.
 *
 * Records are framed (forward_frame.c) into a bounded byte queue as they
 * arrive and written before the loop sleeps, as the local output is.
 * The connection is made without blocking (EV_WRITABLE says when connect
 * finished; a host name is looked up by a worker thread), and a lost one
 * is made again after 100 ms, doubling to 5 s, with failures logged at
 * most once a second.  While no collector listens, records wait in the
 * queue; what does not fit is dropped and counted.
 *
 * A record leaves the queue only once the collector's TCP has
 * acknowledged all of it (TCP_INFO's tcpi_bytes_acked), not when write(2)
 * took it: a connection that dies with records in the socket buffer, or
 * that the collector closed under our feet, sends them again on the next
 * one, from the start of the first record not wholly acknowledged.  The
 * collector thus sees a record twice only when it got part of it before
 * the connection broke.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "../../ev.h"
#include "../../log.h"
#include "../../server.h"
#include "../../worker.h"
#include "forward.h"
#include "output.h"

#define FWD_BACKOFF_MIN_MS 100        /* the first retry */
#define FWD_BACKOFF_MAX_MS 5000       /* the longest wait between tries */
#define FWD_LOG_EVERY_MS   1000       /* failures are logged this seldom */
#define FWD_ACK_POLL_MS    100        /* looking for acknowledgements */
#define FWD_ADDRS_MAX      8          /* addresses of a name tried in turn */
#define FWD_CHUNK          (64u << 10) /* the queue's first allocation */
#define FWD_KEEP_MAX       (1u << 20) /* an empty queue keeps this much */

enum fwd_state {
	FWD_WAITING,              /* no socket; the retry timer is armed */
	FWD_RESOLVING,            /* a worker looks the host name up */
	FWD_CONNECTING,           /* connect(2) in progress */
	FWD_UP,                   /* connected */
};

/* The addresses to try, in order. */
struct fwd_addrs {
	struct sockaddr_storage a[FWD_ADDRS_MAX]; /* the addresses */
	socklen_t               len[FWD_ADDRS_MAX]; /* their lengths */
	int                     n;    /* how many */
};

/* A host name looked up on the worker. */
struct fwd_resolve {
	struct worker_job   job;      /* the worker's part; first */
	struct log_forward *fw;       /* the forwarder, NULL once it is gone */
	char                host[FORWARD_HOST_MAX + 1]; /* the name */
	unsigned            port;     /* the port */
	struct fwd_addrs    addrs;    /* the result */
	int                 gai;      /* getaddrinfo(3)'s return value */
};

/* One log service's forwarding.  The queue holds frames between the
 * stream offsets base and end (buf[0] is offset base): rec is the first
 * record not yet acknowledged, sent the next byte to write. */
struct log_forward {
	struct svc        *svc;       /* the log service */
	char               host[FORWARD_HOST_MAX + 1]; /* from the URL */
	unsigned           port;      /* from the URL */
	char               name[FORWARD_HOST_MAX + 10]; /* HOST:PORT, for logs */
	bool               numeric;   /* host is an address: no look-up */
	struct fwd_addrs   addrs;     /* what to connect to */
	int                next_addr; /* the next entry of addrs to try */
	enum fwd_state     state;     /* where the connection is */
	int                fd;        /* the socket, or -1 */
	bool               watching;  /* EV_WRITABLE is armed */
	long long          timer;     /* the retry timer, 0 when none */
	long long          ack_timer; /* the acknowledgement poll, 0 when none */
	long               backoff_ms; /* the next wait before a retry */
	int64_t            up_since;  /* when the connection was made */
	int64_t            logged_ms; /* when a failure was last logged */
	unsigned           quiet;     /* failures not logged since then */
	struct worker     *resolver;  /* looks host names up, or NULL */
	struct fwd_resolve *lookup;   /* the look-up in flight, or NULL */
	char              *buf;       /* the queue */
	size_t             cap;       /* bytes allocated to buf */
	size_t             max;       /* forward_queue */
	uint64_t           base;      /* stream offset of buf[0] */
	uint64_t           rec;       /* first record not acknowledged */
	uint64_t           sent;      /* next byte to write */
	uint64_t           end;       /* end of the queued frames */
	uint64_t           conn_start; /* offset where the connection began */
	bool               full;      /* dropping since the queue filled */
	uint64_t           lost;      /* records dropped since then */
};

static void fwd_connect(struct log_forward *fw);
static void fwd_try_next(struct log_forward *fw, int err);
static ev_file_proc fwd_on_event;

/* Sets multid_backend_up{backend="forward"}. */
static void
fwd_set_up(struct log_forward *fw, bool up)
{
	fw->svc->stats.custom[LOG_FWD_UP] = up;
}

/* Logs a failure, unless one was logged less than a second ago. */
static void
fwd_log_failure(struct log_forward *fw, const char *what, const char *why)
{
	int64_t now = ev_clock_ms();

	if (fw->logged_ms != 0 && now - fw->logged_ms < FWD_LOG_EVERY_MS) {
		fw->quiet++;
		return;
	}
	if (fw->quiet > 0)
		svc_log(fw->svc, LOG_LVL_WARNING, "forward to %s: %s: %s "
		    "(%u more failures since the last report); retrying in "
		    "%ld ms", fw->name, what, why, fw->quiet, fw->backoff_ms);
	else
		svc_log(fw->svc, LOG_LVL_WARNING, "forward to %s: %s: %s; "
		    "retrying in %ld ms", fw->name, what, why, fw->backoff_ms);
	fw->logged_ms = now;
	fw->quiet = 0;
}

/* ---- the queue ------------------------------------------------------------ */

/* Takes note of what the collector's TCP acknowledged: every record it
 * got whole leaves the queue and counts as forwarded. */
static void
fwd_acked(struct log_forward *fw)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t acked, n = 0;
	size_t flen;

	if (fw->fd < 0 || fw->sent == fw->rec)
		return;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fw->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    ti.tcpi_bytes_acked == 0)
		return;
	/* The count includes our SYN. */
	acked = fw->conn_start + ti.tcpi_bytes_acked - 1;
	if (acked > fw->sent)
		acked = fw->sent;
	while (fw->rec < acked && (flen = forward_frame_len(fw->buf + (fw->rec -
	    fw->base), fw->end - fw->rec)) > 0 && fw->rec + flen <= acked) {
		fw->rec += flen;
		n++;
	}
	fw->svc->stats.custom[LOG_FWD_SENT] += n;
	/* An empty queue starts again at the front, and gives back the
	 * memory an outage made it take. */
	if (fw->rec == fw->end) {
		fw->base = fw->rec;
		if (fw->cap > FWD_KEEP_MAX) {
			free(fw->buf);
			fw->buf = NULL;
			fw->cap = 0;
		}
	}
	if (fw->full && fw->end - fw->rec < fw->max / 2) {
		svc_log(fw->svc, LOG_LVL_NOTICE, "forward to %s: the queue has "
		    "room again; %" PRIu64 " records were dropped", fw->name,
		    fw->lost);
		fw->full = false;
		fw->lost = 0;
	}
}

/* Room for need more bytes at the end of the queue, or NULL when the
 * queue would pass forward_queue.  Acknowledged bytes are moved out of
 * the way first; the buffer grows by doubling up to forward_queue. */
static char *
fwd_reserve(struct log_forward *fw, size_t need)
{
	size_t want, cap;
	char *grown;

	if (fw->end - fw->rec + need > fw->max)
		fwd_acked(fw);
	if (fw->end - fw->rec + need > fw->max)
		return NULL;
	if (fw->end + need - fw->base > fw->cap && fw->rec > fw->base) {
		memmove(fw->buf, fw->buf + (fw->rec - fw->base), fw->end - fw->rec);
		fw->base = fw->rec;
	}
	if ((want = fw->end + need - fw->base) > fw->cap) {
		cap = fw->cap > 0 ? fw->cap : FWD_CHUNK;
		while (cap < want)
			cap *= 2;
		if (cap > fw->max)
			cap = want > fw->max ? want : fw->max;
		if ((grown = realloc(fw->buf, cap)) == NULL)
			return NULL;
		fw->buf = grown;
		fw->cap = cap;
	}
	return fw->buf + (fw->end - fw->base);
}

/* Records in the queue from offset from on. */
static uint64_t
fwd_count(const struct log_forward *fw, uint64_t from)
{
	uint64_t n = 0;
	size_t flen;

	while (from < fw->end && (flen = forward_frame_len(fw->buf +
	    (from - fw->base), fw->end - from)) > 0) {
		from += flen;
		n++;
	}
	return n;
}

bool
forward_record(struct log_forward *fw, const struct syslog_msg *m, bool cut,
    const struct forward_origin *org)
{
	char *p = fwd_reserve(fw, forward_frame_max(m));

	if (p == NULL) {
		fw->svc->stats.custom[LOG_FWD_DROPPED]++;
		fw->lost++;
		if (!fw->full)
			svc_log(fw->svc, LOG_LVL_ERROR, "forward to %s: the queue "
			    "is full (%zu bytes); dropping records", fw->name,
			    fw->max);
		fw->full = true;
		return false;
	}
	fw->end += forward_frame(p, m, cut, org);
	return true;
}

/* ---- the connection --------------------------------------------------- */

/* Closes the socket and stops watching it. */
static void
fwd_close(struct log_forward *fw)
{
	if (fw->ack_timer != 0)
		ev_timer_del(server.loop, fw->ack_timer);
	fw->ack_timer = 0;
	if (fw->fd < 0)
		return;
	ev_del(server.loop, fw->fd, EV_READABLE | EV_WRITABLE);
	close(fw->fd);
	fw->fd = -1;
	fw->watching = false;
}

static long
fwd_on_retry(struct ev_loop *loop, long long id, void *data)
{
	struct log_forward *fw = data;

	(void)loop;
	(void)id;
	fw->timer = 0;
	fwd_connect(fw);
	return -1;
}

/* Waits backoff_ms before the next try, and doubles the wait. */
static void
fwd_retry_later(struct log_forward *fw)
{
	fw->state = FWD_WAITING;
	fw->timer = ev_timer_add(server.loop, fw->backoff_ms, fwd_on_retry, fw);
	fw->backoff_ms *= 2;
	if (fw->backoff_ms > FWD_BACKOFF_MAX_MS)
		fw->backoff_ms = FWD_BACKOFF_MAX_MS;
}

/* The connection broke (what: how we noticed, err: why, 0 for an end
 * of stream): what the collector did not acknowledge is sent again on
 * the next one, from the start of its first record. */
static void
fwd_down(struct log_forward *fw, const char *what, int err)
{
	fwd_acked(fw);
	fwd_close(fw);
	fwd_set_up(fw, false);
	fw->sent = fw->rec;
	/* A collector that accepts and hangs up at once is not retried
	 * at full speed. */
	if (ev_clock_ms() - fw->up_since >= FWD_BACKOFF_MAX_MS)
		fw->backoff_ms = FWD_BACKOFF_MIN_MS;
	fwd_log_failure(fw, what, err != 0 ? strerror(err) :
	    "closed by the collector");
	fwd_retry_later(fw);
}

static long
fwd_on_ack_poll(struct ev_loop *loop, long long id, void *data)
{
	struct log_forward *fw = data;

	(void)loop;
	(void)id;
	fwd_acked(fw);
	if (fw->rec < fw->sent)
		return FWD_ACK_POLL_MS;
	fw->ack_timer = 0;
	return -1;
}

/* Writes what the socket takes; EV_WRITABLE is armed while it is full.
 * Acknowledgements are then polled for while some are owed. */
static void
fwd_write(struct log_forward *fw)
{
	ssize_t n;

	while (fw->sent < fw->end) {
		n = send(fw->fd, fw->buf + (fw->sent - fw->base),
		    fw->end - fw->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			fw->sent += (uint64_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if (!fw->watching && ev_add(server.loop, fw->fd,
			    EV_READABLE | EV_WRITABLE, fwd_on_event, fw) == 0)
				fw->watching = true;
			break;
		} else if (n == 0 || errno != EINTR) {
			fwd_down(fw, "write", n == 0 ? EIO : errno);
			return;
		}
	}
	if (fw->sent == fw->end && fw->watching) {
		ev_del(server.loop, fw->fd, EV_WRITABLE);
		fw->watching = false;
	}
	if (fw->rec < fw->sent && fw->ack_timer == 0)
		fw->ack_timer = ev_timer_add(server.loop, FWD_ACK_POLL_MS,
		    fwd_on_ack_poll, fw);
}

/* Before the loop sleeps: the records queued meanwhile go out, unless
 * the socket is full (EV_WRITABLE then says when it has room). */
void
forward_flush(struct log_forward *fw)
{
	if (fw->state == FWD_UP && !fw->watching && fw->sent < fw->end)
		fwd_write(fw);
}

/* The collector sends nothing: readable means it closed or failed. */
static void
fwd_on_readable(struct log_forward *fw)
{
	char scratch[512];
	ssize_t n = recv(fw->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

	if (n == 0)
		fwd_down(fw, "read", 0);
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		fwd_down(fw, "read", errno);
}

static void
fwd_up(struct log_forward *fw)
{
	fw->state = FWD_UP;
	fw->up_since = ev_clock_ms();
	fw->conn_start = fw->sent;
	fw->watching = false;
	fwd_set_up(fw, true);
	if (fw->logged_ms != 0 || fw->quiet > 0)
		svc_log(fw->svc, LOG_LVL_NOTICE, "forward to %s: connected "
		    "again; %" PRIu64 " records waiting", fw->name,
		    fwd_count(fw, fw->rec));
	else
		svc_log(fw->svc, LOG_LVL_INFO, "forward to %s: connected",
		    fw->name);
	fw->logged_ms = 0;
	fw->quiet = 0;
	fwd_write(fw);
}

/* Every event of the socket: connect finished, the collector closed,
 * or room to write. */
static void
fwd_on_event(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct log_forward *fw = data;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)loop;
	if (fd != fw->fd)
		return;
	if (fw->state == FWD_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			fwd_close(fw);
			fwd_try_next(fw, err);
			return;
		}
		ev_del(loop, fd, EV_WRITABLE);
		if (ev_add(loop, fd, EV_READABLE, fwd_on_event, fw) != 0) {
			fwd_close(fw);
			fwd_try_next(fw, ENOMEM);
			return;
		}
		fwd_up(fw);
		return;
	}
	if (mask & EV_READABLE) {
		fwd_on_readable(fw);
		if (fw->state != FWD_UP)
			return;
	}
	if (mask & EV_WRITABLE)
		fwd_write(fw);
}

/* Connects to the next address; once every one failed (the last with
 * err), waits and starts again. */
static void
fwd_try_next(struct log_forward *fw, int err)
{
	while (fw->next_addr < fw->addrs.n) {
		int i = fw->next_addr++;
		int fd = socket(fw->addrs.a[i].ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&fw->addrs.a[i],
		    fw->addrs.len[i]) != 0 && errno != EINPROGRESS) {
			err = errno;
			close(fd);
			continue;
		}
		/* Writable once connect(2) finished, either way. */
		if ((err = -ev_add(server.loop, fd, EV_WRITABLE, fwd_on_event,
		    fw)) != 0) {
			close(fd);
			continue;
		}
		fw->fd = fd;
		fw->state = FWD_CONNECTING;
		return;
	}
	fwd_log_failure(fw, "connect", strerror(err != 0 ? err : EHOSTUNREACH));
	fwd_retry_later(fw);
}

/* ---- looking the host up ------------------------------------------------ */

/* Fills addrs with what host:port stands for; getaddrinfo's result. */
static int
fwd_lookup(const char *host, unsigned port, int flags, struct fwd_addrs *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | flags }, *res, *ai;
	char service[8];
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0)
		return rc;
	out->n = 0;
	for (ai = res; ai != NULL && out->n < FWD_ADDRS_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(out->a[0]))
			continue;
		memcpy(&out->a[out->n], ai->ai_addr, ai->ai_addrlen);
		out->len[out->n++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return out->n > 0 ? 0 : EAI_NONAME;
}

static void
fwd_resolve_run(struct worker_job *job)
{
	struct fwd_resolve *r = (struct fwd_resolve *)job;

	r->gai = fwd_lookup(r->host, r->port, 0, &r->addrs);
}

static void
fwd_resolve_done(struct worker_job *job)
{
	struct fwd_resolve *r = (struct fwd_resolve *)job;
	struct log_forward *fw = r->fw;

	if (fw == NULL) {
		free(r);
		return;
	}
	fw->lookup = NULL;
	/* A reload changed the host meanwhile. */
	if (strcmp(r->host, fw->host) != 0 || r->port != fw->port) {
		free(r);
		fwd_connect(fw);
		return;
	}
	if (r->gai != 0) {
		fwd_log_failure(fw, "cannot resolve the host", gai_strerror(r->gai));
		fwd_retry_later(fw);
	} else {
		fw->addrs = r->addrs;
		fwd_try_next(fw, 0);
	}
	free(r);
}

/* Starts a look-up of the host on the worker, which is started first. */
static void
fwd_resolve(struct log_forward *fw)
{
	const struct worker_config wc = { .name = "log-resolve", .threads = 1 };
	struct fwd_resolve *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	if (r != NULL && fw->resolver == NULL)
		fw->resolver = worker_start(server.loop, &wc, &rc);
	if (r != NULL && fw->resolver != NULL) {
		r->job.run = fwd_resolve_run;
		r->job.done = fwd_resolve_done;
		r->fw = fw;
		snprintf(r->host, sizeof(r->host), "%s", fw->host);
		r->port = fw->port;
		if ((rc = worker_submit(fw->resolver, &r->job)) == 0) {
			fw->lookup = r;
			fw->state = FWD_RESOLVING;
			return;
		}
	}
	free(r);
	fwd_log_failure(fw, "cannot resolve the host", strerror(-rc));
	fwd_retry_later(fw);
}

/* Starts a connection: through every address of the host in turn. */
static void
fwd_connect(struct log_forward *fw)
{
	fw->next_addr = 0;
	if (fw->numeric)
		fwd_try_next(fw, 0);
	else
		fwd_resolve(fw);
}

/* Takes the host and port of url; an address is converted at once. */
static void
fwd_set_target(struct log_forward *fw, const char *url)
{
	if (forward_parse_url(url, fw->host, &fw->port) != NULL)
		snprintf(fw->host, sizeof(fw->host), "localhost");
	snprintf(fw->name, sizeof(fw->name), strchr(fw->host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", fw->host, fw->port);
	fw->numeric = fwd_lookup(fw->host, fw->port, AI_NUMERICHOST,
	    &fw->addrs) == 0;
}

/* ---- starting and stopping --------------------------------------------- */

int
forward_start(struct svc *svc, const char *url, long queue_max,
    struct log_forward **out)
{
	struct log_forward *fw = calloc(1, sizeof(*fw));

	if (fw == NULL)
		return -ENOMEM;
	fw->svc = svc;
	fw->fd = -1;
	fw->max = (size_t)queue_max;
	fw->backoff_ms = FWD_BACKOFF_MIN_MS;
	fwd_set_target(fw, url);
	fwd_set_up(fw, false);
	svc_log(svc, LOG_LVL_INFO, "forwarding records to %s", fw->name);
	fwd_connect(fw);
	*out = fw;
	return 0;
}

/* Drops the connection or the try in progress, keeping the queue. */
static void
fwd_disconnect(struct log_forward *fw)
{
	if (fw->timer != 0)
		ev_timer_del(server.loop, fw->timer);
	fw->timer = 0;
	if (fw->state == FWD_UP)
		fwd_acked(fw);
	fwd_close(fw);
	fwd_set_up(fw, false);
	fw->sent = fw->rec;
	fw->state = FWD_WAITING;
}

void
forward_reconfigure(struct log_forward *fw, const char *url, long queue_max)
{
	char host[FORWARD_HOST_MAX + 1];
	unsigned port;

	fw->max = (size_t)queue_max;
	if (forward_parse_url(url, host, &port) != NULL ||
	    (strcmp(host, fw->host) == 0 && port == fw->port))
		return;
	fwd_disconnect(fw);
	fwd_set_target(fw, url);
	fw->backoff_ms = FWD_BACKOFF_MIN_MS;
	fw->logged_ms = 0;
	fw->quiet = 0;
	svc_log(fw->svc, LOG_LVL_INFO, "forwarding records to %s", fw->name);
	/* A look-up in flight for the old host starts the new one. */
	if (fw->lookup != NULL)
		fw->state = FWD_RESOLVING;
	else
		fwd_connect(fw);
}

/* Writes the rest of the queue and waits for the collector to
 * acknowledge it, up to wait_ms. */
static void
fwd_drain(struct log_forward *fw, int wait_ms)
{
	int64_t deadline = ev_clock_ms() + wait_ms, left;

	while (fw->state == FWD_UP && fw->rec < fw->end &&
	    (left = deadline - ev_clock_ms()) > 0) {
		struct pollfd pfd = { .fd = fw->fd, .events = POLLOUT };

		if (fw->sent < fw->end) {
			if (poll(&pfd, 1, (int)left) > 0)
				fwd_write(fw);
		} else {
			poll(NULL, 0, left < 10 ? (int)left : 10);
			fwd_acked(fw);
		}
	}
}

void
forward_stop(struct log_forward *fw, int wait_ms)
{
	uint64_t left;

	if (wait_ms > 0)
		fwd_drain(fw, wait_ms);
	fwd_disconnect(fw);
	if ((left = fwd_count(fw, fw->rec)) > 0)
		svc_log(fw->svc, LOG_LVL_WARNING, "forward to %s: %" PRIu64
		    " records were not acknowledged by the collector", fw->name,
		    left);
	if (fw->lookup != NULL)
		fw->lookup->fw = NULL;
	if (fw->resolver != NULL)
		worker_stop(fw->resolver);
	free(fw->buf);
	free(fw);
}
