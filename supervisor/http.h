/* http — a small HTTP server in the supervisor's poll loop; the only file that includes
 * libmicrohttpd's microhttpd.h.
 *
 * Used by ops.c for /metrics and /health. libmicrohttpd runs in "external polling" mode, with
 * epoll: it starts no thread, and its whole state is one epoll descriptor (http_fd) that the
 * supervisor puts in its own poll set; http_run() does what is ready, without blocking (all
 * sockets are non-blocking), and calls the handler for each complete request from the loop's
 * own thread. A bounded number of connections, each with an idle timeout: a slow or stuck
 * client holds a socket, never the loop. Single-threaded: every call from the loop.
 */
#ifndef SUPERVISOR_HTTP_H
#define SUPERVISOR_HTTP_H

#include <stddef.h>

struct http;

/* What the handler answers. */
struct http_reply {
    int status;       /* e.g. 200, 404, 503 */
    const char *type; /* Content-Type (static text) */
    char *body;       /* malloc()ed; the server frees it; NULL: empty */
    size_t len;
};

/* Called for each GET or HEAD request (path: the request's path, without the query); fills r.
 * Other methods are answered 405 without calling it. */
typedef void (*http_handler_fn)(void *arg, const char *path, struct http_reply *r);

/* Listen on host:port (an IP address or a name, resolved here). Returns 0 with *out; -errno of
 * the resolution (-EADDRNOTAVAIL: no such address), socket, bind or listen, or -EIO when
 * libmicrohttpd cannot start; err (cap bytes) says what failed. */
int http_open(const char *host, int port, http_handler_fn fn, void *arg, struct http **out,
              char *err, size_t cap);

/* NULL-safe: closes the listening socket and every connection; clears *h. */
void http_close(struct http **h);

/* The descriptor to poll for POLLIN. */
int http_fd(const struct http *h);

/* Do what is ready: accept, read, answer, write, time out idle connections. Call after every
 * poll (also when its descriptor was not ready: timeouts). */
void http_run(struct http *h);

/* The longest the loop may wait before http_run() must run again, in ms; -1: no limit. */
int http_timeout_ms(struct http *h);

#endif
