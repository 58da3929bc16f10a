/* mqg_svc_rules — Connectware's data-processing rules as a commissioning file writes them.
 *
 * Used by the loader for the `rules` of endpoints and mapping entries (see mqg_svc_rules.h),
 * and by the model for freeing and printing them. Each list item is a one-key mapping naming
 * the kind; its options are read with the loader's typed settings, so they may use !ref and
 * !sub, and unknown options are errors as everywhere else in the loader.
 */
#include "mqg_svc_rules.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_rulestate.h"
#include "mqg_svc_scalar.h"
#include "mqg_svc_setting.h"
#include "mqg_text.h"
#include "mqg_topic.h"

typedef struct mqg_yaml_node s_node;

/* Kinds as written; index = enum mqg_rule_kind - 1. */
static const char *const KINDS[] = {
    "transform", "filter", "parse", "setContextVars", "cov", "burst", "collect", "stash", NULL};
#define S_KINDS "transform, filter, parse, setContextVars, cov, burst, collect, stash"

/* The syntax of each kind, for messages; index as KINDS. */
static const char *const SYNTAX[] = {
    "transform: {expression: <JSONata>}",
    "filter: {expression: <JSONata>}",
    "parse: {format: <format>}",
    "setContextVars: {vars: {<name>: <JSONata>, ...}}",
    "cov: {key: <property>, deadband: <number>, deadbandMode: absolute|relative}",
    "burst: {interval: <ms>, maxSize: <messages>}",
    "collect: {}",
    "stash: {label: <label>}",
};

/* The names mqg_parse_format() knows (test_svc_rules checks that it accepts each). */
#define S_FORMATS                                                                                  \
    "json, utf8, latin1, ascii, boolean, int8, uint8, int16BE, int16LE, uint16BE, uint16LE, "      \
    "int32BE, int32LE, uint32BE, uint32LE, floatBE, floatLE, doubleBE, doubleLE, toBase64, "       \
    "fromBase64"

/* One rule being read. */
struct s_rule {
    size_t k;                    /* index into KINDS */
    const s_node *kkey;          /* the kind's key: errors about missing options point here */
    char base[MQG_SVC_PATH_MAX]; /* "...rules[i].<kind>" */
    const s_node *opts;          /* the options (a mapping), NULL when null */
    struct mqg_rule *r;
};

/* What a value is, for messages. */
static const char *s_what(const struct mqg_svc_val *v)
{
    return v->text ? "scalar" : mqg_yaml_kind_name(v->node);
}

/* *out = "FILE:LINE:COL" of node at. */
static int s_where(struct mqg_svc_ctx *c, const s_node *at, char **out)
{
    return mqg_svc_aprintf(c, out, "%s:%d:%d", c->path, mqg_yaml_line(at), mqg_yaml_col(at));
}

/* v (setting path, called key in messages) must be text: no NUL, valid UTF-8, not blank. */
static int s_val_text(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                      const char *key, const char *what)
{
    char o[MQG_SVC_ORIGIN_MAX];
    if (!v->text) {
        return mqg_svc_fail(c, v->at, path,
                            "expected %s as text, got a %s%s (quote it, or write it after | as "
                            "a block scalar)",
                            what, s_what(v), mqg_svc_origin(v, o, sizeof(o)));
    }
    int rc = mqg_svc_val_text(c, v, path, what);
    if (rc < 0) {
        return rc;
    }
    if (strspn(v->text, " \t\r\n") == v->len) {
        return mqg_svc_fail(c, v->at, path, "%s is empty; expected %s%s", key, what,
                            mqg_svc_origin(v, o, sizeof(o)));
    }
    if (!mqg_topic_utf8_ok(v->text, v->len)) {
        return mqg_svc_fail(c, v->at, path, "%s is not valid UTF-8; expected %s%s", key, what,
                            mqg_svc_origin(v, o, sizeof(o)));
    }
    return 0;
}

/* The rule's option `key`: required text (what: for messages) into *text, and the place of
 * its value into *where when where is not NULL. */
