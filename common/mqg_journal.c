/* mqg_journal — the on-disk journal of one source connection (see mqg_journal.h; the file
 * formats are in docs/journal.md).
 *
 * In memory: the segments, oldest first, each with its committed end, record count and last
 * seq; the release position (offset in the oldest segment of its first record with seq > R);
 * counters from which the stats are exact. Nothing per record. Records with seq <= R can only
 * be in the oldest segment: a release deletes every older segment whose records are all <= R.
 *
 * This file: open and destroy, append and wait_space, the release/marks/sync/stats calls, and
 * the segments in memory. The rest, sharing mqg_journal_int.h: file I/O and the CRC in
 * mqg_journal_io.c, marks.log in mqg_journal_marks.c, the scan at open in mqg_journal_scan.c,
 * the cursors in mqg_journal_cursor.c.
 */
#include "mqg_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mqg_journal_int.h"
#include "mqg_log.h"

#define S_SEG_MIN 4096 /* smallest segment_bytes accepted */

/* Segment files to unlink once the mutex is released. */
struct s_gone {
    uint64_t *first;
    size_t n, cap;
};

/* ---------------------------------------------------------------- segments in memory */

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
    struct jnl_seg *n = realloc(j->segs, ncap * sizeof(*n));
    if (!n) {
        return -ENOMEM;
    }
    j->segs = n;
    j->cap_segs = ncap;
    return 0;
}

int jnl_segs_push(struct mqg_journal *j, const struct jnl_seg *sg)
{
    if (s_segs_reserve(j) != 0) {
        return -ENOMEM;
    }
    j->segs[j->s0 + j->nsegs++] = *sg;
    return 0;
}

/* Index of the segment named first, or -1. */
long jnl_seg_find(struct mqg_journal *j, uint64_t first)
{
    size_t lo = 0, hi = j->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t f = jnl_seg_at(j, mid)->first;
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
            char name[JNL_NAME_CAP];
            jnl_seg_name(name, first);
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
        char name[JNL_NAME_CAP];
        jnl_seg_name(name, g->first[i]);
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
    struct jnl_seg *h = jnl_seg_at(j, 0);
    if (j->hfd >= 0 && j->hfd_first == h->first) {
        return j->hfd;
    }
    if (j->hfd >= 0) {
        close(j->hfd);
    }
    char name[JNL_NAME_CAP];
    jnl_seg_name(name, h->first);
    j->hfd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    j->hfd_first = h->first;
    return j->hfd;
}

/* Make a new segment named first (its header only) the current one; the old write fd goes to
 * *old (the caller closes it). Under mu. 0 or -errno (nothing changed). */
static int s_new_seg(struct mqg_journal *j, uint64_t first, int *old)
{
    char name[JNL_NAME_CAP];
    uint8_t h[JNL_SEG_HDR] = {0};
    if (first == 0 || s_segs_reserve(j) != 0) {
        return first == 0 ? -EOVERFLOW : -ENOMEM;
    }
    jnl_seg_name(name, first);
    memcpy(h, JNL_MAGIC, JNL_MAGIC_LEN);
    jnl_put32(h + 8, JNL_VERSION);
    jnl_put64(h + 16, first);
    int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    int rc = jnl_pwrite_full(fd, h, sizeof(h), 0);
    if (rc != 0) {
        close(fd);
        unlinkat(j->dirfd, name, 0);
        return rc;
    }
    struct jnl_seg sg = {.first = first, .end = JNL_SEG_HDR};
    jnl_segs_push(j, &sg); /* reserved above */
    j->file_bytes += JNL_SEG_HDR;
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
    struct jnl_seg *h = jnl_seg_at(j, 0);
    j->file_bytes -= h->end;
    j->total_n -= h->n;
    j->total_bytes -= h->end - JNL_SEG_HDR;
    s_gone_add(j, g, h->first);
    if (j->hfd >= 0) {
        close(j->hfd);
        j->hfd = -1;
    }
    j->s0++;
    j->nsegs--;
    j->rel_n = 0;
    j->head_off = JNL_SEG_HDR;
}

/* Move head_off past the records of the oldest segment with seq <= R, reading their headers
 * (at most one segment's worth per release). Under mu. */
static void s_walk_head(struct mqg_journal *j)
{
    struct jnl_seg *h = jnl_seg_at(j, 0);
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
            size_t k = h->end - off < JNL_IO_BUF ? (size_t)(h->end - off) : JNL_IO_BUF;
            broken = k < 16 || jnl_pread_full(fd, j->wbuf, k, off) != 0;
            if (broken) {
                break;
            }
            boff = off;
            blen = k;
        }
        const uint8_t *p = j->wbuf + (off - boff);
        uint64_t len = jnl_get32(p);
        if (jnl_get64(p + 8) > j->R) {
            break;
        }
        broken = len < JNL_REC_FIXED || off + 8 + len > h->end;
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
        return fd < 0 ? -errno : jnl_pread_full(fd, buf, n, off);
    }
    char name[JNL_NAME_CAP];
    jnl_seg_name(name, jnl_seg_at(j, i)->first);
    int fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = jnl_pread_full(fd, buf, n, off);
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
        uint64_t off = i == 0 ? j->head_off : JNL_SEG_HDR;
        if (off < jnl_seg_at(j, i)->end) {
            uint8_t b[8];
            return s_seg_pread(j, i, b, sizeof(b), off + 16) == 0 ? jnl_get64(b) : j->oldest_ms;
        }
    }
    return 0;
}

