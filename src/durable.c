/*
 * durable.c - write, sync, rename, sync the directory: on one thread that
 * takes every request queued at once and syncs each directory once for
 * all of them.
 *
 * The order is what makes a crash safe: the file's bytes are on disk
 * (fsync) before its name points at them (rename), and the name is on
 * disk (fsync of the directory) before the caller is told so.  A crash in
 * between leaves the old state or, at worst, a temporary file that no
 * reader takes for a finished one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "durable.h"

#define DURABLE_BATCH_MAX  256        /* requests per group, at most */
#define DURABLE_TMP_TRIES  16         /* temporary names tried */

struct durable {
	struct worker *worker;        /* the writing thread */
};

/* Temporary names are unique in this process; O_EXCL guards against a
 * leftover of an earlier one with the same pid. */
static atomic_uint durable_seq;

static struct durable_req *
durable_req_of(struct worker_job *job)
{
	return (struct durable_req *)((char *)job -
	    offsetof(struct durable_req, job));
}

static int
durable_tmpdir(const struct durable_req *r)
{
	return r->tmpdirfd >= 0 ? r->tmpdirfd : r->dirfd;
}

static void
durable_tmpname(char *out, size_t size)
{
	snprintf(out, size, ".multid-%ld-%u.tmp", (long)getpid(),
	    atomic_fetch_add(&durable_seq, 1));
}

/* Writes all of len bytes; 0 or a negative errno. */
static int
durable_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates a new temporary file in r's temporary directory; the fd, with
 * its name in tmp, or a negative errno. */