static int s_req_text(struct mqg_svc_ctx *c, const struct s_rule *s, const char *key,
                      const char *what, char **text, char **where)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, s->opts, s->base, key, path, &v);
    if (rc == 0) {
        rc = mqg_svc_fail(c, s->kkey, path, "%s.%s is missing; expected %s", KINDS[s->k], key,
                          SYNTAX[s->k]);
    } else if (rc > 0) {
        rc = s_val_text(c, &v, path, key, what);
        rc = rc < 0 ? rc : mqg_svc_dup(c, v.text, text);
        rc = rc < 0 || !where ? rc : s_where(c, v.at, where);
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* The rule's options may only have these keys. */
static int s_keys(struct mqg_svc_ctx *c, const struct s_rule *s, const char *const *keys)
{
    return s->opts ? mqg_svc_check_keys(c, s->opts, s->base, keys) : 0;
}

/* transform and filter: {expression}. */
static int s_rule_expr(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"expression", NULL};
    int rc = s_keys(c, s, keys);
    return rc < 0
               ? rc
               : s_req_text(c, s, "expression", "a JSONata expression", &s->r->text, &s->r->where);
}

/* parse: {format}, one of mqg_parse_format's names. */
static int s_rule_parse(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"format", NULL};
    char path[MQG_SVC_PATH_MAX];
    enum mqg_parse_format f;
    int rc = s_keys(c, s, keys);
    rc = rc < 0 ? rc : s_req_text(c, s, "format", "a format", &s->r->text, &s->r->where);
    if (rc == 0 && mqg_parse_format(s->r->text, &f) < 0) {
        mqg_svc_path(path, s->base, "format");
        rc = mqg_svc_fail(c, mqg_yaml_map_get(c->doc, s->opts, "format", NULL), path,
                          "unknown parse format '%s'; expected one of (case-sensitive): %s",
                          s->r->text, S_FORMATS);
    }
    return rc;
}

/* A name usable as {name} in a publish topic (mqg_topic.h): a letter or '_', then letters,
 * digits or '_'. */
static bool s_is_name(const char *s, size_t len)
{
    if (len == 0 ||
        !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9'))) {
            return false;
        }
    }
    return true;
}

/* Pair i of setContextVars' vars (map, setting path `path`) into *var. */
static int s_var(struct mqg_svc_ctx *c, const s_node *map, const char *path, size_t i,
                 struct mqg_rule_var *var)
{
    char vpath[MQG_SVC_PATH_MAX];
    const s_node *k;
    const s_node *val;
    size_t len;
    mqg_yaml_map_at(c->doc, map, i, &k, &val);
    const char *name = mqg_yaml_scalar(k, &len);
    if (!name || strlen(name) != len) {
        return mqg_svc_fail(c, k, path, "expected a variable name, got a %s",
                            name ? "binary scalar" : mqg_yaml_kind_name(k));
    }
    mqg_svc_path(vpath, path, name);
    if (!s_is_name(name, len)) {
        return mqg_svc_fail(c, k, vpath,
                            "'%s' is not a usable variable name; expected a letter or '_' "
                            "followed by letters, digits or '_' (a publish topic uses it as "
                            "{name})",
                            name);
    }
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, val, vpath, &v);
    if (rc == 0 && mqg_svc_val_null(&v)) {
        rc = mqg_svc_fail(c, k, vpath, "%s has no expression; expected %s: <JSONata>", name, name);
    }
    rc = rc < 0 ? rc : s_val_text(c, &v, vpath, name, "a JSONata expression");
    rc = rc < 0 ? rc : mqg_svc_dup(c, name, &var->name);
    rc = rc < 0 ? rc : mqg_svc_dup(c, v.text, &var->expr);
    rc = rc < 0 ? rc : s_where(c, v.at, &var->where);
    mqg_svc_val_clear(&v);
    return rc;
}

