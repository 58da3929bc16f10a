/* bench_common — shared pieces of the JavaScript engine benchmarks (bench/rules/).
 *
 * Each bench_<engine>.c loads a jsonata build into one engine and runs the same three
 * expressions; this header holds the expressions, their inputs, the clock, RSS and the
 * percentile helper so that every engine is measured the same way. Single-threaded.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_case {
    const char *name;
    const char *expr;
    const char *input;
};

/* The context every case gets as $context (what a mapping with named wildcards sees). */
static const char BENCH_CONTEXT[] =
    "{\"topic\":\"factory/line-a/cnc-001/status\",\"vars\":{\"line\":\"line-a\","
    "\"machine\":\"cnc-001\"}}";

static const struct bench_case BENCH_CASES[] = {
    {"object", "{\"machine\": $context.vars.machine, \"value\": $.value, \"unit\": \"C\"}",
     "{\"value\": 21.5, \"ts\": 1700000000000, \"quality\": \"good\"}"},
    {"filter", "temperature > 85 and status = \"operational\"",
     "{\"temperature\": 90, \"status\": \"operational\", \"device\": \"sensor-01\"}"},
    {"sum", "$sum(readings.value)",
     "{\"batch\": \"B001\", \"readings\": [{\"sensor\": \"S1\", \"value\": 22.1}, {\"sensor\": "
     "\"S2\", \"value\": 22.3}, {\"sensor\": \"S3\", \"value\": 22.0}, {\"sensor\": \"S4\", "
     "\"value\": 35.8}, {\"sensor\": \"S5\", \"value\": 21.9}, {\"sensor\": \"S6\", \"value\": "
     "22.4}, {\"sensor\": \"S7\", \"value\": 22.2}, {\"sensor\": \"S8\", \"value\": 21.7}]}"},
};

#define BENCH_NCASES (sizeof BENCH_CASES / sizeof BENCH_CASES[0])

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Resident set size in MiB, from /proc/self/statm. */
static inline double bench_rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return rss * 4096.0 / (1024.0 * 1024.0);
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place; the q-quantile (0..1). */
static inline double bench_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The whole file as a NUL-terminated string (caller frees), or exits. */
static inline char *bench_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    buf[n] = '\0';
    fclose(f);
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

#endif
