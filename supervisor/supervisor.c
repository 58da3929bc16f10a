/* supervisor — the gateway's main loop: children, their restarts, logs and status (see
 * supervisor.h).
 *
 * Set-up, one poll loop over a signalfd, every child's control socket and every child's stderr
 * pipe (and the HTTP server's descriptor, when there is one), and tear-down. A record per child
 * (sup.h) as nginx's master or s6-supervise keep; what happens to a child is decided by its
 * life cycle table (lifecycle.c, with the restart policy of common/mqg_restart.h): this file
 * posts the events to it (s_post) and carries out the actions (s_act). The child table is made
 * and changed in children.c, spawning is in spawn.c, the status file in status.c, the runtime
 * directory and the instance lock in rundir.c, what the heartbeats tell in observe.c, /metrics and
 * /health in ops.c, the embedded broker's own parts in broker.c, a reload in reload.c.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "lifecycle.h"
#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_ibroker.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_restart.h"
#include "mqg_rundir.h"
#include "observe.h"
#include "ops.h"
#include "reload.h"
#include "rundir.h"
#include "spawn.h"
#include "status.h"
#include "sup.h"

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

static void s_post(struct sup *S, struct sup_child *c, enum lifecycle_event ev, int64_t now,
                   int exit_code);

static void s_child_line(struct sup *S, struct sup_child *c, const char *line, size_t len)
{
    if (c->kind == SUP_BROKER) {
        if (sup_broker_line(c, line, len)) {
            s_post(S, c, LC_EV_READY, mqg_now_ms(), 0);
        }
    } else {
        s_log_line(S, line, len);
    }
}

static void s_read_log(struct sup *S, struct sup_child *c, bool final)
{
    for (;;) {
        if (c->loglen == sizeof(c->logbuf)) { /* overlong line: pass it on in pieces */
            s_child_line(S, c, c->logbuf, c->loglen);
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
            s_child_line(S, c, start, (size_t)(nl - start));
            start = nl + 1;
        }
        c->loglen -= (size_t)(start - c->logbuf);
        memmove(c->logbuf, start, c->loglen);
    }
    if (final && c->loglen) {
        s_child_line(S, c, c->logbuf, c->loglen);
        c->loglen = 0;
    }
}

/* What s_on_ctl_message needs. */
struct s_ctl_arg {
    struct sup *S;
    struct sup_child *c;
};

static void s_on_ctl_message(uint8_t kind, const uint8_t *body, size_t len, void *arg)
{
    struct s_ctl_arg *a = arg;
    struct sup_child *c = a->c;
    c->last_rx_ms = mqg_now_ms();
    if (kind == MQG_CTL_READY) {
        s_post(a->S, c, LC_EV_READY, c->last_rx_ms, 0);
    } else if (kind == MQG_CTL_HEARTBEAT) {
        size_t k = len < sizeof(c->status) - 1 ? len : sizeof(c->status) - 1;
        memcpy(c->status, body, k);
        c->status[k] = '\0';
        observe_heartbeat(a->S, c, c->last_rx_ms);
    } else if (kind == MQG_CTL_ROUTES && strcmp(c->role, "router") == 0 && !c->handover) {
        /* (a router handing over counts by the routes of the model before the reload) */
        observe_routes(a->S, body, len);
    } else if (kind == MQG_CTL_RULE_ROUTES && strcmp(c->role, "rules") == 0) {
        observe_rule_routes(a->S, body, len);
    }
}

static void s_read_ctl(struct sup *S, struct sup_child *c)
{
    /* end of file is not handled here: the exit arrives as SIGCHLD */
    struct s_ctl_arg arg = {S, c};
    if (mqg_ctl_drain(&c->ctl, s_on_ctl_message, &arg) == -EPROTO) {
        s_post(S, c, LC_EV_BAD_CTL, mqg_now_ms(), 0);
    }
}

/* ---- the life cycle's actions ---- */

static int s_watch_rundir(struct sup *S, int64_t now);

/* The restart policy's decision after an end or a failed start (CHILD-FAILED, CHILD-RESTART). */
static void s_report_decision(struct sup *S, const struct sup_child *c,
                              const struct lifecycle_step *st)
{
    const struct mqg_settings *set = S->set;
    if (st->to == LC_FAILED) {
        log_error("CHILD-FAILED",
                  "%s %s crashed %d times within %d s: marked failed, next try "
                  "in %d s",
                  c->role, c->key, st->decision.crashes, set->restart_window_s,
                  set->restart_failed_retry_s);
        return;
    }
    log_info("CHILD-RESTART", "restarting %s %s in %u ms", c->role, c->key, st->decision.delay_ms);
}

