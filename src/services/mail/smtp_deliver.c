/*
 * smtp_deliver.c - smtp's messages on their way to disk: spilled to an
 * anonymous file past SMTP_HEAD_MAX, then made durable in every
 * recipient's Maildir (see smtp_deliver.h).
 *
 * A message is owned by its session until it is released; one released
 * while a spill is written, or while its copies are, is freed by the
 * completion that comes last.  The spill file's fd, its offset and its
 * error are the worker's while a job is in flight and the reactor's
 * otherwise (the worker's done queue orders the two).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../conn.h"
#include "../../durable.h"
#include "../../server.h"
#include "../../worker.h"
#include "maildir.h"
#include "smtp_deliver.h"

#define SMTP_SYNC_THREADS  4          /* durable helpers: their fsyncs run
                                         side by side, as the disk merges
                                         concurrent flushes */
#define SMTP_SPILL_THREADS 2          /* threads writing spilled bodies */
#define SMTP_RECEIVED_MAX  1024       /* a Received: header, bytes */

/* The service's side of the disk. */
struct smtp_store {
	struct svc     *svc;          /* for counters and log lines */
	int             rootfd;       /* the maildir directory */
	char           *path;         /* its path, as configured at start */
	struct worker  *spill;        /* writes spilled bodies */
	struct durable *durable[SMTP_SYNC_THREADS]; /* the syncing threads */
	unsigned        next;         /* the helper the next message goes to */
	bool            stopping;     /* the stop has begun */
};

/* One copy of a message, for one recipient's mailbox. */
struct smtp_copy {
	struct durable_req req;       /* the durable write */
	struct maildir_box mb;        /* the mailbox's directories */
	struct smtp_msg   *m;         /* the message it belongs to */
};

/* A message from DATA to the last copy's sync. */
struct smtp_msg {
	struct worker_job  job;       /* a spill being written */
	struct smtp_store *store;     /* where it goes */
	smtp_msg_proc     *proc;      /* tells the session */
	void              *owner;     /* the session; NULL once released */
	char               id[24];    /* the queue id */
	char               head[SMTP_RECEIVED_MAX]; /* the Received: header */
	size_t             headlen;   /* its bytes */
	char               box[NAME_LEN_MAX + 1]; /* the spill file's mailbox */
	int                fd;        /* the spill file, or -1 */
	bool               named;     /* it has a name (no O_TMPFILE here):
	                                 copied, never linked */
	off_t              written;   /* bytes in fd */
	int                error;     /* the first spill error */
	char              *chunk;     /* bytes a job writes, else a spare */
	size_t             chunk_cap; /* its size */
	size_t             chunk_len; /* bytes to write */
	char              *tail;      /* the body's last bytes, not yet
	                                 written when it ended */
	size_t             tail_cap;  /* its size */
	size_t             tail_len;  /* its bytes */
	size_t             fsize;     /* bytes of the message so far */
	size_t             vsize;     /* the same with CRLF line ends */
	bool               prev_cr;   /* the last byte counted was a CR */
	bool               spilled;   /* part of the body is in fd */
	bool               busy;      /* a spill job is in flight */
	bool               waiting;   /* the session waits for room */
	bool               ending;    /* the body ended: store it */
	char              *data;      /* a message kept in memory, whole */
	struct smtp_copy  *copies;    /* one per mailbox */
	size_t             ncopies;   /* how many */
	size_t             pending;   /* copies not done yet */
	int                result;    /* 0, or the first copy's error */
	char               name[MAILDIR_NAME_MAX + 1]; /* its file name */
};

/* Spill files that need a name are unique in this process. */
static atomic_uint smtp_spill_seq;

static struct smtp_msg *
smtp_msg_of_job(struct worker_job *job)
{
	return (struct smtp_msg *)((char *)job -
	    offsetof(struct smtp_msg, job));
}

/* ---- the Received: header ----------------------------------------------- */

/* The client's address as Postfix writes it in Received: "1.2.3.4" or
 * "IPv6:::1". */
