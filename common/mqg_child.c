/* mqg_child — child side of the supervisor protocol (see mqg_child.h). */
#include "mqg_child.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"

static int s_int_arg(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

/* "max_bytes:sync:sync_ms:wait_ms" (spawn.c writes it). */
static int s_journal_opts(struct mqg_child *c, const char *arg)
{
    char *end;
    errno = 0;
    long long max = strtoll(arg, &end, 10);
    if (errno || *end != ':' || max <= 0 ||
        sscanf(end + 1, "%d:%d:%d", &c->journal_sync, &c->journal_sync_ms, &c->journal_wait_ms) !=
            3 ||
        c->journal_sync < 0 || c->journal_sync > 2 || c->journal_sync_ms < 1 ||
        c->journal_wait_ms < 0) {
        return -EINVAL;
    }
    c->journal_max_bytes = max;
    return 0;
}

static int s_parse(struct mqg_child *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"bus", required_argument, NULL, 'b'},
        {"rundir", required_argument, NULL, 'r'},
        {"instance", required_argument, NULL, 'i'},
        {"log-level", required_argument, NULL, 'l'},
        {"heartbeat-ms", required_argument, NULL, 'h'},
        {"heartbeat-misses", required_argument, NULL, 'm'},
        {"queue-max", required_argument, NULL, 'q'},
        {"max-inflight", required_argument, NULL, 'f'},
        {"queue-max-bytes", required_argument, NULL, 'Q'},
        {"state-dir", required_argument, NULL, 's'},
        {"journal-opts", required_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int level = MQG_LOG_INFO;
    int o;
    int rc = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'k':
            snprintf(c->key, sizeof(c->key), "%s", optarg);
            break;
        case 'b':
            snprintf(c->bus, sizeof(c->bus), "%s", optarg);
            break;
        case 'r':
            snprintf(c->rundir, sizeof(c->rundir), "%s", optarg);
            break;
        case 'i':
            snprintf(c->instance, sizeof(c->instance), "%s", optarg);
            break;
        case 'l':
            rc |= s_int_arg(optarg, MQG_LOG_DEBUG, MQG_LOG_ERROR, &level);
            break;
        case 'h':
            rc |= s_int_arg(optarg, 10, 600000, &c->heartbeat_ms);
            break;
        case 'm':
            rc |= s_int_arg(optarg, 1, 1000, &c->heartbeat_misses);
            break;
        case 'q':
            rc |= s_int_arg(optarg, 1, 100000000, &c->queue_max);
            break;
        case 'f':
            rc |= s_int_arg(optarg, 1, 65535, &c->max_inflight);
            break;
        case 'Q': {
            int bytes = 0;
            rc |= s_int_arg(optarg, 1, INT_MAX, &bytes);
            c->queue_max_bytes = (size_t)bytes;
            break;
        }
        case 's':
            snprintf(c->state_dir, sizeof(c->state_dir), "%s", optarg);
            break;
        case 'j':
            rc |= s_journal_opts(c, optarg);
            break;
        default:
            rc = -EINVAL;
            break;
        }
    }
    mqg_log_init(c->role, c->key[0] ? c->key : c->instance, level, 2);
    if (rc != 0 || !c->bus[0] || optind != argc) {
        log_error("CHILD-USAGE", "bad command line; this program is started by mqgate");
        return MQG_EXIT_USAGE;
    }
    return 0;
}

/* Wait (at most 10 s) for the CONFIG message and decode it. */
static int s_read_config(struct mqg_child *c)
{
    int64_t deadline = mqg_now_ms() + 10000;
    for (;;) {
        uint8_t kind;
        const uint8_t *body;
        size_t len;
        int n = mqg_ctl_next(&c->ctl, &kind, &body, &len);
        if (n < 0) {
            log_error("CTL-PROTO", "malformed control message");
            return MQG_EXIT_INTERNAL;
        }
        if (n == 1 && kind == MQG_CTL_CONFIG) {
            if (mqg_model_decode(body, len, &c->model) != 0) {
                log_error("CTL-CONFIG", "configuration from the supervisor does not decode");
                return MQG_EXIT_CONFIG;
            }
            return 0;
        }
        if (n == 1) {
            continue; /* heartbeat before config: ignore */
        }
        int left = (int)(deadline - mqg_now_ms());
        if (left <= 0) {
            log_error("CTL-TIMEOUT", "no configuration from the supervisor within 10 s");
            return MQG_EXIT_TRANSIENT;
        }
        struct pollfd p = {.fd = c->ctl.fd, .events = POLLIN};
        if (poll(&p, 1, left) > 0) {
            int r = mqg_ctl_fill(&c->ctl);
            if (r < 0 && r != -EAGAIN) {
                log_error("CTL-EOF", "control channel closed before configuration");
                return MQG_EXIT_TRANSIENT;
            }
        }
    }
}

