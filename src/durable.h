/*
 * durable.h - files written so that they survive a crash, off the reactor.
 *
 * A request names a directory and a final name and gives the bytes (or an
 * anonymous file already filled).  On the helper's thread they are written
 * under a temporary name, synced, renamed to the final name (or linked
 * there when an existing file must not be replaced), and the directory is
 * synced, so the final name either does not exist or holds every byte,
 * even after a power cut.  The completion runs on the reactor thread with
 * 0 or a negative errno; a failed request leaves no temporary file.
 *
 * Requests that queue up while the thread is busy are taken together and
 * share one sync per directory (group commit), as a mail drop that takes
 * many messages at once wants.
 */
#ifndef MULTID_DURABLE_H
#define MULTID_DURABLE_H

#include <stddef.h>
#include <sys/types.h>

#include "worker.h"

struct ev_loop;
struct durable;
struct durable_req;

/* Runs on the reactor thread once the request is done; see req->result. */
typedef void durable_done_proc(struct durable_req *req);

enum durable_flags {
	DURABLE_NOREPLACE = 1 << 0,   /* an existing final name stays; the
	                                 request fails with -EEXIST */
	DURABLE_KEEP_FD   = 1 << 1,   /* fd is shared by several requests
	                                 (one message for many mailboxes):
	                                 the helper leaves it open, the
	                                 caller closes it after done */
	DURABLE_COPY      = 1 << 2,   /* fd's bytes are copied to a new file
	                                 instead of linked (a file that has a
	                                 name elsewhere or none to link);
	                                 a link across file systems is
	                                 copied too */
};

/* Embedded in the caller's own struct (container_of style); it, name,
 * data and the directories stay valid until done is called. */
struct durable_req {
	struct worker_job  job;       /* the worker's link */
	int                dirfd;     /* the directory of the final name,
	                                 opened O_RDONLY | O_DIRECTORY */
	int                tmpdirfd;  /* where the temporary name goes (a
	                                 Maildir's tmp/), or -1 for dirfd; on
	                                 the same file system */
	const char        *name;      /* the final name, inside dirfd */
	const void        *data;      /* the bytes, when fd is -1 */
	size_t             len;       /* how many */
	int                fd;        /* or a file from durable_tmpfile, filled
	                                 by the caller, else -1; the helper
	                                 closes it, done or failed, unless
	                                 DURABLE_KEEP_FD */
	mode_t             mode;      /* of a file made from data; 0: 0600 */
	unsigned           flags;     /* enum durable_flags */
	durable_done_proc *done;      /* the completion, on the reactor */
	int                result;    /* 0, or a negative errno */
	unsigned           shared;    /* requests that shared this one's
	                                 directory sync, itself included */
};

/* Starts the helper's thread, named name; NULL with *err set to a
 * negative errno. */
struct durable *durable_start(struct ev_loop *loop, const char *name,
    int *err);

/* Writes and syncs every queued request, runs the completions, and frees
 * the helper. */
void durable_stop(struct durable *d);

/* Queues req; 0, or -ESHUTDOWN once stopping (done is then never called
 * and req->fd is still the caller's). */
int durable_submit(struct durable *d, struct durable_req *req,
    durable_done_proc *done);

/* An anonymous file in dirfd (O_TMPFILE) for the caller to fill and hand
 * over as req->fd: the fd, or a negative errno (-EOPNOTSUPP on a file
 * system without O_TMPFILE: give the bytes instead). */
int durable_tmpfile(int dirfd, mode_t mode);

#endif
