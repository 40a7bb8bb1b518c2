/*
 * tls.c - TLS with OpenSSL 3: service contexts and the tls transport.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

#define TLS_WRITE_CHUNK (64 * 1024)   /* bytes gathered per SSL_write: four
                                        records, one write(2) */

/* Mozilla's "intermediate" TLS 1.2 list (TLS 1.3 suites are OpenSSL's). */
#define TLS_CIPHERS_DEFAULT \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-CHACHA20-POLY1305"

/* The versions tls_protocols may name, oldest first. */
static const struct {
	const char *name;         /* as written in the configuration */
	int         version;      /* OpenSSL's constant */
} tls_versions[] = {
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
};

/* Finds the lowest and highest version named in text; NULL or a phrase. */
static const char *
tls_versions_of(const char *text, int *min, int *max)
{
	static char phrase[96];
	char copy[128], *save = NULL;

	*min = *max = 0;
	snprintf(copy, sizeof(copy), "%s", text);
	for (char *w = strtok_r(copy, " ,", &save); w != NULL;
	    w = strtok_r(NULL, " ,", &save)) {
		size_t i;

		for (i = 0; i < sizeof(tls_versions) / sizeof(tls_versions[0]); i++)
			if (strcmp(tls_versions[i].name, w) == 0)
				break;
		if (i == sizeof(tls_versions) / sizeof(tls_versions[0])) {
			snprintf(phrase, sizeof(phrase), "\"%.32s\" is not TLSv1.2 "
			    "or TLSv1.3 (older protocols are not offered)", w);
			return phrase;
		}
		if (*min == 0 || tls_versions[i].version < *min)
			*min = tls_versions[i].version;
		if (tls_versions[i].version > *max)
			*max = tls_versions[i].version;
	}
	return *min == 0 ? "names no protocol" : NULL;
}

const char *
tls_protocols_check(const char *text)
{
	int min, max;

	return tls_versions_of(text, &min, &max);
}

/* OpenSSL's reason for the last failure, its queue emptied. */
static const char *
tls_reason(void)
{
	static char text[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(text, sizeof(text), "unknown error");
	else
		ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	return text;
}

/* ALPN: the service's protocol when the client offers it; otherwise no
 * ALPN at all (RFC 7301 allows the server to go on without). */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	const char *alpn = arg;
	size_t n = strlen(alpn);

	(void)ssl;
	for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == n && i + 1u + n <= inlen &&
		    memcmp(in + i + 1, alpn, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* Sets versions, ciphers and options; NULL or a phrase. */
static const char *
tls_ctx_settings(SSL_CTX *ctx, const struct tls_conf *tc, const char *alpn)
{
	int min, max;
	const char *err;

	if ((err = tls_versions_of(tc->protocols ? tc->protocols :
	    "TLSv1.2 TLSv1.3", &min, &max)) != NULL)
		return err;
	if (!SSL_CTX_set_min_proto_version(ctx, min) ||
	    !SSL_CTX_set_max_proto_version(ctx, max))
		return "cannot set the protocol versions";
	if (!SSL_CTX_set_cipher_list(ctx, tc->ciphers ? tc->ciphers :
	    TLS_CIPHERS_DEFAULT))
		return "tls_ciphers: no usable cipher";
	SSL_CTX_set_dh_auto(ctx, 1);
	/* No renegotiation and no compression; kTLS where the kernel has it;
	 * session tickets stay on (OpenSSL's default). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ENABLE_KTLS);
	/* The end of the TCP stream ends the input as close_notify does
	 * (SPEC 6: a files upload ends at whichever comes first); every
	 * protocol here frames its own messages, so a cut stream is a short
	 * one, not a forged end. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections give their buffers back; the output queue hands
	 * SSL_write what is left after a partial write, from a new address. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Tickets resume sessions without a server-side cache, which would
	 * keep a session for every client for minutes. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (alpn != NULL)
		SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, (void *)alpn);
	return NULL;
}

int
tls_conf_load(struct tls_conf *tc, const char *alpn, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *why;

	ERR_clear_error();
	if (ctx == NULL) {
		snprintf(err, errlen, "cannot make a TLS context: %s", tls_reason());
		return -1;
	}
	if ((why = tls_ctx_settings(ctx, tc, alpn)) != NULL) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->certificate) != 1) {
		snprintf(err, errlen, "tls_certificate: %s: %s", tc->certificate,
		    tls_reason());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, tc->key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "tls_key: %s: %s", tc->key, tls_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls_key: %s does not match %s: %s", tc->key,
		    tc->certificate, tls_reason());
		goto fail;
	}
	tc->ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

void
tls_conf_free(struct tls_conf *tc)
{
	SSL_CTX_free(tc->ctx);
	free(tc->certificate);
	free(tc->key);
	free(tc->protocols);
	free(tc->ciphers);
	memset(tc, 0, sizeof(*tc));
}

/* --- the transport ------------------------------------------------------ */

int
tls_transport_start(struct transport *t, void *ctx)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL || SSL_set_fd(ssl, t->fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_accept_state(ssl);
	t->ops = &transport_tls;
	t->state = ssl;
	return 0;
}

int
tls_handshake(struct transport *t, bool *want_write, const char **why)
{
	SSL *ssl = t->state;
	int r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(ssl)) == 1)
		return 0;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want_write = false;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want_write = true;
		return -EAGAIN;
	case SSL_ERROR_SYSCALL:
		*why = ERR_peek_last_error() ? tls_reason() :
		    errno != 0 ? strerror(errno) : "connection closed";
		return -EPROTO;
	default:
		*why = tls_reason();
		return -EPROTO;
	}
}

