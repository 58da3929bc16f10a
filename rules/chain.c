/* chain — the rules of each route run on one message at a time (see chain.h; the semantics of
 * each rule kind: docs/rules.md §6).
 *
 * A message starts as the payload's bytes; it is known to be JSON once the engine read it (an
 * expression evaluated on it) or a rule made it. Before a rule that needs JSON without the
 * engine (burst, collect, stash) a message not known to be JSON is read by the identity
 * expression `$`; a payload that is not JSON is dropped as not-json. What is published is
 * always the message as JSON.stringify writes it (docs/rules.md §6): one that no rule rewrote
 * (cov, setContextVars, parse json only) is passed through `$` at the end. filter is compiled
 * as `$boolean(<expr>) ? $`: what passes is what jsonata's $boolean calls true (undefined,
 * false, null, 0, "", [] and {} do not), and comes out serialised by the same evaluation. A
 * transform whose result is undefined drops the message (counted as filtered).
 */
#include "chain.h"
#include "chain_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_log.h"
#include "mqg_ratelog.h"
#include "mqg_rulestate.h"
#include "mqg_topic.h"

/* One message on its way through a route's rules. */
struct c_msg {
    struct c_route *cr;
    const char *topic; /* without the rid */
    int src;           /* the source that matched it, -1 none */
    struct cvars vars;
    char *ctx; /* $context's text; NULL until needed and after the vars changed */
    const char *data;
    size_t len;
    char *own;           /* data when the chain made it */
    bool json;           /* data is known to be JSON */
    struct c_tags carry; /* tags released when this message (or batch) is done */
};

static const char *const s_ids[CR_N] = {"RULE-NOT-JSON", "RULE-TIMEOUT", "RULE-ERROR"};
static const char *const s_causes[CR_N] = {"not-json", "timeout", "error"};

/* ---- drops ---- */

/* A message of route cr dropped for cause at rule r (NULL: the output): logged in detail once
 * per series, then summarised (chain_tick). */
static void s_note(struct chain_set *s, struct c_msg *m, int cause, const struct mqg_rule *r,
                   const char *code, const char *what)
{
    struct c_route *cr = m->cr;
    int level = mqg_ratelog_hit(&cr->rl[cause], s->now) ? MQG_LOG_WARN : MQG_LOG_DEBUG;
    mqg_log(level, s_ids[cause],
            "%s (rid %s): message on '%s' dropped at %s%s: %s%s%s; counted as %s, more are "
            "summarised every %d s",
            cr->r->name, cr->r->rid, m->topic, r ? "the rule at " : "the target topic",
            r && r->where ? r->where : "", code && code[0] ? code : "", code && code[0] ? " " : "",
            what, s_causes[cause], CHAIN_REPORT_MS / 1000);
}

static void s_count(struct c_route *cr, int rc)
{
    switch (rc) {
    case CHAIN_FILTERED:
        cr->st.filtered++;
        break;
    case CHAIN_NOT_JSON:
        cr->st.not_json++;
        break;
    case CHAIN_TIMEOUT:
        cr->st.timeout++;
        break;
    case CHAIN_ERROR:
        cr->st.error++;
        break;
    default:
        break;
    }
}

/* ---- the message ---- */

static void s_msg_set(struct c_msg *m, char *json)
{
    free(m->own);
    m->own = json;
    m->data = json;
    m->len = strlen(json);
    m->json = true;
}

/* ---- tags (chain_set_release) ---- */

/* Append the n tags v to t (cap 0 with tags: t->v is borrowed, not freed). 0 or -ENOMEM. */
static int s_tags_add(struct c_tags *t, const uint64_t *v, size_t n)
{
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 8;
        while (cap < t->n + n) {
            cap *= 2;
        }
        uint64_t *nv = t->cap ? realloc(t->v, cap * sizeof(*nv)) : malloc(cap * sizeof(*nv));
        if (!nv) {
            return -ENOMEM;
        }
        if (!t->cap && t->n) {
            memcpy(nv, t->v, t->n * sizeof(*nv));
        }
        t->v = nv;
        t->cap = cap;
    }
    if (n) {
        memcpy(t->v + t->n, v, n * sizeof(*v));
    }
    t->n += n;
    return 0;
}

/* Release the tags of a message that is done (arg: emit's). */
static void s_tags_release(struct chain_set *s, struct c_tags *t, void *arg)
{
    for (size_t k = 0; s->release && k < t->n; k++) {
        s->release(arg, t->v[k]);
    }
    t->n = 0;
}

