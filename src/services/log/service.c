/*
 * service.c - the log service: syslog over UDP, written as one line per
 * record to stdout, a file or the systemd journal.
 *
 * Keys: output ("-" for stdout, "journal", or a file path, relative to
 * the configuration file), max_message (bytes of a datagram kept),
 * rcvbuf (the socket receive buffer, which is what absorbs a burst), and
 * forward and forward_queue (a collector every record is sent on to, and
 * the bytes that may wait for it: forward.c).  With forward and no
 * output, records are only forwarded.
 *
 * Records are formatted into one queue per service and written in a
 * batch before the loop sleeps, as redis flushes its replies.  The queue
 * is bounded: an output that cannot keep up (a full pipe, a stalled or
 * full disk) costs records, counted and reported once, never the
 * reactor's time.  Pipes, terminals and sockets are written without
 * blocking; files and the journal, which may block, are written by a
 * thread of their own that takes the whole queue at a time.
 *
 * This file holds the keys and hooks and splits datagrams into records;
 * output.h lists the other files of the service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../listener.h"
#include "../../log.h"
#include "../../server.h"
#include "forward.h"
#include "output.h"

#define LOG_DRAIN_MS    1000           /* final flush at shutdown, at most */

struct log_conf {
	char *output;             /* "-", "journal", an absolute path, or NULL
	                             when forward alone is wanted */
	long  max_message;        /* bytes of a datagram that are kept */
	long  rcvbuf;             /* SO_RCVBUF in bytes, 0 = kernel default */
	char *forward;            /* "tcp://HOST:PORT", or NULL */
	long  forward_queue;      /* bytes waiting for the collector, at most */
};

static const struct log_conf log_defaults = {
	.output = NULL,
	.max_message = 8192,
	.rcvbuf = 4 << 20,
	.forward = NULL,
	.forward_queue = 64L << 20,
};

static const struct cfg_key log_keys[] = {
	{ "output", CFG_STRING, offsetof(struct log_conf, output), 1, 4096,
	  NULL },
	{ "max_message", CFG_INT, offsetof(struct log_conf, max_message), 16,
	  65536, NULL },
	{ "rcvbuf", CFG_INT, offsetof(struct log_conf, rcvbuf), 0, 1 << 30,
	  NULL },
	{ "forward", CFG_STRING, offsetof(struct log_conf, forward), 1,
	  FORWARD_HOST_MAX + 16, NULL },
	{ "forward_queue", CFG_INT, offsetof(struct log_conf, forward_queue),
	  1024, 1LL << 34, NULL },
	CFG_KEY_END
};

static const struct svc_counter log_counters[] = {
	{ "multid_log_records_total", "Log records received." },
	{ "multid_log_records_dropped_total",
	  "Log records lost because the output failed or could not keep up." },
	{ "multid_log_forward_dropped_total",
	  "Log records not forwarded because the forward queue was full." },
	{ "multid_log_forwarded_total",
	  "Log records the collector has acknowledged." },
	{ "multid_backend_up{backend=\"forward\"}",
	  "1 while connected to the shared backend, else 0." },
	{ NULL, NULL }
};

static struct log_state *log_running;     /* every started log service */
static bool              log_hooked;      /* the flush hook is registered */

/* Runs before the loop sleeps: every record received in this iteration
 * goes out in one write per service. */
