/* mqg_rundir — the runtime directory, made and checked (see mqg_rundir.h). */
#include "mqg_rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqg_proc.h"

enum s_level { S_ABOVE, S_BASE, S_LAST };

static void s_why(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static void s_fill(struct mqg_rundir_id *id, const struct stat *st)
{
    if (id) {
        id->dev = st->st_dev;
        id->ino = st->st_ino;
    }
}

/* Is st (at path, of the given level) safe? 0, or -EPERM / -ENOTDIR with why filled. */
static int s_check_level(const char *path, const struct stat *st, enum s_level lv, char *why,
                         size_t cap)
{
    static const char *const what[] = {"directory", "runtime_dir", "runtime directory"};
    unsigned me = (unsigned)geteuid();
    unsigned owner = (unsigned)st->st_uid;
    unsigned mode = (unsigned)st->st_mode & 07777;
    if (S_ISLNK(st->st_mode)) {
        s_why(why, cap,
              "%s %s is a symbolic link: mqgate keeps its sockets and secrets only in a real "
              "directory of its own; remove the link, or set runtime_dir to a directory of "
              "your own",
              what[lv], path);
        return -EPERM;
    }
    if (!S_ISDIR(st->st_mode)) {
        s_why(why, cap, "%s %s is not a directory; remove it, or set runtime_dir elsewhere",
              what[lv], path);
        return -ENOTDIR;
    }
    if (lv == S_LAST) {
        if (owner != me) {
            s_why(why, cap,
                  "runtime directory %s is owned by uid %u, not by this user (uid %u): its "
                  "owner could replace the files mqgate keeps there (sockets, CA files); let "
                  "its owner remove it, or set runtime_dir or instance so that mqgate creates "
                  "its own",
                  path, owner, me);
            return -EPERM;
        }
        if (mode & 022) {
            s_why(why, cap,
                  "runtime directory %s is writable by group or others (mode %04o): they could "
                  "replace the files mqgate keeps there (sockets, CA files); chmod 700 it, or "
                  "remove it and let mqgate create it",
                  path, mode);
            return -EPERM;
        }
        return 0;
    }
    if (owner != me && owner != 0) {
        s_why(why, cap,
              "%s %s%s is owned by uid %u, neither root nor this user (uid %u): its owner could "
              "replace the runtime directory; remove it, or set runtime_dir to a directory of "
              "your own",
              what[lv], path, lv == S_ABOVE ? " (above the runtime directory)" : "", owner, me);
        return -EPERM;
    }
    if ((mode & 022) && !(mode & S_ISVTX)) {
        s_why(why, cap,
              "%s %s%s is writable by group or others without the sticky bit (mode %04o): they "
              "could replace the runtime directory; chmod go-w it, or set runtime_dir elsewhere",
              what[lv], path, lv == S_ABOVE ? " (above the runtime directory)" : "", mode);
        return -EPERM;
    }
    return 0;
}

/* "." and ".." would make the levels mqgate checks differ from the ones it uses. */
static bool s_plain_path(const char *p)
{
    for (const char *s = p; *s;) {
        while (*s == '/') {
            s++;
        }
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            return false;
        }
        s += n;
    }
    return true;
}

int mqg_rundir_real_path(const char *base, const char *name, char *out, size_t cap)
{
    char b[PATH_MAX];
    size_t n = strlen(base);
    if (base[0] != '/' || n >= sizeof(b) || !name[0] || strchr(name, '/') || !s_plain_path(base) ||
        !s_plain_path(name)) {
        return -EINVAL;
    }
    memcpy(b, base, n + 1);
    while (n > 1 && b[n - 1] == '/') {
        b[--n] = '\0';
    }
    /* the part of base's parent that exists is resolved; the rest is appended as written */
    char *leaf = strrchr(b, '/');
    char rest[PATH_MAX] = "";
    char real[PATH_MAX];
    if (leaf == b) { /* base is "/x" or "/" */
        snprintf(real, sizeof(real), "/");
    } else {
        *leaf = '\0';
        for (;;) {
            if (realpath(b, real)) {
                break;
            }
            if (errno != ENOENT) {
                return -errno;
            }
            char *slash = strrchr(b, '/');
            char tmp[PATH_MAX];
            if (snprintf(tmp, sizeof(tmp), "%s%s%s", slash + 1, rest[0] ? "/" : "", rest) >=
                (int)sizeof(tmp)) {
                return -ENAMETOOLONG;
            }
            memcpy(rest, tmp, sizeof(rest));
            if (slash == b) {
                snprintf(real, sizeof(real), "/");
                break;
            }
            *slash = '\0';
        }
        *leaf = '/';
    }
    int k = snprintf(out, cap, "%s%s%s%s%s/%s", real, strcmp(real, "/") ? "/" : "", rest,
                     rest[0] ? "/" : "", leaf + 1, name);
    if (k < 0 || (size_t)k >= cap) {
        return -ENAMETOOLONG;
    }
    /* "/" as base gives "//name" above */
    if (out[0] == '/' && out[1] == '/') {
        memmove(out, out + 1, strlen(out));
    }
    return 0;
}

