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

#include "mqg_log.h"

#define INSTANCE_MAX 64

enum kind {
    K_INT,      /* int field, integer range */
    K_U32,      /* uint32_t field, integer range */
    K_INSTANCE, /* char *, [A-Za-z0-9_.-]{1,64} */
    K_ABSDIR,   /* char *, absolute path */
    K_FILE,     /* char *, "" = NULL, relative to the settings file's directory */
    K_LEVEL,    /* int, log level name */
    K_CPUS,     /* struct mqg_cpus, "auto" / "none" / "0,2-3" (mqg_cpus.h) */
};

struct desc {
    const char *group; /* NULL = top level */
    const char *name;
    enum kind kind;
    long long min;
    long long max;
    size_t off;
};

#define F(field) offsetof(struct mqg_settings, field)

static const struct desc s_descs[] = {
    {NULL, "instance", K_INSTANCE, 0, 0, F(instance)},
    {NULL, "runtime_dir", K_ABSDIR, 0, 0, F(runtime_dir)},
    {"log", "level", K_LEVEL, 0, 0, F(log_level)},
    {"log", "file", K_FILE, 0, 0, F(log_file)},
    {"restart", "backoff_ms", K_U32, 1, 3600000, F(restart_backoff_ms)},
    {"restart", "backoff_max_ms", K_U32, 1, 86400000, F(restart_backoff_max_ms)},
    {"restart", "max", K_INT, 1, 1000000, F(restart_max)},
    {"restart", "window_s", K_INT, 1, 86400, F(restart_window_s)},
    {"restart", "failed_retry_s", K_INT, 1, 86400, F(restart_failed_retry_s)},
    {"restart", "stable_after_s", K_INT, 1, 86400, F(stable_after_s)},
    {"heartbeat", "interval_ms", K_INT, 100, 60000, F(heartbeat_ms)},
    {"heartbeat", "misses", K_INT, 1, 100, F(heartbeat_misses)},
    {NULL, "stop_grace_ms", K_INT, 0, 600000, F(stop_grace_ms)},
    {NULL, "cpu_affinity", K_CPUS, 0, 0, F(cpu_affinity)},
    {"connector", "outbound_queue_max", K_INT, 1, 100000000, F(outbound_queue_max)},
    {"connector", "outbound_queue_max_bytes", K_INT, 65536, INT_MAX, F(outbound_queue_max_bytes)},
    {"connector", "max_inflight", K_INT, 1, 65535, F(max_inflight)},
    {"router", "queue_max", K_INT, 1, 100000000, F(router_queue_max)},
    {"router", "queue_max_bytes", K_INT, 65536, INT_MAX, F(router_queue_max_bytes)},
};

#define N_DESCS (sizeof(s_descs) / sizeof(s_descs[0]))

/* Top-level names in the order they are listed in error messages. */
static const char *const s_root_names[] = {
    "instance",     "runtime_dir", "log",       "restart", "heartbeat", "stop_grace_ms",
    "cpu_affinity", "connector",   "router",    "services"};
static const char *const s_groups[] = {"log", "restart", "heartbeat", "connector", "router"};

/* One load: where the file is, for error positions and relative paths. */
struct ctx {
    const char *path; /* as given by the user */
    char *dir;        /* directory of path, "" when path has no '/' */
    struct mqg_error *err;
};

/* ---- helpers: strings and paths ---- */

static char *s_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

static char *s_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return s_strdup("");
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* rel unchanged when absolute or when dir is ""; else "<dir>/<rel>". Caller frees. */
static char *s_resolve(const char *dir, const char *rel)
{
    if (rel[0] == '/' || dir[0] == '\0') {
        return s_strdup(rel);
    }
    size_t n = strlen(dir) + 1 + strlen(rel) + 1;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", rel);
    }
    return p;
}

static const char *s_type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a decimal number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
        return "a list ( ... )";
    default:
        return "nothing";
    }
}

/* ---- error positions ---- */

/* File name of a setting (or of a libconfig error) as a path the user can open: the main
 * file as given, an @include'd file relative to the settings directory. */
