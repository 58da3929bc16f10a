/* jsengine — JSONata expressions run by the official jsonata package inside JavaScriptCore.
 *
 * The only file that includes JavaScriptCore's headers. One context group and one global
 * context per engine; jsonata.js is evaluated once, then a small glue object (GLUE below)
 * compiles and evaluates. jsonata 2.x evaluates asynchronously: JavaScriptCore runs the
 * promise jobs before the outermost API call returns, so each jsengine_eval is synchronous.
 * Two limits stop a runaway expression: jsonata's own guardrails (timeout, stack depth), checked
 * at every step, including the chains of promise jobs that JavaScriptCore's watchdog cannot see;
 * and the watchdog (time per entry into the VM: wall time on the engine's thread, rules/jsclock.h)
 * for one long native step such as a backtracking regular expression. Single-threaded; see
 * jsengine.h for the contracts.
 */
#include "jsengine.h"

#include <JavaScriptCore/JavaScript.h>
#include <errno.h>
#include <jsc/jsc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsclock.h"

/* Exported by libjavascriptcoregtk, declared only in WebKit's private headers
 * (JSContextRefPrivate.h, JSBasePrivate.h); rules/rules.cmake checks that they link. */
typedef bool (*JSShouldTerminateCallback)(JSContextRef ctx, void *context);
JS_EXPORT void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef group, double limit,
                                                   JSShouldTerminateCallback callback,
                                                   void *context);
JS_EXPORT void JSSynchronousGarbageCollectForDebugging(JSContextRef ctx);

/* The glue: compile() and evaluate() around jsonata, $last for the stash, errors as plain
 * objects {code, position, token, message}, results as JSON text (keys sorted on request). */
static const char GLUE[] =
    "(function (jsonata) {\n"
    "  'use strict';\n"
    "  if (typeof jsonata !== 'function') { throw new Error('no jsonata() defined'); }\n"
    "  var has = Object.prototype.hasOwnProperty, stash = {};\n"
    "  function last(label) { return has.call(stash, label) ? stash[label] : null; }\n"
    "  function describe(e) {\n"
    "    var d = { message: '' };\n"
    "    if (e !== null && typeof e === 'object') {\n"
    "      if (typeof e.code === 'string') { d.code = e.code; }\n"
    "      if (typeof e.position === 'number') { d.position = e.position; }\n"
    "      if (e.token !== undefined && e.token !== null) { d.token = String(e.token); }\n"
    "      d.message = typeof e.message === 'string' ? e.message : String(e);\n"
    "    } else { d.message = String(e); }\n"
    "    return d;\n"
    "  }\n"
    "  function canon(v) {\n"
    "    var i, r, k;\n"
    "    if (Array.isArray(v)) {\n"
    "      r = new Array(v.length);\n"
    "      for (i = 0; i < v.length; i++) { r[i] = canon(v[i]); }\n"
    "      return r;\n"
    "    }\n"
    "    if (v !== null && typeof v === 'object') {\n"
    "      r = {}; k = Object.keys(v).sort();\n"
    "      for (i = 0; i < k.length; i++) { r[k[i]] = canon(v[k[i]]); }\n"
    "      return r;\n"
    "    }\n"
    "    return v;\n"
    "  }\n"
    "  return {\n"
    "    compile: function (src, timeout, depth) {\n"
    "      try {\n"
    "        var x = jsonata(src, { timeout: timeout, stack: depth });\n"
    "        x.registerFunction('last', last, '<s:x>');\n"
    "        return { expr: x };\n"
    "      } catch (e) { return { error: describe(e) }; }\n"
    "    },\n"
    "    evaluate: function (x, input, context, st, more, canonical) {\n"
    "      var b = {}, box = { done: false }, p, k;\n"
    "      if (more !== undefined) { for (k in more) { if (has.call(more, k)) { b[k] = more[k]; } "
    "} }\n"
    "      if (context !== undefined) { b.context = context; }\n"
    "      stash = st !== undefined ? st : {};\n"
    "      function bad(e) { box.done = true; box.error = describe(e); }\n"
    "      function ok(r) {\n"
    "        try {\n"
    "          box.value = r === undefined ? undefined : JSON.stringify(canonical ? canon(r) : "
    "r);\n"
    "          box.done = true;\n"
    "        } catch (e) { bad(e); }\n"
    "      }\n"
    "      try { p = x.evaluate(input, b); } catch (e) { bad(e); return box; }\n"
    "      p.then(ok, bad);\n"
    "      return box;\n"
    "    }\n"
    "  };\n"
    "})(this.jsonata)\n";

