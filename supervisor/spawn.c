/* spawn — starting a child process: fork and exec with its control socketpair on fd 3, its
 * stderr and stdout into a pipe to the supervisor, and its configuration sent first; the
 * embedded broker (mosquitto) with its mosquitto.conf written first and no control channel.
 *
 * Used by supervisor.c, which owns the records. Between fork and exec the child makes only
 * async-signal-safe calls: everything it needs is built before the fork. The CPU placement is
 * handed over by pinning the supervisor itself before the first fork (spawn_pin_cpus).
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mqg_cpus.h"
#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"

/* cpu_affinity "auto" with more than one CPU: the rules process runs on the CPUs the others do
 * not (its JavaScript engine is the heaviest work of a gateway with rules, and it hands
 * messages on in batches: docs/performance.md). Set by spawn_pin_cpus, read after fork. */
static cpu_set_t s_rules_cpus;
static bool s_rules_cpus_set;

/* The rules process's outbound queue at most (messages, bytes). */
#define S_RULES_QUEUE_MAX 2000
#define S_RULES_QUEUE_BYTES (2 << 20)

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
    bool router = c->kind == SUP_ROUTER;
    int qmax = router ? S->set->router_queue_max : S->set->outbound_queue_max;
    int qbytes = router ? S->set->router_queue_max_bytes : S->set->outbound_queue_max_bytes;
    if (strcmp(c->role, "rules") == 0) {
        /* the rules process keeps a short queue: a backlog waits in the router's queue and the
         * sources' journals (flow control), not in the memory of the process that runs the
         * JavaScript engine (docs/rules.md) */
        qmax = qmax < S_RULES_QUEUE_MAX ? qmax : S_RULES_QUEUE_MAX;
        qbytes = qbytes < S_RULES_QUEUE_BYTES ? qbytes : S_RULES_QUEUE_BYTES;
    }
    snprintf(a->qmax, sizeof(a->qmax), "%d", qmax);
    snprintf(a->qbytes, sizeof(a->qbytes), "%d", qbytes);
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

/* In the child between fork and exec (async-signal-safe calls only): ctl on fd 3 (none for
 * the broker, ctl < 0), logw as stdout and stderr, /dev/null as stdin, nothing else open. */
static void s_child_exec(const struct sup_child *c, const struct s_args *a, int ctl, int logw)
{
    if (ctl >= 0) {
        dup2(ctl, MQG_CTL_FD);
    } else {
        /* no control channel tells mosquitto that mqgate is gone: it is stopped with it; and
         * a process group of its own keeps a Ctrl-C in the terminal (SIGINT to the group) from
         * stopping it before the connectors that publish to it (mqgate stops it last) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setpgid(0, 0);
    }
    dup2(logw, 2);
    dup2(logw, 1);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
    }
    for (int fd = ctl >= 0 ? MQG_CTL_FD + 1 : MQG_CTL_FD; fd < 1024; fd++) {
        close(fd);
    }
    if (s_rules_cpus_set && strcmp(c->role, "rules") == 0) {
        sched_setaffinity(0, sizeof(s_rules_cpus), &s_rules_cpus);
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

/* <runtime dir>/mosquitto.conf from the settings, written anew for every start (the runtime
 * directory may have been made again since): through a temporary file renamed over it, mode
 * 0600, never through a link. 0 or -errno. */
static int s_write_broker_conf(struct sup *S)
{
    char tmp[620];
    snprintf(S->broker_conf, sizeof(S->broker_conf), "%s/mosquitto.conf", S->rd.dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", S->broker_conf);
    /* mosquitto started by root changes to the `user` of its configuration: root keeps it
     * able to read what mqgate's user can (password file, certificates) */
    const struct passwd *pw = geteuid() == 0 ? getpwuid(0) : NULL;
    char *text = mqg_ibroker_conf(&S->set->internal_broker, pw ? pw->pw_name : NULL);
    if (!text) {
        return -ENOMEM;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : mqg_write_all(fd, text, strlen(text));
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, S->broker_conf) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    free(text);
    return rc;
}

/* The broker: mosquitto -c <runtime dir>/mosquitto.conf, its output into a pipe. */
static int s_spawn_broker(struct sup *S, struct sup_child *c)
{
    int rc = s_write_broker_conf(S);
    if (rc != 0) {
        log_error("BROKER-CONF", "cannot write %s: %s", S->broker_conf, strerror(-rc));
        return rc;
    }
    struct s_args args = {.argv = {c->exe, "-c", S->broker_conf, NULL}};
    int lp[2];
    if (pipe2(lp, O_CLOEXEC) < 0) {
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(lp[0]);
        close(lp[1]);
        return -e;
    }
    if (pid == 0) {
        s_child_exec(c, &args, -1, lp[1]);
    }
    close(lp[1]);
    c->pid = pid;
    c->ctl_fd = -1;
    c->log_fd = lp[0];
    c->loglen = 0;
    c->addr_in_use = false;
    c->last_rx_ms = mqg_now_ms();
    snprintf(c->status, sizeof(c->status), "state=starting listen=%s:%d",
             S->set->internal_broker.listen_host, S->set->internal_broker.listen_port);
    mqg_set_nonblock(c->log_fd);
    log_info("CHILD-START", "started %s %s (pid %d): %s -c %s", c->role, c->key, (int)pid, c->exe,
             S->broker_conf);
    return 0;
}

int spawn_child(struct sup *S, struct sup_child *c)
{
    if (c->kind == SUP_BROKER) {
        return s_spawn_broker(S, c);
    }
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
    c->hb_ms = S->set->heartbeat_ms;
    c->hb_misses = S->set->heartbeat_misses;
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
    if (set->cpu_affinity.mode == MQG_CPUS_AUTO) {
        CPU_XOR(&s_rules_cpus, &allowed, &use); /* use is one of allowed: the others */
        s_rules_cpus_set = CPU_COUNT(&s_rules_cpus) > 0;
        if (s_rules_cpus_set) {
            mqg_cpus_format(&s_rules_cpus, text, sizeof(text));
            log_debug("CPU-AFFINITY", "a rules process runs on CPU%s %s",
                      CPU_COUNT(&s_rules_cpus) > 1 ? "s" : "", text);
        }
    }
}
