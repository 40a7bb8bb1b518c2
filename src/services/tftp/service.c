/*
 * service.c - the tftp service type (RFC 1350, with RFC 2347 options):
 * keys, hooks, requests, limits and the one sweep timer.
 *
 * Keys: root (required), write (default false), max_size (bytes a WRQ
 * may write), timeout (seconds before a retransmission, 1..255) and
 * retries.  A request comes in on the listener; every transfer then runs
 * on a socket of its own (transfer.c).  Every transfer holds a socket,
 * as a TCP connection does, so the core's limits (admit.h) count it as
 * one: the service's max_connections and per_source, and the daemon's
 * max_connections, which fits the open-files limit.  The buffers of all
 * transfers stay within TFTP_MEM_MAX.  One timer
 * per service walks every transfer and acts on those past their
 * deadline, instead of a timer each.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../admit.h"
#include "../../fsroot.h"
#include "../../log.h"
#include "../../server.h"
#include "tftp.h"

#define TFTP_SWEEP_MS 100             /* how often the sweep looks */

static const struct tftp_conf tftp_defaults = {
	.root = NULL,
	.write = false,
	.max_size = 104857600,
	.timeout = 1,
	.retries = 5,
	.rootfd = -1,
};

static const struct cfg_key tftp_keys[] = {
	{ "root", CFG_PATH, offsetof(struct tftp_conf, root), 1, 4096, NULL },
	{ "write", CFG_BOOL, offsetof(struct tftp_conf, write), 0, 0, NULL },
	{ "max_size", CFG_INT, offsetof(struct tftp_conf, max_size), 0,
	  1LL << 40, NULL },
	{ "timeout", CFG_INT, offsetof(struct tftp_conf, timeout),
	  TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX, NULL },
	{ "retries", CFG_INT, offsetof(struct tftp_conf, retries), 0, 100,
	  NULL },
	CFG_KEY_END
};

static const struct svc_counter tftp_counters[] = {
	[TFTP_C_READS] = { "multid_tftp_transfers_total{op=\"read\"}",
	  "TFTP transfers completed, by operation." },
	[TFTP_C_WRITES] = { "multid_tftp_transfers_total{op=\"write\"}",
	  "TFTP transfers completed, by operation." },
	[TFTP_C_BYTES] = { "multid_tftp_bytes_total",
	  "File bytes of completed TFTP transfers." },
	[TFTP_C_RETRANSMITS] = { "multid_tftp_retransmits_total",
	  "TFTP packets sent again after a timeout." },
	[TFTP_C_FAILED] = { "multid_tftp_failed_total",
	  "TFTP requests refused and transfers failed or abandoned." },
	{ NULL, NULL }
};

/* ---- the sweep ------------------------------------------------------------ */

/* Acts on every transfer past its deadline; runs while there are any. */
static long
tftp_sweep(struct ev_loop *loop, long long id, void *data)
{
	struct tftp_state *ts = data;
	int64_t now = ev_now(loop);
	struct tftp_xfer *x, *next;

	(void)id;
	for (x = ts->xfers; x != NULL; x = next) {
		next = x->next;
		if (now >= x->deadline)
			tftp_xfer_timeout(x);
	}
	if (ts->xfers != NULL)
		return TFTP_SWEEP_MS;
	ts->sweep = 0;
	return -1;
}

void
tftp_sweep_arm(struct tftp_state *ts)
{
	if (ts->sweep == 0)
		ts->sweep = ev_timer_add(server.loop, TFTP_SWEEP_MS, tftp_sweep, ts);
}

/* ---- requests ---------------------------------------------------------- */

/* Answers a request on the listener with an ERROR, and counts it. */
static void
tftp_refuse(struct svc *svc, struct dgram *d, int code, const char *msg)
{
	char pkt[TFTP_ERROR_MAX];

	dgram_reply(d, pkt, tftp_build_error(pkt, (uint16_t)code, msg));
	svc->stats.custom[TFTP_C_FAILED]++;
}

/* The name a request gives, as a path beneath root: leading slashes
 * go, as tftpd -s does, so "/boot/x" and "boot/x" are the same. */
static const char *
tftp_relative(const char *file)
{
	while (*file == '/')
		file++;
	return file;
}

/* One datagram on the listener: an RRQ or WRQ starts a transfer.  An
 * ERROR is never answered (two servers would answer each other). */
static void
tftp_datagram(struct svc *svc, struct dgram *d)
{
	struct tftp_state *ts = svc->state;
	struct tftp_request req;
	struct ip_key ip;
	const char *why;
	int rc;

	if (d->truncated || d->len < 2 ||
	    (d->data[0] == 0 && d->data[1] == TFTP_ERROR)) {
		svc->stats.datagrams_dropped++;
		return;
	}
	if ((rc = tftp_parse_request(d->data, d->len, &req, &why)) != 0) {
		tftp_refuse(svc, d, rc, why);
		return;
	}
	addr_key(d->from, &ip);
	if ((rc = admit_conn(svc, &ip)) >= 0) {
		svc->stats.rejected[rc]++;
		tftp_refuse(svc, d, TFTP_EUNDEF, "server busy: too many transfers");
		return;
	}
	if (tftp_xfer_start(ts, d, &req, tftp_relative(req.file)) != 0)
		admit_release(svc, &ip);
}

/* ---- configuration and life cycle -------------------------------------- */

static const char *
tftp_configure(struct svc_conf *sc)
{
	struct tftp_conf *tc = sc->tconf;
	static char why[PATH_MAX + 64];

	if (tc->root == NULL)
		return "root: required (the directory served)";
	tc->rootfd = open(tc->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tc->rootfd < 0) {
		snprintf(why, sizeof(why), "root: cannot open %s: %s", tc->root,
		    strerror(errno));
		return why;
	}
	return NULL;
}

static void
tftp_conf_free(void *tconf)
{
	struct tftp_conf *tc = tconf;

	if (tc->rootfd >= 0)
		close(tc->rootfd);
	tc->rootfd = -1;
}

static int
tftp_start(struct svc *svc)
{
	struct tftp_state *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return -ENOMEM;
	ts->svc = svc;
	svc->state = ts;
	return 0;
}

/* Ends every transfer; the threads finish the jobs they hold, whose
 * completions free what was left to them.  An upload being named when
 * the service stops was complete, and keeps its name. */
static void
tftp_stop(struct svc *svc)
{
	struct tftp_state *ts = svc->state;

	while (ts->xfers != NULL)
		tftp_xfer_end(ts->xfers, false, TFTP_EUNDEF, "server stopping");
	if (ts->sweep != 0)
		ev_timer_del(server.loop, ts->sweep);
	if (ts->writer != NULL)
		worker_stop(ts->writer);
	durable_stop(ts->durable);
	free(ts);
	svc->state = NULL;
}

const struct service_type tftp_service = {
	.name = "tftp",
	.protos = PROTO_UDP,
	.keys = tftp_keys,
	.conf_size = sizeof(struct tftp_conf),
	.conf_defaults = &tftp_defaults,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.counters = tftp_counters,
	.configure = tftp_configure,
	.conf_free = tftp_conf_free,
	.start = tftp_start,
	.stop = tftp_stop,
	.datagram = tftp_datagram,
};