enum {
    N_COMPILE,
    N_EVALUATE,
    N_EXPR,
    N_ERROR,
    N_DONE,
    N_VALUE,
    N_CODE,
    N_POSITION,
    N_TOKEN,
    N_MESSAGE,
    N_COUNT
};
static const char *const NAMES[N_COUNT] = {"compile", "evaluate", "expr",     "error", "done",
                                           "value",   "code",     "position", "token", "message"};

struct jsengine {
    JSContextGroupRef group;
    JSGlobalContextRef ctx;
    JSObjectRef glue; /* protected */
    JSObjectRef fn_compile;
    JSObjectRef fn_evaluate;
    JSStringRef names[N_COUNT];
    struct jsengine_opts opts;
    char *buf; /* NUL-terminated copy of the input */
    size_t cap;
    unsigned watchdog_fired; /* set by s_should_terminate during one evaluation */
    uint32_t gc_bar_mb;      /* collect when RSS goes above this */
    uint32_t since_check;
    struct jsengine_stats stats;
};

struct jsexpr {
    struct jsengine *e;
    JSObjectRef obj; /* protected */
    char *src;       /* the expression, for the line and column of evaluation errors */
};

static void s_err_set(struct jsengine_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_err_clear(struct jsengine_error *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->position = -1;
    }
}

static void s_err_set(struct jsengine_error *err, const char *fmt, ...)
{
    if (!err) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* A JavaScript string as malloc'd UTF-8, or NULL. */
static char *s_utf8(JSStringRef s)
{
    size_t max = JSStringGetMaximumUTF8CStringSize(s);
    char *p = malloc(max);
    if (!p) {
        return NULL;
    }
    size_t n = JSStringGetUTF8CString(s, p, max);
    char *q = realloc(p, n ? n : 1);
    return q ? q : p;
}

/* A value's string form into buf (truncated), "" when it is undefined. */
static void s_to_buf(JSContextRef ctx, JSValueRef v, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!v || JSValueIsUndefined(ctx, v)) {
        return;
    }
    JSStringRef s = JSValueToStringCopy(ctx, v, NULL);
    if (s) {
        JSStringGetUTF8CString(s, buf, size);
        JSStringRelease(s);
    }
}

static JSValueRef s_get(struct jsengine *e, JSValueRef obj, int name)
{
    if (!obj || !JSValueIsObject(e->ctx, obj)) {
        return JSValueMakeUndefined(e->ctx);
    }
    return JSObjectGetProperty(e->ctx, (JSObjectRef)obj, e->names[name], NULL);
}

/* 1-based line and column (in code points) of UTF-16 offset pos - 1 in the UTF-8 text. */
static void s_line_col(const char *text, long pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    long target = pos > 0 ? pos - 1 : 0;
    long units = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p && units < target) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        units += len == 4 ? 2 : 1;
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
        for (int i = 0; i < len && *p; i++) {
            p++;
        }
    }
}

