/* mqg_journal — the on-disk journal of one source connection: every QoS >= 1 message it
 * received, kept until all its copies are confirmed downstream, replayed after a crash.
 *
 * Used by the connector: paho's thread appends inside its message callback (so the broker's
 * PUBACK follows the write), the connector's main thread reads with cursors, keeps the marks
 * and releases. Pure file I/O in one directory, no ZeroMQ, no paho; the file formats are in
 * docs/journal.md. Bad file content never makes open fail: it is moved aside and logged.
 *
 * Threads: exactly ONE thread calls mqg_journal_append() and mqg_journal_wait_space() (the
 * appending thread); ONE other thread (the owner) makes every other call, open and destroy
 * included. One mutex inside the journal is held briefly by each call (an append's write(2),
 * creating a segment, a release's walk over at most one segment's record headers); fdatasync
 * runs outside it. Each segment has a committed end, published under the mutex after a record
 * is completely written, and cursors never read past it, so they never see half a record.
 */
#ifndef MQG_JOURNAL_H
#define MQG_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define MQG_JOURNAL_DEFAULT_MAX_BYTES (1ull << 30)     /* 1 GiB of segment files */
#define MQG_JOURNAL_DEFAULT_SEGMENT_BYTES (4ull << 20) /* 4 MiB per segment */
#define MQG_JOURNAL_MAX_TOPIC 65535u
#define MQG_JOURNAL_MAX_PAYLOAD 268435455u /* MQTT's largest packet */
#define MQG_JOURNAL_MARKS_MAX 65536u       /* bytes of one encoded marks snapshot */

enum mqg_journal_sync {
    /* write(2) only: the page cache keeps the records when any process is killed (kill -9
     * included); a power loss or kernel crash may lose the last seconds. */
    MQG_JOURNAL_SYNC_NONE = 0,
    /* fdatasync(2) after every append, before it returns (and of the directory when a new
     * segment was made): nothing acknowledged is lost even on power loss. Slow: see
     * docs/journal.md for the measured cost. */
    MQG_JOURNAL_SYNC_ALWAYS,
    /* the owner calls mqg_journal_sync() on a timer: a power loss loses at most one interval.
     * A segment closed by rotation is synced when it is closed. */
    MQG_JOURNAL_SYNC_INTERVAL,
};

struct mqg_journal_opts {
    const char *dir;        /* the journal's directory; created (mode 0700), parents must exist */
    uint64_t max_bytes;     /* bound of the total size of the segment files; 0 = 1 GiB */
    uint64_t segment_bytes; /* rotate when a segment would grow past this; 0 = 4 MiB; < 4096
                               is raised to 4096 */
    enum mqg_journal_sync sync;
};

/* One record handed out by a cursor. topic and payload point into the cursor's buffer (not
 * NUL-terminated) and stay valid until the next mqg_journal_cursor_next() or destroy. */
struct mqg_journal_rec {
    uint64_t seq;
    uint64_t time_ms; /* wall clock (ms since the epoch) at append */
    uint8_t flags;
    uint8_t qos;
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
};

/* A per-target watermark: every copy for target connection `key` (a NUL-terminated string of
 * 1..65535 bytes) is confirmed through seq `upto`. */
struct mqg_journal_mark {
    const char *key;
    uint64_t upto;
};

struct mqg_journal_stats {
    uint64_t records;        /* unreleased records (seq > release_upto) */
    uint64_t bytes;          /* their size in the segment files, record headers included */
    uint64_t oldest_time_ms; /* time_ms of the oldest unreleased record; 0 when there is none */
    uint64_t file_bytes;     /* total size of the segment files: what max_bytes bounds */
    uint64_t segments;       /* segment files */
    uint64_t corrupt_files;  /* files or file tails moved aside (.corrupt-*) by this open */
    uint64_t release_upto;   /* the release watermark R */
    uint64_t last_seq;       /* the highest seq appended or found since open; 0 = none */
};

struct mqg_journal;
struct mqg_journal_cursor;

/* Open (and create) the journal in o->dir. The directory must not be a symbolic link, must be
 * owned by the effective user and not writable by group or others (-EPERM otherwise), and no
 * other journal may have it open (-EBUSY: an flock on the directory). Every segment is
 * scanned and its checksums verified; a damaged file or tail is moved aside to
 * "<file>.corrupt-<offset>", logged once (JOURNAL-CORRUPT, WARN) and counted in
 * stats.corrupt_files; the last valid marks snapshot is loaded. Segments whose records are all
 * released are deleted. Returns 0 and hands out *out (free with mqg_journal_destroy), or
 * -EINVAL (no dir, or a negative/unknown sync), -ENOENT (a parent is missing), -ENOTDIR,
 * -EPERM, -EACCES, -EBUSY, -ENOMEM or another -errno from the directory; never an error
 * because of what the files contain. Owner thread. */
int mqg_journal_open(const struct mqg_journal_opts *o, struct mqg_journal **out);

/* Close the journal and set *j to NULL; NULL-safe. Every cursor must be destroyed first, and
 * the appending thread must have stopped calling. Files stay; nothing is synced (call
 * mqg_journal_sync() first when that matters). Owner thread. */
