/*
 * sd.h - systemd glue: readiness notification, the watchdog, and sockets
 * passed by socket activation.
 *
 * Passed sockets live in a pool.  A service claims the ones meant for it
 * (by FileDescriptorName= and address), and gives them back when a reload
 * removes it, so a later reload can use them again even after the daemon
 * has lost the right to bind privileged ports.
 */
#ifndef MULTID_SD_H
#define MULTID_SD_H

#include "addr.h"

/* Takes the sockets systemd passed (LISTEN_FDS), once at start; returns
 * how many, or a negative errno. */
int sd_take_sockets(void);
/* Finds passed sockets for n listen entries of service name: fds[i] gets
 * a socket for entry i, or stays -1.  Entries whose fds[i] is not -1 on
 * entry are skipped.  First sockets named for the service and bound where the entry
 * says, then sockets named for it of the same protocol, then sockets bound
 * at the entry's address under any name. */
void sd_claim_sockets(const char *name, const struct listen_addr *la,
    unsigned n, int *fds);
/* Puts a claimed socket back into the pool; the caller may close fd. */
void sd_return_socket(int fd);
/* Names the first passed socket nobody claimed, or NULL. */
const char *sd_unclaimed_socket(void);

/* sd_notify(3) with printf formatting, never blocking; quiet when not
 * under systemd. */
void sd_notifyf_safe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog interval in ms from WATCHDOG_USEC, or 0. */
long sd_watchdog_ms(void);

#endif
