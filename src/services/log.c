/*
 * log.c - the log service: syslog over UDP, written as one line per record
 * to stdout, a file or the systemd journal.
 *
 * Keys: output ("-" for stdout, "journal", or a file path, relative to
 * the configuration file), max_message (bytes of a datagram kept) and
 * rcvbuf (the socket receive buffer, which is what absorbs a burst).
 *
 * Records are formatted into one queue per service and written in a
 * batch before the loop sleeps, as redis flushes its replies.  The queue
 * is bounded: an output that cannot keep up (a full pipe, a stalled or
 * full disk) costs records, counted and reported once, never the
 * reactor's time.  Pipes, terminals and sockets are written without
 * blocking; files and the journal, which may block, are written by a
 * thread of their own that takes the whole queue at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* The records come from elsewhere: multid's source location is noise. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "../conn.h"
#include "../listener.h"
#include "../log.h"
#include "../server.h"
#include "syslog.h"

#define LOG_QUEUE_MAX   (4u << 20)     /* bytes waiting for the output */
#define LOG_RETRY_MS    10             /* hand-over poll while the thread writes */
#define LOG_DRAIN_MS    1000           /* final flush at shutdown, at most */
#define LOG_MARKER      "...[truncated]"
#define LOG_TIME_LEN    24             /* YYYY-MM-DDTHH:MM:SS.mmmZ */
#define LOG_FIELDS_MAX  6              /* journal fields of one record */
#define JOURNAL_SOCKET  "/run/systemd/journal/socket" /* journald's, fixed */

enum { LOG_RECORDS, LOG_DROPPED };     /* indices of our counters */

enum log_sink {
	SINK_STDOUT,              /* "-" */
	SINK_FILE,                /* a path, appended to */
	SINK_JOURNAL,             /* "journal" */
};

struct log_conf {
	char *output;             /* "-", "journal" or an absolute path */
	long  max_message;        /* bytes of a datagram that are kept */
	long  rcvbuf;             /* SO_RCVBUF in bytes, 0 = kernel default */
};

static const struct log_conf log_defaults = {
	.output = "-",
	.max_message = 8192,
	.rcvbuf = 4 << 20,
};

static const struct cfg_key log_keys[] = {
	{ "output", CFG_STRING, offsetof(struct log_conf, output), 1, 4096,
	  NULL },
	{ "max_message", CFG_INT, offsetof(struct log_conf, max_message), 16,
	  65536, NULL },
	{ "rcvbuf", CFG_INT, offsetof(struct log_conf, rcvbuf), 0, 1 << 30,
	  NULL },
	CFG_KEY_END
};

static const struct svc_counter log_counters[] = {
	{ "multid_log_records_total", "Log records received." },
	{ "multid_log_records_dropped_total",
	  "Log records lost because the output failed or could not keep up." },
	{ NULL, NULL }
};

/* The writer thread of a file or the journal, and what the reactor hands
 * it.  Regular files block (a slow or stalled disk), and so may
 * sd_journal_sendv(3); pipes, terminals and sockets are written by the
 * reactor without blocking instead. */
struct log_writer {
	pthread_t       thread;       /* runs writer_main */
	pthread_mutex_t lock;         /* guards everything below */
	pthread_cond_t  wake;         /* a batch was handed over, or quit */
	pthread_cond_t  idle;         /* every batch handed over was written */
	enum log_sink   sink;         /* SINK_JOURNAL, or a file descriptor's */
	int             fd;           /* the file written to, or -1 */
	int             fd_next;      /* reopened file, taken before a batch */
	char           *batch;        /* encoded records being written */
	size_t          batch_len;    /* bytes in batch */
	char           *tail;         /* the last records, after batch */
	size_t          tail_len;     /* bytes in tail */
	bool            busy;         /* batch belongs to the thread */
	bool            quit;         /* exit once idle */
	int             refs;         /* the reactor and the thread */
	uint64_t        sent;         /* records written, in all */
	uint64_t        failed;       /* records refused, in all */
	int             error;        /* the last refusal, a negative errno */
};