void mqg_journal_destroy(struct mqg_journal **j);

/* Append one message and hand out its seq (the last seq + 1, never <= the release watermark
 * or a mark, continuing across reopen) in *seq_out. topic may be NULL when topic_len is 0,
 * payload when payload_len is 0. The record goes into the current segment, or into a new one
 * when it would make the current one larger than segment_bytes. Returns 0; -EINVAL (qos > 2);
 * -EMSGSIZE (topic longer than 65535 bytes, payload larger than MQG_JOURNAL_MAX_PAYLOAD, or a
 * record that alone exceeds max_bytes: it can never be written); -ENOSPC when it would take
 * the segment files beyond max_bytes: nothing was written, call mqg_journal_wait_space() and
 * try again; -EIO, -ENOSPC or -EDQUOT (the disk is full: waiting for a release that deletes
 * segments is right here too) or another -errno when the write failed: nothing is kept (the
 * segment is cut back); -EOVERFLOW when the seqs are used up (2^64 - 1 reached). With
 * SYNC_ALWAYS a failed fdatasync returns -EIO after the record was written and made visible:
 * it has *seq_out and may be replayed, but it may not survive a power loss. Appending thread
 * only. */
int mqg_journal_append(struct mqg_journal *j, uint8_t flags, uint8_t qos, const char *topic,
                       size_t topic_len, const void *payload, size_t payload_len,
                       uint64_t *seq_out);

/* Block until a release freed space since the last append that returned -ENOSPC (at once if
 * one has already), or until timeout_ms passed (<= 0: only look). Returns 0 (space was freed:
 * try the append again) or -ETIMEDOUT. Appending thread only. */
int mqg_journal_wait_space(struct mqg_journal *j, int timeout_ms);

/* Raise the release watermark R to upto (a lower or equal value changes nothing): every record
 * with seq <= R is confirmed and may be deleted. Records a snapshot (R and the current marks)
 * in marks.log, deletes every segment whose records are all <= R (the current one too, by
 * starting a new segment, when all of it is released) and wakes mqg_journal_wait_space().
 * Returns 0, or -errno when the snapshot could not be written (R is raised in memory and the
 * segments deleted anyway; after a restart the records would be replayed). Owner thread. */
int mqg_journal_release(struct mqg_journal *j, uint64_t upto);

/* Replace the marks with copies of marks[0..n) and raise R to release_upto as
 * mqg_journal_release() does, with one snapshot appended to marks.log (compacted to one
 * snapshot in marks.tmp, renamed over marks.log, when it grows past 256 KiB). Returns 0,
 * -EINVAL (a NULL or empty key, n > 65535, marks NULL with n > 0), -EMSGSIZE (snapshot larger
 * than MQG_JOURNAL_MARKS_MAX: nothing changed), -ENOMEM (nothing changed) or -errno when the
 * snapshot could not be written (the marks and R are replaced in memory anyway). Owner thread. */
int mqg_journal_set_marks(struct mqg_journal *j, uint64_t release_upto,
                          const struct mqg_journal_mark *marks, size_t n);

/* The current release watermark and marks: a borrowed view, valid until the next
 * mqg_journal_set_marks() or destroy. Owner thread. */
void mqg_journal_marks(struct mqg_journal *j, uint64_t *release_upto,
                       const struct mqg_journal_mark **marks, size_t *n);

/* fdatasync the current segment and marks.log, and fsync the directory when segments were
 * made since the last sync. For SYNC_INTERVAL; harmless in the other modes. Returns 0 or the
 * first -errno. Owner thread. */
int mqg_journal_sync(struct mqg_journal *j);

/* Fill *st; exact at the moment of the call. Owner thread. */
void mqg_journal_stats(struct mqg_journal *j, struct mqg_journal_stats *st);

/* A reader positioned at the first record with seq >= from_seq and > R. Returns 0 and hands
 * out *out (free with mqg_journal_cursor_destroy before the journal), -ENOMEM or -errno
 * (opening a segment). Owner thread. */
int mqg_journal_cursor_new(struct mqg_journal *j, uint64_t from_seq,
                           struct mqg_journal_cursor **out);

/* The next record: returns 1 and fills *rec (see struct mqg_journal_rec for how long it stays
 * valid); 0 at the current end of the journal (a later call returns what was appended since);
 * -EBADMSG when a record fails its checksum (the file changed under the journal), -EIO or
 * another -errno when reading failed, -ENOMEM. Records released since the previous call are
 * skipped. Owner thread. */
int mqg_journal_cursor_next(struct mqg_journal_cursor *c, struct mqg_journal_rec *rec);

/* Free the cursor and set *c to NULL; NULL-safe. */
void mqg_journal_cursor_destroy(struct mqg_journal_cursor **c);

/* CRC-32C (Castagnoli) of buf[0..len) continuing from crc (0 to start): the checksum of the
 * records and marks snapshots. For tests and tools; thread-safe. */
uint32_t mqg_journal_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
