/*
 * server.c - the daemon's global state (server.h says what it holds).
 */
#include "server.h"

struct server server;
