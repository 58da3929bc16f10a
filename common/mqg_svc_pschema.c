/* mqg_svc_pschema — parameter declarations as JSON Schema (see mqg_svc_pschema.h).
 *
 * YAML to JSON as the platform's YAML reader types scalars (YAML 1.2 core: null, true/false,
 * numbers; quoted scalars are text), -p text to JSON by the declared type, then mqg_jschema.
 * Everything built here is freed here; the value handed out is p->owned.
 */
#include "mqg_svc_pschema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_jschema.h"
#include "mqg_jval.h"
#include "mqg_svc_scalar.h"

typedef struct mqg_yaml_node s_node;

#define S_YAML_DEPTH 32

/* ---- YAML to JSON ---- */

/* A YAML 1.2 core number: digits, sign, point, exponent (no hex, inf or nan). */
static bool s_yaml_number(const char *t, double *out)
{
    if (strspn(t, "0123456789+-.eE") != strlen(t) || !strpbrk(t, "0123456789")) {
        return false;
    }
    return mqg_svc_parse_double(t, out);
}

/* A plain (unquoted) scalar typed as YAML 1.2 core does. Returns 0 or -ENOMEM. */
static int s_plain(const char *t, struct mqg_jval *out)
{
    if (!t[0] || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
        strcmp(t, "NULL") == 0) {
        out->type = MQG_JVAL_NULL;
    } else if (mqg_svc_parse_bool(t, &out->b)) {
        out->type = MQG_JVAL_BOOL;
    } else if (s_yaml_number(t, &out->num)) {
        out->type = MQG_JVAL_NUMBER;
    } else {
        out->type = MQG_JVAL_STRING;
        out->len = strlen(t);
        out->str = strdup(t);
        return out->str ? 0 : -ENOMEM;
    }
    return 0;
}

static int s_from_yaml(struct mqg_svc_ctx *c, const s_node *n, const char *path,
                       struct mqg_jval *out, int depth);

