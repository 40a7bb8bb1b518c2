/*
 * cluster.c - chat instances that share their rooms through Redis (SPEC
 * §7, cluster.h), with hiredis' asynchronous API on the reactor: a small
 * adapter (as hiredis' adapters/ae.h does for redis's ae) registers each
 * context's socket with ev.h, so the reactor never waits for Redis.
 *
 * Two connections: one publishes and runs commands (in order, so what one
 * instance's users do reaches the others in the order done), the other
 * is subscribed to the channel.  What the others publish is delivered to
 * the local users through the ordinary core (room.c) as the doings of a
 * "remote user", a chat_user without a connection that the fan-out skips
 * (cluster_mirror.c keeps them).
 *
 * Nicknames: `<name>:nick:<lower>` holds the instance's id for
 * CLUSTER_LEASE_MS, set if free (a small script, so that renewing never
 * takes a name another instance holds), renewed every tick, given back on
 * quit and nick change.  A name is claimed before a local user gets it;
 * when a renewal finds the name held elsewhere (both instances gave it out
 * while Redis was away), the local user is renamed NAME-XXXX and told.
 *
 * When Redis goes away, the remote users vanish silently, every local
 * user gets one "* " line, rooms work locally, and the link is retried
 * with backoff; when it is back, users get another line and the mirror is
 * rebuilt as above.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "../../ev.h"
#include "../../server.h"
#include "cluster_impl.h"

#define CLUSTER_DOWN_TEXT "the cluster is unreachable; rooms are local for now"
#define CLUSTER_BACK_TEXT "the cluster is back; rooms are shared again"

/* KEYS[1] the lease, ARGV[1] our id, ARGV[2] its time: 1 when we hold
 * it (now or already), 0 when another instance does. */
static const char cluster_claim_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if v then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
/* Deletes the lease if it is ours. */
static const char cluster_release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0";

static void cluster_lost(struct cluster *cl, const char *why);
static void cluster_up(struct cluster *cl);

void
cluster_count_error(struct cluster *cl)
{
	cl->ch->svc->stats.custom[CHAT_COUNTER_REDIS_ERRORS]++;
}

/* The lower-cased name. */
static void
cluster_lower(char *key, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < CHAT_NAME_MAX; i++)
		key[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
		    name[i] - 'A' + 'a' : name[i]);
	key[i] = '\0';
}

/* --- the reactor adapter (hiredis' ev hooks) ------------------------------ */

static void
cluster_io(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct cluster_link *l = data;
	redisAsyncContext *ac = l->ac;

	(void)loop;
	(void)fd;
	if (ac != NULL && (mask & EV_READABLE))
		redisAsyncHandleRead(ac);
	/* The read may have closed the context (l->ac is NULL then). */
	if (ac != NULL && l->ac == ac && (mask & EV_WRITABLE))
		redisAsyncHandleWrite(ac);
}

/* Registers add and removes del for the link's socket. */
static void
cluster_ev_set(struct cluster_link *l, int add, int del)
{
	int want = (l->mask | add) & ~del;

	if ((want & ~l->mask) != 0 &&
	    ev_add(server.loop, l->fd, want & ~l->mask, cluster_io, l) != 0) {
		cluster_count_error(l->cl);
		want &= l->mask;
	}
	if ((l->mask & ~want) != 0)
		ev_del(server.loop, l->fd, l->mask & ~want);
	l->mask = want;
}

static void cluster_add_read(void *p) { cluster_ev_set(p, EV_READABLE, 0); }
static void cluster_del_read(void *p) { cluster_ev_set(p, 0, EV_READABLE); }
static void cluster_add_write(void *p) { cluster_ev_set(p, EV_WRITABLE, 0); }
static void cluster_del_write(void *p) { cluster_ev_set(p, 0, EV_WRITABLE); }

/* hiredis frees the context: every path that frees one comes here. */
static void
cluster_cleanup(void *p)
{
	struct cluster_link *l = p;

	cluster_ev_set(l, 0, l->mask);
	l->ac = NULL;
	l->connected = false;
}

/* Closes the link's context, if open; its callbacks run with no reply,
 * and its connect and disconnect callbacks see it is ours no more. */
