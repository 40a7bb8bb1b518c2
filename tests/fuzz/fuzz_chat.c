/*
 * fuzz_chat.c - the chat service as a whole: four clients typing at once,
 * each speaking the line protocol (telnet, nc) or the course protocol
 * (NUL frames), reading or not reading, timing out and going away, driven
 * by arbitrary bytes; and the sanitiser and command parsers on their own
 * (chat.h, utf8.h).
 *
 * The chat's files (services/chat/room.c, proto_line.c, proto_course.c,
 * service.c) are compiled into this file with the core calls they make
 * (conn_reply, conn_send, conn_send_shared, conn_close_after_flush,
 * conn_set_max_line) replaced by a small model of the core: each client
 * has an output queue that grows with what it is sent and empties when
 * it reads; past the high-water mark its input waits (and is replayed
 * when it reads), past max_queue it is dropped with CLOSE_SLOW, and a
 * connection that the service closes is reaped after the step, as the
 * core does.  Input goes through the real framer, in the mode of the
 * client's protocol (the table row in service.c).  The chat's
 * exported names are renamed so that they do not clash with the real ones
 * linked in from the core objects (parse.c is not compiled in: the real
 * one is used).
 *
 * Input: the first byte sets history (0..3), max_line and max_queue; then
 * records of one control byte (client 0..3, action, and the protocol a
 * closed client comes back with) and a chunk up to and including the next
 * LF.  Actions: type the chunk, read everything, close, idle timeout,
 * half-close.
 *
 * Invariants.  Every line a line client receives ends with CRLF and has
 * no other CR or LF, is valid UTF-8, holds no ESC, no C0 control but TAB,
 * no DEL and no C1 control, and starts with "* ", "! ", "<" or "*NAME* ".
 * Every frame a course client receives ends with its only NUL and is
 * "/ok", "/error", "/ok NAMES", "/users NAMES" (valid names, LF between)
 * or "NAME:TEXT" with the same rules for TEXT.  A message from a named
 * client reaches every other member of its room exactly once, as
 * "<NAME> TEXT" for line clients and "NAME:TEXT" for course clients (the
 * sender too when it speaks the course protocol), with TEXT the sanitised
 * line, and nobody else.  Invalid UTF-8 is answered to the sender only
 * and delivered to nobody.  After every step the rooms and nicknames are
 * consistent: each named client is in exactly one room, found under its
 * nickname (unique regardless of case), each room's count is its member
 * lists, an empty room is kept only for its history and only up to the
 * bound, and nothing leaks when everybody leaves and the service stops
 * (LeakSanitizer).  The sanitiser alone: valid UTF-8 in, valid UTF-8 out,
 * never longer, no control but TAB; the parsers: every line is a message
 * or one command, and its argument has no surrounding blanks.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The core calls the chat makes, caught here. */
#define conn_reply             fuzz_conn_reply
#define conn_send              fuzz_conn_send
#define conn_send_shared       fuzz_conn_send_shared
#define conn_close_after_flush fuzz_conn_close_after_flush
#define conn_set_max_line      fuzz_conn_set_max_line
/* The chat's own exported names, compiled in here a second time. */
#define chat_service           fuzz_chat_service
#define chat_protos            fuzz_chat_protos
#define chat_line_proto        fuzz_chat_line_proto
#define chat_course_proto      fuzz_chat_course_proto
#define chat_conf_now          fuzz_chat_conf_now
#define chat_render            fuzz_chat_render
#define chat_hist_send         fuzz_chat_hist_send
#define chat_rooms_free        fuzz_chat_rooms_free
#define chat_room_drop         fuzz_chat_room_drop
#define chat_room_find         fuzz_chat_room_find
#define chat_room_get          fuzz_chat_room_get
#define chat_room_join         fuzz_chat_room_join
#define chat_room_part         fuzz_chat_room_part
#define chat_room_nicks        fuzz_chat_room_nicks
#define chat_room_list         fuzz_chat_room_list
#define chat_room_topic        fuzz_chat_room_topic
#define chat_say               fuzz_chat_say
#define chat_private           fuzz_chat_private
#define chat_say_event         fuzz_chat_say_event
#define chat_private_event     fuzz_chat_private_event
#define chat_user_new          fuzz_chat_user_new
#define chat_user_find         fuzz_chat_user_find
#define chat_user_name         fuzz_chat_user_name
#define chat_user_rename       fuzz_chat_user_rename
#define chat_user_depart       fuzz_chat_user_depart
#define chat_user_close        fuzz_chat_user_close
#define chat_user_claim        fuzz_chat_user_claim
#define chat_user_drop         fuzz_chat_user_drop
#define chat_hist_keep         fuzz_chat_hist_keep
#define chat_line_open         fuzz_chat_line_open
#define chat_line_message      fuzz_chat_line_message
#define chat_line_eof          fuzz_chat_line_eof
#define chat_course_open       fuzz_chat_course_open
#define chat_course_message    fuzz_chat_course_message
#define chat_course_eof        fuzz_chat_course_eof
#include "services/chat/room.c"
#include "services/chat/proto_line.c"
#include "services/chat/proto_course.c"
#include "services/chat/service.c"
#undef conn_reply
#undef conn_send
#undef conn_send_shared
#undef conn_close_after_flush
#undef conn_set_max_line

