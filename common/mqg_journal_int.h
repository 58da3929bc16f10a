/* mqg_journal_int — what the journal's source files share (internal to common/mqg_journal*.c).
 *
 * The file formats (docs/journal.md), the journal's state, and the helpers of one file that
 * another calls: file I/O and moving damaged parts aside (mqg_journal_io.c), the segments in
 * memory (mqg_journal.c), marks.log (mqg_journal_marks.c), scanning at open and record headers
 * (mqg_journal_scan.c). The cursors are in mqg_journal_cursor.c. Nothing here is for other
 * modules: they use mqg_journal.h.
 */
#ifndef MQG_JOURNAL_INT_H
#define MQG_JOURNAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mqg_journal.h"

#define JNL_MAGIC "MQGJNL\r\n"
#define JNL_MAGIC_LEN 8
#define JNL_VERSION 1
#define JNL_SEG_HDR 32   /* magic | version | reserved | first seq | reserved */
#define JNL_REC_HDR 32   /* len | crc | seq | time_ms | flags | qos | topic_len | payload_len */
#define JNL_REC_FIXED 24 /* bytes of the record header that len counts and the crc covers */
#define JNL_NAME_CAP 80
#define JNL_MARKS "marks.log"
#define JNL_MARKS_TMP "marks.tmp"
#define JNL_IO_BUF (64u * 1024u)

struct jnl_seg {
    uint64_t first; /* its name and header; no record in it has a lower seq */
    uint64_t last;  /* seq of its last record; 0 when it has none */
    uint64_t end;   /* committed end: header + complete records; cursors read below it */
    uint64_t n;     /* records */
};

/* The journal; see mqg_journal.c for what it keeps in memory. */
struct mqg_journal {
    int dirfd; /* the directory, flock'ed; constant from open to destroy */
    char *dir; /* its path, for log lines */
    uint64_t max_bytes, seg_bytes;
    enum mqg_journal_sync sync;
    pthread_mutex_t mu;
    pthread_cond_t space_cv; /* broadcast when a release deleted segments */
    /* ---- guarded by mu ---- */
    struct jnl_seg *segs; /* live ones are segs[s0 .. s0 + nsegs); the last is the current one */
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
    uint8_t *wbuf; /* JNL_IO_BUF bytes for the release walk */
    /* ---- owner thread only ---- */
    int mfd;                        /* marks.log; -1 when it could not be opened */
    uint64_t msize;                 /* its size: where the next snapshot goes */
    struct mqg_journal_mark *marks; /* one block: the array, then the keys */
    size_t nmarks;
    uint64_t marks_max; /* highest upto of the marks */
    bool marks_warned;
};

/* A record header, decoded. */
struct jnl_rhdr {
    uint32_t len, crc;
    uint64_t seq, time_ms;
    uint8_t flags, qos;
    uint16_t tl;
    uint32_t pl;
};

/* ---------------------------------------------------------------- bytes (big-endian) */

static inline void jnl_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void jnl_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static inline void jnl_put64(uint8_t *p, uint64_t v)
{
    jnl_put32(p, (uint32_t)(v >> 32));
    jnl_put32(p + 4, (uint32_t)v);
}

static inline uint16_t jnl_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t jnl_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t jnl_get64(const uint8_t *p)
{
    return ((uint64_t)jnl_get32(p) << 32) | jnl_get32(p + 4);
}

static inline uint64_t jnl_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---------------------------------------------------------------- mqg_journal_io.c */

/* Wall-clock time in milliseconds since the epoch. */
uint64_t jnl_now_ms(void);

/* Read exactly n bytes at off: 0, -EIO when the file ends first, or -errno. */
int jnl_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Write all of iov[0..cnt) at off (iov is used up). 0 or -errno. */
int jnl_pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off);

/* Write all of buf[0..n) at off. 0 or -errno. */
int jnl_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);

/* The file name of the segment named first into out (JNL_NAME_CAP bytes). */
void jnl_seg_name(char *out, uint64_t first);

/* Is name "jnl-<16 lower-case hex digits>.seg"? Then *first is the number. */
bool jnl_seg_parse(const char *name, uint64_t *first);

/* Copy bytes [off, size) of file name into a new file <name>.corrupt-<off>, synced; its name
 * goes to aside. 0 or -errno. */
int jnl_copy_aside(struct mqg_journal *j, const char *name, uint64_t off, uint64_t size,
                   char *aside, size_t cap);

/* Rename file name aside whole (to <name>.corrupt-0) because of why; logged and counted. */
void jnl_aside_whole(struct mqg_journal *j, const char *name, const char *why);

/* ---------------------------------------------------------------- segments in memory */

static inline struct jnl_seg *jnl_seg_at(struct mqg_journal *j, size_t i)
{
    return &j->segs[j->s0 + i];
}

/* The current segment (the newest), NULL when there is none. */
static inline struct jnl_seg *jnl_cur_seg(struct mqg_journal *j)
{
    return j->nsegs ? jnl_seg_at(j, j->nsegs - 1) : NULL;
}

/* Add sg after the newest segment. 0 or -ENOMEM. (mqg_journal.c) */
int jnl_segs_push(struct mqg_journal *j, const struct jnl_seg *sg);

/* Index of the segment named first, or -1. (mqg_journal.c) */
long jnl_seg_find(struct mqg_journal *j, uint64_t first);

/* ---------------------------------------------------------------- mqg_journal_marks.c */

/* Encode a snapshot of R and m[0..n) into a new buffer (caller frees). 0, -EINVAL, -EMSGSIZE
 * or -ENOMEM. */
int jnl_snap_encode(uint64_t R, const struct mqg_journal_mark *m, size_t n, uint8_t **out,
                    size_t *outlen);

/* Replace j's marks by those of the valid snapshot p; its R goes to *R. 0 or -ENOMEM. */
int jnl_marks_take(struct mqg_journal *j, const uint8_t *p, uint64_t *R);

/* Append snap[0..len) to marks.log (cut back when the write fails), then compact it when it
 * grew past 256 KiB. 0 or -errno. */
int jnl_marks_write(struct mqg_journal *j, const uint8_t *snap, size_t len);

/* Load the last valid snapshot of marks.log; keep a damaged file aside and rewrite it.
 * 0, -ENOMEM, or -errno when marks.log cannot be opened (the directory is not writable). */
int jnl_marks_load(struct mqg_journal *j);

/* ---------------------------------------------------------------- mqg_journal_scan.c */

/* Decode the JNL_REC_HDR bytes at p into h. */
void jnl_rhdr_decode(const uint8_t *p, struct jnl_rhdr *h);

/* NULL when h can be a record that fits in the room bytes from its start, else why not. */
const char *jnl_rhdr_bad(const struct jnl_rhdr *h, uint64_t room);

/* Scan every segment into j->segs and set the counters. 0 or -errno (not for content). */
int jnl_load_segments(struct mqg_journal *j);

#endif
