/* mqg_url — broker addresses: schemes, default ports, host names, broker URLs and the URI paho
 * connects to.
 *
 * Used by the commissioning loader for a connection's `url`, `host` and `scheme` settings
 * (mqg_svc_conn.c); the rules are those of docs/formats.md §1.6. Pure string logic: no I/O, no
 * global state. Heap results belong to the caller.
 */
#ifndef MQG_URL_H
#define MQG_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_model.h"

/* A parsed broker URL, scheme://host[:port][/path]. */
struct mqg_url {
    enum mqg_scheme scheme;
    char *host; /* heap; an IPv6 address without its brackets */
    int port;   /* as written, or the scheme's default (mqg_url_default_port) */
    char *path; /* heap, from the first '/', '?' or '#' on; NULL when none or just "/" */
};

/* The scheme named by s[0..len), any case: mqtt, tcp (= mqtt), mqtts, tls (= mqtts), ws, wss,
 * and ssl (= mqtts) only if allow_ssl (a url may say ssl://, the `scheme` setting may not).
 * Returns false for anything else (*out unchanged). */
bool mqg_url_scheme(const char *s, size_t len, bool allow_ssl, enum mqg_scheme *out);

/* 1883 for mqtt, 8883 for mqtts; WebSocket URLs follow URL rules (80, 443) like the platform's
 * MQTT client does. */
int mqg_url_default_port(enum mqg_scheme s);

/* A host name or an address: 1..253 bytes, no blanks or control characters, none of '/', '@',
 * '[', ']', '?', '#' (':' is allowed: an IPv6 address without brackets). */
bool mqg_url_valid_host(const char *host);

/* Parse `url` into *out (zeroed first; free with mqg_url_clear). Schemes as mqg_url_scheme with
 * ssl allowed; no user info (user:pass@); an IPv6 host in brackets ("[::1]:1883"); a port of
 * 1..65535 written in digits; a path only with ws and wss. Returns 0; -EINVAL with a message
 * for the user in why[0..cap) (it names the url); -ENOMEM. *out holds nothing on failure. */
int mqg_url_parse(const char *url, struct mqg_url *out, char *why, size_t cap);

/* Free what *u holds and zero it (NULL-safe). */
void mqg_url_clear(struct mqg_url *u);

/* The URI paho connects to: "tcp://", "ssl://", "ws://" or "wss://" by scheme, then the host
 * (in brackets when it holds ':'), ":port" and the path (NULL = none). Returns a heap string
 * (caller frees) or NULL when out of memory. */
char *mqg_url_uri(enum mqg_scheme scheme, const char *host, int port, const char *path);

#endif