#include "line.h"

#define CLIENTS   4                   /* connections at once */
#define INPUT_MAX 65536               /* unread input kept per client */

/* The fuzzer's own checks: not instrumented for coverage, so the fuzzer
 * spends its time, and its guidance, on the service's code. */
#define HARNESS __attribute__((no_sanitize("coverage")))

#include "fuzz_utf8_ref.h"

struct client {
	struct conn c;                /* its connection (c.data: chat_user) */
	bool        open;             /* connected */
	bool        course;           /* speaks the course protocol */
	size_t      pending;          /* bytes queued and not read yet */
	char       *in;               /* input waiting while throttled */
	size_t      in_len;           /* bytes in it */
	unsigned    offered;          /* lines or frames sent in this step */
	char        last[2048];       /* the last of them, without its end */
};

static struct client clients[CLIENTS];
static struct svc svc;
static struct svc_conf sc;
static struct chat_conf cc;

static struct client *
client_of(struct conn *c)
{
	return (struct client *)((char *)c - offsetof(struct client, c));
}

/* Text that cannot drive a terminal: valid UTF-8 without ESC, C0 but
 * TAB, DEL or C1 (U+0080..U+009F, encoded C2 80..C2 9F). */
HARNESS static void
check_safe_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	assert(ref_valid(s, len));
	for (size_t i = 0; i < len; i++) {
		assert(p[i] >= 0x20 || p[i] == '\t');
		assert(p[i] != 0x7f);
		assert(!(p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0));
	}
}

/* A line for a line client. */
HARNESS static void
check_line_out(const char *data, size_t len)
{
	assert(len >= 3 && data[len - 2] == '\r' && data[len - 1] == '\n');
	assert(memchr(data, '\n', len - 1) == NULL);
	assert(memchr(data, '\r', len - 2) == NULL);
	check_safe_text(data, len - 2);
	assert(data[0] == '*' || data[0] == '!' || data[0] == '<');
	assert(data[0] != '!' || data[1] == ' ');
}

/* "N1\nN2..." of a course answer: valid names, sorted. */
HARNESS static void
check_names(const char *s, size_t len)
{
	char prev[CHAT_NAME_MAX + 1] = "", name[CHAT_NAME_MAX + 2];

	while (len > 0) {
		const char *lf = memchr(s, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - s) : len;

		assert(n >= 1 && n <= CHAT_NAME_MAX);
		memcpy(name, s, n);
		name[n] = '\0';
		assert(name_valid(name));
		assert(strcasecmp(prev, name) <= 0);
		memcpy(prev, name, n + 1);
		s += n + (lf != NULL);
		len -= n + (lf != NULL);
		assert(lf == NULL || len > 0);
	}
}