static void s_source_path(const struct ctx *c, const char *file, char *out, size_t cap)
{
    if (!file || strcmp(file, c->path) == 0 || file[0] == '/' || c->dir[0] == '\0') {
        snprintf(out, cap, "%s", file ? file : c->path);
        return;
    }
    snprintf(out, cap, "%s%s%s", c->dir, strcmp(c->dir, "/") == 0 ? "" : "/", file);
}

/* Reads line `line` (1-based) of file into buf; false if the file or line cannot be read. */
static bool s_read_line(const char *file, int line, char *buf, size_t cap)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        return false;
    }
    bool ok = false;
    int n = 1;
    while (fgets(buf, (int)cap, f)) {
        size_t len = strlen(buf);
        bool whole = len > 0 && buf[len - 1] == '\n';
        if (n == line) {
            ok = true;
            break;
        }
        if (whole) {
            n++;
        }
    }
    fclose(f);
    return ok;
}

static bool s_is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '*';
}

/* 0-based offset of `name` as a whole word in text, or -1. */
static int s_find_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    if (n == 0) {
        return -1;
    }
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        bool start_ok = p == text || !s_is_name_char(p[-1]);
        if (start_ok && !s_is_name_char(p[n])) {
            return (int)(p - text);
        }
    }
    return -1;
}

/* 1-based column of name on the line (1 if not found). */
static int s_find_col(const char *file, int line, const char *name)
{
    char buf[4096];
    if (!name || line <= 0 || !s_read_line(file, line, buf, sizeof(buf))) {
        return 1;
    }
    int off = s_find_word(buf, name);
    return off < 0 ? 1 : off + 1;
}

/* Fills c->err for setting st (path: dotted name) and returns -EINVAL. */
static int s_fail(const struct ctx *c, const config_setting_t *st, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int s_fail(const struct ctx *c, const config_setting_t *st, const char *path,
                  const char *fmt, ...)
{
    char file[512];
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s_source_path(c, st ? config_setting_source_file(st) : NULL, file, sizeof(file));
    int line = st ? (int)config_setting_source_line(st) : 0;
    int col = line > 0 ? s_find_col(file, line, st ? config_setting_name(st) : NULL) : 0;
    return mqg_error_set(c->err, file, line, col, path, "%s", msg);
}

/* ---- scalar values ---- */

/* libconfig 1.5 silently truncates an integer literal that does not fit in 32 bits (without
 * an L suffix): 99999999999 reads as 1215752191. Re-read the literal from the source line:
 * true (and *v) when it could be parsed there. Callers only trust a value outside the int
 * range (the case libconfig gets wrong), so a same-named setting earlier on the line cannot
 * replace a correct value. */
static bool s_source_int(const struct ctx *c, const config_setting_t *st, long long *v)
{
    char file[512];
    char buf[4096];
    const char *name = config_setting_name(st);
    int line = (int)config_setting_source_line(st);
    s_source_path(c, config_setting_source_file(st), file, sizeof(file));
    if (!name || !s_read_line(file, line, buf, sizeof(buf))) {
        return false;
    }
    int off = s_find_word(buf, name);
    if (off < 0) {
        return false;
    }
    const char *p = buf + off + strlen(name);
    p += strspn(p, " \t");
    if (*p != '=' && *p != ':') {
        return false;
    }
    p++;
    p += strspn(p, " \t");
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') {
        p++;
    }
    int base = (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) ? 16 : 10;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(p, &end, base);
    if (end == p) {
        return false;
    }
    if (errno == ERANGE || u > (unsigned long long)LLONG_MAX) {
        *v = neg ? LLONG_MIN : LLONG_MAX;
    } else {
        *v = neg ? -(long long)u : (long long)u;
    }
    return true;
}

static int s_get_int(const struct ctx *c, const config_setting_t *st, const char *path,
                     long long min, long long max, long long *out)
{
    int type = config_setting_type(st);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        return s_fail(c, st, path, "expected an integer in %lld..%lld, got %s", min, max,
                      s_type_name(type));
    }
    long long v = config_setting_get_int64(st);
    long long src;
    if (type == CONFIG_TYPE_INT && s_source_int(c, st, &src) && (src < INT_MIN || src > INT_MAX)) {
        v = src; /* what the user wrote, not libconfig's truncation of it */
    }
    if (v < min || v > max) {
        return s_fail(c, st, path, "expected an integer in %lld..%lld, got %lld", min, max, v);
    }
    *out = v;
    return 0;
}

