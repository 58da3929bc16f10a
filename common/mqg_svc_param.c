/* mqg_svc_param — metadata, parameters and definitions of a commissioning file.
 *
 * Used by the loader (see mqg_svc_param.h). Declarations are read as literal YAML (no !ref
 * or !sub in them); a parameter's value is text, checked here once, and then handed out as
 * text wherever !ref or ${} names it.
 */
#include "mqg_svc_param.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_scalar.h"
#include "mqg_svc_setting.h"

typedef struct mqg_yaml_node s_node;

/* Names of parameters and definitions: letters, digits, '_', '-', '.'. */
static bool s_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') {
            return false;
        }
    }
    return true;
}

const struct mqg_svc_pdef *mqg_svc_find_param(const struct mqg_svc_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_pdefs; i++) {
        if (strcmp(c->pdefs[i].name, name) == 0) {
            return &c->pdefs[i];
        }
    }
    return NULL;
}

const s_node *mqg_svc_find_def(const struct mqg_svc_ctx *c, const char *name)
{
    const s_node *key = NULL;
    const s_node *v = mqg_yaml_map_get(c->doc, c->defs, name, &key);
    return key ? v : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* metadata                                                                                  */

/* metadata: a mapping of the allowed keys, each a scalar; *md gets it. */
static int s_metadata_map(struct mqg_svc_ctx *c, const s_node *root, const s_node **md)
{
    static const char *const keys[] = {"name", "version", "provider", "icon", "homepage", NULL};
    char path[MQG_SVC_PATH_MAX];
    *md = mqg_yaml_map_get(c->doc, root, "metadata", NULL);
    if (!*md) {
        return mqg_svc_fail(c, root, "metadata",
                            "metadata is missing; expected metadata with a name");
    }
    if (mqg_yaml_kind(*md) != MQG_YAML_MAPPING || mqg_yaml_local_tag(*md)) {
        return mqg_svc_fail(c, *md, "metadata",
                            "expected a mapping with name, version, provider, ...");
    }
    int rc = mqg_svc_check_keys(c, *md, "metadata", keys);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 1; keys[i]; i++) {
        const s_node *v = mqg_yaml_map_get(c->doc, *md, keys[i], NULL);
        mqg_svc_path(path, "metadata", keys[i]);
        if (v && mqg_yaml_kind(v) != MQG_YAML_SCALAR) {
            return mqg_svc_fail(c, v, path, "expected text, got a %s", mqg_yaml_kind_name(v));
        }
    }
    return 0;
}

/* metadata.name: literal text of at most MQG_SVC_SID_MAX characters; *nn gets its node. */
static int s_metadata_name(struct mqg_svc_ctx *c, const s_node *md, const s_node **nn,
                           const char **name)
{
    size_t len;
    *nn = mqg_yaml_map_get(c->doc, md, "name", NULL);
    *name = mqg_yaml_scalar(*nn, &len);
    if (!*nn || mqg_yaml_is_null(*nn)) {
        return mqg_svc_fail(c, *nn ? *nn : md, "metadata.name",
                            "metadata.name is missing; expected the service name (at most %d "
                            "characters)",
                            MQG_SVC_SID_MAX);
    }
    if (!*name || mqg_yaml_local_tag(*nn) || strlen(*name) != len) {
        return mqg_svc_fail(c, *nn, "metadata.name",
                            "expected literal text (no !ref or !sub), got a %s%s",
                            mqg_yaml_kind_name(*nn), mqg_yaml_local_tag(*nn) ? " with a tag" : "");
    }
    if (mqg_svc_utf8_len(*name) > MQG_SVC_SID_MAX) {
        return mqg_svc_fail(c, *nn, "metadata.name", "name has %zu characters; expected at most %d",
                            mqg_svc_utf8_len(*name), MQG_SVC_SID_MAX);
    }
    return 0;
}

/* c->sid from --service-id (override) or from the name; c->root; unique among the services
 * loaded so far. Errors about the name point at nn. */
