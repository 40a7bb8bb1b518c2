/*
 * passwd.c - yescrypt hashes and their checks on worker threads.
 *
 * crypt_r keeps its state in a struct crypt_data of some 32 KiB, so each
 * call gets its own on the thread's stack and wipes it after use: no
 * secret or hash state outlives the job.
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

#define PASSWD_PREFIX "$y$"           /* yescrypt, at libcrypt's default cost */

_Static_assert(PASSWD_HASH_MAX >= CRYPT_OUTPUT_SIZE, "hash room");

struct passwd_pool {
	struct worker *worker;        /* the hashing threads */
	char           dummy[CRYPT_GENSALT_OUTPUT_SIZE]; /* a setting hashed
	                                 when there is no stored hash */
};

static struct passwd_job *
passwd_job_of(struct worker_job *job)
{
	return (struct passwd_job *)((char *)job -
	    offsetof(struct passwd_job, job));
}

bool
passwd_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* A fresh random setting; 0 or -ENOSYS. */
static int
passwd_setting(char *out, size_t size)
{
	if (crypt_gensalt_rn(PASSWD_PREFIX, 0, NULL, 0, out, (int)size) == NULL)
		return -ENOSYS;
	return 0;
}

int
passwd_hash_now(const char *secret, char *out, size_t size)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h = NULL;
	int rc;

	if ((rc = passwd_setting(setting, sizeof(setting))) != 0)
		return rc;
	memset(&cd, 0, sizeof(cd));
	h = crypt_r(secret, setting, &cd);
	if (h == NULL || h[0] == '*')
		rc = -ENOSYS;
	else if (strlen(h) >= size)
		rc = -ENAMETOOLONG;
	else
		memcpy(out, h, strlen(h) + 1);
	explicit_bzero(&cd, sizeof(cd));
	return rc;
}

int
passwd_verify_now(const char *secret, const char *hash)
{
	struct crypt_data cd;
	const char *h;
	int rc;

	/* A legacy method (DES takes "garbage" for a setting) is refused as
	 * the malformed hash it most likely is. */
	if (crypt_checksalt(hash) != CRYPT_SALT_OK)
		return -EINVAL;
	memset(&cd, 0, sizeof(cd));
	h = crypt_r(secret, hash, &cd);
	if (h == NULL || h[0] == '*')
		rc = -EINVAL;
	else
		rc = passwd_equal(h, hash) ? 0 : -EACCES;
	explicit_bzero(&cd, sizeof(cd));
	return rc;
}

int
passwd_check_hash(const char *hash)
{
	struct crypt_data cd;
	const char *h;
	int rc = -EINVAL;

	if (crypt_checksalt(hash) != CRYPT_SALT_OK)
		return -EINVAL;
	memset(&cd, 0, sizeof(cd));
	h = crypt_r("", hash, &cd);
	/* A setting alone hashes fine but is shorter than its hashes. */
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash))
		rc = 0;
	explicit_bzero(&cd, sizeof(cd));
	return rc;
}

/* A verify without a stored hash, or with a secret cut short, still costs
 * one hash and then fails. */
static int
passwd_verify_job(struct passwd_pool *pool, struct passwd_job *pj)
{
	int rc;

	if (pj->hash[0] == '\0') {
		passwd_verify_now(pj->secret, pool->dummy);
		return -EACCES;
	}
	rc = passwd_verify_now(pj->secret, pj->hash);
	return rc == 0 && pj->too_long ? -EACCES : rc;
}

static void
passwd_run(struct worker_job *job)
{
	struct passwd_job *pj = passwd_job_of(job);

	if (pj->kind == PASSWD_HASH)
		pj->result = pj->too_long ? -ENAMETOOLONG :
		    passwd_hash_now(pj->secret, pj->hash, sizeof(pj->hash));
	else
		pj->result = passwd_verify_job(pj->pool, pj);
	explicit_bzero(pj->secret, sizeof(pj->secret));
}

static void
passwd_done(struct worker_job *job)
{
	struct passwd_job *pj = passwd_job_of(job);

	pj->done(pj);
}

static int
passwd_submit(struct passwd_pool *pool, struct passwd_job *pj,
    enum passwd_kind kind, passwd_done_proc *done)
{
	pj->kind = kind;
	pj->pool = pool;
	pj->done = done;
	pj->result = 0;
	pj->job.run = passwd_run;
	pj->job.done = passwd_done;
	return worker_submit(pool->worker, &pj->job);
}

int
passwd_hash(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done)
{
	pj->hash[0] = '\0';
	return passwd_submit(pool, pj, PASSWD_HASH, done);
}

int
passwd_verify(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done)
{
	return passwd_submit(pool, pj, PASSWD_VERIFY, done);
}

void
passwd_set_secret(struct passwd_job *pj, char *secret)
{
	size_t n = strlen(secret);

	pj->too_long = n > PASSWD_SECRET_MAX;
	if (pj->too_long)
		n = PASSWD_SECRET_MAX;
	memcpy(pj->secret, secret, n);
	pj->secret[n] = '\0';
	explicit_bzero(secret, strlen(secret));
}

struct passwd_pool *
passwd_start(struct ev_loop *loop, const char *name, unsigned threads,
    int *err)
{
	const struct worker_config wc = { .name = name, .threads = threads };
	struct passwd_pool *pool = calloc(1, sizeof(*pool));

	*err = -ENOMEM;
	if (pool == NULL)
		return NULL;
	if ((*err = passwd_setting(pool->dummy, sizeof(pool->dummy))) != 0 ||
	    (pool->worker = worker_start(loop, &wc, err)) == NULL) {
		free(pool);
		return NULL;
	}
	return pool;
}

void
passwd_stop(struct passwd_pool *pool)
{
	if (pool == NULL)
		return;
	worker_stop(pool->worker);
	free(pool);
}