/* An unexpected end of c's process: exit code 78 (config), or a crash and when it restarts. */
static void s_report_end(struct sup *S, const struct sup_child *c, const struct lifecycle_step *st,
                         int64_t now)
{
    if (st->to == LC_CONFIG) {
        log_error("CHILD-CONFIG-ERROR",
                  "%s %s (pid %d) exited with a configuration error "
                  "(code 78): not restarted; fix the configuration and restart mqgate",
                  c->role, c->key, (int)c->pid);
        return;
    }
    long up = (long)((now - c->life.started_ms) / 1000);
    log_warn("CHILD-EXIT", "%s %s (pid %d) ended after %ld s: %s", c->role, c->key, (int)c->pid, up,
             c->last_exit);
    s_report_decision(S, c, st);
}

/* Start c's process unless the runtime directory is unusable (then try again in 0.5 s). */
static void s_start(struct sup *S, struct sup_child *c, int64_t now)
{
    if (s_watch_rundir(S, now) != 0) {
        c->life.due_ms = now + 500;
        return;
    }
    int rc = spawn_child(S, c);
    if (rc != 0) {
        log_error("CHILD-SPAWN", "cannot start %s %s: %s", c->role, c->key, strerror(-rc));
        s_post(S, c, LC_EV_SPAWN_FAILED, now, 0);
        return;
    }
    s_post(S, c, LC_EV_SPAWNED, c->last_rx_ms, 0);
}

/* Carry out what the life cycle table said for c. */
static void s_act(struct sup *S, struct sup_child *c, const struct lifecycle_step *st, int64_t now)
{
    switch (st->action) {
    case LC_DO_NOTHING:
    case LC_DO_START_NOW: /* due now: the next timer pass starts it */
        break;
    case LC_DO_SPAWN:
        s_start(S, c, now);
        break;
    case LC_DO_LOG_READY:
        log_debug("CHILD-READY", "%s %s is ready", c->role, c->key);
        if (c->kind == SUP_BROKER) {
            sup_broker_ready(S, c);
        }
        break;
    case LC_DO_TERM:
        if (c->handover) { /* the router, in a reload: it stops when it has handed over */
            mqg_ctl_send(c->ctl_fd, MQG_CTL_HANDOVER, NULL, 0, MSG_DONTWAIT);
            break;
        }
        if (c->ctl_fd >= 0) {
            mqg_ctl_send(c->ctl_fd, MQG_CTL_TERM, NULL, 0, MSG_DONTWAIT);
        }
        kill(c->pid, SIGTERM);
        break;
    case LC_DO_KILL_HUNG:
        log_warn("CHILD-HUNG", "%s %s (pid %d) silent for %lld ms: killing it", c->role, c->key,
                 (int)c->pid, (long long)(now - c->last_rx_ms));
        kill(c->pid, SIGKILL);
        c->last_rx_ms = now; /* once */
        break;
    case LC_DO_KILL_BAD:
        log_error("CTL-PROTO", "%s %s (pid %d) sent a malformed control message: killing it",
                  c->role, c->key, (int)c->pid);
        kill(c->pid, SIGKILL);
        break;
    case LC_DO_KILL_LATE:
        log_warn("CHILD-KILL", "%s %s did not stop in time: killing it", c->role, c->key);
        kill(c->pid, SIGKILL);
        break;
    case LC_DO_REPORT_END:
        s_report_end(S, c, st, now);
        break;
    case LC_DO_REPORT_RETRY:
        s_report_decision(S, c, st);
        break;
    case LC_DO_REPORT_STOPPED:
        log_info("CHILD-EXIT", "%s %s (pid %d) stopped: %s", c->role, c->key, (int)c->pid,
                 c->last_exit);
        break;
    case LC_DO_REPORT_RESTART:
        log_info("CHILD-EXIT", "%s %s (pid %d) stopped to be started again: %s", c->role, c->key,
                 (int)c->pid, c->last_exit);
        break;
    }
}

/* Event ev for c at now: one step of its life cycle (lifecycle.c), then its action. */
static void s_post(struct sup *S, struct sup_child *c, enum lifecycle_event ev, int64_t now,
                   int exit_code)
{
    struct lifecycle_step st = lifecycle_step(&c->life, ev, now, exit_code);
    s_act(S, c, &st, now);
}

