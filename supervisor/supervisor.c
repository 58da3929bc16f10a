/* supervisor — child processes, their restarts, logs and status (see supervisor.h).
 *
 * One poll loop over a signalfd, every child's control socket and every child's stderr pipe.
 * A record per child (role, key, pid, state, restarts, last exit) as nginx's master or
 * s6-supervise keep. Restart policy: decorrelated-jitter backoff from restart.backoff_ms,
 * reset once a child stayed up stable_after_s; restart.max crashes within restart.window_s
 * make the child "failed" (tried again after failed_retry_s); exit code 78 (configuration
 * error) is never restarted. A child silent for heartbeat.misses intervals is killed.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_restart.h"
#include "mqg_rundir.h"

enum ch_state { CH_WAITING, CH_RUNNING, CH_FAILED, CH_STOPPED };
static const char *const s_ch_state[] = {"waiting", "running", "failed", "stopped"};

struct child {
    int conn;         /* connection index; -1 for the router */
    const char *role; /* "router" / "connector" */
    const char *key;  /* connection key or "router" */
    char exe[4200];
    enum ch_state state;
    pid_t pid;
    int ctl_fd;
    struct mqg_ctl ctl;
    int log_fd;
    char logbuf[4096];
    size_t loglen;
    int64_t started_ms;
    int64_t last_rx_ms;
    int64_t next_start_ms;
    bool ready;
    bool config_error;
    bool rebind; /* stopped on purpose to bind the bus again: restart at once, no crash */
    struct mqg_restart restart; /* the restart policy's record: pauses, crashes, restarts */
    char last_exit[64];
    char status[256];
};

struct sup {
    const struct mqg_settings *set;
    const struct mqg_model *model;
    char dir[512];
    char bus[600];
    struct mqg_rundir_id rundir_id; /* what dir was when made: a change means it was removed */
    bool rundir_gone;               /* RUNDIR-GONE logged, not yet made again */
    bool rundir_bad;                /* RUNDIR logged for the present trouble */
    int lock_fd;                    /* the instance lock (s_lock_instance) */
    int status_err;                 /* last status write failed with this -errno; 0 = fine */
    int sigfd;
    int log_fd;
    struct child *ch;
    size_t n_ch;
    bool stopping;
    int64_t stop_deadline;
    int64_t last_hb_ms;
    int64_t last_status_ms;
    int64_t started_ms;
};

