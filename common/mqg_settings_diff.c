/* mqg_settings_diff — the settings a reload finds changed, by class (see mqg_settings_diff.h).
 */
#include "mqg_settings_diff.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool s_str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool s_cpus_same(const struct mqg_cpus *a, const struct mqg_cpus *b)
{
    return a->mode == b->mode && (a->mode != MQG_CPUS_LIST || CPU_EQUAL(&a->list, &b->list));
}

static void s_note(struct mqg_settings_diff *d, bool changed, const char *name,
                   enum mqg_sd_class how)
{
    if (changed && d->n < MQG_SD_MAX) {
        d->change[d->n++] = (struct mqg_sd_change){.name = name, .how = how};
        d->how |= (unsigned)how;
    }
}

static bool s_listeners_same(const struct mqg_ib_settings *a, const struct mqg_ib_settings *b)
{
    bool same = a->n_listeners == b->n_listeners;
    for (size_t i = 0; same && i < a->n_listeners; i++) {
        const struct mqg_ib_listener *x = &a->listeners[i], *y = &b->listeners[i];
        same = s_str_same(x->host, y->host) && x->port == y->port &&
               s_str_same(x->cafile, y->cafile) && s_str_same(x->certfile, y->certfile) &&
               s_str_same(x->keyfile, y->keyfile) &&
               x->require_certificate == y->require_certificate;
    }
    return same;
}

/* internal_broker. A changed mode is the one change noted (class broker when it is embedded
 * before or after: the broker starts or stops; else model: the connection goes, comes or
 * changes), whatever else changed with it. In the same mode: what makes mosquitto.conf (class
 * broker) when embedded, what makes the external broker's connection (class model: the
 * model's plan restarts that connection) when external; nothing when off. */
static void s_ib(struct mqg_settings_diff *d, const struct mqg_ib_settings *a,
                 const struct mqg_ib_settings *b)
{
    if (a->mode != b->mode) {
        bool emb = a->mode == MQG_IB_EMBEDDED || b->mode == MQG_IB_EMBEDDED;
        s_note(d, true, "internal_broker.mode", emb ? MQG_SD_BROKER : MQG_SD_MODEL);
        return;
    }
    bool emb = a->mode == MQG_IB_EMBEDDED;
    bool ext = a->mode == MQG_IB_EXTERNAL;
    s_note(d,
           emb && (!s_str_same(a->listen_host, b->listen_host) || a->listen_port != b->listen_port),
           "internal_broker.listen", MQG_SD_BROKER);
    s_note(d, emb && !s_listeners_same(a, b), "internal_broker.listeners", MQG_SD_BROKER);
    s_note(d, emb && !s_str_same(a->mosquitto, b->mosquitto), "internal_broker.mosquitto",
           MQG_SD_BROKER);
    s_note(d, emb && !s_str_same(a->password_file, b->password_file),
           "internal_broker.password_file", MQG_SD_BROKER);
    s_note(d, ext && !s_str_same(a->url, b->url), "internal_broker.url", MQG_SD_MODEL);
    s_note(d,
           ext && (!s_str_same(a->username, b->username) || !s_str_same(a->password, b->password)),
           "internal_broker.username/password", MQG_SD_MODEL);
    s_note(d,
           ext && (!s_str_same(a->ca_cert, b->ca_cert) ||
                   !s_str_same(a->client_cert, b->client_cert) ||
                   !s_str_same(a->client_key, b->client_key) || a->trust_all != b->trust_all),
           "internal_broker TLS", MQG_SD_MODEL);
}

