/* test_journal — unit tests of mqg_journal: records read back byte for byte and checked on disk
 * against an independent parser, seqs across reopen, rotation, release and exact stats, the
 * byte bound and wait_space, marks and their compaction, cursors, a concurrent appender, every
 * kind of damaged file, and the directory checks.
 *
 * Each test works in its own mkdtemp directory under /tmp (the journal in <tmp>/j, the log in
 * <tmp>/log), removed afterwards. Record contents are a function of their seq (or index), so a
 * record read back is checked without keeping copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mqg_journal.h"
#include "mqg_log.h"

#define OTHER_UID 65534
#define SEG_HDR 32
#define REC_HDR 32

struct t {
    char tmp[64];
    char dir[96];
    char log[96];
    int logfd;
};

static int s_setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->tmp, sizeof(t->tmp), "/tmp/test_journal.XXXXXX");
    assert_non_null(mkdtemp(t->tmp));
    snprintf(t->dir, sizeof(t->dir), "%s/j", t->tmp);
    snprintf(t->log, sizeof(t->log), "%s/log", t->tmp);
    t->logfd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(t->logfd >= 0);
    mqg_log_init("test", "journal", MQG_LOG_INFO, t->logfd);
    *state = t;
    return 0;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int s_teardown(void **state)
{
    struct t *t = *state;
    mqg_log_init("test", "journal", MQG_LOG_INFO, 2);
    close(t->logfd);
    nftw(t->tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

/* ---- helpers: files ---- */

static const char *s_seg_path(const struct t *t, uint64_t first, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/jnl-%016llx.seg", t->dir, (unsigned long long)first);
    return buf;
}

static long long s_fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The whole file into a new buffer (*len bytes); NULL when it does not exist. */
static uint8_t *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void s_spit(const char *path, const void *data, size_t len, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Number of entries of the journal directory whose name starts with prefix and contains
 * infix (infix may be NULL). */
static int s_count_files(const struct t *t, const char *prefix, const char *infix)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            (!infix || strstr(e->d_name, infix))) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Total size of the segment files on disk. */
static long long s_seg_bytes_on_disk(const struct t *t)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    long long sum = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "jnl-", 4) == 0 && n == 24 && strcmp(e->d_name + 20, ".seg") == 0) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
            sum += s_fsize(p);
        }
    }
    closedir(d);
    return sum;
}

/* Occurrences of needle in the log so far. */
static int s_log_count(const struct t *t, const char *needle)
{
    size_t len;
    uint8_t *b = s_slurp(t->log, &len);
    assert_non_null(b);
    b[len] = '\0';
    int n = 0;
    for (const char *p = (const char *)b; (p = strstr(p, needle)); p++) {
        n++;
    }
    free(b);
    return n;
}

static uint64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- an independent reading of the format (bitwise CRC-32C, own parser) ---- */

static uint32_t s_crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
    }
    return ~c;
}

static uint32_t s_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t s_be64(const uint8_t *p)
{
    return ((uint64_t)s_be32(p) << 32) | s_be32(p + 4);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    s_put32(p, (uint32_t)(v >> 32));
    s_put32(p + 4, (uint32_t)v);
}

struct rec_pos {
    uint64_t off, seq;
    size_t size; /* bytes of the whole record */
};

/* Parse a segment file strictly: header for first, every record's crc, file ends at the last
 * record. Fills pos[0..ret) (pos may be NULL). */
static size_t s_parse_seg(const char *path, uint64_t first, struct rec_pos *pos, size_t max)
{
    size_t len;
    uint8_t *b = s_slurp(path, &len);
    assert_non_null(b);
    assert_true(len >= SEG_HDR);
    assert_memory_equal(b, "MQGJNL\r\n", 8);
    assert_int_equal(s_be32(b + 8), 1);
    assert_int_equal(s_be32(b + 12), 0);
    assert_int_equal(s_be64(b + 16), first);
    assert_int_equal(s_be64(b + 24), 0);
    size_t off = SEG_HDR, n = 0;
    while (off < len) {
        assert_true(len - off >= REC_HDR);
        uint32_t rl = s_be32(b + off);
        assert_true(rl >= 24 && off + 8 + rl <= len);
        uint32_t tl = ((uint32_t)b[off + 26] << 8) | b[off + 27];
        assert_int_equal(24 + tl + s_be32(b + off + 28), rl);
        assert_int_equal(s_crc_bitwise(b + off + 8, rl), s_be32(b + off + 4));
        if (pos && n < max) {
            pos[n] = (struct rec_pos){.off = off, .seq = s_be64(b + off + 8), .size = 8 + rl};
        }
        n++;
        off += 8 + rl;
    }
    free(b);
    return n;
}

/* ---- record contents as a function of k ---- */

static size_t s_topic(uint64_t k, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "plant/line%u/sensor%llu", (unsigned)(k % 7),
                            (unsigned long long)k);
}

static uint8_t s_pbyte(uint64_t k, size_t i)
{
    return (uint8_t)(k * 31u + i * 7u + (i >> 8) + (k >> 3));
}

static uint8_t *s_payload(uint64_t k, size_t pl)
{
    uint8_t *p = malloc(pl ? pl : 1);
    assert_non_null(p);
    for (size_t i = 0; i < pl; i++) {
        p[i] = s_pbyte(k, i);
    }
    return p;
}

/* Append the message of k with a pl-byte payload; returns its seq. */
static uint64_t s_add(struct mqg_journal *j, uint64_t k, size_t pl)
{
    char topic[64];
    size_t tl = s_topic(k, topic, sizeof(topic));
    uint8_t *p = s_payload(k, pl);
    uint64_t seq = 0;
    int rc = mqg_journal_append(j, (uint8_t)(k & 3), (uint8_t)(1 + k % 2), topic, tl, p, pl, &seq);
    free(p);
    assert_int_equal(rc, 0);
    return seq;
}

static size_t s_rsize(uint64_t k, size_t pl)
{
    char topic[64];
    return REC_HDR + s_topic(k, topic, sizeof(topic)) + pl;
}

static bool s_rec_is(const struct mqg_journal_rec *r, uint64_t k, size_t pl)
{
    char topic[64];
    size_t tl = s_topic(k, topic, sizeof(topic));
    if (r->topic_len != tl || memcmp(r->topic, topic, tl) != 0 || r->payload_len != pl ||
        r->flags != (k & 3) || r->qos != 1 + k % 2) {
        return false;
    }
    const uint8_t *p = r->payload;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] != s_pbyte(k, i)) {
            return false;
        }
    }
    return true;
}

static struct mqg_journal *s_open(const struct t *t, uint64_t max, uint64_t seg,
                                  enum mqg_journal_sync sync)
{
    struct mqg_journal_opts o = {
        .dir = t->dir, .max_bytes = max, .segment_bytes = seg, .sync = sync};
    struct mqg_journal *j = NULL;
    assert_int_equal(mqg_journal_open(&o, &j), 0);
    assert_non_null(j);
    return j;
}

/* Read from from_seq to the end: exactly the seqs want[0..n), each with the contents of k = seq
 * and a pl-byte payload. */
