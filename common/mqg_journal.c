/* mqg_journal — the on-disk journal of one source connection (see mqg_journal.h; the file
 * formats are in docs/journal.md).
 *
 * In memory: the segments, oldest first, each with its committed end, record count and last
 * seq; the release position (offset in the oldest segment of its first record with seq > R);
 * counters from which the stats are exact. Nothing per record. Records with seq <= R can only
 * be in the oldest segment: a release deletes every older segment whose records are all <= R.
 */
#include "mqg_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mqg_log.h"

#define S_MAGIC "MQGJNL\r\n"
#define S_MAGIC_LEN 8
#define S_VERSION 1
#define S_SEG_HDR 32   /* magic | version | reserved | first seq | reserved */
#define S_REC_HDR 32   /* len | crc | seq | time_ms | flags | qos | topic_len | payload_len */
#define S_REC_FIXED 24 /* bytes of the record header that len counts and the crc covers */
#define S_REC_MAX_LEN ((uint64_t)S_REC_FIXED + MQG_JOURNAL_MAX_TOPIC + MQG_JOURNAL_MAX_PAYLOAD)
#define S_SEG_MIN 4096 /* smallest segment_bytes accepted */
#define S_NAME_CAP 80
#define S_MARKS "marks.log"
#define S_MARKS_TMP "marks.tmp"
#define S_MARKS_COMPACT (256u * 1024u)
#define S_MARKS_READ_MAX (4u << 20) /* a longer marks.log is read from its last 4 MiB */
#define S_SNAP_MIN 10               /* release_upto + n */
#define S_SCAN_BUF (1u << 20)
#define S_IO_BUF (64u * 1024u)

struct s_seg {
    uint64_t first; /* its name and header; no record in it has a lower seq */
    uint64_t last;  /* seq of its last record; 0 when it has none */
    uint64_t end;   /* committed end: header + complete records; cursors read below it */
    uint64_t n;     /* records */
};

/* Segment files to unlink once the mutex is released. */
struct s_gone {
    uint64_t *first;
    size_t n, cap;
};

struct mqg_journal {
    int dirfd; /* the directory, flock'ed; constant from open to destroy */
    char *dir; /* its path, for log lines */
    uint64_t max_bytes, seg_bytes;
    enum mqg_journal_sync sync;
    pthread_mutex_t mu;
    pthread_cond_t space_cv; /* broadcast when a release deleted segments */
    /* ---- guarded by mu ---- */
    struct s_seg *segs; /* live ones are segs[s0 .. s0 + nsegs); the last is the current one */
    size_t s0, nsegs, cap_segs;
    int wfd;        /* the current segment, open for writing; -1 none */
    bool wfd_bad;   /* a failed write could not be cut back: do not append to it again */
    bool dir_dirty; /* a segment was made since the last fsync of the directory */
    int hfd;        /* the oldest segment, read only (release walk); -1 none */
    uint64_t hfd_first;
    uint64_t file_bytes;            /* sum of the segments' ends */
    uint64_t total_n, total_bytes;  /* records in all segments, and their bytes */
    uint64_t rel_n;                 /* records of the oldest segment before head_off */
    uint64_t head_off;              /* offset in the oldest segment of its first record > R */
    uint64_t oldest_ms;             /* time_ms of the oldest record > R */
    uint64_t R;                     /* release watermark (written by the owner thread only) */
    uint64_t floor;                 /* max of seqs handed out or found, R, marks: next = +1 */
    uint64_t last;                  /* the highest seq handed out or found */
    uint64_t space_gen, enospc_gen; /* releases that freed space; space_gen at the last ENOSPC */
    uint64_t corrupt_files;
    bool walk_warned;
    uint8_t *wbuf; /* S_IO_BUF bytes for the release walk */
    /* ---- owner thread only ---- */
    int mfd;                        /* marks.log; -1 when it could not be opened */
    uint64_t msize;                 /* its size: where the next snapshot goes */
    struct mqg_journal_mark *marks; /* one block: the array, then the keys */
    size_t nmarks;
    uint64_t marks_max; /* highest upto of the marks */
    bool marks_warned;
};

struct mqg_journal_cursor {
    struct mqg_journal *j;
    uint64_t min; /* the next record handed out has seq >= min */
    uint64_t rel; /* R as last seen: records <= rel are skipped */
    uint64_t seg; /* first seq of the segment being read; 0 = none yet */
    int fd;       /* that segment, read only */
    uint64_t off; /* offset of the next record in it */
    uint8_t *buf; /* bytes [boff, boff + blen) of the segment */
    size_t cap, blen;
    uint64_t boff;
};

struct s_rhdr {
    uint32_t len, crc;
    uint64_t seq, time_ms;
    uint8_t flags, qos;
    uint16_t tl;
    uint32_t pl;
};

/* ---------------------------------------------------------------- bytes, crc, time */

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static void s_put64(uint8_t *p, uint64_t v)
{
    s_put32(p, (uint32_t)(v >> 32));
    s_put32(p + 4, (uint32_t)v);
}

static uint16_t s_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t s_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t s_get64(const uint8_t *p)
{
    return ((uint64_t)s_get32(p) << 32) | s_get32(p + 4);
}

static uint32_t s_crc_tab[8][256];
static pthread_once_t s_crc_once = PTHREAD_ONCE_INIT;

/* Slicing-by-8 tables of the reflected Castagnoli polynomial. */
static void s_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        s_crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = s_crc_tab[t - 1][i];
            s_crc_tab[t][i] = (prev >> 8) ^ s_crc_tab[0][prev & 0xff];
        }
    }
}

uint32_t mqg_journal_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    pthread_once(&s_crc_once, s_crc_init);
    crc = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = s_crc_tab[7][lo & 0xff] ^ s_crc_tab[6][(lo >> 8) & 0xff] ^
              s_crc_tab[5][(lo >> 16) & 0xff] ^ s_crc_tab[4][lo >> 24] ^ s_crc_tab[3][hi & 0xff] ^
              s_crc_tab[2][(hi >> 8) & 0xff] ^ s_crc_tab[1][(hi >> 16) & 0xff] ^
              s_crc_tab[0][hi >> 24];
    }
    while (len--) {
        crc = s_crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t s_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---------------------------------------------------------------- file I/O */

/* Read exactly n bytes at off: 0, -EIO when the file ends first, or -errno. */
static int s_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return k < 0 ? -errno : -EIO;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Write all of iov[0..cnt) at off (iov is used up). 0 or -errno. */
static int s_pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
    while (cnt > 0 && iov->iov_len == 0) {
        iov++;
        cnt--;
    }
    while (cnt > 0) {
        ssize_t k = pwritev(fd, iov, cnt, (off_t)off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return k < 0 ? -errno : -EIO;
        }
        off += (uint64_t)k;
        size_t left = (size_t)k;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static int s_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    struct iovec iov = {(void *)buf, n};
    return s_pwritev_full(fd, &iov, 1, off);
}

static void s_seg_name(char *out, uint64_t first)
{
    snprintf(out, S_NAME_CAP, "jnl-%016" PRIx64 ".seg", first);
}

/* Is name "jnl-<16 lower-case hex digits>.seg"? Then *first is the number. */
static bool s_seg_parse(const char *name, uint64_t *first)
{
    if (strlen(name) != 24 || memcmp(name, "jnl-", 4) != 0 || strcmp(name + 20, ".seg") != 0) {
        return false;
    }
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9') {
            v = v << 4 | (uint64_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        } else {
            return false;
        }
    }
    *first = v;
    return true;
}