void sup_post(struct sup *S, struct sup_child *c, enum lifecycle_event ev, int64_t now)
{
    s_post(S, c, ev, now, 0);
}

/* ---- exits ---- */

static void s_begin_stop(struct sup *S, int sig);

/* c's process ended with wait status `status`. */
static void s_handle_exit(struct sup *S, struct sup_child *c, int status)
{
    s_read_log(S, c, true);
    sup_close_child_fds(c);
    rundir_remove_secrets(&S->rd, c->pid);
    int code = -1;
    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
        snprintf(c->last_exit, sizeof(c->last_exit), "exit %d", code);
    } else if (WIFSIGNALED(status)) {
        snprintf(c->last_exit, sizeof(c->last_exit), "signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    }
    c->kill_at = 0;
    c->handover = false;
    bool lost = sup_broker_port_lost(S, c);
    s_post(S, c, LC_EV_EXITED, mqg_now_ms(), lost ? MQG_EXIT_CONFIG : code);
    c->pid = 0;
    if (lost) {
        s_begin_stop(S, 0);
    }
}

static void s_reap(struct sup *S)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < S->n_ch; i++) {
            struct sup_child *c = &S->ch[i];
            if (c->pid == pid && lifecycle_has_process(c->life.state)) {
                s_handle_exit(S, c, status);
                break;
            }
        }
    }
}

/* ---- stopping ---- */

/* Stop every child, the broker last (s_stop_broker). sig 0: not for a signal. */
static void s_begin_stop(struct sup *S, int sig)
{
    if (S->stopping) {
        if (sig == SIGINT || sig == SIGTERM) { /* asked twice: no more grace */
            S->stop_deadline = 0;
        }
        return;
    }
    S->stopping = true;
    int64_t now = mqg_now_ms();
    S->stop_deadline = now + S->set->stop_grace_ms;
    if (sig) {
        log_notice("STOPPING", "signal %d: stopping all children (grace %d ms)", sig,
                   S->set->stop_grace_ms);
    } else {
        log_notice("STOPPING", "stopping all children (grace %d ms)", S->set->stop_grace_ms);
    }
    for (size_t i = 0; i < S->n_ch; i++) {
        S->ch[i].handover = false; /* a reload's handover becomes a stop */
        S->ch[i].after_handover = false;
        if (S->ch[i].kind != SUP_BROKER) { /* the broker stops last (s_stop_broker) */
            s_post(S, &S->ch[i], LC_EV_STOP, now, 0);
        }
    }
}

/* Have all children (but the broker, if skip_broker) stopped? */
static bool s_all_stopped(const struct sup *S, bool skip_broker)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (lifecycle_has_process(S->ch[i].life.state) &&
            !(skip_broker && S->ch[i].kind == SUP_BROKER)) {
            return false;
        }
    }
    return true;
}

/* The broker stops last: when the connectors, which may still be publishing to it, are gone;
 * it gets a grace period of its own. */
static void s_stop_broker(struct sup *S, int64_t now)
{
    struct sup_child *b = sup_broker_child(S);
    if (!S->stopping || !b || b->life.state == LC_STOPPING || b->life.state == LC_STOPPED ||
        b->life.state == LC_CONFIG || !s_all_stopped(S, true)) {
        return;
    }
    S->stop_deadline = now + S->set->stop_grace_ms;
    s_post(S, b, LC_EV_STOP, now, 0);
}

/* ---- the runtime directory going away ---- */

/* The router binds the bus in the runtime directory once, at its start; after the directory
 * was removed, restart it so that it binds the new one (connectors reconnect by themselves).
 * One waiting or failed (bus not bound) is tried now. */
static void s_rebind_router(struct sup *S, int64_t now)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].kind == SUP_ROUTER) {
            s_post(S, &S->ch[i], LC_EV_RESTART, now, 0);
        }
    }
}

/* Is the runtime directory usable (rundir_watch)? Called every 0.5 s and before every child
 * start; when it was made again, the router binds the bus there again. 0 or -errno. */
static int s_watch_rundir(struct sup *S, int64_t now)
{
    bool remade;
    int rc = rundir_watch(&S->rd, &remade);
    if (remade) {
        s_rebind_router(S, now);
    }
    return rc;
}

/* ---- set-up ---- */

/* Release everything s_setup took (after a failed set-up too); the runtime directory loses
 * the gateway's files and, if empty then, itself. */