static void
smtp_peer_ip(const struct conn *c, char *out, size_t size)
{
	char host[NI_MAXHOST];

	if (getnameinfo((const struct sockaddr *)&c->peer, c->peerlen, host,
	    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(host, sizeof(host), "unknown");
	if (c->peer.ss_family == AF_INET6)
		snprintf(out, size, "IPv6:%s", host);
	else
		snprintf(out, size, "%s", host);
}

/* The Received: header that goes before the message, dated when DATA
 * begins, as Postfix's. */
static int
smtp_received(const struct smtp_trace *tr, const char *id, char *out,
    size_t size)
{
	char ip[NI_MAXHOST + 8], date[64];
	const char *helo = tr->helo[0] != '\0' ? tr->helo : "unknown";
	const char *with = tr->esmtp ? "ESMTP" : "SMTP";
	time_t now = time(NULL);
	struct tm tm;

	smtp_peer_ip(tr->conn, ip, sizeof(ip));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000 (UTC)", &tm);
	if (tr->nrcpt == 1)
		return snprintf(out, size, "Received: from %s (unknown [%s])\n"
		    "\tby %s (multid) with %s id %s\n\tfor <%s>; %s\n",
		    helo, ip, tr->host, with, id, tr->rcpt, date);
	return snprintf(out, size, "Received: from %s (unknown [%s])\n"
	    "\tby %s (multid) with %s id %s;\n\t%s\n",
	    helo, ip, tr->host, with, id, date);
}

/* A queue id: hexadecimal, unique in this process and across restarts
 * (the time in microseconds and a counter). */
static void
smtp_queue_id(char *out, size_t size)
{
	static unsigned seq;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, size, "%llX%03X", (unsigned long long)ts.tv_sec *
	    1000000ull + (unsigned long long)ts.tv_nsec / 1000, ++seq & 0xfff);
}

/* ---- messages ----------------------------------------------------------- */

static void
smtp_msg_free(struct smtp_msg *m)
{
	for (size_t i = 0; i < m->ncopies; i++)
		maildir_close(&m->copies[i].mb);
	if (m->fd >= 0)
		close(m->fd);
	free(m->copies);
	free(m->data);
	free(m->chunk);
	free(m->tail);
	free(m);
}

struct smtp_msg *
smtp_msg_new(struct smtp_store *st, const char *box,
    const struct smtp_trace *tr, smtp_msg_proc *proc, void *owner)
{
	struct smtp_msg *m = calloc(1, sizeof(*m));
	int n;

	if (m == NULL)
		return NULL;
	m->store = st;
	m->proc = proc;
	m->owner = owner;
	m->fd = -1;
	snprintf(m->box, sizeof(m->box), "%s", box);
	smtp_queue_id(m->id, sizeof(m->id));
	n = smtp_received(tr, m->id, m->head, sizeof(m->head));
	if (n < 0 || (size_t)n >= sizeof(m->head)) {
		free(m);
		return NULL;
	}
	m->headlen = (size_t)n;
	m->fsize = m->headlen;
	m->vsize = maildir_crlf_size(m->head, m->headlen, &m->prev_cr);
	return m;
}

/* The message is stored or refused: counted, logged, reported, freed. */
static void
smtp_msg_complete(struct smtp_msg *m, int result)
{
	struct svc *svc = m->store->svc;

	if (result != 0) {
		svc->stats.custom[SMTP_COUNTER_REFUSED]++;
		svc_log(svc, LOG_LVL_WARNING, "cannot store a message: %s",
		    strerror(-result));
	} else {
		svc->stats.custom[SMTP_COUNTER_STORED]++;
	}
	if (m->owner != NULL)
		m->proc(m->owner, SMTP_MSG_STORED, result, m->id);
	smtp_msg_free(m);
}

/* ---- spilling, on the worker -------------------------------------------- */

/* Writes all of len bytes at off; 0 or a negative errno. */
static int
smtp_pwrite_all(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A file with a name in tmp/ for a file system without O_TMPFILE; the
 * name goes at once, so a crash leaves nothing behind either. */
static int
smtp_spill_named(int tmpfd)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), ".multid-spill-%ld-%u", (long)getpid(),
	    atomic_fetch_add(&smtp_spill_seq, 1));
	fd = openat(tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlinkat(tmpfd, name, 0);
	return fd;
}

/* Opens the spill file in the first mailbox's tmp/, the header first. */
static int
smtp_spill_open(struct smtp_msg *m)
{
	struct maildir_box mb;
	int rc = maildir_open(m->store->rootfd, m->box, &mb);

	if (rc != 0)
		return rc;
	m->fd = durable_tmpfile(mb.tmpfd, 0600);
	if (m->fd == -EOPNOTSUPP) {
		m->fd = smtp_spill_named(mb.tmpfd);
		m->named = m->fd >= 0;
	}
	maildir_close(&mb);
	if (m->fd < 0) {
		rc = m->fd;
		m->fd = -1;
		return rc;
	}
	m->written = (off_t)m->headlen;
	return smtp_pwrite_all(m->fd, m->head, m->headlen, 0);
}

static void
smtp_spill_run(struct worker_job *job)
{
	struct smtp_msg *m = smtp_msg_of_job(job);
	int rc = m->error;

	if (rc == 0 && m->fd < 0)
		rc = smtp_spill_open(m);
	if (rc == 0)
		rc = smtp_pwrite_all(m->fd, m->chunk, m->chunk_len, m->written);
	if (rc == 0)
		m->written += (off_t)m->chunk_len;
	m->error = rc;
}

/* ---- spilling, on the reactor ------------------------------------------- */

