/* metrics — /metrics in the Prometheus text format (see metrics.h).
 *
 * Each family is written whole (HELP, TYPE, then one sample per subject), as the format asks.
 * The connections' samples come from their connectors' heartbeat texts: a table maps each
 * metric to its key there (docs/architecture.md §8 lists the keys).
 */
#include "metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqg_kv.h"
#include "mqg_prom.h"
#include "mqg_rstats.h"
#include "observe.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A metric of a connection read from its connector's heartbeat text. */
struct s_kv_metric {
    const char *name;
    const char *type;
    const char *key;
    const char *help;
};

/* A journal metric: as s_kv_metric, the value scaled (0: as it is, an integer). */
struct s_journal_metric {
    const char *name;
    const char *type;
    const char *key;
    const char *help;
    double scale;
};

static const struct s_kv_metric s_conn_metrics[] = {
    {"mqgate_connection_received_messages_total", "counter", "rx",
     "Messages received from the broker (before any check)."},
    {"mqgate_connection_received_bytes_total", "counter", "rx_bytes",
     "Payload bytes of the messages received from the broker."},
    {"mqgate_connection_forwarded_messages_total", "counter", "in",
     "Messages from the broker handed on to the router."},
    {"mqgate_connection_published_messages_total", "counter", "out",
     "Messages published to the broker and confirmed by it (QoS 0: written)."},
    {"mqgate_connection_published_bytes_total", "counter", "out_bytes",
     "Payload bytes of the published messages."},
    {"mqgate_connection_malformed_messages_total", "counter", "malformed",
     "Internal messages the connector rejected."},
    {"mqgate_connection_reconnects_total", "counter", "reconnects",
     "Connections to the broker made after the first one."},
    {"mqgate_connection_queued_messages", "gauge", "queued",
     "Messages waiting for the broker, in flight included (outbound queue)."},
    {"mqgate_connection_held_messages", "gauge", "buffered",
     "Messages held back on their way to the router (startup buffer, backpressure)."},
    {"mqgate_connection_inflight_messages", "gauge", "inflight",
     "Publishes sent to the broker and not yet confirmed."},
};

/* Exported only for connections whose connector reports them. */
static const struct s_journal_metric s_journal_metrics[] = {
    {"mqgate_connection_journal_messages", "gauge", "journal",
     "Messages kept in the connection's on-disk journal.", 0},
    {"mqgate_connection_journal_bytes", "gauge", "journal_bytes",
     "Bytes of the connection's on-disk journal.", 0},
    {"mqgate_connection_journal_oldest_age_seconds", "gauge", "journal_age_ms",
     "Age of the oldest message the journal keeps (0 when it keeps none).", 1e-3},
    {"mqgate_connection_redelivered_messages_total", "counter", "redelivered",
     "Messages sent to the router again from the journal (after a restart or an outage).", 0},
    {"mqgate_connection_unjournaled_messages_total", "counter", "unjournaled",
     "QoS >= 1 messages passed on without being written to the journal (it was full).", 0},
};

/* The router's tracked delivery (journal on): exported only when it reports them. */
static const struct s_kv_metric s_ledger_metrics[] = {
    {"mqgate_router_delivery_gaps", "gauge", "gaps",
     "Pairs of source and target connection waiting for or in a replay from the journal."},
    {"mqgate_router_outstanding_messages", "gauge", "outstanding",
     "Tracked copies handed to the connectors and not yet confirmed."},
    {"mqgate_router_replayed_messages_total", "counter", "replayed",
     "Copies the router queued from replays of the journals."},
};

/* Drops of a connection by cause: each a key of the heartbeat text; "failed" is the rest. */
static const struct {
    const char *cause;
    const char *key;
} s_drop_causes[] =
    {
        {"queue_full", "overflow"},        {"invalid_topic", "invalid"},
        {"bad_topic", "badtopic"},         {"too_large", "toolarge"},
        {"rule_not_json", "rule_notjson"}, /* the rules process: its rules dropped them */
        {"rule_timeout", "rule_timeout"},  {"rule_error", "rule_error"},
};

