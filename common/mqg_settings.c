/* mqg_settings — loads the gateway's own settings (etc/mqgate.cfg) with libconfig.
 *
 * Used by the supervisor only; the only file that includes <libconfig.h>. Settings are
 * described by one table (s_descs): name, type, range, field. Anything not in the table is an
 * error, as is a wrong type or a value out of range; every error names file, line, column and
 * the dotted setting path. libconfig reports no column, so it is found by reading the line
 * back. No global state; all strings in struct mqg_settings are heap copies owned by it.
 */
#include "mqg_settings.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqg_hostport.h"
#include "mqg_log.h"
#include "mqg_settings_desc.h"
#include "mqg_settings_diff.h"
#include "mqg_settings_read.h"
#include "mqg_url.h"

#define INSTANCE_MAX 64

const char *const mqg_settings_sync_names[3] = {"none", "interval", "always"};

#define F(field) offsetof(struct mqg_settings, field)

/* How a reload applies a change (mqg_settings_diff.h), per row. */
#define REF MQG_SD_REFUSED
#define INP MQG_SD_IN_PLACE
#define CON MQG_SD_CONNECTORS
#define ROU MQG_SD_ROUTER
#define ALL MQG_SD_ALL
#define MOD MQG_SD_MODEL /* the model carries it (rules.time_limit_ms: the rules connection) */
#define TOP(name, kind, min, max, off, how)                                                        \
    {                                                                                              \
        NULL, name, kind, min, max, off, name, how                                                 \
    }
#define GRP(group, name, kind, min, max, off, how)                                                 \
    {                                                                                              \
        group, name, kind, min, max, off, group "." name, how                                      \
    }

/* Class 0: log_file is log.file again; internal_broker.*: the class depends on the mode
 * (mqg_settings_diff.c). */
static const struct mqg_setting_desc s_descs[] = {
    TOP("instance", K_INSTANCE, 0, 0, F(instance), REF),
    TOP("runtime_dir", K_ABSDIR, 0, 0, F(runtime_dir), REF),
    GRP("log", "level", K_LEVEL, 0, 0, F(log_level), INP),
    GRP("log", "file", K_FILE, 0, 0, F(log_file), INP),
    TOP("log_file", K_FILE, 0, 0, F(log_file), 0), /* the same as log.file */
    GRP("restart", "backoff_ms", K_U32, 1, 3600000, F(restart_backoff_ms), INP),
    GRP("restart", "backoff_max_ms", K_U32, 1, 86400000, F(restart_backoff_max_ms), INP),
    GRP("restart", "max", K_INT, 1, 1000000, F(restart_max), INP),
    GRP("restart", "window_s", K_INT, 1, 86400, F(restart_window_s), INP),
    GRP("restart", "failed_retry_s", K_INT, 1, 86400, F(restart_failed_retry_s), INP),
    GRP("restart", "stable_after_s", K_INT, 1, 86400, F(stable_after_s), INP),
    GRP("heartbeat", "interval_ms", K_INT, 100, 60000, F(heartbeat_ms), ALL),
    GRP("heartbeat", "misses", K_INT, 1, 100, F(heartbeat_misses), ALL),
    TOP("stop_grace_ms", K_INT, 0, 600000, F(stop_grace_ms), INP),
    TOP("cpu_affinity", K_CPUS, 0, 0, F(cpu_affinity), REF),
    GRP("connector", "outbound_queue_max", K_INT, 1, 100000000, F(outbound_queue_max), CON),
    GRP("connector", "outbound_queue_max_bytes", K_INT, 65536, INT_MAX, F(outbound_queue_max_bytes),
        CON),
    GRP("connector", "max_inflight", K_INT, 1, 65535, F(max_inflight), CON),
    GRP("router", "queue_max", K_INT, 1, 100000000, F(router_queue_max), ROU),
    GRP("router", "queue_max_bytes", K_INT, 65536, INT_MAX, F(router_queue_max_bytes), ROU),
    GRP("internal_broker", "mode", K_IB_MODE, 0, 0, F(internal_broker.mode), 0),
    GRP("internal_broker", "listen", K_IB_LISTEN, 0, 0, F(internal_broker), 0),
    GRP("internal_broker", "mosquitto", K_NAME, 0, 0, F(internal_broker.mosquitto), 0),
    GRP("internal_broker", "password_file", K_PATH, 0, 0, F(internal_broker.password_file), 0),
    GRP("internal_broker", "listeners", K_TEXT, 0, 0, 0, 0), /* a list: s_load_listeners */
    GRP("internal_broker", "url", K_TEXT, 0, 0, F(internal_broker.url), 0),
    GRP("internal_broker", "username", K_TEXT, 0, 0, F(internal_broker.username), 0),
    GRP("internal_broker", "password", K_TEXT, 0, 0, F(internal_broker.password), 0),
    GRP("internal_broker", "ca_cert", K_CERT, 0, 0, F(internal_broker.ca_cert), 0),
    GRP("internal_broker", "client_cert", K_CERT, 0, 0, F(internal_broker.client_cert), 0),
    GRP("internal_broker", "client_key", K_CERT, 0, 0, F(internal_broker.client_key), 0),
    GRP("internal_broker", "trust_all_certificates", K_BOOL, 0, 0, F(internal_broker.trust_all), 0),
    GRP("http", "listen", K_LISTEN, 0, 0, F(http_listen), INP),
    GRP("http", "health_disconnected_s", K_INT, 1, 86400, F(http_disconnected_s), INP),
    TOP("state_dir", K_ABSDIR, 0, 0, F(state_dir), REF),
    GRP("journal", "enabled", K_BOOL, 0, 0, F(journal_enabled), CON),
    GRP("journal", "max_bytes", K_I64, 1 << 20, 1LL << 50, F(journal_max_bytes), CON),
    GRP("journal", "sync", K_SYNC, 0, 0, F(journal_sync), CON),
    GRP("journal", "sync_interval_ms", K_INT, 1, 600000, F(journal_sync_ms), CON),
    GRP("journal", "full_wait_ms", K_INT, 0, 3600000, F(journal_full_wait_ms), CON),
    GRP("rules", "time_limit_ms", K_INT, 10, 600000, F(rules_time_limit_ms), MOD),
};