/* A name "<name>.corrupt-<off>" (".<k>" added when taken) that does not exist yet, into out. */
static int s_aside_name(struct mqg_journal *j, const char *name, uint64_t off, char *out,
                        size_t cap)
{
    for (int k = 0; k < 1000; k++) {
        int n = k ? snprintf(out, cap, "%s.corrupt-%" PRIu64 ".%d", name, off, k)
                  : snprintf(out, cap, "%s.corrupt-%" PRIu64, name, off);
        if (n < 0 || (size_t)n >= cap) {
            return -ENAMETOOLONG;
        }
        struct stat st;
        if (fstatat(j->dirfd, out, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
            return 0;
        }
    }
    return -EEXIST;
}

/* Copy bytes [off, size) of file name into a new file <name>.corrupt-<off>, synced; its name
 * goes to aside. 0 or -errno. */
static int s_copy_aside(struct mqg_journal *j, const char *name, uint64_t off, uint64_t size,
                        char *aside, size_t cap)
{
    int rc = s_aside_name(j, name, off, aside, cap);
    if (rc != 0) {
        return rc;
    }
    int in = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = openat(j->dirfd, aside, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    uint8_t *buf = malloc(S_IO_BUF);
    if (in < 0 || out < 0 || !buf) {
        rc = !buf ? -ENOMEM : -errno;
    }
    for (uint64_t at = off; rc == 0 && at < size;) {
        size_t k = size - at < S_IO_BUF ? (size_t)(size - at) : S_IO_BUF;
        rc = s_pread_full(in, buf, k, at);
        if (rc == 0) {
            rc = s_pwrite_full(out, buf, k, at - off);
        }
        at += k;
    }
    if (rc == 0 && fsync(out) != 0) {
        rc = -errno;
    }
    free(buf);
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
        if (rc != 0) {
            unlinkat(j->dirfd, aside, 0);
        }
    }
    return rc;
}

/* Rename file name aside whole (to <name>.corrupt-0) because of why; logged and counted. */
static void s_aside_whole(struct mqg_journal *j, const char *name, const char *why)
{
    char aside[S_NAME_CAP];
    j->corrupt_files++;
    int rc = s_aside_name(j, name, 0, aside, sizeof(aside));
    if (rc == 0 && renameat(j->dirfd, name, j->dirfd, aside) != 0) {
        rc = -errno;
    }
    if (rc == 0) {
        log_warn("JOURNAL-CORRUPT", "%s/%s: %s at offset 0; the whole file is moved to %s", j->dir,
                 name, why, aside);
    } else {
        log_warn("JOURNAL-CORRUPT", "%s/%s: %s at offset 0; the file is ignored (not moved: %s)",
                 j->dir, name, why, strerror(-rc));
    }
}

/* ---------------------------------------------------------------- segments in memory */

static struct s_seg *s_seg_at(struct mqg_journal *j, size_t i)
{
    return &j->segs[j->s0 + i];
}

static struct s_seg *s_cur(struct mqg_journal *j)
{
    return j->nsegs ? s_seg_at(j, j->nsegs - 1) : NULL;
}

/* Room for one more segment at the end. 0 or -ENOMEM. */
static int s_segs_reserve(struct mqg_journal *j)
{
    if (j->s0 + j->nsegs < j->cap_segs) {
        return 0;
    }
    if (j->s0 > 0) {
        memmove(j->segs, j->segs + j->s0, j->nsegs * sizeof(*j->segs));
        j->s0 = 0;
        return 0;
    }
    size_t ncap = j->cap_segs ? j->cap_segs * 2 : 16;
    struct s_seg *n = realloc(j->segs, ncap * sizeof(*n));
    if (!n) {
        return -ENOMEM;
    }
    j->segs = n;
    j->cap_segs = ncap;
    return 0;
}

static int s_segs_push(struct mqg_journal *j, const struct s_seg *sg)
{
    if (s_segs_reserve(j) != 0) {
        return -ENOMEM;
    }
    j->segs[j->s0 + j->nsegs++] = *sg;
    return 0;
}

/* Index of the segment named first, or -1. */
static long s_seg_find(struct mqg_journal *j, uint64_t first)
{
    size_t lo = 0, hi = j->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t f = s_seg_at(j, mid)->first;
        if (f == first) {
            return (long)mid;
        }
        if (f < first) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

static void s_gone_add(struct mqg_journal *j, struct s_gone *g, uint64_t first)
{
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 8;
        uint64_t *n = realloc(g->first, ncap * sizeof(*n));
        if (!n) { /* unlink right away rather than keep the file */
            char name[S_NAME_CAP];
            s_seg_name(name, first);
            unlinkat(j->dirfd, name, 0);
            return;
        }
        g->first = n;
        g->cap = ncap;
    }
    g->first[g->n++] = first;
}

static void s_gone_unlink(struct mqg_journal *j, struct s_gone *g)
{
    for (size_t i = 0; i < g->n; i++) {
        char name[S_NAME_CAP];
        s_seg_name(name, g->first[i]);
        if (unlinkat(j->dirfd, name, 0) != 0 && errno != ENOENT) {
            log_warn("JOURNAL-IO", "%s/%s: cannot delete the released segment: %s", j->dir, name,
                     strerror(errno));
        }
    }
    free(g->first);
    memset(g, 0, sizeof(*g));
}

/* The oldest segment, open read only. Under mu. */
static int s_head_fd(struct mqg_journal *j)
{
    struct s_seg *h = s_seg_at(j, 0);
    if (j->hfd >= 0 && j->hfd_first == h->first) {
        return j->hfd;
    }
    if (j->hfd >= 0) {
        close(j->hfd);
    }
    char name[S_NAME_CAP];
    s_seg_name(name, h->first);
    j->hfd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    j->hfd_first = h->first;
    return j->hfd;
}

/* Make a new segment named first (its header only) the current one; the old write fd goes to
 * *old (the caller closes it). Under mu. 0 or -errno (nothing changed). */
static int s_new_seg(struct mqg_journal *j, uint64_t first, int *old)
{
    char name[S_NAME_CAP];
    uint8_t h[S_SEG_HDR] = {0};
    if (first == 0 || s_segs_reserve(j) != 0) {
        return first == 0 ? -EOVERFLOW : -ENOMEM;
    }
    s_seg_name(name, first);
    memcpy(h, S_MAGIC, S_MAGIC_LEN);
    s_put32(h + 8, S_VERSION);
    s_put64(h + 16, first);
    int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    int rc = s_pwrite_full(fd, h, sizeof(h), 0);
    if (rc != 0) {
        close(fd);
        unlinkat(j->dirfd, name, 0);
        return rc;
    }
    struct s_seg sg = {.first = first, .end = S_SEG_HDR};
    s_segs_push(j, &sg); /* reserved above */
    j->file_bytes += S_SEG_HDR;
    *old = j->wfd;
    j->wfd = fd;
    j->wfd_bad = false;
    j->dir_dirty = true;
    return 0;
}

/* ---------------------------------------------------------------- release */

/* Forget the oldest segment (its file goes to g). Under mu. */
static void s_drop_head(struct mqg_journal *j, struct s_gone *g)
{
    struct s_seg *h = s_seg_at(j, 0);
    j->file_bytes -= h->end;
    j->total_n -= h->n;
    j->total_bytes -= h->end - S_SEG_HDR;
    s_gone_add(j, g, h->first);
    if (j->hfd >= 0) {
        close(j->hfd);
        j->hfd = -1;
    }
    j->s0++;
    j->nsegs--;
    j->rel_n = 0;
    j->head_off = S_SEG_HDR;
}

/* Move head_off past the records of the oldest segment with seq <= R, reading their headers
 * (at most one segment's worth per release). Under mu. */
static void s_walk_head(struct mqg_journal *j)
{
    struct s_seg *h = s_seg_at(j, 0);
    if (h->n == 0 || h->last <= j->R) {
        j->rel_n = h->n;
        j->head_off = h->end;
        return;
    }
    int fd = s_head_fd(j);
    uint64_t off = j->head_off, boff = 0;
    size_t blen = 0;
    bool broken = fd < 0;
    while (!broken && off < h->end) {
        if (off < boff || off + 16 > boff + blen) {
            size_t k = h->end - off < S_IO_BUF ? (size_t)(h->end - off) : S_IO_BUF;
            broken = k < 16 || s_pread_full(fd, j->wbuf, k, off) != 0;
            if (broken) {
                break;
            }
            boff = off;
            blen = k;
        }
        const uint8_t *p = j->wbuf + (off - boff);
        uint64_t len = s_get32(p);
        if (s_get64(p + 8) > j->R) {
            break;
        }
        broken = len < S_REC_FIXED || off + 8 + len > h->end;
        if (broken) {
            break;
        }
        off += 8 + len;
        j->rel_n++;
    }
    if (broken && !j->walk_warned) {
        j->walk_warned = true;
        log_warn("JOURNAL-IO",
                 "%s: cannot read the oldest segment at offset %" PRIu64
                 " while releasing: the stats may be off until it is deleted",
                 j->dir, off);
    }
    j->head_off = off;
}

/* Read n bytes at off of the i-th segment. Under mu. */
static int s_seg_pread(struct mqg_journal *j, size_t i, void *buf, size_t n, uint64_t off)
{
    if (i == 0) {
        int fd = s_head_fd(j);
        return fd < 0 ? -errno : s_pread_full(fd, buf, n, off);
    }
    char name[S_NAME_CAP];
    s_seg_name(name, s_seg_at(j, i)->first);
    int fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = s_pread_full(fd, buf, n, off);
    close(fd);
    return rc;
}

/* time_ms of the oldest record > R, 0 when there is none. Under mu. */
static uint64_t s_oldest(struct mqg_journal *j)
{
    if (j->total_n == j->rel_n) {
        return 0;
    }
    for (size_t i = 0; i < j->nsegs; i++) {
        uint64_t off = i == 0 ? j->head_off : S_SEG_HDR;
        if (off < s_seg_at(j, i)->end) {
            uint8_t b[8];
            return s_seg_pread(j, i, b, sizeof(b), off + 16) == 0 ? s_get64(b) : j->oldest_ms;
        }
    }
    return 0;
}

/* After R rose: delete what is all released, walk the oldest segment, and start a new current
 * segment when the current one is all released. Under mu; the files go to g. */
static void s_advance(struct mqg_journal *j, struct s_gone *g)
{
    for (;;) {
        while (j->nsegs > 1 && (s_seg_at(j, 0)->n == 0 || s_seg_at(j, 0)->last <= j->R)) {
            s_drop_head(j, g);
        }
        if (j->nsegs == 0) {
            break;
        }
        s_walk_head(j);
        struct s_seg *h = s_seg_at(j, 0);
        int old = -1;
        if (j->nsegs == 1 && h->n > 0 && h->last <= j->R && j->floor < UINT64_MAX) {
            int rc = s_new_seg(j, j->floor + 1, &old);
            if (rc == 0) {
                if (old >= 0) {
                    close(old);
                }
                continue;
            }
            log_debug("JOURNAL-IO", "%s: cannot start a new segment to delete the released one: %s",
                      j->dir, strerror(-rc));
        }
        break;
    }
    j->oldest_ms = s_oldest(j);
}

/* Raise R to upto (under the mutex), delete released segments, wake wait_space. */
static void s_release_to(struct mqg_journal *j, uint64_t upto)
{
    struct s_gone g = {0};
    pthread_mutex_lock(&j->mu);
    if (upto > j->R) {
        j->R = upto;
        j->floor = s_max(j->floor, upto);
    }
    uint64_t before = j->file_bytes;
    s_advance(j, &g);
    if (j->file_bytes < before) {
        j->space_gen++;
        pthread_cond_broadcast(&j->space_cv);
    }
    pthread_mutex_unlock(&j->mu);
    s_gone_unlink(j, &g);
}

/* ---------------------------------------------------------------- marks */

/* Size (8 + len) of the well-formed snapshot with a good crc at p[0..room), else 0. */
static size_t s_snap_valid(const uint8_t *p, size_t room)
{
    if (room < 8 + S_SNAP_MIN) {
        return 0;
    }
    size_t len = s_get32(p);
    if (len < S_SNAP_MIN || len > MQG_JOURNAL_MARKS_MAX || len > room - 8) {
        return 0;
    }
    const uint8_t *b = p + 8;
    size_t n = s_get16(b + 8), pos = S_SNAP_MIN;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 2) {
            return 0;
        }
        size_t kl = s_get16(b + pos);
        pos += 2;
        if (kl == 0 || len - pos < kl + 8 || memchr(b + pos, 0, kl)) {
            return 0;
        }
        pos += kl + 8;
    }
    if (pos != len || mqg_journal_crc32c(0, b, len) != s_get32(p + 4)) {
        return 0;
    }
    return 8 + len;
}

