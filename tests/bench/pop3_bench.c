/*
 * pop3_bench.c - POP3 sessions as mail clients run them: log in, RETR
 * messages 1..M (each read to its final "."), QUIT, again, from many
 * clients at once, each with a mailbox of its own (a mailbox is held by
 * one session at a time).
 *
 *   pop3_bench HOST:PORT CLIENTS MESSAGES SECONDS PREFIX SECRET
 *
 * Client i logs in as PREFIXi.  Prints one line:
 *   clients=C sessions=S retr=R retr_per_s=X mib_per_s=Y errors=E
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF 65536

struct client {
	pthread_t thread;             /* its thread */
	int       index;              /* PREFIX and this is its user */
};

static struct sockaddr_in server_addr;
static int messages;
static const char *prefix, *secret;
static double end_time;
static atomic_ulong sessions, retrs, bytes, errors;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection's buffered input. */
struct conn {
	int    fd;                    /* the socket */
	char   buf[READ_BUF];         /* bytes read, not yet taken */
	size_t len;                   /* how many */
};

/* Reads until the buffer holds marker; returns the bytes up to and with
 * it (removed from the buffer), or -1. */
static long
read_until(struct conn *c, const char *marker, size_t *total)
{
	size_t ml = strlen(marker);
	size_t got = 0;

	for (;;) {
		char *p = c->len >= ml ? memmem(c->buf, c->len, marker, ml) :
		    NULL;
		if (p != NULL) {
			size_t n = (size_t)(p - c->buf) + ml;
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			got += n;
			if (total != NULL)
				*total = got;
			return (long)got;
		}
		/* Keep the last ml - 1 bytes: the marker may straddle. */
		if (c->len >= ml) {
			size_t keep = ml - 1;
			got += c->len - keep;
			memmove(c->buf, c->buf + c->len - keep, keep);
			c->len = keep;
		}
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int
say(struct conn *c, const char *fmt, const char *arg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), fmt, arg);

	return write(c->fd, line, (size_t)n) == n ? 0 : -1;
}

/* Expects a "+OK" line (a short one: it fits in the buffer). */
static int
ok(struct conn *c)
{
	char *end;

	while ((end = memmem(c->buf, c->len, "\r\n", 2)) == NULL) {
		ssize_t n;

		if (c->len == sizeof(c->buf))
			return -1;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
	if (strncmp(c->buf, "+OK", 3) != 0)
		return -1;
	end += 2;
	c->len -= (size_t)(end - c->buf);
	memmove(c->buf, end, c->len);
	return 0;
}

static int
session(int index)
{
	struct conn c = { .len = 0 };
	char user[64], num[16];
	int rc = -1;

	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&server_addr,
	    sizeof(server_addr)) != 0)
		goto out;
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	snprintf(user, sizeof(user), "%s%d", prefix, index);
	if (ok(&c) || say(&c, "USER %s\r\n", user) || ok(&c) ||
	    say(&c, "PASS %s\r\n", secret) || ok(&c))
		goto out;
	for (int m = 1; m <= messages; m++) {
		size_t got = 0;
		snprintf(num, sizeof(num), "%d", m);
		if (say(&c, "RETR %s\r\n", num) || ok(&c) ||
		    read_until(&c, "\r\n.\r\n", &got) < 0)
			goto out;
		atomic_fetch_add(&retrs, 1);
		atomic_fetch_add(&bytes, got);
	}
	if (say(&c, "QUIT\r\n%s", "") || ok(&c))
		goto out;
	rc = 0;
out:
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;

	while (now() < end_time) {
		if (session(cl->index) != 0) {
			atomic_fetch_add(&errors, 1);
			usleep(10000);
			continue;
		}
		atomic_fetch_add(&sessions, 1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int nclients;
	double secs, start;
	char host[64], *colon;
	struct client *cls;

	if (argc != 7 || (colon = strrchr(argv[1], ':')) == NULL) {
		fprintf(stderr, "usage: pop3_bench HOST:PORT CLIENTS MESSAGES "
		    "SECONDS PREFIX SECRET\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[1]), argv[1]);
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((unsigned short)atoi(colon + 1));
	inet_pton(AF_INET, host, &server_addr.sin_addr);
	nclients = atoi(argv[2]);
	messages = atoi(argv[3]);
	secs = atof(argv[4]);
	prefix = argv[5];
	secret = argv[6];
	cls = calloc((size_t)nclients, sizeof(*cls));
	start = now();
	end_time = start + secs;
	for (int i = 0; i < nclients; i++) {
		cls[i].index = i;
		pthread_create(&cls[i].thread, NULL, client_main, &cls[i]);
	}
	for (int i = 0; i < nclients; i++)
		pthread_join(cls[i].thread, NULL);
	secs = now() - start;
	printf("clients=%d sessions=%lu retr=%lu retr_per_s=%.0f "
	    "mib_per_s=%.1f errors=%lu\n", nclients, atomic_load(&sessions),
	    atomic_load(&retrs), (double)atomic_load(&retrs) / secs,
	    (double)atomic_load(&bytes) / secs / 1048576.0,
	    atomic_load(&errors));
	free(cls);
	return 0;
}