/* The items of a sequence or mapping n into out (an ARRAY or OBJECT). */
static int s_from_yaml_items(struct mqg_svc_ctx *c, const s_node *n, const char *path,
                             struct mqg_jval *out, int depth)
{
    char sub[MQG_SVC_PATH_MAX];
    bool map = mqg_yaml_kind(n) == MQG_YAML_MAPPING;
    size_t count = map ? mqg_yaml_map_size(n) : mqg_yaml_seq_size(n);
    out->type = map ? MQG_JVAL_OBJECT : MQG_JVAL_ARRAY;
    out->items = calloc(count ? count : 1, sizeof(*out->items));
    out->keys = map ? calloc(count ? count : 1, sizeof(*out->keys)) : NULL;
    if (!out->items || (map && !out->keys)) {
        return mqg_svc_oom(c);
    }
    for (size_t i = 0; i < count; i++) {
        const s_node *k = NULL;
        const s_node *v;
        if (map) {
            mqg_yaml_map_at(c->doc, n, i, &k, &v);
            const char *name = mqg_yaml_scalar(k, NULL);
            if (!name || mqg_yaml_local_tag(k)) {
                return mqg_svc_fail(c, k, path, "expected literal text as a key");
            }
            out->keys[i] = strdup(name);
            if (!out->keys[i]) {
                return mqg_svc_oom(c);
            }
            mqg_svc_path(sub, path, name);
        } else {
            v = mqg_yaml_seq_at(c->doc, n, i);
            mqg_svc_path_idx(sub, path, i);
        }
        out->n = i + 1;
        int rc = s_from_yaml(c, v, sub, &out->items[i], depth + 1);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A literal YAML node (no tags) into a JSON value with its position. */
static int s_from_yaml(struct mqg_svc_ctx *c, const s_node *n, const char *path,
                       struct mqg_jval *out, int depth)
{
    out->line = mqg_yaml_line(n);
    out->col = mqg_yaml_col(n);
    if (mqg_yaml_local_tag(n)) {
        return mqg_svc_fail(c, n, path,
                            "expected a literal value in a parameter declaration (no !ref or "
                            "!sub), got a %s with a tag",
                            mqg_yaml_kind_name(n));
    }
    if (depth > S_YAML_DEPTH) {
        return mqg_svc_fail(c, n, path, "nested deeper than %d", S_YAML_DEPTH);
    }
    if (mqg_yaml_kind(n) != MQG_YAML_SCALAR) {
        return s_from_yaml_items(c, n, path, out, depth);
    }
    size_t len;
    const char *t = mqg_yaml_scalar(n, &len);
    if (mqg_yaml_plain(n)) {
        return s_plain(t, out) == 0 ? 0 : mqg_svc_oom(c);
    }
    out->type = MQG_JVAL_STRING;
    out->str = malloc(len + 1);
    if (!out->str) {
        return mqg_svc_oom(c);
    }
    memcpy(out->str, t, len + 1);
    out->len = len;
    return 0;
}

/* ---- text (-p) to JSON, by the declared type ---- */

/* text as a value of JSON Schema type `type`. Returns 0, or -EINVAL (not of that type; why
 * may say more), -ENOMEM. */
static int s_text_as(const char *type, const char *text, struct mqg_jval *out, char *why,
                     size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(type, "string") == 0) {
        out->type = MQG_JVAL_STRING;
        out->len = strlen(text);
        out->str = strdup(text);
        return out->str ? 0 : -ENOMEM;
    }
    if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0) {
        out->type = MQG_JVAL_NUMBER;
        bool ok = mqg_svc_parse_double(text, &out->num);
        return ok && (type[0] == 'n' || out->num == floor(out->num)) ? 0 : -EINVAL;
    }
    if (strcmp(type, "boolean") == 0) {
        out->type = MQG_JVAL_BOOL;
        return mqg_svc_parse_bool(text, &out->b) ? 0 : -EINVAL;
    }
    if (strcmp(type, "null") == 0) {
        out->type = MQG_JVAL_NULL;
        return !text[0] || strcmp(text, "null") == 0 ? 0 : -EINVAL;
    }
    int rc = mqg_jval_parse(text, strlen(text), out, why, cap);
    if (rc == 0 && strcmp(mqg_jval_type_name(out, false), type) != 0) {
        snprintf(why, cap, "JSON text of %s %s", out->type >= MQG_JVAL_ARRAY ? "an" : "a",
                 mqg_jval_type_name(out, false));
        mqg_jval_free(out);
        return -EINVAL;
    }
    return rc;
}

/* text as the first of the schema's types it can be (text last; no type: text). Returns 0,
 * -EINVAL (types gets the list, why the JSON parser's reason), -ENOMEM. */
static int s_from_text(const struct mqg_jval *schema, const char *text, struct mqg_jval *out,
                       char *types, size_t tcap, char *why, size_t wcap)
{
    const struct mqg_jval *t = mqg_jval_get(schema, "type");
    const struct mqg_jval *list = t && t->type == MQG_JVAL_ARRAY ? t->items : t;
    size_t n = !t ? 0 : t->type == MQG_JVAL_ARRAY ? t->n : 1;
    types[0] = '\0';
    why[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            bool is_string = strcmp(list[i].str, "string") == 0;
            if (is_string != (pass == 1)) {
                continue;
            }
            int rc = s_text_as(list[i].str, text, out, why, wcap);
            if (rc != -EINVAL) {
                return rc;
            }
            size_t l = strlen(types);
            snprintf(types + l, tcap - l, "%s%s", l ? " or " : "", list[i].str);
        }
    }
    return n == 0 ? s_text_as("string", text, out, why, wcap) : -EINVAL;
}

/* ---- the declaration ---- */

struct s_unknown {
    struct mqg_svc_ctx *c;
    const char *base;
    int rc;
};

static void s_unknown(void *arg, const char *path, const struct mqg_jval *at)
{
    struct s_unknown *u = arg;
    char setting[MQG_SVC_PATH_MAX];
    char key[160];
    const char *kw = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
    mqg_svc_path(setting, u->base, path);
    snprintf(key, sizeof(key), "parameter keyword %s", kw);
    int rc = mqg_svc_notice_lc(u->c, at->line, at->col, setting, key,
                               "'%s' is not a JSON Schema keyword: accepted and ignored", kw);
    u->rc = u->rc < 0 ? u->rc : rc;
}