/* Encode a snapshot of R and m[0..n) into a new buffer (caller frees). 0, -EINVAL, -EMSGSIZE
 * or -ENOMEM. */
static int s_snap_encode(uint64_t R, const struct mqg_journal_mark *m, size_t n, uint8_t **out,
                         size_t *outlen)
{
    size_t len = S_SNAP_MIN;
    if (n > 65535 || (n && !m)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t kl = m[i].key ? strnlen(m[i].key, MQG_JOURNAL_MARKS_MAX + 1) : 0;
        if (kl == 0) {
            return -EINVAL;
        }
        len += 2 + kl + 8;
        if (kl > 65535 || len > MQG_JOURNAL_MARKS_MAX) {
            return -EMSGSIZE;
        }
    }
    uint8_t *b = malloc(8 + len);
    if (!b) {
        return -ENOMEM;
    }
    s_put32(b, (uint32_t)len);
    s_put64(b + 8, R);
    s_put16(b + 16, (uint16_t)n);
    size_t pos = 18;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(m[i].key);
        s_put16(b + pos, (uint16_t)kl);
        memcpy(b + pos + 2, m[i].key, kl);
        s_put64(b + pos + 2 + kl, m[i].upto);
        pos += 2 + kl + 8;
    }
    s_put32(b + 4, mqg_journal_crc32c(0, b + 8, len));
    *out = b;
    *outlen = 8 + len;
    return 0;
}