static int s_service_id(struct mqg_svc_ctx *c, const s_node *nn, const char *name,
                        const char *override)
{
    if (override) {
        bool ok = override[0] != '\0' && strlen(override) <= MQG_SVC_SID_MAX;
        for (const char *p = override; *p; p++) {
            ok = ok && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
        }
        if (!ok) {
            return mqg_error_set(c->err, NULL, 0, 0, "--service-id",
                                 "service id '%s' is invalid; expected 1..%d characters a-z, 0-9",
                                 override, MQG_SVC_SID_MAX);
        }
        snprintf(c->sid, sizeof(c->sid), "%s", override);
    } else {
        mqg_service_id_from_name(name, c->sid, sizeof(c->sid));
        if (!c->sid[0]) {
            return mqg_svc_fail(c, nn, "metadata.name",
                                "'%s' gives an empty service id; expected at least one letter a-z "
                                "or digit (or give --service-id)",
                                name);
        }
    }
    snprintf(c->root, sizeof(c->root), "services/%s", c->sid);
    for (size_t i = 0; i < c->m->n_services; i++) {
        if (strcmp(c->m->services[i].service_id, c->sid) == 0) {
            return mqg_svc_fail(c, nn, "metadata.name",
                                "service id '%s' is already used by %s; expected a different "
                                "metadata.name (or --service-id)",
                                c->sid, c->m->services[i].file);
        }
    }
    return 0;
}

