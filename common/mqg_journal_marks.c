/* mqg_journal_marks — marks.log: the release watermark and the marks, as checksummed snapshots
 * appended to one file and compacted when it grows (see mqg_journal_int.h, docs/journal.md). */
#include "mqg_journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "mqg_log.h"

#define S_MARKS_COMPACT (256u * 1024u)
#define S_MARKS_READ_MAX (4u << 20) /* a longer marks.log is read from its last 4 MiB */
#define S_SNAP_MIN 10               /* release_upto + n */

/* Size (8 + len) of the well-formed snapshot with a good crc at p[0..room), else 0. */
static size_t s_snap_valid(const uint8_t *p, size_t room)
{
    if (room < 8 + S_SNAP_MIN) {
        return 0;
    }
    size_t len = jnl_get32(p);
    if (len < S_SNAP_MIN || len > MQG_JOURNAL_MARKS_MAX || len > room - 8) {
        return 0;
    }
    const uint8_t *b = p + 8;
    size_t n = jnl_get16(b + 8), pos = S_SNAP_MIN;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 2) {
            return 0;
        }
        size_t kl = jnl_get16(b + pos);
        pos += 2;
        if (kl == 0 || len - pos < kl + 8 || memchr(b + pos, 0, kl)) {
            return 0;
        }
        pos += kl + 8;
    }
    if (pos != len || mqg_journal_crc32c(0, b, len) != jnl_get32(p + 4)) {
        return 0;
    }
    return 8 + len;
}

/* Encode a snapshot of R and m[0..n) into a new buffer (caller frees). 0, -EINVAL, -EMSGSIZE
 * or -ENOMEM. */
int jnl_snap_encode(uint64_t R, const struct mqg_journal_mark *m, size_t n, uint8_t **out,
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
    jnl_put32(b, (uint32_t)len);
    jnl_put64(b + 8, R);
    jnl_put16(b + 16, (uint16_t)n);
    size_t pos = 18;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(m[i].key);
        jnl_put16(b + pos, (uint16_t)kl);
        memcpy(b + pos + 2, m[i].key, kl);
        jnl_put64(b + pos + 2 + kl, m[i].upto);
        pos += 2 + kl + 8;
    }
    jnl_put32(b + 4, mqg_journal_crc32c(0, b + 8, len));
    *out = b;
    *outlen = 8 + len;
    return 0;
}

/* Replace j's marks by those of the valid snapshot p; its R goes to *R. 0 or -ENOMEM. */
int jnl_marks_take(struct mqg_journal *j, const uint8_t *p, uint64_t *R)
{
    const uint8_t *b = p + 8;
    size_t len = jnl_get32(p), n = jnl_get16(b + 8);
    struct mqg_journal_mark *m = NULL;
    uint64_t max = 0;
    *R = jnl_get64(b);
    if (n) { /* the array, then the keys with their NULs: len - 10 - 10 n key bytes */
        m = malloc(n * sizeof(*m) + (len - S_SNAP_MIN - 10 * n) + n);
        if (!m) {
            return -ENOMEM;
        }
    }
    char *keys = n ? (char *)(m + n) : NULL;
    for (size_t i = 0, pos = S_SNAP_MIN; i < n; i++) {
        size_t kl = jnl_get16(b + pos);
        memcpy(keys, b + pos + 2, kl);
        keys[kl] = '\0';
        m[i].key = keys;
        m[i].upto = jnl_get64(b + pos + 2 + kl);
        max = jnl_max(max, m[i].upto);
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
    int fd = openat(j->dirfd, JNL_MARKS_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    if (fd < 0) {
        return -errno;
    }
    int rc = jnl_pwrite_full(fd, snap, len, 0);
    if (rc == 0 && j->sync != MQG_JOURNAL_SYNC_NONE && fdatasync(fd) != 0) {
        rc = -errno;
    }
    if (rc == 0 && renameat(j->dirfd, JNL_MARKS_TMP, j->dirfd, JNL_MARKS) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        close(fd);
        unlinkat(j->dirfd, JNL_MARKS_TMP, 0);
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
int jnl_marks_write(struct mqg_journal *j, const uint8_t *snap, size_t len)
{
    int rc = j->mfd < 0 ? -EBADF : jnl_pwrite_full(j->mfd, snap, len, j->msize);
    if (rc != 0) { /* cut the torn snapshot off, or start the file over with this one */
        if (j->mfd >= 0 && ftruncate(j->mfd, (off_t)j->msize) != 0) {
            log_debug("JOURNAL-IO", "%s/%s: cannot cut back: %s", j->dir, JNL_MARKS,
                      strerror(errno));
        }
        if (s_marks_compact(j, snap, len) == 0) {
            rc = 0;
        }
    } else if ((j->msize += len) > S_MARKS_COMPACT) {
        int crc = s_marks_compact(j, snap, len);
        if (crc != 0) {
            log_warn("JOURNAL-IO", "%s/%s: cannot compact (%s): it keeps growing", j->dir,
                     JNL_MARKS, strerror(-crc));
        }
    }
    if (rc != 0 && !j->marks_warned) {
        log_warn("JOURNAL-IO", "%s/%s: cannot write the marks: %s", j->dir, JNL_MARKS,
                 strerror(-rc));
    }
    j->marks_warned = rc != 0;
    return rc;
}

/* Open (create) marks.log; a symbolic link or non-file there is moved aside first. */
static int s_marks_open(struct mqg_journal *j, struct stat *st)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = openat(j->dirfd, JNL_MARKS, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != ELOOP && errno != EISDIR) {
            return -errno;
        }
        if (fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
            return fd;
        }
        if (fd >= 0) {
            close(fd);
        }
        jnl_aside_whole(j, JNL_MARKS, "not a regular file");
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
int jnl_marks_load(struct mqg_journal *j)
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
    int rc = jnl_pread_full(fd, buf, len, base);
    if (rc == 0) {
        s_marks_scan(buf, len, &last, &bad);
    }
    if (last >= 0 && jnl_marks_take(j, buf + last, &j->R) != 0) {
        free(buf);
        return -ENOMEM;
    }
    free(buf);
    if (rc == 0 && bad < 0 && base == 0) {
        return 0;
    }
    uint64_t at = rc != 0 || base ? 0 : (uint64_t)bad;
    char aside[JNL_NAME_CAP] = "";
    int arc = jnl_copy_aside(j, JNL_MARKS, at, j->msize, aside, sizeof(aside));
    j->corrupt_files++;
    log_warn("JOURNAL-CORRUPT", "%s/%s: %s at offset %" PRIu64 "; %s%s; %s", j->dir, JNL_MARKS,
             rc != 0 ? "unreadable" : "torn or invalid snapshot", at,
             arc == 0 ? "the damaged part is copied to " : "it could not be copied aside",
             arc == 0 ? aside : "",
             last >= 0 ? "the last valid snapshot is used" : "no valid snapshot: nothing released");
    uint8_t *snap = NULL;
    size_t slen = 0;
    if (jnl_snap_encode(j->R, j->marks, j->nmarks, &snap, &slen) == 0) {
        s_marks_compact(j, snap, slen);
        free(snap);
    }
    return 0;
}