/* Replace j's marks by those of the valid snapshot p; its R goes to *R. 0 or -ENOMEM. */
static int s_marks_take(struct mqg_journal *j, const uint8_t *p, uint64_t *R)
{
    const uint8_t *b = p + 8;
    size_t len = s_get32(p), n = s_get16(b + 8);
    struct mqg_journal_mark *m = NULL;
    uint64_t max = 0;
    *R = s_get64(b);
    if (n) { /* the array, then the keys with their NULs: len - 10 - 10 n key bytes */
        m = malloc(n * sizeof(*m) + (len - S_SNAP_MIN - 10 * n) + n);
        if (!m) {
            return -ENOMEM;
        }
    }
    char *keys = n ? (char *)(m + n) : NULL;
    for (size_t i = 0, pos = S_SNAP_MIN; i < n; i++) {
        size_t kl = s_get16(b + pos);
        memcpy(keys, b + pos + 2, kl);
        keys[kl] = '\0';
        m[i].key = keys;
        m[i].upto = s_get64(b + pos + 2 + kl);
        max = s_max(max, m[i].upto);
        keys += kl + 1;
        pos += 2 + kl + 8;
    }
    free(j->marks);
    j->marks = m;
    j->nmarks = n;
    j->marks_max = max;
    return 0;
}

/* Replace marks.log by a file holding only snap[0..len) (through marks.tmp and a rename).
 * 0 or -errno (marks.log unchanged). */
static int s_marks_compact(struct mqg_journal *j, const uint8_t *snap, size_t len)
{
    int fd =
        openat(j->dirfd, S_MARKS_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    int rc = s_pwrite_full(fd, snap, len, 0);
    if (rc == 0 && j->sync != MQG_JOURNAL_SYNC_NONE && fdatasync(fd) != 0) {
        rc = -errno;
    }
    if (rc == 0 && renameat(j->dirfd, S_MARKS_TMP, j->dirfd, S_MARKS) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        close(fd);
        unlinkat(j->dirfd, S_MARKS_TMP, 0);
        return rc;
    }
    if (j->sync != MQG_JOURNAL_SYNC_NONE) {
        fsync(j->dirfd);
    }
    if (j->mfd >= 0) {
        close(j->mfd);
    }
    j->mfd = fd;
    j->msize = len;
    return 0;
}

/* Append snap[0..len) to marks.log (cut back when the write fails), then compact it when it
 * grew past S_MARKS_COMPACT. 0 or -errno. */
static int s_marks_write(struct mqg_journal *j, const uint8_t *snap, size_t len)
{
    int rc = j->mfd < 0 ? -EBADF : s_pwrite_full(j->mfd, snap, len, j->msize);
    if (rc != 0) { /* cut the torn snapshot off, or start the file over with this one */
        if (j->mfd >= 0 && ftruncate(j->mfd, (off_t)j->msize) != 0) {
            log_debug("JOURNAL-IO", "%s/%s: cannot cut back: %s", j->dir, S_MARKS, strerror(errno));
        }
        if (s_marks_compact(j, snap, len) == 0) {
            rc = 0;
        }
    } else if ((j->msize += len) > S_MARKS_COMPACT) {
        int crc = s_marks_compact(j, snap, len);
        if (crc != 0) {
            log_warn("JOURNAL-IO", "%s/%s: cannot compact (%s): it keeps growing", j->dir, S_MARKS,
                     strerror(-crc));
        }
    }
    if (rc != 0 && !j->marks_warned) {
        log_warn("JOURNAL-IO", "%s/%s: cannot write the marks: %s", j->dir, S_MARKS, strerror(-rc));
    }
    j->marks_warned = rc != 0;
    return rc;
}

/* Open (create) marks.log; a symbolic link or non-file there is moved aside first. */
static int s_marks_open(struct mqg_journal *j, struct stat *st)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = openat(j->dirfd, S_MARKS, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != ELOOP && errno != EISDIR) {
            return -errno;
        }
        if (fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
            return fd;
        }
        if (fd >= 0) {
            close(fd);
        }
        s_aside_whole(j, S_MARKS, "not a regular file");
    }
    return -EPERM;
}

/* Find the last valid snapshot in buf[0..len): its offset into *last (or -1); the offset of the
 * first byte that is not part of a valid snapshot into *bad (or -1). */
static void s_marks_scan(const uint8_t *buf, size_t len, long *last, long *bad)
{
    *last = -1;
    *bad = -1;
    for (size_t off = 0; off < len;) {
        size_t k = s_snap_valid(buf + off, len - off);
        if (k) {
            *last = (long)off;
            off += k;
            continue;
        }
        if (*bad < 0) {
            *bad = (long)off;
        }
        off++; /* garbage: look for the next valid snapshot byte by byte */
    }
}

/* Load the last valid snapshot of marks.log; keep a damaged file aside and rewrite it.
 * 0, -ENOMEM, or -errno when marks.log cannot be opened (the directory is not writable). */
static int s_marks_load(struct mqg_journal *j)
{
    struct stat st;
    int fd = s_marks_open(j, &st);
    if (fd < 0) {
        return fd;
    }
    j->mfd = fd;
    j->msize = (uint64_t)st.st_size;
    if (st.st_size == 0) {
        return 0;
    }
    uint64_t base = j->msize > S_MARKS_READ_MAX ? j->msize - S_MARKS_READ_MAX : 0;
    size_t len = (size_t)(j->msize - base);
    uint8_t *buf = malloc(len);
    if (!buf) {
        return -ENOMEM;
    }
    long last = -1, bad = -1;
    int rc = s_pread_full(fd, buf, len, base);
    if (rc == 0) {
        s_marks_scan(buf, len, &last, &bad);
    }
    if (last >= 0 && s_marks_take(j, buf + last, &j->R) != 0) {
        free(buf);
        return -ENOMEM;
    }
    free(buf);
    if (rc == 0 && bad < 0 && base == 0) {
        return 0;
    }
    uint64_t at = rc != 0 || base ? 0 : (uint64_t)bad;
    char aside[S_NAME_CAP] = "";
    int arc = s_copy_aside(j, S_MARKS, at, j->msize, aside, sizeof(aside));
    j->corrupt_files++;
    log_warn("JOURNAL-CORRUPT", "%s/%s: %s at offset %" PRIu64 "; %s%s; %s", j->dir, S_MARKS,
             rc != 0 ? "unreadable" : "torn or invalid snapshot", at,
             arc == 0 ? "the damaged part is copied to " : "it could not be copied aside",
             arc == 0 ? aside : "",
             last >= 0 ? "the last valid snapshot is used" : "no valid snapshot: nothing released");
    uint8_t *snap = NULL;
    size_t slen = 0;
    if (s_snap_encode(j->R, j->marks, j->nmarks, &snap, &slen) == 0) {
        s_marks_compact(j, snap, slen);
        free(snap);
    }
    return 0;
}

/* ---------------------------------------------------------------- scanning at open */

struct s_scan {
    uint8_t *buf; /* S_SCAN_BUF bytes: file bytes [boff, boff + blen) */
    uint64_t boff;
    size_t blen;
    uint64_t prev;  /* seq of the last record accepted, over all segments so far */
    uint64_t uncut; /* first seq of a segment whose bad tail could not be cut off, or 0 */
};

