/* mqg_journal_scan — scanning the segments at open: every header and record checked, damaged
 * files or tails moved aside (see mqg_journal_int.h, docs/journal.md). */
#include "mqg_journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "mqg_log.h"

#define S_REC_MAX_LEN ((uint64_t)JNL_REC_FIXED + MQG_JOURNAL_MAX_TOPIC + MQG_JOURNAL_MAX_PAYLOAD)
#define S_SCAN_BUF (1u << 20)

struct s_scan {
    uint8_t *buf; /* S_SCAN_BUF bytes: file bytes [boff, boff + blen) */
    uint64_t boff;
    size_t blen;
    uint64_t prev;  /* seq of the last record accepted, over all segments so far */
    uint64_t uncut; /* first seq of a segment whose bad tail could not be cut off, or 0 */
};

/* Decode the JNL_REC_HDR bytes at p into h. */
void jnl_rhdr_decode(const uint8_t *p, struct jnl_rhdr *h)
{
    h->len = jnl_get32(p);
    h->crc = jnl_get32(p + 4);
    h->seq = jnl_get64(p + 8);
    h->time_ms = jnl_get64(p + 16);
    h->flags = p[24];
    h->qos = p[25];
    h->tl = jnl_get16(p + 26);
    h->pl = jnl_get32(p + 28);
}

/* NULL when h can be a record that fits in the room bytes from its start, else why not. */
const char *jnl_rhdr_bad(const struct jnl_rhdr *h, uint64_t room)
{
    if (h->len < JNL_REC_FIXED || h->len > S_REC_MAX_LEN) {
        return "impossible record length";
    }
    if ((uint64_t)h->len + 8 > room) {
        return "torn record (the file ends inside it)";
    }
    if ((uint64_t)JNL_REC_FIXED + h->tl + h->pl != h->len) {
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
    int rc = jnl_pread_full(fd, sc->buf, k, off);
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
static const char *s_scan_records(struct s_scan *sc, int fd, uint64_t size, struct jnl_seg *sg)
{
    sc->blen = 0;
    for (uint64_t off = JNL_SEG_HDR; off < size;) {
        const uint8_t *p;
        struct jnl_rhdr h;
        uint32_t crc;
        if (size - off < JNL_REC_HDR) {
            return "torn record (the file ends inside its header)";
        }
        if (s_scan_fill(sc, fd, size, off, JNL_REC_HDR, &p) != 0) {
            return "unreadable record";
        }
        jnl_rhdr_decode(p, &h);
        const char *why = jnl_rhdr_bad(&h, size - off);
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
    if (memcmp(h, JNL_MAGIC, JNL_MAGIC_LEN) != 0) {
        return "bad magic (not a journal segment)";
    }
    if (jnl_get32(h + 8) != JNL_VERSION) {
        return "unknown segment version";
    }
    if (jnl_get32(h + 12) != 0 || jnl_get64(h + 24) != 0) {
        return "reserved header fields are not zero";
    }
    if (first == 0 || jnl_get64(h + 16) != first) {
        return "the header's first seq is 0 or differs from the file name";
    }
    return NULL;
}

/* Move bytes [off, size) of segment name aside and cut the segment there; logged, counted. */
static void s_cut(struct mqg_journal *j, struct s_scan *sc, const char *name,
                  const struct jnl_seg *sg, uint64_t size, const char *why)
{
    char aside[JNL_NAME_CAP] = "";
    uint64_t off = sg->end;
    int rc = jnl_copy_aside(j, name, off, size, aside, sizeof(aside));
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
    char name[JNL_NAME_CAP];
    jnl_seg_name(name, first);
    int fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    uint8_t hdr[JNL_SEG_HDR];
    const char *why = NULL;
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
        return -errno;
    }
    if (fd < 0) {
        why = errno == ELOOP ? "a symbolic link" : "cannot be opened";
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else if (st.st_size < JNL_SEG_HDR) {
        why = st.st_size == 0 ? "empty file (no header)" : "the file is shorter than its header";
    } else if (jnl_pread_full(fd, hdr, sizeof(hdr), 0) != 0) {
        why = "unreadable header";
    } else {
        why = s_hdr_bad(hdr, first);
    }
    if (why) {
        if (fd >= 0) {
            close(fd);
        }
        jnl_aside_whole(j, name, why);
        return 0;
    }
    struct jnl_seg sg = {.first = first, .end = JNL_SEG_HDR};
    why = s_scan_records(sc, fd, (uint64_t)st.st_size, &sg);
    close(fd);
    if (why) {
        s_cut(j, sc, name, &sg, (uint64_t)st.st_size, why);
    }
    return jnl_segs_push(j, &sg);
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
        if (strcmp(e->d_name, JNL_MARKS_TMP) == 0) {
            unlinkat(j->dirfd, JNL_MARKS_TMP, 0);
        } else if (jnl_seg_parse(e->d_name, &first)) {
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
int jnl_load_segments(struct mqg_journal *j)
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
        struct jnl_seg *s = jnl_seg_at(j, i);
        j->file_bytes += s->end;
        j->total_n += s->n;
        j->total_bytes += s->end - JNL_SEG_HDR;
        j->floor = jnl_max(j->floor, jnl_max(s->last, s->first - 1));
        j->last = jnl_max(j->last, s->last);
    }
    struct jnl_seg *cur = jnl_cur_seg(j);
    if (rc == 0 && cur) {
        char name[JNL_NAME_CAP];
        jnl_seg_name(name, cur->first);
        j->wfd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        j->wfd_bad = sc.uncut == cur->first;
    }
    return rc;
}
