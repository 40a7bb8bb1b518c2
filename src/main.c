/*
 * main.c - the command line, start-up, signals and shutdown of multid.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "sd.h"
#include "server.h"

#ifndef MULTID_VERSION
#define MULTID_VERSION "0.1.0"
#endif
#define DEFAULT_CONFIG "/etc/multid/multid.conf"

enum exit_code {
	EXIT_OK = 0,                  /* clean stop */
	EXIT_CONFIG = 1,              /* configuration error */
	EXIT_USAGE = 2,               /* bad command line */
	EXIT_START = 3,               /* cannot start */
};

#define SWEEP_MS    500               /* idle checks and STATUS= updates */

static const char *config_path = DEFAULT_CONFIG;
static int64_t     shutdown_deadline; /* ms; the loop ends by then */
static bool        dropped_root;      /* setuid() to daemon.user happened */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: multid [-c FILE] [-t] [-V] [-h]\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check the configuration and exit\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n", DEFAULT_CONFIG);
}

static struct daemon_conf *
load_config(unsigned flags)
{
	struct cfg_errors errs;
	struct daemon_conf *dc = cfg_load(config_path, flags, &errs);

	for (unsigned i = 0; i < errs.n; i++)
		log_error("%s", errs.msg[i]);
	if (dc == NULL && errs.n == 0)
		log_error("%s: out of memory", config_path);
	cfg_errors_free(&errs);
	return dc;
}

/* Raises the open-files limit as far as allowed and fits
 * daemon.max_connections into it, leaving room for listeners, files and
 * refused connections. */
static int
fit_fd_limit(long wanted)
{
	struct rlimit rl;
	long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = (long)rl.rlim_cur - 256;
	if (room < 16)
		room = 16;
	if (wanted > room) {
		log_warning("daemon.max_connections lowered from %ld to %ld to fit "
		    "the open-files limit", wanted, room);
		wanted = room;
	}
	server.max_connections = wanted;
	return (int)rl.rlim_cur + 16;
}

/* Fails unless the switch to pw is complete and cannot be undone: real,
 * effective and saved ids are all the user's, and root is out of reach. */
static int
verify_dropped(const struct passwd *pw, char *err, size_t errlen)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) != 0 ||
	    getresgid(&rgid, &egid, &sgid) != 0 ||
	    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid) {
		snprintf(err, errlen, "daemon.user: switch to %s incomplete",
		    pw->pw_name);
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "daemon.user: root privileges could be "
		    "regained after switching to %s", pw->pw_name);
		return -1;
	}
	if (pw->pw_gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) {
		snprintf(err, errlen, "daemon.user: group root could be "
		    "regained after switching to %s", pw->pw_name);
		return -1;
	}
	return 0;
}

/* Drops root for daemon.user once every socket is bound and before any
 * service opens a file, so databases and logs belong to that user. */
static int
drop_privileges(char *err, size_t errlen)
{
	const char *user = server.conf->user;
	struct passwd *pw;

	if (user == NULL)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "daemon.user: user \"%s\" does not exist",
		    user);
		return -1;
	}
	if (geteuid() != 0) {
		/* Under systemd's User= the unit has already switched. */
		if (geteuid() != pw->pw_uid)
			log_warning("daemon.user \"%s\" ignored: not started as "
			    "root", user);
		return 0;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "daemon.user: cannot switch to %s: %s",
		    user, strerror(errno));
		return -1;
	}
	if (verify_dropped(pw, err, errlen) != 0)
		return -1;
	dropped_root = pw->pw_uid != 0;
	log_info("running as user %s (uid %u, gid %u)", user,
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

/* Runs at start once every socket is bound: a socket systemd passed that
 * no service claimed is a mistake in the units, then privileges go. */
static int
after_bind(char *err, size_t errlen)
{
	const char *stray = sd_unclaimed_socket();

	if (stray != NULL) {
		snprintf(err, errlen, "socket %s passed by systemd matches no "
		    "service", stray);
		return -1;
	}
	return drop_privileges(err, errlen);
}

/* Tells systemd how many services run and how many connections are
 * open; only when that changed, unless forced. */
static void
report_status(bool force)
{
	static unsigned last_services = ~0u, last_conns = ~0u;
	unsigned n = 0;

	for (struct svc *s = server.services; s != NULL; s = s->next)
		n++;
	if (!force && n == last_services && server.nconns == last_conns)
		return;
	last_services = n;
	last_conns = server.nconns;
	if (server.stopping)
		sd_notifyf_safe("STATUS=stopping, %u connections left",
		    server.nconns);
	else
		sd_notifyf_safe("STATUS=%u services, %u connections", n,
		    server.nconns);
}

/* Takes over the daemon block of a new configuration.  daemon.user cannot
 * change once root is gone; it takes effect at the next start. */
static void
daemon_conf_switch(struct daemon_conf *dc)
{
	const char *was = server.conf->user, *now = dc->user;

	if ((was == NULL) != (now == NULL) ||
	    (was != NULL && strcmp(was, now) != 0))
		log_warning("daemon.user changed: takes effect at the next "
		    "start");
	log_set_level(dc->log_level);
	cfg_free(server.conf);
	server.conf = dc;
	fit_fd_limit(dc->max_connections);
}

/* SIGHUP: reopen outputs, then read the file again.  The new
 * configuration applies whole or not at all (svc.c): an invalid file, a
 * port that cannot be bound or a service that cannot start leaves the
 * daemon exactly as it was. */
static void
reload(void)
{
	struct daemon_conf *dc;
	struct apply_counts ac;
	char err[512];

	/* MONOTONIC_USEC lets Type=notify-reload units use this too. */
	sd_notifyf_safe("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ev_clock_us());
	log_notice("reloading %s", config_path);
	for (struct svc *s = server.services; s != NULL; s = s->next)
		if (s->conf->type->reopen != NULL)
			s->conf->type->reopen(s);
	if ((dc = load_config(CFG_CHECK_USER)) == NULL) {
		log_error("reload failed, configuration unchanged");
	} else if (services_apply(dc, NULL, &ac, err, sizeof(err)) != 0) {
		if (err[0] != '\0')
			log_error("%s", err);
		if (dropped_root && strstr(err, strerror(EACCES)) != NULL)
			log_error("ports below 1024 need a restart once root is "
			    "given up, or a socket from systemd");
		log_error("reload failed, configuration unchanged");
		cfg_free(dc);
	} else {
		daemon_conf_switch(dc);
		log_notice("reload: %u added, %u removed, %u changed, "
		    "%u unchanged", ac.added, ac.removed, ac.changed,
		    ac.unchanged);
	}
	sd_notifyf_safe("READY=1");
	report_status(true);
}

/* Stops accepting and lets every connection send what it has queued;
 * the loop ends when they are gone or at daemon.shutdown_timeout. */
static void
begin_shutdown(void)
{
	if (server.stopping) {
		/* A second signal: do not wait for slow clients. */
		log_notice("stopping now");
		ev_stop(server.loop);
		return;
	}
	server.stopping = true;
	sd_notifyf_safe("STOPPING=1");
	report_status(true);
	log_notice("stopping");
	shutdown_deadline = ev_clock_ms() + server.conf->shutdown_timeout * 1000;
	for (struct svc *s = server.services; s != NULL; s = s->next) {
		while (s->listeners != NULL) {
			struct listener *l = s->listeners;
			s->listeners = l->next;
			listener_drain(l);
			listener_close(l);
		}
		for (struct conn *c = s->conns; c != NULL; c = c->next)
			conn_close_after_flush(c);
	}
}

static void
on_signal(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct signalfd_siginfo si;

	(void)loop;
	(void)data;
	(void)mask;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP && !server.stopping)
			reload();
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_shutdown();
	}
}