static void s_rhdr_decode(const uint8_t *p, struct s_rhdr *h)
{
    h->len = s_get32(p);
    h->crc = s_get32(p + 4);
    h->seq = s_get64(p + 8);
    h->time_ms = s_get64(p + 16);
    h->flags = p[24];
    h->qos = p[25];
    h->tl = s_get16(p + 26);
    h->pl = s_get32(p + 28);
}

/* NULL when h can be a record that fits in the room bytes from its start, else why not. */
static const char *s_rhdr_bad(const struct s_rhdr *h, uint64_t room)
{
    if (h->len < S_REC_FIXED || h->len > S_REC_MAX_LEN) {
        return "impossible record length";
    }
    if ((uint64_t)h->len + 8 > room) {
        return "torn record (the file ends inside it)";
    }
    if ((uint64_t)S_REC_FIXED + h->tl + h->pl != h->len) {
        return "record lengths disagree";
    }
    if (h->qos > 2) {
        return "invalid QoS";
    }
    return NULL;
}

/* Make sc->buf hold file bytes [off, off + n), n <= S_SCAN_BUF, off + n <= size. */
static int s_scan_fill(struct s_scan *sc, int fd, uint64_t size, uint64_t off, size_t n,
                       const uint8_t **p)
{
    if (off >= sc->boff && off + n <= sc->boff + sc->blen) {
        *p = sc->buf + (off - sc->boff);
        return 0;
    }
    size_t k = size - off < S_SCAN_BUF ? (size_t)(size - off) : S_SCAN_BUF;
    int rc = s_pread_full(fd, sc->buf, k, off);
    sc->boff = off;
    sc->blen = rc == 0 ? k : 0;
    *p = sc->buf;
    return rc;
}

/* CRC-32C of file bytes [off, off + len). */
static int s_scan_crc(struct s_scan *sc, int fd, uint64_t size, uint64_t off, uint64_t len,
                      uint32_t *crc)
{
    uint32_t c = 0;
    while (len) {
        size_t k = len < S_SCAN_BUF ? (size_t)len : S_SCAN_BUF;
        const uint8_t *p;
        int rc = s_scan_fill(sc, fd, size, off, k, &p);
        if (rc != 0) {
            return rc;
        }
        c = mqg_journal_crc32c(c, p, k);
        off += k;
        len -= k;
    }
    *crc = c;
    return 0;
}

/* Check the records of a segment of size bytes (header checked) into sg. NULL when all of it
 * is intact, else why the record at sg->end is not (sg covers what is before it). */
static const char *s_scan_records(struct s_scan *sc, int fd, uint64_t size, struct s_seg *sg)
{
    sc->blen = 0;
    for (uint64_t off = S_SEG_HDR; off < size;) {
        const uint8_t *p;
        struct s_rhdr h;
        uint32_t crc;
        if (size - off < S_REC_HDR) {
            return "torn record (the file ends inside its header)";
        }
        if (s_scan_fill(sc, fd, size, off, S_REC_HDR, &p) != 0) {
            return "unreadable record";
        }
        s_rhdr_decode(p, &h);
        const char *why = s_rhdr_bad(&h, size - off);
        if (why) {
            return why;
        }
        if (s_scan_crc(sc, fd, size, off + 8, h.len, &crc) != 0) {
            return "unreadable record";
        }
        if (crc != h.crc) {
            return "bad checksum";
        }
        if (h.seq <= sc->prev || h.seq < sg->first) {
            return "sequence number not increasing";
        }
        sc->prev = h.seq;
        sg->last = h.seq;
        sg->n++;
        off += 8 + (uint64_t)h.len;
        sg->end = off;
    }
    return NULL;
}

/* Why the segment header h of the file named first is not valid, or NULL. */
static const char *s_hdr_bad(const uint8_t *h, uint64_t first)
{
    if (memcmp(h, S_MAGIC, S_MAGIC_LEN) != 0) {
        return "bad magic (not a journal segment)";
    }
    if (s_get32(h + 8) != S_VERSION) {
        return "unknown segment version";
    }
    if (s_get32(h + 12) != 0 || s_get64(h + 24) != 0) {
        return "reserved header fields are not zero";
    }
    if (first == 0 || s_get64(h + 16) != first) {
        return "the header's first seq is 0 or differs from the file name";
    }
    return NULL;
}

/* Move bytes [off, size) of segment name aside and cut the segment there; logged, counted. */
static void s_cut(struct mqg_journal *j, struct s_scan *sc, const char *name,
                  const struct s_seg *sg, uint64_t size, const char *why)
{
    char aside[S_NAME_CAP] = "";
    uint64_t off = sg->end;
    int rc = s_copy_aside(j, name, off, size, aside, sizeof(aside));
    j->corrupt_files++;
    log_warn("JOURNAL-CORRUPT",
             "%s/%s: %s at offset %" PRIu64 "; the %" PRIu64 " bytes from there %s%s, the %" PRIu64
             " records before it are kept",
             j->dir, name, why, off, size - off,
             rc == 0 ? "are moved to " : "could not be saved and are dropped: ",
             rc == 0 ? aside : strerror(-rc), sg->n);
    int fd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0) {
        log_error("JOURNAL-IO", "%s/%s: cannot cut it at offset %" PRIu64 ": %s", j->dir, name, off,
                  strerror(errno));
        sc->uncut = sg->first;
    }
    if (fd >= 0) {
        close(fd);
    }
}

/* Scan the segment named first and add it to j (after moving aside what is damaged). 0 or
 * -ENOMEM: anything about the content is handled here. */
static int s_scan_seg(struct mqg_journal *j, struct s_scan *sc, uint64_t first)
{
    char name[S_NAME_CAP];
    s_seg_name(name, first);
    int fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    uint8_t hdr[S_SEG_HDR];
    const char *why = NULL;
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
        return -errno;
    }
    if (fd < 0) {
        why = errno == ELOOP ? "a symbolic link" : "cannot be opened";
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else if (st.st_size < S_SEG_HDR) {
        why = st.st_size == 0 ? "empty file (no header)" : "the file is shorter than its header";
    } else if (s_pread_full(fd, hdr, sizeof(hdr), 0) != 0) {
        why = "unreadable header";
    } else {
        why = s_hdr_bad(hdr, first);
    }
    if (why) {
        if (fd >= 0) {
            close(fd);
        }
        s_aside_whole(j, name, why);
        return 0;
    }
    struct s_seg sg = {.first = first, .end = S_SEG_HDR};
    why = s_scan_records(sc, fd, (uint64_t)st.st_size, &sg);
    close(fd);
    if (why) {
        s_cut(j, sc, name, &sg, (uint64_t)st.st_size, why);
    }
    return s_segs_push(j, &sg);
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first seqs of the segment files, sorted, into *out (caller frees). A marks.tmp left by
 * an interrupted compaction is removed. 0 or -errno. */
static int s_list(struct mqg_journal *j, uint64_t **out, size_t *n)
{
    int fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    uint64_t *v = NULL, first;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (strcmp(e->d_name, S_MARKS_TMP) == 0) {
            unlinkat(j->dirfd, S_MARKS_TMP, 0);
        } else if (s_seg_parse(e->d_name, &first)) {
            if (cnt == cap) {
                uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
                rc = nv ? 0 : -ENOMEM;
                v = nv ? nv : v;
            }
            if (rc == 0) {
                v[cnt++] = first;
            }
        }
    }
    closedir(d);
    if (rc != 0) {
        free(v);
        return rc;
    }
    if (cnt > 1) {
        qsort(v, cnt, sizeof(*v), s_cmp_u64);
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* Scan every segment into j->segs and set the counters. 0 or -errno (not for content). */
static int s_load_segments(struct mqg_journal *j)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = s_list(j, &firsts, &n);
    if (rc != 0) {
        return rc;
    }
    struct s_scan sc = {.buf = malloc(S_SCAN_BUF)};
    rc = sc.buf ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = s_scan_seg(j, &sc, firsts[i]);
    }
    free(sc.buf);
    free(firsts);
    for (size_t i = 0; rc == 0 && i < j->nsegs; i++) {
        struct s_seg *s = s_seg_at(j, i);
        j->file_bytes += s->end;
        j->total_n += s->n;
        j->total_bytes += s->end - S_SEG_HDR;
        j->floor = s_max(j->floor, s_max(s->last, s->first - 1));
        j->last = s_max(j->last, s->last);
    }
    struct s_seg *cur = s_cur(j);
    if (rc == 0 && cur) {
        char name[S_NAME_CAP];
        s_seg_name(name, cur->first);
        j->wfd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        j->wfd_bad = sc.uncut == cur->first;
    }
    return rc;
}