/* Does the schema's type allow null (a default: null is then a value, not a missing one)? */
static bool s_allows_null(const struct mqg_jval *schema)
{
    const struct mqg_jval *t = mqg_jval_get(schema, "type");
    bool yes = t && t->type == MQG_JVAL_STRING && strcmp(t->str, "null") == 0;
    for (size_t i = 0; t && t->type == MQG_JVAL_ARRAY && i < t->n; i++) {
        yes = yes || strcmp(t->items[i].str, "null") == 0;
    }
    return yes;
}

/* The one type the schema names, when it names exactly one; NULL otherwise. */
static const char *s_single_type(const struct mqg_jval *schema)
{
    const struct mqg_jval *t = mqg_jval_get(schema, "type");
    return t && t->type == MQG_JVAL_STRING ? t->str : NULL;
}

/* -p text into *val by the declared type; `who` says how messages name it. */
static int s_value_text(struct mqg_svc_ctx *c, const s_node *key, const struct mqg_jval *schema,
                        const char *base, const char *text, struct mqg_svc_pdef *p,
                        struct mqg_jval *val)
{
    char types[120];
    char why[160];
    char path[MQG_SVC_PATH_MAX];
    int rc = s_from_text(schema, text, val, types, sizeof(types), why, sizeof(why));
    if (rc == -ENOMEM) {
        return mqg_svc_oom(c);
    }
    if (rc < 0) {
        const struct mqg_jval *t = mqg_jval_get(schema, "type");
        mqg_svc_path(path, base, "type");
        return mqg_svc_fail_lc(
            c, t->line ? t->line : mqg_yaml_line(key), t->line ? t->col : mqg_yaml_col(key), path,
            "parameter '%s': value '%.120s' given with -p is not a valid %s%s%s%s", p->name, text,
            types, strcmp(types, "boolean") == 0 ? " (true or false)" : "", why[0] ? ": " : "",
            why);
    }
    return 0;
}

/* The default into *val: a scalar written as text where the one declared type is a scalar
 * type is read as -p text would be (mqgate has always accepted default: '1883' for an
 * integer); anything else as YAML types it. */
static int s_value_default(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl,
                           const struct mqg_jval *schema, const char *base, struct mqg_svc_pdef *p,
                           struct mqg_jval *val)
{
    const s_node *dn = mqg_yaml_map_get(c->doc, decl, "default", NULL);
    const struct mqg_jval *dj = mqg_jval_get(schema, "default");
    const char *one = s_single_type(schema);
    if (!dj || (dj->type == MQG_JVAL_NULL && !s_allows_null(schema))) {
        return mqg_svc_fail(c, key, base,
                            "parameter '%s' has no value and no default; expected -p %s=VALUE",
                            p->name, p->name);
    }
    const char *text = mqg_yaml_scalar(dn, NULL);
    bool scalar_type = one && strcmp(one, "array") != 0 && strcmp(one, "object") != 0;
    if (text && scalar_type && strcmp(one, mqg_jval_type_name(dj, false)) != 0) {
        char why[160];
        int rc = s_text_as(one, text, val, why, sizeof(why));
        if (rc == 0) {
            return 0;
        }
        if (rc == -ENOMEM) {
            return mqg_svc_oom(c);
        }
        char path[MQG_SVC_PATH_MAX];
        mqg_svc_path(path, base, "type");
        return mqg_svc_fail(c, dn, path, "parameter '%s': default '%.120s' is not a valid %s%s",
                            p->name, text, one,
                            strcmp(one, "boolean") == 0 ? " (true or false)" : "");
    }
    return s_from_yaml(c, dn, base, val, 0);
}