/* Fill err from a glue error object {code, position, token, message}; expr for line/column. */
static void s_err_from(struct jsengine *e, JSValueRef d, const char *expr,
                       struct jsengine_error *err)
{
    if (!err) {
        return;
    }
    s_to_buf(e->ctx, s_get(e, d, N_CODE), err->code, sizeof err->code);
    s_to_buf(e->ctx, s_get(e, d, N_TOKEN), err->token, sizeof err->token);
    s_to_buf(e->ctx, s_get(e, d, N_MESSAGE), err->message, sizeof err->message);
    JSValueRef pos = s_get(e, d, N_POSITION);
    if (JSValueIsNumber(e->ctx, pos)) {
        err->position = (long)JSValueToNumber(e->ctx, pos, NULL);
        if (expr) {
            s_line_col(expr, err->position, &err->line, &err->column);
        }
    }
    if (!err->message[0]) {
        snprintf(err->message, sizeof err->message, "%s", "unknown error");
    }
}

/* An exception thrown at the C boundary, as text. */
static void s_err_exc(struct jsengine *e, JSValueRef exc, const char *what,
                      struct jsengine_error *err)
{
    char text[256];
    s_to_buf(e->ctx, exc, text, sizeof text);
    s_err_set(err, "%s: %s", what, text[0] ? text : "exception");
}

/* JavaScriptCore's watchdog: the time limit of one entry into the VM has passed. */
static bool s_should_terminate(JSContextRef ctx, void *arg)
{
    struct jsengine *e = arg;
    e->watchdog_fired++;
    return true;
}

static uint32_t s_rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return (uint32_t)((unsigned long)rss * (unsigned long)sysconf(_SC_PAGESIZE) >> 20);
}

void jsengine_collect(struct jsengine *e)
{
    JSSynchronousGarbageCollectForDebugging(e->ctx);
    e->stats.collections++;
    e->stats.rss_mb = s_rss_mb();
    uint32_t bar = e->stats.rss_mb + e->opts.gc_headroom_mb;
    e->gc_bar_mb = bar > e->opts.gc_rss_mb ? bar : e->opts.gc_rss_mb;
}

int jsengine_warm_up(struct jsengine *e, unsigned n)
{
    /* the paths of jsonata's evaluator most rules take: paths, object and array constructors,
     * arithmetic, strings, conditions, a function of its library, $context */
    static const char expr[] =
        "{\"a\": $.a, \"b\": $.b * 2 + 1, \"c\": $.c & \"-\" & $context.vars.x, "
        "\"d\": $count($.d[v > 1]), \"e\": $.a > 1 ? \"hi\" : \"lo\", \"f\": [$.d.v]}";
    static const char input[] = "{\"a\": 2, \"b\": 3.5, \"c\": \"x\", \"d\": [{\"v\": 1}, "
                                "{\"v\": 2}, {\"v\": 3}]}";
    struct jsexpr *x = NULL;
    struct jsengine_error err;
    int rc = jsengine_compile(e, expr, &x, &err);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        char *out = NULL;
        struct jsengine_args a = {.input = input,
                                  .input_len = sizeof(input) - 1,
                                  .context = "{\"topic\": \"a/b\", \"vars\": {\"x\": \"y\"}}"};
        rc = jsengine_eval(e, x, &a, &out, &err);
        free(out);
    }
    jsexpr_destroy(&x);
    jsengine_collect(e);
    return rc;
}

/* After each evaluation: every GC_CHECK_EVERY, a full collection if RSS is above the bar. */
static void s_maybe_collect(struct jsengine *e)
{
    if (++e->since_check < JSENGINE_GC_CHECK_EVERY) {
        return;
    }
    e->since_check = 0;
    e->stats.rss_mb = s_rss_mb();
    if (e->stats.rss_mb > e->gc_bar_mb) {
        jsengine_collect(e);
    } else if (e->gc_bar_mb > e->opts.gc_rss_mb &&
               e->stats.rss_mb + e->opts.gc_headroom_mb < e->gc_bar_mb) {
        /* memory went down by itself: lower the bar again */
        uint32_t bar = e->stats.rss_mb + e->opts.gc_headroom_mb;
        e->gc_bar_mb = bar > e->opts.gc_rss_mb ? bar : e->opts.gc_rss_mb;
    }
}