int supervisor_instance_dir(const struct mqg_settings *s, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", s->runtime_dir, s->instance);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- spawning ---- */

/* Everything the child's command line needs, built before fork: between fork and exec the
 * child makes only async-signal-safe calls. */
struct spawn_args {
    char level[8], hb[16], misses[16], qmax[16], qbytes[16], infl[16];
    char *argv[24];
};

static void s_spawn_args(struct sup *S, struct child *c, struct spawn_args *a)
{
    snprintf(a->level, sizeof(a->level), "%d", S->set->log_level);
    snprintf(a->hb, sizeof(a->hb), "%d", S->set->heartbeat_ms);
    snprintf(a->misses, sizeof(a->misses), "%d", S->set->heartbeat_misses);
    snprintf(a->qmax, sizeof(a->qmax), "%d",
             c->conn < 0 ? S->set->router_queue_max : S->set->outbound_queue_max);
    snprintf(a->qbytes, sizeof(a->qbytes), "%d",
             c->conn < 0 ? S->set->router_queue_max_bytes : S->set->outbound_queue_max_bytes);
    snprintf(a->infl, sizeof(a->infl), "%d", S->set->max_inflight);
    /* clang-format off */
    char *argv[] = {c->exe,
                    "--key", (char *)c->key,
                    "--bus", S->bus,
                    "--rundir", S->dir,
                    "--instance", S->set->instance,
                    "--log-level", a->level,
                    "--heartbeat-ms", a->hb,
                    "--heartbeat-misses", a->misses,
                    "--queue-max", a->qmax,
                    "--queue-max-bytes", a->qbytes,
                    "--max-inflight", a->infl,
                    NULL};
    /* clang-format on */
    _Static_assert(sizeof(argv) <= sizeof(a->argv), "spawn_args.argv too small");
    memcpy(a->argv, argv, sizeof(argv));
}

static void s_child_exec(const struct child *c, const struct spawn_args *a, int ctl, int logw)
{
    dup2(ctl, MQG_CTL_FD);
    dup2(logw, 2);
    dup2(logw, 1);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
    }
    for (int fd = MQG_CTL_FD + 1; fd < 1024; fd++) {
        close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(c->exe, a->argv);
    const char msg[] = "mqgate: cannot execute child program\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(MQG_EXIT_INTERNAL);
}

static int s_spawn(struct sup *S, struct child *c)
{
    struct spawn_args args;
    s_spawn_args(S, c, &args);
    /* the child's part of the model: a connector gets its own connection's secrets only */
    uint8_t *blob;
    size_t blob_len;
    int rc = mqg_model_encode_for(S->model, c->conn, &blob, &blob_len);
    if (rc != 0) {
        return rc;
    }
    int sp[2], lp[2];
    pid_t pid = -1;
    int e = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        e = errno;
    } else if (pipe2(lp, O_CLOEXEC) < 0) {
        e = errno;
        close(sp[0]);
        close(sp[1]);
    } else if ((pid = fork()) < 0) {
        e = errno;
        close(sp[0]);
        close(sp[1]);
        close(lp[0]);
        close(lp[1]);
    } else if (pid == 0) {
        s_child_exec(c, &args, sp[1], lp[1]);
    }
    if (pid < 0) {
        explicit_bzero(blob, blob_len);
        free(blob);
        return -e;
    }
    close(sp[1]);
    close(lp[1]);
    c->pid = pid;
    c->ctl_fd = sp[0];
    c->log_fd = lp[0];
    c->loglen = 0;
    c->ready = false;
    mqg_ctl_init(&c->ctl, c->ctl_fd);
    c->state = CH_RUNNING;
    c->started_ms = c->last_rx_ms = mqg_now_ms();
    c->status[0] = '\0';
    /* the configuration goes first; bounded so a stuck child cannot stall us */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(c->ctl_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    rc = mqg_ctl_send(c->ctl_fd, MQG_CTL_CONFIG, blob, blob_len, 0);
    explicit_bzero(blob, blob_len);
    free(blob);
    if (rc != 0) {
        log_warn("CHILD-CONFIG", "could not hand the configuration to %s %s: %s", c->role, c->key,
                 strerror(-rc));
    }
    mqg_set_nonblock(c->ctl_fd);
    mqg_set_nonblock(c->log_fd);
    log_info("CHILD-START", "started %s %s (pid %d)", c->role, c->key, (int)pid);
    return 0;
}

/* ---- child output ---- */

static void s_log_line(struct sup *S, const char *line, size_t len)
{
    char buf[4200];
    if (len > sizeof(buf) - 1) {
        len = sizeof(buf) - 1;
    }
    memcpy(buf, line, len);
    buf[len] = '\n';
    ssize_t w = write(S->log_fd, buf, len + 1);
    (void)w;
}

static void s_read_log(struct sup *S, struct child *c, bool final)
{
    for (;;) {
        if (c->loglen == sizeof(c->logbuf)) { /* overlong line: pass it on in pieces */
            s_log_line(S, c->logbuf, c->loglen);
            c->loglen = 0;
        }
        ssize_t r = read(c->log_fd, c->logbuf + c->loglen, sizeof(c->logbuf) - c->loglen);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        c->loglen += (size_t)r;
        char *start = c->logbuf;
        char *nl;
        while ((nl = memchr(start, '\n', c->loglen - (size_t)(start - c->logbuf)))) {
            s_log_line(S, start, (size_t)(nl - start));
            start = nl + 1;
        }
        c->loglen -= (size_t)(start - c->logbuf);
        memmove(c->logbuf, start, c->loglen);
    }
    if (final && c->loglen) {
        s_log_line(S, c->logbuf, c->loglen);
        c->loglen = 0;
    }
}

static void s_on_ctl_message(uint8_t kind, const uint8_t *body, size_t len, void *arg)
{
    struct child *c = arg;
    c->last_rx_ms = mqg_now_ms();
    if (kind == MQG_CTL_READY && !c->ready) {
        c->ready = true;
        log_debug("CHILD-READY", "%s %s is ready", c->role, c->key);
    } else if (kind == MQG_CTL_HEARTBEAT) {
        size_t k = len < sizeof(c->status) - 1 ? len : sizeof(c->status) - 1;
        memcpy(c->status, body, k);
        c->status[k] = '\0';
    }
}

static void s_read_ctl(struct child *c)
{
    /* end of file is not handled here: the exit arrives as SIGCHLD */
    if (mqg_ctl_drain(&c->ctl, s_on_ctl_message, c) == -EPROTO) {
        log_error("CTL-PROTO", "%s %s (pid %d) sent a malformed control message: killing it",
                  c->role, c->key, (int)c->pid);
        kill(c->pid, SIGKILL);
    }
}

/* ---- exits and restarts ---- */

static void s_close_child_fds(struct child *c)
{
    if (c->ctl_fd >= 0) {
        close(c->ctl_fd);
        c->ctl_fd = -1;
    }
    if (c->log_fd >= 0) {
        close(c->log_fd);
        c->log_fd = -1;
    }
    mqg_ctl_free(&c->ctl);
}

/* A connector writes inline PEM certificates and keys into the runtime directory as
 * <name>-<pid>.pem; a killed one cannot remove them itself. */
static void s_remove_child_files(const struct sup *S, pid_t pid)
{
    static const char *const names[] = {"ca", "cert", "key"};
    char path[700];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s-%d.pem", S->dir, names[i], (int)pid);
        unlink(path);
    }
}

