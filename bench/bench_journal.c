/* bench_journal — what an append to mqg_journal costs on this machine's disk.
 *
 * For each durability mode (none, interval = mqg_journal_sync() every 100 ms from a second
 * thread, always) appends 64-byte messages on a 20-byte topic for a few seconds into a fresh
 * journal, releasing as it goes, and prints appends/s, MB/s and the latency of single appends
 * (p50, p99, max). Then it measures a replay (cursor over everything) and an open (the scan
 * that verifies every checksum) of a journal of --fill MB. Nothing is asserted.
 *
 *   build/bin/bench_journal [--dir DIR] [--seconds S] [--fill MB]
 *
 * DIR (default /var/tmp) must be on the disk to measure, not a tmpfs. Built by
 * tests/CMakeLists.txt; not run by ctest.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqg_journal.h"
#include "mqg_log.h"

#define B_TOPIC "plant/line1/sensor42"
#define B_PAYLOAD 64
#define B_SAMPLES 200000

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void s_rm_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
    }
}

static struct mqg_journal *s_open(const char *dir, enum mqg_journal_sync sync)
{
    struct mqg_journal_opts o = {.dir = dir, .sync = sync};
    struct mqg_journal *j = NULL;
    int rc = mqg_journal_open(&o, &j);
    if (rc != 0) {
        fprintf(stderr, "open %s: %s\n", dir, strerror(-rc));
        exit(1);
    }
    return j;
}

struct syncer {
    struct mqg_journal *j;
    atomic_int stop;
    long syncs;
};

static void *s_syncer(void *p)
{
    struct syncer *s = p;
    while (!atomic_load(&s->stop)) {
        usleep(100000);
        mqg_journal_sync(s->j);
        s->syncs++;
    }
    return NULL;
}

/* Append for `seconds`; print one line. */
static void s_run(const char *base, const char *name, enum mqg_journal_sync sync, double seconds)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/bench_journal.%d.%s", base, (int)getpid(), name);
    s_rm_dir(dir);
    struct mqg_journal *j = s_open(dir, sync);
    struct syncer sy = {.j = j};
    pthread_t th;
    if (sync == MQG_JOURNAL_SYNC_INTERVAL) {
        pthread_create(&th, NULL, s_syncer, &sy);
    }
    uint8_t payload[B_PAYLOAD];
    memset(payload, 0x5a, sizeof(payload));
    double *lat = malloc(B_SAMPLES * sizeof(*lat));
    long n = 0;
    double t0 = s_now(), t = t0;
    while (t - t0 < seconds) {
        uint64_t seq;
        double a = s_now();
        int rc =
            mqg_journal_append(j, 0, 1, B_TOPIC, strlen(B_TOPIC), payload, sizeof(payload), &seq);
        t = s_now();
        if (rc != 0) {
            fprintf(stderr, "append: %s\n", strerror(-rc));
            break;
        }
        lat[n % B_SAMPLES] = t - a;
        if (++n % 10000 == 0) {
            mqg_journal_release(j, seq - 1000); /* as confirmations would */
        }
    }
    double el = t - t0;
    if (sync == MQG_JOURNAL_SYNC_INTERVAL) {
        atomic_store(&sy.stop, 1);
        pthread_join(th, NULL);
    }
    size_t k = n < B_SAMPLES ? (size_t)n : B_SAMPLES;
    qsort(lat, k, sizeof(*lat), s_cmp_double);
    double rsize = 32.0 + strlen(B_TOPIC) + B_PAYLOAD;
    printf("%-9s %10.0f appends/s %8.1f MB/s   p50 %8.1f us  p99 %8.1f us  max %9.1f us  (%ld "
           "appends in %.1f s)\n",
           name, n / el, n * rsize / el / 1e6, lat[k / 2] * 1e6, lat[k * 99 / 100] * 1e6,
           lat[k - 1] * 1e6, n, el);
    free(lat);
    mqg_journal_destroy(&j);
    s_rm_dir(dir);
}

/* Fill a journal with fill_mb of records, then time a replay and an open. */
static void s_replay_and_open(const char *base, int fill_mb)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/bench_journal.%d.fill", base, (int)getpid());
    s_rm_dir(dir);
    struct mqg_journal *j = s_open(dir, MQG_JOURNAL_SYNC_NONE);
    uint8_t payload[B_PAYLOAD];
    memset(payload, 0xa5, sizeof(payload));
    struct mqg_journal_stats st;
    uint64_t seq;
    do {
        for (int i = 0; i < 10000; i++) {
            mqg_journal_append(j, 0, 1, B_TOPIC, strlen(B_TOPIC), payload, sizeof(payload), &seq);
        }
        mqg_journal_stats(j, &st);
    } while (st.file_bytes < (uint64_t)fill_mb << 20);
    mqg_journal_destroy(&j);
    if (system("sync") != 0) {
        fprintf(stderr, "sync failed\n");
    }
    double t0 = s_now();
    j = s_open(dir, MQG_JOURNAL_SYNC_NONE);
    double t_open = s_now() - t0;
    struct mqg_journal_cursor *c = NULL;
    struct mqg_journal_rec r;
    long n = 0;
    t0 = s_now();
    mqg_journal_cursor_new(j, 0, &c);
    while (mqg_journal_cursor_next(c, &r) == 1) {
        n++;
    }
    double t_read = s_now() - t0;
    mqg_journal_cursor_destroy(&c);
    t0 = s_now();
    mqg_journal_release(j, seq);
    double t_rel = s_now() - t0;
    printf("open (scan, crc of every record) of %.0f MB, %ld records: %.3f s (%.0f MB/s, page "
           "cache warm)\n",
           st.file_bytes / 1e6, n, t_open, st.file_bytes / 1e6 / t_open);
    printf("replay with a cursor: %.0f records/s; release of all of it: %.3f s\n", n / t_read,
           t_rel);
    mqg_journal_destroy(&j);
    s_rm_dir(dir);
}

int main(int argc, char **argv)
{
    const char *base = "/var/tmp";
    double seconds = 3;
    int fill_mb = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0) {
            base = argv[i + 1];
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = strtod(argv[i + 1], NULL);
        } else if (strcmp(argv[i], "--fill") == 0) {
            fill_mb = (int)strtol(argv[i + 1], NULL, 10);
        }
    }
    mqg_log_init("bench", "journal", MQG_LOG_WARN, 2);
    printf("records of %zu bytes (64-byte payload, 20-byte topic) in %s\n",
           32 + strlen(B_TOPIC) + B_PAYLOAD, base);
    s_run(base, "none", MQG_JOURNAL_SYNC_NONE, seconds);
    s_run(base, "interval", MQG_JOURNAL_SYNC_INTERVAL, seconds);
    s_run(base, "always", MQG_JOURNAL_SYNC_ALWAYS, seconds);
    if (fill_mb > 0) {
        s_replay_and_open(base, fill_mb);
    }
    return 0;
}