static void s_cleanup(struct sup *S)
{
    ops_close(S);
    observe_free(S);
    for (size_t i = 0; i < S->n_ch; i++) {
        sup_close_child_fds(&S->ch[i]);
        lifecycle_free(&S->ch[i].life);
    }
    if (S->broker_conf[0]) {
        unlink(S->broker_conf);
    }
    free(S->ch);
    free(S->pfd);
    if (S->own_model) {
        mqg_model_free(S->own_model);
        free(S->own_model);
    }
    rundir_close(&S->rd);
    if (S->own_set) {
        mqg_settings_free(S->own_set);
        free(S->own_set);
    }
    if (S->sigfd >= 0) {
        close(S->sigfd);
    }
}

/* Open the log file (log.file), if one is set: exit 78 when it cannot be. */
static int s_open_log(struct sup *S)
{
    const struct mqg_settings *set = S->set;
    if (set->log_file && set->log_file[0]) {
        S->log_fd = open(set->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (S->log_fd < 0) {
            fprintf(stderr, "mqgate: error: cannot open log file %s: %s\n", set->log_file,
                    strerror(errno));
            return MQG_EXIT_CONFIG;
        }
    }
    mqg_log_init("supervisor", set->instance, set->log_level, S->log_fd);
    return 0;
}

/* SIGUSR1: open the log file again (logrotate has moved it) onto the same descriptor, so that
 * mqg_log and the copies of the children's lines go on into the new file. When it cannot be
 * opened, the old one stays in use. */
static void s_reopen_log(struct sup *S)
{
    const char *path = S->set->log_file;
    if (!path || !path[0]) {
        log_info("LOG-REOPEN", "SIGUSR1: the log goes to standard error; nothing to reopen");
        return;
    }
    log_info("LOG-REOPEN", "SIGUSR1: reopening the log file %s", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || dup3(fd, S->log_fd, O_CLOEXEC) < 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        log_warn("LOG-REOPEN", "cannot reopen the log file %s: %s; writing on to the old one", path,
                 strerror(e));
        return;
    }
    close(fd);
    log_notice("LOG-REOPEN", "log file %s reopened (SIGUSR1)", path);
}

static void s_log_start(const struct sup *S)
{
    const struct mqg_model *m = S->model;
    for (size_t i = 0; i < m->n_skipped; i++) {
        log_notice("RESOURCE-SKIPPED",
                   "%s: resource %s of type %s is not handled by mqgate: "
                   "skipped",
                   m->skipped[i].service_id, m->skipped[i].id, m->skipped[i].type);
    }
    log_notice("GATEWAY-START", "mqgate %s: %zu connections, %zu endpoints, %zu routes; runtime %s",
               MQG_VERSION, m->n_conns, m->n_endpoints, m->n_routes, S->rd.dir);
    for (size_t i = 0; i < m->n_notices; i++) {
        log_notice("CONFIG-IGNORED", "%s", m->notices[i]);
    }
    const struct mqg_ib_settings *ib = &S->set->internal_broker;
    int k = mqg_model_internal(m);
    if (ib->mode == MQG_IB_EMBEDDED) {
        log_info("INTERNAL-BROKER", "internal broker: mosquitto (%s) on %s:%d, %zu more listeners",
                 sup_broker_child(S) ? sup_broker_child(S)->exe : "-", ib->listen_host,
                 ib->listen_port, ib->n_listeners);
    } else if (ib->mode == MQG_IB_EXTERNAL && k >= 0) {
        log_info("INTERNAL-BROKER", "internal broker: %s (external)", m->conns[k].uri);
    } else {
        log_info("INTERNAL-BROKER", "internal broker: off (internal_broker.mode)");
    }
}

/* Everything before the loop: the log, the runtime directory and the lock, the CPU placement,
 * the signals, the child records and the poll set. Returns 0, or the exit code after a logged
 * error (the lock and the runtime directory released; the log file stays open for the exit). */
/* <state_dir>/<instance>, where the connectors keep their journals: made like the runtime
 * directory (mode 0700, no other user may change it) and writable; otherwise a configuration
 * error (STATE-DIR, exit 78). Nothing to do with the journal off. */
int sup_state_dir(struct sup *S)
{
    const struct mqg_settings *set = S->set;
    if (!set->journal_enabled) {
        return 0;
    }
    char why[512] = "";
    int rc = mqg_rundir_make(set->state_dir, set->instance, NULL, why, sizeof(why));
    int n = snprintf(S->state_dir, sizeof(S->state_dir), "%s/%s", set->state_dir, set->instance);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof(S->state_dir) - 256)) {
        rc = -ENAMETOOLONG;
        snprintf(why, sizeof(why), "the path is too long");
    }
    if (rc == 0 && access(S->state_dir, W_OK | X_OK) != 0) {
        rc = -errno;
        snprintf(why, sizeof(why), "%s", strerror(errno));
    }
    if (rc != 0) {
        log_error("STATE-DIR",
                  "state_dir: cannot use %s/%s for the journals: %s; set state_dir to a "
                  "directory this user may create and write (or journal.enabled = false)",
                  set->state_dir, set->instance, why[0] ? why : strerror(-rc));
        S->state_dir[0] = '\0';
        return MQG_EXIT_CONFIG;
    }
    return 0;
}