int mqg_child_init(struct mqg_child *c, const char *role, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    c->role = role;
    c->heartbeat_ms = 1000;
    c->heartbeat_misses = 3;
    c->queue_max = 100000;
    c->queue_max_bytes = (size_t)64 << 20;
    c->max_inflight = 1000;
    snprintf(c->instance, sizeof(c->instance), "mqgate");
    mqg_model_init(&c->model);
    c->sigfd = -1;
    int rc = s_parse(c, argc, argv);
    if (rc != 0) {
        return rc;
    }
    /* Ctrl-C in a terminal reaches the whole process group: the supervisor handles it. So
     * does SIGUSR1 (log reopen), which `systemctl kill` sends to every process of the unit. */
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    c->sigfd = mqg_signals_block();
    signal(SIGINT, SIG_IGN);
    if (c->sigfd < 0) {
        log_error("CHILD-SIGNALS", "signalfd: %s", strerror(-c->sigfd));
        return MQG_EXIT_INTERNAL;
    }
    mqg_ctl_init(&c->ctl, MQG_CTL_FD);
    if (mqg_set_nonblock(MQG_CTL_FD) != 0) {
        log_error("CHILD-CTL", "no control channel on fd 3; this program is started by mqgate");
        return MQG_EXIT_USAGE;
    }
    rc = s_read_config(c);
    if (rc != 0) {
        return rc;
    }
    c->last_rx_ms = mqg_now_ms();
    c->last_hb_ms = 0; /* the first mqg_child_progress() call sends one: the supervisor has
                        * heard nothing since it started this child */
    return 0;
}

void mqg_child_progress(struct mqg_child *c)
{
    static const char starting[] = "state=starting";
    int64_t now = mqg_now_ms();
    if (mqg_child_heartbeat_due(c, now)) {
        mqg_ctl_send(c->ctl.fd, MQG_CTL_HEARTBEAT, starting, sizeof(starting) - 1, MSG_DONTWAIT);
        c->last_hb_ms = now;
    }
}

void mqg_child_ready(struct mqg_child *c)
{
    mqg_ctl_send(c->ctl.fd, MQG_CTL_READY, NULL, 0, MSG_DONTWAIT);
    c->last_hb_ms = 0; /* first status right away */
}

static void s_on_ctl_message(uint8_t kind, const uint8_t *body, size_t len, void *arg)
{
    struct mqg_child *c = arg;
    c->last_rx_ms = mqg_now_ms();
    if (kind == MQG_CTL_TERM) {
        log_info("CHILD-TERM", "stop requested by the supervisor");
        c->stop = true;
        c->exit_code = MQG_EXIT_OK;
    } else if (kind == MQG_CTL_HANDOVER) {
        log_info("CHILD-HANDOVER", "handover requested by the supervisor");
        c->stop = true;
        c->handover = true;
        c->exit_code = MQG_EXIT_OK;
    } else if (kind == MQG_CTL_LOG_LEVEL && len == 1 && body[0] <= MQG_LOG_ERROR) {
        mqg_log_threshold = body[0];
        log_notice("LOG-LEVEL", "log level %s (a reload changed log.level)",
                   mqg_log_level_name(body[0]));
    } else if (kind == MQG_CTL_CONFIG) {
        struct mqg_model *m = malloc(sizeof(*m));
        if (m && mqg_model_decode(body, len, m) == 0) {
            if (c->update) {
                mqg_model_free(c->update);
                free(c->update);
            }
            c->update = m;
        } else {
            free(m);
            log_warn("CTL-CONFIG", "a reload's configuration does not decode: ignored");
        }
    }
}