/* Where one service's records go, and what waits to go there. */
struct log_out {
	enum log_sink      sink;      /* what kind of output */
	char              *target;    /* the output key it was opened for */
	int                fd;        /* written by the reactor, else -1 */
	bool               is_socket; /* written with send(MSG_DONTWAIT) */
	bool               watching;  /* EV_WRITABLE is armed */
	char              *buf;       /* formatted records, LOG_QUEUE_MAX */
	size_t             head;      /* first unwritten byte */
	size_t             len;       /* end of the queued bytes */
	struct log_writer *w;         /* the writer thread, or NULL */
	uint64_t           seen_sent; /* w->sent already accounted for */
	uint64_t           seen_failed; /* w->failed already accounted for */
};

/* Where a datagram came from and when, formatted once for its records
 * and kept for the next one: a burst usually comes from one sender. */
struct log_origin {
	char                    time[LOG_TIME_LEN + 1]; /* receipt time */
	struct sockaddr_storage from;         /* the sender formatted below */
	socklen_t               fromlen;      /* its length, 0 before the first */
	char                    addr[ADDR_TEXT_MAX]; /* ADDRESS:PORT */
	size_t                  addr_len;     /* bytes in addr */
	char                    host[ADDR_TEXT_MAX]; /* ADDRESS alone */
	unsigned                port;         /* the source port */
};

/* A running log service. */
struct log_state {
	struct svc       *svc;        /* the service */
	struct log_out   *out;        /* its output */
	struct log_origin origin;     /* the latest datagram's sender and time */
	bool              failing;    /* a loss was reported, recovery not yet */
	uint64_t          lost;       /* records lost since it began failing */
	long long         timer;      /* journal retry timer, 0 when none */
	struct log_state *next;       /* next in log_running */
};

static struct log_state *log_running;     /* every started log service */
static bool              log_hooked;      /* the flush hook is registered */

static void log_flush(struct log_state *ls);

/* The name of the output in messages. */
static const char *
log_out_name(const struct log_out *o)
{
	if (o->sink == SINK_STDOUT)
		return "stdout";
	return o->sink == SINK_JOURNAL ? "the journal" : o->target;
}

/* Records n lost records; the first loss after a good spell is reported. */
static void
log_lose(struct log_state *ls, uint64_t n, const char *why)
{
	ls->svc->stats.custom[LOG_DROPPED] += n;
	ls->lost += n;
	if (!ls->failing)
		svc_log(ls->svc, LOG_LVL_ERROR, "%s: %s; dropping records",
		    log_out_name(ls->out), why);
	ls->failing = true;
}

/* The output works again: says how much was lost meanwhile. */
static void
log_recovered(struct log_state *ls)
{
	if (!ls->failing)
		return;
	svc_log(ls->svc, LOG_LVL_NOTICE, "%s: writing again; %" PRIu64
	    " records were dropped", log_out_name(ls->out), ls->lost);
	ls->failing = false;
	ls->lost = 0;
}

/* ---- the writer thread -------------------------------------------------- */

static void
writer_unref(struct log_writer *w)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->fd_next >= 0)
		close(w->fd_next);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	free(w->batch);
	free(w->tail);
	free(w);
}

/* Records in a journal batch: each is a run of (u32 length, "FIELD=value")
 * ended by a zero length. */
static uint64_t
journal_count(const char *p, const char *end)
{
	uint64_t n = 0;
	uint32_t flen;

	for (; p < end; p += sizeof(flen) + flen) {
		memcpy(&flen, p, sizeof(flen));
		n += flen == 0;
	}
	return n;
}