static int s_read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -errno;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap + 262144);
            if (!nb) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = nb;
            cap += 262144;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static JSObjectRef s_fn(struct jsengine *e, int name)
{
    JSValueRef v = s_get(e, e->glue, name);
    return JSValueIsObject(e->ctx, v) ? JSValueToObject(e->ctx, v, NULL) : NULL;
}

/* Evaluate jsonata.js and the glue in e->ctx. */
static int s_load(struct jsengine *e, const char *path, struct jsengine_error *err)
{
    char *src = NULL;
    int rc = s_read_file(path, &src);
    if (rc) {
        s_err_set(err, "cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    JSStringRef script = JSStringCreateWithUTF8CString(src);
    free(src);
    JSStringRef url = JSStringCreateWithUTF8CString("jsonata.js");
    JSValueRef exc = NULL;
    JSEvaluateScript(e->ctx, script, NULL, url, 1, &exc);
    JSStringRelease(script);
    JSStringRelease(url);
    if (exc) {
        s_err_exc(e, exc, path, err);
        return -EINVAL;
    }
    script = JSStringCreateWithUTF8CString(GLUE);
    JSValueRef glue = JSEvaluateScript(e->ctx, script, NULL, NULL, 1, &exc);
    JSStringRelease(script);
    if (exc || !glue || !JSValueIsObject(e->ctx, glue)) {
        s_err_exc(e, exc, path, err);
        return -EINVAL;
    }
    e->glue = JSValueToObject(e->ctx, glue, NULL);
    JSValueProtect(e->ctx, e->glue);
    e->fn_compile = s_fn(e, N_COMPILE);
    e->fn_evaluate = s_fn(e, N_EVALUATE);
    if (!e->fn_compile || !e->fn_evaluate) {
        s_err_set(err, "%s: the glue has no compile/evaluate", path);
        return -EINVAL;
    }
    return 0;
}

/* JavaScriptCore's options are process-wide and fixed once the first VM exists: the first
 * jsengine_new sets them. The FTL JIT (its top tier) is off unless asked for: measured here it
 * made small expressions no faster, its compiler threads competed with evaluation for the two
 * cores, and it cost 10-15 MB of RSS (docs/rules.md). */
static void s_jsc_options(const struct jsengine_opts *o)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    if (!o->ftl_jit) {
        jsc_options_set_boolean(JSC_OPTIONS_USE_FTL, FALSE);
    }
}

int jsengine_new(const char *jsonata_js, const struct jsengine_opts *opts, struct jsengine **out,
                 struct jsengine_error *err)
{
    s_err_clear(err);
    *out = NULL;
    struct jsengine *e = calloc(1, sizeof *e);
    if (!e) {
        return -ENOMEM;
    }
    if (opts) {
        e->opts = *opts;
    }
    if (!e->opts.time_limit_ms) {
        e->opts.time_limit_ms = JSENGINE_TIME_LIMIT_MS;
    }
    if (!e->opts.max_depth) {
        e->opts.max_depth = JSENGINE_MAX_DEPTH;
    }
    if (!e->opts.gc_rss_mb) {
        e->opts.gc_rss_mb = JSENGINE_GC_RSS_MB;
    }
    if (!e->opts.gc_headroom_mb) {
        e->opts.gc_headroom_mb = 16;
    }
    e->gc_bar_mb = e->opts.gc_rss_mb;
    s_jsc_options(&e->opts);
    if (!e->opts.no_watchdog) {
        jsclock_wall_time_here(); /* the watchdog's clock reads without system calls */
    }
    int rc = -ENOMEM;
    e->group = JSContextGroupCreate();
    e->ctx = e->group ? JSGlobalContextCreateInGroup(e->group, NULL) : NULL;
    if (!e->ctx) {
        s_err_set(err, "JavaScriptCore: cannot create a context");
        goto err;
    }
    for (int i = 0; i < N_COUNT; i++) {
        e->names[i] = JSStringCreateWithUTF8CString(NAMES[i]);
    }
    rc = s_load(e, jsonata_js, err);
    if (rc) {
        goto err;
    }
    if (!e->opts.no_watchdog) {
        JSContextGroupSetExecutionTimeLimit(e->group, e->opts.time_limit_ms / 1000.0,
                                            s_should_terminate, e);
    }
    *out = e;
    return 0;
err:
    jsengine_destroy(&e);
    return rc;
}

void jsengine_destroy(struct jsengine **pe)
{
    struct jsengine *e = pe ? *pe : NULL;
    if (!e) {
        return;
    }
    if (e->glue) {
        JSValueUnprotect(e->ctx, e->glue);
    }
    for (int i = 0; i < N_COUNT; i++) {
        if (e->names[i]) {
            JSStringRelease(e->names[i]);
        }
    }
    if (e->ctx) {
        JSGlobalContextRelease(e->ctx);
    }
    if (e->group) {
        JSContextGroupRelease(e->group);
    }
    free(e->buf);
    free(e);
    *pe = NULL;
}

int jsengine_default_path(char *buf, size_t size)
{
    const char *env = getenv("MQG_JSONATA_JS");
    if (env && *env) {
        if ((size_t)snprintf(buf, size, "%s", env) >= size) {
            return -ENAMETOOLONG;
        }
        return access(buf, R_OK) == 0 ? 0 : -ENOENT;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return -ENOENT;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) {
        return -ENOENT;
    }
    *slash = '\0';
    if ((size_t)snprintf(buf, size, "%s/../lib/mqgate/jsonata.js", exe) >= size) {
        return -ENAMETOOLONG;
    }
    return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

int jsengine_compile(struct jsengine *e, const char *expr, struct jsexpr **out,
                     struct jsengine_error *err)
{
    s_err_clear(err);
    *out = NULL;
    struct jsexpr *x = calloc(1, sizeof *x);
    if (!x) {
        return -ENOMEM;
    }
    JSStringRef src = JSStringCreateWithUTF8CString(expr);
    if (expr[0] && JSStringGetLength(src) == 0) {
        /* JavaScriptCore makes an empty string of text that is not UTF-8 */
        JSStringRelease(src);
        free(x);
        s_err_set(err, "the expression is not UTF-8");
        return -EINVAL;
    }
    JSValueRef args[3] = {JSValueMakeString(e->ctx, src),
                          JSValueMakeNumber(e->ctx, e->opts.time_limit_ms),
                          JSValueMakeNumber(e->ctx, e->opts.max_depth)};
    JSStringRelease(src);
    JSValueRef exc = NULL;
    e->watchdog_fired = 0;
    JSValueRef r = JSObjectCallAsFunction(e->ctx, e->fn_compile, NULL, 3, args, &exc);
    if (exc || !r) {
        s_err_exc(e, exc, "compile", err);
        free(x);
        return e->watchdog_fired ? -ETIMEDOUT : -EIO;
    }
    JSValueRef obj = s_get(e, r, N_EXPR);
    if (!JSValueIsObject(e->ctx, obj)) {
        s_err_from(e, s_get(e, r, N_ERROR), expr, err);
        free(x);
        return -EINVAL;
    }
    x->src = strdup(expr);
    if (!x->src) {
        free(x);
        return -ENOMEM;
    }
    x->e = e;
    x->obj = JSValueToObject(e->ctx, obj, NULL);
    JSValueProtect(e->ctx, x->obj);
    *out = x;
    return 0;
}

void jsexpr_destroy(struct jsexpr **px)
{
    struct jsexpr *x = px ? *px : NULL;
    if (!x) {
        return;
    }
    JSValueUnprotect(x->e->ctx, x->obj);
    free(x->src);
    free(x);
    *px = NULL;
}

/* Parse JSON text of len bytes into *v (via a NUL-terminated copy). -EBADMSG when it is not
 * JSON: JavaScriptCore also refuses text that is not UTF-8. */
static int s_parse(struct jsengine *e, const char *text, size_t len, JSValueRef *v)
{
    if (memchr(text, '\0', len)) {
        return -EBADMSG;
    }
    if (len + 1 > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < len + 1) {
            cap *= 2;
        }
        char *nb = realloc(e->buf, cap);
        if (!nb) {
            return -ENOMEM;
        }
        e->buf = nb;
        e->cap = cap;
    }
    memcpy(e->buf, text, len);
    e->buf[len] = '\0';
    JSStringRef s = JSStringCreateWithUTF8CString(e->buf);
    *v = JSValueMakeFromJSONString(e->ctx, s);
    JSStringRelease(s);
    return *v ? 0 : -EBADMSG;
}

/* An optional NUL-terminated JSON argument: undefined when NULL; must_obj refuses non-objects. */
static int s_parse_opt(struct jsengine *e, const char *text, bool must_obj, JSValueRef *v)
{
    if (!text) {
        *v = JSValueMakeUndefined(e->ctx);
        return 0;
    }
    int rc = s_parse(e, text, strlen(text), v);
    if (rc == 0 && must_obj && (!JSValueIsObject(e->ctx, *v) || JSValueIsArray(e->ctx, *v))) {
        return -EBADMSG;
    }
    return rc;
}

/* Map a settled evaluation (the glue's box) to the result. */
static int s_result(struct jsengine *e, const struct jsexpr *x, JSValueRef box, char **out,
                    struct jsengine_error *err)
{
    if (!JSValueToBoolean(e->ctx, s_get(e, box, N_DONE))) {
        /* the promise never settled: a promise job was terminated by the watchdog */
        s_err_set(err, "evaluation stopped after %u ms", (unsigned)e->opts.time_limit_ms);
        return e->watchdog_fired ? -ETIMEDOUT : -EIO;
    }
    JSValueRef error = s_get(e, box, N_ERROR);
    if (!JSValueIsUndefined(e->ctx, error)) {
        s_err_from(e, error, x->src, err);
        if (err && !strcmp(err->code, "D1012")) {
            return -ETIMEDOUT;
        }
        return -EINVAL;
    }
    JSValueRef value = s_get(e, box, N_VALUE);
    if (!JSValueIsString(e->ctx, value)) {
        return 0; /* undefined */
    }
    JSStringRef s = JSValueToStringCopy(e->ctx, value, NULL);
    if (!s) {
        return -ENOMEM;
    }
    *out = s_utf8(s);
    JSStringRelease(s);
    return *out ? 0 : -ENOMEM;
}

int jsengine_eval(struct jsengine *e, const struct jsexpr *x, const struct jsengine_args *a,
                  char **out, struct jsengine_error *err)
{
    s_err_clear(err);
    *out = NULL;
    JSValueRef args[6];
    args[0] = x->obj;
    int rc = a->input ? s_parse(e, a->input, a->input_len, &args[1])
                      : s_parse_opt(e, NULL, false, &args[1]);
    if (rc) {
        s_err_set(err, "the input is not JSON");
        return rc;
    }
    if ((rc = s_parse_opt(e, a->context, false, &args[2])) ||
        (rc = s_parse_opt(e, a->stash, true, &args[3])) ||
        (rc = s_parse_opt(e, a->bindings, true, &args[4]))) {
        s_err_set(err, "the context, stash or bindings are not a JSON object");
        return rc;
    }
    args[5] = JSValueMakeBoolean(e->ctx, (a->flags & JSENGINE_CANONICAL) != 0);
    e->watchdog_fired = 0;
    e->stats.evaluations++;
    JSValueRef exc = NULL;
    JSValueRef box = JSObjectCallAsFunction(e->ctx, e->fn_evaluate, NULL, 6, args, &exc);
    if (exc || !box) {
        s_err_exc(e, exc, "evaluate", err);
        rc = e->watchdog_fired ? -ETIMEDOUT : -EIO;
    } else {
        rc = s_result(e, x, box, out, err);
    }
    if (rc == -ETIMEDOUT) {
        e->stats.timeouts++;
    }
    s_maybe_collect(e);
    return rc;
}

void jsengine_get_stats(const struct jsengine *e, struct jsengine_stats *st)
{
    *st = e->stats;
}