/* setContextVars: {vars: {name: expression, ...}}, at least one. */
static int s_rule_vars(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"vars", NULL};
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v = {0};
    int rc = s_keys(c, s, keys);
    rc = rc < 0 ? rc : mqg_svc_get(c, s->opts, s->base, "vars", path, &v);
    if (rc <= 0) {
        mqg_svc_val_clear(&v);
        return rc < 0 ? rc
                      : mqg_svc_fail(c, s->kkey, path,
                                     "setContextVars.vars is missing; expected %s", SYNTAX[s->k]);
    }
    const s_node *map = v.node;
    size_t n = mqg_yaml_map_size(map);
    if (mqg_yaml_kind(map) != MQG_YAML_MAPPING) {
        rc = mqg_svc_fail(c, v.at, path, "expected a mapping {<name>: <JSONata>, ...}, got a %s",
                          s_what(&v));
    } else if (n == 0) {
        rc = mqg_svc_fail(c, v.at, path, "vars is empty; expected at least one <name>: <JSONata>");
    }
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    rc = 0;
    s->r->vars = calloc(n, sizeof(*s->r->vars));
    if (!s->r->vars) {
        return mqg_svc_oom(c);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        s->r->n_vars = i + 1;
        rc = s_var(c, map, path, i, &s->r->vars[i]);
    }
    return rc < 0 ? rc : s_where(c, s->kkey, &s->r->where);
}

/* An optional number >= 0 (deadband) into *out. Returns 1 set, 0 not set, or -EINVAL. */
static int s_opt_number(struct mqg_svc_ctx *c, const s_node *map, const char *base, const char *key,
                        double *out)
{
    char path[MQG_SVC_PATH_MAX];
    char o[MQG_SVC_ORIGIN_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, base, key, path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "a number >= 0");
    }
    if (rc == 0 && v.text) { /* set, and text */
        if (v.quoted && !v.param) {
            rc = mqg_svc_fail(c, v.at, path, "expected a number >= 0, got the quoted string '%s'%s",
                              v.text, mqg_svc_origin(&v, o, sizeof(o)));
        } else if (!mqg_svc_parse_double(v.text, out)) {
            rc = mqg_svc_fail(c, v.at, path, "expected a number >= 0, got '%s'%s", v.text,
                              mqg_svc_origin(&v, o, sizeof(o)));
        } else if (*out < 0) {
            rc = mqg_svc_fail(c, v.at, path, "%s is out of range; expected a number >= 0%s", v.text,
                              mqg_svc_origin(&v, o, sizeof(o)));
        } else {
            rc = 1;
        }
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* cov: {key, deadband?, deadbandMode?}. */
static int s_rule_cov(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"key", "deadband", "deadbandMode", NULL};
    char path[MQG_SVC_PATH_MAX];
    char *mode = NULL;
    double db = 0;
    int rc = s_keys(c, s, keys);
    rc = rc < 0 ? rc : s_req_text(c, s, "key", "a property name", &s->r->text, &s->r->where);
    int has_db = rc < 0 ? rc : s_opt_number(c, s->opts, s->base, "deadband", &db);
    rc = has_db < 0 ? has_db : mqg_svc_opt_string(c, s->opts, s->base, "deadbandMode", &mode);
    if (rc > 0 && strcmp(mode, "absolute") != 0 && strcmp(mode, "relative") != 0) {
        mqg_svc_path(path, s->base, "deadbandMode");
        rc = mqg_svc_fail(c, mqg_yaml_map_get(c->doc, s->opts, "deadbandMode", NULL), path,
                          "unknown deadbandMode '%s'; expected absolute or relative", mode);
    }
    if (rc >= 0 && has_db > 0) { /* without a deadband the mode does not matter */
        s->r->cov_mode =
            mode && strcmp(mode, "relative") == 0 ? MQG_COV_RELATIVE : MQG_COV_ABSOLUTE;
        s->r->deadband = db;
    }
    free(mode);
    return rc < 0 ? rc : 0;
}