static void s_expect(struct mqg_journal *j, uint64_t from_seq, const uint64_t *want, size_t n,
                     size_t pl)
{
    struct mqg_journal_cursor *c = NULL;
    assert_int_equal(mqg_journal_cursor_new(j, from_seq, &c), 0);
    struct mqg_journal_rec r;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, want[i]);
        assert_true(s_rec_is(&r, r.seq, pl));
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    mqg_journal_cursor_destroy(&c);
    assert_null(c);
}

/* want = lo..hi */
static void s_expect_range(struct mqg_journal *j, uint64_t from, uint64_t lo, uint64_t hi,
                           size_t pl)
{
    size_t n = hi >= lo ? (size_t)(hi - lo + 1) : 0;
    uint64_t *w = calloc(n + 1, sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        w[i] = lo + i;
    }
    s_expect(j, from, w, n, pl);
    free(w);
}

/* ---- the CRC ---- */

static void test_crc(void **state)
{
    (void)state;
    assert_int_equal(mqg_journal_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(mqg_journal_crc32c(0, "", 0), 0);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 131u + 7u);
    }
    for (size_t start = 0; start < 9; start++) { /* every alignment and tail length */
        for (size_t n = 0; start + n <= sizeof(buf); n += 13) {
            uint32_t whole = mqg_journal_crc32c(0, buf + start, n);
            assert_int_equal(whole, s_crc_bitwise(buf + start, n));
            size_t half = n / 3;
            uint32_t part = mqg_journal_crc32c(0, buf + start, half);
            assert_int_equal(mqg_journal_crc32c(part, buf + start + half, n - half), whole);
        }
    }
}

/* ---- append and read back ---- */

struct msg {
    uint8_t flags, qos;
    const char *topic;
    size_t tl;
    const void *p;
    size_t pl;
};

/* The segment file holds m[0..n) as seqs 1..n, checked by the independent parser. */
static void s_check_disk(const struct t *t, const struct msg *m, size_t n, size_t total)
{
    char p[160];
    struct rec_pos pos[8];
    assert_int_equal(s_parse_seg(s_seg_path(t, 1, p, sizeof(p)), 1, pos, 8), n);
    assert_int_equal(s_fsize(p), SEG_HDR + total);
    size_t flen;
    uint8_t *f = s_slurp(p, &flen);
    for (size_t i = 0, off = SEG_HDR; i < n; i++) {
        assert_int_equal(pos[i].off, off);
        assert_int_equal(pos[i].seq, i + 1);
        const uint8_t *h = f + off;
        assert_int_equal(h[24], m[i].flags);
        assert_int_equal(h[25], m[i].qos);
        assert_int_equal(s_be32(h + 28), m[i].pl);
        if (m[i].tl) {
            assert_memory_equal(h + REC_HDR, m[i].topic, m[i].tl);
        }
        if (m[i].pl) {
            assert_memory_equal(h + REC_HDR + m[i].tl, m[i].p, m[i].pl);
        }
        off += REC_HDR + m[i].tl + m[i].pl;
    }
    free(f);
}

/* A cursor hands out exactly m[0..n) as seqs 1..n, written between before and after. Returns
 * the time of the first. */
static uint64_t s_check_read(struct mqg_journal *j, const struct msg *m, size_t n, uint64_t before,
                             uint64_t after)
{
    struct mqg_journal_cursor *c = NULL;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    struct mqg_journal_rec r;
    uint64_t first_time = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, i + 1);
        assert_int_equal(r.flags, m[i].flags);
        assert_int_equal(r.qos, m[i].qos);
        assert_int_equal(r.topic_len, m[i].tl);
        assert_int_equal(r.payload_len, m[i].pl);
        if (m[i].tl) {
            assert_memory_equal(r.topic, m[i].topic, m[i].tl);
        }
        if (m[i].pl) {
            assert_memory_equal(r.payload, m[i].p, m[i].pl);
        }
        assert_true(r.time_ms >= before && r.time_ms <= after);
        first_time = i == 0 ? r.time_ms : first_time;
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    mqg_journal_cursor_destroy(&c);
    mqg_journal_cursor_destroy(&c); /* NULL-safe */
    return first_time;
}

static void test_roundtrip(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    uint8_t bin[256];
    for (int i = 0; i < 256; i++) {
        bin[i] = (uint8_t)(255 - i); /* every byte value, NUL included */
    }
    size_t big_len = 1000000;
    uint8_t *big = s_payload(99, big_len);
    struct msg m[] = {
        {0, 1, "a/b", 3, NULL, 0},                               /* empty payload */
        {1, 2, "bin/\xc3\xa4\xe2\x82\xac", 9, bin, sizeof(bin)}, /* UTF-8 topic, binary */
        {3, 1, "big", 3, big, big_len},                          /* 1 MB */
        {0xff, 0, NULL, 0, "x", 1},                              /* no topic, flags kept as given */
        {2, 1, "after/big", 9, bin + 100, 5},
    };
    size_t n = sizeof(m) / sizeof(m[0]), total = 0;
    uint64_t before = s_wall_ms();
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = 0;
        assert_int_equal(
            mqg_journal_append(j, m[i].flags, m[i].qos, m[i].topic, m[i].tl, m[i].p, m[i].pl, &seq),
            0);
        assert_int_equal(seq, i + 1);
        total += REC_HDR + m[i].tl + m[i].pl;
    }
    uint64_t first_time = s_check_read(j, m, n, before, s_wall_ms());
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, n);
    assert_int_equal(st.bytes, total);
    assert_int_equal(st.file_bytes, SEG_HDR + total);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.oldest_time_ms, first_time);
    assert_int_equal(st.last_seq, n);
    assert_int_equal(st.corrupt_files, 0);
    mqg_journal_destroy(&j);
    assert_null(j);
    mqg_journal_destroy(&j);
    s_check_disk(t, m, n, total);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE); /* and again after reopen */
    s_check_read(j, m, n, before, s_wall_ms());
    mqg_journal_destroy(&j);
    free(big);
    struct stat ds;
    assert_int_equal(stat(t->dir, &ds), 0);
    assert_int_equal(ds.st_mode & 0777, 0700);
}

