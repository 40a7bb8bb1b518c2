/*
 * output.c - the output of a log service: stdout, a file or the journal,
 * and its queue of formatted records.
 *
 * Records are formatted into one queue per service and written in a
 * batch before the loop sleeps.  Pipes, terminals and sockets are written
 * here without blocking, waiting for EV_WRITABLE when full; files and the
 * journal, which may block, are handed to a writer thread (writer.c).
 * Records that cannot be written are counted and reported once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../log.h"
#include "../../server.h"
#include "output.h"

#define LOG_RETRY_MS    10             /* hand-over poll while the thread writes */

/* The name of the output in messages. */
const char *
log_out_name(const struct log_out *o)
{
	if (o->sink == SINK_STDOUT)
		return "stdout";
	return o->sink == SINK_JOURNAL ? "the journal" : o->target;
}

/* Records n lost records; the first loss after a good spell is reported. */
void
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
void
log_recovered(struct log_state *ls)
{
	if (!ls->failing)
		return;
	svc_log(ls->svc, LOG_LVL_NOTICE, "%s: writing again; %" PRIu64
	    " records were dropped", log_out_name(ls->out), ls->lost);
	ls->failing = false;
	ls->lost = 0;
}

/* Records in queued bytes of an output of that kind. */
uint64_t
log_records_count(enum log_sink sink, const char *p, const char *end)
{
	return sink == SINK_JOURNAL ? log_journal_count(p, end) : log_line_count(p, end);
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
		return log_writer_start(o, fd);
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
int
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
int
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
		rc = log_writer_start(o, -1);
	} else {
		o->sink = SINK_FILE;
		if ((rc = log_open_file(target)) >= 0)
			rc = log_writer_start(o, rc);
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

	log_lose(ls, log_records_count(o->sink, o->buf + o->head, o->buf + o->len),
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
		log_writer_stop(ls, wait_ms);
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
void
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
	if (log_writer_handover(ls))
		return LOG_RETRY_MS;
	ls->timer = 0;
	return -1;
}

/* Sends the queue on its way: to the writer thread when it is idle (a
 * timer tries again while it is busy), or into a pipe or socket until it
 * is full, which arms EV_WRITABLE.  A write error (a full disk) costs the
 * records being written, and is reported once until a write succeeds again. */
void
log_flush(struct log_state *ls)
{
	struct log_out *o = ls->out;
	int rc;

	if (o->w != NULL) {
		/* Nothing new: the timer, armed while the thread works, takes
		 * note of how its batch went. */
		if (o->len == 0)
			return;
		if (log_writer_handover(ls) && ls->timer == 0)
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

/* Returns room for need more bytes in the queue, or NULL when it is full. */
char *
log_reserve(struct log_out *o, size_t need)
{
	if (o->len + need > LOG_QUEUE_MAX && o->head > 0) {
		memmove(o->buf, o->buf + o->head, o->len - o->head);
		o->len -= o->head;
		o->head = 0;
	}
	return o->len + need <= LOG_QUEUE_MAX ? o->buf + o->len : NULL;
}
