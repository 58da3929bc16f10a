/* mqg_journal_cursor — reading the journal's records in seq order, following releases and
 * rotations (see mqg_journal.h). */
#include "mqg_journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "mqg_log.h"

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

/* Read the i-th segment from offset off. Under mu. */
static int s_cur_open(struct mqg_journal_cursor *c, size_t i, uint64_t off)
{
    struct mqg_journal *j = c->j;
    char name[JNL_NAME_CAP];
    jnl_seg_name(name, jnl_seg_at(j, i)->first);
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->seg = 0;
    c->blen = 0;
    c->fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0) {
        return -errno;
    }
    c->seg = jnl_seg_at(j, i)->first;
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
    while (i + 1 < j->nsegs && !(jnl_seg_at(j, i)->n && jnl_seg_at(j, i)->last >= c->min)) {
        i++;
    }
    struct jnl_seg *s = jnl_seg_at(j, i);
    uint64_t off = i == 0 ? j->head_off : JNL_SEG_HDR;
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
    long i = c->seg ? jnl_seg_find(j, c->seg) : -1;
    if (i < 0) {
        rc = s_cur_locate(c);
        i = c->seg ? jnl_seg_find(j, c->seg) : -1;
    }
    while (rc == 0 && i >= 0) {
        struct jnl_seg *s = jnl_seg_at(j, (size_t)i);
        if (i == 0 && c->off < j->head_off) {
            c->off = j->head_off;
        }
        if (c->off < s->end) {
            *end = s->end;
            rc = 1;
        } else if ((size_t)i + 1 < j->nsegs) {
            rc = s_cur_open(c, (size_t)++i, JNL_SEG_HDR);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static int s_cur_bad(struct mqg_journal_cursor *c, const char *why)
{
    char name[JNL_NAME_CAP];
    jnl_seg_name(name, c->seg);
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
    size_t want = n > JNL_IO_BUF ? n : JNL_IO_BUF;
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
    int rc = jnl_pread_full(c->fd, c->buf, want, c->off);
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
    struct jnl_rhdr h;
    if (end - c->off < JNL_REC_HDR) {
        return s_cur_bad(c, "record cut short");
    }
    int rc = s_cur_fill(c, end, JNL_REC_HDR, &p);
    if (rc != 0) {
        return rc;
    }
    jnl_rhdr_decode(p, &h);
    const char *why = jnl_rhdr_bad(&h, end - c->off);
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
                                    .topic = (const char *)p + JNL_REC_HDR,
                                    .topic_len = h.tl,
                                    .payload = p + JNL_REC_HDR + h.tl,
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
    c->min = jnl_max(from_seq, j->R == UINT64_MAX ? UINT64_MAX : j->R + 1);
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