/* The settings applied by the supervisor itself. */
static void s_in_place(struct mqg_settings_diff *d, const struct mqg_settings *a,
                       const struct mqg_settings *b)
{
    const enum mqg_sd_class P = MQG_SD_IN_PLACE;
    s_note(d, a->log_level != b->log_level, "log.level", P);
    s_note(d, !s_str_same(a->log_file, b->log_file), "log.file", P);
    s_note(d, !s_str_same(a->http_listen, b->http_listen), "http.listen", P);
    s_note(d, a->http_disconnected_s != b->http_disconnected_s, "http.health_disconnected_s", P);
    s_note(d, a->restart_backoff_ms != b->restart_backoff_ms, "restart.backoff_ms", P);
    s_note(d, a->restart_backoff_max_ms != b->restart_backoff_max_ms, "restart.backoff_max_ms", P);
    s_note(d, a->restart_max != b->restart_max, "restart.max", P);
    s_note(d, a->restart_window_s != b->restart_window_s, "restart.window_s", P);
    s_note(d, a->restart_failed_retry_s != b->restart_failed_retry_s, "restart.failed_retry_s", P);
    s_note(d, a->stable_after_s != b->stable_after_s, "restart.stable_after_s", P);
    s_note(d, a->stop_grace_ms != b->stop_grace_ms, "stop_grace_ms", P);
}

/* The settings the children were started with. */
static void s_restart(struct mqg_settings_diff *d, const struct mqg_settings *a,
                      const struct mqg_settings *b)
{
    const enum mqg_sd_class C = MQG_SD_CONNECTORS;
    s_note(d, a->outbound_queue_max != b->outbound_queue_max, "connector.outbound_queue_max", C);
    s_note(d, a->outbound_queue_max_bytes != b->outbound_queue_max_bytes,
           "connector.outbound_queue_max_bytes", C);
    s_note(d, a->max_inflight != b->max_inflight, "connector.max_inflight", C);
    s_note(d, a->journal_enabled != b->journal_enabled, "journal.enabled", C);
    s_note(d, a->journal_max_bytes != b->journal_max_bytes, "journal.max_bytes", C);
    s_note(d, a->journal_sync != b->journal_sync, "journal.sync", C);
    s_note(d, a->journal_sync_ms != b->journal_sync_ms, "journal.sync_interval_ms", C);
    s_note(d, a->journal_full_wait_ms != b->journal_full_wait_ms, "journal.full_wait_ms", C);
    s_note(d, a->router_queue_max != b->router_queue_max, "router.queue_max", MQG_SD_ROUTER);
    s_note(d, a->router_queue_max_bytes != b->router_queue_max_bytes, "router.queue_max_bytes",
           MQG_SD_ROUTER);
    s_note(d, a->heartbeat_ms != b->heartbeat_ms, "heartbeat.interval_ms", MQG_SD_ALL);
    s_note(d, a->heartbeat_misses != b->heartbeat_misses, "heartbeat.misses", MQG_SD_ALL);
}

void mqg_settings_diff(const struct mqg_settings *a, const struct mqg_settings *b,
                       struct mqg_settings_diff *d)
{
    memset(d, 0, sizeof(*d));
    const enum mqg_sd_class R = MQG_SD_REFUSED;
    s_note(d, !s_str_same(a->instance, b->instance), "instance", R);
    s_note(d, !s_str_same(a->runtime_dir, b->runtime_dir), "runtime_dir", R);
    s_note(d, !s_str_same(a->state_dir, b->state_dir), "state_dir", R);
    s_note(d, !s_cpus_same(&a->cpu_affinity, &b->cpu_affinity), "cpu_affinity", R);
    s_in_place(d, a, b);
    s_restart(d, a, b);
    s_ib(d, &a->internal_broker, &b->internal_broker);
    /* the rules process's connection in the model carries it: its plan restarts the process */
    s_note(d, a->rules_time_limit_ms != b->rules_time_limit_ms, "rules.time_limit_ms",
           MQG_SD_MODEL);
}

size_t mqg_settings_diff_names(const struct mqg_settings_diff *d, enum mqg_sd_class how, char *out,
                               size_t cap)
{
    size_t n = 0, off = 0;
    if (cap) {
        out[0] = '\0';
    }
    for (size_t i = 0; i < d->n; i++) {
        if (d->change[i].how != how) {
            continue;
        }
        int w = snprintf(out + off, cap > off ? cap - off : 0, "%s%s", n ? ", " : "",
                         d->change[i].name);
        off = w > 0 && off + (size_t)w < cap ? off + (size_t)w : off;
        n++;
    }
    return n;
}
