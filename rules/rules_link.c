/* rules_link — connector/mqtt_link.h for the rules process: the "broker" is the rule engine.
 *
 * The connector (connector/connector.c, unchanged) drives it as it drives paho. One worker
 * thread plays paho's part: it owns the JavaScript engine (made on that thread: rules/jsengine
 * is single-threaded) and the compiled chains (rules/chain). mqtt_link_publish hands it a job
 * (a copy of the message) through a queue bounded at max_inflight jobs (-EAGAIN beyond, as
 * paho's full window); the worker runs the job's route's rules, and for each output builds a
 * LEV_MSG (one allocation), calls the arrival hook (which journals QoS >= 1 outputs and may
 * block, as on paho's thread) and queues it; only then it queues LEV_PUB_OK for the job (the
 * chain releases its tag: at the end of the run, or for a copy a burst rule holds, after the
 * batch went out). So the router's copy is acknowledged (outbox DONE) after what it produced
 * was journaled: when the process dies before, the router replays the copy to the next one. Burst
 * batches that fall due by time are emitted by the worker when its wait times out (untagged
 * outputs, through the hook too). Events reach the connector's loop like paho's: a mutex-protected
 * list and an eventfd.
 *
 * connect starts the worker: LEV_CONNECTED once the engine and the chains are ready, or
 * LEV_CONNECT_FAILED with the reason (jsonata.js missing, an expression that does not
 * compile); the connector retries with its backoff. subscribe answers LEV_SUB_OK at once. The
 * connection is never lost. One link per process.
 */
#include "link_evq.h"
#include "mqtt_link.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "jsengine.h"
#include "mqg_log.h"
#include "mqg_proc.h"

/* The worker looks at the time at least this often (drop summaries; burst batches are due at
 * their own time). */
#define S_TICK_MS 1000

/* A copy from the router to run through its route's rules. */
struct job {
    struct job *next;
    char *topic; /* "<rid>/<topic>", inside this allocation */
    void *payload;
    size_t len;
    int qos;
    bool retain;
    uint64_t tag;
    bool notify;
};

struct mqtt_link {
    mqtt_link_arrive_fn *arrive;
    void *arrive_ctx;
    const struct mqg_connection *conn;
    const struct mqg_model *model;
    int max_inflight;
    struct link_evq evq; /* events for the connector */
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* the worker waits on it for jobs */
    struct job *jhead, *jtail; /* jobs for the worker */
    int n_jobs;
    pthread_t worker;
    bool joinable; /* a worker was started and not joined yet */
    bool ready;    /* the worker runs the rules: publishing is allowed */
    bool failed;   /* the worker could not start and ended */
    bool stop;
    _Atomic uint64_t drops[4];  /* struct link_drops's order; the worker counts, anyone reads */
    struct link_rule_row *rows; /* each route's counters as of the worker's last tick (lock) */
    size_t n_rows;
    /* the worker's own */
    struct jsengine *engine;
    struct chain_set *chains;
};

/* ---- events (the worker's thread) ---- */

static void s_push(struct mqtt_link *l, struct link_ev *ev)
{
    link_evq_push(&l->evq, ev);
}

static void s_push_simple(struct mqtt_link *l, enum link_ev_kind kind, int rc, uint64_t tag,
                          const char *text)
{
    link_evq_push_simple(&l->evq, kind, rc, tag, text);
}

/* chain_emit_fn: one output becomes a message "from the broker", through the arrival hook. */
static int s_emit(void *arg, const struct mqg_route *route, const char *topic, const char *payload,
                  size_t len)
{
    struct mqtt_link *l = arg;
    struct link_ev *ev =
        link_ev_msg(topic, strlen(topic), payload, len, route->target.qos, route->target.retain);
    if (!ev) {
        return -ENOMEM;
    }
    if (l->arrive) {
        l->arrive(l->arrive_ctx, ev);
    }
    s_push(l, ev);
    return 0;
}

/* ---- the worker ---- */