#define N_DESCS (sizeof(s_descs) / sizeof(s_descs[0]))

const struct mqg_setting_desc *mqg_settings_descs(size_t *n)
{
    *n = N_DESCS;
    return s_descs;
}

/* Top-level names in the order they are listed in error messages. */
static const char *const s_root_names[] = {
    "instance",      "runtime_dir",  "log",       "log_file", "restart",         "heartbeat",
    "stop_grace_ms", "cpu_affinity", "connector", "router",   "internal_broker", "state_dir",
    "journal",       "http",         "rules",     "services"};
static const char *const s_groups[] = {"log",       "restart",         "heartbeat",
                                       "connector", "router",          "journal",
                                       "http",      "internal_broker", "rules"};

static bool s_instance_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > INSTANCE_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        return false;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Replace the heap string at *slot with a copy of v (NULL allowed). */
static int s_set_str(char **slot, const char *v)
{
    char *d = NULL;
    if (v && !(d = mqg_set_strdup(v))) {
        return -ENOMEM;
    }
    free(*slot);
    *slot = d;
    return 0;
}

static int s_apply_int(const struct mqg_set_ctx *c, const struct mqg_setting_desc *d,
                       const config_setting_t *st, const char *path, void *field)
{
    long long v = 0;
    int rc = mqg_set_get_int(c, st, path, d->min, d->max, &v);
    if (rc < 0) {
        return rc;
    }
    if (d->kind == K_INT) {
        *(int *)field = (int)v;
    } else {
        *(uint32_t *)field = (uint32_t)v;
    }
    return 0;
}

static int s_apply_instance(const struct mqg_set_ctx *c, const config_setting_t *st,
                            const char *path, void *field)
{
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, "a name", &str);
    if (rc < 0) {
        return rc;
    }
    if (!s_instance_ok(str)) {
        return mqg_set_fail(c, st, path,
                            "expected a name of 1..%d characters A-Z a-z 0-9 _ . - (not \".\" or "
                            "\"..\"), got \"%s\"",
                            INSTANCE_MAX, str);
    }
    return s_set_str(field, str);
}