static void
cluster_link_close(struct cluster_link *l)
{
	redisAsyncContext *ac = l->ac;

	if (ac == NULL)
		return;
	l->ac = NULL;
	l->connected = false;
	ac->data = NULL;
	redisAsyncFree(ac);
}

static void
cluster_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct cluster_link *l = ac->data;

	if (l == NULL)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this returns. */
		ac->data = NULL;
		l->ac = NULL;
		cluster_count_error(l->cl);
		cluster_lost(l->cl, ac->errstr);
		return;
	}
	l->connected = true;
	if (l == &l->cl->pub && l->setup == 0 && l->cl->subscribed)
		cluster_up(l->cl);
}

static void
cluster_on_disconnect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct cluster_link *l = ac->data;

	if (l == NULL)
		return;
	ac->data = NULL;
	l->ac = NULL;
	if (status != REDIS_OK)
		cluster_count_error(l->cl);
	cluster_lost(l->cl, status != REDIS_OK ? ac->errstr :
	    "connection closed");
}

/* Opens a context for l to addr (numeric: hiredis would look a name up
 * on the reactor), bound to the reactor; 0 or -errno. */
static int
cluster_link_open(struct cluster *cl, struct cluster_link *l,
    const char *addr)
{
	redisAsyncContext *ac = redisAsyncConnect(addr, cl->port);

	if (ac == NULL)
		return -ENOMEM;
	if (ac->err != 0) {
		svc_log(cl->ch->svc, LOG_LVL_DEBUG, "cluster: redis %s:%d: %s",
		    cl->host, cl->port, ac->errstr);
		redisAsyncFree(ac);
		return -ECONNREFUSED;
	}
	l->cl = cl;
	l->ac = ac;
	l->fd = ac->c.fd;
	l->mask = 0;
	l->connected = false;
	ac->data = l;
	ac->ev.data = l;
	ac->ev.addRead = cluster_add_read;
	ac->ev.delRead = cluster_del_read;
	ac->ev.addWrite = cluster_add_write;
	ac->ev.delWrite = cluster_del_write;
	ac->ev.cleanup = cluster_cleanup;
	redisAsyncSetConnectCallback(ac, cluster_on_connect);
	redisAsyncSetDisconnectCallback(ac, cluster_on_disconnect);
	return 0;
}

/* --- local users and what they are told ---------------------------------- */

struct chat_user **
cluster_users(struct cluster *cl, bool remote, size_t *n)
{
	struct hash_table *t = &cl->ch->users;
	struct chat_user **v;

	*n = 0;
	if (t->count == 0 || (v = calloc(t->count, sizeof(*v))) == NULL)
		return NULL;
	for (struct hash_node *nd = hash_first(t); nd != NULL;
	    nd = hash_next(t, nd)) {
		struct chat_user *u = HASH_ENTRY(nd, struct chat_user, node.hnode);

		if ((u->c == NULL) == remote)
			v[(*n)++] = u;
	}
	return v;
}

/* One "* " line to a local user, in its protocol's form (the course's
 * has none). */
static void
cluster_tell_one(struct cluster *cl, struct chat_user *u, const char *text)
{
	if (u->proto == CHAT_PROTO_LINE)
		conn_reply(u->c, "* %s", text);
	else if (u->proto == CHAT_PROTO_IRC)
		conn_reply(u->c, ":%s NOTICE %s :* %s",
		    chat_conf_now(cl->ch)->server_name, u->nick, text);
}

static void
cluster_tell_all(struct cluster *cl, const char *text)
{
	size_t n;
	struct chat_user **v = cluster_users(cl, false, &n);

	for (size_t i = 0; i < n; i++)
		cluster_tell_one(cl, v[i], text);
	free(v);
}

/* --- commands ------------------------------------------------------------- */

/* A reply nobody waits for: only errors are counted. */
static void
cluster_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;

	(void)ac;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		cluster_count_error(privdata);
		svc_log(((struct cluster *)privdata)->ch->svc, LOG_LVL_WARNING,
		    "cluster: redis: %s", reply->str);
	}
}

