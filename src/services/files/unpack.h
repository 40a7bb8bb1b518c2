/*
 * unpack.h - an extraction, shared by its reactor side (extract.c) and
 * its thread side (unpack.c).
 *
 * The reactor puts the upload's bytes into a bounded queue of chunks; the
 * extraction's thread takes them out through libarchive's read callback,
 * which blocks until a chunk, the end of the upload or an abort comes.
 */
#ifndef MULTID_FILES_UNPACK_H
#define MULTID_FILES_UNPACK_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "files.h"

struct archive;

/* How the thread's part ended. */
enum unpack_outcome {
	UNPACK_OK,                    /* placed under x->name */
	UNPACK_UNSAFE,                /* an entry broke a rule: why holds it */
	UNPACK_BAD,                   /* libarchive could not read on: why */
	UNPACK_TOO_LARGE,             /* the entries claim more than max_size */
	UNPACK_ABORTED,               /* the upload ended without a half-close */
	UNPACK_ERROR,                 /* the disk failed: why */
};

/* One chunk of upload on its way to the thread. */
struct unpack_chunk {
	struct unpack_chunk *next;    /* queue link */
	size_t               len;     /* bytes in data */
	char                 data[];  /* the bytes */
};

struct unpacking {
	struct worker_job    job;     /* the extraction, on a thread */
	struct conn         *c;       /* NULL once the connection is gone */
	struct files_svc    *fs;      /* workers and counters */
	struct svc_conf     *conf;    /* held, for its directory */
	int                  dirfd;   /* that directory */
	char                 base[FILES_NAME_MAX]; /* the final name wanted */
	uint64_t             max_size; /* bytes the entries may claim */
	uint64_t             bytes;   /* received (reactor) */
	bool                 busy;    /* the thread's job is not done */
	bool                 failed;  /* answered with ERR: input is discarded */
	bool                 replied; /* the failure reply went out already */
	bool                 eof;     /* the client half-closed (reactor) */

	/* The queue, guarded by lock. */
	pthread_mutex_t      lock;    /* guards the fields below */
	pthread_cond_t       more;    /* signalled on a chunk, end or abort */
	struct unpack_chunk *head;    /* oldest chunk */
	struct unpack_chunk *tail;    /* newest chunk */
	size_t               queued;  /* bytes in the queue */
	bool                 ended;   /* no more chunks: the half-close */
	bool                 aborted; /* give up: reset, timeout, too large */
	bool                 waiting; /* the reactor paused for room */

	/* The thread's, read by the reactor once the job is done. */
	struct unpack_chunk *taken;   /* the chunk libarchive is reading */
	bool                 cut;     /* the read callback met the abort */
	enum unpack_outcome  outcome; /* how it ended */
	char                 why[FILES_WHY_MAX]; /* detail for the reply */
	char                 name[FILES_NAME_MAX]; /* the name it got */
	unsigned long        files;   /* regular files written */
	uint64_t             unpacked; /* bytes the entries claim */
	char                 path[PATH_MAX]; /* the entry's normalised path */
	char                 link[PATH_MAX]; /* its link target */
};

static inline struct unpacking *
unpacking_of(struct worker_job *job)
{
	return (struct unpacking *)((char *)job -
	    offsetof(struct unpacking, job));
}

/* ---- extract.c: the queue, thread side ---- */

/* libarchive's read callback: the next chunk, 0 at the end, -1 aborted. */
ssize_t unpack_pipe_read(struct archive *a, void *xp, const void **buf);
/* Throws away the rest of the upload; 0 at its end, -1 aborted. */
int unpack_pipe_drain(struct unpacking *x);

/* ---- unpack.c ---- */

/* The job: unpacks the upload into a temporary directory and places it. */
void unpack_run(struct worker_job *job);

#endif