/* chain_release_fn: a copy is done (what it produced is queued and journaled, or it was
 * dropped, or the burst batch it joined went out): the connector may confirm it. */
static void s_release(void *arg, uint64_t tag)
{
    s_push_simple(arg, LEV_PUB_OK, 0, tag, NULL);
}

/* Evaluations of a built-in expression before the link reports itself up (jsengine_warm_up):
 * about 0.2-0.4 s at start. */
#ifndef S_WARM_UP
#define S_WARM_UP 4000
#endif

/* The engine and the chains, on the worker's thread. 0, or -errno with why. */
static int s_start_engine(struct mqtt_link *l, char *why, size_t cap)
{
    char path[4096];
    int rc = jsengine_default_path(path, sizeof(path));
    if (rc != 0) {
        snprintf(why, cap, "jsonata.js not found next to the program (lib/mqgate/jsonata.js)");
        return rc;
    }
    struct jsengine_opts opts = {.time_limit_ms = l->conn->rules_time_limit_ms > 0
                                                      ? (uint32_t)l->conn->rules_time_limit_ms
                                                      : 0};
    struct jsengine_error err;
    if ((rc = jsengine_new(path, &opts, &l->engine, &err)) != 0) {
        log_error("RULES-ENGINE", "cannot start the rule engine with %s: %s", path, err.message);
        snprintf(why, cap, "cannot start the rule engine: %.100s", err.message);
        return rc;
    }
    if (!l->model) {
        snprintf(why, cap, "no model given to the rules link");
        return -EINVAL;
    }
    if ((rc = chain_set_new(l->model, l->engine, &l->chains, why, cap)) != 0) {
        if (rc == -ENOMEM) {
            snprintf(why, cap, "out of memory");
        }
        return rc;
    }
    /* copies held in burst batches are confirmed after the batch went out; they may take at
     * most half of the window of unconfirmed copies, the rest keeps flowing */
    chain_set_release(l->chains, s_release, (size_t)l->max_inflight / 2);
    /* before the link reports itself up: the first messages then meet compiled code */
    if (jsengine_warm_up(l->engine, S_WARM_UP) != 0) {
        log_debug("RULES-WARM-UP", "the engine's warm-up failed (the rules run all the same)");
    }
    return 0;
}

/* Each route's counters for the connector's reports (mqtt_link_rule_stats): made when the
 * chains are, renewed at every tick. */
static void s_snapshot(struct mqtt_link *l)
{
    size_t n = l->chains ? chain_routes(l->chains) : 0;
    pthread_mutex_lock(&l->lock);
    if (!l->rows && n) {
        l->rows = calloc(n, sizeof(*l->rows));
    }
    for (size_t i = 0; l->rows && i < n; i++) {
        const struct mqg_route *r = chain_route(l->chains, i, &l->rows[i].st);
        l->rows[i].rid = strtoull(r->rid, NULL, 16);
    }
    l->n_rows = l->rows ? n : 0;
    pthread_mutex_unlock(&l->lock);
}

/* Each route's counters, once at the end. */
static void s_log_stats(const struct mqtt_link *l)
{
    for (size_t i = 0; l->chains && i < chain_routes(l->chains); i++) {
        struct mqg_rule_stats st;
        const struct mqg_route *r = chain_route(l->chains, i, &st);
        log_info("RULES-STATS",
                 "%s (rid %s): in=%llu out=%llu filtered=%llu not-json=%llu timeout=%llu "
                 "error=%llu",
                 r->name, r->rid, (unsigned long long)st.in, (unsigned long long)st.out,
                 (unsigned long long)st.filtered, (unsigned long long)st.not_json,
                 (unsigned long long)st.timeout, (unsigned long long)st.error);
    }
}

static void s_stop_engine(struct mqtt_link *l)
{
    chain_set_destroy(&l->chains);
    jsengine_destroy(&l->engine);
}

