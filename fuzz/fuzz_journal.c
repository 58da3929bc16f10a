/* fuzz_journal — libFuzzer target for mqg_journal: whatever is in the files, open succeeds,
 * reads only intact records, takes new appends and reopens cleanly.
 *
 * Input layout: byte 0 = flags, bytes 1..2 = length L (little-endian, clamped) of the segment
 * part, then L bytes of segment part, then the rest = marks.log. Flags:
 *   0x01  recompute the crc of every record whose length fits (so checks past the crc are hit)
 *   0x02  recompute the crc of every marks snapshot whose length fits
 *   0x04  prepend a valid segment header (the part is records only)
 *   0x08  split the part in two segment files at the position given by its first byte
 *   0x30  segment_bytes: default, 4096, 8192, 100 (clamped to 4096)
 *   0x40  max_bytes 16384 (the bound is hit)
 * A segment file is named after the first seq its header would carry: 1 for the first, 0x100
 * for the second, or the header's own first seq when the part brings one. Then: open (must
 * succeed), read everything with a cursor (seqs increasing and > R, the stats agree), append
 * one record and read it, release and set marks, reopen (must find nothing damaged and the
 * same records). Traps when one of these breaks. Files live under /dev/shm when it exists.
 * Built only with clang and MQG_FUZZ=ON (fuzz/CMakeLists.txt).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqg_journal.h"
#include "mqg_log.h"

#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#define S_MAX_SEQS 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_root[128];
static char s_dir[160];

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static uint32_t s_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t s_get64(const uint8_t *p)
{
    return ((uint64_t)s_get32(p) << 32) | s_get32(p + 4);
}

static void s_clean(void)
{
    DIR *d = opendir(s_dir);
    if (!d) {
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] != '.') {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    rmdir(s_dir);
}

static void s_cleanup_root(void)
{
    s_clean();
    rmdir(s_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(s_root, sizeof(s_root), "%s/fuzz_journal.XXXXXX", base);
    if (!mkdtemp(s_root)) {
        abort();
    }
    snprintf(s_dir, sizeof(s_dir), "%s/j", s_root);
    atexit(s_cleanup_root);
    mqg_log_init("fuzz", "journal", MQG_LOG_ERROR, 2);
    mqg_log_threshold = MQG_LOG_ERROR + 1; /* silent */
    return 0;
}

/* Recompute the crc of each record of buf[off..len) whose length fits, walking by lengths. */
static void s_fix_records(uint8_t *buf, size_t len, size_t off)
{
    while (off <= len && len - off >= 32) {
        uint32_t rl = s_get32(buf + off);
        if (rl < 24 || rl > len - off - 8) {
            return;
        }
        s_put32(buf + off + 4, mqg_journal_crc32c(0, buf + off + 8, rl));
        off += 8 + (size_t)rl;
    }
}

/* The same for marks snapshots. */
static void s_fix_marks(uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= 18) {
        uint32_t sl = s_get32(buf + off);
        if (sl < 10 || sl > len - off - 8) {
            return;
        }
        s_put32(buf + off + 4, mqg_journal_crc32c(0, buf + off + 8, sl));
        off += 8 + (size_t)sl;
    }
}

