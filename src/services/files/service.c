/*
 * service.c - the files service type: file transfer with nc and tar.
 *
 * Keys: mode ("receive" or "send", required), directory (receive:
 * required), path (send: required), extract (receive: unpack a tar),
 * max_size (receive: bytes per upload, default 1073741824), format
 * (send, for a directory: "tar" or "tar.gz").
 *
 * The disk never stalls the reactor.  Each running service has two
 * workers, started on first use: "io" for short jobs (writing a buffer,
 * syncing and renaming, making a chunk of tar, sweeping temporaries) and
 * "unpack" for extractions, each of which holds a thread while its upload
 * lasts (libarchive's reader blocks).  Extractions past the unpack
 * worker's threads wait their turn with their input paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "../../conn.h"
#include "../../log.h"
#include "../../server.h"
#include "files.h"

#define FILES_IO_THREADS     4        /* short jobs of every connection */
#define FILES_UNPACK_THREADS 16       /* extractions at once */
#define FILES_DISCARD_MS     60000    /* discarding without idle_timeout */
#define FILES_SIZE_MAX       (1LL << 50) /* largest max_size */

static const char *const files_modes[] = { "receive", "send", NULL };
static const char *const files_formats[] = { "tar", "tar.gz", NULL };

static const struct files_conf files_defaults = {
	.mode = -1,
	.max_size = 1073741824,
	.format = FILES_TAR,
	.dirfd = -1,
};

static const struct cfg_key files_keys[] = {
	{ "mode", CFG_ENUM, offsetof(struct files_conf, mode), 0, 0,
	  files_modes },
	{ "directory", CFG_PATH, offsetof(struct files_conf, directory), 1,
	  4096, NULL },
	{ "path", CFG_PATH, offsetof(struct files_conf, path), 1, 4096, NULL },
	{ "extract", CFG_BOOL, offsetof(struct files_conf, extract), 0, 0,
	  NULL },
	{ "max_size", CFG_INT, offsetof(struct files_conf, max_size), 1,
	  FILES_SIZE_MAX, NULL },
	{ "format", CFG_ENUM, offsetof(struct files_conf, format), 0, 0,
	  files_formats },
	CFG_KEY_END
};

static const struct svc_counter files_counters[] = {
	[FILES_UPLOADS] = { "multid_files_uploads_total",
	  "Uploads stored under their final name." },
	[FILES_UPLOAD_BYTES] = { "multid_files_upload_bytes_total",
	  "Bytes received in uploads that were stored." },
	[FILES_UPLOADS_FAILED] = { "multid_files_uploads_failed_total",
	  "Uploads that left nothing: reset, timeout, too large, refused." },
	{ NULL, NULL },
};

/* ---- shared with the other files ------------------------------------- */

struct worker *
files_io(struct files_svc *fs)
{
	struct worker_config wc = { .name = "files-io",
	    .threads = FILES_IO_THREADS };
	int err;

	if (fs->io == NULL && (fs->io = worker_start(server.loop, &wc,
	    &err)) == NULL)
		svc_log(fs->svc, LOG_LVL_ERROR, "cannot start workers: %s",
		    strerror(-err));
	return fs->io;
}

static void
files_on_wake(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct files_svc *fs = data;
	uint64_t n;

	(void)loop;
	(void)mask;
	while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	files_extract_wake(fs->svc);
}

struct worker *
files_unpack(struct files_svc *fs)
{
	struct worker_config wc = { .name = "files-unpack",
	    .threads = FILES_UNPACK_THREADS };
	int err = 0;

	if (fs->unpack != NULL)
		return fs->unpack;
	if (fs->wakefd < 0) {
		fs->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fs->wakefd < 0 || (err = ev_add(server.loop, fs->wakefd,
		    EV_READABLE, files_on_wake, fs)) != 0) {
			err = fs->wakefd < 0 ? -errno : err;
			if (fs->wakefd >= 0)
				close(fs->wakefd);
			fs->wakefd = -1;
		}
	}
	if (fs->wakefd >= 0)
		fs->unpack = worker_start(server.loop, &wc, &err);
	if (fs->unpack == NULL)
		svc_log(fs->svc, LOG_LVL_ERROR, "cannot start extraction: %s",
		    strerror(-err));
	return fs->unpack;
}

