/*
 * unpack.c - the thread side of an extraction: libarchive reads the
 * upload as it arrives and every entry is written by our own code.
 *
 * Our own code rather than archive_write_disk, for two reasons.  The
 * rules come first (entry.c): no absolute path, no "..", no link that
 * leads out, no device, FIFO or socket, no set-id bit.  And the writing
 * is the second fence: every directory on an entry's path is opened one
 * component at a time from the new directory's descriptor with
 * O_NOFOLLOW, so no path can step out of it or through a symlink in it,
 * and every leaf is made with O_EXCL or its *at equivalent, so none is
 * written through.  archive_write_disk would also read the process umask
 * with umask(2), which another thread may be using at the same moment
 * (CVE-2023-30571); we never call umask and set permissions with fchmod.
 *
 * Permissions are the entry's, without group or other write and with the
 * owner's read and write; ownership is never taken from the archive.
 * Nothing is synced entry by entry: one syncfs(2) covers the whole tree
 * before it is renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "unpack.h"

/* Opens the directory that holds path (its last segment goes to *leaf),
 * making missing directories on the way.  The fd, or -ELOOP when a
 * component is a symlink or not a directory, or another -errno. */
static int
unpack_parent(int topfd, char *path, const char **leaf)
{
	char *slash = strrchr(path, '/'), *seg = path;
	int fd = dup(topfd);

	*leaf = slash != NULL ? slash + 1 : path;
	if (fd < 0)
		return -errno;
	while (slash != NULL && seg <= slash) {
		char *end = strchr(seg, '/');
		int next;

		*end = '\0';
		next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0 && errno == ENOENT && mkdirat(fd, seg, 0755) == 0)
			next = openat(fd, seg, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		*end = '/';
		close(fd);
		if (next < 0)
			return errno == ENOTDIR || errno == ELOOP ? -ELOOP : -errno;
		fd = next;
		seg = end + 1;
	}
	return fd;
}

/* Makes room for a new leaf where an earlier entry of the same name may
 * be (a later entry replaces it, as tar does; a directory stays). */
static int
unpack_clear(int dfd, const char *leaf)
{
	if (unlinkat(dfd, leaf, 0) == 0 || errno == ENOENT)
		return 0;
	return errno == EISDIR ? -EISDIR : -errno;
}

static int
unpack_fail(struct unpacking *x, enum unpack_outcome what, const char *fmt,
    const char *arg)
{
	x->outcome = what;
	snprintf(x->why, sizeof(x->why), fmt, arg != NULL ? arg : "");
	return -1;
}

static int
unpack_bad(struct unpacking *x, struct archive *a)
{
	const char *why = archive_error_string(a);

	if (x->cut)
		return unpack_fail(x, UNPACK_ABORTED, "%s", "aborted");
	files_printable(why != NULL ? why : "unreadable", x->why, sizeof(x->why));
	x->outcome = UNPACK_BAD;
	return -1;
}

static int
unpack_unsafe(struct unpacking *x, const char *name)
{
	x->outcome = UNPACK_UNSAFE;
	files_printable(name, x->why, sizeof(x->why));
	return -1;
}

/* Copies the entry's data into fd at the offsets it names (holes of a
 * sparse entry stay holes). */
static int
unpack_data(struct unpacking *x, struct archive *a, int fd)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return unpack_bad(x, a);
		for (size_t done = 0; done < size; ) {
			ssize_t n = pwrite(fd, (const char *)buf + done, size - done,
			    (off_t)off + (off_t)done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return unpack_fail(x, UNPACK_ERROR, "%s",
				    strerror(errno));
			done += (size_t)n;
		}
	}
}

static int
unpack_file(struct unpacking *x, struct archive *a, struct archive_entry *e,
    int dfd, const char *leaf)
{
	la_int64_t size = archive_entry_size_is_set(e) ?
	    archive_entry_size(e) : 0;
	int fd, rc;

	/* The size an entry claims counts, holes too, or a small sparse
	 * entry could fill the disk. */
	x->unpacked += size > 0 ? (uint64_t)size : 0;
	if (x->unpacked > x->max_size)
		return unpack_fail(x, UNPACK_TOO_LARGE, "%s", "too large");
	if ((rc = unpack_clear(dfd, leaf)) != 0)
		return unpack_fail(x, UNPACK_BAD, "%s: a directory is in the way",
		    leaf);
	fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	rc = unpack_data(x, a, fd);
	if (rc == 0 && size > 0 && ftruncate(fd, (off_t)size) != 0)
		rc = unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	if (rc == 0) {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_sec = archive_entry_mtime(e),
			  .tv_nsec = archive_entry_mtime_nsec(e) },
		};
		fchmod(fd, (archive_entry_perm(e) & 0755) | 0600);
		if (archive_entry_mtime_is_set(e))
			futimens(fd, ts);
		x->files++;
	}
	close(fd);
	return rc;
}

static int
unpack_dir(struct unpacking *x, int dfd, const char *leaf)
{
	struct stat st;

	if (mkdirat(dfd, leaf, 0755) == 0)
		return 0;
	if (errno == EEXIST && fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		if (unlinkat(dfd, leaf, 0) == 0 && mkdirat(dfd, leaf, 0755) == 0)
			return 0;
	}
	return unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
}