/* Runs before every sleep: send queued output, then free what closed. */
static void
before_sleep(struct ev_loop *loop, void *data)
{
	(void)data;
	conn_flush_all();
	conn_reap_all();
	services_reap();
	if (server.stopping) {
		bool left = false;
		for (struct svc *s = server.services; s != NULL; s = s->next)
			left |= s->conns != NULL;
		if (!left || ev_clock_ms() >= shutdown_deadline)
			ev_stop(loop);
	}
}

static long
on_sweep(struct ev_loop *loop, long long id, void *data)
{
	int64_t now = ev_now(loop);

	(void)id;
	(void)data;
	for (struct svc *s = server.services; s != NULL; s = s->next)
		conn_sweep(s, now);
	report_status(false);
	return server.stopping ? 100 : SWEEP_MS;
}

static long
on_watchdog(struct ev_loop *loop, long long id, void *data)
{
	(void)loop;
	(void)id;
	sd_notifyf_safe("WATCHDOG=1");
	return (long)(intptr_t)data;
}

/* Blocks the signals the loop reads from a signalfd. */
static int
setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0 || ev_add(server.loop, fd, EV_READABLE, on_signal, NULL) != 0)
		return -1;
	return 0;
}

static int
parse_args(int argc, char **argv, bool *test_only)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			*test_only = true;
			break;
		case 'V':
			printf("multid %s\n", MULTID_VERSION);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "multid: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		exit(EXIT_USAGE);
	}
	return 0;
}

/* Binds or adopts every socket, drops privileges, starts the services. */
static int
start(void)
{
	char err[512];
	long wd;
	int rc;

	if ((rc = sd_take_sockets()) < 0) {
		log_error("cannot take the sockets systemd passed: %s",
		    strerror(-rc));
		return EXIT_START;
	}
	if (services_apply(server.conf, after_bind, NULL, err,
	    sizeof(err)) != 0) {
		if (err[0] != '\0')   /* else the service has said why */
			log_error("%s", err);
		return EXIT_START;
	}
	server.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_before_sleep(server.loop, before_sleep, NULL);
	ev_timer_add(server.loop, SWEEP_MS, on_sweep, NULL);
	/* Ping at half the interval, as sd_watchdog_enabled(3) advises. */
	if ((wd = sd_watchdog_ms() / 2) > 0) {
		sd_notifyf_safe("WATCHDOG=1");
		ev_timer_add(server.loop, wd, on_watchdog, (void *)(intptr_t)wd);
	}
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	bool test_only = false;
	int rc;

	log_init();
	parse_args(argc, argv, &test_only);
	/* A missing daemon.user is a configuration error for -t, and a
	 * failure to start (exit 3) otherwise, reported by the drop. */
	if ((server.conf = load_config(test_only ? CFG_CHECK_USER : 0)) == NULL)
		return EXIT_CONFIG;
	if (test_only) {
		fprintf(stderr, "configuration %s is ok\n", config_path);
		cfg_free(server.conf);
		return EXIT_OK;
	}
	log_set_level(server.conf->log_level);
	server.loop = ev_create(fit_fd_limit(server.conf->max_connections));
	if (server.loop == NULL || setup_signals() != 0) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return EXIT_START;
	}
	if ((rc = start()) != EXIT_OK)
		return rc;
	sd_notifyf_safe("READY=1");
	report_status(true);
	ev_run(server.loop);

	services_stop_all();
	conn_unqueue_all();
	conn_reap_all();
	services_reap();
	log_notice("stopped");
	cfg_free(server.conf);
	ev_destroy(server.loop);
	return EXIT_OK;
}