void mqg_child_on_ctl(struct mqg_child *c)
{
    int r = mqg_ctl_drain(&c->ctl, s_on_ctl_message, c);
    if (r == -EPROTO) {
        log_error("CTL-PROTO", "malformed control message; stopping");
        c->stop = true;
        c->exit_code = MQG_EXIT_INTERNAL;
    } else if (r == -EPIPE && !c->ctl_closed) {
        log_warn("SUPERVISOR-GONE", "control channel closed: the supervisor is gone; stopping");
        c->ctl_closed = true;
        c->stop = true;
        c->exit_code = MQG_EXIT_TRANSIENT;
    }
}

int mqg_child_ctl_fd(const struct mqg_child *c)
{
    return c->ctl_closed ? -1 : c->ctl.fd;
}

void mqg_child_on_signal(struct mqg_child *c)
{
    int sig;
    while ((sig = mqg_signal_read(c->sigfd)) > 0) {
        if ((sig == SIGTERM || sig == SIGQUIT) && !c->stop) {
            log_info("CHILD-SIGNAL", "signal %d: stopping", sig);
            c->stop = true;
            c->exit_code = MQG_EXIT_OK;
        }
    }
}

bool mqg_child_heartbeat_due(const struct mqg_child *c, int64_t now)
{
    return now - c->last_hb_ms >= c->heartbeat_ms;
}

int mqg_child_tick(struct mqg_child *c, int64_t now, const char *status)
{
    if (mqg_child_heartbeat_due(c, now)) {
        const char *s = status ? status : "";
        int r = mqg_ctl_send(c->ctl.fd, MQG_CTL_HEARTBEAT, s, strlen(s), MSG_DONTWAIT);
        if (r == -EPIPE && !c->ctl_closed) {
            log_warn("SUPERVISOR-GONE", "control channel closed: the supervisor is gone; stopping");
            c->ctl_closed = true;
            c->stop = true;
            c->exit_code = MQG_EXIT_TRANSIENT;
        }
        c->last_hb_ms = now;
    }
    int64_t silent = now - c->last_rx_ms;
    if (silent > (int64_t)c->heartbeat_ms * c->heartbeat_misses && !c->stop) {
        log_warn("SUPERVISOR-SILENT", "no heartbeat from the supervisor for %lld ms; stopping",
                 (long long)silent);
        c->stop = true;
        c->exit_code = MQG_EXIT_TRANSIENT;
    }
    int64_t next = c->last_hb_ms + c->heartbeat_ms - now;
    return next < 1 ? 1 : (int)next;
}

int mqg_child_turn(struct mqg_child *c, int64_t now, mqg_child_status_fn status, const void *arg)
{
    char text[MQG_CHILD_STATUS_MAX + 1];
    text[0] = '\0';
    if (mqg_child_heartbeat_due(c, now)) {
        status(arg, text, sizeof(text));
    }
    return mqg_child_tick(c, now, text);
}

#define S_WAIT_MAX_FDS 4

int mqg_child_wait(struct mqg_child *c, const int *fds, bool *ready, size_t n, int64_t timeout_us)
{
    struct pollfd p[2 + S_WAIT_MAX_FDS] = {
        {.fd = mqg_child_ctl_fd(c), .events = POLLIN},
        {.fd = c->sigfd, .events = POLLIN},
    };
    n = n > S_WAIT_MAX_FDS ? S_WAIT_MAX_FDS : n;
    for (size_t i = 0; i < n; i++) {
        p[2 + i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        ready[i] = false;
    }
    struct timespec ts = {.tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000};
    if (ppoll(p, 2 + n, timeout_us < 0 ? NULL : &ts, NULL) < 0 && errno != EINTR) {
        return -errno;
    }
    if (p[0].revents) {
        mqg_child_on_ctl(c);
    }
    if (p[1].revents) {
        mqg_child_on_signal(c);
    }
    for (size_t i = 0; i < n; i++) {
        ready[i] = p[2 + i].revents != 0;
    }
    return 0;
}

void mqg_child_free(struct mqg_child *c)
{
    mqg_model_free(&c->model);
    if (c->update) {
        mqg_model_free(c->update);
        free(c->update);
        c->update = NULL;
    }
    mqg_ctl_free(&c->ctl);
    if (c->sigfd >= 0) {
        close(c->sigfd);
        c->sigfd = -1;
    }
}