static void test_bad_args(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = NULL;
    struct mqg_journal_opts o = {.dir = NULL};
    assert_int_equal(mqg_journal_open(&o, &j), -EINVAL);
    o.dir = t->dir;
    o.sync = (enum mqg_journal_sync)7;
    assert_int_equal(mqg_journal_open(&o, &j), -EINVAL);
    j = s_open(t, 10000, 4096, MQG_JOURNAL_SYNC_NONE);
    uint64_t seq = 77;
    static char big_topic[65536];
    memset(big_topic, 'a', sizeof(big_topic));
    assert_int_equal(mqg_journal_append(j, 0, 3, "t", 1, "p", 1, &seq), -EINVAL);
    assert_int_equal(mqg_journal_append(j, 0, 1, NULL, 1, "p", 1, &seq), -EINVAL);
    assert_int_equal(mqg_journal_append(j, 0, 1, big_topic, 65536, "p", 1, &seq), -EMSGSIZE);
    /* alone larger than max_bytes (10000 - 32 - 32 - 1 = 9935 is the largest payload) */
    uint8_t *p = s_payload(1, 9936);
    assert_int_equal(mqg_journal_append(j, 0, 1, "t", 1, p, 9936, &seq), -EMSGSIZE);
    assert_int_equal(seq, 77);
    assert_int_equal(mqg_journal_append(j, 0, 1, "t", 1, p, 9935, &seq), 0);
    assert_int_equal(seq, 1);
    free(p);
    struct mqg_journal_mark bad[] = {{.key = "a", .upto = 1}, {.key = NULL, .upto = 2}};
    assert_int_equal(mqg_journal_set_marks(j, 0, bad, 2), -EINVAL);
    bad[1].key = "";
    assert_int_equal(mqg_journal_set_marks(j, 0, bad, 2), -EINVAL);
    char *huge = malloc(70000);
    memset(huge, 'k', 69999);
    huge[69999] = '\0';
    bad[1].key = huge;
    assert_int_equal(mqg_journal_set_marks(j, 0, bad, 2), -EMSGSIZE);
    free(huge);
    uint64_t R;
    const struct mqg_journal_mark *mk;
    size_t n;
    mqg_journal_marks(j, &R, &mk, &n);
    assert_int_equal(n, 0); /* nothing changed */
    mqg_journal_destroy(&j);
}

/* ---- seqs across reopen ---- */

static void test_reopen_seq(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 3; k++) {
        assert_int_equal(s_add(j, k, 10), k);
    }
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.last_seq, 3);
    assert_int_equal(s_add(j, 4, 10), 4);
    s_expect_range(j, 0, 1, 4, 10);
    assert_int_equal(mqg_journal_release(j, 2), 0);
    mqg_journal_destroy(&j);

    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE); /* R = 2 came back from marks.log */
    s_expect_range(j, 0, 3, 4, 10);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.release_upto, 2);
    /* a mark beyond the last seq: the next seq is above it, also after reopen */
    struct mqg_journal_mark mk[] = {{.key = "cloud", .upto = 100}};
    assert_int_equal(mqg_journal_set_marks(j, 2, mk, 1), 0);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE); /* the mark alone, nothing appended above it */
    assert_int_equal(s_add(j, 101, 10), 101);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    assert_int_equal(s_add(j, 102, 10), 102);
    /* R beyond everything: the next seq is R + 1 */
    assert_int_equal(mqg_journal_release(j, 500), 0);
    assert_int_equal(s_add(j, 501, 10), 501);
    s_expect_range(j, 0, 501, 501, 10);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    assert_int_equal(s_add(j, 502, 10), 502);
    s_expect_range(j, 0, 501, 502, 10);
    mqg_journal_destroy(&j);
}

/* ---- rotation ---- */

static void test_rotation(void **state)
{
    struct t *t = *state;
    /* records of 32 + 23 + 1000 bytes: three fit in 4096 with the header, the fourth rotates */
    struct mqg_journal *j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 10; k++) {
        assert_int_equal(s_add(j, k, 1000), k);
    }
    uint64_t big = s_add(j, 11, 10000); /* larger than a segment: one of its own */
    assert_int_equal(big, 11);
    assert_int_equal(s_add(j, 12, 1000), 12);
    char p[160];
    uint64_t firsts[] = {1, 4, 7, 10, 11, 12};
    size_t counts[] = {3, 3, 3, 1, 1, 1};
    assert_int_equal(s_count_files(t, "jnl-", ".seg"), 6);
    long long sum = 0;
    for (size_t i = 0; i < 6; i++) {
        struct rec_pos pos[4];
        assert_int_equal(s_parse_seg(s_seg_path(t, firsts[i], p, sizeof(p)), firsts[i], pos, 4),
                         counts[i]);
        assert_int_equal(pos[0].seq, firsts[i]);
        long long sz = s_fsize(p);
        assert_true(i == 4 ? sz > 4096 : sz <= 4096);
        sum += sz;
    }
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.segments, 6);
    assert_int_equal(st.file_bytes, sum);
    assert_int_equal(st.records, 12);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    struct mqg_journal_stats st2;
    mqg_journal_stats(j, &st2);
    assert_memory_equal(&st, &st2, sizeof(st));
    struct mqg_journal_cursor *c = NULL;
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    for (uint64_t k = 1; k <= 12; k++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, k);
        assert_true(s_rec_is(&r, k, k == 11 ? 10000 : 1000));
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    mqg_journal_cursor_destroy(&c);
    mqg_journal_destroy(&j);
}

/* ---- release and exact stats ---- */

/* Expected stats after release(R) of records 1..n (3 per segment of 4096, 1000-byte payloads). */
static void s_check_release_stats(const struct t *t, struct mqg_journal *j, uint64_t R, uint64_t n,
                                  const uint64_t *times)
{
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    uint64_t bytes = 0;
    for (uint64_t k = R + 1; k <= n; k++) {
        bytes += s_rsize(k, 1000);
    }
    assert_int_equal(st.records, n > R ? n - R : 0);
    assert_int_equal(st.bytes, bytes);
    assert_int_equal(st.oldest_time_ms, n > R ? times[R + 1] : 0);
    assert_int_equal(st.release_upto, R);
    assert_int_equal(st.file_bytes, s_seg_bytes_on_disk(t));
    assert_int_equal(st.segments, s_count_files(t, "jnl-", ".seg"));
}

static void test_release(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    uint64_t times[32] = {0};
    const uint64_t n = 15; /* segments 1-3, 4-6, 7-9, 10-12, 13-15 */
    for (uint64_t k = 1; k <= n; k++) {
        assert_int_equal(s_add(j, k, 1000), k);
        usleep(2000); /* distinct times */
    }
    struct mqg_journal_cursor *c = NULL;
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    while (mqg_journal_cursor_next(c, &r) == 1) {
        times[r.seq] = r.time_ms;
    }
    mqg_journal_cursor_destroy(&c);
    assert_true(times[2] > times[1]);
    s_check_release_stats(t, j, 0, n, times);
    assert_int_equal(mqg_journal_release(j, 2), 0); /* inside the first segment: nothing deleted */
    assert_int_equal(s_count_files(t, "jnl-", ".seg"), 5);
    s_check_release_stats(t, j, 2, n, times);
    assert_int_equal(mqg_journal_release(j, 1), 0); /* lower: no change */
    s_check_release_stats(t, j, 2, n, times);
    assert_int_equal(mqg_journal_release(j, 3), 0); /* all of the first segment */
    char p[160];
    assert_int_equal(s_fsize(s_seg_path(t, 1, p, sizeof(p))), -1);
    assert_true(s_fsize(s_seg_path(t, 4, p, sizeof(p))) > 0);
    s_check_release_stats(t, j, 3, n, times);
    assert_int_equal(mqg_journal_release(j, 8), 0); /* 4-6 go, 7-9 stays */
    assert_int_equal(s_fsize(s_seg_path(t, 4, p, sizeof(p))), -1);
    assert_true(s_fsize(s_seg_path(t, 7, p, sizeof(p))) > 0);
    s_check_release_stats(t, j, 8, n, times);
    s_expect_range(j, 0, 9, 15, 1000);
    mqg_journal_destroy(&j);

    /* reopen: same stats (R from marks.log, the walk done again) */
    j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    s_check_release_stats(t, j, 8, n, times);
    /* everything, the current segment too: it is replaced by an empty one named n + 1 */
    assert_int_equal(mqg_journal_release(j, n), 0);
    s_check_release_stats(t, j, n, n, times);
    assert_int_equal(s_count_files(t, "jnl-", ".seg"), 1);
    assert_int_equal(s_fsize(s_seg_path(t, n + 1, p, sizeof(p))), SEG_HDR);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.file_bytes, SEG_HDR);
    assert_int_equal(st.oldest_time_ms, 0);
    assert_int_equal(s_add(j, n + 1, 1000), n + 1);
    s_expect_range(j, 0, n + 1, n + 1, 1000);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.bytes, s_rsize(n + 1, 1000));
    assert_true(st.oldest_time_ms >= times[n]);
    mqg_journal_destroy(&j);
}