/* Records in a run of output lines. */
static uint64_t
line_count(const char *p, const char *end)
{
	uint64_t n = 0;

	for (; p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		n++;
	return n;
}

/* Records in queued bytes of an output of that kind. */
static uint64_t
records_count(enum log_sink sink, const char *p, const char *end)
{
	return sink == SINK_JOURNAL ? journal_count(p, end) : line_count(p, end);
}

/* Sends every record of a batch.  Returns how many were refused; *err
 * the why. */
static uint64_t
journal_send_batch(const char *b, size_t len, uint64_t *sent, int *err)
{
	uint64_t failed = 0;
	size_t p = 0;

	/* Without journald, sd_journal_sendv(3) reports success and drops the
	 * record; ask first, so that the loss is counted and told. */
	if (access(JOURNAL_SOCKET, F_OK) != 0) {
		*err = -errno;
		return journal_count(b, b + len);
	}
	while (p < len) {
		struct iovec iov[LOG_FIELDS_MAX];
		int n = 0, rc;
		uint32_t flen;

		for (;;) {
			memcpy(&flen, b + p, sizeof(flen));
			p += sizeof(flen);
			if (flen == 0)
				break;
			if (n < LOG_FIELDS_MAX) {
				iov[n].iov_base = (void *)(b + p);
				iov[n++].iov_len = flen;
			}
			p += flen;
		}
		if ((rc = sd_journal_sendv(iov, n)) < 0) {
			failed++;
			*err = rc;
		} else {
			(*sent)++;
		}
	}
	return failed;
}

/* Writes a batch of lines to a file, waiting as long as it takes.
 * Returns how many were not (or not wholly) written; *err the why. */
static uint64_t
file_send_batch(int fd, const char *b, size_t len, uint64_t *sent, int *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, b + done, len - done);

		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0 || errno != EINTR) {
			*err = n == 0 ? -EIO : -errno;
			break;
		}
	}
	*sent += line_count(b, b + done);
	return line_count(b + done, b + len);
}

static void *
writer_main(void *arg)
{
	struct log_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		uint64_t sent = 0, failed;
		int err = 0, old = -1;

		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->busy)
			break;
		/* A reopened file takes every batch from now on. */
		if (w->fd_next >= 0) {
			old = w->fd;
			w->fd = w->fd_next;
			w->fd_next = -1;
		}
		pthread_mutex_unlock(&w->lock);
		if (old >= 0)
			close(old);
		failed = w->sink == SINK_JOURNAL ?
		    journal_send_batch(w->batch, w->batch_len, &sent, &err) :
		    file_send_batch(w->fd, w->batch, w->batch_len, &sent, &err);
		pthread_mutex_lock(&w->lock);
		w->sent += sent;
		w->failed += failed;
		if (failed > 0)
			w->error = err;
		if (w->tail != NULL) {
			free(w->batch);
			w->batch = w->tail;
			w->batch_len = w->tail_len;
			w->tail = NULL;
			continue;
		}
		w->busy = false;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	writer_unref(w);
	return NULL;
}

/* Starts the writer thread of o, which owns fd (-1 for the journal) from
 * now on, also when it fails; 0 or -errno. */
static int
writer_start(struct log_out *o, int fd)
{
	struct log_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	w->sink = o->sink;
	w->fd = fd;
	w->fd_next = -1;
	w->refs = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((w->batch = malloc(LOG_QUEUE_MAX)) == NULL) {
		writer_unref(w);
		return -ENOMEM;
	}
	w->refs = 2;
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		w->refs = 1;
		writer_unref(w);
		return -rc;
	}
	o->w = w;
	return 0;
}

/* Hands the queue to the thread when it is idle and takes note of what
 * it did with the previous batch.  True while work is left. */
static bool
writer_handover(struct log_state *ls)
{
	struct log_out *o = ls->out;
	struct log_writer *w = o->w;
	uint64_t sent, failed;
	bool left;
	int err;

	pthread_mutex_lock(&w->lock);
	if (!w->busy && o->len > 0) {
		char *b = w->batch;

		w->batch = o->buf;
		w->batch_len = o->len;
		o->buf = b;
		o->len = 0;
		w->busy = true;
		pthread_cond_signal(&w->wake);
	}
	sent = w->sent - o->seen_sent;
	failed = w->failed - o->seen_failed;
	err = w->error;
	left = w->busy || o->len > 0;
	pthread_mutex_unlock(&w->lock);
	o->seen_sent += sent;
	o->seen_failed += failed;
	if (failed > 0)
		log_lose(ls, failed, strerror(-err));
	else if (sent > 0)
		log_recovered(ls);
	return left;
}

