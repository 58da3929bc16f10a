/* mqg_journal_io — the journal's CRC-32C, clock, file I/O, segment names, and moving damaged
 * files or their tails aside (see mqg_journal_int.h). */
#include "mqg_journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mqg_log.h"

/* ---------------------------------------------------------------- crc, time */

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

uint64_t jnl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------- file I/O */

/* Read exactly n bytes at off: 0, -EIO when the file ends first, or -errno. */
int jnl_pread_full(int fd, void *buf, size_t n, uint64_t off)
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
int jnl_pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
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

int jnl_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    struct iovec iov = {(void *)buf, n};
    return jnl_pwritev_full(fd, &iov, 1, off);
}

void jnl_seg_name(char *out, uint64_t first)
{
    snprintf(out, JNL_NAME_CAP, "jnl-%016" PRIx64 ".seg", first);
}

/* Is name "jnl-<16 lower-case hex digits>.seg"? Then *first is the number. */
bool jnl_seg_parse(const char *name, uint64_t *first)
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
int jnl_copy_aside(struct mqg_journal *j, const char *name, uint64_t off, uint64_t size,
                   char *aside, size_t cap)
{
    int rc = s_aside_name(j, name, off, aside, cap);
    if (rc != 0) {
        return rc;
    }
    int in = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = openat(j->dirfd, aside, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    uint8_t *buf = malloc(JNL_IO_BUF);
    if (in < 0 || out < 0 || !buf) {
        rc = !buf ? -ENOMEM : -errno;
    }
    for (uint64_t at = off; rc == 0 && at < size;) {
        size_t k = size - at < JNL_IO_BUF ? (size_t)(size - at) : JNL_IO_BUF;
        rc = jnl_pread_full(in, buf, k, at);
        if (rc == 0) {
            rc = jnl_pwrite_full(out, buf, k, at - off);
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
void jnl_aside_whole(struct mqg_journal *j, const char *name, const char *why)
{
    char aside[JNL_NAME_CAP];
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
