/*
 * passwd.h - secrets hashed with yescrypt (libcrypt's crypt_r) and checked
 * against stored hashes, off the reactor.
 *
 * A hash costs tens of milliseconds of CPU on purpose, so it runs on a
 * pool of worker threads (worker.h) and its completion comes back on the
 * reactor thread, where it may touch connections again.  The stored form
 * is crypt(3)'s, as `mkpasswd -m yescrypt` prints it ("$y$j9T$...").
 *
 * A check against no stored hash (an unknown user) hashes a dummy setting
 * of the pool instead and fails, so it costs what a wrong secret costs and
 * the reply's timing tells nothing about which it was.
 */
#ifndef MULTID_PASSWD_H
#define MULTID_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

#define PASSWD_SECRET_MAX 255         /* secret bytes a job holds */
#define PASSWD_HASH_MAX   384         /* a hash with its NUL (CRYPT_OUTPUT_SIZE) */

struct ev_loop;
struct passwd_pool;
struct passwd_job;

/* Runs on the reactor thread once the job is done; result is in pj. */
typedef void passwd_done_proc(struct passwd_job *pj);

enum passwd_kind {
	PASSWD_HASH,                  /* make a new salted hash of secret */
	PASSWD_VERIFY,                /* check secret against hash */
};

/* Embedded in the caller's own struct (container_of style), which lives
 * until done is called. */
struct passwd_job {
	struct worker_job job;        /* the worker's link */
	enum passwd_kind  kind;       /* set by passwd_hash or passwd_verify */
	passwd_done_proc *done;       /* the completion, on the reactor */
	struct passwd_pool *pool;     /* where it was submitted */
	int               result;     /* 0: hashed, or the secret matches;
	                                 -EACCES: it does not; -EINVAL: hash is
	                                 no hash crypt(3) can check; -ENOSYS:
	                                 yescrypt is missing; -ENAMETOOLONG: a
	                                 secret to hash did not fit */
	bool              too_long;   /* the secret did not fit: it matches
	                                 nothing, not even by a prefix */
	char              secret[PASSWD_SECRET_MAX + 1]; /* the clear text;
	                                 wiped once hashed */
	char              hash[PASSWD_HASH_MAX]; /* VERIFY: the stored hash, ""
	                                 for none; HASH: the new hash */
};

/* Starts threads threads named name for the hashes; NULL with *err set
 * to a negative errno (-ENOSYS when libcrypt has no yescrypt). */
struct passwd_pool *passwd_start(struct ev_loop *loop, const char *name,
    unsigned threads, int *err);

/* Runs every queued job and its completion, then frees the pool. */
void passwd_stop(struct passwd_pool *pool);

/* Copies secret into the job and wipes it where it was, so the clear text
 * lives in one place only until it is hashed.  A secret longer than
 * PASSWD_SECRET_MAX marks the job too_long. */
void passwd_set_secret(struct passwd_job *pj, char *secret);

/* Queue a job whose secret (and for verify, hash) is set; 0, or
 * -ESHUTDOWN once the pool stops (done is then never called). */
int passwd_hash(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done);
int passwd_verify(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done);

/* The blocking forms the pool's threads run; for tests and start-up. */
int passwd_hash_now(const char *secret, char *out, size_t size);
int passwd_verify_now(const char *secret, const char *hash);

/* 0 when hash is a whole hash (not only a setting) of a method libcrypt
 * holds current, yescrypt first; else -EINVAL.  It costs one hash: for
 * checking configuration, not for every login. */
int passwd_check_hash(const char *hash);

/* Compares two strings in time that depends on their lengths only. */
bool passwd_equal(const char *a, const char *b);

#endif
