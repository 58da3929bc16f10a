/* chain_int — what rules/chain.c takes from rules/chain_util.c: the variables of $context.vars,
 * JSON strings in and out, $context's text, topic templates and named wildcards; and the
 * chain's own structures (chain.c runs them, chain_build.c makes and frees them). Internal to
 * the chain (tests/unit/test_chain.c uses the helpers).
 */
#ifndef RULES_CHAIN_INT_H
#define RULES_CHAIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "jsengine.h"
#include "mqg_ratelog.h"
#include "mqg_rulestate.h"
#include "mqg_topic.h"

/* One variable: a named wildcard's value or what setContextVars set. */
struct cvar {
    char *name;
    char *json;    /* its value as JSON text (in $context.vars) */
    char *str;     /* the same for topics and labels: a string as such, other values as JSON */
    bool wildcard; /* a named wildcard's (then "$name" refers to it too), even if set later */
};

struct cvars {
    struct cvar *v;
    size_t n, cap;
};

void cvars_free(struct cvars *vs);

/* Set name (replacing its value) to json (jlen bytes) / str (slen bytes). 0 or -ENOMEM. */
int cvars_set(struct cvars *vs, const char *name, const char *json, size_t jlen, const char *str,
              size_t slen);

/* dst (freed first) becomes a copy of src. 0 or -ENOMEM. */
int cvars_copy(struct cvars *dst, const struct cvars *src);

/* The variable called name[0..nlen), or NULL. */
const struct cvar *cvars_get(const struct cvars *vs, const char *name, size_t nlen);

/* s[0..len) as a JSON string with its quotes (malloc'd), or NULL when memory is short. */
char *chain_json_quote(const char *s, size_t len);

/* The value of the JSON string json[0..len) (quotes included) into *out (malloc'd,
 * NUL-terminated, *olen bytes). -EINVAL when json is not one JSON string, -ENOMEM. */
int chain_json_unquote(const char *json, size_t len, char **out, size_t *olen);

/* $context's JSON text: {"topic": topic, "vars": {...}} (malloc'd), or NULL (memory). */
char *chain_context(const char *topic, const struct cvars *vs);

/* Render a topic template (or a collect label): "{name}" and "$name" (the longest run of
 * identifier characters after '$', when a named wildcard has that name: otherwise literal, as
 * mqg_pattern_check_template_vars has it) become the variable's str.
 * Writes at most cap bytes with the NUL into out. Returns the length, -ENOSPC, or -ENOENT for a
 * "{name}" no variable has (*why: the name's place in tmpl). */
int chain_render(const char *tmpl, const struct cvars *vs, char *out, size_t cap, const char **why);

/* The names of the named wildcards of a source filter ("+name", "#name" levels, after any
 * "$share/<group>/"), in order, into a malloc'd array of malloc'd strings. 0, -ENOMEM. */
int chain_wildcard_names(const char *filter, char ***names, size_t *n);

void chain_names_free(char **names, size_t n);

/* ---- the chain's structures ---- */

#define CHAIN_REPORT_MS 60000
#define CHAIN_TOPIC_CAP (MQG_TOPIC_MAX + 1)

enum { CR_NOT_JSON, CR_TIMEOUT, CR_ERROR, CR_N };

/* Tags of router copies whose confirmation waits (chain_run_tag). */
struct c_tags {
    uint64_t *v;
    size_t n, cap;
};

struct c_rule {
    const struct mqg_rule *r;
    struct jsexpr *x;   /* transform, filter ($boolean-wrapped), cov's key lookup */
    struct jsexpr **vx; /* setContextVars: one per variable */
    char *bindings;     /* cov: {"k": <key>} */
    enum mqg_parse_format fmt;
    struct mqg_cov *cov;
    struct mqg_burst *burst;
    struct mqg_collect *collect;
    /* burst: the context of the pending batch's last message */
    char *b_topic;
    int b_src;
    struct cvars b_vars;
    struct c_tags held; /* burst: the tags of the messages in the pending batch */
};

struct c_source {
    struct mqg_pattern *p;
    char **names; /* its named wildcards */
    size_t n_names;
};

struct c_route {
    const struct mqg_route *r;
    struct c_source *src; /* r->n_sources */
    struct c_rule *rules; /* r->n_rules */
    struct mqg_stash *stash;
    struct mqg_rule_stats st;
    struct mqg_ratelog rl[CR_N];
};

struct chain_set {
    struct jsengine *e;
    struct jsexpr *ident; /* "$": reads a payload as JSON */
    struct c_route *routes;
    size_t n; /* sorted by rid */
    uint64_t unknown;
    struct mqg_ratelog rl_unknown;
    int64_t now;
    char *tbuf; /* CHAIN_TOPIC_CAP: topics and labels rendered */
    struct c_burst_at {
        size_t route, rule;
    } * bursts; /* every burst rule (chain_due, chain_tick) */
    size_t n_bursts;
    chain_release_fn *release; /* chain_set_release; NULL: tags are not kept */
    size_t max_held;           /* tags burst batches may keep, all together */
    size_t n_held;
};

#endif