static int
unpack_symlink(struct unpacking *x, int dfd, const char *leaf,
    const char *target)
{
	if (unpack_clear(dfd, leaf) != 0)
		return unpack_fail(x, UNPACK_BAD, "%s: a directory is in the way",
		    leaf);
	if (symlinkat(target, dfd, leaf) != 0)
		return unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	return 0;
}

/* A hard link to a regular file extracted before; anything else (a
 * symlink, whose target would be read from another place) is refused. */
static int
unpack_hardlink(struct unpacking *x, int topfd, int dfd, const char *leaf,
    char *target, const char *name)
{
	const char *tleaf;
	struct stat st;
	int tfd = unpack_parent(topfd, target, &tleaf), rc = 0;

	if (tfd < 0 || fstatat(tfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode)) {
		if (tfd >= 0)
			close(tfd);
		return unpack_unsafe(x, name);
	}
	if (unpack_clear(dfd, leaf) != 0 ||
	    linkat(tfd, tleaf, dfd, leaf, 0) != 0)
		rc = unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	close(tfd);
	return rc;
}

static enum files_entry_kind
unpack_kind(struct archive_entry *e, const char **link)
{
	*link = archive_entry_hardlink(e);
	if (*link != NULL)
		return FILES_ENTRY_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return FILES_ENTRY_FILE;
	case AE_IFDIR:
		return FILES_ENTRY_DIR;
	case AE_IFLNK:
		*link = archive_entry_symlink(e);
		return FILES_ENTRY_SYMLINK;
	default:
		return FILES_ENTRY_OTHER;
	}
}

/* Checks one entry and writes it beneath topfd. */
static int
unpack_entry(struct unpacking *x, struct archive *a, struct archive_entry *e,
    int topfd)
{
	struct files_entry fe = {
		.path = archive_entry_pathname(e),
		.mode = archive_entry_mode(e),
	};
	const char *leaf;
	int dfd, rc;

	fe.kind = unpack_kind(e, &fe.link);
	if (fe.path == NULL)
		return unpack_fail(x, UNPACK_BAD, "%s", "an entry without a name");
	switch (files_entry_check(&fe, x->path, x->link)) {
	case FILES_SKIP:
		return 0;
	case FILES_UNSAFE:
		return unpack_unsafe(x, fe.path);
	case FILES_OK:
		break;
	}
	if ((dfd = unpack_parent(topfd, x->path, &leaf)) < 0)
		return dfd == -ELOOP ? unpack_unsafe(x, fe.path) :
		    unpack_fail(x, UNPACK_ERROR, "%s", strerror(-dfd));
	switch (fe.kind) {
	case FILES_ENTRY_FILE:
		rc = unpack_file(x, a, e, dfd, leaf);
		break;
	case FILES_ENTRY_DIR:
		rc = unpack_dir(x, dfd, leaf);
		break;
	case FILES_ENTRY_SYMLINK:
		rc = unpack_symlink(x, dfd, leaf, x->link);
		break;
	default:
		rc = unpack_hardlink(x, topfd, dfd, leaf, x->link, fe.path);
		break;
	}
	close(dfd);
	return rc;
}

/* Reads every entry into topfd; 0 at the archive's end. */
static int
unpack_entries(struct unpacking *x, struct archive *a, int topfd)
{
	struct archive_entry *e;

	for (;;) {
		int r = archive_read_next_header(a, &e);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return unpack_bad(x, a);
		if (unpack_entry(x, a, e, topfd) != 0)
			return -1;
	}
}

/* A tar, plain or compressed.  The filters are named one by one, so that
 * no input can make libarchive start an external program. */
static struct archive *
unpack_reader(struct unpacking *x)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_compress(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, x, NULL, unpack_pipe_read, NULL) != ARCHIVE_OK) {
		unpack_bad(x, a);
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Unpacks into the new directory tmp beneath x->dirfd; 0 once the whole
 * upload is read and the tree is on disk. */
static int
unpack_tree(struct unpacking *x, const char *tmp)
{
	int topfd = openat(x->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC), rc;
	struct archive *a;

	if (topfd < 0)
		return unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	if ((a = unpack_reader(x)) == NULL) {
		close(topfd);
		return -1;
	}
	rc = unpack_entries(x, a, topfd);
	archive_read_free(a);
	/* Bytes after the archive's end still belong to the upload, which
	 * is complete only when the client half-closes. */
	if (rc == 0 && unpack_pipe_drain(x) != 0)
		rc = unpack_fail(x, UNPACK_ABORTED, "%s", "aborted");
	if (rc == 0 && (syncfs(topfd) != 0 || fchmod(topfd, 0755) != 0))
		rc = unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
	close(topfd);
	return rc;
}

void
unpack_run(struct worker_job *job)
{
	struct unpacking *x = unpacking_of(job);
	char tmp[64];

	files_tmpname(tmp, sizeof(tmp), "x");
	if (mkdirat(x->dirfd, tmp, 0700) != 0) {
		unpack_fail(x, UNPACK_ERROR, "%s", strerror(errno));
		return;
	}
	if (unpack_tree(x, tmp) == 0) {
		int rc = files_place(x->dirfd, tmp, x->base, x->name,
		    sizeof(x->name));
		if (rc == 0) {
			x->outcome = UNPACK_OK;
			return;
		}
		unpack_fail(x, UNPACK_ERROR, "%s", strerror(-rc));
	}
	files_remove(x->dirfd, tmp);
}