void chain_set_release(struct chain_set *s, chain_release_fn *fn, size_t max_held)
{
    s->release = fn;
    s->max_held = max_held;
}

static void s_msg_free(struct c_msg *m)
{
    free(m->own);
    free(m->ctx);
    cvars_free(&m->vars);
    if (m->carry.cap) {
        free(m->carry.v);
    }
}

/* Evaluate x on the message. 0 (and *out, NULL for undefined), a CHAIN_* drop, or -ENOMEM. */
static int s_eval(struct chain_set *s, struct c_msg *m, const struct mqg_rule *r,
                  const struct jsexpr *x, const char *bindings, unsigned flags, char **out)
{
    *out = NULL;
    if (!m->ctx && !(m->ctx = chain_context(m->topic, &m->vars))) {
        return -ENOMEM;
    }
    struct jsengine_args a = {.input = m->data,
                              .input_len = m->len,
                              .context = m->ctx,
                              .stash = m->cr->stash ? mqg_stash_json(m->cr->stash) : NULL,
                              .bindings = bindings,
                              .flags = flags};
    struct jsengine_error err;
    int rc = jsengine_eval(s->e, x, &a, out, &err);
    if (rc == 0) {
        m->json = true;
        return 0;
    }
    if (rc == -ENOMEM) {
        return rc;
    }
    if (rc == -EBADMSG) {
        s_note(s, m, CR_NOT_JSON, r, NULL, "the payload is not JSON");
        return CHAIN_NOT_JSON;
    }
    if (rc == -ETIMEDOUT) {
        s_note(s, m, CR_TIMEOUT, r, err.code, err.message);
        return CHAIN_TIMEOUT;
    }
    s_note(s, m, CR_ERROR, r, err.code, err.message);
    return CHAIN_ERROR;
}

/* The message as JSON (read by `$` when not known to be JSON). 0, a drop, or -ENOMEM. */
static int s_need_json(struct chain_set *s, struct c_msg *m, const struct mqg_rule *r)
{
    if (m->json) {
        return 0;
    }
    char *out = NULL;
    int rc = s_eval(s, m, r, s->ident, NULL, 0, &out);
    if (rc) {
        return rc;
    }
    if (!out) { /* nothing jsonata could give back */
        s_note(s, m, CR_NOT_JSON, r, NULL, "the payload is not a JSON value");
        return CHAIN_NOT_JSON;
    }
    s_msg_set(m, out);
    return 0;
}

/* ---- the rule kinds ---- */

static int s_parse(struct chain_set *s, struct c_msg *m, struct c_rule *cr)
{
    if (cr->fmt == MQG_PARSE_JSON) {
        return 0; /* read as JSON by the next rule that needs it */
    }
    char *out = NULL;
    int rc = mqg_parse_payload(cr->fmt, m->data, m->len, &out);
    if (rc == -ENOMEM) {
        return rc;
    }
    if (rc) {
        char what[96];
        snprintf(what, sizeof(what), "the payload (%zu bytes) does not hold a %s", m->len,
                 cr->r->text);
        s_note(s, m, CR_NOT_JSON, cr->r, NULL, what);
        return CHAIN_NOT_JSON;
    }
    s_msg_set(m, out);
    return 0;
}

