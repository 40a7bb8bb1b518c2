/*
 * fsroot.h - opening files beneath a root directory (http, tftp, files),
 * so that nothing outside it can be reached.
 *
 * Two layers.  fsroot_open() is the kernel's guard: the lookup stays
 * beneath the root, symlinks included (openat2 with RESOLVE_BENEATH;
 * where openat2 is missing, or a seccomp filter refuses it, the path is
 * walked one component at a time with O_NOFOLLOW, and no symlink is
 * followed at all).  fsroot_check() is the rule for a path a client
 * names: relative, no "." or ".." segment, no dotfile; it refuses
 * before anything is opened, so a service's own hidden files (a
 * temporary ".upload-*") stay out of reach.
 */
#ifndef MULTID_FSROOT_H
#define MULTID_FSROOT_H

#include <stdbool.h>
#include <sys/types.h>

/* Opens relpath beneath the directory rootfd ("" or "." is the root
 * itself; a trailing "/" asks for a directory).  flags and mode are
 * open(2)'s.  An absolute path or a ".." segment is refused (-EXDEV),
 * and so is every symlink that leads out (the walk refuses every one:
 * -ELOOP).  Returns the fd, or a negative errno. */
int fsroot_open(int rootfd, const char *relpath, int flags, mode_t mode);

/* Whether a path a client names may be looked up beneath a root: 0, or
 * -EXDEV for an absolute path or a ".." segment, -ENOENT for a "."
 * segment, a dotfile or an empty segment (one trailing "/" is fine), or
 * -ENAMETOOLONG for a segment past NAME_MAX or a path past PATH_MAX. */
int fsroot_check(const char *relpath);

/* Whether name is one file name a client may use: not empty, no "/",
 * not starting with ".", at most NAME_MAX bytes. */
bool fsroot_name_ok(const char *name);

/* Makes fsroot_open walk the path as it does without openat2 (true), or
 * use openat2 again where the kernel has it (false); for tests. */
void fsroot_force_walk(bool walk);

#endif