/* ---------------------------------------------------------------- open, destroy */

/* Create dir (0700) and open it, refusing what another user could change; flock it. */
static int s_open_dir(const char *dir, int *out)
{
    struct stat ls, st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    if (lstat(dir, &ls) != 0) {
        return -errno;
    }
    if (S_ISLNK(ls.st_mode) || !S_ISDIR(ls.st_mode)) {
        log_warn("JOURNAL-DIR", "%s: %s: not used", dir,
                 S_ISLNK(ls.st_mode) ? "a symbolic link" : "not a directory");
        return S_ISLNK(ls.st_mode) ? -EPERM : -ENOTDIR;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ELOOP ? -EPERM : -errno;
    }
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
    } else if (st.st_dev != ls.st_dev || st.st_ino != ls.st_ino || st.st_uid != geteuid() ||
               (st.st_mode & 022)) {
        log_warn("JOURNAL-DIR",
                 "%s: owned by uid %u (this user is %u), mode %04o: a journal directory must be "
                 "this user's and not writable by group or others; not used",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777));
        rc = -EPERM;
    } else if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        rc = -errno;
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

static struct mqg_journal *s_alloc(const struct mqg_journal_opts *o)
{
    struct mqg_journal *j = calloc(1, sizeof(*j));
    if (!j) {
        return NULL;
    }
    j->dirfd = j->wfd = j->hfd = j->mfd = -1;
    j->max_bytes = o->max_bytes ? o->max_bytes : MQG_JOURNAL_DEFAULT_MAX_BYTES;
    j->seg_bytes = o->segment_bytes ? o->segment_bytes : MQG_JOURNAL_DEFAULT_SEGMENT_BYTES;
    j->seg_bytes = s_max(j->seg_bytes, S_SEG_MIN);
    j->sync = o->sync;
    j->head_off = S_SEG_HDR;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->space_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    j->dir = strdup(o->dir);
    j->wbuf = malloc(S_IO_BUF);
    if (!j->dir || !j->wbuf) {
        mqg_journal_destroy(&j);
    }
    return j;
}

int mqg_journal_open(const struct mqg_journal_opts *o, struct mqg_journal **out)
{
    if (!out || !o || !o->dir || !o->dir[0] || (unsigned)o->sync > MQG_JOURNAL_SYNC_INTERVAL) {
        return -EINVAL;
    }
    *out = NULL;
    struct mqg_journal *j = s_alloc(o);
    if (!j) {
        return -ENOMEM;
    }
    int rc = s_open_dir(o->dir, &j->dirfd);
    if (rc == 0) {
        rc = s_load_segments(j);
    }
    if (rc == 0) {
        rc = s_marks_load(j);
    }
    if (rc != 0) {
        mqg_journal_destroy(&j);
        return rc;
    }
    j->floor = s_max(j->floor, s_max(j->R, j->marks_max));
    struct s_gone g = {0};
    s_advance(j, &g);
    s_gone_unlink(j, &g);
    log_info("JOURNAL-OPEN",
             "%s: %zu segments, %" PRIu64 " unreleased records, released through %" PRIu64
             ", next seq %" PRIu64 "%s",
             j->dir, j->nsegs, j->total_n - j->rel_n, j->R, j->floor + 1,
             j->corrupt_files ? " (damaged files were moved aside)" : "");
    *out = j;
    return 0;
}

void mqg_journal_destroy(struct mqg_journal **jp)
{
    if (!jp || !*jp) {
        return;
    }
    struct mqg_journal *j = *jp;
    int fds[] = {j->wfd, j->hfd, j->mfd, j->dirfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->space_cv);
    free(j->segs);
    free(j->marks);
    free(j->wbuf);
    free(j->dir);
    free(j);
    *jp = NULL;
}

/* ---------------------------------------------------------------- append */

struct s_append {
    uint8_t hdr[S_REC_HDR];
    struct iovec iov[3];
    uint64_t rsize, time_ms;
    int old_fd;  /* a segment closed by rotation: synced (unless SYNC_NONE) and closed after */
    int sync_fd; /* SYNC_ALWAYS: a dup of the segment written, fdatasync'ed after */
    bool new_seg, written;
};

/* Fill a->hdr (with the crc) for seq. */
static void s_rec_header(struct s_append *a, uint64_t seq, uint8_t flags, uint8_t qos)
{
    uint8_t *h = a->hdr;
    size_t tl = a->iov[1].iov_len, pl = a->iov[2].iov_len;
    s_put32(h, (uint32_t)(a->rsize - 8));
    s_put64(h + 8, seq);
    s_put64(h + 16, a->time_ms);
    h[24] = flags;
    h[25] = qos;
    s_put16(h + 26, (uint16_t)tl);
    s_put32(h + 28, (uint32_t)pl);
    uint32_t crc = mqg_journal_crc32c(0, h + 8, S_REC_FIXED);
    crc = mqg_journal_crc32c(crc, a->iov[1].iov_base, tl);
    s_put32(h + 4, mqg_journal_crc32c(crc, a->iov[2].iov_base, pl));
}

/* Make sure there is a current segment that can take a->rsize bytes. Under mu. */
static int s_make_room(struct mqg_journal *j, struct s_append *a, uint64_t seq)
{
    struct s_seg *cur = s_cur(j);
    bool writable = j->wfd >= 0 && !j->wfd_bad;
    if (cur && cur->n == 0 && !writable) { /* empty: start it over rather than add another */
        char name[S_NAME_CAP];
        s_seg_name(name, cur->first);
        int fd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, S_SEG_HDR) != 0) {
            int rc = -errno;
            if (fd >= 0) {
                close(fd);
            }
            return rc;
        }
        a->old_fd = j->wfd;
        j->wfd = fd;
        j->wfd_bad = false;
        return 0;
    }
    if (cur && writable && (cur->n == 0 || cur->end + a->rsize <= j->seg_bytes)) {
        return 0;
    }
    int rc = s_new_seg(j, seq, &a->old_fd);
    a->new_seg = rc == 0;
    return rc;
}