/* SIGHUP: the batches not yet begun go to fd, the reopened file. */
static void
writer_reopen(struct log_writer *w, int fd)
{
	int unused;

	pthread_mutex_lock(&w->lock);
	unused = w->fd_next;
	w->fd_next = fd;
	pthread_mutex_unlock(&w->lock);
	if (unused >= 0)
		close(unused);
}

/* Gives the thread the rest of the queue and stops it, waiting at most
 * wait_ms for it to write everything.  A thread still busy then is left
 * to finish alone; at shutdown (wait_ms > 0) the records it has not begun
 * are reported lost, as the process is about to end. */
static void
writer_stop(struct log_state *ls, int wait_ms)
{
	struct log_out *o = ls->out;
	struct log_writer *w = o->w;
	struct timespec deadline;
	uint64_t pending = 0;
	bool done;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	writer_handover(ls);
	pthread_mutex_lock(&w->lock);
	if (o->len > 0) {
		/* The thread is busy: the rest follows its batch. */
		w->tail = o->buf;
		w->tail_len = o->len;
		o->buf = NULL;
		o->len = 0;
	}
	w->quit = true;
	pthread_cond_signal(&w->wake);
	while (w->busy &&
	    pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == 0)
		;
	done = !w->busy;
	if (w->tail != NULL)
		pending = records_count(w->sink, w->tail, w->tail + w->tail_len);
	pthread_mutex_unlock(&w->lock);
	writer_handover(ls);
	if (pending > 0 && wait_ms > 0)
		log_lose(ls, pending, "the output did not take the last records");
	if (done)
		pthread_join(w->thread, NULL);
	else
		pthread_detach(w->thread);
	writer_unref(w);
	o->w = NULL;
}

/* ---- opening and closing outputs --------------------------------------- */

/* Opens an fd of our own on stdout.  Pipes and terminals are reopened
 * through /proc, so that O_NONBLOCK does not change the file description
 * we share with the parent shell; sockets use send(MSG_DONTWAIT). */