/* burst: {interval?, maxSize?}; neither: the rule lets messages pass (docs/rules.md). */
static int s_rule_burst(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"interval", "maxSize", NULL};
    char path[MQG_SVC_PATH_MAX];
    int interval = 0;
    int max = 0;
    int rc = s_keys(c, s, keys);
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, s->opts, s->base, "interval", 1, INT_MAX, &interval);
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, s->opts, s->base, "maxSize", 1, INT_MAX, &max);
    if (rc >= 0 && max > MQG_BURST_HARD_MAX) {
        mqg_svc_path(path, s->base, "maxSize");
        rc = mqg_svc_notice(c, mqg_yaml_map_get(c->doc, s->opts, "maxSize", NULL), path,
                            "burst/maxSize",
                            "maxSize %d is above mqgate's bound of %d messages per batch: a "
                            "batch goes out when it holds %d",
                            max, MQG_BURST_HARD_MAX, MQG_BURST_HARD_MAX);
    }
    s->r->interval_ms = (uint32_t)interval;
    s->r->max_size = (uint32_t)max;
    return rc < 0 ? rc : s_where(c, s->kkey, &s->r->where);
}

/* collect: no options ({} or null). */
static int s_rule_collect(struct mqg_svc_ctx *c, struct s_rule *s)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *k;
    if (mqg_yaml_map_size(s->opts) > 0) {
        mqg_yaml_map_at(c->doc, s->opts, 0, &k, NULL);
        const char *key = mqg_yaml_scalar(k, NULL);
        mqg_svc_path(path, s->base, key ? key : "?");
        return mqg_svc_fail(c, k, path,
                            "unknown property '%s'; collect has no options, expected %s",
                            key ? key : "?", SYNTAX[s->k]);
    }
    return s_where(c, s->kkey, &s->r->where);
}

/* stash: {label}. */
static int s_rule_stash(struct mqg_svc_ctx *c, struct s_rule *s)
{
    static const char *const keys[] = {"label", NULL};
    int rc = s_keys(c, s, keys);
    return rc < 0 ? rc : s_req_text(c, s, "label", "a label", &s->r->text, &s->r->where);
}

/* The kind named by key node k of rule item ibase: index into KINDS in *k_out. */
static int s_kind(struct mqg_svc_ctx *c, const s_node *k, const char *ibase, size_t *k_out)
{
    char path[MQG_SVC_PATH_MAX];
    size_t len;
    const char *name = mqg_yaml_scalar(k, &len);
    if (!name || strlen(name) != len) {
        return mqg_svc_fail(c, k, ibase, "expected a rule kind (one of: %s), got a %s", S_KINDS,
                            name ? "binary scalar" : mqg_yaml_kind_name(k));
    }
    for (size_t i = 0; KINDS[i]; i++) {
        if (strcmp(name, KINDS[i]) == 0) {
            *k_out = i;
            return 0;
        }
    }
    mqg_svc_path(path, ibase, name);
    return mqg_svc_fail(c, k, path, "unknown rule kind '%s'; expected one of: %s", name, S_KINDS);
}

/* A second key next to the kind in rule item m: two kinds, or an option written beside the
 * kind instead of inside it. */
static int s_second_key(struct mqg_svc_ctx *c, const s_node *m, const char *ibase, size_t k)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *k1;
    mqg_yaml_map_at(c->doc, m, 1, &k1, NULL);
    const char *name = mqg_yaml_scalar(k1, NULL);
    name = name ? name : "?";
    mqg_svc_path(path, ibase, name);
    for (size_t i = 0; KINDS[i]; i++) {
        if (strcmp(name, KINDS[i]) == 0) {
            return mqg_svc_fail(c, k1, path,
                                "two rule kinds in one list item ('%s' and '%s'); expected "
                                "one kind per item: write each rule as its own '- %s: ...'",
                                KINDS[k], name, name);
        }
    }
    return mqg_svc_fail(c, k1, path,
                        "'%s' next to the rule kind '%s'; expected exactly one key per list item, "
                        "the kind, with its options inside it: %s",
                        name, KINDS[k], SYNTAX[k]);
}

