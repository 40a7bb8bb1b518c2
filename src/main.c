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

#define SWEEP_MS    500               /* idle and linger checks */
#define STATUS_MS   2000              /* STATUS= refresh */



static const char *config_path = DEFAULT_CONFIG;
static int64_t     shutdown_deadline; /* ms; the loop ends by then */

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
load_config(void)
{
	struct cfg_errors errs;
	struct daemon_conf *dc = cfg_load(config_path, &errs);

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

/* Drops root for daemon.user once every socket is bound; fails if the
 * change could be undone. */
static int
drop_privileges(char *err, size_t errlen)
{
	const char *user = server.conf->user;
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "daemon.user: user \"%s\" does not exist", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot switch to user %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "privileges of root could be regained");
		return -1;
	}
	log_info("running as user %s", user);
	return 0;
}

static void
report_status(void)
{
	unsigned n = 0;

	for (struct svc *s = server.services; s != NULL; s = s->next)
		n++;
	sd_notifyf_safe("STATUS=%u services, %u connections", n, server.nconns);
}

/* SIGHUP: reopen outputs, then read the file again; an invalid file
 * changes nothing. */
static void
reload(void)
{
	struct daemon_conf *dc;
	char err[512];

	sd_notifyf_safe("RELOADING=1");
	log_notice("reloading %s", config_path);
	for (struct svc *s = server.services; s != NULL; s = s->next)
		if (s->conf->type->reopen != NULL)
			s->conf->type->reopen(s);
	if ((dc = load_config()) == NULL) {
		log_error("reload failed, configuration unchanged");
	} else if (services_apply(dc, NULL, err, sizeof(err)) != 0) {
		log_error("%s", err);
		log_error("reload incomplete");
		cfg_free(server.conf);
		server.conf = dc;
	} else {
		cfg_free(server.conf);
		server.conf = dc;
		log_set_level(dc->log_level);
		log_notice("reloaded %s", config_path);
	}
	sd_notifyf_safe("READY=1");
	report_status();
}

/* Stops accepting and lets every connection send what it has queued;
 * the loop ends when they are gone or at daemon.shutdown_timeout. */
static void
begin_shutdown(void)
{
	if (server.stopping)
		return;
	server.stopping = true;
	sd_notifyf_safe("STOPPING=1");
	log_notice("stopping");
	shutdown_deadline = ev_clock_ms() + server.conf->shutdown_timeout * 1000;
	for (struct svc *s = server.services; s != NULL; s = s->next) {
		while (s->listeners != NULL) {
			struct listener *l = s->listeners;
			s->listeners = l->next;
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
	listener_flush_replies();
	conn_reap_all();
	services_reap();
	if (server.stopping) {
		unsigned left = 0;
		for (struct svc *s = server.services; s != NULL; s = s->next)
			left += s->nobjs;
		if (left == 0 || ev_clock_ms() >= shutdown_deadline)
			ev_stop(loop);
	}
}

static long
on_sweep(struct ev_loop *loop, long long id, void *data)
{
	static int64_t last_status;
	int64_t now = ev_now(loop);

	(void)id;
	(void)data;
	for (struct svc *s = server.services; s != NULL; s = s->next)
		conn_sweep(s, now);
	if (now - last_status >= STATUS_MS) {
		last_status = now;
		report_status();
	}
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
	const char *stray;
	long wd;

	if (sd_take_sockets() < 0) {
		log_error("cannot take sockets from systemd");
		return EXIT_START;
	}
	if (services_apply(server.conf, drop_privileges, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return EXIT_START;
	}
	if ((stray = sd_unclaimed_socket()) != NULL) {
		log_error("socket %s passed by systemd matches no service", stray);
		return EXIT_START;
	}
	server.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_before_sleep(server.loop, before_sleep, NULL);
	ev_timer_add(server.loop, SWEEP_MS, on_sweep, NULL);
	if ((wd = sd_watchdog_ms()) > 0)
		ev_timer_add(server.loop, wd / 2, on_watchdog,
		    (void *)(intptr_t)(wd / 2));
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	bool test_only = false;
	int rc;

	log_init();
	parse_args(argc, argv, &test_only);
	if ((server.conf = load_config()) == NULL)
		return EXIT_CONFIG;
	if (test_only) {
		fprintf(stderr, "configuration %s is ok\n", config_path);
		cfg_free(server.conf);
		return EXIT_OK;
	}
	server.loop = ev_create(fit_fd_limit(server.conf->max_connections));
	if (server.loop == NULL || setup_signals() != 0) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return EXIT_START;
	}
	if ((rc = start()) != EXIT_OK)
		return rc;
	log_set_level(server.conf->log_level);
	sd_notifyf_safe("READY=1");
	report_status();
	ev_run(server.loop);

	services_stop_all();
	conn_reap_all();
	services_reap();
	log_notice("stopped");
	cfg_free(server.conf);
	ev_destroy(server.loop);
	return EXIT_OK;
}