/* ---- the byte bound ---- */

struct rel_arg {
    struct mqg_journal *j;
    uint64_t upto;
    int delay_ms;
};

static void *s_release_later(void *p)
{
    struct rel_arg *a = p;
    usleep((useconds_t)a->delay_ms * 1000);
    mqg_journal_release(a->j, a->upto);
    return NULL;
}

static void test_enospc_exact(void **state)
{
    struct t *t = *state;
    size_t rs = s_rsize(1, 100); /* all k < 7 have the same topic length */
    struct mqg_journal *j = s_open(t, SEG_HDR + 5 * rs, 1 << 20, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 5; k++) {
        assert_int_equal(s_add(j, k, 100), k);
    }
    char p[160];
    long long size = s_fsize(s_seg_path(t, 1, p, sizeof(p)));
    uint64_t seq = 0;
    uint8_t *pl = s_payload(6, 100);
    char topic[64];
    size_t tl = s_topic(6, topic, sizeof(topic));
    assert_int_equal(mqg_journal_append(j, 0, 1, topic, tl, pl, 100, &seq), -ENOSPC);
    assert_int_equal(seq, 0);
    assert_int_equal(s_fsize(p), size); /* nothing written */
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 5);
    assert_int_equal(st.file_bytes, SEG_HDR + 5 * rs);
    /* a smaller one still fits? no: the bound is exact, 0 bytes left */
    assert_int_equal(mqg_journal_append(j, 0, 1, "t", 1, NULL, 0, &seq), -ENOSPC);
    uint64_t t0 = s_mono_ms();
    assert_int_equal(mqg_journal_wait_space(j, 60), -ETIMEDOUT);
    assert_true(s_mono_ms() - t0 >= 50);
    assert_int_equal(mqg_journal_wait_space(j, 0), -ETIMEDOUT);
    /* a release of part of the only segment frees nothing: still no space */
    assert_int_equal(mqg_journal_release(j, 2), 0);
    assert_int_equal(mqg_journal_wait_space(j, 0), -ETIMEDOUT);
    assert_int_equal(mqg_journal_append(j, 0, 1, topic, tl, pl, 100, &seq), -ENOSPC);
    /* all of it: the segment is replaced, the space comes back, a waiter is woken */
    pthread_t th;
    struct rel_arg a = {.j = j, .upto = 5, .delay_ms = 100};
    assert_int_equal(pthread_create(&th, NULL, s_release_later, &a), 0);
    t0 = s_mono_ms();
    assert_int_equal(mqg_journal_wait_space(j, 5000), 0);
    uint64_t waited = s_mono_ms() - t0;
    pthread_join(th, NULL);
    assert_true(waited >= 80 && waited < 4000);
    assert_int_equal(mqg_journal_append(j, 0, 1, topic, tl, pl, 100, &seq), 0);
    assert_int_equal(seq, 6);
    /* full again (6-10); a release between the ENOSPC and the wait: no waiting at all */
    for (uint64_t k = 7; k <= 9; k++) {
        assert_int_equal(s_add(j, k, 100), k);
    }
    assert_int_equal(mqg_journal_append(j, 0, 1, topic, tl, pl, 100, &seq), 0);
    assert_int_equal(seq, 10);
    assert_int_equal(mqg_journal_append(j, 0, 1, topic, tl, pl, 100, &seq), -ENOSPC);
    assert_int_equal(mqg_journal_release(j, 10), 0);
    assert_int_equal(mqg_journal_wait_space(j, 0), 0);
    free(pl);
    mqg_journal_destroy(&j);
}

static void test_enospc_segments(void **state)
{
    struct t *t = *state;
    /* 16 KiB bound, 4 KiB segments of 3 records of 1055 bytes */
    struct mqg_journal *j = s_open(t, 16384, 4096, MQG_JOURNAL_SYNC_NONE);
    uint64_t k = 0, seq;
    int rc;
    char topic[64];
    uint8_t *pl = s_payload(0, 1000);
    do {
        k++;
        size_t tl = s_topic(k, topic, sizeof(topic));
        long long before = s_seg_bytes_on_disk(t);
        int files = s_count_files(t, "jnl-", NULL);
        rc = mqg_journal_append(j, 0, 1, topic, tl, pl, 1000, &seq);
        if (rc == -ENOSPC) { /* no new segment file, no byte written */
            assert_int_equal(s_seg_bytes_on_disk(t), before);
            assert_int_equal(s_count_files(t, "jnl-", NULL), files);
            struct mqg_journal_stats st;
            mqg_journal_stats(j, &st);
            assert_true(st.file_bytes + REC_HDR + tl + 1000 + SEG_HDR > 16384);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(seq, k);
            assert_true(s_seg_bytes_on_disk(t) <= 16384);
        }
    } while (rc == 0);
    /* five segments of three records fit (15931 bytes); the 16th needs a sixth segment */
    assert_int_equal(k, 16);
    assert_int_equal(mqg_journal_release(j, 3), 0); /* one segment goes */
    assert_int_equal(mqg_journal_wait_space(j, 0), 0);
    assert_int_equal(
        mqg_journal_append(j, 0, 1, topic, s_topic(k, topic, sizeof(topic)), pl, 1000, &seq), 0);
    assert_int_equal(seq, 16);
    free(pl);
    mqg_journal_destroy(&j);
}

/* ---- marks ---- */

static void s_check_marks(struct mqg_journal *j, uint64_t R, const struct mqg_journal_mark *want,
                          size_t n)
{
    uint64_t r;
    const struct mqg_journal_mark *m;
    size_t got;
    mqg_journal_marks(j, &r, &m, &got);
    assert_int_equal(r, R);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(m[i].key, want[i].key);
        assert_int_equal(m[i].upto, want[i].upto);
    }
}