void
cluster_publish(struct cluster *cl, struct cluster_msg *m)
{
	long hist = chat_conf_now(cl->ch)->history;
	char key[CHAT_NAME_MAX + 1];
	size_t len;
	char *buf;

	if (!cluster_up_now(cl))
		return;
	m->from = cl->id;
	if ((buf = cluster_msg_encode(m, &len)) == NULL) {
		cluster_count_error(cl);
		return;
	}
	redisAsyncCommand(cl->pub.ac, cluster_on_reply, cl, "PUBLISH %s %b",
	    cl->channel, buf, len);
	if (m->type == CLUSTER_MESSAGE && hist > 0) {
		cluster_lower(key, m->room);
		redisAsyncCommand(cl->pub.ac, cluster_on_reply, cl,
		    "LPUSH %s:hist:%s %b", cl->channel, key, buf, len);
		redisAsyncCommand(cl->pub.ac, cluster_on_reply, cl,
		    "LTRIM %s:hist:%s 0 %ld", cl->channel, key, hist - 1);
	}
	free(buf);
}

static void
cluster_release(struct cluster *cl, const char *nick)
{
	char key[CHAT_NAME_MAX + 1];

	if (!cluster_up_now(cl))
		return;
	cluster_lower(key, nick);
	redisAsyncCommand(cl->pub.ac, cluster_on_reply, cl,
	    "EVAL %s 1 %s:nick:%s %s", cluster_release_lua, cl->channel, key,
	    cl->idhex);
}

/* --- the subscription ------------------------------------------------------- */

/* True when a reply to a command the link needs is not there: the link
 * was closed, or Redis refused (then the link is lost, its words said). */
static bool
cluster_no_reply(struct cluster *cl, redisAsyncContext *ac, redisReply *reply)
{
	if (reply == NULL || ac->data == NULL)
		return true;
	if (reply->type == REDIS_REPLY_ERROR) {
		cluster_count_error(cl);
		cluster_lost(cl, reply->str);
		return true;
	}
	return false;
}

static void
cluster_on_sub(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r, **e;
	struct cluster *cl = privdata;

	if (cluster_no_reply(cl, ac, reply))
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
		cluster_count_error(cl);
		return;
	}
	e = reply->element;
	if (e[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(e[0]->str, "subscribe") == 0) {
		cl->subscribed = true;
		if (cl->pub.connected && cl->pub.setup == 0)
			cluster_up(cl);
	} else if (strcmp(e[0]->str, "message") == 0 &&
	    e[2]->type == REDIS_REPLY_STRING) {
		cluster_receive(cl, e[2]->str, e[2]->len);
	}
}

/* --- leases ------------------------------------------------------------------ */

/* After renames for collisions: SYNC again, so that this instance
 * states its users under their new names and learns the other
 * instance's users of the old ones (ignored while the names were
 * taken here). */
static long
cluster_resync(struct ev_loop *loop, long long id, void *data)
{
	struct cluster *cl = data;
	struct cluster_msg m = { .type = CLUSTER_SYNC };

	(void)loop;
	(void)id;
	cl->resync = 0;
	cluster_publish(cl, &m);
	cluster_announce(cl);
	return -1;
}

/* The renewal found u's name held by another instance: u is renamed
 * NAME-XXXX, told, and the new name claimed. */
static void
cluster_collide(struct cluster *cl, const char *key)
{
	struct chat_user *u = chat_user_find(cl->ch, key);
	char old[CHAT_NAME_MAX + 1], name[CHAT_NAME_MAX + 1], text[128];
	int tries = 0;

	if (u == NULL || u->c == NULL)
		return;
	memcpy(old, u->nick, sizeof(old));
	do {
		unsigned r = 0;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (unsigned)rand();
		snprintf(name, sizeof(name), "%.11s-%04x", old, r & 0xffff);
	} while (chat_user_find(cl->ch, name) != NULL && ++tries < 8);
	if (chat_user_rename(cl->ch, u, name) != 0)
		return;
	snprintf(text, sizeof(text), "%s is held on another server; you are "
	    "now %s", old, u->nick);
	cluster_tell_one(cl, u, text);
	cluster_lower(name, u->nick);
	redisAsyncCommand(cl->pub.ac, cluster_on_reply, cl,
	    "EVAL %s 1 %s:nick:%s %s %d", cluster_claim_lua, cl->channel, name,
	    cl->idhex, CLUSTER_LEASE_MS);
	if (cl->resync == 0)
		cl->resync = ev_timer_add(server.loop, 0, cluster_resync, cl);
}

