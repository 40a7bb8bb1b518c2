/*
 * send.c - mode "send": path goes to every client that connects.
 *
 * A file is queued whole with sendfile (the core's conn_send_file), so it
 * costs no memory however large.  A directory becomes a tar stream (pax,
 * plain or gzip) built as it goes: a job on the service's worker walks
 * the tree and feeds libarchive until about FILES_CHUNK bytes are made,
 * the reactor queues them, and the next job starts only when the socket
 * has taken most of them (the type's writable hook).  A slow client thus
 * holds a few hundred kilobytes and a directory descriptor per level,
 * never the tree.  Dotfiles are left out; symlinks are sent as symlinks,
 * never followed; devices, FIFOs and sockets are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "../../conn.h"
#include "../../log.h"
#include "files.h"

#define SEND_READ (64 * 1024)         /* bytes read from a file at once */

struct sending {
	struct worker_job     job;    /* the job making the next chunk */
	struct conn          *c;      /* NULL once the connection is gone */
	struct files_svc     *fs;     /* its worker */
	int                   format; /* enum files_format */
	int                   rootfd; /* the directory, until the first job */
	struct archive       *a;      /* the tar writer */
	struct archive_entry *entry;  /* reused for every entry */
	DIR                  *dirs[FILES_DEPTH_MAX + 1]; /* the walk's levels */
	size_t                plen[FILES_DEPTH_MAX + 1]; /* path length there */
	int                   depth;  /* levels open */
	char                  path[PATH_MAX]; /* the entry's name in the tar */
	int                   fd;     /* the file being copied, or -1 */
	uint64_t              left;   /* its bytes still to copy */
	char                 *rbuf;   /* SEND_READ bytes */
	char                 *out;    /* the chunk made by a job */
	size_t                out_len; /* bytes in out */
	size_t                out_cap; /* its size */
	bool                  busy;   /* a job is in flight */
	bool                  finished; /* the tar is complete */
	bool                  failed; /* cut short: the client must notice */
};

static struct sending *
sending_of(struct worker_job *job)
{
	return (struct sending *)((char *)job - offsetof(struct sending, job));
}

/* ---- on the worker ---------------------------------------------------- */

/* libarchive's output: appended to the job's chunk. */
static la_ssize_t
send_out(struct archive *a, void *sp, const void *buf, size_t len)
{
	struct sending *s = sp;

	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap * 2 > s->out_len + len ? s->out_cap * 2 :
		    s->out_len + len;
		char *p = realloc(s->out, cap);

		if (p == NULL) {
			archive_set_error(a, ENOMEM, "out of memory");
			return -1;
		}
		s->out = p;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, buf, len);
	s->out_len += len;
	return (la_ssize_t)len;
}

static void
send_begin(struct sending *s)
{
	DIR *d;

	s->a = archive_write_new();
	s->entry = archive_entry_new();
	if (s->a == NULL || s->entry == NULL ||
	    archive_write_set_format_pax_restricted(s->a) != ARCHIVE_OK ||
	    (s->format == FILES_TAR_GZ &&
	    archive_write_add_filter_gzip(s->a) != ARCHIVE_OK) ||
	    archive_write_open(s->a, s, NULL, send_out, NULL) != ARCHIVE_OK ||
	    (d = fdopendir(s->rootfd)) == NULL) {
		s->failed = true;
		return;
	}
	s->rootfd = -1;
	s->dirs[0] = d;
	s->plen[0] = 0;
	s->depth = 1;
}

/* Copies the next block of the current file. */
static void
send_block(struct sending *s)
{
	size_t want = s->left < SEND_READ ? (size_t)s->left : SEND_READ;
	ssize_t n = read(s->fd, s->rbuf, want);

	if (n < 0 && errno == EINTR)
		return;
	if (n < 0) {
		s->failed = true;
		return;
	}
	if (n > 0 && archive_write_data(s->a, s->rbuf, (size_t)n) < 0) {
		s->failed = true;
		return;
	}
	s->left -= (uint64_t)n;
	/* A file that shrank is padded by libarchive to the size it had. */
	if (s->left == 0 || n == 0) {
		close(s->fd);
		s->fd = -1;
		if (archive_write_finish_entry(s->a) < ARCHIVE_WARN)
			s->failed = true;
	}
}

/* Opens what the entry needs: the directory to descend into, or the
 * file to copy; false to skip it. */
static bool
send_open_entry(struct sending *s, int dfd, const char *name,
    struct stat *st, size_t end)
{
	if (S_ISDIR(st->st_mode)) {
		int fd;
		DIR *d;

		if (s->depth > FILES_DEPTH_MAX || end + 2 >= PATH_MAX ||
		    (fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) < 0)
			return false;
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			return false;
		}
		s->path[end] = '/';
		s->path[end + 1] = '\0';
		s->plen[s->depth] = end + 1;
		s->dirs[s->depth++] = d;
		return true;
	}
	if (S_ISREG(st->st_mode)) {
		s->fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (s->fd < 0 || fstat(s->fd, st) != 0 || !S_ISREG(st->st_mode)) {
			if (s->fd >= 0)
				close(s->fd);
			s->fd = -1;
			return false;
		}
		s->left = (uint64_t)st->st_size;
		archive_entry_set_size(s->entry, st->st_size);
		return true;
	}
	return S_ISLNK(st->st_mode);
}

