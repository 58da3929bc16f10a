/* mqg_hostport — an address to listen on, written "host:port".
 *
 * Used by the settings loader for `http.listen` (mqg_settings.c) and by the supervisor, which
 * binds it (supervisor/http.c). The host is an IPv4 address, a host name, or an IPv6 address in
 * brackets ("[::1]:9883"); the port is 1..65535 (0, "any free port", is refused: a scraper
 * must know where to look). Pure string logic.
 */
#ifndef MQG_HOSTPORT_H
#define MQG_HOSTPORT_H

#include <stddef.h>

#define MQG_HOST_MAX 255

/* Split s into host (without brackets; cap bytes, at least MQG_HOST_MAX + 1) and port.
 * Returns 0, or -EINVAL with *why (static text: what was expected) set. */
int mqg_hostport_parse(const char *s, char *host, size_t cap, int *port, const char **why);

#endif
