/* rundir — the supervisor's runtime directory and instance lock (see rundir.h).
 *
 * The lock is taken before anything touches the directory; the directory is made and checked
 * by common/mqg_rundir.c, compared by device and inode to notice its removal, and made again.
 */
#include "rundir.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "supervisor.h"

int supervisor_instance_dir(const struct mqg_settings *s, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", s->runtime_dir, s->instance);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- the instance lock ---- */

/* The instance lock is an abstract unix socket, "@mqgate/<uid>/<instance>/<hash>", the hash
 * (FNV-1a) of the real path of the instance directory. It lives exactly as long as the
 * supervisor and, unlike a lock file, does not depend on the runtime directory surviving
 * (systemd-tmpfiles, rm -rf). Abstract names are per network namespace and carry no
 * permissions: see docs/architecture.md §2. */
static int s_lock_addr(const struct mqg_settings *set, struct sockaddr_un *a, socklen_t *len)
{
    char real[PATH_MAX];
    int rc = mqg_rundir_real_path(set->runtime_dir, set->instance, real, sizeof(real));
    if (rc != 0) {
        return rc;
    }
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "mqgate/%u/%s/%016llx",
                     (unsigned)geteuid(), set->instance,
                     (unsigned long long)mqg_fnv1a64(real, strlen(real), MQG_FNV64_INIT));
    if (n < 0 || (size_t)n >= sizeof(a->sun_path) - 1) {
        return -ENAMETOOLONG;
    }
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    return 0;
}

/* Who holds the lock: 0 with *pid and *uid; -ECONNREFUSED when nobody does; -EAGAIN when it
 * is held but busy; another -errno. */
static int s_lock_holder(const struct sockaddr_un *a, socklen_t len, pid_t *pid, uid_t *uid)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    struct ucred cr;
    socklen_t crlen = sizeof(cr);
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)a, len) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
        rc = -errno;
    } else {
        *pid = cr.pid;
        *uid = cr.uid;
    }
    close(fd);
    return rc;
}

/* Take the instance lock before anything touches the runtime directory. Returns 0 or the exit
 * code (INSTANCE-BUSY: 1). */
static int s_lock_instance(struct rundir *R)
{
    struct sockaddr_un a;
    socklen_t len;
    int rc = s_lock_addr(R->set, &a, &len);
    if (rc != 0) {
        log_error("RUNDIR", "runtime directory %s: %s", R->dir,
                  rc == -EINVAL ? "expected an absolute path without \".\" or \"..\" levels"
                                : strerror(-rc));
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0 && listen(fd, 8) == 0) {
        R->lock_fd = fd;
        return 0;
    }
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (e != EADDRINUSE) {
        log_error("INSTANCE-LOCK", "cannot take the instance lock @%s: %s", a.sun_path + 1,
                  strerror(e));
        return MQG_EXIT_TRANSIENT;
    }
    pid_t pid = 0;
    uid_t uid = 0;
    char who[80] = "";
    if (s_lock_holder(&a, len, &pid, &uid) == 0) {
        snprintf(who, sizeof(who), " as pid %d (uid %u)", (int)pid, (unsigned)uid);
    }
    log_error("INSTANCE-BUSY",
              "instance '%s' with runtime directory %s is already running%s (lock @%s held); "
              "stop it, or give this one another instance name or runtime_dir",
              R->set->instance, R->dir, who, a.sun_path + 1);
    return MQG_EXIT_TRANSIENT;
}

int rundir_lock_holder(const struct mqg_settings *set, pid_t *pid, uid_t *uid)
{
    struct sockaddr_un a;
    socklen_t len;
    int rc = s_lock_addr(set, &a, &len);
    return rc != 0 ? rc : s_lock_holder(&a, len, pid, uid);
}

void rundir_accept(struct rundir *R)
{
    int fd;
    while ((fd = accept4(R->lock_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
    }
}

/* ---- the directory ---- */

/* The runtime directory, made or checked by mqg_rundir_make: one that another user could
 * change is refused with exit 78 (a configuration to fix, not to retry); one that cannot be
 * created, with exit 1. Returns 0 or the exit code. */
static int s_make(struct rundir *R)
{
    char why[1024];
    int rc = mqg_rundir_make(R->set->runtime_dir, R->set->instance, &R->id, why, sizeof(why));
    if (rc == 0) {
        return 0;
    }
    bool unsafe = rc == -EPERM || rc == -ENOTDIR || rc == -EINVAL;
    log_error("RUNDIR", "%s%s", why, unsafe ? "; not started (exit 78)" : "");
    return unsafe ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
}

int rundir_open(struct rundir *R, const struct mqg_settings *set)
{
    memset(R, 0, sizeof(*R));
    R->set = set;
    R->lock_fd = -1;
    if (supervisor_instance_dir(set, R->dir, sizeof(R->dir)) != 0 ||
        snprintf(R->bus, sizeof(R->bus), "ipc://%s/bus", R->dir) >= 108) {
        log_error("RUNDIR", "runtime directory path too long for a local socket: %s/%s",
                  set->runtime_dir, set->instance);
        return MQG_EXIT_CONFIG;
    }
    int rc = s_lock_instance(R);
    if (rc == 0 && (rc = s_make(R)) != 0) {
        close(R->lock_fd);
        R->lock_fd = -1;
    }
    return rc;
}

int rundir_watch(struct rundir *R, bool *remade)
{
    *remade = false;
    struct mqg_rundir_id id;
    char why[1024];
    int rc = mqg_rundir_check(R->dir, &id, why, sizeof(why));
    bool same = rc == 0 && id.dev == R->id.dev && id.ino == R->id.ino;
    if (!same && (rc == 0 || rc == -ENOENT)) {
        if (!R->gone) {
            log_warn("RUNDIR-GONE",
                     "runtime directory %s was %s: making it again; the router is restarted "
                     "to bind %s there",
                     R->dir, rc == 0 ? "replaced" : "removed", R->bus);
            R->gone = true;
        }
        rc = mqg_rundir_make(R->set->runtime_dir, R->set->instance, &id, why, sizeof(why));
    }
    if (rc != 0) {
        if (!R->bad) {
            log_error("RUNDIR", "%s; no process is started until this is fixed", why);
        } else {
            log_debug("RUNDIR", "%s", why);
        }
        R->bad = true;
        return rc;
    }
    if (!same || R->bad) {
        log_notice("RUNDIR-RESTORED", "runtime directory %s is usable again%s", R->dir,
                   same ? "" : " (made again)");
    }
    R->bad = false;
    if (!same) {
        R->id = id;
        R->gone = false;
        *remade = true;
    }
    return 0;
}

/* The files a connector with this pid writes the inline PEM text into are named by
 * mqg_rundir_secret_path, which the connector uses too (connector/mqtt_link.c, s_cert_file). */
void rundir_remove_secrets(const struct rundir *R, pid_t pid)
{
    char path[700];
    for (int kind = 0; kind < MQG_SECRET_COUNT; kind++) {
        if (mqg_rundir_secret_path(R->dir, (enum mqg_secret)kind, pid, path, sizeof(path)) == 0) {
            unlink(path);
        }
    }
}

void rundir_close(struct rundir *R)
{
    char path[700];
    const char *files[] = {"status", "status.tmp", "status.json", "status.json.tmp", "bus", "tap",
                           "reload", "reload.tmp", "lock" /* of mqgate <= 0.1.0 */};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", R->dir, files[i]);
        unlink(path);
    }
    rmdir(R->dir);
    if (R->lock_fd >= 0) {
        close(R->lock_fd);
        R->lock_fd = -1;
    }
}
