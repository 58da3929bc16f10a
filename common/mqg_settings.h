/* mqg_settings — the gateway's own settings, read from a libconfig file (etc/mqgate.cfg).
 *
 * Used by the supervisor only; children receive what they need over the control channel.
 * Every setting has a default (mqg_settings_defaults), so no file is needed. Unknown settings
 * and wrong types are errors naming file, line, column and setting. libconfig is touched only
 * by mqg_settings.c.
 */
#ifndef MQG_SETTINGS_H
#define MQG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_cpus.h"
#include "mqg_error.h"
#include "mqg_ibroker.h"
#include "mqg_service.h"

/* Default bounds of the queues in memory (connector.outbound_queue_max(_bytes),
 * router.queue_max(_bytes)): with the journal (the default) the source journals hold an
 * outage's backlog; without it the queues do. */
#define MQG_SETTINGS_QUEUE_JOURNAL 20000
#define MQG_SETTINGS_QUEUE_BYTES_JOURNAL (16 << 20)
#define MQG_SETTINGS_QUEUE 100000
#define MQG_SETTINGS_QUEUE_BYTES (64 << 20)

struct mqg_settings_service {
    char *file;               /* resolved relative to the settings file's directory */
    struct mqg_param *params; /* name/value point into owned strings below */
    char **owned;             /* 2 * n_params strings owned by this struct */
    size_t n_params;
};

struct mqg_settings {
    char *instance;    /* "mqgate" */
    char *runtime_dir; /* base dir; the instance dir is <runtime_dir>/<instance>; default
                          /run/mqgate (root), $XDG_RUNTIME_DIR/mqgate, /tmp/mqgate-<uid> */
    int log_level;     /* MQG_LOG_* value; default info */
    char *log_file;    /* NULL/"" = stderr; `log.file` or `log_file`, reopened on SIGUSR1 */
    /* child restart policy */
    uint32_t restart_backoff_ms;     /* 250 */
    uint32_t restart_backoff_max_ms; /* 30000 */
    int restart_max;                 /* 10 crashes ... */
    int restart_window_s;            /* ... within 60 s => state "failed" */
    int restart_failed_retry_s;      /* 60: a failed child is tried again after this */
    int stable_after_s;              /* 10: uptime after which backoff resets */
    int heartbeat_ms;                /* 1000 */
    int heartbeat_misses;            /* 3 */
    int stop_grace_ms;               /* 3000: TERM -> KILL */
    struct mqg_cpus cpu_affinity;    /* "auto": every process on one CPU (mqg_cpus.h) */
    /* connector queues */
    int outbound_queue_max;       /* 20000 (journal on) or 100000 messages per connector */
    int outbound_queue_max_bytes; /* 16 or 64 MiB: the same queue in bytes of topic+payload */
    int max_inflight;             /* 1000 publishes in flight per connector */
    /* router */
    int router_queue_max;       /* 20000 (journal on) or 100000 per target connection */
    int router_queue_max_bytes; /* 16 or 64 MiB: the same in bytes */
    /* operations over HTTP: /metrics and /health, off unless http.listen is set */
    char *http_listen;       /* "host:port" as written; NULL: no HTTP server */
    char *http_host;         /* ... its host (an IPv6 address without brackets) */
    int http_port;           /* ... its port, 1..65535 */
    int http_disconnected_s; /* 5: /health fails once a connection is down this long */
    /* services to load in addition to those on the command line */
    struct mqg_settings_service *services;
    size_t n_services;
    /* the internal broker: embedded mosquitto on 127.0.0.1:11883 (mqg_ibroker.h) */
    struct mqg_ib_settings internal_broker;
    /* crash-safe delivery (docs/delivery.md) */
    char *state_dir;             /* journals in <state_dir>/<instance>/<connection>; default
                                  * /var/lib/mqgate (root), $XDG_STATE_HOME/mqgate or
                                  * ~/.local/state/mqgate */
    bool journal_enabled;        /* true */
    long long journal_max_bytes; /* 1 GiB per source connection */
    int journal_sync;            /* MQG_SETTINGS_SYNC_*: none */
    int journal_sync_ms;         /* 100: the interval of "interval" */
    int journal_full_wait_ms;    /* 10000: a full journal holds a message this long */
    /* rules (docs/rules.md) */
    int rules_time_limit_ms; /* 1000: one evaluation of a rule's expression at most */
};

enum { MQG_SETTINGS_SYNC_NONE = 0, MQG_SETTINGS_SYNC_INTERVAL = 1, MQG_SETTINGS_SYNC_ALWAYS = 2 };

/* The names of the journal.sync values, by value. */
extern const char *const mqg_settings_sync_names[3];

/* Fill s with defaults (heap strings owned by s). Returns 0 or -ENOMEM. */
int mqg_settings_defaults(struct mqg_settings *s);

/* Defaults, then override from the libconfig file at path. Returns 0, or -EINVAL/-ENOENT with
 * *err filled. On error s is left freed (empty). */
int mqg_settings_load(const char *path, struct mqg_settings *s, struct mqg_error *err);

/* NULL-safe; frees everything owned by s. */
void mqg_settings_free(struct mqg_settings *s);

#endif