bool
tls_resumed(const struct transport *t)
{
	return SSL_session_reused(t->state) == 1;
}

/* Maps a failed SSL_read or SSL_write to the transport's errno. */
static ssize_t
tls_error(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return -EAGAIN;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;                 /* close_notify: the end of input */
	ERR_clear_error();
	return -ECONNRESET;
}

/* Fills buf from as many records as are there, so that nothing stays
 * decrypted inside OpenSSL that epoll could not see. */
static ssize_t
tls_recv(struct transport *t, void *buf, size_t len)
{
	SSL *ssl = t->state;
	size_t got = 0;

	if (t->eof)
		return 0;
	while (got < len) {
		size_t n = 0;
		int r = SSL_read_ex(ssl, (char *)buf + got, len - got, &n);

		if (r == 1) {
			got += n;
			continue;
		}
		if (got == 0)
			return tls_error(ssl, 0);
		/* The end of input came behind the data: it is delivered by
		 * the next call, which the pending pass makes, as the socket
		 * may have nothing more to wake epoll with. */
		t->eof = tls_error(ssl, 0) == 0;
		break;
	}
	return (ssize_t)got;
}

/* Gathers the iovecs (up to TLS_WRITE_CHUNK) and writes them as records
 * until they are all out or the socket is full.  With partial writes on,
 * one SSL_write sends one record: stopping there would make a caller
 * that read a file to send it read the same bytes again for each of the
 * records after the first. */
static ssize_t
tls_writev(struct transport *t, const struct iovec *iov, int n, bool more)
{
	static char chunk[TLS_WRITE_CHUNK];
	SSL *ssl = t->state;
	size_t len = 0, w = 0, done = 0;
	const char *p = iov[0].iov_base;
	ssize_t err;

	(void)more;
	if (n > 1 || iov[0].iov_len > sizeof(chunk)) {
		for (int i = 0; i < n && len < sizeof(chunk); i++) {
			size_t k = iov[i].iov_len < sizeof(chunk) - len ?
			    iov[i].iov_len : sizeof(chunk) - len;
			memcpy(chunk + len, iov[i].iov_base, k);
			len += k;
		}
		p = chunk;
	} else {
		len = iov[0].iov_len;
	}
	while (done < len) {
		ERR_clear_error();
		if (SSL_write_ex(ssl, p + done, len - done, &w) != 1)
			break;
		done += w;
	}
	if (done == len)
		return (ssize_t)done;
	/* The record that did not go out is kept inside OpenSSL: the next
	 * call passes the same bytes again, from where done says. */
	err = tls_error(ssl, 0);
	if (done > 0)
		return (ssize_t)done;
	return err == 0 ? -EPIPE : err;
}

/* With kTLS the kernel encrypts: file bodies go out with sendfile. */
static ssize_t
tls_sendfile(struct transport *t, int fd, off_t *off, size_t len)
{
	SSL *ssl = t->state;
	ossl_ssize_t n;

	if (!BIO_get_ktls_send(SSL_get_wbio(ssl)))
		return transport_copy_file(t, fd, off, len);
	ERR_clear_error();
	n = SSL_sendfile(ssl, fd, *off, len, 0);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -EIO;
	*off += n;
	return n;
}

static bool
tls_pending(const struct transport *t)
{
	return t->eof || SSL_has_pending(t->state) == 1;
}

/* close_notify, then the TCP FIN. */
static void
tls_shutdown(struct transport *t)
{
	ERR_clear_error();
	if (SSL_is_init_finished(t->state))
		(void)SSL_shutdown(t->state);
	ERR_clear_error();
	shutdown(t->fd, SHUT_WR);
}

static void
tls_free(struct transport *t)
{
	SSL_free(t->state);
	t->state = NULL;
}

const struct transport_ops transport_tls = {
	.name = "tls",
	.recv = tls_recv,
	.writev = tls_writev,
	.sendfile = tls_sendfile,
	.pending = tls_pending,
	.shutdown = tls_shutdown,
	.free = tls_free,
};
