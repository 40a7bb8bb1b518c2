/*
 * guess.c - the number-guessing game.
 *
 * The server picks a number between 1 and MAX; the client guesses and is
 * told "-" (the number is smaller), "+" (bigger) or "=" (right, and a new
 * round starts at once).  Commands: new [MAX], giveup, stats, help, quit.
 * Numbers come from getrandom(2); everything else is per connection.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>

#include "../conn.h"

#define GUESS_MAX_MIN 2L              /* smallest MAX */
#define GUESS_MAX_MAX 1000000L        /* largest MAX */

struct guess_conf {
	long max;                     /* default upper bound */
	long max_line;                /* longest input line, bytes */
};

static const struct guess_conf guess_defaults = {
	.max = 100,
	.max_line = 1024,
};

static const struct cfg_key guess_keys[] = {
	{ "max", CFG_INT, offsetof(struct guess_conf, max), GUESS_MAX_MIN,
	  GUESS_MAX_MAX, NULL },
	{ "max_line", CFG_INT, offsetof(struct guess_conf, max_line), 1, 65536,
	  NULL },
	CFG_KEY_END
};

/* One player's game (c->data). */
struct guess_game {
	long     max;                 /* upper bound of this round */
	long     secret;              /* the number to find */
	unsigned tries;               /* guesses in this round */
	unsigned rounds;              /* rounds won or given up */
	unsigned won;                 /* rounds won */
	unsigned best;                /* fewest tries in a won round, 0 = none */
};

static const char *const guess_help[] = {
	"* guess the number: send a number, and I say",
	"*   - the number is smaller, + it is bigger, = you found it",
	"* new [MAX]   a new round, optionally between 1 and another MAX",
	"* giveup      show the number and start a new round",
	"* stats       rounds finished, won, and your best",
	"* quit        leave",
	NULL
};

/* A uniform number in 1..max from the kernel's random source.  The
 * pool is only empty early at boot; then the non-blocking call fails,
 * and the reactor must not wait, so a weaker source stands in. */
static long
guess_random(long max)
{
	uint32_t range = (uint32_t)max, limit, r;

	/* Values at or past limit would favour small numbers; draw again. */
	limit = UINT32_MAX - UINT32_MAX % range;
	do {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			srandom((unsigned)ts.tv_nsec ^ (unsigned)random());
			r = (uint32_t)random() ^ ((uint32_t)random() << 16);
		}
	} while (r >= limit);
	return 1 + (long)(r % range);
}

/* Starts a round; the line says how (the first one also offers help). */
static void
guess_round(struct conn *c, struct guess_game *g, const char *how)
{
	g->secret = guess_random(g->max);
	g->tries = 0;
	conn_reply(c, "* %s: guess a number between 1 and %ld", how, g->max);
}

/* Parses a decimal integer with optional sign and blanks around it.
 * Returns false for anything else; values too big to matter clamp. */
static bool
guess_number(const char *s, long *out)
{
	bool neg = false;
	long v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++)
		if (v <= GUESS_MAX_MAX * 10)
			v = v * 10 + (*s - '0');
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0')
		return false;
	*out = neg ? -v : v;
	return true;
}

static void
guess_try(struct conn *c, struct guess_game *g, long n)
{
	if (n < 1 || n > g->max) {
		conn_reply(c, "! guess a number between 1 and %ld", g->max);
		return;
	}
	g->tries++;
	if (n > g->secret) {
		conn_reply(c, "- the number is smaller than %ld", n);
	} else if (n < g->secret) {
		conn_reply(c, "+ the number is bigger than %ld", n);
	} else {
		conn_reply(c, "= %ld in %u %s", n, g->tries,
		    g->tries == 1 ? "try" : "tries");
		g->rounds++;
		g->won++;
		if (g->best == 0 || g->tries < g->best)
			g->best = g->tries;
		guess_round(c, g, "new round");
	}
}

static void
guess_new(struct conn *c, struct guess_game *g, const char *arg)
{
	long max;

	if (*arg != '\0') {
		if (!guess_number(arg, &max) || max < GUESS_MAX_MIN ||
		    max > GUESS_MAX_MAX) {
			conn_reply(c, "! usage: new [MAX], MAX between %ld and %ld",
			    GUESS_MAX_MIN, GUESS_MAX_MAX);
			return;
		}
		g->max = max;
	}
	guess_round(c, g, "new round");
}