/* How messages name the value: "value '...' given with -p" or "default '...'". */
static void s_who(const struct mqg_jval *val, const char *text, char *who, size_t cap)
{
    char buf[124];
    if (text) {
        snprintf(who, cap, "value '%.120s' given with -p", text);
        return;
    }
    if (val->type == MQG_JVAL_STRING) {
        snprintf(buf, sizeof(buf), "%s", val->str);
    } else {
        mqg_jval_text(val, buf, sizeof(buf));
    }
    snprintf(who, cap, "default '%s'", buf);
}

/* p->value (owned), p->type from the checked value. */
static int s_set_value(struct mqg_svc_ctx *c, const struct mqg_jval *val, struct mqg_svc_pdef *p)
{
    switch (val->type) {
    case MQG_JVAL_STRING:
        p->type = MQG_SVC_T_STRING;
        p->owned = strdup(val->str);
        break;
    case MQG_JVAL_NUMBER:
        p->type = mqg_jval_is_integer(val) ? MQG_SVC_T_INTEGER : MQG_SVC_T_NUMBER;
        p->owned = mqg_jval_dup_text(val);
        break;
    case MQG_JVAL_BOOL:
        p->type = MQG_SVC_T_BOOLEAN;
        p->owned = strdup(val->b ? "true" : "false");
        break;
    default:
        p->type = MQG_SVC_T_JSON;
        p->owned = mqg_jval_dup_text(val);
        break;
    }
    p->value = p->owned;
    return p->owned ? 0 : mqg_svc_oom(c);
}

/* A jschema error as the loader's: the keyword's position and path. */
static int s_fail_schema(struct mqg_svc_ctx *c, const char *base, const struct mqg_jval *fallback,
                         const struct mqg_jschema_err *e, const char *prefix)
{
    char path[MQG_SVC_PATH_MAX];
    const struct mqg_jval *at = e->at && e->at->line ? e->at : fallback;
    if (e->keyword[0]) {
        mqg_svc_path(path, base, e->keyword);
    } else {
        snprintf(path, sizeof(path), "%s", base);
    }
    return mqg_svc_fail_lc(c, at->line, at->col, path, "%s%s%s%s%s%s", prefix,
                           prefix[0] && !e->where[0] ? " " : "", e->where[0] ? " at " : "",
                           e->where[0] ? e->where : "", e->where[0] ? " " : "", e->msg);
}

static int s_load(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl, const char *base,
                  const char *text, struct mqg_svc_pdef *p, struct mqg_jval *schema,
                  struct mqg_jval *val)
{
    struct mqg_jschema_err e;
    struct s_unknown u = {.c = c, .base = base, .rc = 0};
    char who[200];
    if (mqg_yaml_kind(decl) != MQG_YAML_MAPPING || mqg_yaml_local_tag(decl)) {
        return mqg_svc_fail(c, decl, base,
                            "expected a mapping with type, default, description, ...");
    }
    int rc = s_from_yaml(c, decl, base, schema, 0);
    if (rc < 0) {
        return rc;
    }
    rc = mqg_jschema_check(schema, s_unknown, &u, &e);
    if (rc < 0) {
        return rc == -ENOMEM ? mqg_svc_oom(c) : s_fail_schema(c, base, schema, &e, "");
    }
    if (u.rc < 0) {
        return u.rc;
    }
    rc = text ? s_value_text(c, key, schema, base, text, p, val)
              : s_value_default(c, key, decl, schema, base, p, val);
    if (rc < 0) {
        return rc;
    }
    rc = mqg_jschema_validate(schema, val, &e);
    if (rc < 0) {
        return mqg_svc_oom(c);
    }
    if (rc > 0) {
        char prefix[260];
        s_who(val, text, who, sizeof(who));
        snprintf(prefix, sizeof(prefix), "parameter '%s': %s", p->name, who);
        return s_fail_schema(c, base, schema, &e, prefix);
    }
    return s_set_value(c, val, p);
}

int mqg_svc_pschema_load(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl,
                         const char *base, const char *text, struct mqg_svc_pdef *p)
{
    struct mqg_jval schema = {0};
    struct mqg_jval val = {0};
    int rc = s_load(c, key, decl, base, text, p, &schema, &val);
    mqg_jval_free(&schema);
    mqg_jval_free(&val);
    return rc;
}