static void
log_before_sleep(struct ev_loop *loop, void *data)
{
	(void)loop;
	(void)data;
	for (struct log_state *ls = log_running; ls != NULL; ls = ls->next) {
		if (ls->out != NULL && !ls->out->watching)
			log_flush(ls);
		if (ls->fwd != NULL)
			forward_flush(ls->fwd);
	}
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
	if (ls->fwd != NULL) {
		const struct forward_origin fo = { org->time, org->host };

		forward_record(ls->fwd, &m, cut, &fo);
	}
	if (ls->out == NULL)
		return true;
	if (ls->out->sink == SINK_JOURNAL)
		queued = log_queue_journal(ls->out, org, &m, cut);
	else
		queued = log_queue_line(ls->out, org, &m, cut);
	if (!queued)
		log_lose(ls, 1, "the output is not keeping up");
	return queued;
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

/* Checks the forward URL; NULL or a phrase naming the key. */
static const char *
log_configure_forward(const struct log_conf *lc)
{
	static char phrase[128];
	char host[FORWARD_HOST_MAX + 1];
	unsigned port;
	const char *err;

	if (lc->forward == NULL ||
	    (err = forward_parse_url(lc->forward, host, &port)) == NULL)
		return NULL;
	snprintf(phrase, sizeof(phrase), "forward: %s", err);
	return phrase;
}

/* Checks the forward URL; without forward the output defaults to "-".
 * Resolves a relative output path against the configuration file's
 * directory (as CFG_PATH does; "-" and "journal" are words, not paths)
 * and checks that its directory exists, so -t finds a typo. */
static const char *
log_configure(struct svc_conf *sc)
{
	struct log_conf *lc = sc->tconf;
	const char *slash = sc->file != NULL ? strrchr(sc->file, '/') : NULL;
	const char *err;
	char *path, *dir;
	struct stat st;
	bool isdir;

	if ((err = log_configure_forward(lc)) != NULL)
		return err;
	if (lc->output == NULL && lc->forward == NULL &&
	    (lc->output = strdup("-")) == NULL)
		return "out of memory";
	if (lc->output == NULL || strcmp(lc->output, "-") == 0 ||
	    strcmp(lc->output, "journal") == 0)
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

/* The forward series mean something only with forward set. */
static void
log_show_forward(struct svc *svc, bool shown)
{
	uint32_t bits = 1u << LOG_FWD_DROPPED | 1u << LOG_FWD_SENT |
	    1u << LOG_FWD_UP;

	if (shown)
		svc->stats.custom_hidden &= ~bits;
	else
		svc->stats.custom_hidden |= bits;
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
	if (lc->output != NULL &&
	    (rc = log_out_open(svc, lc->output, &ls->out)) < 0) {
		free(ls);
		return rc;
	}
	if (lc->forward != NULL &&
	    (rc = forward_start(svc, lc->forward, lc->forward_queue,
	    &ls->fwd)) < 0) {
		if (ls->out != NULL)
			log_out_close(ls, 0);
		free(ls);
		return rc;
	}
	log_show_forward(svc, lc->forward != NULL);
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
	if (ls->out != NULL)
		log_out_close(ls, server.stopping ? LOG_DRAIN_MS : 0);
	if (ls->fwd != NULL)
		forward_stop(ls->fwd, server.stopping ? LOG_DRAIN_MS : 0);
	free(ls);
	svc->state = NULL;
}

/* A reload of forward: started, stopped, or moved to another
 * collector with its queue. */
static void
log_reconfigure_forward(struct svc *svc)
{
	const struct log_conf *lc = svc->conf->tconf;
	struct log_state *ls = svc->state;

	if (lc->forward == NULL && ls->fwd != NULL) {
		forward_stop(ls->fwd, 0);
		ls->fwd = NULL;
		svc->stats.custom[LOG_FWD_UP] = 0;
	} else if (lc->forward != NULL && ls->fwd != NULL) {
		forward_reconfigure(ls->fwd, lc->forward, lc->forward_queue);
	} else if (lc->forward != NULL) {
		forward_start(svc, lc->forward, lc->forward_queue, &ls->fwd);
	}
	log_show_forward(svc, ls->fwd != NULL);
}

/* A reload: a changed output is opened first, and the old one is kept
 * when that fails (and a service that only forwarded then keeps only
 * forwarding); the receive buffer is sized again. */
static void
log_reconfigure(struct svc *svc)
{
	const struct log_conf *lc = svc->conf->tconf;
	struct log_state *ls = svc->state;
	struct log_out *fresh = NULL;

	for (struct listener *l = svc->listeners; l != NULL; l = l->next)
		log_set_rcvbuf(svc, l->fd);
	log_reconfigure_forward(svc);
	if (ls->out == NULL && lc->output == NULL)
		return;
	if (ls->out != NULL && lc->output != NULL &&
	    strcmp(ls->out->target, lc->output) == 0)
		return;
	if (lc->output != NULL && log_out_open(svc, lc->output, &fresh) != 0)
		return;
	if (lc->output == NULL && ls->fwd == NULL)
		return;
	if (ls->out != NULL)
		log_out_close(ls, 0);
	ls->out = fresh;
	if (fresh != NULL)
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

	if (o == NULL || o->sink != SINK_FILE)
		return;
	if ((fd = log_open_file(o->target)) < 0) {
		svc_log(svc, LOG_LVL_ERROR, "cannot reopen %s: %s; still writing "
		    "to the file open before", o->target, strerror(-fd));
		return;
	}
	log_writer_reopen(o->w, fd);
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