int mqg_svc_load_metadata(struct mqg_svc_ctx *c, const s_node *root, const char *override)
{
    const s_node *md;
    const s_node *nn;
    const char *name;
    size_t idx;
    int rc = s_metadata_map(c, root, &md);
    rc = rc < 0 ? rc : s_metadata_name(c, md, &nn, &name);
    rc = rc < 0 ? rc : s_service_id(c, nn, name, override);
    rc = rc < 0 ? rc
                : mqg_svc_append(c, (void **)&c->m->services, &c->m->n_services,
                                 sizeof(*c->m->services), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_service_info *si = &c->m->services[idx];
    if (mqg_svc_dup(c, c->sid, &si->service_id) < 0 || mqg_svc_dup(c, name, &si->name) < 0 ||
        mqg_svc_dup(c, c->path, &si->file) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* parameters and definitions                                                                */

static const char *s_ptype_name(enum mqg_svc_ptype t)
{
    switch (t) {
    case MQG_SVC_T_INTEGER:
        return "integer";
    case MQG_SVC_T_NUMBER:
        return "number";
    case MQG_SVC_T_BOOLEAN:
        return "boolean";
    default:
        return "string";
    }
}

/* Does `text` have the parameter's type? */
static bool s_param_typed(enum mqg_svc_ptype t, const char *text)
{
    long long l;
    double d;
    bool b;
    switch (t) {
    case MQG_SVC_T_INTEGER:
        return mqg_svc_parse_ll(text, &l);
    case MQG_SVC_T_NUMBER:
        return mqg_svc_parse_double(text, &d);
    case MQG_SVC_T_BOOLEAN:
        return mqg_svc_parse_bool(text, &b);
    default:
        return true;
    }
}

/* Equality of a parameter value and an enum item, by the parameter's type. */
static bool s_param_equal(enum mqg_svc_ptype t, const char *a, const char *b)
{
    double x;
    double y;
    bool p;
    bool q;
    long long i;
    long long j;
    switch (t) {
    case MQG_SVC_T_INTEGER:
        return mqg_svc_parse_ll(a, &i) && mqg_svc_parse_ll(b, &j) && i == j;
    case MQG_SVC_T_NUMBER:
        return mqg_svc_parse_double(a, &x) && mqg_svc_parse_double(b, &y) && x == y;
    case MQG_SVC_T_BOOLEAN:
        return mqg_svc_parse_bool(a, &p) && mqg_svc_parse_bool(b, &q) && p == q;
    default:
        return strcmp(a, b) == 0;
    }
}

/* A rule of a parameter declaration (enum, minimum, ...): its literal node or NULL. */
static const s_node *s_rule(struct mqg_svc_ctx *c, const s_node *decl, const char *key)
{
    const s_node *n = mqg_yaml_map_get(c->doc, decl, key, NULL);
    return n && !mqg_yaml_is_null(n) ? n : NULL;
}

static int s_check_enum(struct mqg_svc_ctx *c, const struct mqg_svc_pdef *p, const s_node *decl,
                        const char *base, const char *who)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *en = s_rule(c, decl, "enum");
    if (!en) {
        return 0;
    }
    mqg_svc_path(path, base, "enum");
    if (mqg_yaml_kind(en) != MQG_YAML_SEQUENCE || mqg_yaml_local_tag(en)) {
        return mqg_svc_fail(c, en, path, "expected a list of allowed values, got a %s",
                            mqg_yaml_kind_name(en));
    }
    char list[300];
    size_t off = 0;
    list[0] = '\0';
    size_t n = mqg_yaml_seq_size(en);
    for (size_t i = 0; i < n; i++) {
        const s_node *item = mqg_yaml_seq_at(c->doc, en, i);
        const char *text = mqg_yaml_scalar(item, NULL);
        if (!text || mqg_yaml_local_tag(item)) {
            char ipath[MQG_SVC_PATH_MAX];
            mqg_svc_path_idx(ipath, path, i);
            return mqg_svc_fail(c, item, ipath, "expected a literal scalar value, got a %s",
                                mqg_yaml_kind_name(item));
        }
        if (s_param_equal(p->type, p->value, text)) {
            return 0;
        }
        if (off < sizeof(list)) {
            int k = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", text);
            off += k > 0 ? (size_t)k : 0;
        }
    }
    return mqg_svc_fail(c, en, path, "parameter '%s': %s is not allowed; expected one of: %s",
                        p->name, who, list);
}

static int s_check_bound(struct mqg_svc_ctx *c, const struct mqg_svc_pdef *p, const s_node *decl,
                         const char *base, const char *who, const char *key, bool is_len)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *n = s_rule(c, decl, key);
    if (!n) {
        return 0;
    }
    mqg_svc_path(path, base, key);
    bool applies = is_len ? p->type == MQG_SVC_T_STRING
                          : (p->type == MQG_SVC_T_INTEGER || p->type == MQG_SVC_T_NUMBER);
    if (!applies) {
        return mqg_svc_fail(c, n, path, "%s applies to %s parameters; parameter '%s' has type %s",
                            key, is_len ? "string" : "integer and number", p->name,
                            s_ptype_name(p->type));
    }
    const char *text = mqg_yaml_scalar(n, NULL);
    double bound = 0;
    long long lb = 0;
    if (!text || mqg_yaml_local_tag(n) || !mqg_yaml_plain(n) ||
        (is_len ? !mqg_svc_parse_ll(text, &lb) || lb < 0 : !mqg_svc_parse_double(text, &bound))) {
        return mqg_svc_fail(c, n, path, "expected %s",
                            is_len ? "a non-negative integer" : "a number");
    }
    double val;
    if (is_len) {
        val = (double)mqg_svc_utf8_len(p->value);
        bound = (double)lb;
    } else {
        mqg_svc_parse_double(p->value, &val);
    }
    bool is_min = strcmp(key, "minimum") == 0 || strcmp(key, "minLength") == 0;
    if (is_min ? val < bound : val > bound) {
        return mqg_svc_fail(c, n, path, "parameter '%s': %s %s; expected %s %s", p->name, who,
                            is_len ? (is_min ? "is too short" : "is too long")
                                   : (is_min ? "is too small" : "is too large"),
                            is_len ? (is_min ? "at least" : "at most") : (is_min ? ">=" : "<="),
                            text);
    }
    return 0;
}

static int s_check_pattern(struct mqg_svc_ctx *c, const struct mqg_svc_pdef *p, const s_node *decl,
                           const char *base, const char *who)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *n = s_rule(c, decl, "pattern");
    if (!n) {
        return 0;
    }
    mqg_svc_path(path, base, "pattern");
    const char *re = mqg_yaml_scalar(n, NULL);
    if (!re || mqg_yaml_local_tag(n)) {
        return mqg_svc_fail(c, n, path, "expected a regular expression (text), got a %s",
                            mqg_yaml_kind_name(n));
    }
    if (p->type != MQG_SVC_T_STRING) {
        return mqg_svc_fail(c, n, path, "pattern applies to string parameters; '%s' has type %s",
                            p->name, s_ptype_name(p->type));
    }
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &rx, why, sizeof(why));
        return mqg_svc_fail(c, n, path,
                            "invalid regular expression '%s': %s; expected a POSIX "
                            "extended regular expression",
                            re, why);
    }
    rc = regexec(&rx, p->value, 0, NULL, 0);
    regfree(&rx);
    if (rc != 0) {
        return mqg_svc_fail(c, n, path, "parameter '%s': %s does not match the pattern '%s'",
                            p->name, who, re);
    }
    return 0;
}

