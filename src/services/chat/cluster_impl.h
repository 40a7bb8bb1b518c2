/*
 * cluster_impl.h - what the two files of the chat's cluster share:
 * cluster.c (the connections to Redis, leases, history, the hooks room.c
 * calls) and cluster_mirror.c (the users of the other instances, kept
 * from what they publish).  Not for the rest of the chat.
 */
#ifndef MULTID_CHAT_CLUSTER_IMPL_H
#define MULTID_CHAT_CLUSTER_IMPL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>

#include "../../worker.h"
#include "cluster.h"
#include "room.h"

#define CLUSTER_TICK_MS      5000     /* heartbeat, lease renewal, peers */
#define CLUSTER_LEASE_MS     30000    /* a nickname's lease */
#define CLUSTER_GONE_MS      20000    /* an instance silent this long is gone */
#define CLUSTER_CONNECT_MS   5000     /* connecting longer is a failure */
#define CLUSTER_BACKOFF_MIN  100      /* first retry, ms */
#define CLUSTER_BACKOFF_MAX  5000     /* retries at most this far apart */

enum cluster_state {
	CLUSTER_DOWN,             /* waiting to retry */
	CLUSTER_CONNECTING,       /* connections opening, subscribing */
	CLUSTER_UP,               /* shared */
};

/* One hiredis context and its registration with the reactor. */
struct cluster_link {
	struct cluster     *cl;           /* its cluster */
	redisAsyncContext  *ac;           /* NULL while closed */
	int                 fd;           /* its socket */
	int                 mask;         /* EV_* registered for fd */
	bool                connected;    /* the connect callback said so */
	int                 setup;        /* AUTH, SELECT not yet answered */
};

/* Another instance, known by its messages. */
struct cluster_peer {
	uint64_t             id;          /* its id */
	int64_t              seen;        /* ms of its last message */
	struct cluster_peer *next;        /* the others */
};

/* A nickname a local user waits for. */
struct cluster_claim {
	struct cluster       *cl;         /* its cluster */
	struct chat_user     *u;          /* who, or NULL once it left */
	chat_claim_proc      *done;       /* told the answer */
	char                  name[CHAT_NAME_MAX + 1]; /* as asked */
	char                  key[CHAT_NAME_MAX + 1];  /* lower-cased */
	bool                  sent;       /* on its way to Redis */
	struct cluster_claim *next;       /* the other claims */
};

/* A room's shared history being fetched. */
struct cluster_fetch {
	struct cluster *cl;               /* its cluster */
	bool            tell;             /* send it to the room's members */
	char            room[CHAT_NAME_MAX + 1]; /* which room */
};

/* Redis's host name looked up off the reactor (getaddrinfo blocks). */
struct cluster_resolve {
	struct worker_job job;            /* on cluster.resolver */
	struct cluster   *cl;             /* its cluster */
	char              host[256];      /* the name */
	char              addr[INET6_ADDRSTRLEN]; /* its first address */
	int               err;            /* getaddrinfo's, 0 when found */
};

struct cluster {
	struct chat          *ch;         /* the chat it serves */
	char                 *host;       /* Redis's host */
	int                   port;       /* and port */
	char                 *user;       /* AUTH's user name, or NULL */
	char                 *password;   /* AUTH's password, or NULL */
	long                  db;         /* the database SELECTed */
	char                 *channel;    /* cluster_name: channel, key prefix */
	uint64_t              id;         /* this instance */
	char                  idhex[17];  /* the same in hex */
	struct cluster_link   pub;        /* commands and PUBLISH */
	struct cluster_link   sub;        /* SUBSCRIBE */
	enum cluster_state    state;      /* see enum cluster_state */
	bool                  subscribed; /* sub's SUBSCRIBE was confirmed */
	bool                  told_down;  /* users were told it is away */
	bool                  ever_up;    /* it was up before */
	long                  backoff;    /* next retry delay, ms */
	long long             retry;      /* retry timer, or 0 */
	long long             deadline;   /* connect deadline timer, or 0 */
	long long             tick;       /* heartbeat timer */
	long long             resync;     /* SYNC after renames, or 0 */
	struct cluster_peer  *peers;      /* instances heard from */
	struct cluster_claim *claims;     /* nicknames being claimed */
	struct worker        *resolver;   /* looks host up, when a name */
	struct cluster_resolve res;       /* the look-up */
	bool                  resolving;  /* res is on the resolver */
};

static inline bool
cluster_up_now(const struct cluster *cl)
{
	return cl->state == CLUSTER_UP && cl->pub.ac != NULL;
}

/* --- cluster.c ------------------------------------------------------------ */

void cluster_count_error(struct cluster *cl);
/* The named users, local (remote false) or remote, into a new array
 * (free it) of *n entries; NULL when there are none or no memory. */
struct chat_user **cluster_users(struct cluster *cl, bool remote, size_t *n);
/* Publishes m (from this instance) on the channel; a MESSAGE also goes
 * into the room's shared history.  Nothing while Redis is away. */
void cluster_publish(struct cluster *cl, struct cluster_msg *m);

/* --- cluster_mirror.c --------------------------------------------------------- */

/* One message from the channel, decoded and applied to the mirror. */
void cluster_receive(struct cluster *cl, const char *data, size_t len);
/* Publishes this instance's state: every local user with its rooms, the
 * topics of those rooms, then END. */
void cluster_announce(struct cluster *cl);
/* The remote users of instance from (0: of every instance), or only those
 * not restated since a SYNC; their rooms see them leave (reason) when
 * loud. */
void cluster_ghosts_free(struct cluster *cl, uint64_t from, bool only_stale,
    bool loud, const char *reason);
/* Forgets every other instance. */
void cluster_peers_free(struct cluster *cl);
/* Instances silent for CLUSTER_GONE_MS are gone, and their users. */
void cluster_peers_check(struct cluster *cl);

/* --- the cluster key's URL (cluster_url.c) ---------------------------- */

/* A redis URL's parts (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]). */
struct cluster_url {
	char *host;                   /* HOST, brackets taken off */
	int   port;                   /* PORT, 6379 when absent */
	char *user;                   /* USER, or NULL */
	char *password;               /* PASSWORD, or NULL */
	long  db;                     /* DB, 0 when absent */
};
/* Parses url into *u (strings new: cluster_url_free); 0, -EINVAL or
 * -ENOMEM. */
int cluster_url_parse(const char *url, struct cluster_url *u);
/* Frees u's strings (the password wiped first) and zeroes it. */
void cluster_url_free(struct cluster_url *u);

#endif
