/*
 * addr.h - listen URIs, client addresses and CIDR allow lists.
 *
 * Pure functions, no I/O: the unit tests drive them directly.
 */
#ifndef MULTID_ADDR_H
#define MULTID_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

enum proto {
	PROTO_TCP = 1,            /* a stream socket */
	PROTO_UDP = 2,            /* a datagram socket */
};

/* One parsed listen entry, e.g. tcp://[::1]:7. */
struct listen_addr {
	enum proto              proto;    /* tcp or udp */
	bool                    any;      /* host was '*': all v4 and v6 addresses */
	struct sockaddr_storage ss;       /* the address to bind */
	socklen_t               sslen;    /* its length */
	bool                    tls;      /* tls://: TCP, and TLS first */
	uint8_t                 protocol; /* index in the type's protocols
	                                     (0: the default); not part of
	                                     the address */
};

/* A client address reduced to what limits and allow lists compare. */
struct ip_key {
	uint8_t family;           /* AF_INET or AF_INET6 */
	uint8_t bytes[16];        /* the address, first 4 bytes for IPv4 */
};

/* One allow-list entry, e.g. 10.0.0.0/8. */
struct cidr {
	struct ip_key net;        /* network address, host bits cleared */
	unsigned      bits;       /* prefix length */
};

#define ADDR_TEXT_MAX 64      /* "[v6]:port" fits with room to spare */

/* Parses "tcp://HOST:PORT" (or udp://, tls://); returns NULL or a phrase
 * saying what is wrong. */
const char *addr_parse_listen(const char *uri, struct listen_addr *out);
/* Formats a listen entry as "tcp://1.2.3.4:5" or "udp://[::1]:5". */
void addr_listen_text(const struct listen_addr *la, char *buf, size_t len);
/* True when two entries cannot both be bound (same port, overlapping host). */
bool addr_listen_conflict(const struct listen_addr *a,
    const struct listen_addr *b);
bool addr_listen_equal(const struct listen_addr *a,
    const struct listen_addr *b);

/* Parses "ADDR" or "ADDR/BITS"; returns NULL or a phrase. */
const char *addr_parse_cidr(const char *text, struct cidr *out);
bool addr_cidr_match(const struct cidr *c, const struct ip_key *ip);

/* Reduces a socket address to its IP (IPv4-mapped IPv6 becomes IPv4). */
void addr_key(const struct sockaddr *sa, struct ip_key *out);
/* Formats "1.2.3.4:5" or "[::1]:5" (mapped IPv4 shown as IPv4). */
void addr_text(const struct sockaddr *sa, char *buf, size_t len);
/* Formats the address alone, without port or brackets. */
void addr_host_text(const struct sockaddr *sa, char *buf, size_t len);
uint16_t addr_port(const struct sockaddr *sa);

#endif