/* Ask the restart policy when to start c again after it ended (end) at now, and log it. */
static void s_plan_restart(struct sup *S, struct child *c, int64_t now, enum mqg_restart_end end)
{
    const struct mqg_settings *set = S->set;
    struct mqg_restart_decision d = mqg_restart_ended(&c->restart, now, c->started_ms, end);
    c->next_start_ms = d.at_ms;
    if (d.next == MQG_RESTART_FAILED) {
        c->state = CH_FAILED;
        log_error("CHILD-FAILED",
                  "%s %s crashed %d times within %d s: marked failed, next try "
                  "in %d s",
                  c->role, c->key, d.crashes, set->restart_window_s, set->restart_failed_retry_s);
        return;
    }
    c->state = CH_WAITING;
    log_info("CHILD-RESTART", "restarting %s %s in %u ms", c->role, c->key, d.delay_ms);
}

static void s_reap(struct sup *S)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = NULL;
        for (size_t i = 0; i < S->n_ch; i++) {
            if (S->ch[i].pid == pid && S->ch[i].state == CH_RUNNING) {
                c = &S->ch[i];
            }
        }
        if (!c) {
            continue;
        }
        s_read_log(S, c, true);
        s_close_child_fds(c);
        s_remove_child_files(S, pid);
        c->pid = 0;
        int64_t now = mqg_now_ms();
        long up = (long)((now - c->started_ms) / 1000);
        int code = -1;
        if (WIFEXITED(status)) {
            code = WEXITSTATUS(status);
            snprintf(c->last_exit, sizeof(c->last_exit), "exit %d", code);
        } else if (WIFSIGNALED(status)) {
            snprintf(c->last_exit, sizeof(c->last_exit), "signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        }
        if (S->stopping) {
            c->state = CH_STOPPED;
            log_info("CHILD-EXIT", "%s %s (pid %d) stopped: %s", c->role, c->key, (int)pid,
                     c->last_exit);
            continue;
        }
        if (c->rebind) {
            c->rebind = false;
            c->state = CH_WAITING;
            c->next_start_ms = now;
            log_info("CHILD-EXIT", "%s %s (pid %d) stopped to bind the bus again: %s", c->role,
                     c->key, (int)pid, c->last_exit);
            continue;
        }
        if (code == MQG_EXIT_CONFIG) {
            c->state = CH_FAILED;
            c->config_error = true;
            log_error("CHILD-CONFIG-ERROR",
                      "%s %s (pid %d) exited with a configuration error "
                      "(code 78): not restarted; fix the configuration and restart mqgate",
                      c->role, c->key, (int)pid);
            continue;
        }
        log_warn("CHILD-EXIT", "%s %s (pid %d) ended after %ld s: %s", c->role, c->key, (int)pid,
                 up, c->last_exit);
        s_plan_restart(S, c, now, MQG_RESTART_CRASH);
    }
}

/* ---- stopping ---- */

static void s_begin_stop(struct sup *S, int sig)
{
    if (S->stopping) {
        if (sig == SIGINT || sig == SIGTERM) { /* asked twice: no more grace */
            S->stop_deadline = 0;
        }
        return;
    }
    S->stopping = true;
    S->stop_deadline = mqg_now_ms() + S->set->stop_grace_ms;
    log_notice("STOPPING", "signal %d: stopping all children (grace %d ms)", sig,
               S->set->stop_grace_ms);
    for (size_t i = 0; i < S->n_ch; i++) {
        struct child *c = &S->ch[i];
        if (c->state == CH_RUNNING) {
            mqg_ctl_send(c->ctl_fd, MQG_CTL_TERM, NULL, 0, MSG_DONTWAIT);
            kill(c->pid, SIGTERM);
        } else {
            c->state = CH_STOPPED;
        }
    }
}

static bool s_all_stopped(const struct sup *S)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].state == CH_RUNNING) {
            return false;
        }
    }
    return true;
}