/* After R rose: delete what is all released, walk the oldest segment, and start a new current
 * segment when the current one is all released. Under mu; the files go to g. */
static void s_advance(struct mqg_journal *j, struct s_gone *g)
{
    for (;;) {
        while (j->nsegs > 1 && (jnl_seg_at(j, 0)->n == 0 || jnl_seg_at(j, 0)->last <= j->R)) {
            s_drop_head(j, g);
        }
        if (j->nsegs == 0) {
            break;
        }
        s_walk_head(j);
        struct jnl_seg *h = jnl_seg_at(j, 0);
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
        j->floor = jnl_max(j->floor, upto);
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
    j->seg_bytes = jnl_max(j->seg_bytes, S_SEG_MIN);
    j->sync = o->sync;
    j->head_off = JNL_SEG_HDR;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->space_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    j->dir = strdup(o->dir);
    j->wbuf = malloc(JNL_IO_BUF);
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
        rc = jnl_load_segments(j);
    }
    if (rc == 0) {
        rc = jnl_marks_load(j);
    }
    if (rc != 0) {
        mqg_journal_destroy(&j);
        return rc;
    }
    j->floor = jnl_max(j->floor, jnl_max(j->R, j->marks_max));
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
    uint8_t hdr[JNL_REC_HDR];
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
    jnl_put32(h, (uint32_t)(a->rsize - 8));
    jnl_put64(h + 8, seq);
    jnl_put64(h + 16, a->time_ms);
    h[24] = flags;
    h[25] = qos;
    jnl_put16(h + 26, (uint16_t)tl);
    jnl_put32(h + 28, (uint32_t)pl);
    uint32_t crc = mqg_journal_crc32c(0, h + 8, JNL_REC_FIXED);
    crc = mqg_journal_crc32c(crc, a->iov[1].iov_base, tl);
    jnl_put32(h + 4, mqg_journal_crc32c(crc, a->iov[2].iov_base, pl));
}

/* Make sure there is a current segment that can take a->rsize bytes. Under mu. */
static int s_make_room(struct mqg_journal *j, struct s_append *a, uint64_t seq)
{
    struct jnl_seg *cur = jnl_cur_seg(j);
    bool writable = j->wfd >= 0 && !j->wfd_bad;
    if (cur && cur->n == 0 && !writable) { /* empty: start it over rather than add another */
        char name[JNL_NAME_CAP];
        jnl_seg_name(name, cur->first);
        int fd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, JNL_SEG_HDR) != 0) {
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
    struct jnl_seg *cur = jnl_cur_seg(j);
    bool rot =
        !cur || j->wfd < 0 || j->wfd_bad || (cur->n > 0 && cur->end + a->rsize > j->seg_bytes);
    uint64_t need = a->rsize + (rot && (!cur || cur->n > 0) ? JNL_SEG_HDR : 0);
    if (j->file_bytes + need > j->max_bytes) {
        j->enospc_gen = j->space_gen;
        return -ENOSPC;
    }
    int rc = s_make_room(j, a, seq);
    if (rc == 0) {
        cur = jnl_cur_seg(j);
        a->iov[0] = (struct iovec){a->hdr, JNL_REC_HDR};
        rc = jnl_pwritev_full(j->wfd, a->iov, 3, cur->end);
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
        JNL_SEG_HDR + JNL_REC_HDR + (uint64_t)topic_len + payload_len > j->max_bytes) {
        return -EMSGSIZE;
    }
    struct s_append a = {.iov = {{0}, {(void *)topic, topic_len}, {(void *)payload, payload_len}},
                         .rsize = JNL_REC_HDR + (uint64_t)topic_len + payload_len,
                         .time_ms = jnl_now_ms(),
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
    int rc = jnl_snap_encode(upto, j->marks, j->nmarks, &snap, &len);
    if (rc == 0) {
        rc = jnl_marks_write(j, snap, len);
        free(snap);
    }
    s_release_to(j, upto);
    return rc;
}

int mqg_journal_set_marks(struct mqg_journal *j, uint64_t release_upto,
                          const struct mqg_journal_mark *marks, size_t n)
{
    uint64_t r = jnl_max(release_upto, j->R), unused;
    uint8_t *snap = NULL;
    size_t len = 0;
    int rc = jnl_snap_encode(r, marks, n, &snap, &len);
    if (rc == 0) {
        rc = jnl_marks_take(j, snap, &unused);
    }
    if (rc != 0) {
        free(snap);
        return rc;
    }
    rc = jnl_marks_write(j, snap, len);
    free(snap);
    pthread_mutex_lock(&j->mu);
    j->floor = jnl_max(j->floor, j->marks_max);
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
    st->bytes = j->total_bytes - (j->nsegs ? j->head_off - JNL_SEG_HDR : 0);
    st->oldest_time_ms = st->records ? j->oldest_ms : 0;
    st->file_bytes = j->file_bytes;
    st->segments = j->nsegs;
    st->corrupt_files = j->corrupt_files;
    st->release_upto = j->R;
    st->last_seq = j->last;
    pthread_mutex_unlock(&j->mu);
}