static void smtp_spill_done(struct worker_job *job);

/* Counts what is in buf[0..len) into the message's sizes. */
static void
smtp_msg_count(struct smtp_msg *m, const char *buf, size_t len)
{
	m->fsize += len;
	m->vsize += maildir_crlf_size(buf, len, &m->prev_cr);
}

/* Writes m->chunk on the worker. */
static void
smtp_spill_submit(struct smtp_msg *m)
{
	m->spilled = true;
	if (m->error != 0)
		return;
	m->job.run = smtp_spill_run;
	m->job.done = smtp_spill_done;
	if (worker_submit(m->store->spill, &m->job) != 0)
		m->error = -ESHUTDOWN;
	else
		m->busy = true;
}

bool
smtp_msg_feed(struct smtp_msg *m, struct smtp_body *b)
{
	if (b->len < SMTP_HEAD_MAX)
		return true;
	if (m->busy) {
		m->waiting = true;
		return false;
	}
	/* The written chunk becomes the body's empty buffer. */
	smtp_body_swap(b, &m->chunk, &m->chunk_cap, &m->chunk_len);
	smtp_msg_count(m, m->chunk, m->chunk_len);
	smtp_spill_submit(m);
	return true;
}

static int smtp_msg_copies(struct smtp_msg *m);

/* The body has ended and is spilled: its tail is written, then the file
 * is linked into every mailbox. */
static void
smtp_spill_finish(struct smtp_msg *m)
{
	int rc;

	if (m->busy)
		return;                 /* again when the job is done */
	if (m->tail != NULL && m->tail_len > 0 && m->error == 0) {
		free(m->chunk);
		m->chunk = m->tail;
		m->chunk_cap = m->tail_cap;
		m->chunk_len = m->tail_len;
		m->tail = NULL;
		smtp_spill_submit(m);
		if (m->busy)
			return;
	}
	rc = m->error != 0 ? m->error : smtp_msg_copies(m);
	if (rc != 0)
		smtp_msg_complete(m, rc);
}

static void
smtp_spill_done(struct worker_job *job)
{
	struct smtp_msg *m = smtp_msg_of_job(job);

	m->busy = false;
	if (m->ending) {
		smtp_spill_finish(m);
	} else if (m->owner == NULL) {
		smtp_msg_free(m);
	} else if (m->waiting) {
		m->waiting = false;
		m->proc(m->owner, SMTP_MSG_ROOM, 0, NULL);
	}
}

/* ---- copies --------------------------------------------------------------- */

/* Every copy is done: the copies that were stored are taken back when
 * another failed, so nothing is half there. */
static void
smtp_copy_done(struct durable_req *req)
{
	struct smtp_copy *cp = (struct smtp_copy *)((char *)req -
	    offsetof(struct smtp_copy, req));
	struct smtp_msg *m = cp->m;

	if (req->result != 0 && m->result == 0)
		m->result = req->result;
	if (--m->pending > 0)
		return;
	if (m->result != 0)
		for (size_t i = 0; i < m->ncopies; i++)
			if (m->copies[i].req.result == 0)
				unlinkat(m->copies[i].mb.newfd, m->name, 0);
	smtp_msg_complete(m, m->result);
}

/* Opens every recipient's mailbox; their durable copies are queued by
 * smtp_msg_copies. */