/* ---- single instance ---- */

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
static int s_lock_instance(struct sup *S)
{
    struct sockaddr_un a;
    socklen_t len;
    int rc = s_lock_addr(S->set, &a, &len);
    if (rc != 0) {
        log_error("RUNDIR", "runtime directory %s: %s", S->dir,
                  rc == -EINVAL ? "expected an absolute path without \".\" or \"..\" levels"
                                : strerror(-rc));
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0 && listen(fd, 8) == 0) {
        S->lock_fd = fd;
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
              S->set->instance, S->dir, who, a.sun_path + 1);
    return MQG_EXIT_TRANSIENT;
}

/* Someone asked who holds the lock (s_lock_holder): the answer was in the connection itself. */
static void s_lock_accept(struct sup *S)
{
    int fd;
    while ((fd = accept4(S->lock_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
    }
}

/* ---- status file ---- */

/* How old the status file may be before `mqgate status` calls it out of date. */
#define S_STATUS_STALE_S 10

/* The status text into a heap buffer (caller frees), or NULL when out of memory. The header
 * counts the process rows, so that a reader can tell a complete file from a cut one. A child
 * waiting for its (re)start shows when that is due instead of counters. */
static char *s_status_text(const struct sup *S, int64_t now, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) {
        return NULL;
    }
    fprintf(f, "instance %s pid %d uptime %llds processes %zu\n", S->set->instance, (int)getpid(),
            (long long)((now - S->started_ms) / 1000), S->n_ch);
    fprintf(f, "%-10s %-32s %-8s %-7s %8s %8s  %-16s %s\n", "ROLE", "NAME", "STATE", "PID",
            "UPTIME", "RESTARTS", "LAST-EXIT", "COUNTERS");
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct child *c = &S->ch[i];
        char up[32] = "-";
        char pid[16] = "-";
        char next[40] = "";
        if (c->state == CH_RUNNING) {
            snprintf(up, sizeof(up), "%llds", (long long)((now - c->started_ms) / 1000));
            snprintf(pid, sizeof(pid), "%d", (int)c->pid);
        } else if (!S->stopping && !c->config_error &&
                   (c->state == CH_WAITING || c->state == CH_FAILED)) {
            int64_t left = c->next_start_ms > now ? c->next_start_ms - now : 0;
            snprintf(next, sizeof(next), "(retry in %llds)", (long long)((left + 999) / 1000));
        }
        fprintf(f, "%-10s %-32s %-8s %-7s %8s %8d  %-16s %s\n", c->role, c->key,
                c->config_error ? "config" : s_ch_state[c->state], pid, up, c->restart.restarts,
                c->last_exit[0] ? c->last_exit : "-", c->state == CH_RUNNING ? c->status : next);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Write the status text to status.tmp and rename it over status, checking every step: a
 * reader sees the old file or the new one, never a part of one, and a failed write (disk
 * full) keeps the old file. The first failure of a series is logged (STATUS-WRITE, warn),
 * repeats at debug, the recovery at notice (STATUS-OK). */
static void s_write_status(struct sup *S, int64_t now)
{
    char path[700], tmp[720];
    snprintf(path, sizeof(path), "%s/status", S->dir);
    snprintf(tmp, sizeof(tmp), "%s/status.tmp", S->dir);
    size_t len = 0;
    char *text = s_status_text(S, now, &len);
    int rc = text ? 0 : -ENOMEM;
    if (rc == 0) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = fd < 0 ? -errno : mqg_write_all(fd, text, len);
        if (fd >= 0 && close(fd) != 0 && rc == 0) {
            rc = -errno;
        }
        if (rc == 0 && rename(tmp, path) != 0) {
            rc = -errno;
        }
        if (rc != 0 && fd >= 0) {
            unlink(tmp);
        }
    }
    free(text);
    if (rc != 0 && S->status_err == 0) {
        log_warn("STATUS-WRITE",
                 "cannot write the status file %s: %s; it keeps its last content, which "
                 "`mqgate status` reports as out of date after %d s",
                 path, strerror(-rc), S_STATUS_STALE_S);
    } else if (rc != 0) {
        log_debug("STATUS-WRITE", "cannot write the status file %s: %s", path, strerror(-rc));
    } else if (S->status_err != 0) {
        log_notice("STATUS-OK", "status file %s is written again", path);
    }
    S->status_err = rc;
}

/* Read the whole status file (at most 1 MiB) into a heap buffer. 0 or -errno. */
static int s_read_status(FILE *f, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= (1u << 20)) {
            break;
        }
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        int e = buf ? EIO : ENOMEM;
        free(buf);
        return -e;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Why the status file cannot be opened, for the user: 1. */
static int s_status_unreadable(const struct mqg_settings *s, const char *dir, const char *path,
                               int e)
{
    struct sockaddr_un a;
    socklen_t alen;
    pid_t holder;
    uid_t holder_uid;
    struct stat st;
    if (e == ENOENT && s_lock_addr(s, &a, &alen) == 0 &&
        s_lock_holder(&a, alen, &holder, &holder_uid) == 0) {
        fprintf(stderr,
                "mqgate: instance '%s' is running (pid %d) but its status file %s is missing; "
                "it is written every 0.5 s: try again (if the runtime directory was removed, "
                "see RUNDIR-GONE / RUNDIR in its log)\n",
                s->instance, (int)holder, path);
    } else if (e == ENOENT) {
        fprintf(stderr, "mqgate: instance '%s' is not running (no %s)\n", s->instance, path);
    } else if (e == EACCES || e == EPERM) {
        char owner[64] = "";
        if (stat(dir, &st) == 0) {
            snprintf(owner, sizeof(owner), ", owned by uid %u,", (unsigned)st.st_uid);
        }
        fprintf(stderr,
                "mqgate: permission denied: cannot read %s (%s); the runtime directory %s%s "
                "is readable only by the user running the gateway: run mqgate status as that "
                "user or as root\n",
                path, strerror(e), dir, owner);
    } else {
        fprintf(stderr, "mqgate: cannot read the status file %s: %s\n", path, strerror(e));
    }
    return MQG_EXIT_TRANSIENT;
}

/* Check what was read: a header with a live pid, and exactly the rows it announces, each line
 * complete. Returns 0, or 1 after printing why not. */
static int s_status_check(const struct mqg_settings *s, const char *path, const char *text,
                          size_t len)
{
    char name[128];
    int pid = 0;
    long long up = 0;
    size_t rows = 0, lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    if (len == 0) {
        fprintf(stderr,
                "mqgate: the status file %s is empty: the gateway could not write it (disk "
                "full?); see STATUS-WRITE in its log\n",
                path);
        return MQG_EXIT_TRANSIENT;
    }
    int got =
        sscanf(text, "instance %127s pid %d uptime %llds processes %zu", name, &pid, &up, &rows);
    if (got >= 2 && (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))) {
        fprintf(stderr, "mqgate: instance '%s' is not running (stale %s)\n", s->instance, path);
        return MQG_EXIT_TRANSIENT;
    }
    bool legacy = got == 3 && !strstr(text, " processes "); /* mqgate <= 0.1.0: no count */
    if ((got != 4 && !legacy) || text[len - 1] != '\n' || (!legacy && lines != rows + 2)) {
        fprintf(stderr,
                "mqgate: the status file %s is truncated or damaged (%zu complete lines%s); "
                "the gateway rewrites it every 0.5 s: try again, and see STATUS-WRITE in its "
                "log\n",
                path, lines, got == 4 ? "" : ", no valid header");
        return MQG_EXIT_TRANSIENT;
    }
    return 0;
}

