/* bench_jsc — jsonata in JavaScriptCore's C API (WebKitGTK's libjavascriptcoregtk-4.1).
 *
 * Usage: bench_jsc JSONATA_JS latency N          per-evaluation latency of each case
 *        bench_jsc JSONATA_JS rss N MODE EVERY   RSS while evaluating case "object" N times;
 *                                                MODE none|hint|sync|glib: no GC call,
 * JSGarbageCollect, a synchronous full collection, or dispatching GLib's main context (JSC's GC
 * timers) every EVERY bench_jsc JSONATA_JS startup            load time and idle RSS A measurement
 * tool, not part of mqgate: see docs/rules.md for the numbers.
 */
#include <JavaScriptCore/JavaScript.h>
#include <glib.h>

#include "bench_common.h"

/* exported by libjavascriptcoregtk but declared only in WebKit's private headers */
void JSSynchronousGarbageCollectForDebugging(JSContextRef ctx);

static const char GLUE[] = "var __mqg_compile = function (src) {"
                           "  try { return { expr: jsonata(src) }; }"
                           "  catch (e) { return { error: e }; }"
                           "};"
                           "var __mqg_eval = function (expr, input, bindings) {"
                           "  var box = { done: false }, p;"
                           "  try { p = expr.evaluate(input, bindings); }"
                           "  catch (e) { box.done = true; box.error = e; return box; }"
                           "  if (p && typeof p.then === 'function') {"
                           "    p.then(function (r) { box.done = true; box.value = r; },"
                           "           function (e) { box.done = true; box.error = e; });"
                           "  } else { box.done = true; box.value = p; }"
                           "  return box;"
                           "};";

static JSGlobalContextRef g_ctx;
static JSObjectRef g_eval_fn;
static JSObjectRef g_compile_fn;

static JSValueRef s_get(JSObjectRef o, const char *name)
{
    JSStringRef n = JSStringCreateWithUTF8CString(name);
    JSValueRef v = JSObjectGetProperty(g_ctx, o, n, NULL);
    JSStringRelease(n);
    return v;
}

static void s_die(const char *what, JSValueRef exc)
{
    JSStringRef s = JSValueToStringCopy(g_ctx, exc, NULL);
    char buf[1024];
    JSStringGetUTF8CString(s, buf, sizeof buf);
    fprintf(stderr, "%s: %s\n", what, buf);
    exit(1);
}

static double s_load(const char *path)
{
    double t0 = bench_now_us();
    g_ctx = JSGlobalContextCreate(NULL);
    size_t len;
    char *src = bench_slurp(path, &len);
    JSStringRef script = JSStringCreateWithUTF8CString(src);
    JSValueRef exc = NULL;
    JSEvaluateScript(g_ctx, script, NULL, NULL, 1, &exc);
    if (exc) {
        s_die("load", exc);
    }
    JSStringRelease(script);
    free(src);
    script = JSStringCreateWithUTF8CString(GLUE);
    JSEvaluateScript(g_ctx, script, NULL, NULL, 1, &exc);
    JSStringRelease(script);
    JSObjectRef global = JSContextGetGlobalObject(g_ctx);
    g_eval_fn = JSValueToObject(g_ctx, s_get(global, "__mqg_eval"), NULL);
    g_compile_fn = JSValueToObject(g_ctx, s_get(global, "__mqg_compile"), NULL);
    return bench_now_us() - t0;
}

static JSObjectRef s_compile(const char *expr)
{
    JSStringRef s = JSStringCreateWithUTF8CString(expr);
    JSValueRef arg = JSValueMakeString(g_ctx, s);
    JSStringRelease(s);
    JSValueRef exc = NULL;
    JSValueRef r = JSObjectCallAsFunction(g_ctx, g_compile_fn, NULL, 1, &arg, &exc);
    if (exc) {
        s_die("compile", exc);
    }
    JSValueRef x = s_get((JSObjectRef)r, "expr");
    if (JSValueIsUndefined(g_ctx, x)) {
        s_die("compile", s_get((JSObjectRef)r, "error"));
    }
    JSValueProtect(g_ctx, x);
    return (JSObjectRef)x;
}