/* Check a parameter value against type, enum, bounds and pattern. */
static int s_check_param(struct mqg_svc_ctx *c, const struct mqg_svc_pdef *p, const s_node *decl,
                         const s_node *type_at, const char *base, const char *who)
{
    char path[MQG_SVC_PATH_MAX];
    if (!s_param_typed(p->type, p->value)) {
        mqg_svc_path(path, base, "type");
        return mqg_svc_fail(c, type_at, path, "parameter '%s': %s is not a valid %s%s", p->name,
                            who, s_ptype_name(p->type),
                            p->type == MQG_SVC_T_BOOLEAN ? " (true or false)" : "");
    }
    int rc = s_check_enum(c, p, decl, base, who);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "minimum", false);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "maximum", false);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "minLength", true);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "maxLength", true);
    rc = rc < 0 ? rc : s_check_pattern(c, p, decl, base, who);
    return rc;
}

/* type: string (default), integer, number or boolean into p->type; *at gets its node (NULL
 * when not given). */
static int s_param_type(struct mqg_svc_ctx *c, const s_node *decl, const char *base,
                        struct mqg_svc_pdef *p, const s_node **at)
{
    static const char *const names[] = {"string", "integer", "number", "boolean"};
    static const enum mqg_svc_ptype types[] = {MQG_SVC_T_STRING, MQG_SVC_T_INTEGER,
                                               MQG_SVC_T_NUMBER, MQG_SVC_T_BOOLEAN};
    char path[MQG_SVC_PATH_MAX];
    const s_node *type = s_rule(c, decl, "type");
    const char *tname = type ? mqg_yaml_scalar(type, NULL) : "string";
    *at = type;
    mqg_svc_path(path, base, "type");
    if (!tname || (type && mqg_yaml_local_tag(type))) {
        return mqg_svc_fail(c, type, path, "expected string, integer, number or boolean");
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(tname, names[i]) == 0) {
            p->type = types[i];
            return 0;
        }
    }
    return mqg_svc_fail(c, type, path,
                        "unknown type '%s'; expected string, integer, number or boolean", tname);
}

/* p->value from the -p values (marking them used), else from default. `who` (cap bytes) gets
 * how messages name the value, *at where a type error points (the default, if it is used). */
static int s_param_value(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl,
                         const char *base, struct mqg_svc_pdef *p, char *who, size_t cap,
                         const s_node **at)
{
    char path[MQG_SVC_PATH_MAX];
    for (size_t i = 0; i < c->n_params; i++) {
        if (c->params[i].name && strcmp(c->params[i].name, p->name) == 0) {
            p->value = c->params[i].value ? c->params[i].value : "";
            c->params[i].used = true;
        }
    }
    if (p->value) {
        snprintf(who, cap, "value '%.120s' given with -p", p->value);
        return 0;
    }
    const s_node *def = s_rule(c, decl, "default");
    if (!def) {
        return mqg_svc_fail(c, key, base,
                            "parameter '%s' has no value and no default; expected -p %s=VALUE",
                            p->name, p->name);
    }
    mqg_svc_path(path, base, "default");
    p->value = mqg_yaml_scalar(def, NULL);
    if (!p->value || mqg_yaml_local_tag(def)) {
        return mqg_svc_fail(c, def, path, "expected a literal scalar default, got a %s%s",
                            mqg_yaml_kind_name(def), mqg_yaml_local_tag(def) ? " with a tag" : "");
    }
    snprintf(who, cap, "default '%.120s'", p->value);
    *at = def;
    return 0;
}

