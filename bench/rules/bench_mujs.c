/* bench_mujs — jsonata's ES5 build in MuJS 1.3 (Debian's libmujs-dev).
 *
 * Usage: bench_mujs JSONATA_ES5_JS latency N   per-evaluation latency of each case
 *        bench_mujs JSONATA_ES5_JS startup     load time and idle RSS
 * A measurement tool, not part of mqgate: see docs/rules.md for the numbers.
 */
#include <mujs.h>

#include "bench_common.h"

static const char GLUE[] =
    "var __mqg_eval = function (expr, input, context) {"
    "  var r = expr.evaluate(JSON.parse(input), { context: JSON.parse(context) });"
    "  return r === undefined ? undefined : JSON.stringify(r);"
    "};";

static js_State *g_J;

static double s_load(const char *path)
{
    double t0 = bench_now_us();
    g_J = js_newstate(NULL, NULL, JS_STRICT * 0);
    char *src = bench_slurp(path, NULL);
    if (js_dostring(g_J, src) || js_dostring(g_J, GLUE)) {
        fprintf(stderr, "load failed\n");
        exit(1);
    }
    free(src);
    return bench_now_us() - t0;
}

/* Compiles expr into the global __x. */
static void s_compile(const char *expr)
{
    js_getglobal(g_J, "jsonata");
    js_pushundefined(g_J);
    js_pushstring(g_J, expr);
    if (js_pcall(g_J, 1)) {
        fprintf(stderr, "compile: %s\n", js_trystring(g_J, -1, "?"));
        exit(1);
    }
    js_setglobal(g_J, "__x");
}

static void s_eval(const char *input, const char *context)
{
    js_getglobal(g_J, "__mqg_eval");
    js_pushundefined(g_J);
    js_getglobal(g_J, "__x");
    js_pushstring(g_J, input);
    js_pushstring(g_J, context);
    if (js_pcall(g_J, 3)) {
        fprintf(stderr, "eval: %s\n", js_trystring(g_J, -1, "?"));
        exit(1);
    }
    js_pop(g_J, 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of bench_mujs.c\n");
        return 2;
    }
    const char *mode = argv[2];
    if (!strcmp(mode, "startup")) {
        double rss0 = bench_rss_mb();
        double t = s_load(argv[1]);
        double t0 = bench_now_us();
        s_compile(BENCH_CASES[0].expr);
        s_eval(BENCH_CASES[0].input, BENCH_CONTEXT);
        printf("mujs startup: load %.1f ms, first compile+eval %.1f ms, RSS before %.1f MB, "
               "after %.1f MB\n",
               t / 1000, (bench_now_us() - t0) / 1000, rss0, bench_rss_mb());
        return 0;
    }
    long n = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
    s_load(argv[1]);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (size_t c = 0; c < BENCH_NCASES; c++) {
        s_compile(BENCH_CASES[c].expr);
        for (int i = 0; i < 50; i++) {
            s_eval(BENCH_CASES[c].input, BENCH_CONTEXT);
        }
        double total = 0;
        for (long i = 0; i < n; i++) {
            double t0 = bench_now_us();
            s_eval(BENCH_CASES[c].input, BENCH_CONTEXT);
            v[i] = bench_now_us() - t0;
            total += v[i];
        }
        printf("mujs %-6s mean %7.1f us  p50 %7.1f  p99 %7.1f  max %8.1f  (%ld evals)\n",
               BENCH_CASES[c].name, total / n, bench_quantile(v, n, 0.5),
               bench_quantile(v, n, 0.99), bench_quantile(v, n, 1.0), n);
    }
    printf("mujs RSS after latency runs: %.1f MB\n", bench_rss_mb());
    return 0;
}
