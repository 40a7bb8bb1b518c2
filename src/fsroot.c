/*
 * fsroot.c - opening files beneath a root directory (see fsroot.h).
 *
 * Path safety does not rest on string checks alone: every file is opened
 * relative to a descriptor of the root with openat2(RESOLVE_BENEATH), so
 * the kernel refuses ".." and symlinks that lead out, whatever the path
 * holds.  Whether openat2 works is found out once, on the first root
 * opened; a kernel before 5.6 answers ENOSYS and a seccomp filter may
 * answer EPERM, and either way every later open walks the path instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "fsroot.h"

/* What fsroot_open uses; kept with atomic loads and stores, as services
 * may open files from worker threads.  Two threads that probe at once
 * find the same answer. */
enum fsroot_mode {
	FSROOT_UNKNOWN,               /* not probed yet */
	FSROOT_OPENAT2,               /* the kernel's RESOLVE_BENEATH */
	FSROOT_WALK,                  /* one component at a time */
};

static int fsroot_mode = FSROOT_UNKNOWN;  /* an enum fsroot_mode */

static long
fsroot_openat2(int rootfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	/* openat2 refuses a mode that no file is created with. */
	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode;
	return syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

/* Tries openat2 on the root itself, once. */
static enum fsroot_mode
fsroot_probe(int rootfd)
{
	int mode = __atomic_load_n(&fsroot_mode, __ATOMIC_RELAXED);
	long fd;

	if (mode != FSROOT_UNKNOWN)
		return (enum fsroot_mode)mode;
	fd = fsroot_openat2(rootfd, ".", O_PATH | O_CLOEXEC, 0);
	if (fd >= 0)
		close((int)fd);
	mode = fd < 0 && (errno == ENOSYS || errno == EPERM) ? FSROOT_WALK :
	    FSROOT_OPENAT2;
	__atomic_store_n(&fsroot_mode, mode, __ATOMIC_RELAXED);
	return (enum fsroot_mode)mode;
}

void
fsroot_force_walk(bool walk)
{
	__atomic_store_n(&fsroot_mode, walk ? FSROOT_WALK : FSROOT_UNKNOWN,
	    __ATOMIC_RELAXED);
}

/* The answer for a component openat refused: a symlink met where a
 * directory was asked for is refused as every symlink is (-ELOOP), not
 * reported as "not a directory". */
static int
fsroot_failed(int dfd, const char *name)
{
	int err = errno;
	struct stat st;

	if (err == ENOTDIR &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -err;
}

/* The last component, opened without following it.  O_PATH would open a
 * symlink itself rather than fail, so that is refused here. */
static int
fsroot_open_last(int dfd, const char *name, bool dir, int flags, mode_t mode)
{
	struct stat st;
	int fd = openat(dfd, name, flags | O_NOFOLLOW | (dir ? O_DIRECTORY : 0),
	    mode);

	if (fd < 0)
		return fsroot_failed(dfd, name);
	if ((flags & O_PATH) != 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		close(fd);
		return -ELOOP;
	}
	return fd;
}

/* Walks rel one component at a time, refusing every symlink; rel holds no
 * ".." (fsroot_open made sure). */
static int
fsroot_walk(int rootfd, const char *rel, int flags, mode_t mode)
{
	int dfd = rootfd, fd;

	for (;;) {
		char comp[NAME_MAX + 1];
		size_t n, skip;

		while (*rel == '/')
			rel++;
		n = strcspn(rel, "/");
		skip = n + strspn(rel + n, "/");
		if (n > NAME_MAX) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		if (rel[skip] == '\0') {
			fd = fsroot_open_last(dfd, n > 0 ? comp : ".", skip > n,
			    flags, mode);
			break;
		}
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = fsroot_failed(dfd, comp);
			break;
		}
		if (dfd != rootfd)
			close(dfd);
		dfd = fd;
		rel += skip;
	}
	if (dfd != rootfd)
		close(dfd);
	return fd;
}

/* Whether p is absolute or has a ".." segment. */
static bool
fsroot_escapes(const char *p)
{
	if (*p == '/')
		return true;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n + strspn(p + n, "/");
	}
	return false;
}

int
fsroot_open(int rootfd, const char *relpath, int flags, mode_t mode)
{
	long fd;

	if (fsroot_escapes(relpath))
		return -EXDEV;
	if (*relpath == '\0')
		relpath = ".";
	if (fsroot_probe(rootfd) == FSROOT_WALK)
		return fsroot_walk(rootfd, relpath, flags, mode);
	fd = fsroot_openat2(rootfd, relpath, flags, mode);
	return fd < 0 ? -errno : (int)fd;
}

int
fsroot_check(const char *relpath)
{
	const char *p = relpath;

	if (*p == '/')
		return -EXDEV;
	if (strlen(p) >= PATH_MAX)
		return -ENAMETOOLONG;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EXDEV;
		if (n == 0 || p[0] == '.')
			return -ENOENT;
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

bool
fsroot_name_ok(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL &&
	    fsroot_check(name) == 0;
}
