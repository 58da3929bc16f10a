/* mqg_svc_ctx — the state of loading one commissioning file: errors, setting paths, memory.
 *
 * Used by every file of the loader (see mqg_svc_ctx.h). Errors point at the node the user
 * wrote and name the setting by its dotted path; allocation failures become "out of memory".
 */
#include "mqg_svc_ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mqg_svc_fail(struct mqg_svc_ctx *c, const struct mqg_yaml_node *at, const char *setting,
                 const char *fmt, ...)
{
    char msg[sizeof(c->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mqg_error_set(c->err, c->path, mqg_yaml_line(at), mqg_yaml_col(at), setting, "%s", msg);
}

int mqg_svc_fail_lc(struct mqg_svc_ctx *c, int line, int col, const char *setting, const char *fmt,
                    ...)
{
    char msg[sizeof(c->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mqg_error_set(c->err, c->path, line, col, setting, "%s", msg);
}

static int s_vnotice(struct mqg_svc_ctx *c, int line, int col, const char *setting, const char *key,
                     const char *fmt, va_list ap)
{
    for (size_t i = 0; i < c->n_notes; i++) {
        if (strcmp(c->notes[i].key, key) == 0) {
            c->notes[i].count++;
            return 0;
        }
    }
    size_t idx;
    int rc = mqg_svc_append(c, (void **)&c->notes, &c->n_notes, sizeof(*c->notes), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_svc_note *n = &c->notes[idx];
    snprintf(n->key, sizeof(n->key), "%s", key);
    n->count = 1;
    char msg[sizeof(n->first.msg)];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    mqg_error_set(&n->first, c->path, line, col, setting, "%s", msg);
    return 0;
}

int mqg_svc_notice(struct mqg_svc_ctx *c, const struct mqg_yaml_node *at, const char *setting,
                   const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_vnotice(c, mqg_yaml_line(at), mqg_yaml_col(at), setting, key, fmt, ap);
    va_end(ap);
    return rc;
}

int mqg_svc_notice_lc(struct mqg_svc_ctx *c, int line, int col, const char *setting,
                      const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_vnotice(c, line, col, setting, key, fmt, ap);
    va_end(ap);
    return rc;
}

int mqg_svc_notes_flush(struct mqg_svc_ctx *c)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->n_notes; i++) {
        char text[sizeof(struct mqg_error) + 64];
        size_t len;
        mqg_error_format(&c->notes[i].first, text, sizeof(text));
        len = strlen(text);
        if (c->notes[i].count > 1) {
            snprintf(text + len, sizeof(text) - len, " (%zu places in this file, the first shown)",
                     c->notes[i].count);
        }
        rc = mqg_model_add_notice(c->m, text) == 0 ? 0 : mqg_svc_oom(c);
    }
    free(c->notes);
    c->notes = NULL;
    c->n_notes = 0;
    return rc;
}

int mqg_svc_oom(struct mqg_svc_ctx *c)
{
    mqg_error_set(c->err, c->path, 0, 0, NULL, "out of memory");
    return -ENOMEM;
}

/* A path that did not fit ends in "...". */
static void s_path_trunc(char *out, int n)
{
    if (n < 0 || n >= MQG_SVC_PATH_MAX) {
        memcpy(out + MQG_SVC_PATH_MAX - 4, "...", 4);
    }
}

void mqg_svc_path(char *out, const char *parent, const char *key)
{
    int n;
    if (parent && parent[0]) {
        n = snprintf(out, MQG_SVC_PATH_MAX, "%s.%s", parent, key);
    } else {
        n = snprintf(out, MQG_SVC_PATH_MAX, "%s", key);
    }
    s_path_trunc(out, n);
}

void mqg_svc_path_idx(char *out, const char *parent, size_t i)
{
    s_path_trunc(out, snprintf(out, MQG_SVC_PATH_MAX, "%s[%zu]", parent, i));
}

int mqg_svc_dup(struct mqg_svc_ctx *c, const char *s, char **out)
{
    *out = strdup(s);
    return *out ? 0 : mqg_svc_oom(c);
}

int mqg_svc_aprintf(struct mqg_svc_ctx *c, char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *out = NULL;
        return mqg_svc_oom(c);
    }
    return 0;
}

int mqg_svc_append(struct mqg_svc_ctx *c, void **arr, size_t *n, size_t size, size_t *idx)
{
    char *p = realloc(*arr, (*n + 1) * size);
    if (!p) {
        return mqg_svc_oom(c);
    }
    memset(p + *n * size, 0, size);
    *arr = p;
    *idx = (*n)++;
    return 0;
}

int mqg_svc_add_route(struct mqg_svc_ctx *c, size_t n_sources, size_t *idx)
{
    int rc = mqg_svc_append(c, (void **)&c->m->routes, &c->m->n_routes, sizeof(*c->m->routes), idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_route *rt = &c->m->routes[*idx];
    rt->sources = calloc(n_sources, sizeof(*rt->sources));
    rt->service_id = strdup(c->sid);
    if (!rt->sources || !rt->service_id) {
        return mqg_svc_oom(c);
    }
    rt->n_sources = n_sources;
    return 0;
}