static int
smtp_msg_open(struct smtp_msg *m, const char (*boxes)[NAME_LEN_MAX + 1],
    size_t nbox)
{
	int rc;

	if ((m->copies = calloc(nbox, sizeof(*m->copies))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nbox; i++) {
		struct smtp_copy *cp = &m->copies[i];

		cp->mb.boxfd = cp->mb.tmpfd = cp->mb.newfd = cp->mb.curfd = -1;
		m->ncopies = i + 1;
		if ((rc = maildir_open(m->store->rootfd, boxes[i], &cp->mb)) != 0)
			return rc;
		cp->m = m;
	}
	return 0;
}

/* Queues one durable copy per mailbox, of the bytes in memory or of the
 * spill file, all on one helper so that they share its syncs. */
static int
smtp_msg_copies(struct smtp_msg *m)
{
	struct smtp_store *st = m->store;
	struct durable *d = st->durable[st->next++ % SMTP_SYNC_THREADS];

	for (size_t i = 0; i < m->ncopies; i++) {
		struct durable_req *r = &m->copies[i].req;

		r->dirfd = m->copies[i].mb.newfd;
		r->tmpdirfd = m->copies[i].mb.tmpfd;
		r->name = m->name;
		r->data = m->data;
		r->len = m->fsize;
		r->fd = m->spilled ? m->fd : -1;
		r->mode = 0600;
		r->flags = DURABLE_NOREPLACE | DURABLE_KEEP_FD |
		    (m->named ? DURABLE_COPY : 0);
	}
	m->pending = m->ncopies;
	for (size_t i = 0; i < m->ncopies; i++)
		if (durable_submit(d, &m->copies[i].req, smtp_copy_done) != 0) {
			/* Only at stop, before any was queued: the helper
			 * takes all or, stopping, none. */
			m->pending = 0;
			return -ESHUTDOWN;
		}
	return 0;
}

/* A message that fits in memory, with its header, in one buffer. */
static int
smtp_msg_gather(struct smtp_msg *m, const struct smtp_body *b)
{
	if ((m->data = malloc(m->headlen + b->len + 1)) == NULL)
		return -ENOMEM;
	memcpy(m->data, m->head, m->headlen);
	if (b->len > 0)
		memcpy(m->data + m->headlen, b->buf, b->len);
	smtp_msg_count(m, b->buf != NULL ? b->buf : "", b->len);
	return 0;
}

void
smtp_msg_deliver(struct smtp_msg *m, struct smtp_body *b,
    const char (*boxes)[NAME_LEN_MAX + 1], size_t nbox, const char *host)
{
	int rc = m->store->stopping ? -ESHUTDOWN : 0;

	m->ending = true;
	m->waiting = false;
	if (m->spilled) {
		/* The last bytes leave the body, which may be freed before
		 * they are written. */
		m->tail = NULL;
		smtp_body_swap(b, &m->tail, &m->tail_cap, &m->tail_len);
		smtp_msg_count(m, m->tail, m->tail_len);
	} else if (rc == 0) {
		rc = smtp_msg_gather(m, b);
	}
	maildir_unique_name(m->name, sizeof(m->name), host, m->fsize, m->vsize);
	if (rc == 0)
		rc = smtp_msg_open(m, boxes, nbox);
	if (m->spilled) {
		if (rc != 0 && m->error == 0)
			m->error = rc;
		smtp_spill_finish(m);
		return;
	}
	if (rc == 0)
		rc = smtp_msg_copies(m);
	if (rc != 0)
		smtp_msg_complete(m, rc);
}

void
smtp_msg_release(struct smtp_msg *m)
{
	m->owner = NULL;
	if (!m->ending && !m->busy)
		smtp_msg_free(m);
}

/* ---- the store ------------------------------------------------------------ */

/* Opens the maildir directory, creating it when missing. */
static int
smtp_open_root(struct svc *svc, const char *path)
{
	int fd;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		svc_log(svc, LOG_LVL_ERROR, "cannot create %s: %s", path,
		    strerror(errno));
		return -errno;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int rc = -errno;
		svc_log(svc, LOG_LVL_ERROR, "cannot open %s: %s", path,
		    strerror(errno));
		return rc;
	}
	return fd;
}

/* The spills first: a message whose last spill is written then goes to
 * a helper, which is still there to take it. */
static void
smtp_store_free(struct smtp_store *st)
{
	st->stopping = true;
	if (st->spill != NULL)
		worker_stop(st->spill);
	for (size_t i = 0; i < SMTP_SYNC_THREADS; i++)
		durable_stop(st->durable[i]);
	if (st->rootfd >= 0)
		close(st->rootfd);
	free(st->path);
	free(st);
}

/* Starts the threads: the spill writers and the durable helpers. */
static int
smtp_store_threads(struct smtp_store *st)
{
	const struct worker_config wc = {
		.name = "multid-smtp-io", .threads = SMTP_SPILL_THREADS,
	};
	int rc;

	if ((st->spill = worker_start(server.loop, &wc, &rc)) == NULL)
		return rc;
	for (size_t i = 0; i < SMTP_SYNC_THREADS; i++)
		if ((st->durable[i] = durable_start(server.loop, "multid-smtp",
		    &rc)) == NULL)
			return rc;
	return 0;
}

struct smtp_store *
smtp_store_start(struct svc *svc, const char *maildir, int *err)
{
	struct smtp_store *st = calloc(1, sizeof(*st));

	*err = -ENOMEM;
	if (st == NULL)
		return NULL;
	st->svc = svc;
	st->rootfd = -1;
	if ((st->path = strdup(maildir)) == NULL) {
		smtp_store_free(st);
		return NULL;
	}
	if ((st->rootfd = smtp_open_root(svc, maildir)) < 0) {
		*err = st->rootfd;
		smtp_store_free(st);
		return NULL;
	}
	if ((*err = smtp_store_threads(st)) != 0) {
		svc_log(svc, LOG_LVL_ERROR, "cannot start a thread: %s",
		    strerror(-*err));
		smtp_store_free(st);
		return NULL;
	}
	return st;
}

void
smtp_store_stop(struct smtp_store *st)
{
	if (st != NULL)
		smtp_store_free(st);
}

const char *
smtp_store_path(const struct smtp_store *st)
{
	return st->path;
}