static int s_apply_absdir(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                          void *field)
{
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, "an absolute directory path", &str);
    if (rc < 0) {
        return rc;
    }
    if (str[0] != '/' || strlen(str) >= PATH_MAX) {
        return mqg_set_fail(c, st, path, "expected an absolute directory path, got \"%s\"", str);
    }
    return s_set_str(field, str);
}

static int s_apply_file(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                        void *field)
{
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, "a file path (\"\" = standard error)", &str);
    if (rc < 0) {
        return rc;
    }
    if (str[0] == '\0') {
        return s_set_str(field, NULL);
    }
    char *p = mqg_set_resolve(c->dir, str);
    if (!p) {
        return -ENOMEM;
    }
    free(*(char **)field);
    *(char **)field = p;
    return 0;
}

static int s_apply_level(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                         void *field)
{
    const char *what = "one of \"debug\", \"info\", \"notice\", \"warn\", \"error\"";
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, what, &str);
    if (rc < 0) {
        return rc;
    }
    int level = mqg_log_level_parse(str);
    if (level < 0) {
        return mqg_set_fail(c, st, path, "expected %s, got \"%s\"", what, str);
    }
    *(int *)field = level;
    return 0;
}

static int s_apply_cpus(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                        void *field)
{
    const char *what = "\"auto\", \"none\" or a list of CPUs such as \"0,2-3\"";
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, what, &str);
    if (rc < 0) {
        return rc;
    }
    struct mqg_cpus cpus;
    char msg[200];
    if (mqg_cpus_parse(str, &cpus, msg, sizeof(msg)) < 0) {
        return mqg_set_fail(c, st, path, "%s", msg);
    }
    cpu_set_t allowed, use;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
        mqg_cpus_resolve(&cpus, &allowed, &use) == -ENXIO) {
        char have[128];
        mqg_cpus_format(&allowed, have, sizeof(have));
        return mqg_set_fail(c, st, path,
                            "none of the CPUs \"%s\" is available here (available: %s)", str, have);
    }
    *(struct mqg_cpus *)field = cpus;
    return 0;
}

/* K_TEXT, K_NAME, K_PATH, K_CERT: text into a heap string ("" = NULL, except K_NAME). */
static int s_apply_text(const struct mqg_set_ctx *c, const struct mqg_setting_desc *d,
                        const config_setting_t *st, const char *path, void *field)
{
    const char *what = d->kind == K_NAME ? "a name or a path" : "text";
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, what, &str);
    if (rc < 0) {
        return rc;
    }
    if (str[0] == '\0') {
        return d->kind == K_NAME ? mqg_set_fail(c, st, path, "expected %s, got \"\"", what)
                                 : s_set_str(field, NULL);
    }
    bool pem = d->kind == K_CERT && strstr(str, "-----BEGIN");
    if ((d->kind != K_PATH && d->kind != K_CERT) || pem) {
        return s_set_str(field, str);
    }
    char *p = mqg_set_resolve(c->dir, str);
    if (!p) {
        return -ENOMEM;
    }
    free(*(char **)field);
    *(char **)field = p;
    return 0;
}

static int s_apply_listen(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                          struct mqg_settings *s)
{
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, "HOST:PORT", &str);
    if (rc < 0) {
        return rc;
    }
    char host[MQG_HOST_MAX + 1];
    const char *why = NULL;
    if (mqg_hostport_parse(str, host, sizeof(host), &s->http_port, &why) != 0) {
        return mqg_set_fail(c, st, path, "%s; got \"%s\"", why, str);
    }
    if ((rc = s_set_str(&s->http_listen, str)) == 0) {
        rc = s_set_str(&s->http_host, host);
    }
    return rc;
}