/* One evaluation as the adapter does it: parse input and context, call, stringify. */
static size_t s_eval(JSObjectRef expr, const char *input, const char *context)
{
    JSStringRef in = JSStringCreateWithUTF8CString(input);
    JSStringRef cx = JSStringCreateWithUTF8CString(context);
    JSValueRef args[3];
    args[0] = expr;
    args[1] = JSValueMakeFromJSONString(g_ctx, in);
    JSObjectRef bindings = JSObjectMake(g_ctx, NULL, NULL);
    JSStringRef cname = JSStringCreateWithUTF8CString("context");
    JSObjectSetProperty(g_ctx, bindings, cname, JSValueMakeFromJSONString(g_ctx, cx), 0, NULL);
    args[2] = bindings;
    JSStringRelease(in);
    JSStringRelease(cx);
    JSStringRelease(cname);
    JSValueRef exc = NULL;
    JSValueRef box = JSObjectCallAsFunction(g_ctx, g_eval_fn, NULL, 3, args, &exc);
    if (exc) {
        s_die("eval", exc);
    }
    if (!JSValueToBoolean(g_ctx, s_get((JSObjectRef)box, "done"))) {
        fprintf(stderr, "eval: promise not settled after the call\n");
        exit(1);
    }
    JSValueRef err = s_get((JSObjectRef)box, "error");
    if (!JSValueIsUndefined(g_ctx, err)) {
        s_die("eval", err);
    }
    JSStringRef out = JSValueCreateJSONString(g_ctx, s_get((JSObjectRef)box, "value"), 0, &exc);
    char buf[4096];
    size_t n = out ? JSStringGetUTF8CString(out, buf, sizeof buf) : 0;
    if (out) {
        JSStringRelease(out);
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of bench_jsc.c\n");
        return 2;
    }
    const char *mode = argv[2];
    if (!strcmp(mode, "startup")) {
        double rss0 = bench_rss_mb();
        double t = s_load(argv[1]);
        double t0 = bench_now_us();
        JSObjectRef x = s_compile(BENCH_CASES[0].expr);
        s_eval(x, BENCH_CASES[0].input, BENCH_CONTEXT);
        double first = bench_now_us() - t0;
        printf("jsc startup: load %.1f ms, first compile+eval %.1f ms, RSS before %.1f MB, "
               "after %.1f MB\n",
               t / 1000, first / 1000, rss0, bench_rss_mb());
        return 0;
    }
    long n = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
    s_load(argv[1]);
    if (!strcmp(mode, "latency")) {
        double *v = malloc(sizeof(double) * (size_t)n);
        for (size_t c = 0; c < BENCH_NCASES; c++) {
            JSObjectRef x = s_compile(BENCH_CASES[c].expr);
            for (int i = 0; i < 2000; i++) {
                s_eval(x, BENCH_CASES[c].input, BENCH_CONTEXT);
            }
            double total = 0;
            for (long i = 0; i < n; i++) {
                double t0 = bench_now_us();
                s_eval(x, BENCH_CASES[c].input, BENCH_CONTEXT);
                v[i] = bench_now_us() - t0;
                total += v[i];
                if (i % 1000 == 999) {
                    JSSynchronousGarbageCollectForDebugging(g_ctx);
                }
            }
            double mean = total / n;
            printf("jsc %-6s mean %7.1f us  p50 %7.1f  p99 %7.1f  max %8.1f  (%ld evals)\n",
                   BENCH_CASES[c].name, mean, bench_quantile(v, n, 0.5), bench_quantile(v, n, 0.99),
                   bench_quantile(v, n, 1.0), n);
        }
        printf("jsc RSS after latency runs: %.1f MB\n", bench_rss_mb());
        return 0;
    }
    if (!strcmp(mode, "rss")) {
        const char *gc = argc > 4 ? argv[4] : "none";
        long every = argc > 5 ? strtol(argv[5], NULL, 10) : 1000;
        JSObjectRef x = s_compile(BENCH_CASES[0].expr);
        double t0 = bench_now_us(), peak = 0, gc_us = 0, gc_max = 0;
        long gcs = 0;
        for (long i = 1; i <= n; i++) {
            s_eval(x, BENCH_CASES[0].input, BENCH_CONTEXT);
            if (i % every == 0) {
                double g0 = bench_now_us();
                if (!strcmp(gc, "hint")) {
                    JSGarbageCollect(g_ctx);
                } else if (!strcmp(gc, "sync")) {
                    JSSynchronousGarbageCollectForDebugging(g_ctx);
                } else if (!strcmp(gc, "glib")) {
                    while (g_main_context_iteration(NULL, FALSE)) {
                    }
                }
                double g = bench_now_us() - g0;
                gc_us += g;
                gc_max = g > gc_max ? g : gc_max;
                gcs++;
            }
            double r = i % 1000 == 0 ? bench_rss_mb() : 0;
            peak = r > peak ? r : peak;
            if (i % (n / 10) == 0) {
                printf("jsc rss gc=%s/%ld  %8ld evals  RSS %6.1f MB  peak %6.1f MB  %.1f us/eval"
                       "  gc call mean %.2f ms max %.2f ms\n",
                       gc, every, i, bench_rss_mb(), peak, (bench_now_us() - t0) / i,
                       gcs ? gc_us / gcs / 1000 : 0.0, gc_max / 1000);
                fflush(stdout);
            }
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
