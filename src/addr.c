/*
 * addr.c - listen URIs, client addresses and CIDR allow lists.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* Fills out's address from HOST ('*', "[v6]" or IPv4) and port. */
static const char *
addr_parse_host(char *host, size_t hlen, uint16_t port, struct listen_addr *out)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;

	if (strcmp(host, "*") == 0 || host[0] == '[') {
		if (host[0] == '*') {
			out->any = true;
			s6->sin6_addr = in6addr_any;
		} else {
			host[hlen - 1] = '\0';
			if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
				return "invalid IPv6 address";
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		out->sslen = sizeof(*s6);
		return NULL;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return "host is not an IPv4 address, [IPv6] or *";
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	out->sslen = sizeof(*s4);
	return NULL;
}

const char *
addr_parse_listen(const char *uri, struct listen_addr *out)
{
	static char phrase[96];
	const char *host, *colon;
	char hostbuf[INET6_ADDRSTRLEN + 2];
	long port;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strncmp(uri, "tcp://", 6) == 0) {
		out->proto = PROTO_TCP;
	} else if (strncmp(uri, "tls://", 6) == 0) {
		out->proto = PROTO_TCP;
		out->tls = true;
	} else if (strncmp(uri, "udp://", 6) == 0) {
		out->proto = PROTO_UDP;
	} else {
		return "must start with tcp://, udp:// or tls://";
	}
	host = uri + 6;
	if (*host == '[') {
		const char *close = strchr(host, ']');
		if (close == NULL)
			return "missing ']' after IPv6 address";
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(host, ':');
	}
	if (colon == NULL || colon[1] == '\0')
		return "missing port";
	if (strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return "port is not a number";
	port = strtol(colon + 1, NULL, 10);
	if (strlen(colon + 1) > 5 || port > 65535) {
		snprintf(phrase, sizeof(phrase), "port %.12s out of range",
		    colon + 1);
		return phrase;
	}
	hlen = (size_t)(colon - host);
	if (hlen == 0)
		return "missing host";
	if (hlen >= sizeof(hostbuf))
		return "host is not an IPv4 address, [IPv6] or *";
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	return addr_parse_host(hostbuf, hlen, (uint16_t)port, out);
}

void
addr_listen_text(const struct listen_addr *la, char *buf, size_t len)
{
	const char *scheme = la->proto == PROTO_UDP ? "udp" : la->tls ? "tls" :
	    "tcp";
	char host[ADDR_TEXT_MAX];

	if (la->any) {
		snprintf(buf, len, "%s://*:%u", scheme,
		    addr_port((const struct sockaddr *)&la->ss));
		return;
	}
	addr_text((const struct sockaddr *)&la->ss, host, sizeof(host));
	snprintf(buf, len, "%s://%s", scheme, host);
}

/* True for 0.0.0.0 and ::, which overlap every address of their family. */
static bool
addr_is_wildcard(const struct listen_addr *la)
{
	if (la->any)
		return true;
	if (la->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&la->ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)&la->ss)->sin6_addr);
}

/* The same socket address, TLS or not. */
static bool
addr_same_socket(const struct listen_addr *a, const struct listen_addr *b)
{
	return a->proto == b->proto && a->any == b->any &&
	    a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

bool
addr_listen_equal(const struct listen_addr *a, const struct listen_addr *b)
{
	return addr_same_socket(a, b) && a->tls == b->tls;
}

bool
addr_listen_conflict(const struct listen_addr *a, const struct listen_addr *b)
{
	uint16_t pa = addr_port((const struct sockaddr *)&a->ss);

	if (a->proto != b->proto || pa == 0 ||
	    pa != addr_port((const struct sockaddr *)&b->ss))
		return false;
	if (addr_same_socket(a, b) || a->any || b->any)
		return true;
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	return addr_is_wildcard(a) || addr_is_wildcard(b);
}

void
addr_key(const struct sockaddr *sa, struct ip_key *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			out->family = AF_INET;
			memcpy(out->bytes, a->s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->bytes, a->s6_addr, 16);
		}
	}
}

const char *
addr_parse_cidr(const char *text, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned maxbits;

	memset(out, 0, sizeof(*out));
	if (hlen == 0 || hlen >= sizeof(host))
		return "not an address or network";
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, out->net.bytes) == 1) {
		out->net.family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, out->net.bytes) == 1) {
		out->net.family = AF_INET6;
		maxbits = 128;
	} else {
		return "not an address or network";
	}
	out->bits = maxbits;
	if (slash != NULL) {
		char *end;
		long bits;
		if (slash[1] < '0' || slash[1] > '9')
			return "prefix length is not a number";
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0')
			return "prefix length is not a number";
		if (bits < 0 || bits > (long)maxbits)
			return "prefix length out of range";
		out->bits = (unsigned)bits;
	}
	for (unsigned i = out->bits; i < maxbits; i++)
		out->net.bytes[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return NULL;
}

bool
addr_cidr_match(const struct cidr *c, const struct ip_key *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->net.family != ip->family)
		return false;
	if (memcmp(c->net.bytes, ip->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->net.bytes[full] ^ ip->bytes[full]) &
	    (uint8_t)(0xff00u >> rest)) == 0;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
addr_host_text(const struct sockaddr *sa, char *buf, size_t len)
{
	struct ip_key k;

	addr_key(sa, &k);
	if (k.family == 0 || inet_ntop(k.family, k.bytes, buf,
	    (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

void
addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	struct ip_key k;

	addr_key(sa, &k);
	addr_host_text(sa, host, sizeof(host));
	if (k.family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", host, addr_port(sa));
	else
		snprintf(buf, len, "%s:%u", host, addr_port(sa));
}