/* One declaration `key: decl` into p (p->name set): type, value, checks. */
static int s_load_param(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl,
                        struct mqg_svc_pdef *p)
{
    static const char *const keys[] = {"type",    "description", "default",   "enum",
                                       "minimum", "maximum",     "minLength", "maxLength",
                                       "pattern", "title",       NULL};
    char base[MQG_SVC_PATH_MAX];
    char who[200];
    const s_node *at = NULL;
    mqg_svc_path(base, "parameters", p->name);
    if (mqg_yaml_kind(decl) != MQG_YAML_MAPPING || mqg_yaml_local_tag(decl)) {
        return mqg_svc_fail(c, decl, base,
                            "expected a mapping with type, default, description, ...");
    }
    int rc = mqg_svc_check_keys(c, decl, base, keys);
    rc = rc < 0 ? rc : s_param_type(c, decl, base, p, &at);
    if (rc < 0) {
        return rc;
    }
    if (!at) {
        at = key;
    }
    rc = s_param_value(c, key, decl, base, p, who, sizeof(who), &at);
    return rc < 0 ? rc : s_check_param(c, p, decl, at, base, who);
}

int mqg_svc_load_params(struct mqg_svc_ctx *c, const s_node *root)
{
    const s_node *ps = mqg_yaml_map_get(c->doc, root, "parameters", NULL);
    if (!ps || mqg_yaml_is_null(ps)) {
        return 0;
    }
    if (mqg_yaml_kind(ps) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ps)) {
        return mqg_svc_fail(c, ps, "parameters", "expected a mapping NAME: {type, default, ...}");
    }
    size_t n = mqg_yaml_map_size(ps);
    c->pdefs = calloc(n ? n : 1, sizeof(*c->pdefs));
    if (!c->pdefs) {
        return mqg_svc_oom(c);
    }
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        const s_node *v;
        mqg_yaml_map_at(c->doc, ps, i, &k, &v);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, MQG_SVC_NAME_MAX)) {
            return mqg_svc_fail(
                c, k, "parameters",
                "invalid parameter name '%s'; expected letters, digits, '_', '-', '.'",
                name ? name : "");
        }
        struct mqg_svc_pdef *p = &c->pdefs[c->n_pdefs++];
        p->name = name;
        int rc = s_load_param(c, k, v, p);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int mqg_svc_load_defs(struct mqg_svc_ctx *c, const s_node *root)
{
    const s_node *ds = mqg_yaml_map_get(c->doc, root, "definitions", NULL);
    if (!ds || mqg_yaml_is_null(ds)) {
        return 0;
    }
    if (mqg_yaml_kind(ds) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ds)) {
        return mqg_svc_fail(c, ds, "definitions", "expected a mapping NAME: value");
    }
    size_t n = mqg_yaml_map_size(ds);
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        mqg_yaml_map_at(c->doc, ds, i, &k, NULL);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, MQG_SVC_NAME_MAX)) {
            return mqg_svc_fail(c, k, "definitions",
                                "invalid definition name '%s'; expected letters, digits, '_', '-', "
                                "'.'",
                                name ? name : "");
        }
        if (mqg_svc_find_param(c, name)) {
            char path[MQG_SVC_PATH_MAX];
            mqg_svc_path(path, "definitions", name);
            return mqg_svc_fail(c, k, path,
                                "'%s' is declared as a parameter and as a definition; expected one "
                                "name for each",
                                name);
        }
    }
    c->defs = ds;
    return 0;
}