static void test_marks(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 9; k++) {
        s_add(j, k, 5);
    }
    s_check_marks(j, 0, NULL, 0);
    char k1[] = "cloud";
    struct mqg_journal_mark a[] = {{.key = k1, .upto = 5}, {.key = "historian/line-2", .upto = 7}};
    assert_int_equal(mqg_journal_set_marks(j, 4, a, 2), 0);
    k1[0] = 'X'; /* copies were kept */
    struct mqg_journal_mark want_a[] = {{.key = "cloud", .upto = 5},
                                        {.key = "historian/line-2", .upto = 7}};
    s_check_marks(j, 4, want_a, 2);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.release_upto, 4);
    assert_int_equal(st.records, 5);
    struct mqg_journal_mark b[] = {{.key = "cloud", .upto = 9}};
    assert_int_equal(mqg_journal_set_marks(j, 3, b, 1), 0); /* R never goes down */
    s_check_marks(j, 4, b, 1);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 4, b, 1);
    s_expect_range(j, 0, 5, 9, 5);
    assert_int_equal(mqg_journal_release(j, 6), 0); /* a release keeps the marks */
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 6, b, 1);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, 0);
    assert_int_equal(mqg_journal_set_marks(j, 6, NULL, 0), 0);
    s_check_marks(j, 6, NULL, 0);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 6, NULL, 0);
    mqg_journal_destroy(&j);
}

static void test_marks_damaged(void **state)
{
    struct t *t = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/marks.log", t->dir);
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    struct mqg_journal_mark a[] = {{.key = "a", .upto = 3}};
    struct mqg_journal_mark b[] = {{.key = "b", .upto = 4}, {.key = "c", .upto = 5}};
    assert_int_equal(mqg_journal_set_marks(j, 1, a, 1), 0);
    long long size_a = s_fsize(path);
    assert_int_equal(mqg_journal_set_marks(j, 2, b, 2), 0);
    long long size_b = s_fsize(path);
    mqg_journal_destroy(&j);

    /* garbage after the last snapshot: b wins, the garbage is kept aside */
    const char junk[] = "\x00\x00\x01\x00garbage-garbage";
    s_spit(path, junk, sizeof(junk), "ab");
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 2, b, 2);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, 1);
    char aside[200];
    snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, size_b);
    size_t len;
    uint8_t *got = s_slurp(aside, &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof(junk));
    assert_memory_equal(got, junk, sizeof(junk));
    free(got);
    assert_int_equal(s_log_count(t, "JOURNAL-CORRUPT"), 1);
    assert_int_equal(s_log_count(t, "marks.log: torn or invalid snapshot at offset"), 1);
    mqg_journal_destroy(&j);
    /* it was rewritten: a clean open now */
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, 0);
    s_check_marks(j, 2, b, 2);
    assert_int_equal(mqg_journal_set_marks(j, 2, a, 1), 0); /* now [b][a] */
    mqg_journal_destroy(&j);

    /* torn last snapshot (a cut short): the one before wins */
    assert_int_equal(truncate(path, s_fsize(path) - 3), 0);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 2, b, 2);
    mqg_journal_destroy(&j);

    /* a flipped byte in the middle snapshot of [b][a][b]: the last one still wins */
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    assert_int_equal(mqg_journal_set_marks(j, 2, a, 1), 0);
    assert_int_equal(mqg_journal_set_marks(j, 3, b, 2), 0);
    mqg_journal_destroy(&j);
    uint8_t *f = s_slurp(path, &len);
    f[(size_b - size_a) + 12] ^= 0x40; /* inside a's R: [b][a][b] */
    s_spit(path, f, len, "wb");
    free(f);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 3, b, 2);
    mqg_journal_destroy(&j);

    /* not a file at all: moved aside, a new one made */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 0, NULL, 0);
    assert_int_equal(mqg_journal_set_marks(j, 3, b, 2), 0);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 3, b, 2);
    mqg_journal_destroy(&j);
    snprintf(aside, sizeof(aside), "%s.corrupt-0", path);
    struct stat ast;
    assert_int_equal(lstat(aside, &ast), 0);
    assert_true(S_ISDIR(ast.st_mode));

    /* nothing valid at all: R = 0, no marks, and the journal works */
    s_spit(path, "\xff\xff\xff\xff junk", 9, "wb");
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    s_check_marks(j, 0, NULL, 0);
    assert_int_equal(s_add(j, 1, 3), 1);
    mqg_journal_destroy(&j);
}

static void test_marks_compaction(void **state)
{
    struct t *t = *state;
    char path[160], tmp[160];
    snprintf(path, sizeof(path), "%s/marks.log", t->dir);
    snprintf(tmp, sizeof(tmp), "%s/marks.tmp", t->dir);
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    struct mqg_journal_mark m[] = {{.key = "cloud-broker-number-one", .upto = 0},
                                   {.key = "historian", .upto = 0}};
    long long prev = 0, max = 0;
    int shrinks = 0;
    for (uint64_t i = 1; i <= 6000; i++) {
        m[0].upto = i;
        m[1].upto = i / 2;
        assert_int_equal(mqg_journal_set_marks(j, i / 3, m, 2), 0);
        long long sz = s_fsize(path);
        if (sz < prev) {
            shrinks++;
            assert_true(sz < 200); /* one snapshot */
        }
        prev = sz;
        max = sz > max ? sz : max;
    }
    assert_true(shrinks >= 1);
    assert_true(max <= 256 * 1024 + 200);
    assert_int_equal(s_fsize(tmp), -1);
    mqg_journal_destroy(&j);
    s_spit(tmp, "leftover", 8, "wb"); /* an interrupted compaction */
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    assert_int_equal(s_fsize(tmp), -1);
    s_check_marks(j, 2000, m, 2);
    mqg_journal_destroy(&j);
}

/* ---- cursors ---- */

static void test_cursors(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 20; k++) {
        s_add(j, k, 1000);
    }
    s_expect_range(j, 7, 7, 20, 1000);   /* from the middle of a segment */
    s_expect_range(j, 10, 10, 20, 1000); /* from the start of one */
    s_expect_range(j, 21, 21, 20, 1000); /* beyond the end */
    assert_int_equal(mqg_journal_release(j, 5), 0);
    s_expect_range(j, 0, 6, 20, 1000); /* released ones are not handed out */
    s_expect_range(j, 3, 6, 20, 1000);

    /* a cursor at the end sees what is appended later, across rotations */
    struct mqg_journal_cursor *c = NULL, *mid = NULL;
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    for (uint64_t k = 6; k <= 20; k++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, k);
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    for (uint64_t k = 21; k <= 30; k++) {
        s_add(j, k, 1000);
    }
    for (uint64_t k = 21; k <= 30; k++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, k);
        assert_true(s_rec_is(&r, k, 1000));
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);

    /* a cursor in a segment that a release deletes goes on at the first record > R */
    assert_int_equal(mqg_journal_cursor_new(j, 0, &mid), 0);
    assert_int_equal(mqg_journal_cursor_next(mid, &r), 1);
    assert_int_equal(r.seq, 6);
    assert_int_equal(mqg_journal_release(j, 14), 0);
    char p[160];
    assert_int_equal(s_fsize(s_seg_path(t, 4, p, sizeof(p))), -1);
    assert_int_equal(mqg_journal_cursor_next(mid, &r), 1);
    assert_int_equal(r.seq, 15);
    /* and within the oldest segment, released records are skipped */
    assert_int_equal(mqg_journal_release(j, 17), 0);
    assert_int_equal(mqg_journal_cursor_next(mid, &r), 1);
    assert_int_equal(r.seq, 18);
    assert_true(s_rec_is(&r, 18, 1000));
    mqg_journal_cursor_destroy(&mid);

    /* everything released: the current segment is replaced; the cursor at the end follows */
    assert_int_equal(mqg_journal_release(j, 30), 0);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    s_add(j, 31, 1000);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
    assert_int_equal(r.seq, 31);
    assert_true(s_rec_is(&r, 31, 1000));
    mqg_journal_cursor_destroy(&c);
    mqg_journal_destroy(&j);

    /* a cursor on an empty journal */
    snprintf(t->dir + strlen(t->dir), sizeof(t->dir) - strlen(t->dir), "2");
    j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_NONE);
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    s_add(j, 1, 10);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
    assert_true(s_rec_is(&r, 1, 10));
    mqg_journal_cursor_destroy(&c);
    mqg_journal_destroy(&j);
}

