/* mqg_settings_read — reading libconfig values for the settings loader (see
 * mqg_settings_read.h). */
#include "mqg_settings_read.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqg_srcpos.h"

/* ---- helpers: strings and paths ---- */

char *mqg_set_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

char *mqg_set_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return mqg_set_strdup("");
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
char *mqg_set_resolve(const char *dir, const char *rel)
{
    if (rel[0] == '/' || dir[0] == '\0') {
        return mqg_set_strdup(rel);
    }
    size_t n = strlen(dir) + 1 + strlen(rel) + 1;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", rel);
    }
    return p;
}

const char *mqg_set_type_name(int type)
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
void mqg_set_source_path(const struct mqg_set_ctx *c, const char *file, char *out, size_t cap)
{
    if (!file || strcmp(file, c->path) == 0 || file[0] == '/' || c->dir[0] == '\0') {
        snprintf(out, cap, "%s", file ? file : c->path);
        return;
    }
    snprintf(out, cap, "%s%s%s", c->dir, strcmp(c->dir, "/") == 0 ? "" : "/", file);
}

int mqg_set_fail(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                 const char *fmt, ...)
{
    char file[512];
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mqg_set_source_path(c, st ? config_setting_source_file(st) : NULL, file, sizeof(file));
    int line = st ? (int)config_setting_source_line(st) : 0;
    int col = line > 0 ? mqg_srcpos_col(file, line, st ? config_setting_name(st) : NULL) : 0;
    return mqg_error_set(c->err, file, line, col, path, "%s", msg);
}

/* ---- scalar values ---- */

/* libconfig 1.5 silently truncates an integer literal that does not fit in 32 bits (without
 * an L suffix): 99999999999 reads as 1215752191. Re-read the literal from the source line:
 * true (and *v) when it could be parsed there. Callers only trust a value outside the int
 * range (the case libconfig gets wrong), so a same-named setting earlier on the line cannot
 * replace a correct value. */
bool mqg_set_source_int(const struct mqg_set_ctx *c, const config_setting_t *st, long long *v)
{
    char file[512];
    char buf[4096];
    const char *name = config_setting_name(st);
    int line = (int)config_setting_source_line(st);
    mqg_set_source_path(c, config_setting_source_file(st), file, sizeof(file));
    int off = mqg_srcpos_find(file, line, name, buf, sizeof(buf));
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

int mqg_set_get_int(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                    long long min, long long max, long long *out)
{
    int type = config_setting_type(st);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        return mqg_set_fail(c, st, path, "expected an integer in %lld..%lld, got %s", min, max,
                            mqg_set_type_name(type));
    }
    long long v = config_setting_get_int64(st);
    long long src;
    if (type == CONFIG_TYPE_INT && mqg_set_source_int(c, st, &src) &&
        (src < INT_MIN || src > INT_MAX)) {
        v = src; /* what the user wrote, not libconfig's truncation of it */
    }
    if (v < min || v > max) {
        return mqg_set_fail(c, st, path, "expected an integer in %lld..%lld, got %lld", min, max,
                            v);
    }
    *out = v;
    return 0;
}

int mqg_set_get_string(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                       const char *what, const char **out)
{
    int type = config_setting_type(st);
    if (type != CONFIG_TYPE_STRING) {
        return mqg_set_fail(c, st, path, "expected %s, got %s", what, mqg_set_type_name(type));
    }
    *out = config_setting_get_string(st);
    return 0;
}

/* Default runtime_dir: /run/mqgate for root; for another user $XDG_RUNTIME_DIR/mqgate (a
 * directory of that user's own), else /tmp/mqgate-<uid> (whose owner and mode the supervisor
 * checks like any other). Caller frees. */
char *mqg_set_default_runtime_dir(void)
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
    return mqg_set_strdup(buf);
}

char *mqg_set_default_state_dir(void)
{
    char buf[PATH_MAX];
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (geteuid() == 0) {
        snprintf(buf, sizeof(buf), "/var/lib/mqgate");
    } else if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(buf) - sizeof("/mqgate")) {
        snprintf(buf, sizeof(buf), "%s/mqgate", xdg);
    } else if (home && home[0] == '/' && strlen(home) < sizeof(buf) - 32) {
        snprintf(buf, sizeof(buf), "%s/.local/state/mqgate", home);
    } else {
        snprintf(buf, sizeof(buf), "/tmp/mqgate-state-%u", (unsigned)geteuid());
    }
    return mqg_set_strdup(buf);
}