/* Writes the header of one entry of the directory on top of the walk. */
static void
send_entry(struct sending *s, int dfd, const char *name)
{
	size_t base = s->plen[s->depth - 1], n = strlen(name);
	char target[PATH_MAX];
	struct stat st;
	ssize_t tl = 0;

	if (base + n + 2 >= PATH_MAX ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	memcpy(s->path + base, name, n + 1);
	archive_entry_clear(s->entry);
	archive_entry_copy_pathname(s->entry, s->path);
	if (S_ISLNK(st.st_mode) &&
	    (tl = readlinkat(dfd, name, target, sizeof(target) - 1)) <= 0)
		return;
	if (!send_open_entry(s, dfd, name, &st, base + n))
		return;
	archive_entry_set_filetype(s->entry, st.st_mode & S_IFMT);
	archive_entry_set_perm(s->entry, st.st_mode & 0777);
	archive_entry_set_mtime(s->entry, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		target[tl] = '\0';
		archive_entry_copy_symlink(s->entry, target);
	}
	if (archive_write_header(s->a, s->entry) < ARCHIVE_WARN)
		s->failed = true;
	else if (S_ISREG(st.st_mode) && s->left == 0)
		send_block(s);          /* an empty file ends at once */
}

/* One step of the walk: the next entry, or the end of a directory. */
static void
send_step(struct sending *s)
{
	struct dirent *de;
	DIR *d;

	if (s->fd >= 0) {
		send_block(s);
		return;
	}
	d = s->dirs[s->depth - 1];
	if ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')       /* ".", ".." and dotfiles */
			send_entry(s, dirfd(d), de->d_name);
		return;
	}
	closedir(d);
	s->dirs[--s->depth] = NULL;
	if (s->depth > 0)
		return;
	if (archive_write_close(s->a) != ARCHIVE_OK)
		s->failed = true;
	s->finished = true;
}

static void
send_run(struct worker_job *job)
{
	struct sending *s = sending_of(job);

	s->out_len = 0;
	if (s->a == NULL)
		send_begin(s);
	while (!s->finished && !s->failed && s->out_len < FILES_CHUNK)
		send_step(s);
}

/* ---- on the reactor --------------------------------------------------- */

static void
send_free(struct sending *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	for (int i = 0; i < s->depth; i++)
		closedir(s->dirs[i]);
	if (s->a != NULL) {
		if (!s->finished)
			archive_write_fail(s->a);
		archive_write_free(s->a);
	}
	archive_entry_free(s->entry);
	free(s->rbuf);
	free(s->out);
	free(s);
}

static void send_done(struct worker_job *job);

static int
send_submit(struct sending *s)
{
	struct worker *io = files_io(s->fs);

	s->job.run = send_run;
	s->job.done = send_done;
	if (io == NULL || worker_submit(io, &s->job) != 0)
		return -ESHUTDOWN;
	s->busy = true;
	return 0;
}

/* A chunk is made: queue it, and make the next once the socket has taken
 * most of it. */
static void
send_done(struct worker_job *job)
{
	struct sending *s = sending_of(job);
	struct conn *c = s->c;

	s->busy = false;
	if (c == NULL) {
		send_free(s);
		return;
	}
	if (s->failed) {
		log_warning("%s: sending to %s: cut short", c->conf->name,
		    conn_peer_text(c));
		conn_close(c, CLOSE_ERROR);     /* frees s */
		return;
	}
	if (s->out_len > 0 && conn_send(c, s->out, s->out_len) != 0)
		return;                         /* over its cap: dropped */
	s->out_len = 0;
	files_touch(c);
	if (s->finished)
		conn_close_after_flush(c);
	else
		conn_want_writable(c, true);
}

/* A directory: the first chunk is made at once. */
static int
send_dir(struct conn *c, int fd)
{
	const struct files_conf *conf = c->conf->tconf;
	struct sending *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->rbuf = malloc(SEND_READ)) == NULL) {
		free(s);
		close(fd);
		return -1;
	}
	s->c = c;
	s->fs = c->svc->state;
	s->format = conf->format;
	s->rootfd = fd;
	s->fd = -1;
	if (send_submit(s) != 0) {
		send_free(s);
		return -1;
	}
	c->data = s;
	files_touch(c);
	return 0;
}

int
files_send_open(struct conn *c)
{
	const struct files_conf *conf = c->conf->tconf;
	int fd = open(conf->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	conn_want_writable(c, false);
	if (fd < 0 || fstat(fd, &st) != 0) {
		log_warning("%s: cannot open %s: %s", c->conf->name, conf->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return send_dir(c, fd);
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	if (st.st_size > 0 && conn_send_file(c, fd, 0, (size_t)st.st_size) != 0)
		return -1;
	if (st.st_size == 0)
		close(fd);
	conn_close_after_flush(c);
	return 0;
}

void
files_send_writable(struct conn *c)
{
	struct sending *s = c->data;

	conn_want_writable(c, false);
	if (s == NULL || s->busy || s->finished)
		return;
	if (send_submit(s) != 0)
		conn_close_after_flush(c);
}

void
files_send_close(struct conn *c)
{
	struct sending *s = c->data;

	c->data = NULL;
	if (s == NULL)
		return;
	s->c = NULL;
	if (!s->busy)
		send_free(s);
}