/* The views of every connector (n: how many), or NULL when out of memory. */
static struct obs_view *s_views(const struct sup *S, int64_t now, size_t *n)
{
    struct obs_view *v = calloc(S->n_ch ? S->n_ch : 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; v && i < S->n_ch; i++) {
        if (S->ch[i].conn >= 0) {
            observe_view(S, &S->ch[i], now, &v[(*n)++]);
        }
    }
    return v;
}

static void s_conn_labels(const struct obs_view *v, struct mqg_prom_label l[3], const char *extra)
{
    l[0] = (struct mqg_prom_label){"service", v->conn->service_id};
    l[1] = (struct mqg_prom_label){"connection", v->conn->id};
    l[2] = (struct mqg_prom_label){"cause", extra};
}

static void s_connections(FILE *f, const struct obs_view *v, size_t n)
{
    struct mqg_prom_label l[3];
    mqg_prom_family(f, "mqgate_connection_connected", "gauge",
                    "1 while the connection to the broker is up, else 0.");
    for (size_t i = 0; i < n; i++) {
        s_conn_labels(&v[i], l, NULL);
        mqg_prom_u64(f, "mqgate_connection_connected", l, 3, v[i].state == OBS_CONNECTED);
    }
    mqg_prom_family(f, "mqgate_connection_state_seconds", "gauge",
                    "Seconds since the connection came up, or since it was last up (or failed).");
    for (size_t i = 0; i < n; i++) {
        s_conn_labels(&v[i], l, NULL);
        mqg_prom_f64(f, "mqgate_connection_state_seconds", l, 3, (double)v[i].for_ms / 1000.0);
    }
    for (size_t m = 0; m < N_ELEMS(s_conn_metrics); m++) {
        const struct s_kv_metric *km = &s_conn_metrics[m];
        mqg_prom_family(f, km->name, km->type, km->help);
        for (size_t i = 0; i < n; i++) {
            s_conn_labels(&v[i], l, NULL);
            mqg_prom_u64(f, km->name, l, 3, observe_u64(&v[i].kv, km->key));
        }
    }
    mqg_prom_family(f, "mqgate_connection_dropped_messages_total", "counter",
                    "Messages the connector dropped, by cause: queue_full (a queue's bound), "
                    "invalid_topic (from the broker), bad_topic and too_large (for the broker), "
                    "failed (publish failed 5 times, refused by the MQTT library, no memory).");
    for (size_t i = 0; i < n; i++) {
        uint64_t all = observe_u64(&v[i].kv, "dropped"), named = 0;
        for (size_t k = 0; k < N_ELEMS(s_drop_causes); k++) {
            uint64_t c = observe_u64(&v[i].kv, s_drop_causes[k].key);
            named += c;
            s_conn_labels(&v[i], l, s_drop_causes[k].cause);
            mqg_prom_u64(f, "mqgate_connection_dropped_messages_total", l, 3, c);
        }
        s_conn_labels(&v[i], l, "failed");
        mqg_prom_u64(f, "mqgate_connection_dropped_messages_total", l, 3,
                     all > named ? all - named : 0);
    }
}

static void s_journal(FILE *f, const struct obs_view *v, size_t n)
{
    struct mqg_prom_label l[3];
    for (size_t m = 0; m < N_ELEMS(s_journal_metrics); m++) {
        const struct s_journal_metric *km = &s_journal_metrics[m];
        bool announced = false;
        for (size_t i = 0; i < n; i++) {
            uint64_t val;
            if (!mqg_kv_u64(&v[i].kv, km->key, &val)) {
                continue;
            }
            if (!announced) {
                mqg_prom_family(f, km->name, km->type, km->help);
                announced = true;
            }
            s_conn_labels(&v[i], l, NULL);
            if (km->scale != 0) {
                mqg_prom_f64(f, km->name, l, 3, (double)val * km->scale);
            } else {
                mqg_prom_u64(f, km->name, l, 3, val);
            }
        }
    }
}

/* ---- processes ---- */