/* A renewal's answer; privdata is the lower-cased name, freed here. */
static void
cluster_on_renew(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;
	char *key = privdata;
	struct cluster_link *l = ac->data;

	if (reply != NULL && l != NULL) {
		if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
			cluster_collide(l->cl, key);
		else if (reply->type == REDIS_REPLY_ERROR)
			cluster_count_error(l->cl);
	}
	free(key);
}

/* Claims or renews the lease of every local user's name, in one
 * pipelined batch. */
static void
cluster_renew_all(struct cluster *cl)
{
	size_t n;
	struct chat_user **v = cluster_users(cl, false, &n);

	for (size_t i = 0; i < n && cluster_up_now(cl); i++) {
		char *key = malloc(CHAT_NAME_MAX + 1);

		if (key == NULL)
			break;
		cluster_lower(key, v[i]->nick);
		redisAsyncCommand(cl->pub.ac, cluster_on_renew, key,
		    "EVAL %s 1 %s:nick:%s %s %d", cluster_claim_lua, cl->channel,
		    key, cl->idhex, CLUSTER_LEASE_MS);
	}
	free(v);
}

/* Tells the claim's user the answer (err), and frees the claim. */
static void
cluster_claim_answer(struct cluster_claim *c, int err)
{
	struct cluster *cl = c->cl;
	struct chat_user *u = c->u;
	struct cluster_claim **pp;

	for (pp = &cl->claims; *pp != NULL && *pp != c; pp = &(*pp)->next)
		;
	if (*pp == c)
		*pp = c->next;
	if (u != NULL) {
		u->claiming = false;
		conn_resume(u->c);
		c->done(cl->ch, u, c->name, err);
	}
	free(c);
}

static void
cluster_on_claim(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;
	struct cluster_claim *c = privdata;
	int err = 0;

	(void)ac;
	/* No answer (Redis went away): the local rule, which allowed it,
	 * decides; the lease is claimed when Redis is back. */
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer == 0)
		err = -EEXIST;
	else if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		cluster_count_error(c->cl);
	cluster_claim_answer(c, err);
}

/* Sends the claim to Redis; false when hiredis would not take it. */
static bool
cluster_claim_send(struct cluster *cl, struct cluster_claim *c)
{
	c->sent = true;
	return redisAsyncCommand(cl->pub.ac, cluster_on_claim, c,
	    "EVAL %s 1 %s:nick:%s %s %d", cluster_claim_lua, cl->channel, c->key,
	    cl->idhex, CLUSTER_LEASE_MS) == REDIS_OK;
}

/* The link is up, or lost: the claims made while the first connection
 * was being made are sent now, or answered by the local rule. */
static void
cluster_claims_waiting(struct cluster *cl, bool up)
{
	struct cluster_claim *next;

	for (struct cluster_claim *c = cl->claims; c != NULL; c = next) {
		next = c->next;
		if (!c->sent && (!up || !cluster_claim_send(cl, c)))
			cluster_claim_answer(c, 0);
	}
}

int
cluster_claim(struct chat *ch, struct chat_user *u, const char *name,
    chat_claim_proc *done)
{
	struct cluster *cl = ch->cluster;
	struct cluster_claim *c;
	char key[CHAT_NAME_MAX + 1];

	/* Until the first connection is made (at most CLUSTER_CONNECT_MS),
	 * names wait for it; while Redis is away the local rule decides. */
	if (cl == NULL || (!cluster_up_now(cl) &&
	    (cl->ever_up || cl->state != CLUSTER_CONNECTING)))
		return 0;
	cluster_lower(key, name);
	for (c = cl->claims; c != NULL; c = c->next)
		if (c->u != NULL && strcmp(c->key, key) == 0)
			return -EEXIST;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->cl = cl;
	c->u = u;
	c->done = done;
	snprintf(c->name, sizeof(c->name), "%s", name);
	memcpy(c->key, key, sizeof(key));
	if (cluster_up_now(cl) && !cluster_claim_send(cl, c)) {
		free(c);
		return 0;
	}
	c->next = cl->claims;
	cl->claims = c;
	u->claiming = true;
	conn_pause(u->c);
	return -EINPROGRESS;
}