static int s_get_string(const struct ctx *c, const config_setting_t *st, const char *path,
                        const char *what, const char **out)
{
    int type = config_setting_type(st);
    if (type != CONFIG_TYPE_STRING) {
        return s_fail(c, st, path, "expected %s, got %s", what, s_type_name(type));
    }
    *out = config_setting_get_string(st);
    return 0;
}

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
    if (v && !(d = s_strdup(v))) {
        return -ENOMEM;
    }
    free(*slot);
    *slot = d;
    return 0;
}

static int s_apply(const struct ctx *c, const struct desc *d, const config_setting_t *st,
                   const char *path, struct mqg_settings *s)
{
    void *field = (char *)s + d->off;
    const char *str = NULL;
    long long v = 0;
    int rc;

    switch (d->kind) {
    case K_INT:
    case K_U32:
        if ((rc = s_get_int(c, st, path, d->min, d->max, &v)) < 0) {
            return rc;
        }
        if (d->kind == K_INT) {
            *(int *)field = (int)v;
        } else {
            *(uint32_t *)field = (uint32_t)v;
        }
        return 0;
    case K_INSTANCE:
        if ((rc = s_get_string(c, st, path, "a name", &str)) < 0) {
            return rc;
        }
        if (!s_instance_ok(str)) {
            return s_fail(c, st, path,
                          "expected a name of 1..%d characters A-Z a-z 0-9 _ . - (not \".\" or "
                          "\"..\"), got \"%s\"",
                          INSTANCE_MAX, str);
        }
        return s_set_str(field, str);
    case K_ABSDIR:
        if ((rc = s_get_string(c, st, path, "an absolute directory path", &str)) < 0) {
            return rc;
        }
        if (str[0] != '/' || strlen(str) >= PATH_MAX) {
            return s_fail(c, st, path, "expected an absolute directory path, got \"%s\"", str);
        }
        return s_set_str(field, str);
    case K_FILE: {
        if ((rc = s_get_string(c, st, path, "a file path (\"\" = standard error)", &str)) < 0) {
            return rc;
        }
        if (str[0] == '\0') {
            return s_set_str(field, NULL);
        }
        char *p = s_resolve(c->dir, str);
        if (!p) {
            return -ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = p;
        return 0;
    }
    case K_LEVEL: {
        const char *what = "one of \"debug\", \"info\", \"notice\", \"warn\", \"error\"";
        if ((rc = s_get_string(c, st, path, what, &str)) < 0) {
            return rc;
        }
        int level = mqg_log_level_parse(str);
        if (level < 0) {
            return s_fail(c, st, path, "expected %s, got \"%s\"", what, str);
        }
        *(int *)field = level;
        return 0;
    }
    case K_CPUS: {
        const char *what = "\"auto\", \"none\" or a list of CPUs such as \"0,2-3\"";
        if ((rc = s_get_string(c, st, path, what, &str)) < 0) {
            return rc;
        }
        struct mqg_cpus cpus;
        char msg[200];
        if (mqg_cpus_parse(str, &cpus, msg, sizeof(msg)) < 0) {
            return s_fail(c, st, path, "%s", msg);
        }
        cpu_set_t allowed, use;
        if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
            mqg_cpus_resolve(&cpus, &allowed, &use) == -ENXIO) {
            char have[128];
            mqg_cpus_format(&allowed, have, sizeof(have));
            return s_fail(c, st, path, "none of the CPUs \"%s\" is available here (available: %s)",
                          str, have);
        }
        *(struct mqg_cpus *)field = cpus;
        return 0;
    }
    }
    return -EINVAL;
}

/* ---- groups and unknown settings ---- */

