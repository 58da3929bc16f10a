/* spawn — starting a child process: fork and exec with its control socketpair on fd 3, its
 * stderr and stdout into a pipe to the supervisor, and its configuration sent first.
 *
 * Used by supervisor.c, which owns the records. Between fork and exec the child makes only
 * async-signal-safe calls: everything it needs is built before the fork. The CPU placement is
 * handed over by pinning the supervisor itself before the first fork (spawn_pin_cpus).
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mqg_cpus.h"
#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"

/* Everything the child's command line needs, built before fork: between fork and exec the
 * child makes only async-signal-safe calls. */
struct s_args {
    char level[8], hb[16], misses[16], qmax[16], qbytes[16], infl[16], jopts[96];
    char *argv[28];
};

static void s_spawn_args(struct sup *S, struct sup_child *c, struct s_args *a)
{
    snprintf(a->level, sizeof(a->level), "%d", S->set->log_level);
    snprintf(a->hb, sizeof(a->hb), "%d", S->set->heartbeat_ms);
    snprintf(a->misses, sizeof(a->misses), "%d", S->set->heartbeat_misses);
    snprintf(a->qmax, sizeof(a->qmax), "%d",
             c->conn < 0 ? S->set->router_queue_max : S->set->outbound_queue_max);
    snprintf(a->qbytes, sizeof(a->qbytes), "%d",
             c->conn < 0 ? S->set->router_queue_max_bytes : S->set->outbound_queue_max_bytes);
    snprintf(a->infl, sizeof(a->infl), "%d", S->set->max_inflight);
    snprintf(a->jopts, sizeof(a->jopts), "%lld:%d:%d:%d", S->set->journal_max_bytes,
             S->set->journal_sync, S->set->journal_sync_ms, S->set->journal_full_wait_ms);
    bool journal = S->set->journal_enabled && S->state_dir[0];
    /* clang-format off */
    char *argv[] = {c->exe,
                    "--key", (char *)c->key,
                    "--bus", S->rd.bus,
                    "--rundir", S->rd.dir,
                    "--instance", S->set->instance,
                    "--log-level", a->level,
                    "--heartbeat-ms", a->hb,
                    "--heartbeat-misses", a->misses,
                    "--queue-max", a->qmax,
                    "--queue-max-bytes", a->qbytes,
                    "--max-inflight", a->infl,
                    journal ? "--state-dir" : NULL, S->state_dir,
                    "--journal-opts", a->jopts,
                    NULL};
    /* clang-format on */
    _Static_assert(sizeof(argv) <= sizeof(a->argv), "spawn_args.argv too small");
    memcpy(a->argv, argv, sizeof(argv));
}

static void s_child_exec(const struct sup_child *c, const struct s_args *a, int ctl, int logw)
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

int spawn_child(struct sup *S, struct sup_child *c)
{
    struct s_args args;
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
    mqg_ctl_init(&c->ctl, c->ctl_fd);
    c->last_rx_ms = mqg_now_ms();
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

void spawn_pin_cpus(const struct mqg_settings *set)
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