void
files_wake(struct files_svc *fs)
{
	uint64_t one = 1;

	while (write(fs->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void
files_touch(struct conn *c)
{
	long idle = c->conf->idle_timeout;

	c->deadline = idle > 0 ? ev_now(server.loop) + idle * 1000 : 0;
}

void
files_discard_rest(struct conn *c)
{
	long idle = c->conf->idle_timeout;

	c->deadline = ev_now(server.loop) +
	    (idle > 0 ? idle * 1000 : FILES_DISCARD_MS);
}

/* ---- connections, by mode -------------------------------------------- */

static const struct files_conf *
files_conf_of(const struct conn *c)
{
	return c->conf->tconf;
}

static int
files_open(struct conn *c)
{
	const struct files_conf *conf = files_conf_of(c);

	if (conf->mode == FILES_SEND)
		return files_send_open(c);
	conn_want_writable(c, false);
	return conf->extract ? files_extract_open(c) : files_receive_open(c);
}

static size_t
files_read(struct conn *c, const char *data, size_t len)
{
	const struct files_conf *conf = files_conf_of(c);

	if (conf->mode == FILES_SEND)
		return len;             /* read and thrown away */
	return conf->extract ? files_extract_read(c, data, len) :
	    files_receive_read(c, data, len);
}

/* A client of "send" that half-closes still gets all of the tar. */
static void
files_eof(struct conn *c)
{
	const struct files_conf *conf = files_conf_of(c);

	if (conf->mode == FILES_SEND)
		return;
	if (conf->extract)
		files_extract_eof(c);
	else
		files_receive_eof(c);
}

static void
files_close(struct conn *c, enum close_reason why)
{
	const struct files_conf *conf = files_conf_of(c);

	(void)why;
	if (c->data == NULL)
		return;
	if (conf->mode == FILES_SEND)
		files_send_close(c);
	else if (conf->extract)
		files_extract_close(c);
	else
		files_receive_close(c);
}

static void
files_writable(struct conn *c)
{
	if (files_conf_of(c)->mode == FILES_SEND)
		files_send_writable(c);
	else
		conn_want_writable(c, false);
}

/* idle_timeout passed.  An uploader whose input waits for the disk
 * (paused, or half-closed and waiting for its answer) is not idle: the
 * clock is renewed, which keeps the connection.  A download that the
 * client stopped reading is idle. */
static void
files_timeout(struct conn *c)
{
	if (files_conf_of(c)->mode == FILES_RECEIVE &&
	    (c->paused || c->peer_eof))
		files_touch(c);
}

/* ---- configuration and life cycle ------------------------------------ */

static const char *
files_configure(struct svc_conf *sc)
{
	struct files_conf *fc = sc->tconf;
	static char why[PATH_MAX + 64];
	struct stat st;

	if (fc->mode < 0)
		return "mode: required (\"receive\" or \"send\")";
	if (fc->mode == FILES_SEND) {
		if (fc->path == NULL)
			return "path: required with mode = \"send\"";
		if (fc->directory != NULL || fc->extract)
			return "directory and extract: only with mode = \"receive\"";
		if (stat(fc->path, &st) != 0) {
			snprintf(why, sizeof(why), "path: cannot open %s: %s",
			    fc->path, strerror(errno));
			return why;
		}
		return NULL;
	}
	if (fc->directory == NULL)
		return "directory: required with mode = \"receive\"";
	if (fc->path != NULL)
		return "path: only with mode = \"send\"";
	fc->dirfd = open(fc->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fc->dirfd < 0) {
		snprintf(why, sizeof(why), "directory: cannot open %s: %s",
		    fc->directory, strerror(errno));
		return why;
	}
	return NULL;
}

static void
files_conf_free(void *tconf)
{
	struct files_conf *fc = tconf;

	if (fc->dirfd >= 0)
		close(fc->dirfd);
	fc->dirfd = -1;
}

/* Sweeping a directory for a killed daemon's temporaries. */
struct files_sweeping {
	struct worker_job job;        /* on the io worker */
	struct svc_conf  *conf;       /* held, for its directory */
	struct svc       *svc;        /* for the log line */
	int               removed;    /* temporaries removed */
};

static void
files_sweep_run(struct worker_job *job)
{
	struct files_sweeping *sw = (struct files_sweeping *)job;

	sw->removed = files_sweep(((struct files_conf *)sw->conf->tconf)->dirfd);
}

static void
files_sweep_done(struct worker_job *job)
{
	struct files_sweeping *sw = (struct files_sweeping *)job;

	if (sw->removed > 0)
		svc_log(sw->svc, LOG_LVL_NOTICE,
		    "removed %d unfinished upload(s) of an earlier run",
		    sw->removed);
	svc_conf_unref(sw->conf);
	free(sw);
}

/* Starts the sweep of a receiving service's directory. */
static void
files_sweep_soon(struct svc *svc)
{
	const struct files_conf *fc = svc->conf->tconf;
	struct worker *io;
	struct files_sweeping *sw;

	if (fc->mode != FILES_RECEIVE || (io = files_io(svc->state)) == NULL ||
	    (sw = calloc(1, sizeof(*sw))) == NULL)
		return;
	sw->job.run = files_sweep_run;
	sw->job.done = files_sweep_done;
	sw->conf = svc_conf_ref(svc->conf);
	sw->svc = svc;
	if (worker_submit(io, &sw->job) != 0) {
		svc_conf_unref(sw->conf);
		free(sw);
	}
}

static int
files_start(struct svc *svc)
{
	struct files_svc *fs = calloc(1, sizeof(*fs));

	if (fs == NULL)
		return -ENOMEM;
	fs->svc = svc;
	fs->wakefd = -1;
	svc->state = fs;
	files_sweep_soon(svc);
	return 0;
}

/* Another directory may hold an earlier run's temporaries too. */
static void
files_reconfigure(struct svc *svc)
{
	files_sweep_soon(svc);
}

/* Its connections are closed, so every extraction is aborted: the
 * workers finish what is queued (removing temporaries) and stop. */
static void
files_stop(struct svc *svc)
{
	struct files_svc *fs = svc->state;

	if (fs->unpack != NULL)
		worker_stop(fs->unpack);
	if (fs->io != NULL)
		worker_stop(fs->io);
	if (fs->wakefd >= 0) {
		ev_del(server.loop, fs->wakefd, EV_READABLE);
		close(fs->wakefd);
	}
	free(fs);
	svc->state = NULL;
}

const struct service_type files_service = {
	.name = "files",
	.protos = PROTO_TCP,
	.keys = files_keys,
	.conf_size = sizeof(struct files_conf),
	.conf_defaults = &files_defaults,
	.idle_timeout = 300,
	.counters = files_counters,
	.configure = files_configure,
	.conf_free = files_conf_free,
	.start = files_start,
	.reconfigure = files_reconfigure,
	.stop = files_stop,
	.open = files_open,
	.read = files_read,
	.writable = files_writable,
	.timeout = files_timeout,
	.eof = files_eof,
	.close = files_close,
};