/* A record damaged while the journal is open: the cursor refuses it, the ones before are fine. */
static void test_cursor_bad_crc(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 3; k++) {
        s_add(j, k, 50);
    }
    char p[160];
    struct rec_pos pos[4];
    assert_int_equal(s_parse_seg(s_seg_path(t, 1, p, sizeof(p)), 1, pos, 4), 3);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "Z", 1, (off_t)(pos[2].off + pos[2].size - 1)), 1);
    close(fd);
    struct mqg_journal_cursor *c = NULL;
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
    assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
    assert_int_equal(r.seq, 2);
    assert_int_equal(mqg_journal_cursor_next(c, &r), -EBADMSG);
    assert_int_equal(s_log_count(t, "JOURNAL-READ"), 1);
    mqg_journal_cursor_destroy(&c);
    mqg_journal_destroy(&j);
}

/* A write cut short (here by RLIMIT_FSIZE: part of the record is written, then EFBIG) leaves no
 * torn record: the segment is cut back, the seq is not used, the next append goes in. */
static void test_write_failure(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 3; k++) {
        s_add(j, k, 500);
    }
    char p[160];
    long long size = s_fsize(s_seg_path(t, 1, p, sizeof(p)));
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 300; /* half of the next record fits */
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char topic[64];
    size_t tl = s_topic(4, topic, sizeof(topic));
    uint8_t *pl = s_payload(4, 500);
    uint64_t seq = 0;
    int rc = mqg_journal_append(j, 0, 1, topic, tl, pl, 500, &seq);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    free(pl);
    assert_int_equal(rc, -EFBIG);
    assert_int_equal(seq, 0);
    assert_int_equal(s_fsize(p), size); /* cut back */
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.file_bytes, size);
    assert_int_equal(s_add(j, 4, 500), 4);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, 0, MQG_JOURNAL_SYNC_NONE);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, 0);
    s_expect_range(j, 0, 1, 4, 500);
    mqg_journal_destroy(&j);
}

/* ---- one appender thread, the owner reading and releasing ---- */

#define CONC_PL 100

struct conc {
    struct mqg_journal *j;
    uint64_t n;
    atomic_int failed; /* set by the appender: cmocka's asserts belong to the main thread */
    atomic_ulong waits;
};

static void *s_appender(void *p)
{
    struct conc *cc = p;
    char topic[32];
    uint8_t payload[CONC_PL];
    for (uint64_t i = 1; i <= cc->n && !cc->failed; i++) {
        size_t tl = (size_t)snprintf(topic, sizeof(topic), "c/%010llu", (unsigned long long)i);
        for (size_t b = 0; b < CONC_PL; b++) {
            payload[b] = s_pbyte(i, b);
        }
        uint64_t seq = 0;
        int rc;
        while ((rc = mqg_journal_append(cc->j, 0, 1, topic, tl, payload, CONC_PL, &seq)) ==
               -ENOSPC) {
            cc->waits++;
            if (mqg_journal_wait_space(cc->j, 10000) != 0) {
                cc->failed = 1;
                return NULL;
            }
        }
        if (rc != 0 || seq != i) {
            cc->failed = 2;
        }
    }
    return NULL;
}

/* Read everything the appender writes, release as we go, check every record and the stats.
 * must_wait: release nothing until the appender has hit the bound and waited once. */
static void s_concurrent(struct t *t, enum mqg_journal_sync sync, uint64_t n, uint64_t max,
                         uint64_t seg, bool must_wait)
{
    struct mqg_journal *j = s_open(t, max, seg, sync);
    struct conc cc = {.j = j, .n = n};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_appender, &cc), 0);
    struct mqg_journal_cursor *c = NULL;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    uint64_t expect = 1, idle = 0;
    const size_t rsize = REC_HDR + 12 + CONC_PL;
    while (expect <= n && !cc.failed) {
        struct mqg_journal_rec r;
        int rc = mqg_journal_cursor_next(c, &r);
        bool may_release = !must_wait || atomic_load(&cc.waits) > 0;
        assert_true(rc >= 0);
        if (rc == 0) {
            if (may_release) {
                mqg_journal_release(j, expect - 1); /* let a waiting appender go on */
            }
            usleep(100);
            assert_true(++idle < 200000);
            continue;
        }
        assert_int_equal(r.seq, expect);
        assert_int_equal(r.topic_len, 12);
        char topic[32];
        snprintf(topic, sizeof(topic), "c/%010llu", (unsigned long long)expect);
        assert_memory_equal(r.topic, topic, 12);
        assert_int_equal(r.payload_len, CONC_PL);
        for (size_t b = 0; b < CONC_PL; b++) {
            assert_int_equal(((const uint8_t *)r.payload)[b], s_pbyte(expect, b));
        }
        if (expect % 37 == 0) {
            if (may_release) {
                mqg_journal_release(j, expect - 5);
            }
            struct mqg_journal_stats st;
            mqg_journal_stats(j, &st); /* a consistent snapshot while appends go on */
            assert_int_equal(st.records, st.last_seq - st.release_upto);
            assert_int_equal(st.bytes, st.records * rsize);
            assert_true(st.file_bytes <= max);
        }
        expect++;
    }
    pthread_join(th, NULL);
    assert_int_equal(cc.failed, 0);
    assert_int_equal(expect, n + 1);
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    mqg_journal_cursor_destroy(&c);
    mqg_journal_release(j, n);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.file_bytes, SEG_HDR);
    print_message("   %llu records, the appender waited for space %llu times\n",
                  (unsigned long long)n, (unsigned long long)atomic_load(&cc.waits));
    if (must_wait) {
        assert_true(atomic_load(&cc.waits) > 0); /* the bound was reached, wait_space used */
    }
    mqg_journal_destroy(&j);
}

static void test_concurrent(void **state)
{
    s_concurrent(*state, MQG_JOURNAL_SYNC_NONE, 30000, 64 * 1024, 8192, true);
}

static void test_concurrent_sync_always(void **state)
{
    s_concurrent(*state, MQG_JOURNAL_SYNC_ALWAYS, 400, 16 * 1024, 4096, false);
}