static int
durable_create(const struct durable_req *r, char *tmp, size_t size)
{
	mode_t mode = r->mode != 0 ? r->mode : 0600;

	for (int i = 0; i < DURABLE_TMP_TRIES; i++) {
		int fd;

		durable_tmpname(tmp, size);
		fd = openat(durable_tmpdir(r), tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

/* Moves the temporary name to the final one.  RENAME_NOREPLACE where the
 * file system has it; else a link, which fails on an existing name too,
 * and the temporary name goes. */
static int
durable_rename(const struct durable_req *r, const char *tmp)
{
	int tdir = durable_tmpdir(r);

	if (!(r->flags & DURABLE_NOREPLACE))
		return renameat(tdir, tmp, r->dirfd, r->name) == 0 ? 0 : -errno;
	if (renameat2(tdir, tmp, r->dirfd, r->name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(tdir, tmp, r->dirfd, r->name, 0) != 0)
		return -errno;
	unlinkat(tdir, tmp, 0);
	return 0;
}

/* The bytes of r under a temporary name, synced, then renamed. */
static int
durable_place_data(const struct durable_req *r)
{
	char tmp[64];
	int fd = durable_create(r, tmp, sizeof(tmp)), rc;

	if (fd < 0)
		return fd;
	rc = durable_write_all(fd, r->data, r->len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = durable_rename(r, tmp);
	if (rc != 0)
		unlinkat(durable_tmpdir(r), tmp, 0);
	return rc;
}

/* Copies the bytes of in (from its start, whatever its offset) to out;
 * 0 or a negative errno. */
static int
durable_copy_bytes(int in, int out)
{
	char buf[65536];
	off_t off = 0;

	for (;;) {
		ssize_t n = copy_file_range(in, &off, out, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EXDEV && errno != EINVAL &&
		    errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		if (n > 0)
			continue;
		/* No copy_file_range here: read and write. */
		while ((n = pread(in, buf, sizeof(buf), off)) != 0) {
			int rc;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if ((rc = durable_write_all(out, buf, (size_t)n)) != 0)
				return rc;
			off += n;
		}
		return 0;
	}
}

/* The bytes of r->fd copied under a temporary name, synced, renamed. */
static int
durable_place_copy(const struct durable_req *r)
{
	char tmp[64];
	int fd = durable_create(r, tmp, sizeof(tmp)), rc;

	if (fd < 0)
		return fd;
	rc = durable_copy_bytes(r->fd, fd);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = durable_rename(r, tmp);
	if (rc != 0)
		unlinkat(durable_tmpdir(r), tmp, 0);
	return rc;
}

/* Gives the anonymous file r->fd a name: the final one at once when it
 * must not replace anything, else a temporary one renamed over it.  A
 * link to another file system becomes a copy. */
static int
durable_place_fd(const struct durable_req *r)
{
	char self[32], tmp[64];
	int rc = -EEXIST;

	if (r->flags & DURABLE_COPY)
		return durable_place_copy(r);
	if (fsync(r->fd) != 0)
		return -errno;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", r->fd);
	if (r->flags & DURABLE_NOREPLACE) {
		if (linkat(AT_FDCWD, self, r->dirfd, r->name,
		    AT_SYMLINK_FOLLOW) == 0)
			return 0;
		return errno == EXDEV ? durable_place_copy(r) : -errno;
	}
	for (int i = 0; i < DURABLE_TMP_TRIES && rc == -EEXIST; i++) {
		durable_tmpname(tmp, sizeof(tmp));
		rc = linkat(AT_FDCWD, self, durable_tmpdir(r), tmp,
		    AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
	}
	if (rc == -EXDEV)
		return durable_place_copy(r);
	if (rc != 0)
		return rc;
	if (renameat(durable_tmpdir(r), tmp, r->dirfd, r->name) != 0) {
		rc = -errno;
		unlinkat(durable_tmpdir(r), tmp, 0);
	}
	return rc;
}

static int
durable_place(struct durable_req *r)
{
	int rc;

	if (r->fd < 0)
		return durable_place_data(r);
	rc = durable_place_fd(r);
	if (!(r->flags & DURABLE_KEEP_FD)) {
		close(r->fd);
		r->fd = -1;
	}
	return rc;
}

/* The same directory, whatever fd it was opened as. */
static bool
durable_same_dir(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether request i of the batch waits for the sync of the directory of
 * request at: placed, not yet synced, in the same directory. */
static bool
durable_waits(struct durable_req **reqs, const struct stat *dirs,
    const bool *synced, size_t at, size_t i)
{
	return !synced[i] && reqs[i]->result == 0 &&
	    durable_same_dir(&dirs[at], &dirs[i]);
}

/* Syncs the directory of request at once for every request of the batch
 * that waits for it. */
static void
durable_sync_dir(struct durable_req **reqs, const struct stat *dirs,
    bool *synced, size_t at, size_t n)
{
	int rc = fsync(reqs[at]->dirfd) == 0 ? 0 : -errno;
	unsigned shared = 0;

	for (size_t i = at; i < n; i++)
		shared += durable_waits(reqs, dirs, synced, at, i);
	for (size_t i = at; i < n; i++) {
		if (!durable_waits(reqs, dirs, synced, at, i))
			continue;
		synced[i] = true;
		reqs[i]->result = rc;
		reqs[i]->shared = shared;
	}
}

/* The batch: place every request, then sync each directory once. */
static void
durable_batch(void *ctx, struct worker_job *jobs, size_t n)
{
	struct durable_req *reqs[DURABLE_BATCH_MAX];
	struct stat dirs[DURABLE_BATCH_MAX];
	bool synced[DURABLE_BATCH_MAX] = { false };
	size_t k = 0;

	(void)ctx;
	for (struct worker_job *j = jobs; j != NULL && k < n; j = j->next) {
		struct durable_req *r = durable_req_of(j);

		reqs[k] = r;
		r->shared = 0;
		r->result = durable_place(r);
		if (r->result == 0 && fstat(r->dirfd, &dirs[k]) != 0)
			r->result = -errno;
		k++;
	}
	for (size_t i = 0; i < k; i++)
		if (reqs[i]->result == 0 && !synced[i])
			durable_sync_dir(reqs, dirs, synced, i, k);
}

static void
durable_done(struct worker_job *job)
{
	struct durable_req *r = durable_req_of(job);

	r->done(r);
}

int
durable_submit(struct durable *d, struct durable_req *req,
    durable_done_proc *done)
{
	req->done = done;
	req->result = 0;
	req->shared = 0;
	req->job.run = NULL;
	req->job.done = durable_done;
	return worker_submit(d->worker, &req->job);
}

int
durable_tmpfile(int dirfd, mode_t mode)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
	    mode != 0 ? mode : 0600);

	if (fd >= 0)
		return fd;
	return errno == EISDIR ? -EOPNOTSUPP : -errno;
}

struct durable *
durable_start(struct ev_loop *loop, const char *name, int *err)
{
	const struct worker_config wc = {
		.name = name, .threads = 1, .batch = durable_batch,
		.batch_max = DURABLE_BATCH_MAX,
	};
	struct durable *d = calloc(1, sizeof(*d));

	*err = -ENOMEM;
	if (d == NULL)
		return NULL;
	if ((d->worker = worker_start(loop, &wc, err)) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
durable_stop(struct durable *d)
{
	if (d == NULL)
		return;
	worker_stop(d->worker);
	free(d);
}