int supervisor_status(const struct mqg_settings *s)
{
    char dir[512], path[700];
    if (supervisor_instance_dir(s, dir, sizeof(dir)) != 0) {
        return MQG_EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "%s/status", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        return s_status_unreadable(s, dir, path, errno);
    }
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int rc = s_read_status(f, &text, &len);
    if (rc == 0 && fstat(fileno(f), &st) != 0) {
        rc = -errno;
    }
    fclose(f);
    if (rc != 0) {
        free(text);
        return s_status_unreadable(s, dir, path, -rc);
    }
    int exit_code = s_status_check(s, path, text, len);
    if (exit_code == 0) {
        fputs(text, stdout);
        long long age = (long long)(time(NULL) - st.st_mtime);
        if (age > S_STATUS_STALE_S) {
            fflush(stdout);
            fprintf(stderr,
                    "mqgate: the status above is %lld s old: the gateway has not been able to "
                    "rewrite %s since (see STATUS-WRITE in its log)\n",
                    age, path);
            exit_code = MQG_EXIT_TRANSIENT;
        }
    }
    free(text);
    return exit_code;
}

/* ---- set-up ---- */

/* The runtime directory, made or checked by mqg_rundir_make: one that another user could
 * change is refused with exit 78 (a configuration to fix, not to retry); one that cannot be
 * created, with exit 1. Returns 0 or the exit code. */