/* Write the record as seq. Under mu. */
static int s_append_locked(struct mqg_journal *j, struct s_append *a, uint64_t seq)
{
    struct s_seg *cur = s_cur(j);
    bool rot =
        !cur || j->wfd < 0 || j->wfd_bad || (cur->n > 0 && cur->end + a->rsize > j->seg_bytes);
    uint64_t need = a->rsize + (rot && (!cur || cur->n > 0) ? S_SEG_HDR : 0);
    if (j->file_bytes + need > j->max_bytes) {
        j->enospc_gen = j->space_gen;
        return -ENOSPC;
    }
    int rc = s_make_room(j, a, seq);
    if (rc == 0) {
        cur = s_cur(j);
        a->iov[0] = (struct iovec){a->hdr, S_REC_HDR};
        rc = s_pwritev_full(j->wfd, a->iov, 3, cur->end);
        if (rc != 0 && ftruncate(j->wfd, (off_t)cur->end) != 0) {
            j->wfd_bad = true;
        }
    }
    if (rc == -ENOSPC || rc == -EDQUOT) { /* the disk is full: wait_space waits for a release */
        j->enospc_gen = j->space_gen;
    }
    if (rc != 0) {
        return rc;
    }
    if (j->total_n == j->rel_n) {
        j->oldest_ms = a->time_ms;
    }
    cur->end += a->rsize;
    cur->n++;
    cur->last = seq;
    j->file_bytes += a->rsize;
    j->total_n++;
    j->total_bytes += a->rsize;
    j->floor = seq;
    j->last = seq;
    a->written = true;
    if (j->sync == MQG_JOURNAL_SYNC_ALWAYS) {
        a->sync_fd = dup(j->wfd);
        if (a->sync_fd < 0) {
            return fdatasync(j->wfd) == 0 ? 0 : -EIO;
        }
    }
    return 0;
}

/* After the mutex is released: close the rotated segment, fdatasync for SYNC_ALWAYS. */
static int s_append_after(struct mqg_journal *j, struct s_append *a, int rc)
{
    if (a->old_fd >= 0) {
        if (j->sync != MQG_JOURNAL_SYNC_NONE && fdatasync(a->old_fd) != 0) {
            log_warn("JOURNAL-IO", "%s: fdatasync of a full segment: %s", j->dir, strerror(errno));
        }
        close(a->old_fd);
    }
    if (a->sync_fd >= 0) {
        int src = fdatasync(a->sync_fd) == 0 ? 0 : -errno;
        close(a->sync_fd);
        if (src == 0 && a->new_seg && fsync(j->dirfd) != 0) {
            src = -errno;
        }
        if (src != 0) {
            log_warn("JOURNAL-IO", "%s: fdatasync after an append: %s", j->dir, strerror(-src));
            rc = -EIO;
        }
    }
    if (rc != 0 && rc != -ENOSPC && rc != -EIO) {
        log_debug("JOURNAL-IO", "%s: append failed: %s", j->dir, strerror(-rc));
    }
    return rc;
}

int mqg_journal_append(struct mqg_journal *j, uint8_t flags, uint8_t qos, const char *topic,
                       size_t topic_len, const void *payload, size_t payload_len, uint64_t *seq_out)
{
    if (qos > 2 || (topic_len && !topic) || (payload_len && !payload)) {
        return -EINVAL;
    }
    if (topic_len > MQG_JOURNAL_MAX_TOPIC || payload_len > MQG_JOURNAL_MAX_PAYLOAD ||
        S_SEG_HDR + S_REC_HDR + (uint64_t)topic_len + payload_len > j->max_bytes) {
        return -EMSGSIZE;
    }
    struct s_append a = {.iov = {{0}, {(void *)topic, topic_len}, {(void *)payload, payload_len}},
                         .rsize = S_REC_HDR + (uint64_t)topic_len + payload_len,
                         .time_ms = s_now_ms(),
                         .old_fd = -1,
                         .sync_fd = -1};
    pthread_mutex_lock(&j->mu);
    uint64_t seq = j->floor + 1;
    pthread_mutex_unlock(&j->mu);
    s_rec_header(&a, seq, flags, qos); /* the crc outside the mutex */
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    if (j->floor == UINT64_MAX) {
        rc = -EOVERFLOW;
    } else if (j->floor + 1 != seq) { /* a release or marks moved the seqs on meanwhile */
        seq = j->floor + 1;
        s_rec_header(&a, seq, flags, qos);
    }
    if (rc == 0) {
        rc = s_append_locked(j, &a, seq);
    }
    pthread_mutex_unlock(&j->mu);
    rc = s_append_after(j, &a, rc);
    if (a.written && seq_out) {
        *seq_out = seq;
    }
    return rc;
}