static int s_set_vars(struct chain_set *s, struct c_msg *m, struct c_rule *cr)
{
    for (size_t k = 0; k < cr->r->n_vars; k++) {
        char *out = NULL, *str = NULL;
        size_t slen = 0;
        int rc = s_eval(s, m, cr->r, cr->vx[k], NULL, 0, &out);
        if (rc || !out) {
            if (rc) {
                return rc;
            }
            continue; /* undefined: the variable keeps what it had */
        }
        if (out[0] == '"' && chain_json_unquote(out, strlen(out), &str, &slen) != 0) {
            free(out);
            return -ENOMEM;
        }
        rc = str ? cvars_set(&m->vars, cr->r->vars[k].name, out, strlen(out), str, slen)
                 : cvars_set(&m->vars, cr->r->vars[k].name, out, strlen(out), out, strlen(out));
        free(out);
        free(str);
        free(m->ctx);
        m->ctx = NULL;
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int s_cov(struct chain_set *s, struct c_msg *m, struct c_rule *cr)
{
    char *value = NULL;
    int rc = s_eval(s, m, cr->r, cr->x, cr->bindings, JSENGINE_CANONICAL, &value);
    if (rc) {
        return rc;
    }
    bool pass = false;
    rc = mqg_cov_check(cr->cov, value, value ? strlen(value) : 0, &pass);
    free(value);
    return rc < 0 ? rc : pass ? 0 : CHAIN_FILTERED;
}

static int s_run_from(struct chain_set *s, struct c_msg *m, size_t from, chain_emit_fn *emit,
                      void *arg);

/* A burst batch (json, taken) goes on through the rules after rule i, with the context of its
 * last message; then the tags of its messages are released (unless a later burst holds it). */
static int s_flush_batch(struct chain_set *s, struct c_route *rt, size_t i, char *json,
                         chain_emit_fn *emit, void *arg)
{
    struct c_rule *cr = &rt->rules[i];
    struct c_msg m = {.cr = rt, .topic = cr->b_topic ? cr->b_topic : "", .src = cr->b_src};
    m.vars = cr->b_vars; /* moved: the batch starts over */
    memset(&cr->b_vars, 0, sizeof(cr->b_vars));
    m.carry = cr->held; /* moved too */
    s->n_held -= cr->held.n;
    memset(&cr->held, 0, sizeof(cr->held));
    s_msg_set(&m, json);
    int rc = s_run_from(s, &m, i + 1, emit, arg);
    if (rt->stash && mqg_stash_commit(rt->stash) != 0 && rc >= 0) {
        rc = -ENOMEM;
    }
    s_count(rt, rc);
    s_tags_release(s, &m.carry, arg);
    s_msg_free(&m);
    free(cr->b_topic);
    cr->b_topic = NULL;
    return rc;
}

static int s_burst(struct chain_set *s, struct c_msg *m, size_t i, chain_emit_fn *emit, void *arg)
{
    struct c_rule *cr = &m->cr->rules[i];
    char *out = NULL;
    int rc = mqg_burst_tick(cr->burst, (uint64_t)s->now, &out);
    if (rc == 0 && out) { /* a batch that is due goes out before this message joins one */
        rc = s_flush_batch(s, m->cr, i, out, emit, arg);
    }
    if (rc < 0 || (rc = mqg_burst_push(cr->burst, m->data, m->len, (uint64_t)s->now, &out)) < 0) {
        return rc;
    }
    if (out) { /* the batch is complete: it goes on as this message, with its tags */
        s_msg_set(m, out);
        s->n_held -= cr->held.n;
        rc = s_tags_add(&m->carry, cr->held.v, cr->held.n);
        cr->held.n = 0;
        return rc;
    }
    free(cr->b_topic); /* held: remember this message's context for the batch */
    cr->b_topic = strdup(m->topic);
    cr->b_src = m->src;
    if (!cr->b_topic || cvars_copy(&cr->b_vars, &m->vars) != 0) {
        return -ENOMEM;
    }
    /* its tags wait for the batch, within the bound (beyond it they are released at once) */
    if (s->release && s->n_held + m->carry.n <= s->max_held &&
        s_tags_add(&cr->held, m->carry.v, m->carry.n) == 0) {
        s->n_held += m->carry.n;
        m->carry.n = 0;
    }
    return CHAIN_HELD;
}

static int s_collect(struct chain_set *s, struct c_msg *m, struct c_rule *cr)
{
    const char *label = m->topic;
    const char *tmpl = m->src >= 0 ? m->cr->r->sources[m->src].label : NULL;
    const char *why = NULL;
    if (tmpl) {
        int n = chain_render(tmpl, &m->vars, s->tbuf, CHAIN_TOPIC_CAP, &why);
        if (n < 0) {
            char what[160];
            snprintf(what, sizeof(what), "the label '%s' cannot be rendered (%s)", tmpl,
                     n == -ENOENT ? "a {name} has no value" : "too long");
            s_note(s, m, CR_ERROR, cr->r, NULL, what);
            return CHAIN_ERROR;
        }
        label = s->tbuf;
    }
    char *out = NULL;
    int rc = mqg_collect_put(cr->collect, label, m->data, m->len, &out);
    if (rc) {
        return rc;
    }
    s_msg_set(m, out);
    return 0;
}

/* Rule i on the message: 0 (go on), a CHAIN_* drop or CHAIN_HELD, or -errno. */
static int s_rule(struct chain_set *s, struct c_msg *m, size_t i, chain_emit_fn *emit, void *arg)
{
    struct c_rule *cr = &m->cr->rules[i];
    char *out = NULL;
    int rc;
    switch (cr->r->kind) {
    case MQG_RULE_PARSE:
        return s_parse(s, m, cr);
    case MQG_RULE_TRANSFORM:
        if ((rc = s_eval(s, m, cr->r, cr->x, NULL, 0, &out)) != 0) {
            return rc;
        }
        if (!out) {
            return CHAIN_FILTERED; /* undefined: no message */
        }
        s_msg_set(m, out);
        return 0;
    case MQG_RULE_FILTER: /* the message itself when it passes, else undefined */
        if ((rc = s_eval(s, m, cr->r, cr->x, NULL, 0, &out)) != 0) {
            return rc;
        }
        if (!out) {
            return CHAIN_FILTERED;
        }
        s_msg_set(m, out);
        return 0;
    case MQG_RULE_SET_CONTEXT_VARS:
        return s_set_vars(s, m, cr);
    case MQG_RULE_COV:
        return s_cov(s, m, cr);
    default:
        break;
    }
    if ((rc = s_need_json(s, m, cr->r)) != 0) {
        return rc;
    }
    switch (cr->r->kind) {
    case MQG_RULE_BURST:
        return s_burst(s, m, i, emit, arg);
    case MQG_RULE_COLLECT:
        return s_collect(s, m, cr);
    case MQG_RULE_STASH:
        return mqg_stash_put(m->cr->stash, cr->r->text, m->data, m->len);
    default:
        return -EINVAL;
    }
}

/* The message goes out: "<rid>/<target topic rendered>". */
static int s_output(struct chain_set *s, struct c_msg *m, chain_emit_fn *emit, void *arg)
{
    if (!m->own) {
        m->json = false; /* still the payload's bytes: published as JSON.stringify writes it */
    }
    int rc = s_need_json(s, m, NULL);
    if (rc) {
        return rc;
    }
    const struct mqg_route *r = m->cr->r;
    size_t pre = strlen(r->rid) + 1;
    const char *why = NULL;
    snprintf(s->tbuf, CHAIN_TOPIC_CAP, "%s/", r->rid);
    int n = chain_render(r->target.topic, &m->vars, s->tbuf + pre, CHAIN_TOPIC_CAP - pre, &why);
    if (n < 0 || !mqg_topic_valid_name(s->tbuf + pre)) {
        char what[200];
        int nl = why ? (int)strcspn(why, "}") + 1 : 0;
        snprintf(what, sizeof(what), "'%s' %s%.*s", r->target.topic,
                 n == -ENOENT   ? "names a variable with no value: "
                 : n == -ENOSPC ? "is too long once rendered"
                                : "does not render to a valid topic name",
                 nl, why ? why : "");
        s_note(s, m, CR_ERROR, NULL, NULL, what);
        return CHAIN_ERROR;
    }
    rc = emit(arg, r, s->tbuf, m->data, m->len);
    if (rc == 0) {
        m->cr->st.out++;
    }
    return rc < 0 ? rc : CHAIN_PASSED;
}

static int s_run_from(struct chain_set *s, struct c_msg *m, size_t from, chain_emit_fn *emit,
                      void *arg)
{
    for (size_t i = from; i < m->cr->r->n_rules; i++) {
        int rc = s_rule(s, m, i, emit, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return s_output(s, m, emit, arg);
}

/* ---- running ---- */

static struct c_route *s_find(struct chain_set *s, const char *rid, size_t len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *x = s->routes[mid].r->rid;
        int c = strncmp(x, rid, len);
        if (c == 0 && x[len] != '\0') {
            c = 1;
        }
        if (c == 0) {
            return &s->routes[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The source matching m->topic and the values of its named wildcards. 0 or -ENOMEM. */
static int s_match(struct chain_set *s, struct c_msg *m)
{
    m->src = -1;
    for (size_t j = 0; j < m->cr->r->n_sources; j++) {
        struct c_source *src = &m->cr->src[j];
        if (src->p && mqg_topic_match(mqg_topic_unshare(mqg_pattern_filter(src->p)), m->topic)) {
            m->src = (int)j;
            break;
        }
    }
    if (m->src < 0) {
        return 0;
    }
    struct c_source *src = &m->cr->src[m->src];
    for (size_t k = 0; k < src->n_names; k++) {
        char tmpl[256];
        snprintf(tmpl, sizeof(tmpl), "{%s}", src->names[k]);
        int n = mqg_pattern_render(src->p, m->topic, tmpl, s->tbuf, CHAIN_TOPIC_CAP);
        if (n < 0) {
            continue;
        }
        char *json = chain_json_quote(s->tbuf, (size_t)n);
        int rc = json ? cvars_set(&m->vars, src->names[k], json, strlen(json), s->tbuf, (size_t)n)
                      : -ENOMEM;
        free(json);
        if (rc) {
            return rc;
        }
        m->vars.v[m->vars.n - 1].wildcard = true;
    }
    return 0;
}

int chain_run(struct chain_set *s, const char *topic, const void *payload, size_t len,
              uint64_t now_ms, chain_emit_fn *emit, void *arg)
{
    return chain_run_tag(s, topic, payload, len, now_ms, NULL, emit, arg);
}

int chain_run_tag(struct chain_set *s, const char *topic, const void *payload, size_t len,
                  uint64_t now_ms, const uint64_t *tag, chain_emit_fn *emit, void *arg)
{
    s->now = (int64_t)now_ms;
    const char *slash = strchr(topic, '/');
    struct c_route *rt = slash ? s_find(s, topic, (size_t)(slash - topic)) : NULL;
    if (!rt) {
        s->unknown++;
        int level = mqg_ratelog_hit(&s->rl_unknown, s->now) ? MQG_LOG_WARN : MQG_LOG_DEBUG;
        mqg_log(level, "RULE-NO-ROUTE",
                "message on '%s' dropped: no route with rules has its rid (the router and the "
                "rules process disagree about the configuration); more are summarised every %d s",
                topic, CHAIN_REPORT_MS / 1000);
        if (tag && s->release) {
            s->release(arg, *tag);
        }
        return CHAIN_UNKNOWN_ROUTE;
    }
    struct c_msg m = {.cr = rt, .topic = slash + 1, .data = payload, .len = len};
    rt->st.in++;
    uint64_t one = tag ? *tag : 0;
    m.carry = (struct c_tags){.v = &one, .n = tag ? 1 : 0, .cap = 0}; /* borrowed */
    int rc = s_match(s, &m);
    if (rc == 0) {
        rc = s_run_from(s, &m, 0, emit, arg);
    }
    if (rt->stash && mqg_stash_commit(rt->stash) != 0 && rc >= 0) {
        rc = -ENOMEM;
    }
    s_count(rt, rc);
    s_tags_release(s, &m.carry, arg);
    s_msg_free(&m);
    return rc;
}

/* The summaries of drops that are due (one line per route and cause). */
static void s_summaries(struct chain_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct c_route *cr = &s->routes[i];
        for (int c = 0; c < CR_N; c++) {
            uint64_t n = mqg_ratelog_summary(&cr->rl[c], s->now);
            if (n) {
                log_warn(s_ids[c], "%s (rid %s): %llu more messages dropped as %s in the last %d s",
                         cr->r->name, cr->r->rid, (unsigned long long)n, s_causes[c],
                         CHAIN_REPORT_MS / 1000);
            }
        }
    }
    uint64_t n = mqg_ratelog_summary(&s->rl_unknown, s->now);
    if (n) {
        log_warn("RULE-NO-ROUTE", "%llu more messages for no route dropped in the last %d s",
                 (unsigned long long)n, CHAIN_REPORT_MS / 1000);
    }
}

int chain_tick(struct chain_set *s, uint64_t now_ms, chain_emit_fn *emit, void *arg)
{
    s->now = (int64_t)now_ms;
    int outs = 0;
    for (size_t b = 0; b < s->n_bursts; b++) {
        struct c_route *rt = &s->routes[s->bursts[b].route];
        size_t k = s->bursts[b].rule;
        char *out = NULL;
        if (mqg_burst_tick(rt->rules[k].burst, now_ms, &out) != 0 || !out) {
            continue;
        }
        int rc = s_flush_batch(s, rt, k, out, emit, arg);
        if (rc < 0) {
            return rc;
        }
        outs += rc == CHAIN_PASSED;
    }
    s_summaries(s);
    return outs;
}

uint64_t chain_due(const struct chain_set *s)
{
    uint64_t due = 0;
    for (size_t b = 0; b < s->n_bursts; b++) {
        uint64_t d = mqg_burst_due(s->routes[s->bursts[b].route].rules[s->bursts[b].rule].burst);
        if (d && (!due || d < due)) {
            due = d;
        }
    }
    return due;
}

size_t chain_routes(const struct chain_set *s)
{
    return s->n;
}

const struct mqg_route *chain_route(const struct chain_set *s, size_t i, struct mqg_rule_stats *st)
{
    if (i >= s->n) {
        return NULL;
    }
    if (st) {
        *st = s->routes[i].st;
    }
    return s->routes[i].r;
}

uint64_t chain_unknown(const struct chain_set *s)
{
    return s->unknown;
}