static int s_apply_bool(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                        void *field)
{
    if (config_setting_type(st) != CONFIG_TYPE_BOOL) {
        return mqg_set_fail(c, st, path, "expected true or false, got %s",
                            mqg_set_type_name(config_setting_type(st)));
    }
    *(bool *)field = config_setting_get_bool(st) != 0;
    return 0;
}

static int s_apply_i64(const struct mqg_set_ctx *c, const struct mqg_setting_desc *d,
                       const config_setting_t *st, const char *path, void *field)
{
    long long v = 0;
    int rc = mqg_set_get_int(c, st, path, d->min, d->max, &v);
    if (rc == 0) {
        *(long long *)field = v;
    }
    return rc;
}

static int s_apply_sync(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                        void *field)
{
    const char *what = "one of \"none\", \"interval\", \"always\"";
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, what, &str);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(str, mqg_settings_sync_names[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
    }
    return mqg_set_fail(c, st, path, "expected %s, got \"%s\"", what, str);
}

static int s_apply_ib_mode(const struct mqg_set_ctx *c, const config_setting_t *st,
                           const char *path, void *field)
{
    const char *what = "one of \"embedded\", \"external\", \"off\"";
    const char *str = NULL;
    int rc = mqg_set_get_string(c, st, path, what, &str);
    if (rc < 0) {
        return rc;
    }
    int mode = mqg_ibroker_mode_parse(str);
    if (mode < 0) {
        return mqg_set_fail(c, st, path, "expected %s, got \"%s\"", what, str);
    }
    *(enum mqg_ib_mode *)field = (enum mqg_ib_mode)mode;
    return 0;
}

/* "HOST:PORT" into *host and *port. */
static int s_listen(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                    char **host, int *port)
{
    const char *str = NULL;
    char why[200];
    int rc = mqg_set_get_string(c, st, path, "\"HOST:PORT\"", &str);
    if (rc < 0) {
        return rc;
    }
    char *h = NULL;
    rc = mqg_ibroker_parse_listen(str, &h, port, why, sizeof(why));
    if (rc == -EINVAL) {
        return mqg_set_fail(c, st, path, "%s", why);
    }
    if (rc < 0) {
        return rc;
    }
    free(*host);
    *host = h;
    return 0;
}

static int s_apply_ib_listen(const struct mqg_set_ctx *c, const config_setting_t *st,
                             const char *path, void *field)
{
    struct mqg_ib_settings *ib = field;
    return s_listen(c, st, path, &ib->listen_host, &ib->listen_port);
}

static int s_apply(const struct mqg_set_ctx *c, const struct mqg_setting_desc *d,
                   const config_setting_t *st, const char *path, struct mqg_settings *s)
{
    void *field = (char *)s + d->off;
    switch (d->kind) {
    case K_INT:
    case K_U32:
        return s_apply_int(c, d, st, path, field);
    case K_INSTANCE:
        return s_apply_instance(c, st, path, field);
    case K_ABSDIR:
        return s_apply_absdir(c, st, path, field);
    case K_FILE:
        return s_apply_file(c, st, path, field);
    case K_LEVEL:
        return s_apply_level(c, st, path, field);
    case K_CPUS:
        return s_apply_cpus(c, st, path, field);
    case K_TEXT:
    case K_NAME:
    case K_PATH:
    case K_CERT:
        return s_apply_text(c, d, st, path, field);
    case K_LISTEN:
        return s_apply_listen(c, st, path, s);
    case K_BOOL:
        return s_apply_bool(c, st, path, field);
    case K_IB_MODE:
        return s_apply_ib_mode(c, st, path, field);
    case K_IB_LISTEN:
        return s_apply_ib_listen(c, st, path, field);
    case K_I64:
        return s_apply_i64(c, d, st, path, field);
    case K_SYNC:
        return s_apply_sync(c, st, path, field);
    }
    return -EINVAL;
}

/* ---- groups and unknown settings ---- */

