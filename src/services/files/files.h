/*
 * files.h - what the files of the files service share.
 *
 *   service.c   the type: keys, life cycle, workers, hooks by mode
 *   receive.c   an upload stored as one file
 *   extract.c   an upload unpacked as a tar archive, on a thread of its own
 *   send.c      a file (sendfile) or a directory as a tar stream
 *   store.c     the disk side: temporary names, placing, removing, syncing
 *   entry.c     the pure rules for archive entries (tests and fuzzers too)
 *
 * Every upload is written under a temporary name beginning with
 * FILES_TMP_PREFIX and the process's token, so that the files of a
 * daemon killed mid-way are known for what they are and removed when the
 * service starts again.
 */
#ifndef MULTID_FILES_H
#define MULTID_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../../worker.h"

#define FILES_TMP_PREFIX   ".multid-files-" /* temporaries: prefix, token */
#define FILES_NAME_MAX     96           /* a final name, with its suffix */
#define FILES_CHUNK        (128 * 1024) /* bytes a write job takes */
#define FILES_PIPE_MAX     (256 * 1024) /* bytes queued for an extraction */
#define FILES_DEPTH_MAX    64           /* directory levels in an archive or
                                           a directory sent */
#define FILES_WHY_MAX      160          /* an error reply's detail */

struct conn;
struct svc;
struct svc_conf;

enum files_mode { FILES_RECEIVE, FILES_SEND };
enum files_format { FILES_TAR, FILES_TAR_GZ };

struct files_conf {
	int        mode;              /* enum files_mode */
	char      *directory;         /* receive: where uploads go */
	char      *path;              /* send: what is sent */
	bool       extract;           /* receive: unpack a tar */
	long       max_size;          /* receive: bytes per upload */
	int        format;            /* send: enum files_format */
	int        dirfd;             /* directory, opened by configure */
};

/* The type's counters, indices of files_counters. */
enum { FILES_UPLOADS, FILES_UPLOAD_BYTES, FILES_UPLOADS_FAILED };

/* A running service's own state. */
struct files_svc {
	struct svc    *svc;           /* for counters and log lines */
	struct worker *io;            /* short jobs: writes, syncs, tar blocks */
	struct worker *unpack;        /* extractions, one thread each */
	int            wakefd;        /* eventfd: an extraction took input */
	unsigned       upload_bufs;   /* uploads' buffers beyond two each */
};

/* ---- service.c ---- */

/* The service's workers, started on first use; NULL when they cannot be
 * (logged). */
struct worker *files_io(struct files_svc *fs);
struct worker *files_unpack(struct files_svc *fs);
/* Wakes the reactor from an extraction's thread: it took input, and a
 * connection paused for room may go on (files_extract_wake). */
void files_wake(struct files_svc *fs);
/* Renews the connection's idle clock: the time a client waits for the
 * disk is not idleness. */
void files_touch(struct conn *c);
/* The upload failed after its reply: input is read and thrown away until
 * the client half-closes, for idle_timeout at most. */
void files_discard_rest(struct conn *c);

/* ---- receive.c ---- */

int    files_receive_open(struct conn *c);
size_t files_receive_read(struct conn *c, const char *data, size_t len);
void   files_receive_eof(struct conn *c);
void   files_receive_close(struct conn *c);

/* ---- extract.c ---- */

int    files_extract_open(struct conn *c);
size_t files_extract_read(struct conn *c, const char *data, size_t len);
void   files_extract_eof(struct conn *c);
void   files_extract_close(struct conn *c);
/* An extraction took input: connections paused for room go on. */
void   files_extract_wake(struct svc *svc);

/* ---- send.c ---- */

int    files_send_open(struct conn *c);
void   files_send_writable(struct conn *c);
void   files_send_close(struct conn *c);

/* ---- store.c (worker threads, and the reactor only at start) ---- */

/* Makes a temporary name of this process, kind "up" or "x". */
void files_tmpname(char *out, size_t size, const char *kind);
/* The final name of an upload: UTC time, client address and port. */
void files_final_name(char *out, size_t size, const struct sockaddr *peer,
    int64_t unix_time);
/* Renames tmp in dirfd to base, or base.1, base.2 ... whichever is free,
 * and syncs the directory; the name taken goes to out.  0 or -errno. */
int files_place(int dirfd, const char *tmp, const char *base, char *out,
    size_t size);
/* Removes name in dirfd and, for a directory, everything beneath it
 * (never following a symlink).  0 or -errno. */
int files_remove(int dirfd, const char *name);
/* Removes the temporaries that no running process of ours owns (an
 * earlier daemon's, killed mid-way); returns how many. */
int files_sweep(int dirfd);

/* ---- entry.c (pure) ---- */

enum files_entry_kind {
	FILES_ENTRY_FILE,             /* a regular file */
	FILES_ENTRY_DIR,              /* a directory */
	FILES_ENTRY_SYMLINK,          /* a symbolic link */
	FILES_ENTRY_HARDLINK,         /* a hard link to an earlier entry */
	FILES_ENTRY_OTHER,            /* device, FIFO, socket */
};

/* What an archive says about one entry. */
struct files_entry {
	const char           *path;   /* the entry's name */
	enum files_entry_kind kind;   /* its type */
	unsigned              mode;   /* permission and set-id bits */
	const char           *link;   /* symlink or hard link target, or NULL */
};

enum files_verdict {
	FILES_OK,                     /* write it, at the normalised path */
	FILES_SKIP,                   /* the top directory itself ("./") */
	FILES_UNSAFE,                 /* refuse the archive */
};

/* Normalises a relative path: "." and empty segments go, ".." or a
 * leading "/" refuse it.  Returns its depth (segments), or -1; out holds
 * the path without a trailing "/". */
int files_path_norm(const char *path, char *out, size_t size);
/* Whether a symlink at a path of the given depth, with this target,
 * resolves inside the top directory: a relative target that climbs only
 * at its start and no higher than the link's own directory. */
bool files_link_inside(int depth, const char *target);
/* The rule for one entry: no absolute path or "..", no link that leads
 * out, no device, FIFO or socket, no set-id bit.  path and link receive
 * the normalised names (PATH_MAX bytes each). */
enum files_verdict files_entry_check(const struct files_entry *e,
    char *path, char *link);
/* Copies a name for a reply: control bytes become '?', cut at max. */
void files_printable(const char *in, char *out, size_t max);

#endif