/* Write one segment file from part[0..len) as the flags say. */
static void s_write_seg(const uint8_t *part, size_t len, uint8_t flags, uint64_t dflt)
{
    bool hdr = flags & 0x04;
    size_t total = len + (hdr ? 32 : 0);
    uint8_t *b = calloc(1, total + 1);
    S_CHECK(b != NULL);
    uint64_t first = dflt;
    if (hdr) {
        memcpy(b, "MQGJNL\r\n", 8);
        s_put32(b + 8, 1);
        s_put64(b + 16, first);
    } else if (len >= 24) {
        first = s_get64(part + 16);
    }
    if (len) {
        memcpy(b + (hdr ? 32 : 0), part, len);
    }
    if (flags & 0x01) {
        s_fix_records(b, total, 32);
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/jnl-%016llx.seg", s_dir, (unsigned long long)first);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    S_CHECK(fd >= 0);
    S_CHECK(write(fd, b, total) == (ssize_t)total);
    close(fd);
    free(b);
}

static void s_write_files(const uint8_t *data, size_t size)
{
    uint8_t flags = size ? data[0] : 0;
    size_t seglen = size >= 3 ? (size_t)data[1] | (size_t)data[2] << 8 : 0;
    const uint8_t *seg = size >= 3 ? data + 3 : data + size;
    size_t rest = size >= 3 ? size - 3 : 0;
    seglen = seglen > rest ? rest : seglen;
    S_CHECK(mkdir(s_dir, 0700) == 0);
    if ((flags & 0x08) && seglen >= 2) {
        size_t split = 1 + (size_t)seg[0] * (seglen - 1) / 256;
        s_write_seg(seg + 1, split - 1, flags, 1);
        s_write_seg(seg + split, seglen - split, flags, 0x100);
    } else if (seglen || (flags & 0x04)) {
        s_write_seg(seg, seglen, flags, 1);
    }
    size_t mlen = rest - seglen;
    if (mlen) {
        uint8_t *m = malloc(mlen);
        S_CHECK(m != NULL);
        memcpy(m, seg + seglen, mlen);
        if (flags & 0x02) {
            s_fix_marks(m, mlen);
        }
        char path[256];
        snprintf(path, sizeof(path), "%s/marks.log", s_dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        S_CHECK(fd >= 0 && write(fd, m, mlen) == (ssize_t)mlen);
        close(fd);
        free(m);
    }
}

/* Read everything: seqs strictly increasing and > R, the stats agree. Returns the count and
 * fills seqs (up to S_MAX_SEQS). */
static size_t s_read_all(struct mqg_journal *j, uint64_t *seqs)
{
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    struct mqg_journal_cursor *c = NULL;
    S_CHECK(mqg_journal_cursor_new(j, 0, &c) == 0);
    struct mqg_journal_rec r;
    size_t n = 0;
    uint64_t prev = st.release_upto, bytes = 0;
    int rc;
    while ((rc = mqg_journal_cursor_next(c, &r)) == 1) {
        S_CHECK(r.seq > prev && r.seq <= st.last_seq);
        S_CHECK(r.qos <= 2);
        S_CHECK(n > 0 || r.time_ms == st.oldest_time_ms);
        bytes += 32 + r.topic_len + r.payload_len;
        if (n < S_MAX_SEQS) {
            seqs[n] = r.seq;
        }
        prev = r.seq;
        n++;
    }
    S_CHECK(rc == 0);
    S_CHECK(n == st.records && bytes == st.bytes);
    S_CHECK(n > 0 || st.oldest_time_ms == 0);
    mqg_journal_cursor_destroy(&c);
    return n;
}

static struct mqg_journal *s_open(uint8_t flags)
{
    static const uint64_t segs[] = {0, 4096, 8192, 100};
    struct mqg_journal_opts o = {.dir = s_dir,
                                 .segment_bytes = segs[(flags >> 4) & 3],
                                 .max_bytes = (flags & 0x40) ? 16384 : 0};
    struct mqg_journal *j = NULL;
    S_CHECK(mqg_journal_open(&o, &j) == 0 && j != NULL);
    return j;
}

/* Append one record; when it went in, a fresh read sees it last. */
static void s_append_one(struct mqg_journal *j, uint64_t *seqs, size_t *n)
{
    uint64_t seq = 0;
    int rc = mqg_journal_append(j, 1, 1, "fuzz/t", 6, "payload", 7, &seq);
    S_CHECK(rc == 0 || rc == -ENOSPC || rc == -EOVERFLOW);
    size_t before = *n;
    *n = s_read_all(j, seqs);
    if (rc == 0) {
        S_CHECK(*n == before + 1);
        S_CHECK(*n > S_MAX_SEQS || seqs[*n - 1] == seq);
    } else {
        S_CHECK(*n == before);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t seqs[S_MAX_SEQS], again[S_MAX_SEQS];
    uint8_t flags = size ? data[0] : 0;
    s_clean();
    s_write_files(data, size);
    struct mqg_journal *j = s_open(flags);
    size_t n = s_read_all(j, seqs);
    s_append_one(j, seqs, &n);
    if (n > 1 && n <= S_MAX_SEQS) { /* release the first, keep a mark */
        struct mqg_journal_mark m = {.key = "target", .upto = seqs[1]};
        S_CHECK(mqg_journal_set_marks(j, seqs[0], &m, 1) == 0);
        n = s_read_all(j, seqs);
    }
    mqg_journal_destroy(&j);
    j = s_open(flags);
    struct mqg_journal_stats st;
    mqg_journal_stats(j, &st);
    S_CHECK(st.corrupt_files == 0); /* the first open left nothing damaged behind */
    size_t n2 = s_read_all(j, again);
    S_CHECK(n2 == n);
    S_CHECK(memcmp(seqs, again, (n < S_MAX_SEQS ? n : S_MAX_SEQS) * sizeof(*seqs)) == 0);
    s_append_one(j, again, &n2);
    mqg_journal_destroy(&j);
    s_clean();
    return 0;
}
