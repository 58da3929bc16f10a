/* http — libmicrohttpd in the supervisor's loop (see http.h).
 *
 * The library is loaded (dlopen) when the first listener opens: a supervisor without
 * `http.listen` does not carry it and the TLS stack it links (about 2.4 MB of RSS). The
 * listening socket is made here (so that a failed bind says why: address in use, no such
 * address) and handed to libmicrohttpd, which closes it when stopped. Its errors go to the log
 * at DEBUG (HTTP-ERROR): they concern one client connection, never the gateway.
 */
#include "http.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqg_log.h"

#define S_CONN_LIMIT 32   /* connections at once */
#define S_CONN_TIMEOUT 10 /* s without progress: closed */

#ifndef MQG_MHD_SONAME
#define MQG_MHD_SONAME "libmicrohttpd.so.12"
#endif

/* The library's functions mqgate calls, with the prototypes of its header. */
#define S_MHD_FUNCS(X)                                                                             \
    X(start_daemon)                                                                                \
    X(stop_daemon)                                                                                 \
    X(get_daemon_info)                                                                             \
    X(run)                                                                                         \
    X(get_timeout)                                                                                 \
    X(create_response_from_buffer)                                                                 \
    X(add_response_header)                                                                         \
    X(queue_response)                                                                              \
    X(destroy_response)

static struct {
#define S_FIELD(n) __typeof__(MHD_##n) *n;
    S_MHD_FUNCS(S_FIELD)
#undef S_FIELD
} M;

/* Load libmicrohttpd once. 0, or -ENOENT with why in err. */
static int s_load(char *err, size_t cap)
{
    static void *lib;
    if (lib) {
        return 0;
    }
    void *h = dlopen(MQG_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, cap, "cannot load the HTTP library (%s): %s", MQG_MHD_SONAME, dlerror());
        return -ENOENT;
    }
#define S_SYM(n)                                                                                   \
    if (!(M.n = (__typeof__(MHD_##n) *)dlsym(h, "MHD_" #n))) {                                     \
        snprintf(err, cap, "the HTTP library %s has no MHD_%s", MQG_MHD_SONAME, #n);               \
        dlclose(h);                                                                                \
        return -ENOENT;                                                                            \
    }
    S_MHD_FUNCS(S_SYM)
#undef S_SYM
    lib = h;
    return 0;
}

struct http {
    struct MHD_Daemon *d;
    http_handler_fn fn;
    void *arg;
    int epfd;
};

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[300];
    vsnprintf(text, sizeof(text), fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    log_debug("HTTP-ERROR", "%s", text);
}

static enum MHD_Result s_answer(struct MHD_Connection *con, struct http_reply *r)
{
    struct MHD_Response *resp = M.create_response_from_buffer(
        r->len, r->body ? r->body : "", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    M.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ? r->type : "text/plain");
    M.add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = M.queue_response(con, (unsigned)r->status, resp);
    M.destroy_response(resp);
    return ok;
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *con, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    struct http *h = cls;
    (void)version;
    (void)upload;
    if (*upload_size) { /* a request body: not wanted, dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    struct http_reply r = {.status = 200, .type = "text/plain; charset=utf-8"};
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char msg[] = "only GET and HEAD\n";
        r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
        r.body = strdup(msg);
        r.len = r.body ? sizeof(msg) - 1 : 0;
    } else {
        h->fn(h->arg, url, &r);
    }
    (void)con_cls;
    return s_answer(con, &r);
}

/* A listening socket on host:port. Returns the fd or -errno, with err filled. */
static int s_listen(const char *host, int port, char *err, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char svc[8];
    snprintf(svc, sizeof(svc), "%d", port);
    int g = getaddrinfo(host, svc, &hints, &ai);
    if (g != 0) {
        snprintf(err, cap, "cannot resolve %s: %s", host, gai_strerror(g));
        return -EADDRNOTAVAIL;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
        rc = -errno;
    }
    if (rc == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = -errno;
    }
    if (rc == 0 && listen(fd, 16) != 0) {
        rc = -errno;
    }
    freeaddrinfo(ai);
    if (rc != 0) {
        snprintf(err, cap, "cannot listen on %s:%d: %s", host, port, strerror(-rc));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    return fd;
}

int http_open(const char *host, int port, http_handler_fn fn, void *arg, struct http **out,
              char *err, size_t cap)
{
    *out = NULL;
    int rc = s_load(err, cap);
    if (rc != 0) {
        return rc;
    }
    struct http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    int fd = s_listen(host, port, err, cap);
    if (fd < 0) {
        free(h);
        return fd;
    }
    h->fn = fn;
    h->arg = arg;
    h->d = M.start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_access, h,
                          MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_CONN_LIMIT,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_CONN_TIMEOUT, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        h->d ? M.get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!info) {
        snprintf(err, cap, "the HTTP library (libmicrohttpd) cannot start");
        if (h->d) {
            M.stop_daemon(h->d);
        } else {
            close(fd);
        }
        free(h);
        return -EIO;
    }
    h->epfd = info->epoll_fd;
    *out = h;
    return 0;
}

void http_close(struct http **hp)
{
    if (!hp || !*hp) {
        return;
    }
    M.stop_daemon((*hp)->d);
    free(*hp);
    *hp = NULL;
}

int http_fd(const struct http *h)
{
    return h->epfd;
}

void http_run(struct http *h)
{
    M.run(h->d);
}

int http_timeout_ms(struct http *h)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (M.get_timeout(h->d, &t) != MHD_YES) {
        return -1;
    }
    return t > 60000 ? 60000 : (int)t;
}
