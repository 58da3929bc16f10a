/* ops — /metrics and /health (see ops.h).
 *
 * Why in the loop and not in a thread of its own: the supervisor is one poll loop by design
 * (one owner of every record, no locks), and it forks children; libmicrohttpd's external mode
 * with epoll adds one descriptor to that loop and starts no thread. A request is answered from
 * the records as they are at that moment: rendering /metrics is a walk over the records (no
 * I/O but /proc/<pid>/statm for the memory of each process), and the socket writes are
 * non-blocking, so a scrape costs the loop that walk and nothing else.
 */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "http.h"
#include "metrics.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "observe.h"

#define S_LOGGED_PROBLEMS 3 /* problems named in one HEALTH-BAD line */
/* Scrapes within this many ms of a rendering get the same text: however often clients ask,
 * the loop renders /metrics at most 4 times a second. */
#define S_METRICS_REUSE_MS 250

struct ops {
    struct http *http;
    bool judged;        /* ops_tick ran once */
    bool healthy;       /* its last verdict */
    char *metrics;      /* the last /metrics text ... */
    size_t metrics_len; /* ... its length ... */
    int64_t metrics_at; /* ... and when it was rendered */
};

/* Every child process, and with a connector its connection, as health.c sees them. Returns
 * the number of subjects written (at most S->n_ch) and the connections among them. */
static size_t s_subjects(const struct sup *S, int64_t now, struct health_subject *out,
                         size_t *conns)
{
    *conns = 0;
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        struct health_subject *h = &out[i];
        *h = (struct health_subject){.role = c->role, .name = c->key, .idle_ms = -1};
        h->config = c->life.state == LC_CONFIG;
        h->failed = h->config || c->life.state == LC_FAILED;
        if (c->conn >= 0) {
            struct obs_view v;
            observe_view(S, c, now, &v);
            h->is_conn = true;
            h->connected = v.state == OBS_CONNECTED;
            h->for_ms = v.for_ms;
            h->idle_ms = v.idle_ms;
            h->keepalive_s = v.conn->keepalive_s;
            (*conns)++;
        }
    }
    return S->n_ch;
}

/* The problems at now into a new array (*out, caller frees; NULL when out of memory, then
 * the count is 0 and *n_subj 0). Returns their number. */
static size_t s_judge(const struct sup *S, int64_t now, struct health_problem **out,
                      struct health_subject **subj, size_t *n_subj, size_t *conns)
{
    *subj = calloc(S->n_ch ? S->n_ch : 1, sizeof(**subj));
    *out = calloc(S->n_ch ? S->n_ch : 1, sizeof(**out));
    *n_subj = 0;
    *conns = 0;
    if (!*subj || !*out) {
        return 0;
    }
    *n_subj = s_subjects(S, now, *subj, conns);
    int64_t limit = (int64_t)S->set->http_disconnected_s * 1000;
    return health_judge(*subj, *n_subj, limit, *out, *n_subj);
}

static void s_health(struct sup *S, int64_t now, struct http_reply *r)
{
    struct health_problem *p;
    struct health_subject *subj;
    size_t n_subj, conns;
    size_t n = s_judge(S, now, &p, &subj, &n_subj, &conns);
    FILE *f = subj && p ? open_memstream(&r->body, &r->len) : NULL;
    if (f) {
        health_json(f, p, n, n_subj, conns);
        if (fclose(f) != 0) {
            free(r->body);
            r->body = NULL;
        }
    }
    free(p);
    free(subj);
    r->type = "application/json";
    r->status = !r->body ? 500 : n ? 503 : 200;
}

static void s_text(struct http_reply *r, int status, const char *text)
{
    r->status = status;
    r->body = strdup(text);
    r->len = r->body ? strlen(text) : 0;
}

/* /metrics: a copy of the text rendered last, rendered again when older than
 * S_METRICS_REUSE_MS. */
static void s_metrics(struct sup *S, int64_t now, struct http_reply *r)
{
    struct ops *o = S->ops;
    if (!o->metrics || now - o->metrics_at >= S_METRICS_REUSE_MS) {
        size_t len = 0;
        char *text = metrics_render(S, now, &len);
        if (text) {
            free(o->metrics);
            o->metrics = text;
            o->metrics_len = len;
            o->metrics_at = now;
        }
    }
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    r->body = o->metrics ? malloc(o->metrics_len + 1) : NULL;
    if (!r->body) {
        s_text(r, 500, "out of memory\n");
        return;
    }
    memcpy(r->body, o->metrics, o->metrics_len);
    r->len = o->metrics_len;
}