/* Resident memory of pid (0: this process) in bytes; 0 when unknown. */
static uint64_t s_rss(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), pid ? "/proc/%d/statm" : "/proc/self/statm", (int)pid);
    FILE *fp = fopen(path, "r");
    unsigned long long size = 0, resident = 0;
    if (!fp) {
        return 0;
    }
    int got = fscanf(fp, "%llu %llu", &size, &resident);
    fclose(fp);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

static void s_proc_labels(const struct sup *S, const struct sup_child *c,
                          struct mqg_prom_label l[3])
{
    const struct mqg_connection *conn = c && c->conn >= 0 ? &S->model->conns[c->conn] : NULL;
    l[0] = (struct mqg_prom_label){"role", c ? c->role : "supervisor"};
    l[1] = (struct mqg_prom_label){"service", conn ? conn->service_id : NULL};
    l[2] = (struct mqg_prom_label){"connection", conn ? conn->id : NULL};
}

static void s_processes(FILE *f, const struct sup *S, int64_t now)
{
    struct mqg_prom_label l[3];
    mqg_prom_family(f, "mqgate_process_up", "gauge", "1 while the process runs, else 0.");
    s_proc_labels(S, NULL, l);
    mqg_prom_u64(f, "mqgate_process_up", l, 3, 1);
    for (size_t i = 0; i < S->n_ch; i++) {
        s_proc_labels(S, &S->ch[i], l);
        mqg_prom_u64(f, "mqgate_process_up", l, 3, lifecycle_has_process(S->ch[i].life.state));
    }
    mqg_prom_family(f, "mqgate_process_failed", "gauge",
                    "1 while the process is failed (crashed too often) or stopped for a "
                    "configuration error, else 0.");
    for (size_t i = 0; i < S->n_ch; i++) {
        enum lifecycle_state st = S->ch[i].life.state;
        s_proc_labels(S, &S->ch[i], l);
        mqg_prom_u64(f, "mqgate_process_failed", l, 3, st == LC_FAILED || st == LC_CONFIG);
    }
    mqg_prom_family(f, "mqgate_process_restarts_total", "counter",
                    "Unexpected ends of the process (each followed by a restart), since the "
                    "gateway started.");
    for (size_t i = 0; i < S->n_ch; i++) {
        s_proc_labels(S, &S->ch[i], l);
        mqg_prom_u64(f, "mqgate_process_restarts_total", l, 3, S->ch[i].life.restart.restarts);
    }
    mqg_prom_family(f, "mqgate_process_uptime_seconds", "gauge",
                    "Seconds since the process was (last) started.");
    s_proc_labels(S, NULL, l);
    mqg_prom_f64(f, "mqgate_process_uptime_seconds", l, 3, (double)(now - S->started_ms) / 1e3);
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        if (lifecycle_has_process(c->life.state)) {
            s_proc_labels(S, c, l);
            mqg_prom_f64(f, "mqgate_process_uptime_seconds", l, 3,
                         (double)(now - c->life.started_ms) / 1e3);
        }
    }
    mqg_prom_family(f, "mqgate_process_resident_memory_bytes", "gauge",
                    "Resident memory of the process.");
    s_proc_labels(S, NULL, l);
    mqg_prom_u64(f, "mqgate_process_resident_memory_bytes", l, 3, s_rss(0));
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        if (lifecycle_has_process(c->life.state) && c->pid > 0) {
            s_proc_labels(S, c, l);
            mqg_prom_u64(f, "mqgate_process_resident_memory_bytes", l, 3, s_rss(c->pid));
        }
    }
}

/* ---- the router and the routes ---- */