static int s_open_rundir(struct sup *S)
{
    char why[1024];
    int rc =
        mqg_rundir_make(S->set->runtime_dir, S->set->instance, &S->rundir_id, why, sizeof(why));
    if (rc == 0) {
        return 0;
    }
    bool unsafe = rc == -EPERM || rc == -ENOTDIR || rc == -EINVAL;
    log_error("RUNDIR", "%s%s", why, unsafe ? "; not started (exit 78)" : "");
    return unsafe ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
}

/* ---- the runtime directory going away ---- */

/* The router binds the bus in the runtime directory once, at its start; after the directory
 * was removed, stop it so that it binds the new one (connectors reconnect by themselves). */
static void s_rebind_router(struct sup *S, int64_t now)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        struct child *c = &S->ch[i];
        if (c->conn >= 0 || c->config_error) {
            continue;
        }
        if (c->state == CH_RUNNING) {
            c->rebind = true;
            mqg_ctl_send(c->ctl_fd, MQG_CTL_TERM, NULL, 0, MSG_DONTWAIT);
            kill(c->pid, SIGTERM);
        } else {
            c->next_start_ms = now; /* waiting or failed (bus not bound): try now */
        }
    }
}

/* Is the runtime directory still the one we made? Called every 0.5 s and before every child
 * start. When it was removed (or replaced), make it again with the same checks and have the
 * router bind the bus there again. Returns 0 when the directory is usable now; otherwise no
 * child is started (RUNDIR, logged once per episode). */
static int s_watch_rundir(struct sup *S, int64_t now)
{
    struct mqg_rundir_id id;
    char why[1024];
    int rc = mqg_rundir_check(S->dir, &id, why, sizeof(why));
    bool same = rc == 0 && id.dev == S->rundir_id.dev && id.ino == S->rundir_id.ino;
    if (!same && (rc == 0 || rc == -ENOENT)) {
        if (!S->rundir_gone) {
            log_warn("RUNDIR-GONE",
                     "runtime directory %s was %s: making it again; the router is restarted "
                     "to bind %s there",
                     S->dir, rc == 0 ? "replaced" : "removed", S->bus);
            S->rundir_gone = true;
        }
        rc = mqg_rundir_make(S->set->runtime_dir, S->set->instance, &id, why, sizeof(why));
    }
    if (rc != 0) {
        if (!S->rundir_bad) {
            log_error("RUNDIR", "%s; no process is started until this is fixed", why);
        } else {
            log_debug("RUNDIR", "%s", why);
        }
        S->rundir_bad = true;
        return rc;
    }
    if (!same || S->rundir_bad) {
        log_notice("RUNDIR-RESTORED", "runtime directory %s is usable again%s", S->dir,
                   same ? "" : " (made again)");
    }
    S->rundir_bad = false;
    if (!same) {
        S->rundir_id = id;
        S->rundir_gone = false;
        s_rebind_router(S, now);
    }
    return 0;
}

static int s_setup_children(struct sup *S)
{
    char exedir[4096];
    if (mqg_exe_dir(exedir, sizeof(exedir)) != 0) {
        return -EIO;
    }
    const struct mqg_settings *set = S->set;
    const struct mqg_restart_policy policy = {
        .backoff_ms = set->restart_backoff_ms,
        .backoff_max_ms = set->restart_backoff_max_ms,
        .max = set->restart_max,
        .window_ms = (int64_t)set->restart_window_s * 1000,
        .failed_retry_ms = (int64_t)set->restart_failed_retry_s * 1000,
        .stable_after_ms = (int64_t)set->stable_after_s * 1000,
    };
    S->ch = calloc(S->model->n_conns + 1, sizeof(*S->ch));
    if (!S->ch) {
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i <= S->model->n_conns; i++) {
        struct child *c = &S->ch[n];
        c->conn = (int)i - 1;
        if (i == 0) {
            c->role = "router";
            c->key = "router";
        } else {
            const struct mqg_connection *conn = &S->model->conns[i - 1];
            if (!conn->target_connected) {
                log_info("CONN-DISABLED",
                         "connection %s has targetState disconnected: not "
                         "started",
                         conn->key);
                continue;
            }
            c->role = "connector";
            c->key = conn->key;
        }
        snprintf(c->exe, sizeof(c->exe), "%s/mqgate-%s", exedir, c->role);
        if (access(c->exe, X_OK) != 0) {
            log_error("CHILD-MISSING", "%s not found next to mqgate", c->exe);
            return -ENOENT;
        }
        c->ctl_fd = c->log_fd = -1;
        c->state = CH_WAITING;
        c->next_start_ms = 0;
        if (mqg_restart_init(&c->restart, &policy, mqg_seed() ^ (uint64_t)n) != 0) {
            return -ENOMEM;
        }
        n++;
        S->n_ch = n; /* so that s_cleanup frees what was made, also after a failure */
    }
    return 0;
}