/* A frame for a course client. */
HARNESS static void
check_frame_out(const char *data, size_t len)
{
	const char *colon;
	char name[CHAT_NAME_MAX + 2];

	assert(len >= 2 && data[len - 1] == '\0');
	assert(memchr(data, '\0', len - 1) == NULL);
	len--;
	if ((len == 3 && memcmp(data, "/ok", 3) == 0) ||
	    (len == 6 && memcmp(data, "/error", 6) == 0))
		return;
	if (len > 4 && memcmp(data, "/ok ", 4) == 0) {
		check_names(data + 4, len - 4);
		return;
	}
	if (len > 7 && memcmp(data, "/users ", 7) == 0) {
		check_names(data + 7, len - 7);
		return;
	}
	colon = memchr(data, ':', len);
	assert(colon != NULL && colon > data &&
	    (size_t)(colon - data) <= CHAT_NAME_MAX);
	memcpy(name, data, (size_t)(colon - data));
	name[colon - data] = '\0';
	assert(name_valid(name));
	check_safe_text(colon + 1, len - (size_t)(colon + 1 - data));
}

/* Everything a client is sent passes here. */
HARNESS static int
offer(struct conn *c, const char *data, size_t len)
{
	struct client *cl = client_of(c);
	size_t end = cl->course ? 1 : 2;

	assert(cl->open);
	if (cl->course)
		check_frame_out(data, len);
	else
		check_line_out(data, len);
	cl->offered++;
	snprintf(cl->last, sizeof(cl->last), "%.*s", (int)(len - end), data);
	/* The core's rules: a closed or dropped client takes nothing, one
	 * past its cap is marked to be dropped. */
	if ((c->state != CONN_OPEN && c->state != CONN_DRAINING) || c->over_cap)
		return -EPIPE;
	if (cl->pending + len > c->hard_cap) {
		c->over_cap = true;
		return -ENOBUFS;
	}
	cl->pending += len;
	return 0;
}