static void test_sync_interval(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = s_open(t, 0, 4096, MQG_JOURNAL_SYNC_INTERVAL);
    for (uint64_t k = 1; k <= 10; k++) {
        assert_int_equal(s_add(j, k, 1000), k);
        assert_int_equal(mqg_journal_sync(j), 0);
    }
    s_expect_range(j, 0, 1, 10, 1000);
    mqg_journal_destroy(&j);
}

/* ---- damaged files ---- */

/* 18 records of 1000 bytes in three segments 1-6, 7-12, 13-18: 32 + 6 * 1052 <= 7000, and a
 * seventh record (1051 or 1052 bytes) would not fit */
#define D_SEG 7000

static void s_make_three(struct t *t)
{
    struct mqg_journal *j = s_open(t, 0, D_SEG, MQG_JOURNAL_SYNC_NONE);
    for (uint64_t k = 1; k <= 18; k++) {
        assert_int_equal(s_add(j, k, 1000), k);
    }
    mqg_journal_destroy(&j);
    assert_int_equal(s_count_files(t, "jnl-", ".seg"), 3);
}

static struct rec_pos s_rec_at(const struct t *t, uint64_t first, uint64_t seq)
{
    char p[160];
    struct rec_pos pos[16];
    size_t n = s_parse_seg(s_seg_path(t, first, p, sizeof(p)), first, pos, 16);
    for (size_t i = 0; i < n; i++) {
        if (pos[i].seq == seq) {
            return pos[i];
        }
    }
    fail_msg("no record %llu in segment %llu", (unsigned long long)seq, (unsigned long long)first);
    return pos[0];
}

/* After damage: open; exactly `want` replays; segment `first` was cut at `off` and what was
 * from there (`tail`, tail_len bytes) is in <segment>.corrupt-<off>; logged once; appends go
 * on above next_min; a second open is clean. */
static void s_check_damage(struct t *t, const uint64_t *want, size_t n, uint64_t first,
                           uint64_t off, const uint8_t *tail, size_t tail_len, uint64_t next_min)
{
    struct mqg_journal *j = s_open(t, 0, D_SEG, MQG_JOURNAL_SYNC_NONE);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, first ? 1 : 0);
    s_expect(j, 0, want, n, 1000);
    char p[160], aside[200], needle[200];
    if (first) {
        s_seg_path(t, first, p, sizeof(p));
        snprintf(aside, sizeof(aside), "%s.corrupt-%llu", p, (unsigned long long)off);
        if (tail) {
            size_t len;
            uint8_t *got = s_slurp(aside, &len);
            assert_non_null(got);
            assert_int_equal(len, tail_len);
            assert_memory_equal(got, tail, tail_len);
            free(got);
        } else { /* empty, or not a regular file (never opened here: a FIFO would block) */
            struct stat ast;
            assert_int_equal(lstat(aside, &ast), 0);
            assert_int_equal(ast.st_size, 0);
        }
        if (off) {
            assert_int_equal(s_fsize(p), off); /* cut there */
        } else {
            assert_int_equal(s_fsize(p), -1); /* moved away whole */
        }
        snprintf(needle, sizeof(needle), "jnl-%016llx.seg: ", (unsigned long long)first);
        assert_int_equal(s_log_count(t, needle), 1);
        snprintf(needle, sizeof(needle), "at offset %llu;", (unsigned long long)off);
        assert_int_equal(s_log_count(t, needle), 1);
    }
    assert_int_equal(s_log_count(t, "JOURNAL-CORRUPT"), first ? 1 : 0);
    assert_int_equal(s_count_files(t, "jnl-", ".corrupt-"), first ? 1 : 0);
    uint64_t seq = s_add(j, 1000, 1000);
    assert_true(seq >= next_min);
    mqg_journal_destroy(&j);
    j = s_open(t, 0, D_SEG, MQG_JOURNAL_SYNC_NONE);
    mqg_journal_stats(j, &st);
    assert_int_equal(st.corrupt_files, 0);
    uint64_t *w2 = calloc(n + 1, sizeof(*w2));
    memcpy(w2, want, n * sizeof(*w2));
    w2[n] = seq;
    struct mqg_journal_cursor *c = NULL;
    struct mqg_journal_rec r;
    assert_int_equal(mqg_journal_cursor_new(j, 0, &c), 0);
    for (size_t i = 0; i <= n; i++) {
        assert_int_equal(mqg_journal_cursor_next(c, &r), 1);
        assert_int_equal(r.seq, w2[i]);
        assert_true(s_rec_is(&r, i < n ? r.seq : 1000, 1000));
    }
    assert_int_equal(mqg_journal_cursor_next(c, &r), 0);
    mqg_journal_cursor_destroy(&c);
    free(w2);
    mqg_journal_destroy(&j);
}

static uint64_t s_want_buf[64];

/* s_want_buf = the ranges [lo, hi] given as pairs, 0-terminated; returns the count. */
static size_t s_want(uint64_t lo, uint64_t hi, uint64_t lo2, uint64_t hi2)
{
    size_t n = 0;
    for (uint64_t k = lo; lo && k <= hi; k++) {
        s_want_buf[n++] = k;
    }
    for (uint64_t k = lo2; lo2 && k <= hi2; k++) {
        s_want_buf[n++] = k;
    }
    return n;
}

/* The bytes of file path from off to its end (caller frees). */
static uint8_t *s_tail(const char *path, uint64_t off, size_t *len)
{
    size_t flen;
    uint8_t *f = s_slurp(path, &flen);
    assert_non_null(f);
    assert_true(off <= flen);
    *len = flen - off;
    uint8_t *b = malloc(*len + 1);
    memcpy(b, f + off, *len);
    free(f);
    return b;
}

static void test_damage_torn_tail(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 13, p, sizeof(p));
    struct rec_pos r18 = s_rec_at(t, 13, 18);
    assert_int_equal(truncate(p, (off_t)(r18.off + 500)), 0); /* mid-record */
    size_t tl;
    uint8_t *tail = s_tail(p, r18.off, &tl);
    assert_int_equal(tl, 500);
    s_check_damage(t, s_want_buf, s_want(1, 17, 0, 0), 13, r18.off, tail, tl, 18);
    assert_int_equal(s_log_count(t, "torn record"), 1);
    free(tail);
}

static void test_damage_torn_header(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 13, p, sizeof(p));
    struct rec_pos r18 = s_rec_at(t, 13, 18);
    assert_int_equal(truncate(p, (off_t)(r18.off + 10)), 0); /* inside the record header */
    size_t tl;
    uint8_t *tail = s_tail(p, r18.off, &tl);
    s_check_damage(t, s_want_buf, s_want(1, 17, 0, 0), 13, r18.off, tail, tl, 18);
    free(tail);
}

static void test_damage_crc(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 1, p, sizeof(p));
    struct rec_pos r3 = s_rec_at(t, 1, 3);
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    f[r3.off + 5] ^= 0x01; /* a bit of record 3's crc */
    s_spit(p, f, len, "wb");
    free(f);
    size_t tl;
    uint8_t *tail = s_tail(p, r3.off, &tl);
    /* 1-2 kept, 3-6 aside; the other segments are intact and replay */
    s_check_damage(t, s_want_buf, s_want(1, 2, 7, 18), 1, r3.off, tail, tl, 19);
    assert_int_equal(s_log_count(t, "bad checksum"), 1);
    free(tail);
}