static void s_cleanup(struct sup *S)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        s_close_child_fds(&S->ch[i]);
        mqg_restart_free(&S->ch[i].restart);
    }
    free(S->ch);
    char path[700];
    const char *files[] = {"status", "status.tmp", "bus", "lock" /* of mqgate <= 0.1.0 */};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", S->dir, files[i]);
        unlink(path);
    }
    rmdir(S->dir);
    if (S->lock_fd >= 0) {
        close(S->lock_fd);
    }
    if (S->sigfd >= 0) {
        close(S->sigfd);
    }
}

/* ---- the loop ---- */

static void s_timers(struct sup *S, int64_t now)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        struct child *c = &S->ch[i];
        if (!S->stopping &&
            (c->state == CH_WAITING || (c->state == CH_FAILED && !c->config_error)) &&
            now >= c->next_start_ms) {
            if (s_watch_rundir(S, now) != 0) {
                c->next_start_ms = now + 500;
                continue;
            }
            int rc = s_spawn(S, c);
            if (rc != 0) {
                log_error("CHILD-SPAWN", "cannot start %s %s: %s", c->role, c->key, strerror(-rc));
                s_plan_restart(S, c, now, MQG_RESTART_START_FAILED);
            }
        }
        if (c->state == CH_RUNNING && !S->stopping &&
            now - c->last_rx_ms > (int64_t)S->set->heartbeat_ms * S->set->heartbeat_misses) {
            log_warn("CHILD-HUNG", "%s %s (pid %d) silent for %lld ms: killing it", c->role, c->key,
                     (int)c->pid, (long long)(now - c->last_rx_ms));
            kill(c->pid, SIGKILL);
            c->last_rx_ms = now; /* once */
        }
    }
    if (now - S->last_hb_ms >= S->set->heartbeat_ms) {
        S->last_hb_ms = now;
        for (size_t i = 0; i < S->n_ch; i++) {
            if (S->ch[i].state == CH_RUNNING) {
                mqg_ctl_send(S->ch[i].ctl_fd, MQG_CTL_HEARTBEAT, NULL, 0, MSG_DONTWAIT);
            }
        }
    }
    if (now - S->last_status_ms >= 500) {
        S->last_status_ms = now;
        if (S->stopping || s_watch_rundir(S, now) == 0) {
            s_write_status(S, now);
        }
    }
    if (S->stopping && now >= S->stop_deadline) {
        for (size_t i = 0; i < S->n_ch; i++) {
            if (S->ch[i].state == CH_RUNNING && S->ch[i].pid > 0) {
                log_warn("CHILD-KILL", "%s %s did not stop in time: killing it", S->ch[i].role,
                         S->ch[i].key);
                kill(S->ch[i].pid, SIGKILL);
            }
        }
        S->stop_deadline = now + 1000;
    }
}

static int s_next_timeout(const struct sup *S, int64_t now)
{
    int64_t next = now + 200;
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct child *c = &S->ch[i];
        if ((c->state == CH_WAITING || (c->state == CH_FAILED && !c->config_error)) &&
            c->next_start_ms < next) {
            next = c->next_start_ms;
        }
    }
    return next <= now ? 0 : (int)(next - now);
}

/* cpu_affinity: pin this process before the first fork; children and all their threads
 * inherit it. A failure is reported and the gateway runs unpinned. */
static void s_apply_cpu_affinity(const struct mqg_settings *set)
{
    cpu_set_t allowed, use;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        log_warn("CPU-AFFINITY", "cannot read the CPU affinity: %s; not pinned", strerror(errno));
        return;
    }
    int rc = mqg_cpus_resolve(&set->cpu_affinity, &allowed, &use);
    char text[128];
    if (rc <= 0) {
        mqg_cpus_format(&allowed, text, sizeof(text));
        log_info("CPU-AFFINITY", "processes on CPUs %s (cpu_affinity \"none\")", text);
        return;
    }
    mqg_cpus_format(&use, text, sizeof(text));
    if (sched_setaffinity(0, sizeof(use), &use) != 0) {
        log_warn("CPU-AFFINITY", "cannot pin to CPUs %s: %s; not pinned", text, strerror(errno));
        return;
    }
    log_info("CPU-AFFINITY", "all processes on CPU%s %s (cpu_affinity \"%s\")",
             CPU_COUNT(&use) > 1 ? "s" : "", text,
             set->cpu_affinity.mode == MQG_CPUS_AUTO ? "auto" : text);
}