void
cluster_forget(struct chat *ch, struct chat_user *u)
{
	if (ch->cluster == NULL)
		return;
	for (struct cluster_claim *c = ch->cluster->claims; c != NULL;
	    c = c->next)
		if (c->u == u)
			c->u = NULL;
}

/* --- shared history ----------------------------------------------------------- */

static void
cluster_on_history(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;
	struct cluster_fetch *f = privdata;
	struct chat_room *room;

	(void)ac;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    (room = chat_room_find(f->cl->ch, f->room)) == NULL ||
	    room->hist_n > 0 || reply->elements == 0) {
		free(f);
		return;
	}
	/* Newest first in the list, oldest first in the ring. */
	for (size_t i = reply->elements; i-- > 0;) {
		redisReply *e = reply->element[i];
		struct cluster_msg m;
		char *store;

		if (e->type != REDIS_REPLY_STRING ||
		    (store = malloc(e->len + 8)) == NULL)
			continue;
		if (cluster_msg_decode(e->str, e->len, &m, store) == 0 &&
		    m.type == CLUSTER_MESSAGE)
			chat_hist_keep(f->cl->ch, room, m.nick, m.text);
		free(store);
	}
	if (f->tell)
		for (unsigned p = 0; p < CHAT_PROTOS; p++)
			for (struct chat_link *l = room->members[p]; l != NULL;
			    l = l->next)
				if (l->user->c != NULL)
					chat_hist_send(f->cl->ch, room, l->user);
	free(f);
}