static int s_setup(struct sup *S, const struct mqg_settings *set, const struct mqg_model *m)
{
    memset(S, 0, sizeof(*S));
    S->set = set;
    S->model = m;
    S->sigfd = -1;
    S->log_fd = 2;
    int rc = s_open_log(S);
    if (rc == 0) {
        rc = rundir_open(&S->rd, set);
    }
    if (rc == 0 && (rc = sup_state_dir(S)) != 0) {
        rundir_close(&S->rd);
    }
    if (rc != 0) {
        return rc;
    }
    char broker_exe[4096];
    bool broker = set->internal_broker.mode == MQG_IB_EMBEDDED;
    if (broker &&
        (rc = sup_broker_check(&set->internal_broker, NULL, broker_exe, sizeof(broker_exe))) != 0) {
        rundir_close(&S->rd);
        return rc;
    }
    spawn_pin_cpus(set);
    S->sigfd = mqg_signals_block();
    if (S->sigfd < 0 || sup_setup_children(S, broker ? broker_exe : NULL) != 0 ||
        observe_init(S) != 0) {
        s_cleanup(S);
        return MQG_EXIT_INTERNAL;
    }
    S->started_ms = mqg_now_ms();
    rc = ops_open(S); /* /metrics and /health, when http.listen is set */
    if (rc != 0) {
        s_cleanup(S);
        return rc;
    }
    s_log_start(S);
    return 0;
}

/* ---- the loop ---- */

/* Heartbeats to the children: every heartbeat interval, or more often while a child started
 * with a shorter one runs (a reload changed it, and the child is not restarted yet). */
static void s_send_heartbeats(struct sup *S, int64_t now)
{
    int64_t every = S->set->heartbeat_ms;
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        if (lifecycle_has_process(c->life.state) && c->ctl_fd >= 0 && c->hb_ms > 0 &&
            c->hb_ms < every) {
            every = c->hb_ms;
        }
    }
    if (now - S->last_hb_ms < every) {
        return;
    }
    S->last_hb_ms = now;
    for (size_t i = 0; i < S->n_ch; i++) {
        if (lifecycle_has_process(S->ch[i].life.state) && S->ch[i].ctl_fd >= 0) {
            mqg_ctl_send(S->ch[i].ctl_fd, MQG_CTL_HEARTBEAT, NULL, 0, MSG_DONTWAIT);
        }
    }
}

static void s_handle_timers(struct sup *S, int64_t now)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        /* silent too long by the heartbeat settings it was started with */
        int64_t silent_ms = (int64_t)c->hb_ms * c->hb_misses;
        if (lifecycle_waits(c->life.state) && now >= c->life.due_ms &&
            !sup_broker_holds(S, c, now)) {
            s_post(S, c, LC_EV_DUE, now, 0);
        }
        /* the broker has no control channel: it sends no heartbeats to miss */
        if (lifecycle_has_process(c->life.state) && c->ctl_fd >= 0 &&
            now - c->last_rx_ms > silent_ms) {
            s_post(S, c, LC_EV_HUNG, now, 0);
        }
        if (c->kill_at && now >= c->kill_at && lifecycle_has_process(c->life.state)) {
            s_post(S, c, LC_EV_GRACE_OVER, now, 0); /* a reload's stop took too long */
            c->kill_at = now + 1000;
        }
        if (c->kind == SUP_BROKER && c->life.state == LC_STARTING &&
            now - c->life.started_ms >= SUP_BROKER_PROBE_AFTER_MS && sup_broker_listening(S)) {
            s_post(S, c, LC_EV_READY, now, 0);
        }
    }
    s_send_heartbeats(S, now);
    if (now - S->last_status_ms >= 500) {
        S->last_status_ms = now;
        observe_tick(S, now);
        ops_tick(S, now);
        if (S->stopping || s_watch_rundir(S, now) == 0) {
            status_write(S, now);
        }
    }
    if (S->stopping && now >= S->stop_deadline) {
        for (size_t i = 0; i < S->n_ch; i++) {
            s_post(S, &S->ch[i], LC_EV_GRACE_OVER, now, 0);
        }
        S->stop_deadline = now + 1000;
    }
}