static const struct desc *s_find_desc(const char *group, const char *name)
{
    for (size_t i = 0; i < N_DESCS; i++) {
        const struct desc *d = &s_descs[i];
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

static int s_unknown(const struct ctx *c, const config_setting_t *st, const char *group,
                     const char *path)
{
    char known[256];
    s_known_list(group, known, sizeof(known));
    return s_fail(c, st, path, "unknown setting; known %s: %s",
                  group ? "in this group" : "at top level", known);
}

static int s_load_group(const struct ctx *c, const config_setting_t *g, struct mqg_settings *s)
{
    const char *group = config_setting_name(g);
    char path[256];
    char known[256];
    if (!config_setting_is_group(g)) {
        s_known_list(group, known, sizeof(known));
        return s_fail(c, g, group, "expected a group { %s }, got %s", known,
                      s_type_name(config_setting_type(g)));
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", group, name);
        const struct desc *d = s_find_desc(group, name);
        if (!d) {
            return s_unknown(c, st, group, path);
        }
        int rc = s_apply(c, d, st, path, s);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- services ---- */

/* Shortest decimal text that reads back as the same double. */
static void s_format_double(double v, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

/* Parameter value as text: strings as is, numbers in decimal, booleans "true"/"false". */
static int s_param_value(const struct ctx *c, const config_setting_t *st, const char *path,
                         char **out)
{
    char buf[64];
    switch (config_setting_type(st)) {
    case CONFIG_TYPE_STRING:
        *out = s_strdup(config_setting_get_string(st));
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: {
        long long v = config_setting_get_int64(st);
        long long src;
        if (config_setting_type(st) == CONFIG_TYPE_INT && s_source_int(c, st, &src) &&
            (src < INT_MIN || src > INT_MAX)) {
            return s_fail(c, st, path,
                          "integer does not fit in 32 bits; write it with an L suffix "
                          "(e.g. 4294967296L) or as a string");
        }
        snprintf(buf, sizeof(buf), "%lld", v);
        *out = s_strdup(buf);
        break;
    }
    case CONFIG_TYPE_FLOAT:
        s_format_double(config_setting_get_float(st), buf, sizeof(buf));
        *out = s_strdup(buf);
        break;
    case CONFIG_TYPE_BOOL:
        *out = s_strdup(config_setting_get_bool(st) ? "true" : "false");
        break;
    default:
        return s_fail(c, st, path, "expected a string, number or boolean, got %s",
                      s_type_name(config_setting_type(st)));
    }
    return *out ? 0 : -ENOMEM;
}

static int s_load_params(const struct ctx *c, const config_setting_t *g, const char *gpath,
                         struct mqg_settings_service *svc)
{
    char path[256];
    if (!config_setting_is_group(g)) {
        return s_fail(c, g, gpath, "expected a group { NAME = VALUE; ... }, got %s",
                      s_type_name(config_setting_type(g)));
    }
    size_t n = (size_t)config_setting_length(g);
    if (n == 0) {
        return 0;
    }
    svc->params = calloc(n, sizeof(*svc->params));
    svc->owned = calloc(2 * n, sizeof(*svc->owned));
    if (!svc->params || !svc->owned) {
        return -ENOMEM;
    }
    svc->n_params = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", gpath, name);
        if (!(svc->owned[2 * i] = s_strdup(name))) {
            return -ENOMEM;
        }
        int rc = s_param_value(c, st, path, &svc->owned[2 * i + 1]);
        if (rc < 0) {
            return rc;
        }
        svc->params[i].name = svc->owned[2 * i];
        svc->params[i].value = svc->owned[2 * i + 1];
        svc->params[i].used = false;
    }
    return 0;
}

static int s_load_service(const struct ctx *c, const config_setting_t *e, size_t idx,
                          struct mqg_settings_service *svc)
{
    char base[64];
    char path[128];
    const config_setting_t *file = NULL;
    snprintf(base, sizeof(base), "services[%zu]", idx);
    if (!config_setting_is_group(e)) {
        return s_fail(c, e, base,
                      "expected a group { file = \"service.yml\"; parameters = { ... }; }, "
                      "got %s",
                      s_type_name(config_setting_type(e)));
    }
    for (int i = 0; i < config_setting_length(e); i++) {
        const config_setting_t *st = config_setting_get_elem(e, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", base, name);
        int rc = 0;
        if (strcmp(name, "file") == 0) {
            file = st;
        } else if (strcmp(name, "parameters") == 0) {
            rc = s_load_params(c, st, path, svc);
        } else {
            rc = s_fail(c, st, path, "unknown setting; known in a service: file, parameters");
        }
        if (rc < 0) {
            return rc;
        }
    }
    snprintf(path, sizeof(path), "%s.file", base);
    if (!file) {
        return s_fail(c, e, path, "missing; expected the path of a service commissioning file");
    }
    const char *str = NULL;
    int rc = s_get_string(c, file, path, "the path of a service commissioning file", &str);
    if (rc < 0) {
        return rc;
    }
    if (str[0] == '\0') {
        return s_fail(c, file, path, "expected the path of a service commissioning file, got \"\"");
    }
    svc->file = s_resolve(c->dir, str);
    return svc->file ? 0 : -ENOMEM;
}

static int s_load_services(const struct ctx *c, const config_setting_t *l, struct mqg_settings *s)
{
    int type = config_setting_type(l);
    size_t n = (size_t)config_setting_length(l);
    /* an empty [] is an empty list too */
    if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0)) {
        return s_fail(c, l, "services",
                      "expected a list ( { file = \"service.yml\"; parameters = { ... }; }, "
                      "... ), got %s",
                      s_type_name(type));
    }
    if (n == 0) {
        return 0;
    }
    s->services = calloc(n, sizeof(*s->services));
    if (!s->services) {
        return -ENOMEM;
    }
    s->n_services = n;
    for (size_t i = 0; i < n; i++) {
        int rc = s_load_service(c, config_setting_get_elem(l, (unsigned)i), i, &s->services[i]);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- top level ---- */

static int s_load_root(const struct ctx *c, const config_t *cfg, struct mqg_settings *s)
{
    const config_setting_t *root = config_root_setting(cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *st = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(st);
        const struct desc *d;
        int rc;
        if (strcmp(name, "services") == 0) {
            rc = s_load_services(c, st, s);
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
    if (s->restart_backoff_max_ms < s->restart_backoff_ms) {
        const config_setting_t *st = config_lookup(cfg, "restart.backoff_max_ms");
        const char *path = "restart.backoff_max_ms";
        if (!st) {
            st = config_lookup(cfg, "restart.backoff_ms");
            path = "restart.backoff_ms";
        }
        return s_fail(c, st, path,
                      "restart.backoff_max_ms (%u) must be at least restart.backoff_ms (%u)",
                      (unsigned)s->restart_backoff_max_ms, (unsigned)s->restart_backoff_ms);
    }
    return 0;
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

/* Default runtime_dir: /run/mqgate for root; for another user $XDG_RUNTIME_DIR/mqgate (a
 * directory of that user's own), else /tmp/mqgate-<uid> (whose owner and mode the supervisor
 * checks like any other). Caller frees. */
static char *s_default_runtime_dir(void)
{
    char buf[PATH_MAX];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0) {
        snprintf(buf, sizeof(buf), "/run/mqgate");
    } else if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(buf) - sizeof("/mqgate")) {
        snprintf(buf, sizeof(buf), "%s/mqgate", xdg);
    } else {
        snprintf(buf, sizeof(buf), "/tmp/mqgate-%u", (unsigned)geteuid());
    }
    return s_strdup(buf);
}

int mqg_settings_defaults(struct mqg_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->instance = s_strdup("mqgate");
    s->runtime_dir = s_default_runtime_dir();
    if (!s->instance || !s->runtime_dir) {
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
    s->outbound_queue_max = 100000;
    s->outbound_queue_max_bytes = 64 << 20;
    s->max_inflight = 1000;
    s->router_queue_max = 100000;
    s->router_queue_max_bytes = 64 << 20;
    return 0;
}

/* Returns 0; -ENOENT (file missing) or -EIO (unreadable) or -EINVAL (content), each with *err
 * filled; or -ENOMEM. */
int mqg_settings_load(const char *path, struct mqg_settings *s, struct mqg_error *err)
{
    int rc = mqg_settings_defaults(s);
    if (rc < 0) {
        return rc;
    }
    struct ctx c = {.path = path, .dir = s_dirname(path), .err = err};
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
        s_source_path(&c, config_error_file(&cfg), file, sizeof(file));
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
    free(s->log_file);
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
    memset(s, 0, sizeof(*s));
}