int mqg_journal_wait_space(struct mqg_journal *j, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    while (j->space_gen == j->enospc_gen) {
        if (timeout_ms <= 0 || pthread_cond_timedwait(&j->space_cv, &j->mu, &dl) == ETIMEDOUT) {
            rc = j->space_gen == j->enospc_gen ? -ETIMEDOUT : 0;
            break;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* ---------------------------------------------------------------- release, marks, sync */

int mqg_journal_release(struct mqg_journal *j, uint64_t upto)
{
    if (upto <= j->R) {
        return 0;
    }
    uint8_t *snap = NULL;
    size_t len = 0;
    int rc = s_snap_encode(upto, j->marks, j->nmarks, &snap, &len);
    if (rc == 0) {
        rc = s_marks_write(j, snap, len);
        free(snap);
    }
    s_release_to(j, upto);
    return rc;
}

int mqg_journal_set_marks(struct mqg_journal *j, uint64_t release_upto,
                          const struct mqg_journal_mark *marks, size_t n)
{
    uint64_t r = s_max(release_upto, j->R), unused;
    uint8_t *snap = NULL;
    size_t len = 0;
    int rc = s_snap_encode(r, marks, n, &snap, &len);
    if (rc == 0) {
        rc = s_marks_take(j, snap, &unused);
    }
    if (rc != 0) {
        free(snap);
        return rc;
    }
    rc = s_marks_write(j, snap, len);
    free(snap);
    pthread_mutex_lock(&j->mu);
    j->floor = s_max(j->floor, j->marks_max);
    pthread_mutex_unlock(&j->mu);
    s_release_to(j, r);
    return rc;
}

void mqg_journal_marks(struct mqg_journal *j, uint64_t *release_upto,
                       const struct mqg_journal_mark **marks, size_t *n)
{
    *release_upto = j->R;
    *marks = j->marks;
    *n = j->nmarks;
}

int mqg_journal_sync(struct mqg_journal *j)
{
    pthread_mutex_lock(&j->mu);
    int fd = j->wfd >= 0 ? dup(j->wfd) : -1;
    bool dir = j->dir_dirty;
    j->dir_dirty = false;
    pthread_mutex_unlock(&j->mu);
    int rc = 0;
    if (fd >= 0) {
        rc = fdatasync(fd) == 0 ? 0 : -errno;
        close(fd);
    }
    if (j->mfd >= 0 && fdatasync(j->mfd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (dir && fsync(j->dirfd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (dir && rc != 0) {
        pthread_mutex_lock(&j->mu);
        j->dir_dirty = true;
        pthread_mutex_unlock(&j->mu);
    }
    return rc;
}

void mqg_journal_stats(struct mqg_journal *j, struct mqg_journal_stats *st)
{
    pthread_mutex_lock(&j->mu);
    st->records = j->total_n - j->rel_n;
    st->bytes = j->total_bytes - (j->nsegs ? j->head_off - S_SEG_HDR : 0);
    st->oldest_time_ms = st->records ? j->oldest_ms : 0;
    st->file_bytes = j->file_bytes;
    st->segments = j->nsegs;
    st->corrupt_files = j->corrupt_files;
    st->release_upto = j->R;
    st->last_seq = j->last;
    pthread_mutex_unlock(&j->mu);
}

/* ---------------------------------------------------------------- cursors */

/* Read the i-th segment from offset off. Under mu. */
static int s_cur_open(struct mqg_journal_cursor *c, size_t i, uint64_t off)
{
    struct mqg_journal *j = c->j;
    char name[S_NAME_CAP];
    s_seg_name(name, s_seg_at(j, i)->first);
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->seg = 0;
    c->blen = 0;
    c->fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0) {
        return -errno;
    }
    c->seg = s_seg_at(j, i)->first;
    c->off = off;
    return 0;
}

/* Position c at the first segment that may hold a record >= c->min. Under mu. 0 (c->seg stays
 * 0 when there is no segment) or -errno. */
static int s_cur_locate(struct mqg_journal_cursor *c)
{
    struct mqg_journal *j = c->j;
    if (j->nsegs == 0) {
        return 0;
    }
    size_t i = 0;
    while (i + 1 < j->nsegs && !(s_seg_at(j, i)->n && s_seg_at(j, i)->last >= c->min)) {
        i++;
    }
    struct s_seg *s = s_seg_at(j, i);
    uint64_t off = i == 0 ? j->head_off : S_SEG_HDR;
    if (s->n && s->last < c->min) {
        off = s->end; /* all of it is older: wait for what comes after */
    }
    return s_cur_open(c, i, off);
}

/* Under mu: follow releases and rotations; *end = the committed end of c's segment. 1 when
 * there is a record to read at c->off, 0 when there is none (yet), -errno. */
static int s_cur_advance(struct mqg_journal_cursor *c, uint64_t *end)
{
    struct mqg_journal *j = c->j;
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    c->rel = j->R;
    if (c->min <= j->R) {
        c->min = j->R == UINT64_MAX ? UINT64_MAX : j->R + 1;
    }
    long i = c->seg ? s_seg_find(j, c->seg) : -1;
    if (i < 0) {
        rc = s_cur_locate(c);
        i = c->seg ? s_seg_find(j, c->seg) : -1;
    }
    while (rc == 0 && i >= 0) {
        struct s_seg *s = s_seg_at(j, (size_t)i);
        if (i == 0 && c->off < j->head_off) {
            c->off = j->head_off;
        }
        if (c->off < s->end) {
            *end = s->end;
            rc = 1;
        } else if ((size_t)i + 1 < j->nsegs) {
            rc = s_cur_open(c, (size_t)++i, S_SEG_HDR);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static int s_cur_bad(struct mqg_journal_cursor *c, const char *why)
{
    char name[S_NAME_CAP];
    s_seg_name(name, c->seg);
    log_warn("JOURNAL-READ", "%s/%s: %s at offset %" PRIu64 " (the file changed under the journal)",
             c->j->dir, name, why, c->off);
    return -EBADMSG;
}

/* Make c->buf hold segment bytes [c->off, c->off + n), n <= end - c->off. */
static int s_cur_fill(struct mqg_journal_cursor *c, uint64_t end, size_t n, const uint8_t **p)
{
    if (c->blen && c->off >= c->boff && c->off + n <= c->boff + c->blen) {
        *p = c->buf + (c->off - c->boff);
        return 0;
    }
    size_t want = n > S_IO_BUF ? n : S_IO_BUF;
    if (want > end - c->off) {
        want = (size_t)(end - c->off);
    }
    if (want > c->cap) {
        uint8_t *nb = realloc(c->buf, want);
        if (!nb) {
            return -ENOMEM;
        }
        c->buf = nb;
        c->cap = want;
    }
    c->blen = 0;
    int rc = s_pread_full(c->fd, c->buf, want, c->off);
    if (rc != 0) {
        return rc;
    }
    c->boff = c->off;
    c->blen = want;
    *p = c->buf;
    return 0;
}

/* Read the record at c->off (below end) into *rec; *skip when it is older than wanted. */
static int s_cur_read(struct mqg_journal_cursor *c, uint64_t end, struct mqg_journal_rec *rec,
                      uint64_t *size, bool *skip)
{
    const uint8_t *p;
    struct s_rhdr h;
    if (end - c->off < S_REC_HDR) {
        return s_cur_bad(c, "record cut short");
    }
    int rc = s_cur_fill(c, end, S_REC_HDR, &p);
    if (rc != 0) {
        return rc;
    }
    s_rhdr_decode(p, &h);
    const char *why = s_rhdr_bad(&h, end - c->off);
    if (why) {
        return s_cur_bad(c, why);
    }
    *size = 8 + (uint64_t)h.len;
    *skip = h.seq < c->min || h.seq <= c->rel;
    if (*skip) {
        return 0;
    }
    rc = s_cur_fill(c, end, (size_t)*size, &p);
    if (rc != 0) {
        return rc;
    }
    if (mqg_journal_crc32c(0, p + 8, h.len) != h.crc) {
        return s_cur_bad(c, "bad checksum");
    }
    *rec = (struct mqg_journal_rec){.seq = h.seq,
                                    .time_ms = h.time_ms,
                                    .flags = h.flags,
                                    .qos = h.qos,
                                    .topic = (const char *)p + S_REC_HDR,
                                    .topic_len = h.tl,
                                    .payload = p + S_REC_HDR + h.tl,
                                    .payload_len = h.pl};
    return 0;
}

int mqg_journal_cursor_new(struct mqg_journal *j, uint64_t from_seq,
                           struct mqg_journal_cursor **out)
{
    struct mqg_journal_cursor *c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->j = j;
    c->fd = -1;
    pthread_mutex_lock(&j->mu);
    c->rel = j->R;
    c->min = s_max(from_seq, j->R == UINT64_MAX ? UINT64_MAX : j->R + 1);
    int rc = s_cur_locate(c);
    pthread_mutex_unlock(&j->mu);
    if (rc != 0) {
        mqg_journal_cursor_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

int mqg_journal_cursor_next(struct mqg_journal_cursor *c, struct mqg_journal_rec *rec)
{
    for (;;) {
        uint64_t end = 0, size = 0;
        bool skip = false;
        int rc = s_cur_advance(c, &end);
        if (rc <= 0) {
            return rc;
        }
        rc = s_cur_read(c, end, rec, &size, &skip);
        if (rc != 0) {
            return rc;
        }
        c->off += size;
        if (!skip) {
            c->min = rec->seq == UINT64_MAX ? UINT64_MAX : rec->seq + 1;
            return 1;
        }
    }
}

void mqg_journal_cursor_destroy(struct mqg_journal_cursor **cp)
{
    if (!cp || !*cp) {
        return;
    }
    if ((*cp)->fd >= 0) {
        close((*cp)->fd);
    }
    free((*cp)->buf);
    free(*cp);
    *cp = NULL;
}