int
fuzz_conn_reply(struct conn *c, const char *fmt, ...)
{
	va_list ap, ap2;
	char *line;
	int n, err;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert(n >= 0);
	assert(!client_of(c)->course);
	line = malloc((size_t)n + 3);
	vsnprintf(line, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	memcpy(line + n, "\r\n", 2);
	err = offer(c, line, (size_t)n + 2);
	free(line);
	return err;
}

int
fuzz_conn_send(struct conn *c, const void *data, size_t len)
{
	return offer(c, data, len);
}

int
fuzz_conn_send_shared(struct conn *c, struct rbuf *rb)
{
	assert(rb->refs >= 1);
	return offer(c, rb->data, rb->len);
}

void
fuzz_conn_close_after_flush(struct conn *c)
{
	if (c->state == CONN_OPEN)
		c->state = CONN_DRAINING;
}

void
fuzz_conn_set_max_line(struct conn *c, size_t max)
{
	c->lr.max = max;
}

/* ---- the model of the core ---------------------------------------------- */

static void
client_open(struct client *cl, bool course)
{
	memset(&cl->c, 0, sizeof(cl->c));
	cl->c.svc = &svc;
	cl->c.conf = &sc;
	cl->c.type = &fuzz_chat_service;
	cl->c.state = CONN_OPEN;
	cl->c.high_water = CONN_HIGH_WATER;
	cl->c.hard_cap = CONN_HARD_CAP;
	cl->c.proto = &chat_protocols[course];
	frame_init(&cl->c.lr, cl->c.proto->frame, 1024);
	cl->open = true;
	cl->course = course;
	cl->pending = 0;
	cl->in_len = 0;
	if (course)
		assert(chat_course_open(&cl->c) == 0);
	else
		assert(chat_line_open(&cl->c) == 0);
	assert(cl->c.data != NULL);
}

static void
client_close(struct client *cl, enum close_reason why)
{
	chat_user_close(&cl->c, why);
	assert(cl->c.data == NULL);
	line_free(&cl->c.lr);
	cl->open = false;
	cl->c.state = CONN_CLOSED;
}

/* Whether the core would go on handing this client's input over. */
static bool
accepts_input(const struct client *cl)
{
	return cl->open && cl->c.state == CONN_OPEN && !cl->c.over_cap &&
	    cl->pending <= cl->c.high_water;
}

/* What one message should do, worked out before it is handled. */
struct expect {
	bool        message;          /* a room message from a named user */
	bool        refused;          /* only the sender is told: invalid
	                                 UTF-8, a course message before login */
	char       *line;             /* "<NAME> TEXT" */
	char       *frame;            /* "NAME:TEXT" */
	bool        member[CLIENTS];  /* who should get it */
};

/* The text of a message, or NULL for a command or nothing to say. */
static char *
message_text(struct client *from, char *s, size_t n, bool *refused)
{
	struct chat_user *u = from->c.data;
	char *copy, *arg;
	bool cmd;

	if (n == 0)
		return NULL;
	if (!from->course) {
		if (u->nick[0] == '\0' || (s[0] == '/' && s[1] != '/'))
			return NULL;
		return s[0] == '/' ? s + 1 : s;
	}
	copy = strdup(s);
	cmd = chat_course_parse(copy, &arg) != CHAT_COURSE_MESSAGE;
	free(copy);
	if (cmd)
		return NULL;
	*refused = u->nick[0] == '\0';
	return *refused ? NULL : s;
}

static void
expect_message(struct client *from, const char *line, size_t len,
    struct expect *e)
{
	struct chat_user *u = from->c.data;
	char *s, *text;
	size_t n;

	memset(e, 0, sizeof(*e));
	if (!ref_valid(line, len)) {
		e->refused = true;
		return;
	}
	s = malloc(len + 1);
	memcpy(s, line, len);
	n = utf8_sanitize(s, len);
	s[n] = '\0';
	check_safe_text(s, n);
	if ((text = message_text(from, s, n, &e->refused)) == NULL) {
		free(s);
		return;
	}
	e->message = true;
	e->line = malloc(strlen(u->nick) + strlen(text) + 4);
	sprintf(e->line, "<%s> %s", u->nick, text);
	e->frame = malloc(strlen(u->nick) + strlen(text) + 2);
	sprintf(e->frame, "%s:%s", u->nick, text);
	for (int i = 0; i < CLIENTS; i++) {
		struct chat_user *m = clients[i].open ? clients[i].c.data : NULL;

		e->member[i] = m != NULL && chat_user_room(m) == chat_user_room(u) &&
		    (m != u || clients[i].course);
	}
	free(s);
}

HARNESS static void
check_expect(struct client *from, struct expect *e)
{
	if (e->refused) {
		assert(from->offered == 1);
		assert(from->course ? strcmp(from->last, "/error") == 0 :
		    strncmp(from->last, "! ", 2) == 0);
		for (int i = 0; i < CLIENTS; i++)
			if (&clients[i] != from)
				assert(clients[i].offered == 0);
	}
	if (!e->message)
		return;
	for (int i = 0; i < CLIENTS; i++) {
		const char *want = clients[i].course ? e->frame : e->line;

		if (!e->member[i]) {
			assert(clients[i].offered == 0);
			continue;
		}
		assert(clients[i].offered == 1);
		assert(strncmp(clients[i].last, want, sizeof(clients[i].last)
		    - 1) == 0);
	}
	free(e->line);
	free(e->frame);
}

static enum line_result
on_message(void *ctx, char *line, size_t len)
{
	struct client *cl = ctx;
	struct expect e;

	for (int i = 0; i < CLIENTS; i++)
		clients[i].offered = 0;
	expect_message(cl, line, len, &e);
	if (cl->course)
		assert(chat_course_message(&cl->c, line, len) == LINE_MORE);
	else
		assert(chat_line_message(&cl->c, line, len) == LINE_MORE);
	check_expect(cl, &e);
	return accepts_input(cl) ? LINE_MORE : LINE_STOP;
}

static enum line_result
on_long(void *ctx, char *line, size_t len)
{
	struct client *cl = ctx;

	(void)line;
	(void)len;
	if (cl->course)
		fuzz_conn_send(&cl->c, chat_protocols[1].too_long,
		    strlen(chat_protocols[1].too_long) + 1);
	else
		fuzz_conn_reply(&cl->c, "%s", chat_protocols[0].too_long);
	return accepts_input(cl) ? LINE_MORE : LINE_STOP;
}

/* What the core's framer calls; telnet answers are left out, as they
 * are not the chat's output. */
static const struct frame_ops fuzz_frame_ops = { on_message, on_long, NULL };

static size_t
client_feed(struct client *cl, const char *data, size_t len)
{
	return frame_feed(&cl->c.lr, data, len, &fuzz_frame_ops, cl);
}

/* Hands a client its input as the core does: what is not taken while it
 * is throttled waits, up to a bound (the rest stays in the kernel). */
static void
client_input(struct client *cl, const char *data, size_t len)
{
	size_t used = 0;

	if (cl->in_len == 0 && accepts_input(cl))
		used = client_feed(cl, data, len);
	if (used < len && cl->open) {
		size_t keep = len - used;

		if (keep > INPUT_MAX - cl->in_len)
			keep = INPUT_MAX - cl->in_len;
		if (cl->in == NULL)
			cl->in = malloc(INPUT_MAX);
		memcpy(cl->in + cl->in_len, data + used, keep);
		cl->in_len += keep;
	}
}

/* The client reads all it was sent; waiting input goes on. */
static void
client_read(struct client *cl)
{
	cl->pending = 0;
	while (cl->in_len > 0 && accepts_input(cl)) {
		size_t used = client_feed(cl, cl->in, cl->in_len);

		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
}

/* After every step the core reaps what the service closed and drops the
 * clients past their cap; each may make others go past theirs. */
static void
reap(void)
{
	bool again = true;

	while (again) {
		again = false;
		for (int i = 0; i < CLIENTS; i++) {
			struct client *cl = &clients[i];

			if (!cl->open)
				continue;
			if (cl->c.over_cap) {
				client_close(cl, CLOSE_SLOW);
				again = true;
			} else if (cl->c.state != CONN_OPEN) {
				client_close(cl, CLOSE_DONE);
				again = true;
			}
		}
	}
}

/* ---- the state invariants -------------------------------------------------- */

HARNESS static size_t
map_count(const struct hash_table *t)
{
	size_t n = 0;

	for (struct hash_node *nd = hash_first(t); nd != NULL;
	    nd = hash_next(t, nd)) {
		const char *key = HASH_ENTRY(nd, struct chat_node, hnode)->key;

		assert(nd->hash == hash_bytes(key, strlen(key)));
		n++;
	}
	return n;
}

HARNESS static void
check_users(struct chat *ch)
{
	size_t named = 0;

	for (int i = 0; i < CLIENTS; i++) {
		struct chat_user *u = clients[i].open ? clients[i].c.data : NULL;

		if (u == NULL || u->nick[0] == '\0') {
			assert(u == NULL || (u->rooms == NULL && u->nrooms == 0));
			continue;
		}
		named++;
		assert(u->proto == (clients[i].course ? CHAT_PROTO_COURSE :
		    CHAT_PROTO_LINE));
		assert(name_valid(u->nick));
		assert(chat_map_find(&ch->users, u->nick) == &u->node);
		assert(u->nrooms == 1 && u->rooms->user_next == NULL);
		assert(u->rooms->user == u);
		assert(chat_map_find(&ch->rooms, u->rooms->room->name) ==
		    &u->rooms->room->node);
		for (int j = 0; j < i; j++) {
			struct chat_user *v = clients[j].open ? clients[j].c.data : NULL;

			assert(v == NULL || v->nick[0] == '\0' ||
			    strcasecmp(u->nick, v->nick) != 0);
		}
	}
	assert(named == ch->users.count);
}

HARNESS static void
check_state(struct chat *ch)
{
	size_t idle = 0;

	assert(map_count(&ch->users) == ch->users.count);
	assert(map_count(&ch->rooms) == ch->rooms.count);
	check_users(ch);
	for (struct hash_node *nd = hash_first(&ch->rooms); nd != NULL;
	    nd = hash_next(&ch->rooms, nd)) {
		struct chat_room *r = HASH_ENTRY(nd, struct chat_room, node.hnode);
		unsigned members = 0;

		for (unsigned p = 0; p < CHAT_PROTOS; p++)
			for (struct chat_link *l = r->members[p]; l; l = l->next) {
				assert(l->room == r && l->user->proto == p);
				assert(l->user->rooms == l);
				assert(l->next == NULL || l->next->prev == l);
				assert(l->prev != NULL || r->members[p] == l);
				members++;
			}
		assert(members == r->count);
		assert(r->hist_n <= r->hist_cap);
		if (r->count == 0) {
			assert(r->idle && r->hist_n > 0);
			idle++;
		} else {
			assert(!r->idle);
		}
	}
	assert(idle == ch->nidle && idle <= CHAT_IDLE_ROOMS);
}

/* ---- the parts on their own ------------------------------------------------ */

static void
fuzz_parts(const char *d, size_t size)
{
	char *s = malloc(size + 1), *copy, *arg = NULL;
	enum chat_cmd cmd;
	enum chat_course_cmd ccmd;
	size_t n;

	memcpy(s, d, size);
	n = ref_valid(s, size) ? utf8_sanitize(s, size) : 0;
	assert(n <= size);
	check_safe_text(s, n);
	s[n] = '\0';
	n = strlen(s);
	copy = strdup(s);
	ccmd = chat_course_parse(copy, &arg);
	assert(ccmd >= CHAT_COURSE_MESSAGE && ccmd <= CHAT_COURSE_USERS);
	assert(arg != NULL && arg >= copy && arg <= copy + n);
	if (ccmd == CHAT_COURSE_MESSAGE)
		assert(arg == copy && strcmp(copy, s) == 0);
	else if (arg[0] != '\0')
		assert(arg[0] != ' ' && arg[0] != '\t' &&
		    arg[strlen(arg) - 1] != ' ' && arg[strlen(arg) - 1] != '\t');
	free(copy);
	cmd = chat_parse(s, &arg);
	assert(cmd >= CHAT_MESSAGE && cmd <= CHAT_UNKNOWN);
	assert(arg != NULL && arg >= s && arg <= s + n);
	if (cmd != CHAT_MESSAGE && cmd != CHAT_UNKNOWN && arg[0] != '\0') {
		assert(arg[0] != ' ' && arg[0] != '\t');
		assert(arg[strlen(arg) - 1] != ' ' && arg[strlen(arg) - 1] != '\t');
	}
	if (name_valid(s))
		assert(n >= 1 && n <= CHAT_NAME_MAX);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat *ch;
	size_t off = 1;

	if (size < 1)
		return 0;
	fuzz_parts((const char *)data + 1, size - 1);
	cc = (struct chat_conf){
		.max_line = 16 + (data[0] >> 2) * 8,
		.history = data[0] & 3,
		.max_queue = 512 + (data[0] >> 4) * 256,
	};
	sc = (struct svc_conf){ .tconf = &cc, .type = &fuzz_chat_service };
	svc = (struct svc){ .conf = &sc };
	assert(chat_start(&svc) == 0);
	ch = svc.state;
	for (int i = 0; i < CLIENTS; i++)
		client_open(&clients[i], i == CLIENTS - 1);
	while (off < size) {
		unsigned ctl = data[off++];
		struct client *cl = &clients[ctl % CLIENTS];
		const uint8_t *lf = memchr(data + off, '\n', size - off);
		size_t len = lf != NULL ? (size_t)(lf - data) + 1 - off : size - off;

		for (int i = 0; i < CLIENTS; i++)
			clients[i].offered = 0;
		if (!cl->open)
			client_open(cl, (ctl & 0x80) != 0);
		switch ((ctl / CLIENTS) % 8) {
		case 4:
			client_read(cl);
			break;
		case 5:
			client_close(cl, CLOSE_PEER);
			break;
		case 6:
			chat_timeout(&cl->c);
			break;
		case 7:
			if (cl->course)
				chat_course_eof(&cl->c);
			else
				chat_line_eof(&cl->c);
			break;
		default:
			client_input(cl, (const char *)data + off, len);
			off += len;
			break;
		}
		reap();
		check_state(ch);
	}
	for (int i = 0; i < CLIENTS; i++) {
		if (clients[i].open)
			client_close(&clients[i], CLOSE_SHUTDOWN);
		free(clients[i].in);
		clients[i].in = NULL;
	}
	assert(ch->users.count == 0);
	chat_stop(&svc);
	assert(svc.state == NULL);
	return 0;
}
