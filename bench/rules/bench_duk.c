/* bench_duk — jsonata's ES5 build in Duktape 2.7 (Debian's duktape-dev).
 *
 * Usage: bench_duk JSONATA_ES5_JS latency N   per-evaluation latency of each case
 *        bench_duk JSONATA_ES5_JS rss N       RSS while evaluating case "object" N times
 *        bench_duk JSONATA_ES5_JS startup     load time and idle RSS
 * Duktape frees by reference counting, with a mark-and-sweep pass for cycles; no GC driving.
 * A measurement tool, not part of mqgate: see docs/rules.md for the numbers.
 */
#include <duktape.h>

#include "bench_common.h"

static const char GLUE[] = "(function (src, input, context) {"
                           "  var b = { context: JSON.parse(context) };"
                           "  var r = jsonata(src).evaluate(JSON.parse(input), b);"
                           "  return JSON.stringify(r);"
                           "})";

static const char GLUE_X[] =
    "(function (expr, input, context) {"
    "  var r = expr.evaluate(JSON.parse(input), { context: JSON.parse(context) });"
    "  return r === undefined ? undefined : JSON.stringify(r);"
    "})";

static duk_context *g_ctx;

static double s_load(const char *path)
{
    double t0 = bench_now_us();
    g_ctx = duk_create_heap_default();
    size_t len;
    char *src = bench_slurp(path, &len);
    if (duk_peval_lstring(g_ctx, src, len) != 0) {
        fprintf(stderr, "load: %s\n", duk_safe_to_string(g_ctx, -1));
        exit(1);
    }
    duk_pop(g_ctx);
    free(src);
    duk_eval_string(g_ctx, GLUE_X); /* [fn] stays at index 0 */
    return bench_now_us() - t0;
}

/* Compiles expr and leaves the expression object at index 1. */
static void s_compile(const char *expr)
{
    duk_get_global_string(g_ctx, "jsonata");
    duk_push_string(g_ctx, expr);
    if (duk_pcall(g_ctx, 1) != 0) {
        fprintf(stderr, "compile: %s\n", duk_safe_to_string(g_ctx, -1));
        exit(1);
    }
}

static void s_eval(const char *input, const char *context)
{
    duk_dup(g_ctx, 0);
    duk_dup(g_ctx, 1);
    duk_push_string(g_ctx, input);
    duk_push_string(g_ctx, context);
    if (duk_pcall(g_ctx, 3) != 0) {
        fprintf(stderr, "eval: %s\n", duk_safe_to_string(g_ctx, -1));
        exit(1);
    }
    duk_pop(g_ctx);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of bench_duk.c\n");
        return 2;
    }
    (void)GLUE;
    const char *mode = argv[2];
    if (!strcmp(mode, "startup")) {
        double rss0 = bench_rss_mb();
        double t = s_load(argv[1]);
        double t0 = bench_now_us();
        s_compile(BENCH_CASES[0].expr);
        s_eval(BENCH_CASES[0].input, BENCH_CONTEXT);
        double first = bench_now_us() - t0;
        printf("duk startup: load %.1f ms, first compile+eval %.1f ms, RSS before %.1f MB, "
               "after %.1f MB\n",
               t / 1000, first / 1000, rss0, bench_rss_mb());
        return 0;
    }
    long n = argc > 3 ? strtol(argv[3], NULL, 10) : 2000;
    s_load(argv[1]);
    if (!strcmp(mode, "latency")) {
        double *v = malloc(sizeof(double) * (size_t)n);
        for (size_t c = 0; c < BENCH_NCASES; c++) {
            s_compile(BENCH_CASES[c].expr);
            for (int i = 0; i < 100; i++) {
                s_eval(BENCH_CASES[c].input, BENCH_CONTEXT);
            }
            double total = 0;
            for (long i = 0; i < n; i++) {
                double t0 = bench_now_us();
                s_eval(BENCH_CASES[c].input, BENCH_CONTEXT);
                v[i] = bench_now_us() - t0;
                total += v[i];
            }
            printf("duk %-6s mean %7.1f us  p50 %7.1f  p99 %7.1f  max %8.1f  (%ld evals)\n",
                   BENCH_CASES[c].name, total / n, bench_quantile(v, n, 0.5),
                   bench_quantile(v, n, 0.99), bench_quantile(v, n, 1.0), n);
            duk_pop(g_ctx);
        }
        printf("duk RSS after latency runs: %.1f MB\n", bench_rss_mb());
        return 0;
    }
    if (!strcmp(mode, "rss")) {
        s_compile(BENCH_CASES[0].expr);
        double t0 = bench_now_us(), peak = 0;
        for (long i = 1; i <= n; i++) {
            s_eval(BENCH_CASES[0].input, BENCH_CONTEXT);
            double r = i % 1000 == 0 ? bench_rss_mb() : 0;
            peak = r > peak ? r : peak;
            if (i % (n / 10) == 0) {
                printf("duk rss  %8ld evals  RSS %6.1f MB  peak %6.1f MB  %.1f us/eval\n", i,
                       bench_rss_mb(), peak, (bench_now_us() - t0) / i);
                fflush(stdout);
            }
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
