/* bench_adapter — the three benchmark cases through rules/jsengine (what mqgate will run).
 *
 * Usage: bench_adapter JSONATA_JS latency N      per-evaluation latency of each case
 *        bench_adapter JSONATA_JS rss N          RSS while evaluating case "object" N times
 *        bench_adapter JSONATA_JS startup        start-up time and RSS of a loaded engine
 * Environment: BENCH_TIME_LIMIT_MS (default the engine's), BENCH_GC_RSS_MB, BENCH_NO_WATCHDOG=1,
 *              BENCH_FTL=1 (the jsengine_opts of the same names).
 * A measurement tool, not part of mqgate: see docs/rules.md for the numbers.
 */
#include "../../rules/jsengine.h"

#include "bench_common.h"

static struct jsengine *g_e;

static void s_new(const char *path)
{
    struct jsengine_opts o = {0};
    const char *t = getenv("BENCH_TIME_LIMIT_MS");
    const char *g = getenv("BENCH_GC_RSS_MB");
    o.time_limit_ms = t ? (uint32_t)strtoul(t, NULL, 10) : 0;
    o.gc_rss_mb = g ? (uint32_t)strtoul(g, NULL, 10) : 0;
    o.no_watchdog = getenv("BENCH_NO_WATCHDOG") != NULL;
    o.ftl_jit = getenv("BENCH_FTL") != NULL;
    struct jsengine_error err;
    if (jsengine_new(path, &o, &g_e, &err)) {
        fprintf(stderr, "jsengine_new: %s\n", err.message);
        exit(1);
    }
}

static struct jsexpr *s_compile(const char *expr)
{
    struct jsexpr *x;
    struct jsengine_error err;
    if (jsengine_compile(g_e, expr, &x, &err)) {
        fprintf(stderr, "compile: %s\n", err.message);
        exit(1);
    }
    return x;
}

static void s_eval(struct jsexpr *x, const char *input)
{
    struct jsengine_args a = {.input = input, .input_len = strlen(input), .context = BENCH_CONTEXT};
    struct jsengine_error err;
    char *out = NULL;
    if (jsengine_eval(g_e, x, &a, &out, &err)) {
        fprintf(stderr, "eval: %s\n", err.message);
        exit(1);
    }
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of bench_adapter.c\n");
        return 2;
    }
    const char *mode = argv[2];
    long n = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
    if (!strcmp(mode, "startup")) {
        double rss0 = bench_rss_mb(), t0 = bench_now_us();
        s_new(argv[1]);
        double t1 = bench_now_us();
        struct jsexpr *x = s_compile(BENCH_CASES[0].expr);
        s_eval(x, BENCH_CASES[0].input);
        printf("adapter startup: jsengine_new %.1f ms, first compile+eval %.1f ms, RSS before "
               "%.1f MB, after %.1f MB\n",
               (t1 - t0) / 1000, (bench_now_us() - t1) / 1000, rss0, bench_rss_mb());
        jsexpr_destroy(&x);
        jsengine_destroy(&g_e);
        return 0;
    }
    s_new(argv[1]);
    if (!strcmp(mode, "latency")) {
        double *v = malloc(sizeof(double) * (size_t)n);
        for (size_t c = 0; c < BENCH_NCASES; c++) {
            struct jsexpr *x = s_compile(BENCH_CASES[c].expr);
            for (int i = 0; i < 2000; i++) {
                s_eval(x, BENCH_CASES[c].input);
            }
            double total = 0;
            for (long i = 0; i < n; i++) {
                double t0 = bench_now_us();
                s_eval(x, BENCH_CASES[c].input);
                v[i] = bench_now_us() - t0;
                total += v[i];
            }
            printf("adapter %-6s mean %7.1f us  p50 %7.1f  p99 %7.1f  max %8.1f  (%ld evals)\n",
                   BENCH_CASES[c].name, total / n, bench_quantile(v, n, 0.5),
                   bench_quantile(v, n, 0.99), bench_quantile(v, n, 1.0), n);
            jsexpr_destroy(&x);
        }
    } else if (!strcmp(mode, "rss")) {
        struct jsexpr *x = s_compile(BENCH_CASES[0].expr);
        double t0 = bench_now_us(), peak = 0;
        for (long i = 1; i <= n; i++) {
            s_eval(x, BENCH_CASES[0].input);
            double r = i % 1000 == 0 ? bench_rss_mb() : 0;
            peak = r > peak ? r : peak;
            if (i % (n / 10) == 0) {
                struct jsengine_stats st;
                jsengine_get_stats(g_e, &st);
                printf("adapter rss %8ld evals  RSS %6.1f MB  peak %6.1f MB  %.1f us/eval  %llu "
                       "collections\n",
                       i, bench_rss_mb(), peak, (bench_now_us() - t0) / i,
                       (unsigned long long)st.collections);
                fflush(stdout);
            }
        }
        jsexpr_destroy(&x);
    }
    jsengine_destroy(&g_e);
    return 0;
}