static int
log_open_stdout(struct log_out *o)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) != 0)
		return -errno;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		o->fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (o->fd >= 0)
			return 0;
	}
	o->is_socket = S_ISSOCK(st.st_mode);
	o->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (o->fd < 0)
		return -errno;
	/* A regular file would block the reactor: a thread writes it. */
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		int fd = o->fd;

		o->fd = -1;
		return writer_start(o, fd);
	}
	/* No private description (no /proc, or after setuid): a pipe is
	 * still made non-blocking, as a blocked reactor is worse. */
	if (S_ISFIFO(st.st_mode))
		fcntl(o->fd, F_SETFL, fcntl(o->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

/* Opens the output file for appending, for the writer thread, which may
 * wait in write(2).  Opening does not wait: a FIFO without a reader is
 * an error (ENXIO) rather than a hang of the reactor. */
static int
log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
	    O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* Opens the output the key names; 0 or -errno, with the reason logged. */
static int
log_out_open(struct svc *svc, const char *target, struct log_out **out)
{
	struct log_out *o = calloc(1, sizeof(*o));
	int rc = -ENOMEM;

	if (o == NULL || (o->buf = malloc(LOG_QUEUE_MAX)) == NULL ||
	    (o->target = strdup(target)) == NULL)
		goto fail;
	o->fd = -1;
	if (strcmp(target, "-") == 0) {
		o->sink = SINK_STDOUT;
		rc = log_open_stdout(o);
	} else if (strcmp(target, "journal") == 0) {
		o->sink = SINK_JOURNAL;
		rc = writer_start(o, -1);
	} else {
		o->sink = SINK_FILE;
		if ((rc = log_open_file(target)) >= 0)
			rc = writer_start(o, rc);
	}
	if (rc >= 0) {
		*out = o;
		return 0;
	}
fail:
	svc_log(svc, LOG_LVL_ERROR, "cannot open %s: %s",
	    strcmp(target, "-") == 0 ? "stdout" : target, strerror(-rc));
	if (o != NULL) {
		free(o->buf);
		free(o->target);
		free(o);
	}
	return rc;
}

/* Writes what the queue holds to stdout or the file.  0 once it is all
 * written, -EAGAIN when the output is full, or another -errno. */
static int
log_write_queue(struct log_out *o)
{
	while (o->head < o->len) {
		size_t n = o->len - o->head;
		ssize_t w = o->is_socket ?
		    send(o->fd, o->buf + o->head, n, MSG_DONTWAIT | MSG_NOSIGNAL) :
		    write(o->fd, o->buf + o->head, n);

		if (w > 0)
			o->head += (size_t)w;
		else if (w == 0)
			return -EIO;
		else if (errno != EINTR)
			return -errno;
	}
	o->head = o->len = 0;
	return 0;
}

/* The queued records are lost (rc: why); counted and told once. */
static void
log_drop(struct log_state *ls, int rc)
{
	struct log_out *o = ls->out;

	log_lose(ls, records_count(o->sink, o->buf + o->head, o->buf + o->len),
	    strerror(-rc));
	o->head = o->len = 0;
}

/* No more waiting for the output to take more. */
static void
log_unwatch(struct log_out *o)
{
	if (o->watching)
		ev_del(server.loop, o->fd, EV_WRITABLE);
	o->watching = false;
}

/* Writes what the output takes without waiting for it, then drops and
 * counts the rest; for the final flush, waits up to wait_ms. */
static void
log_drain(struct log_state *ls, int wait_ms)
{
	struct log_out *o = ls->out;
	int64_t deadline = ev_clock_ms() + wait_ms;
	int rc;

	if (o->w != NULL) {
		writer_stop(ls, wait_ms);
		return;
	}
	while ((rc = log_write_queue(o)) == -EAGAIN &&
	    ev_clock_ms() < deadline) {
		struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };
		poll(&pfd, 1, (int)(deadline - ev_clock_ms()));
	}
	if (rc < 0)
		log_drop(ls, rc);
}

/* Writes or hands over what is queued, then frees the output. */
static void
log_out_close(struct log_state *ls, int wait_ms)
{
	struct log_out *o = ls->out;

	if (ls->timer != 0)
		ev_timer_del(server.loop, ls->timer);
	ls->timer = 0;
	log_unwatch(o);
	log_drain(ls, wait_ms);
	if (o->fd >= 0)
		close(o->fd);
	free(o->buf);
	free(o->target);
	free(o);
	ls->out = NULL;
}

/* ---- writing ------------------------------------------------------------ */

static void
log_on_writable(struct ev_loop *loop, int fd, void *data, int mask)
{
	(void)loop;
	(void)fd;
	(void)mask;
	log_flush(data);
}

static long
log_on_retry(struct ev_loop *loop, long long id, void *data)
{
	struct log_state *ls = data;

	(void)loop;
	(void)id;
	if (writer_handover(ls))
		return LOG_RETRY_MS;
	ls->timer = 0;
	return -1;
}

/* Sends the queue on its way: to the writer thread when it is idle (a
 * timer tries again while it is busy), or into a pipe or socket until it
 * is full, which arms EV_WRITABLE.  A write error (a full disk) costs the
 * records being written, and is reported once until a write succeeds again. */
static void
log_flush(struct log_state *ls)
{
	struct log_out *o = ls->out;
	int rc;

	if (o->w != NULL) {
		/* Nothing new: the timer, armed while the thread works, takes
		 * note of how its batch went. */
		if (o->len == 0)
			return;
		if (writer_handover(ls) && ls->timer == 0)
			ls->timer = ev_timer_add(server.loop, LOG_RETRY_MS,
			    log_on_retry, ls);
		return;
	}
	if (o->head == o->len)
		return;
	if ((rc = log_write_queue(o)) == -EAGAIN) {
		if (!o->watching && ev_add(server.loop, o->fd, EV_WRITABLE,
		    log_on_writable, ls) == 0)
			o->watching = true;
		return;
	}
	log_unwatch(o);
	if (rc < 0)
		log_drop(ls, rc);
	else
		log_recovered(ls);
}

/* Runs before the loop sleeps: every record received in this iteration
 * goes out in one write per service. */
static void
log_before_sleep(struct ev_loop *loop, void *data)
{
	(void)loop;
	(void)data;
	for (struct log_state *ls = log_running; ls != NULL; ls = ls->next)
		if (!ls->out->watching)
			log_flush(ls);
}

/* Returns room for need more bytes in the queue, or NULL when it is full. */
static char *
log_reserve(struct log_out *o, size_t need)
{
	if (o->len + need > LOG_QUEUE_MAX && o->head > 0) {
		memmove(o->buf, o->buf + o->head, o->len - o->head);
		o->len -= o->head;
		o->head = 0;
	}
	return o->len + need <= LOG_QUEUE_MAX ? o->buf + o->len : NULL;
}

/* ---- formatting --------------------------------------------------------- */

/* Formats the receipt time, YYYY-MM-DDTHH:MM:SS.mmmZ; the part up to the
 * second is kept, as it changes once in many thousand records. */
static void
log_time_text(char *out)
{
	static time_t cached_sec = -1;
	static char cached[32];
	struct timespec ts;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000;
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

static char *
append(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Queues "TIME ADDRESS:PORT SEVERITY APP: MESSAGE\n"; false if full. */
static bool
log_queue_line(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut)
{
	const char *sev = syslog_severity_name(m->severity);
	size_t need = LOG_TIME_LEN + org->addr_len + 11 +
	    SYSLOG_ESCAPED_MAX(m->app_len) + 2 + SYSLOG_ESCAPED_MAX(m->text_len) +
	    sizeof(LOG_MARKER);
	char *start = log_reserve(o, need), *p = start;

	if (p == NULL)
		return false;
	p = append(p, org->time, LOG_TIME_LEN);
	*p++ = ' ';
	p = append(p, org->addr, org->addr_len);
	*p++ = ' ';
	p = append(p, sev, strlen(sev));
	*p++ = ' ';
	if (m->app != NULL) {
		p += syslog_escape(p, m->app, m->app_len);
		p = append(p, ": ", 2);
	}
	p += syslog_escape(p, m->text, m->text_len);
	if (cut)
		p = append(p, LOG_MARKER, sizeof(LOG_MARKER) - 1);
	*p++ = '\n';
	o->len += (size_t)(p - start);
	return true;
}

/* Begins a journal field: reserves its length word, returns the text. */
static char *
field_begin(char *p, char **lenp, const char *name)
{
	*lenp = p;
	return append(p + sizeof(uint32_t), name, strlen(name));
}

static char *
field_end(char *p, char *lenp)
{
	uint32_t n = (uint32_t)(p - lenp - sizeof(uint32_t));

	memcpy(lenp, &n, sizeof(n));
	return p;
}

/* Queues one record for the journal thread, as its length-prefixed
 * fields; false if the queue is full. */
static bool
log_queue_journal(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut)
{
	size_t need = 160 + 2 * ADDR_TEXT_MAX + SYSLOG_ESCAPED_MAX(m->app_len) +
	    SYSLOG_ESCAPED_MAX(m->text_len) + sizeof(LOG_MARKER);
	char *start = log_reserve(o, need), *p = start, *lenp;
	uint32_t zero = 0;

	if (p == NULL)
		return false;
	p = field_begin(p, &lenp, "MESSAGE=");
	p += syslog_escape(p, m->text, m->text_len);
	if (cut)
		p = append(p, LOG_MARKER, sizeof(LOG_MARKER) - 1);
	p = field_end(p, lenp);
	p = field_begin(p, &lenp, "PRIORITY=");
	p = field_end(p + sprintf(p, "%d", m->severity), lenp);
	if (m->facility >= 0) {
		p = field_begin(p, &lenp, "SYSLOG_FACILITY=");
		p = field_end(p + sprintf(p, "%d", m->facility), lenp);
	}
	/* Unknown, the field is sent empty: sd_journal_sendv(3) would
	 * otherwise add SYSLOG_IDENTIFIER=multid, as if we had said it. */
	p = field_begin(p, &lenp, "SYSLOG_IDENTIFIER=");
	if (m->app != NULL)
		p += syslog_escape(p, m->app, m->app_len);
	p = field_end(p, lenp);
	p = field_begin(p, &lenp, "REMOTE_ADDR=");
	p = field_end(append(p, org->host, strlen(org->host)), lenp);
	p = field_begin(p, &lenp, "REMOTE_PORT=");
	p = field_end(p + sprintf(p, "%u", org->port), lenp);
	p = append(p, &zero, sizeof(zero));
	o->len += (size_t)(p - start);
	return true;
}

/* Parses and queues one record; false when it had to be dropped. */
static bool
log_record(struct log_state *ls, const struct log_origin *org,
    const char *rec, size_t len, bool cut)
{
	struct syslog_msg m;
	bool queued;

	syslog_parse(rec, len, &m);
	ls->svc->stats.custom[LOG_RECORDS]++;
	if (ls->out->sink == SINK_JOURNAL)
		queued = log_queue_journal(ls->out, org, &m, cut);
	else
		queued = log_queue_line(ls->out, org, &m, cut);
	if (!queued)
		log_lose(ls, 1, "the output is not keeping up");
	return queued;
}

/* Formats the sender's address, unless it is the one of last time. */
static void
log_origin_set(struct log_origin *org, const struct sockaddr *from,
    socklen_t fromlen)
{
	if (fromlen == org->fromlen && memcmp(from, &org->from, fromlen) == 0)
		return;
	if (fromlen > sizeof(org->from))
		fromlen = sizeof(org->from);
	memcpy(&org->from, from, fromlen);
	org->fromlen = fromlen;
	addr_text(from, org->addr, sizeof(org->addr));
	org->addr_len = strlen(org->addr);
	addr_host_text(from, org->host, sizeof(org->host));
	org->port = addr_port(from);
}

/* ---- the service hooks --------------------------------------------------- */

/* Splits a datagram into records.  One longer than max_message is cut
 * there, and its last record carries the marker, even when the cut left
 * nothing of it: the reader should see that something was lost. */
static void
log_datagram(struct svc *svc, struct dgram *d)
{
	const struct log_conf *lc = svc->conf->tconf;
	struct log_state *ls = svc->state;
	struct log_origin *org = &ls->origin;
	size_t len = d->len, end, pos = 0, rlen;
	bool cut = d->truncated, ok = true;
	const char *rec, *lf;

	if (len > (size_t)lc->max_message) {
		len = (size_t)lc->max_message;
		cut = true;
	}
	log_time_text(org->time);
	log_origin_set(org, d->from, d->fromlen);
	end = len;
	if (cut)
		end = (lf = memrchr(d->data, '\n', len)) != NULL ?
		    (size_t)(lf - d->data) + 1 : 0;
	while (syslog_next_record(d->data, end, &pos, &rec, &rlen))
		ok &= log_record(ls, org, rec, rlen, false);
	if (cut)
		ok &= log_record(ls, org, d->data + end, len - end, true);
	if (!ok)
		svc->stats.datagrams_dropped++;
}

/* Asks for rcvbuf bytes of receive buffer.  SO_RCVBUFFORCE may pass
 * net.core.rmem_max, but only with CAP_NET_ADMIN; otherwise the kernel
 * caps SO_RCVBUF there, and the operator is told. */
static void
log_set_rcvbuf(struct svc *svc, int fd)
{
	const struct log_conf *lc = svc->conf->tconf;
	int want = (int)lc->rcvbuf, got = 0;
	socklen_t len = sizeof(got);

	if (want == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	/* The kernel reports twice what it accounts for the payload. */
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 &&
	    got / 2 < want)
		svc_log(svc, LOG_LVL_WARNING, "rcvbuf: %d bytes asked, the kernel "
		    "gave %d (see net.core.rmem_max)", want, got / 2);
}

static void
log_bound(struct svc *svc, int fd, enum proto proto)
{
	(void)proto;
	log_set_rcvbuf(svc, fd);
}

/* Resolves a relative output path against the configuration file's
 * directory (as CFG_PATH does; "-" and "journal" are words, not paths)
 * and checks that its directory exists, so -t finds a typo. */
static const char *
log_configure(struct svc_conf *sc)
{
	struct log_conf *lc = sc->tconf;
	const char *slash = sc->file != NULL ? strrchr(sc->file, '/') : NULL;
	char *path, *dir;
	struct stat st;
	bool isdir;

	if (strcmp(lc->output, "-") == 0 || strcmp(lc->output, "journal") == 0)
		return NULL;
	if (lc->output[0] != '/' && slash != NULL) {
		if (asprintf(&path, "%.*s/%s", (int)(slash - sc->file), sc->file,
		    lc->output) < 0)
			return "out of memory";
		free(lc->output);
		lc->output = path;
	}
	slash = strrchr(lc->output, '/');
	if (slash == NULL)
		return NULL;
	if ((dir = strndup(lc->output, (size_t)(slash - lc->output))) == NULL)
		return "out of memory";
	isdir = stat(dir[0] != '\0' ? dir : "/", &st) == 0 && S_ISDIR(st.st_mode);
	free(dir);
	return isdir ? NULL : "output: the file's directory does not exist";
}

static int
log_start(struct svc *svc)
{
	const struct log_conf *lc = svc->conf->tconf;
	struct log_state *ls = calloc(1, sizeof(*ls));
	int rc;

	if (ls == NULL)
		return -ENOMEM;
	ls->svc = svc;
	if ((rc = log_out_open(svc, lc->output, &ls->out)) < 0) {
		free(ls);
		return rc;
	}
	if (!log_hooked && ev_before_sleep(server.loop, log_before_sleep,
	    NULL) == 0)
		log_hooked = true;
	ls->next = log_running;
	log_running = ls;
	svc->state = ls;
	return 0;
}

static void
log_stop(struct svc *svc)
{
	struct log_state *ls = svc->state, **pp = &log_running;

	while (*pp != ls)
		pp = &(*pp)->next;
	*pp = ls->next;
	/* At shutdown the last records may wait a moment for a slow
	 * reader; a service removed by a reload must not stall the rest. */
	log_out_close(ls, server.stopping ? LOG_DRAIN_MS : 0);
	free(ls);
	svc->state = NULL;
}

/* A reload: a changed output is opened first, and the old one is kept
 * when that fails; the receive buffer is sized again. */
static void
log_reconfigure(struct svc *svc)
{
	const struct log_conf *lc = svc->conf->tconf;
	struct log_state *ls = svc->state;
	struct log_out *fresh;

	for (struct listener *l = svc->listeners; l != NULL; l = l->next)
		log_set_rcvbuf(svc, l->fd);
	if (strcmp(ls->out->target, lc->output) == 0 ||
	    log_out_open(svc, lc->output, &fresh) != 0)
		return;
	log_out_close(ls, 0);
	ls->out = fresh;
	svc_log(svc, LOG_LVL_INFO, "writing to %s", log_out_name(fresh));
}

/* SIGHUP: logrotate has moved the file away; the batch being written
 * ends in the old file, and every record after it goes to a new one.  If
 * the new one cannot be opened, the old one stays in use, so nothing is
 * lost. */
static void
log_reopen(struct svc *svc)
{
	struct log_state *ls = svc->state;
	struct log_out *o = ls->out;
	int fd;

	if (o->sink != SINK_FILE)
		return;
	if ((fd = log_open_file(o->target)) < 0) {
		svc_log(svc, LOG_LVL_ERROR, "cannot reopen %s: %s; still writing "
		    "to the file open before", o->target, strerror(-fd));
		return;
	}
	writer_reopen(o->w, fd);
	log_flush(ls);
}

const struct service_type log_service = {
	.name = "log",
	.protos = PROTO_UDP,
	.keys = log_keys,
	.conf_size = sizeof(struct log_conf),
	.conf_defaults = &log_defaults,
	.idle_timeout = 300,
	.counters = log_counters,
	.configure = log_configure,
	.start = log_start,
	.reconfigure = log_reconfigure,
	.reopen = log_reopen,
	.stop = log_stop,
	.bound = log_bound,
	.datagram = log_datagram,
};