static int s_next_timeout(const struct sup *S, int64_t now)
{
    int64_t next = now + 200;
    int http = ops_timeout_ms(S);
    if (http >= 0 && now + http < next) {
        next = now + http;
    }
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        if (lifecycle_waits(c->life.state) && c->life.due_ms < next &&
            !sup_broker_holds(S, c, now)) {
            next = c->life.due_ms;
        }
    }
    return next <= now ? 0 : (int)(next - now);
}

/* The poll set: the signalfd, each child's control socket and log pipe (-1 without a
 * process), the instance lock, the HTTP server (-1 without one). Returns its length. */
static size_t s_poll_set(struct sup *S)
{
    struct pollfd *p = S->pfd;
    size_t np = 0;
    p[np++] = (struct pollfd){.fd = S->sigfd, .events = POLLIN};
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        bool live = lifecycle_has_process(c->life.state);
        p[np++] = (struct pollfd){.fd = live ? c->ctl_fd : -1, .events = POLLIN};
        p[np++] = (struct pollfd){.fd = live ? c->log_fd : -1, .events = POLLIN};
    }
    p[np++] = (struct pollfd){.fd = S->rd.lock_fd, .events = POLLIN};
    p[np++] = (struct pollfd){.fd = ops_fd(S), .events = POLLIN};
    return np;
}

static void s_handle_children(struct sup *S)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        if (!lifecycle_has_process(c->life.state)) {
            continue;
        }
        if (S->pfd[1 + 2 * i].revents) {
            s_read_ctl(S, c);
        }
        if (S->pfd[2 + 2 * i].revents) {
            s_read_log(S, c, false);
        }
    }
}

static void s_handle_signals(struct sup *S)
{
    int sig;
    while ((sig = mqg_signal_read(S->sigfd)) > 0) {
        if (sig == SIGCHLD) {
            s_reap(S);
        } else if (sig == SIGUSR1) {
            s_reopen_log(S);
        } else if (sig == SIGHUP) {
            reload_run(S);
        } else {
            s_begin_stop(S, sig);
        }
    }
}

/* poll failed with e: stop as on SIGTERM; ended children are reaped here, as SIGCHLD may
 * never be read now. */
static void s_handle_poll_error(struct sup *S, int e)
{
    log_error("SUPERVISOR-POLL", "poll: %s; stopping", strerror(e));
    s_begin_stop(S, SIGTERM);
    s_reap(S);
    usleep(100000);
}

/* Until every child has stopped after a stop signal. */
static void s_loop(struct sup *S)
{
    for (;;) {
        int64_t now = mqg_now_ms();
        s_handle_timers(S, now);
        s_stop_broker(S, now);
        if (S->stopping && s_all_stopped(S, false)) {
            return;
        }
        reload_follow_up(S, now); /* connectors a reload changed, after the router's handover */
        sup_compact(S);           /* records a reload retired, once their process ended */
        size_t np = s_poll_set(S);
        if (poll(S->pfd, np, s_next_timeout(S, now)) < 0 && errno != EINTR) {
            s_handle_poll_error(S, errno);
            continue;
        }
        s_handle_children(S);
        if (S->pfd[1 + 2 * S->n_ch].revents) {
            rundir_accept(&S->rd);
        }
        ops_run(S); /* also without a ready descriptor: its timeouts */
        if (S->pfd[0].revents) {
            s_handle_signals(S);
        }
    }
}

/* ---- tear-down ---- */

static void s_teardown(struct sup *S)
{
    log_notice("GATEWAY-STOP", "all children stopped; bye");
    s_cleanup(S);
    if (S->log_fd != 2) {
        close(S->log_fd);
    }
}

int supervisor_run(const struct mqg_settings *set, const struct mqg_model *m,
                   const struct sup_reload *reload)
{
    struct sup S;
    int rc = s_setup(&S, set, m);
    if (rc != 0) {
        return rc;
    }
    S.reload = reload;
    s_loop(&S);
    s_teardown(&S);
    return S.exit_code;
}