/* The options of rule s in item m: a mapping, or null (s->opts NULL). */
static int s_opts(struct mqg_svc_ctx *c, const s_node *m, const char *ibase, struct s_rule *s)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, m, ibase, KINDS[s->k], path, &v);
    if (rc > 0 && mqg_yaml_kind(v.node) != MQG_YAML_MAPPING) {
        rc = mqg_svc_fail(c, v.at, path, "expected %s, got a %s", SYNTAX[s->k], s_what(&v));
    } else if (rc > 0) {
        s->opts = v.node;
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 0;
}

/* One item of rules (setting path ibase) into *r. */
static int s_rule(struct mqg_svc_ctx *c, const s_node *item, const char *ibase, struct mqg_rule *r)
{
    static int (*const READ[])(struct mqg_svc_ctx *, struct s_rule *) = {
        s_rule_expr, s_rule_expr,  s_rule_parse,   s_rule_vars,
        s_rule_cov,  s_rule_burst, s_rule_collect, s_rule_stash,
    };
    struct s_rule s = {.r = r};
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, item, ibase, &v);
    const s_node *m = v.node;
    const char *what = s_what(&v);
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    if (mqg_yaml_kind(m) != MQG_YAML_MAPPING || mqg_yaml_map_size(m) == 0) {
        return mqg_svc_fail(
            c, item, ibase, "expected a rule {<kind>: {<options>}} with kind one of: %s, got %s%s",
            S_KINDS, mqg_yaml_kind(m) == MQG_YAML_MAPPING ? "an empty " : "a ", what);
    }
    const s_node *k0;
    mqg_yaml_map_at(c->doc, m, 0, &k0, NULL);
    rc = s_kind(c, k0, ibase, &s.k);
    if (rc == 0 && mqg_yaml_map_size(m) > 1) {
        rc = s_second_key(c, m, ibase, s.k);
    }
    if (rc < 0) {
        return rc;
    }
    r->kind = (enum mqg_rule_kind)(s.k + 1);
    s.kkey = k0;
    mqg_svc_path(s.base, ibase, KINDS[s.k]);
    rc = s_opts(c, m, ibase, &s);
    return rc < 0 ? rc : READ[s.k](c, &s);
}

int mqg_svc_rules(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                  struct mqg_rule **out, size_t *n)
{
    char path[MQG_SVC_PATH_MAX];
    char ibase[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    *out = NULL;
    *n = 0;
    int rc = mqg_svc_get(c, map, parent, "rules", path, &v);
    const s_node *list = v.node;
    if (rc > 0 && mqg_yaml_kind(list) != MQG_YAML_SEQUENCE) {
        rc = mqg_svc_fail(c, v.at, path,
                          "expected a list of rules (- <kind>: {<options>}), got a %s", s_what(&v));
    }
    mqg_svc_val_clear(&v);
    if (rc <= 0) {
        return rc;
    }
    struct mqg_rule *rules = NULL;
    size_t nr = 0;
    size_t count = mqg_yaml_seq_size(list);
    for (size_t i = 0; rc >= 0 && i < count; i++) {
        size_t idx;
        mqg_svc_path_idx(ibase, path, i);
        rc = mqg_svc_append(c, (void **)&rules, &nr, sizeof(*rules), &idx);
        rc = rc < 0 ? rc : s_rule(c, mqg_yaml_seq_at(c->doc, list, i), ibase, &rules[idx]);
    }
    if (rc < 0) {
        mqg_model_rules_free(rules, nr);
        return rc;
    }
    *out = rules;
    *n = nr;
    return 0;
}

bool mqg_rules_sets_var(const void *rt, const char *name, size_t len)
{
    const struct mqg_route *r = rt;
    for (size_t i = 0; i < r->n_rules; i++) {
        for (size_t j = 0; j < r->rules[i].n_vars; j++) {
            const char *v = r->rules[i].vars[j].name;
            if (v && strlen(v) == len && memcmp(v, name, len) == 0) {
                return true;
            }
        }
    }
    return false;
}

void mqg_rules_clear(struct mqg_route *rt)
{
    mqg_model_rules_free(rt->rules, rt->n_rules);
    rt->rules = NULL;
    rt->n_rules = 0;
}