static void
guess_stats(struct conn *c, const struct guess_game *g)
{
	if (g->best == 0)
		conn_reply(c, "* rounds %u, won %u, best -", g->rounds, g->won);
	else
		conn_reply(c, "* rounds %u, won %u, best %u %s", g->rounds, g->won,
		    g->best, g->best == 1 ? "try" : "tries");
}

/* Splits "word rest": returns the rest (blanks skipped), word ends in NUL. */
static char *
guess_split(char *line)
{
	char *p = line + strcspn(line, " \t");

	if (*p != '\0')
		*p++ = '\0';
	return p + strspn(p, " \t");
}

static enum line_result
guess_line(struct conn *c, char *line, size_t len)
{
	struct guess_game *g = c->data;
	char *word, *arg;
	long n;

	if (strlen(line) != len) {
		conn_reply(c, "! unknown command, try help");
		return LINE_MORE;
	}
	if (guess_number(line, &n)) {
		guess_try(c, g, n);
		return LINE_MORE;
	}
	word = line + strspn(line, " \t");
	arg = guess_split(word);
	if (strcasecmp(word, "new") == 0) {
		guess_new(c, g, arg);
	} else if (*arg != '\0') {
		conn_reply(c, "! unknown command, try help");
	} else if (strcasecmp(word, "giveup") == 0) {
		conn_reply(c, "* the number was %ld", g->secret);
		g->rounds++;
		guess_round(c, g, "new round");
	} else if (strcasecmp(word, "stats") == 0) {
		guess_stats(c, g);
	} else if (strcasecmp(word, "help") == 0) {
		for (int i = 0; guess_help[i] != NULL; i++)
			conn_reply(c, "%s", guess_help[i]);
	} else if (strcasecmp(word, "quit") == 0) {
		conn_reply(c, "* bye");
		conn_close_after_flush(c);
	} else {
		conn_reply(c, "! unknown command, try help");
	}
	return LINE_MORE;
}

/* A new game for c, without a word to the player. */
static struct guess_game *
guess_game_new(struct conn *c)
{
	const struct guess_conf *gc = c->conf->tconf;
	struct guess_game *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->max = gc->max;
	g->secret = guess_random(g->max);
	c->data = g;
	conn_set_max_line(c, (size_t)gc->max_line);
	return g;
}

static int
guess_open(struct conn *c)
{
	struct guess_game *g = guess_game_new(c);

	if (g == NULL)
		return -1;
	guess_round(c, g, "welcome (help lists the commands)");
	return 0;
}

/* The course's game: no greeting, no prompts. */
static int
guess_course_open(struct conn *c)
{
	return guess_game_new(c) != NULL ? 0 : -1;
}

/* The course's protocol: an integer gets exactly "-", "+" or "=" (then a
 * new number is drawn, silently), anything else "!". */
static enum line_result
guess_course_message(struct conn *c, char *msg, size_t len)
{
	struct guess_game *g = c->data;
	long n;

	if (strlen(msg) != len || !guess_number(msg, &n)) {
		conn_answer(c, "!");
	} else if (n > g->secret) {
		conn_answer(c, "-");
	} else if (n < g->secret) {
		conn_answer(c, "+");
	} else {
		conn_answer(c, "=");
		g->secret = guess_random(g->max);
	}
	return LINE_MORE;
}

static void
guess_close(struct conn *c, enum close_reason why)
{
	(void)why;
	free(c->data);
	c->data = NULL;
}

static const struct service_protocol guess_protocols[] = {
	{ .name = "", .frame = FRAME_LINE, .busy = "! busy\r\n",
	  .too_long = "! line too long", .open = guess_open,
	  .message = guess_line, .close = guess_close },
	{ .name = "course", .frame = FRAME_COURSE, .busy = "! busy\r\n",
	  .too_long = "!", .open = guess_course_open,
	  .message = guess_course_message, .close = guess_close },
	{ .name = NULL },
};

const struct service_type guess_service = {
	.name = "guess",
	.protos = PROTO_TCP,
	.keys = guess_keys,
	.conf_size = sizeof(struct guess_conf),
	.conf_defaults = &guess_defaults,
	.idle_timeout = 300,
	.protocols = guess_protocols,
};