int mqg_rundir_make(const char *base, const char *name, struct mqg_rundir_id *id, char *why,
                    size_t cap)
{
    char real[PATH_MAX];
    int rc = mqg_rundir_real_path(base, name, real, sizeof(real));
    if (rc != 0) {
        s_why(why, cap, "runtime directory %s/%s: %s", base, name,
              rc == -EINVAL ? "expected an absolute path without \".\" or \"..\" levels"
                            : strerror(-rc));
        return rc;
    }
    size_t levels = 0;
    for (const char *s = real; *s; s++) {
        levels += *s == '/';
    }
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        s_why(why, cap, "cannot open /: %s", strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (rc = s_check_level("/", &st, S_ABOVE, why, cap)) != 0) {
        rc = rc ? rc : -errno;
        close(fd);
        return rc;
    }
    char *p = real + 1;
    for (size_t i = 1; i <= levels; i++) {
        char *slash = strchr(p, '/');
        if (slash) {
            *slash = '\0';
        }
        enum s_level lv = i == levels ? S_LAST : i + 1 == levels ? S_BASE : S_ABOVE;
        if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT || (mkdirat(fd, p, 0700) != 0 && errno != EEXIST) ||
                fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                rc = -errno;
                s_why(why, cap, "cannot create %s: %s", real, strerror(errno));
                break;
            }
        }
        if ((rc = s_check_level(real, &st, lv, why, cap)) != 0) {
            break;
        }
        int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat now;
        if (next < 0 || fstat(next, &now) != 0 || now.st_dev != st.st_dev ||
            now.st_ino != st.st_ino) {
            rc = next < 0 && errno != ELOOP ? -errno : -EPERM;
            s_why(why, cap, "%s changed while mqgate was checking it; try again", real);
            if (next >= 0) {
                close(next);
            }
            break;
        }
        close(fd);
        fd = next;
        if (slash) {
            *slash = '/';
            p = slash + 1;
        }
    }
    if (rc == 0 && (st.st_mode & 077) && fchmod(fd, 0700) != 0) {
        rc = -errno;
        s_why(why, cap, "cannot set mode 0700 on %s: %s", real, strerror(errno));
    }
    if (rc == 0) {
        s_fill(id, &st);
    }
    close(fd);
    return rc;
}

int mqg_rundir_check(const char *dir, struct mqg_rundir_id *id, char *why, size_t cap)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        int rc = -errno;
        s_why(why, cap, "runtime directory %s: %s", dir, strerror(errno));
        return rc;
    }
    int rc = s_check_level(dir, &st, S_LAST, why, cap);
    if (rc == 0) {
        s_fill(id, &st);
    }
    return rc;
}

int mqg_rundir_write_secret(const char *path, const void *data, size_t len, char *why, size_t cap)
{
    int fd = -1;
    for (int attempt = 0; fd < 0; attempt++) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            break;
        }
        int rc = -errno;
        struct stat st;
        if (rc != -EEXIST || attempt > 0) {
            s_why(why, cap, "cannot create %s: %s", path, strerror(-rc));
            return rc;
        }
        if (lstat(path, &st) != 0) {
            continue; /* gone meanwhile: try again */
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
            s_why(why, cap,
                  "%s exists and is %s: not touched; remove it (mqgate creates this file "
                  "itself)",
                  path,
                  !S_ISREG(st.st_mode) ? "not a regular file (a symbolic link?)"
                                       : "owned by another user");
            return -EEXIST;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = -errno;
            s_why(why, cap, "cannot remove the stale %s: %s", path, strerror(errno));
            return rc;
        }
    }
    int rc = mqg_write_all(fd, data, len);
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc != 0) {
        s_why(why, cap, "cannot write %s: %s", path, strerror(-rc));
        unlink(path);
    }
    return rc;
}

int mqg_rundir_secret_path(const char *dir, enum mqg_secret kind, pid_t pid, char *out, size_t cap)
{
    static const char *const names[MQG_SECRET_COUNT] = {"ca", "cert", "key"};
    if ((unsigned)kind >= MQG_SECRET_COUNT) {
        return -EINVAL;
    }
    int w = snprintf(out, cap, "%s/%s-%d.pem", dir, names[kind], (int)pid);
    return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}
