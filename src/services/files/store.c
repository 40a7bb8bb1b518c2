/*
 * store.c - the disk side of uploads: temporary names, placing a finished
 * upload under its final name, removing what failed, and sweeping away
 * what a killed daemon left.  Everything here blocks, so it runs on the
 * service's workers (the sweep too).
 *
 * A temporary name is FILES_TMP_PREFIX, the token of the process (its pid
 * and the time it first made one) and a sequence number.  The sweep
 * removes temporaries whose process is gone, or is this pid with another
 * time (a daemon restarted under the same pid, as PID 1 in a container),
 * and leaves those of a live process, which may be a second daemon
 * receiving into the same directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../addr.h"
#include "files.h"

#define FILES_PLACE_TRIES   1000      /* .1 to .999 after the plain name */
#define FILES_REMOVE_PASSES 8         /* readdir passes over one directory */

static pthread_once_t files_token_once = PTHREAD_ONCE_INIT;
static long long files_token_time;     /* ns of the first temporary */
static atomic_uint files_seq;          /* temporaries made so far */

static void
files_token_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	files_token_time = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
files_tmpname(char *out, size_t size, const char *kind)
{
	pthread_once(&files_token_once, files_token_init);
	snprintf(out, size, FILES_TMP_PREFIX "%ld.%llx-%s%u", (long)getpid(),
	    files_token_time, kind, atomic_fetch_add(&files_seq, 1));
}

void
files_final_name(char *out, size_t size, const struct sockaddr *peer,
    int64_t unix_time)
{
	char host[ADDR_TEXT_MAX];
	time_t t = (time_t)unix_time;
	struct tm tm;

	gmtime_r(&t, &tm);
	addr_host_text(peer, host, sizeof(host));
	snprintf(out, size, "%04d%02d%02dT%02d%02d%02dZ_%s_%u",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, host, addr_port(peer));
}

/* Renames without replacing: RENAME_NOREPLACE, or on a file system
 * without it a look first (no other writer makes these names). */
static int
files_rename_new(int dirfd, const char *from, const char *to)
{
	struct stat st;

	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	return renameat(dirfd, from, dirfd, to) == 0 ? 0 : -errno;
}

int
files_place(int dirfd, const char *tmp, const char *base, char *out,
    size_t size)
{
	for (int i = 0; i < FILES_PLACE_TRIES; i++) {
		int rc;

		if (i == 0)
			snprintf(out, size, "%s", base);
		else
			snprintf(out, size, "%s.%d", base, i);
		rc = files_rename_new(dirfd, tmp, out);
		if (rc == -EEXIST)
			continue;
		if (rc != 0)
			return rc;
		/* The name is on disk before the client is told so. */
		return fsync(dirfd) == 0 ? 0 : -errno;
	}
	return -EEXIST;
}

/* Empties the directory fd (taken) and everything beneath it. */
static int
files_remove_below(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	int rc = 0;

	if (d == NULL) {
		close(fd);
		return -errno;
	}
	/* Removing while reading may hide entries from the same pass. */
	for (int pass = 0; pass < FILES_REMOVE_PASSES; pass++) {
		struct dirent *de;
		bool any = false;
		int sub;

		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			any = true;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR || depth >= FILES_DEPTH_MAX + 2) {
				rc = -errno;
				continue;
			}
			sub = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || files_remove_below(sub, depth + 1) != 0 ||
			    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) != 0)
				rc = -EIO;
		}
		if (!any)
			break;
	}
	closedir(d);
	return rc;
}

int
files_remove(int dirfd, const char *name)
{
	int fd, rc;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = files_remove_below(fd, 0);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		return rc != 0 ? rc : -errno;
	return 0;
}

/* Whether the temporary name belongs to a process that may still write
 * it: this one, or another that is alive. */
static bool
files_tmp_owned(const char *name)
{
	long pid;
	long long when;

	if (sscanf(name + strlen(FILES_TMP_PREFIX), "%ld.%llx-", &pid,
	    &when) != 2)
		return false;
	if (pid == (long)getpid())
		return when == files_token_time;
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int
files_sweep(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int removed = 0;
	DIR *d;

	pthread_once(&files_token_once, files_token_init);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, FILES_TMP_PREFIX,
		    strlen(FILES_TMP_PREFIX)) != 0 || files_tmp_owned(de->d_name))
			continue;
		if (files_remove(dirfd, de->d_name) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