int supervisor_run(const struct mqg_settings *set, const struct mqg_model *m)
{
    struct sup S;
    memset(&S, 0, sizeof(S));
    S.set = set;
    S.model = m;
    S.sigfd = -1;
    S.log_fd = 2;
    S.lock_fd = -1;
    if (set->log_file && set->log_file[0]) {
        S.log_fd = open(set->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (S.log_fd < 0) {
            fprintf(stderr, "mqgate: error: cannot open log file %s: %s\n", set->log_file,
                    strerror(errno));
            return MQG_EXIT_CONFIG;
        }
    }
    mqg_log_init("supervisor", set->instance, set->log_level, S.log_fd);
    if (supervisor_instance_dir(set, S.dir, sizeof(S.dir)) != 0 ||
        snprintf(S.bus, sizeof(S.bus), "ipc://%s/bus", S.dir) >= 108) {
        log_error("RUNDIR", "runtime directory path too long for a local socket: %s/%s",
                  set->runtime_dir, set->instance);
        return MQG_EXIT_CONFIG;
    }
    int rc = s_lock_instance(&S);
    if (rc == 0 && (rc = s_open_rundir(&S)) != 0) {
        close(S.lock_fd);
    }
    if (rc != 0) {
        return rc;
    }
    s_apply_cpu_affinity(set);
    S.sigfd = mqg_signals_block();
    if (S.sigfd < 0 || s_setup_children(&S) != 0) {
        s_cleanup(&S);
        return MQG_EXIT_INTERNAL;
    }
    S.started_ms = mqg_now_ms();
    for (size_t i = 0; i < m->n_skipped; i++) {
        log_notice("RESOURCE-SKIPPED",
                   "%s: resource %s of type %s is not handled by mqgate: "
                   "skipped",
                   m->skipped[i].service_id, m->skipped[i].id, m->skipped[i].type);
    }
    log_notice("GATEWAY-START", "mqgate %s: %zu connections, %zu endpoints, %zu routes; runtime %s",
               MQG_VERSION, m->n_conns, m->n_endpoints, m->n_routes, S.dir);

    struct pollfd *p = calloc(2 + 2 * S.n_ch, sizeof(*p));
    if (!p) {
        s_cleanup(&S);
        return MQG_EXIT_INTERNAL;
    }
    for (;;) {
        int64_t now = mqg_now_ms();
        s_timers(&S, now);
        if (S.stopping && s_all_stopped(&S)) {
            break;
        }
        size_t np = 0;
        p[np++] = (struct pollfd){.fd = S.sigfd, .events = POLLIN};
        for (size_t i = 0; i < S.n_ch; i++) {
            struct child *c = &S.ch[i];
            p[np++] =
                (struct pollfd){.fd = c->state == CH_RUNNING ? c->ctl_fd : -1, .events = POLLIN};
            p[np++] =
                (struct pollfd){.fd = c->state == CH_RUNNING ? c->log_fd : -1, .events = POLLIN};
        }
        p[np++] = (struct pollfd){.fd = S.lock_fd, .events = POLLIN};
        if (poll(p, np, s_next_timeout(&S, now)) < 0 && errno != EINTR) {
            log_error("SUPERVISOR-POLL", "poll: %s; stopping", strerror(errno));
            s_begin_stop(&S, SIGTERM);
            s_reap(&S); /* SIGCHLD may never be read now */
            usleep(100000);
            continue;
        }
        for (size_t i = 0; i < S.n_ch; i++) {
            struct child *c = &S.ch[i];
            if (c->state != CH_RUNNING) {
                continue;
            }
            if (p[1 + 2 * i].revents) {
                s_read_ctl(c);
            }
            if (p[2 + 2 * i].revents) {
                s_read_log(&S, c, false);
            }
        }
        if (p[1 + 2 * S.n_ch].revents) {
            s_lock_accept(&S);
        }
        if (p[0].revents) {
            int sig;
            while ((sig = mqg_signal_read(S.sigfd)) > 0) {
                if (sig == SIGCHLD) {
                    s_reap(&S);
                } else if (sig == SIGHUP) {
                    log_notice("RELOAD-UNSUPPORTED",
                               "SIGHUP: reloading the configuration is not "
                               "supported yet; restart mqgate to apply changes");
                } else {
                    s_begin_stop(&S, sig);
                }
            }
        }
    }
    free(p);
    log_notice("GATEWAY-STOP", "all children stopped; bye");
    s_cleanup(&S);
    if (S.log_fd != 2) {
        close(S.log_fd);
    }
    return MQG_EXIT_OK;
}