static void s_run_job(struct mqtt_link *l, struct job *j)
{
    /* only copies the connector waits for carry a tag (QoS >= 1, or a QoS 0 it asked about) */
    bool ack = j->notify || j->qos > 0;
    int rc = chain_run_tag(l->chains, j->topic, j->payload, j->len, (uint64_t)mqg_now_ms(),
                           ack ? &j->tag : NULL, s_emit, l);
    int k = rc == CHAIN_FILTERED   ? 0
            : rc == CHAIN_NOT_JSON ? 1
            : rc == CHAIN_TIMEOUT  ? 2
            : rc == CHAIN_ERROR    ? 3
                                   : -1;
    if (k >= 0) {
        atomic_fetch_add(&l->drops[k], 1);
    }
    if (rc == -ENOMEM) {
        log_warn("RULE-NOMEM", "out of memory running the rules on '%s'", j->topic);
    }
    free(j);
}

/* Wait for a job, the next burst batch due or `until` (ms), with the lock held. */
static void s_wait(struct mqtt_link *l, int64_t until)
{
    uint64_t due = chain_due(l->chains);
    if (due && (int64_t)due < until) {
        until = (int64_t)due;
    }
    int64_t now = mqg_now_ms();
    if (until <= now) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (until - now) % 1000 * 1000000;
    ts.tv_sec += (until - now) / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&l->cond, &l->lock, &ts);
}

static void *s_worker(void *arg)
{
    struct mqtt_link *l = arg;
    char why[sizeof(((struct link_ev *)0)->text)];
    int rc = s_start_engine(l, why, sizeof(why));
    if (rc != 0) {
        s_stop_engine(l);
        pthread_mutex_lock(&l->lock);
        l->failed = true;
        pthread_mutex_unlock(&l->lock);
        s_push_simple(l, LEV_CONNECT_FAILED, rc, 0, why);
        return NULL;
    }
    s_snapshot(l);
    pthread_mutex_lock(&l->lock);
    l->ready = true;
    pthread_mutex_unlock(&l->lock);
    s_push_simple(l, LEV_CONNECTED, 0, 0, NULL);

    int64_t next_tick = mqg_now_ms() + S_TICK_MS;
    pthread_mutex_lock(&l->lock);
    while (!l->stop) {
        struct job *j = l->jhead;
        if (j) {
            l->jhead = j->next;
            if (!l->jhead) {
                l->jtail = NULL;
            }
            l->n_jobs--;
            pthread_mutex_unlock(&l->lock);
            s_run_job(l, j);
        } else {
            s_wait(l, next_tick);
            pthread_mutex_unlock(&l->lock);
        }
        int64_t now = mqg_now_ms();
        uint64_t due = chain_due(l->chains);
        if (now >= next_tick || (due && (int64_t)due <= now)) {
            chain_tick(l->chains, (uint64_t)now, s_emit, l); /* batches due, drop summaries */
            if (now >= next_tick) {
                s_snapshot(l);
            }
            next_tick = now + S_TICK_MS;
        }
        pthread_mutex_lock(&l->lock);
    }
    l->ready = false;
    pthread_mutex_unlock(&l->lock);
    s_snapshot(l);
    s_log_stats(l);
    s_stop_engine(l);
    return NULL;
}

/* ---- the API (the connector's thread) ---- */

