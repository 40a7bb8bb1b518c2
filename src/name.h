/*
 * name.h - the nickname rule: what chat users, chat rooms and bank
 * accounts may be called.
 */
#ifndef MULTID_NAME_H
#define MULTID_NAME_H

#include <stdbool.h>

#define NAME_LEN_MAX 16               /* longest name, bytes */

/* True when name matches ^[A-Za-z][A-Za-z0-9_-]{0,15}$ (SPEC §3 chat). */
bool name_valid(const char *name);

#endif