static void s_handle(void *arg, const char *path, struct http_reply *r)
{
    struct sup *S = arg;
    int64_t now = mqg_now_ms();
    if (strcmp(path, "/metrics") == 0) {
        s_metrics(S, now, r);
    } else if (strcmp(path, "/health") == 0) {
        s_health(S, now, r);
    } else {
        s_text(r, 404, "not found; mqgate serves /metrics and /health\n");
    }
}

/* Listen on host:port into a new struct ops (*out). 0, or -errno with err filled. */
static int s_listen(struct sup *S, const char *host, int port, struct ops **out, char *err,
                    size_t cap)
{
    struct ops *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    int rc = http_open(host, port, s_handle, S, &o->http, err, cap);
    if (rc != 0) {
        free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int ops_open(struct sup *S)
{
    const struct mqg_settings *set = S->set;
    if (!set->http_listen) {
        return 0;
    }
    char err[300];
    int rc = s_listen(S, set->http_host, set->http_port, &S->ops, err, sizeof(err));
    if (rc != 0) {
        log_error("HTTP-LISTEN", "http.listen %s: %s", set->http_listen, err);
        return rc == -EADDRNOTAVAIL ? MQG_EXIT_CONFIG
               : rc == -ENOMEM      ? MQG_EXIT_INTERNAL
                                    : MQG_EXIT_TRANSIENT;
    }
    log_info("HTTP-LISTEN", "serving /metrics and /health on http://%s/", set->http_listen);
    return 0;
}

int ops_reopen(struct sup *S, const struct mqg_settings *next, char *why, size_t cap)
{
    if (!next->http_listen) {
        ops_close(S);
        log_notice("HTTP-LISTEN", "reload: http.listen removed: no longer serving /metrics");
        return 0;
    }
    struct ops *o = NULL;
    int rc = s_listen(S, next->http_host, next->http_port, &o, why, cap);
    if (rc != 0 && S->ops && S->set->http_port == next->http_port) {
        /* the same port on another address: the old socket may be in the way */
        ops_close(S);
        rc = s_listen(S, next->http_host, next->http_port, &o, why, cap);
        char err[300];
        if (rc != 0 &&
            s_listen(S, S->set->http_host, S->set->http_port, &S->ops, err, sizeof(err)) != 0) {
            log_error("HTTP-LISTEN", "http.listen %s: cannot listen there again: %s",
                      S->set->http_listen, err);
        }
    }
    if (rc != 0) {
        return rc;
    }
    ops_close(S);
    S->ops = o;
    log_notice("HTTP-LISTEN", "reload: serving /metrics and /health on http://%s/",
               next->http_listen);
    return 0;
}

void ops_close(struct sup *S)
{
    if (S->ops) {
        http_close(&S->ops->http);
        free(S->ops->metrics);
        free(S->ops);
        S->ops = NULL;
    }
}

int ops_fd(const struct sup *S)
{
    return S->ops ? http_fd(S->ops->http) : -1;
}

void ops_run(struct sup *S)
{
    if (S->ops) {
        http_run(S->ops->http);
    }
}

int ops_timeout_ms(const struct sup *S)
{
    return S->ops ? http_timeout_ms(S->ops->http) : -1;
}

void ops_tick(struct sup *S, int64_t now)
{
    if (!S->ops) {
        return;
    }
    struct health_problem *p;
    struct health_subject *subj;
    size_t n_subj, conns;
    size_t n = s_judge(S, now, &p, &subj, &n_subj, &conns);
    if (p && subj && (!S->ops->judged || S->ops->healthy != (n == 0))) {
        if (n == 0 && S->ops->judged) {
            log_notice("HEALTH-OK", "healthy again: every process runs, every connection is up");
        } else if (n > 0) {
            char line[1300] = "";
            size_t off = 0;
            for (size_t i = 0; i < n && i < S_LOGGED_PROBLEMS && off < sizeof(line); i++) {
                char one[400];
                health_describe(&p[i], one, sizeof(one));
                int w = snprintf(line + off, sizeof(line) - off, "%s%s", i ? "; " : "", one);
                off = w > 0 ? off + (size_t)w : off;
            }
            log_warn("HEALTH-BAD", "unhealthy (%zu problem%s): %s%s", n, n == 1 ? "" : "s", line,
                     n > S_LOGGED_PROBLEMS ? "; ..." : "");
        }
        S->ops->judged = true;
        S->ops->healthy = n == 0;
    }
    free(p);
    free(subj);
}