int mqtt_link_new(const struct mqg_connection *c, const char *rundir, int max_inflight,
                  struct mqtt_link **out)
{
    struct mqtt_link *l = calloc(1, sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    l->conn = c;
    l->max_inflight = max_inflight > 0 ? max_inflight : 1;
    if (link_evq_init(&l->evq) != 0) {
        free(l);
        return -ENOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        link_evq_free(&l->evq);
        free(l);
        return -ENOMEM;
    }
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

void mqtt_link_set_model(struct mqtt_link *l, const struct mqg_model *m)
{
    l->model = m;
}

void mqtt_link_on_arrive(struct mqtt_link *l, mqtt_link_arrive_fn *fn, void *ctx)
{
    l->arrive = fn;
    l->arrive_ctx = ctx;
}

void mqtt_link_destroy(struct mqtt_link **pl, int timeout_ms)
{
    if (!pl || !*pl) {
        return;
    }
    struct mqtt_link *l = *pl;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->joinable) {
        pthread_join(l->worker, NULL); /* it ends after the evaluation it is in */
    }
    for (struct job *j = l->jhead, *nx; j; j = nx) {
        nx = j->next;
        free(j);
    }
    free(l->rows);
    link_evq_free(&l->evq);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
    *pl = NULL;
}

int mqtt_link_fd(const struct mqtt_link *l)
{
    return l->evq.efd;
}

struct link_ev *mqtt_link_take(struct mqtt_link *l)
{
    return link_evq_take(&l->evq);
}

int mqtt_link_connect(struct mqtt_link *l)
{
    pthread_mutex_lock(&l->lock);
    bool ready = l->ready, failed = l->failed;
    l->failed = false;
    pthread_mutex_unlock(&l->lock);
    if (ready) { /* never lost: already there */
        s_push_simple(l, LEV_CONNECTED, 0, 0, NULL);
        return 0;
    }
    if (l->joinable && !failed) {
        return 0; /* still starting: its outcome arrives as an event */
    }
    if (l->joinable) { /* the last attempt's worker failed and ended */
        pthread_join(l->worker, NULL);
        l->joinable = false;
    }
    int rc = pthread_create(&l->worker, NULL, s_worker, l);
    if (rc != 0) {
        s_push_simple(l, LEV_CONNECT_FAILED, -rc, 0, "cannot start the rules thread");
        return -rc;
    }
    l->joinable = true;
    return 0;
}

int mqtt_link_subscribe(struct mqtt_link *l, const struct mqg_sub *subs, size_t n)
{
    s_push_simple(l, LEV_SUB_OK, 0, 0, NULL);
    return 0;
}

int mqtt_link_publish(struct mqtt_link *l, const char *topic, const void *payload, size_t len,
                      int qos, bool retain, uint64_t tag, bool notify)
{
    size_t tl = strlen(topic);
    pthread_mutex_lock(&l->lock);
    int rc = !l->ready ? -ENOTCONN : l->n_jobs >= l->max_inflight ? -EAGAIN : 0;
    pthread_mutex_unlock(&l->lock);
    if (rc) {
        return rc;
    }
    struct job *j = malloc(sizeof(*j) + tl + 1 + len);
    if (!j) {
        return -EAGAIN; /* tried again later */
    }
    *j = (struct job){.topic = (char *)(j + 1),
                      .len = len,
                      .qos = qos,
                      .retain = retain,
                      .tag = tag,
                      .notify = notify};
    memcpy(j->topic, topic, tl + 1);
    j->payload = j->topic + tl + 1;
    if (len) {
        memcpy(j->payload, payload, len);
    }
    pthread_mutex_lock(&l->lock);
    if (l->jtail) {
        l->jtail->next = j;
    } else {
        l->jhead = j;
    }
    l->jtail = j;
    l->n_jobs++;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    return 0;
}

void mqtt_link_drops(const struct mqtt_link *l, struct link_drops *d)
{
    struct mqtt_link *m = (struct mqtt_link *)l; /* atomic loads of a const object */
    d->filtered = atomic_load(&m->drops[0]);
    d->not_json = atomic_load(&m->drops[1]);
    d->timeout = atomic_load(&m->drops[2]);
    d->error = atomic_load(&m->drops[3]);
}

size_t mqtt_link_rule_stats(struct mqtt_link *l, struct link_rule_row *out, size_t cap)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->n_rows;
    if (n && cap) {
        memcpy(out, l->rows, (n < cap ? n : cap) * sizeof(*out));
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

int64_t mqtt_link_pingresps(const struct mqtt_link *l)
{
    return -1;
}

const char *mqtt_link_strerror(int rc)
{
    return rc < 0 ? strerror(-rc) : "cannot start the rule engine";
}