static void s_router(FILE *f, const struct sup *S)
{
    struct mqg_kv kv;
    mqg_kv_parse(NULL, &kv);
    for (size_t i = 0; i < S->n_ch; i++) {
        if (strcmp(S->ch[i].role, "router") == 0 && lifecycle_has_process(S->ch[i].life.state)) {
            mqg_kv_parse(S->ch[i].status, &kv);
        }
    }
    static const struct s_kv_metric rm[] = {
        {"mqgate_router_received_messages_total", "counter", "in",
         "Messages the router received from the connectors."},
        {"mqgate_router_delivered_messages_total", "counter", "out",
         "Copies the router handed to the connectors."},
        {"mqgate_router_unrouted_messages_total", "counter", "unrouted",
         "Messages from a broker that matched no route."},
        {"mqgate_router_malformed_messages_total", "counter", "malformed",
         "Internal messages the router rejected."},
        {"mqgate_router_queued_messages", "gauge", "queued",
         "Copies waiting in the router's queues for their connectors."},
    };
    for (size_t m = 0; m < N_ELEMS(rm); m++) {
        mqg_prom_family(f, rm[m].name, rm[m].type, rm[m].help);
        mqg_prom_u64(f, rm[m].name, NULL, 0, observe_u64(&kv, rm[m].key));
    }
    uint64_t dropped = observe_u64(&kv, "dropped"), render = observe_u64(&kv, "render");
    mqg_prom_family(f, "mqgate_router_dropped_messages_total", "counter",
                    "Copies the router dropped, by cause: queue (a full queue of a connector "
                    "that is not running, a connection with targetState disconnected, no "
                    "memory), render (target topic not rendered), loop (chain too deep).");
    const char *causes[] = {"queue", "render", "loop"};
    uint64_t vals[] = {dropped > render ? dropped - render : 0, render, observe_u64(&kv, "loops")};
    for (size_t k = 0; k < N_ELEMS(causes); k++) {
        struct mqg_prom_label l = {"cause", causes[k]};
        mqg_prom_u64(f, "mqgate_router_dropped_messages_total", &l, 1, vals[k]);
    }
    for (size_t m = 0; m < N_ELEMS(s_ledger_metrics); m++) {
        uint64_t val;
        if (mqg_kv_u64(&kv, s_ledger_metrics[m].key, &val)) {
            mqg_prom_family(f, s_ledger_metrics[m].name, s_ledger_metrics[m].type,
                            s_ledger_metrics[m].help);
            mqg_prom_u64(f, s_ledger_metrics[m].name, NULL, 0, val);
        }
    }
}

static void s_route_labels(const struct mqg_route *r, struct mqg_prom_label l[4], const char *cause)
{
    bool ep = strncmp(r->name, "endpoint ", 9) == 0;
    l[0] = (struct mqg_prom_label){"service", r->service_id};
    l[1] = (struct mqg_prom_label){"route", r->name};
    l[2] = (struct mqg_prom_label){"endpoint", ep ? r->name + 9 : NULL};
    l[3] = (struct mqg_prom_label){"cause", cause};
}

/* A counter family with a sample per route (only the routes with rules when rules_only): the
 * uint64_t at off in each route's row of rows (row bytes each, one per model route). */
static void s_route_family(FILE *f, const struct mqg_model *m, const char *name, const char *help,
                           const void *rows, size_t row, size_t off, bool rules_only)
{
    struct mqg_prom_label l[4];
    mqg_prom_family(f, name, "counter", help);
    for (size_t i = 0; i < m->n_routes; i++) {
        if (!rules_only || m->routes[i].rid) {
            s_route_labels(&m->routes[i], l, NULL);
            mqg_prom_u64(f, name, l, 4, *(const uint64_t *)((const char *)rows + i * row + off));
        }
    }
}

/* The counters of the routes with rules (from the rules process), besides their drops. */
static void s_route_rules(FILE *f, const struct sup *S)
{
    static const struct {
        const char *name;
        const char *help;
        size_t off;
    } rm[] = {
        {"mqgate_route_rule_input_messages_total",
         "Messages of the route its rules took (routes with rules).",
         offsetof(struct mqg_rule_stats, in)},
        {"mqgate_route_rule_output_messages_total",
         "Messages the route's rules put out (fewer than taken when they filter, drop or gather "
         "burst batches).",
         offsetof(struct mqg_rule_stats, out)},
        {"mqgate_route_rule_filtered_messages_total",
         "Messages the route's filter or cov rules held back as they are meant to (not a loss).",
         offsetof(struct mqg_rule_stats, filtered)},
    };
    for (size_t k = 0; k < N_ELEMS(rm); k++) {
        s_route_family(f, S->model, rm[k].name, rm[k].help, S->rule_stats, sizeof(*S->rule_stats),
                       rm[k].off, true);
    }
}