static void
cluster_fetch_history(struct cluster *cl, const struct chat_room *room,
    bool tell)
{
	long hist = chat_conf_now(cl->ch)->history;
	struct cluster_fetch *f;
	char key[CHAT_NAME_MAX + 1];

	if (hist == 0 || !cluster_up_now(cl) ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return;
	f->cl = cl;
	f->tell = tell;
	snprintf(f->room, sizeof(f->room), "%s", room->name);
	cluster_lower(key, room->name);
	if (redisAsyncCommand(cl->pub.ac, cluster_on_history, f,
	    "LRANGE %s:hist:%s 0 %ld", cl->channel, key, hist - 1) != REDIS_OK)
		free(f);
}

void
cluster_room_new(struct chat *ch, struct chat_room *room)
{
	if (ch->cluster != NULL)
		cluster_fetch_history(ch->cluster, room, true);
}

/* --- connecting ---------------------------------------------------------------- */

/* Both connections are open and the channel subscribed. */
static void
cluster_up(struct cluster *cl)
{
	struct cluster_msg m = { .type = CLUSTER_SYNC };
	struct chat_room **rooms;

	if (cl->state != CLUSTER_CONNECTING)
		return;
	cl->state = CLUSTER_UP;
	cl->backoff = CLUSTER_BACKOFF_MIN;
	cl->ch->svc->stats.custom[CHAT_COUNTER_REDIS_UP] = 1;
	if (cl->deadline != 0) {
		ev_timer_del(server.loop, cl->deadline);
		cl->deadline = 0;
	}
	svc_log(cl->ch->svc, LOG_LVL_NOTICE, "cluster: redis %s:%d connected, "
	    "channel %s, instance %s", cl->host, cl->port, cl->channel,
	    cl->idhex);
	if (cl->told_down) {
		cl->told_down = false;
		cluster_tell_all(cl, CLUSTER_BACK_TEXT);
	}
	cluster_renew_all(cl);
	cluster_claims_waiting(cl, true);
	cluster_publish(cl, &m);
	cluster_announce(cl);
	if ((rooms = calloc(cl->ch->rooms.count + 1, sizeof(*rooms))) != NULL) {
		size_t n = chat_room_list(cl->ch, rooms);

		/* Users who came before the first connection have not seen
		 * it; after an outage they have seen their rooms go on. */
		for (size_t i = 0; i < n; i++)
			if (rooms[i]->hist_n == 0)
				cluster_fetch_history(cl, rooms[i], !cl->ever_up);
		free(rooms);
	}
	cl->ever_up = true;
}

static long cluster_retry(struct ev_loop *loop, long long id, void *data);

static long
cluster_connect_late(struct ev_loop *loop, long long id, void *data)
{
	struct cluster *cl = data;

	(void)loop;
	(void)id;
	cl->deadline = 0;
	if (cl->state == CLUSTER_CONNECTING)
		cluster_lost(cl, "connect timed out");
	return -1;
}

/* A reply to AUTH or SELECT: an error ends the try (the retries go on,
 * the operator may be changing Redis's password); pub is ready once its
 * last one is answered. */
static void
cluster_on_setup(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;
	struct cluster_link *l = privdata;
	struct cluster *cl = l->cl;

	if (cluster_no_reply(cl, ac, reply))
		return;
	if (--l->setup == 0 && l == &cl->pub && l->connected && cl->subscribed)
		cluster_up(cl);
}

/* Queues l's AUTH and SELECT, which go before anything else on it. */
static void
cluster_setup(struct cluster *cl, struct cluster_link *l)
{
	l->setup = 0;
	if (cl->password != NULL) {
		if (cl->user != NULL)
			redisAsyncCommand(l->ac, cluster_on_setup, l, "AUTH %s %s",
			    cl->user, cl->password);
		else
			redisAsyncCommand(l->ac, cluster_on_setup, l, "AUTH %s",
			    cl->password);
		l->setup++;
	}
	if (cl->db != 0 && l == &cl->pub) {
		redisAsyncCommand(l->ac, cluster_on_setup, l, "SELECT %ld",
		    cl->db);
		l->setup++;
	}
}

/* Opens both connections to addr (numeric) and asks for the
 * subscription. */
static void
cluster_open(struct cluster *cl, const char *addr)
{
	if (cluster_link_open(cl, &cl->pub, addr) != 0 ||
	    cluster_link_open(cl, &cl->sub, addr) != 0) {
		cluster_count_error(cl);
		cluster_lost(cl, "cannot connect");
		return;
	}
	cluster_setup(cl, &cl->pub);
	cluster_setup(cl, &cl->sub);
	redisAsyncCommand(cl->sub.ac, cluster_on_sub, cl, "SUBSCRIBE %s",
	    cl->channel);
}

static void
cluster_resolve_run(struct worker_job *job)
{
	struct cluster_resolve *r = (struct cluster_resolve *)job;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	struct addrinfo *use;

	r->err = getaddrinfo(r->host, NULL, &hints, &ai);
	if (r->err != 0)
		return;
	/* An IPv4 address first, as a Redis bound to 127.0.0.1 is reached
	 * through "localhost". */
	for (use = ai; use != NULL && use->ai_family != AF_INET;
	    use = use->ai_next)
		;
	if (use == NULL)
		use = ai;
	if (use->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)use->ai_addr)->
		    sin6_addr, r->addr, sizeof(r->addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)use->ai_addr)->sin_addr,
		    r->addr, sizeof(r->addr));
	freeaddrinfo(ai);
}

static void
cluster_resolve_done(struct worker_job *job)
{
	struct cluster_resolve *r = (struct cluster_resolve *)job;
	struct cluster *cl = r->cl;

	cl->resolving = false;
	if (cl->state != CLUSTER_CONNECTING)
		return;
	if (r->err != 0) {
		cluster_count_error(cl);
		cluster_lost(cl, gai_strerror(r->err));
		return;
	}
	cluster_open(cl, r->addr);
}

