/*
 * tls.h - TLS with OpenSSL 3 under a connection: a service's certificate
 * and settings (SPEC §6), and the tls transport.
 *
 * multid writes no cryptography of its own.  A service with a tls://
 * entry has an SSL_CTX made when its configuration is read (so -t checks
 * the files, they are read before privileges are dropped, and a reload
 * reads them again: open connections keep the context they began with).
 * A connection on a tls:// socket shakes hands before its service sees
 * it; then every read and write goes through SSL_read and SSL_write.
 */
#ifndef MULTID_TLS_H
#define MULTID_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

/* A service's TLS keys (all NULL when it uses no TLS). */
struct tls_conf {
	char *certificate;        /* tls_certificate: PEM, cert then chain */
	char *key;                /* tls_key: PEM private key */
	char *protocols;          /* tls_protocols: "TLSv1.2 TLSv1.3" */
	char *ciphers;            /* tls_ciphers: TLS 1.2 cipher list */
	void *ctx;                /* the SSL_CTX, or NULL */
};

#define TLS_HANDSHAKE_MS 10000    /* a handshake not done by then fails */

/* Makes the SSL_CTX of a service from its keys; alpn is the protocol
 * offered (e.g. "http/1.1") or NULL.  0, or -1 with err filled in (the
 * file and OpenSSL's reason). */
int  tls_conf_load(struct tls_conf *tc, const char *alpn, char *err,
    size_t errlen);
void tls_conf_free(struct tls_conf *tc);
/* Checks tls_protocols; NULL or a phrase. */
const char *tls_protocols_check(const char *text);

extern const struct transport_ops transport_tls;

/* Starts a server-side TLS transport on t->fd with ctx; 0 or -ENOMEM. */
int  tls_transport_start(struct transport *t, void *ctx);
/* Drives the handshake: 0 when done, -EAGAIN with *want_write telling
 * whether it waits to write (else to read), or -EPROTO when it failed
 * (why: OpenSSL's reason). */
int  tls_handshake(struct transport *t, bool *want_write, const char **why);
/* Whether the finished handshake resumed a session. */
bool tls_resumed(const struct transport *t);

#endif