static void s_routes(FILE *f, const struct sup *S)
{
    static const struct {
        const char *name;
        const char *help;
        size_t off;
    } rm[] = {
        {"mqgate_route_matched_messages_total", "Messages that fired the route.",
         offsetof(struct mqg_route_stats, in)},
        {"mqgate_route_matched_bytes_total", "Payload bytes of the messages that fired it.",
         offsetof(struct mqg_route_stats, in_bytes)},
        {"mqgate_route_delivered_messages_total",
         "Copies the route handed on: to a connection, or to the internal topics.",
         offsetof(struct mqg_route_stats, out)},
        {"mqgate_route_delivered_bytes_total", "Payload bytes of the copies it handed on.",
         offsetof(struct mqg_route_stats, out_bytes)},
    };
    const struct mqg_model *m = S->model;
    struct mqg_prom_label l[4];
    for (size_t k = 0; k < N_ELEMS(rm); k++) {
        s_route_family(f, m, rm[k].name, rm[k].help, S->route_stats, sizeof(*S->route_stats),
                       rm[k].off, false);
    }
    mqg_prom_family(f, "mqgate_route_dropped_messages_total", "counter",
                    "Copies the route did not make, by cause: render (its target topic could "
                    "not be rendered), loop (its internal target went too deep), and for routes "
                    "with rules what they dropped: rule_not_json (the payload was not JSON where "
                    "a rule needs it), rule_timeout (an expression ran into "
                    "rules.time_limit_ms), rule_error (an expression failed, or the target "
                    "topic could not be rendered).");
    for (size_t i = 0; i < m->n_routes; i++) {
        s_route_labels(&m->routes[i], l, "render");
        mqg_prom_u64(f, "mqgate_route_dropped_messages_total", l, 4,
                     S->route_stats[i].render_failed);
        s_route_labels(&m->routes[i], l, "loop");
        mqg_prom_u64(f, "mqgate_route_dropped_messages_total", l, 4, S->route_stats[i].loops);
        if (m->routes[i].rid) { /* what the route's rules dropped (the rules process) */
            const struct mqg_rule_stats *ru = &S->rule_stats[i];
            const struct {
                const char *cause;
                uint64_t v;
            } rd[] = {{"rule_not_json", ru->not_json},
                      {"rule_timeout", ru->timeout},
                      {"rule_error", ru->error}};
            for (size_t k = 0; k < N_ELEMS(rd); k++) {
                s_route_labels(&m->routes[i], l, rd[k].cause);
                mqg_prom_u64(f, "mqgate_route_dropped_messages_total", l, 4, rd[k].v);
            }
        }
    }
    s_route_rules(f, S);
}

char *metrics_render(const struct sup *S, int64_t now, size_t *len)
{
    char *buf = NULL;
    size_t n_views;
    struct obs_view *views = s_views(S, now, &n_views);
    FILE *f = views ? open_memstream(&buf, len) : NULL;
    if (!f) {
        free(views);
        return NULL;
    }
    struct mqg_prom_label ver = {"version", MQG_VERSION};
    mqg_prom_family(f, "mqgate_build_info", "gauge", "The version of mqgate; always 1.");
    mqg_prom_u64(f, "mqgate_build_info", &ver, 1, 1);
    mqg_prom_family(f, "mqgate_uptime_seconds", "gauge", "Seconds since the gateway started.");
    mqg_prom_f64(f, "mqgate_uptime_seconds", NULL, 0, (double)(now - S->started_ms) / 1e3);
    s_processes(f, S, now);
    s_connections(f, views, n_views);
    s_journal(f, views, n_views);
    s_router(f, S);
    s_routes(f, S);
    free(views);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