/* Connects: at once to an address, through a look-up to a name. */
static void
cluster_connect(struct cluster *cl)
{
	cl->state = CLUSTER_CONNECTING;
	cl->subscribed = false;
	cl->deadline = ev_timer_add(server.loop, CLUSTER_CONNECT_MS,
	    cluster_connect_late, cl);
	if (cl->resolver == NULL) {
		cluster_open(cl, cl->host);
		return;
	}
	if (cl->resolving)
		return;             /* a late answer to the last try serves */
	cl->res.job.run = cluster_resolve_run;
	cl->res.job.done = cluster_resolve_done;
	cl->res.cl = cl;
	snprintf(cl->res.host, sizeof(cl->res.host), "%s", cl->host);
	if (worker_submit(cl->resolver, &cl->res.job) != 0) {
		cluster_count_error(cl);
		cluster_lost(cl, "cannot look the host up");
		return;
	}
	cl->resolving = true;
}

static long
cluster_retry(struct ev_loop *loop, long long id, void *data)
{
	struct cluster *cl = data;

	(void)loop;
	(void)id;
	cl->retry = 0;
	if (cl->state == CLUSTER_DOWN)
		cluster_connect(cl);
	return -1;
}

/* A connection failed or closed: both are closed, the remote users
 * vanish, users are told (once per outage), and a retry is due. */
static void
cluster_lost(struct cluster *cl, const char *why)
{
	bool was_up = cl->state == CLUSTER_UP;

	if (cl->state == CLUSTER_DOWN)
		return;
	cl->state = CLUSTER_DOWN;
	cl->ch->svc->stats.custom[CHAT_COUNTER_REDIS_UP] = 0;
	cluster_ghosts_free(cl, 0, false, false, NULL);
	cluster_peers_free(cl);
	cluster_link_close(&cl->pub);
	cluster_link_close(&cl->sub);
	cluster_claims_waiting(cl, false);
	if (cl->deadline != 0) {
		ev_timer_del(server.loop, cl->deadline);
		cl->deadline = 0;
	}
	if (was_up) {
		svc_log(cl->ch->svc, LOG_LVL_WARNING, "cluster: redis %s:%d "
		    "lost (%s); rooms are local until it is back", cl->host,
		    cl->port, why != NULL ? why : "error");
		cluster_tell_all(cl, CLUSTER_DOWN_TEXT);
		cl->told_down = true;
	} else if (cl->backoff == CLUSTER_BACKOFF_MIN) {
		svc_log(cl->ch->svc, LOG_LVL_WARNING, "cluster: redis %s:%d: %s; "
		    "retrying", cl->host, cl->port, why != NULL ? why : "error");
	}
	if (cl->retry == 0)
		cl->retry = ev_timer_add(server.loop, cl->backoff, cluster_retry,
		    cl);
	cl->backoff = cl->backoff * 2 > CLUSTER_BACKOFF_MAX ?
	    CLUSTER_BACKOFF_MAX : cl->backoff * 2;
}

/* Every tick: the heartbeat, the leases, the instances gone silent. */
static long
cluster_tick(struct ev_loop *loop, long long id, void *data)
{
	struct cluster *cl = data;
	struct cluster_msg m = { .type = CLUSTER_ALIVE };

	(void)loop;
	(void)id;
	if (cluster_up_now(cl)) {
		cluster_publish(cl, &m);
		cluster_renew_all(cl);
		cluster_peers_check(cl);
	}
	return CLUSTER_TICK_MS;
}

/* --- the hooks room.c calls -------------------------------------------------- */

static const char cluster_type_of[] = {
	[CHAT_EV_MESSAGE] = CLUSTER_MESSAGE, [CHAT_EV_ACTION] = CLUSTER_ACTION,
	[CHAT_EV_JOIN] = CLUSTER_JOIN, [CHAT_EV_PART] = CLUSTER_PART,
	[CHAT_EV_QUIT] = CLUSTER_QUIT, [CHAT_EV_NICK] = CLUSTER_NICK,
	[CHAT_EV_TOPIC] = CLUSTER_TOPIC, [CHAT_EV_PRIVATE] = CLUSTER_PRIVATE,
};