static void test_damage_payload_byte(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 7, p, sizeof(p));
    struct rec_pos r9 = s_rec_at(t, 7, 9);
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    f[r9.off + r9.size - 1] ^= 0x80; /* last payload byte of record 9 */
    s_spit(p, f, len, "wb");
    free(f);
    size_t tl;
    uint8_t *tail = s_tail(p, r9.off, &tl);
    s_check_damage(t, s_want_buf, s_want(1, 8, 13, 18), 7, r9.off, tail, tl, 19);
    free(tail);
}

static void test_damage_garbage_appended(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 13, p, sizeof(p));
    uint64_t end = (uint64_t)s_fsize(p);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    s_spit(p, junk, sizeof(junk), "ab");
    s_check_damage(t, s_want_buf, s_want(1, 18, 0, 0), 13, end, junk, sizeof(junk), 19);
}

static void test_damage_bad_length(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 7, p, sizeof(p));
    struct rec_pos r8 = s_rec_at(t, 7, 8);
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    s_put32(f + r8.off, 0xFFFFFFF0u); /* impossible length */
    s_spit(p, f, len, "wb");
    free(f);
    size_t tl;
    uint8_t *tail = s_tail(p, r8.off, &tl);
    s_check_damage(t, s_want_buf, s_want(1, 7, 13, 18), 7, r8.off, tail, tl, 19);
    assert_int_equal(s_log_count(t, "impossible record length"), 1);
    free(tail);
}

static void test_damage_seq_not_increasing(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    /* a well-formed record with a good crc but seq 12 appended after 18 */
    char p[160];
    s_seg_path(t, 13, p, sizeof(p));
    uint64_t end = (uint64_t)s_fsize(p);
    struct rec_pos r14 = s_rec_at(t, 13, 14);
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    uint8_t *rec = malloc(r14.size);
    memcpy(rec, f + r14.off, r14.size);
    free(f);
    s_put64(rec + 8, 12);
    s_put32(rec + 4, s_crc_bitwise(rec + 8, r14.size - 8));
    s_spit(p, rec, r14.size, "ab");
    s_check_damage(t, s_want_buf, s_want(1, 18, 0, 0), 13, end, rec, r14.size, 19);
    assert_int_equal(s_log_count(t, "sequence number not increasing"), 1);
    free(rec);
}

static void test_damage_version(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 7, p, sizeof(p));
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    s_put32(f + 8, 2); /* version 2 */
    s_spit(p, f, len, "wb");
    /* the whole file is moved aside as .corrupt-0; 1-6 and 13-18 replay */
    s_check_damage(t, s_want_buf, s_want(1, 6, 13, 18), 7, 0, f, len, 19);
    assert_int_equal(s_log_count(t, "unknown segment version"), 1);
    free(f);
}

static void test_damage_magic(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 13, p, sizeof(p));
    size_t len;
    uint8_t *f = s_slurp(p, &len);
    f[0] = 'X';
    s_spit(p, f, len, "wb");
    s_check_damage(t, s_want_buf, s_want(1, 12, 0, 0), 13, 0, f, len, 13);
    free(f);
}

static void test_damage_empty_file(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 0x40, p, sizeof(p));
    s_spit(p, "", 0, "wb"); /* a zero-length segment after the others */
    s_check_damage(t, s_want_buf, s_want(1, 18, 0, 0), 0x40, 0, NULL, 0, 19);
    assert_int_equal(s_log_count(t, "empty file"), 1);
}

static void test_damage_missing_middle(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    assert_int_equal(unlink(s_seg_path(t, 7, p, sizeof(p))), 0);
    struct mqg_journal *j = s_open(t, 0, D_SEG, MQG_JOURNAL_SYNC_NONE);
    s_expect_range(j, 8, 13, 18, 1000); /* a cursor from inside the gap starts after it */
    mqg_journal_destroy(&j);
    s_check_damage(t, s_want_buf, s_want(1, 6, 13, 18), 0, 0, NULL, 0, 19);
}

static void test_damage_not_a_file(void **state)
{
    struct t *t = *state;
    s_make_three(t);
    char p[160];
    s_seg_path(t, 0x50, p, sizeof(p));
    assert_int_equal(mkfifo(p, 0600), 0); /* must not block the open */
    s_check_damage(t, s_want_buf, s_want(1, 18, 0, 0), 0x50, 0, NULL, 0, 19);
}

/* ---- the directory ---- */

static void test_dir_checks(void **state)
{
    struct t *t = *state;
    struct mqg_journal *j = NULL, *j2 = NULL;
    struct mqg_journal_opts o = {.dir = t->dir};
    char p[160];
    /* a parent that does not exist */
    snprintf(p, sizeof(p), "%s/missing/j", t->tmp);
    o.dir = p;
    assert_int_equal(mqg_journal_open(&o, &j), -ENOENT);
    /* a symbolic link to a good directory */
    snprintf(p, sizeof(p), "%s/real", t->tmp);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(symlink(p, t->dir), 0);
    o.dir = t->dir;
    assert_int_equal(mqg_journal_open(&o, &j), -EPERM);
    assert_int_equal(unlink(t->dir), 0);
    /* a file */
    s_spit(t->dir, "x", 1, "wb");
    assert_int_equal(mqg_journal_open(&o, &j), -ENOTDIR);
    assert_int_equal(unlink(t->dir), 0);
    /* writable by others */
    assert_int_equal(mkdir(t->dir, 0700), 0);
    assert_int_equal(chmod(t->dir, 0777), 0);
    assert_int_equal(mqg_journal_open(&o, &j), -EPERM);
    assert_int_equal(chmod(t->dir, 0720), 0);
    assert_int_equal(mqg_journal_open(&o, &j), -EPERM);
    assert_int_equal(chmod(t->dir, 0750), 0); /* readable is fine */
    assert_int_equal(mqg_journal_open(&o, &j), 0);
    /* one journal per directory */
    assert_int_equal(mqg_journal_open(&o, &j2), -EBUSY);
    mqg_journal_destroy(&j);
    assert_int_equal(mqg_journal_open(&o, &j2), 0);
    mqg_journal_destroy(&j2);
    assert_true(s_log_count(t, "JOURNAL-DIR") >= 3);
    /* owned by someone else */
    if (geteuid() == 0) {
        assert_int_equal(chown(t->dir, OTHER_UID, OTHER_UID), 0);
        assert_int_equal(mqg_journal_open(&o, &j), -EPERM);
    } else {
        print_message("   (not root: the other-owner case is skipped)\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc),
        cmocka_unit_test_setup_teardown(test_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_seq, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rotation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_release, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_enospc_exact, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_enospc_segments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_marks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_marks_damaged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_marks_compaction, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cursors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cursor_bad_crc, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_sync_always, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sync_interval, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_torn_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_torn_header, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_crc, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_payload_byte, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_garbage_appended, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_bad_length, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_seq_not_increasing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_magic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_empty_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_missing_middle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damage_not_a_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dir_checks, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