static const struct mqg_setting_desc *s_find_desc(const char *group, const char *name)
{
    for (size_t i = 0; i < N_DESCS; i++) {
        const struct mqg_setting_desc *d = &s_descs[i];
        bool same_group = group ? (d->group && strcmp(d->group, group) == 0) : !d->group;
        if (same_group && strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

static bool s_is_group_name(const char *name)
{
    for (size_t i = 0; i < sizeof(s_groups) / sizeof(s_groups[0]); i++) {
        if (strcmp(s_groups[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* "a, b, c" of the settings known in group (NULL = top level). */
static void s_known_list(const char *group, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    if (!group) {
        for (size_t i = 0; i < sizeof(s_root_names) / sizeof(s_root_names[0]); i++) {
            int n = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", s_root_names[i]);
            off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
        }
        return;
    }
    for (size_t i = 0; i < N_DESCS; i++) {
        if (s_descs[i].group && strcmp(s_descs[i].group, group) == 0) {
            int n = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", s_descs[i].name);
            off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
        }
    }
}

static int s_unknown(const struct mqg_set_ctx *c, const config_setting_t *st, const char *group,
                     const char *path)
{
    char known[256];
    s_known_list(group, known, sizeof(known));
    return mqg_set_fail(c, st, path, "unknown setting; known %s: %s",
                        group ? "in this group" : "at top level", known);
}

/* ---- internal_broker.listeners ---- */

/* One entry { listen; cafile; certfile; keyfile; require_certificate; } into *l. */
static int s_load_listener(const struct mqg_set_ctx *c, const config_setting_t *e, size_t idx,
                           struct mqg_ib_listener *l)
{
    static const char *const known = "listen, cafile, certfile, keyfile, require_certificate";
    static const struct mqg_setting_desc path_desc = {NULL, "", K_PATH, 0, 0, 0, "", 0};
    char base[64];
    char path[128];
    snprintf(base, sizeof(base), "internal_broker.listeners[%zu]", idx);
    if (!config_setting_is_group(e)) {
        return mqg_set_fail(c, e, base, "expected a group { listen = \"HOST:PORT\"; ... }, got %s",
                            mqg_set_type_name(config_setting_type(e)));
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < config_setting_length(e); i++) {
        const config_setting_t *st = config_setting_get_elem(e, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", base, name);
        if (strcmp(name, "listen") == 0) {
            rc = s_listen(c, st, path, &l->host, &l->port);
        } else if (strcmp(name, "cafile") == 0) {
            rc = s_apply_text(c, &path_desc, st, path, &l->cafile);
        } else if (strcmp(name, "certfile") == 0) {
            rc = s_apply_text(c, &path_desc, st, path, &l->certfile);
        } else if (strcmp(name, "keyfile") == 0) {
            rc = s_apply_text(c, &path_desc, st, path, &l->keyfile);
        } else if (strcmp(name, "require_certificate") == 0) {
            rc = s_apply_bool(c, st, path, &l->require_certificate);
        } else {
            rc = mqg_set_fail(c, st, path, "unknown setting; known in a listener: %s", known);
        }
    }
    if (rc == 0 && !l->host) {
        snprintf(path, sizeof(path), "%s.listen", base);
        rc = mqg_set_fail(c, e, path, "missing; expected listen = \"HOST:PORT\"");
    }
    if (rc == 0 && (!l->certfile) != (!l->keyfile)) {
        snprintf(path, sizeof(path), "%s.%s", base, l->certfile ? "keyfile" : "certfile");
        rc = mqg_set_fail(c, e, path, "missing; expected certfile and keyfile together (TLS)");
    }
    return rc;
}

static int s_load_listeners(const struct mqg_set_ctx *c, const config_setting_t *l,
                            struct mqg_ib_settings *ib)
{
    int type = config_setting_type(l);
    size_t n = (size_t)config_setting_length(l);
    if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0)) {
        return mqg_set_fail(c, l, "internal_broker.listeners",
                            "expected a list ( { listen = \"HOST:PORT\"; ... }, ... ), got %s",
                            mqg_set_type_name(type));
    }
    if (n == 0) {
        return 0;
    }
    ib->listeners = calloc(n, sizeof(*ib->listeners));
    if (!ib->listeners) {
        return -ENOMEM;
    }
    ib->n_listeners = n;
    for (size_t i = 0; i < n; i++) {
        int rc = s_load_listener(c, config_setting_get_elem(l, (unsigned)i), i, &ib->listeners[i]);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int s_load_group(const struct mqg_set_ctx *c, const config_setting_t *g,
                        struct mqg_settings *s)
{
    const char *group = config_setting_name(g);
    char path[256];
    char known[256];
    if (!config_setting_is_group(g)) {
        s_known_list(group, known, sizeof(known));
        return mqg_set_fail(c, g, group, "expected a group { %s }, got %s", known,
                            mqg_set_type_name(config_setting_type(g)));
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", group, name);
        const struct mqg_setting_desc *d = s_find_desc(group, name);
        if (!d) {
            return s_unknown(c, st, group, path);
        }
        int rc = strcmp(path, "internal_broker.listeners") == 0
                     ? s_load_listeners(c, st, &s->internal_broker)
                     : s_apply(c, d, st, path, s);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- top level ---- */

static int s_load_root(const struct mqg_set_ctx *c, const config_t *cfg, struct mqg_settings *s)
{
    const config_setting_t *root = config_root_setting(cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *st = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(st);
        const struct mqg_setting_desc *d;
        int rc;
        if (strcmp(name, "services") == 0) {
            rc = mqg_set_load_services(c, st, s);
        } else if (s_is_group_name(name)) {
            rc = s_load_group(c, st, s);
        } else if ((d = s_find_desc(NULL, name))) {
            rc = s_apply(c, d, st, name, s);
        } else {
            rc = s_unknown(c, st, NULL, name);
        }
        if (rc < 0) {
            return rc;
        }
    }
    const config_setting_t *alias = config_lookup(cfg, "log_file");
    if (alias && config_lookup(cfg, "log.file")) {
        return mqg_set_fail(c, alias, "log_file",
                            "log.file is set too; they are the same setting: keep one");
    }
    if (s->restart_backoff_max_ms < s->restart_backoff_ms) {
        const config_setting_t *st = config_lookup(cfg, "restart.backoff_max_ms");
        const char *path = "restart.backoff_max_ms";
        if (!st) {
            st = config_lookup(cfg, "restart.backoff_ms");
            path = "restart.backoff_ms";
        }
        return mqg_set_fail(c, st, path,
                            "restart.backoff_max_ms (%u) must be at least restart.backoff_ms (%u)",
                            (unsigned)s->restart_backoff_max_ms, (unsigned)s->restart_backoff_ms);
    }
    return mqg_set_check_ibroker(c, cfg, &s->internal_broker);
}

/* 0 when path is a regular, readable file; else the errno why not. */
static int s_check_readable(const char *path)
{
    struct stat sb;
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno;
    }
    int e = 0;
    if (fstat(fileno(f), &sb) < 0) {
        e = errno;
    } else if (S_ISDIR(sb.st_mode)) {
        e = EISDIR;
    }
    fclose(f);
    return e;
}

int mqg_settings_defaults(struct mqg_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->instance = mqg_set_strdup("mqgate");
    s->runtime_dir = mqg_set_default_runtime_dir();
    s->state_dir = mqg_set_default_state_dir();
    if (!s->instance || !s->runtime_dir || !s->state_dir) {
        mqg_settings_free(s);
        return -ENOMEM;
    }
    s->log_level = MQG_LOG_INFO;
    s->log_file = NULL;
    s->restart_backoff_ms = 250;
    s->restart_backoff_max_ms = 30000;
    s->restart_max = 10;
    s->restart_window_s = 60;
    s->restart_failed_retry_s = 60;
    s->stable_after_s = 10;
    s->heartbeat_ms = 1000;
    s->heartbeat_misses = 3;
    s->stop_grace_ms = 3000;
    s->outbound_queue_max = MQG_SETTINGS_QUEUE_JOURNAL;
    s->outbound_queue_max_bytes = MQG_SETTINGS_QUEUE_BYTES_JOURNAL;
    s->max_inflight = 1000;
    s->router_queue_max = MQG_SETTINGS_QUEUE_JOURNAL;
    s->router_queue_max_bytes = MQG_SETTINGS_QUEUE_BYTES_JOURNAL;
    if (mqg_ibroker_defaults(&s->internal_broker) != 0) {
        mqg_settings_free(s);
        return -ENOMEM;
    }
    s->http_disconnected_s = 5;
    s->journal_enabled = true;
    s->journal_max_bytes = 1LL << 30;
    s->journal_sync = MQG_SETTINGS_SYNC_NONE;
    s->journal_sync_ms = 100;
    s->journal_full_wait_ms = 10000;
    s->rules_time_limit_ms = 1000;
    return 0;
}

/* The queues in memory hold an outage's backlog only without the journal (with it, the
 * source journals do): journal.enabled = false gives the queue bounds that are not set the
 * larger defaults of a gateway without a journal. */
static void s_queue_defaults(config_t *cfg, struct mqg_settings *s)
{
    if (s->journal_enabled) {
        return;
    }
    const struct {
        const char *path;
        int *v;
        int dflt;
    } b[] = {
        {"connector.outbound_queue_max", &s->outbound_queue_max, MQG_SETTINGS_QUEUE},
        {"connector.outbound_queue_max_bytes", &s->outbound_queue_max_bytes,
         MQG_SETTINGS_QUEUE_BYTES},
        {"router.queue_max", &s->router_queue_max, MQG_SETTINGS_QUEUE},
        {"router.queue_max_bytes", &s->router_queue_max_bytes, MQG_SETTINGS_QUEUE_BYTES},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        if (!config_lookup(cfg, b[i].path)) {
            *b[i].v = b[i].dflt;
        }
    }
}

/* Returns 0; -ENOENT (file missing) or -EIO (unreadable) or -EINVAL (content), each with *err
 * filled; or -ENOMEM. */
int mqg_settings_load(const char *path, struct mqg_settings *s, struct mqg_error *err)
{
    int rc = mqg_settings_defaults(s);
    if (rc < 0) {
        return rc;
    }
    struct mqg_set_ctx c = {.path = path, .dir = mqg_set_dirname(path), .err = err};
    if (!c.dir) {
        mqg_settings_free(s);
        return -ENOMEM;
    }
    int e = s_check_readable(path);
    if (e) {
        rc = e == ENOENT ? -ENOENT : -EIO;
        mqg_error_set(err, path, 0, 0, NULL, "cannot read the settings file: %s", strerror(e));
        free(c.dir);
        mqg_settings_free(s);
        return rc;
    }

    config_t cfg;
    config_init(&cfg);
    config_set_include_dir(&cfg, c.dir[0] ? c.dir : ".");
    if (!config_read_file(&cfg, path)) {
        char file[512];
        mqg_set_source_path(&c, config_error_file(&cfg), file, sizeof(file));
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
            mqg_error_set(err, file, 0, 0, NULL, "cannot read: %s", config_error_text(&cfg));
            rc = -EIO;
        } else {
            mqg_error_set(err, file, config_error_line(&cfg), 0, NULL, "%s",
                          config_error_text(&cfg));
            rc = -EINVAL;
        }
    } else {
        rc = s_load_root(&c, &cfg, s);
        if (rc == 0) {
            s_queue_defaults(&cfg, s);
        }
    }
    config_destroy(&cfg);
    free(c.dir);
    if (rc < 0) {
        mqg_settings_free(s);
    }
    return rc;
}

void mqg_settings_free(struct mqg_settings *s)
{
    if (!s) {
        return;
    }
    free(s->instance);
    free(s->runtime_dir);
    free(s->state_dir);
    free(s->log_file);
    free(s->http_listen);
    free(s->http_host);
    for (size_t i = 0; i < s->n_services; i++) {
        struct mqg_settings_service *svc = &s->services[i];
        free(svc->file);
        if (svc->owned) {
            for (size_t j = 0; j < 2 * svc->n_params; j++) {
                free(svc->owned[j]);
            }
        }
        free(svc->owned);
        free(svc->params);
    }
    free(s->services);
    mqg_ibroker_free(&s->internal_broker);
    memset(s, 0, sizeof(*s));
}