void
cluster_event(struct chat *ch, const struct chat_event *ev)
{
	struct cluster *cl = ch->cluster;
	struct cluster_msg m = { .type = cluster_type_of[ev->type],
	    .nick = ev->nick, .room = ev->room, .text = ev->text,
	    .styled = ev->styled, .notice = ev->notice };
	char a[CHAT_NAME_MAX + 1], b[CHAT_NAME_MAX + 1];

	if (cl == NULL || ev->user == NULL || ev->user->c == NULL)
		return;
	if (ev->type == CHAT_EV_PRIVATE)
		m.to = ev->to->nick;
	if (ev->type == CHAT_EV_JOIN || ev->type == CHAT_EV_NICK ||
	    ev->type == CHAT_EV_QUIT)
		m.styled = NULL;
	cluster_publish(cl, &m);
	if (ev->type == CHAT_EV_QUIT) {
		cluster_release(cl, ev->nick);
	} else if (ev->type == CHAT_EV_NICK) {
		cluster_lower(a, ev->nick);
		cluster_lower(b, ev->text);
		if (strcmp(a, b) != 0)
			cluster_release(cl, ev->nick);
	}
}

void
cluster_named(struct chat *ch, const struct chat_user *u)
{
	struct cluster_msg m = { .type = CLUSTER_USER, .nick = u->nick };

	if (ch->cluster != NULL && u->c != NULL)
		cluster_publish(ch->cluster, &m);
}

/* --- start and stop ------------------------------------------------------------ */

static bool
cluster_numeric(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

static void
cluster_free(struct cluster *cl)
{
	struct cluster_url u = { .host = cl->host, .user = cl->user,
	    .password = cl->password };

	cluster_url_free(&u);
	free(cl->channel);
	free(cl);
}

int
cluster_start(struct chat *ch, const char *url, const char *name)
{
	struct cluster *cl = calloc(1, sizeof(*cl));

	struct cluster_url u;

	if (cl == NULL)
		return -ENOMEM;
	if (cluster_url_parse(url, &u) != 0 ||
	    (cl->channel = strdup(name)) == NULL) {
		cluster_url_free(&u);
		free(cl);
		return -EINVAL;
	}
	cl->host = u.host;
	cl->port = u.port;
	cl->user = u.user;
	cl->password = u.password;
	cl->db = u.db;
	cl->ch = ch;
	if (getrandom(&cl->id, sizeof(cl->id), GRND_NONBLOCK) !=
	    sizeof(cl->id))
		cl->id = (uint64_t)time(NULL) << 32 ^ (uint64_t)getpid() ^
		    (uint64_t)ev_clock_us();
	if (cl->id == 0)
		cl->id = 1;
	snprintf(cl->idhex, sizeof(cl->idhex), "%016" PRIx64, cl->id);
	cl->backoff = CLUSTER_BACKOFF_MIN;
	cl->state = CLUSTER_DOWN;
	if (!cluster_numeric(cl->host)) {
		struct worker_config wc = { .name = "redis-lookup", .threads = 1 };
		int err = 0;

		if ((cl->resolver = worker_start(server.loop, &wc, &err)) == NULL) {
			cluster_free(cl);
			return err;
		}
	}
	ch->cluster = cl;
	cl->tick = ev_timer_add(server.loop, CLUSTER_TICK_MS, cluster_tick, cl);
	cluster_connect(cl);
	return 0;
}

void
cluster_stop(struct chat *ch)
{
	struct cluster *cl = ch->cluster;

	if (cl == NULL)
		return;
	cl->state = CLUSTER_DOWN;
	/* Waits for a look-up under way; its answer finds the link down. */
	if (cl->resolver != NULL)
		worker_stop(cl->resolver);
	if (cl->retry != 0)
		ev_timer_del(server.loop, cl->retry);
	if (cl->deadline != 0)
		ev_timer_del(server.loop, cl->deadline);
	if (cl->resync != 0)
		ev_timer_del(server.loop, cl->resync);
	ev_timer_del(server.loop, cl->tick);
	cluster_link_close(&cl->pub);
	cluster_link_close(&cl->sub);
	cluster_ghosts_free(cl, 0, false, false, NULL);
	cluster_peers_free(cl);
	while (cl->claims != NULL) {
		struct cluster_claim *c = cl->claims;

		cl->claims = c->next;
		free(c);
	}
	cluster_free(cl);
	ch->cluster = NULL;
}
