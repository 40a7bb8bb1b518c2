/*
 * sd.h - systemd glue: readiness notification, the watchdog, and sockets
 * passed by socket activation.
 */
#ifndef MULTID_SD_H
#define MULTID_SD_H

#include "addr.h"

/* Takes the sockets systemd passed (LISTEN_FDS), once at start. */
int sd_take_sockets(void);
/* Returns a passed socket for service name's entry la, or -1. */
int sd_claim_socket(const char *name, const struct listen_addr *la);
/* Names the first passed socket nobody claimed, or NULL. */
const char *sd_unclaimed_socket(void);
/* Closes passed sockets nobody claimed. */
void sd_release_unclaimed(void);

/* sd_notify(3) with printf formatting; quiet when not under systemd. */
void sd_notifyf_safe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog interval in ms from WATCHDOG_USEC, or 0. */
long sd_watchdog_ms(void);

#endif
