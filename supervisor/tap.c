/* tap — `mqgate tap` (see tap.h): connects to the router's tap socket in the runtime directory
 * of a running gateway, prints the messages whose topic matches a filter (mqg_tap.h), and says
 * how many it missed.
 *
 * The router offers copies only while a tap listens, never waits for one (ZeroMQ drops what a
 * tap's full pipe cannot take) and numbers them, so a tap that is slow, stopped or killed costs
 * the data path nothing and sees how many it missed from the gaps in the numbers.
 */
#include "tap.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_bus.h"
#include "mqg_error.h"
#include "mqg_proc.h"
#include "mqg_tap.h"
#include "mqg_topic.h"
#include "rundir.h"
#include "supervisor.h"

/* How often the tap checks that the gateway still runs. */
#define S_ALIVE_MS 1000
/* Frames the tap's own pipe holds (besides the router's side) before ZeroMQ drops. */
#define S_TAP_HWM 1000

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

struct s_tap {
    const struct tap_opts *o;
    struct mqg_bus *bus;
    uint8_t *buf;
    struct mqg_tap_gaps gaps;
    uint64_t shown;
};

/* Whether the gateway of these settings runs; prints why not. */
static bool s_running(const struct mqg_settings *s, bool first)
{
    pid_t pid;
    uid_t uid;
    if (rundir_lock_holder(s, &pid, &uid) == 0) {
        return true;
    }
    if (first) {
        fprintf(stderr, "mqgate: instance '%s' is not running: no gateway to tap\n", s->instance);
    } else {
        fprintf(stderr, "mqgate: instance '%s' stopped\n", s->instance);
    }
    return false;
}

/* Print the messages of one frame that match; 1 when --count is reached, -1 when stdout
 * failed, else 0. */
static int s_frame(struct s_tap *t, const uint8_t *buf, size_t len)
{
    struct mqg_tap_view v;
    if (mqg_tap_open(buf, len, &v) != 0) {
        return 0;
    }
    uint64_t missed = mqg_tap_gaps_frame(&t->gaps, &v);
    if (missed) {
        fprintf(stderr, "mqgate: tap: missed %llu messages (too slow; %llu so far)\n",
                (unsigned long long)missed, (unsigned long long)t->gaps.missed);
    }
    struct mqg_tap_fmt fmt = {.json = t->o->json, .max_bytes = t->o->max_bytes};
    size_t off = 0;
    struct mqg_tap_msg m;
    while (mqg_tap_next(&v, &off, &m) == 1) {
        if (!mqg_tap_match(t->o->filters, t->o->n_filters, m.topic, m.topic_len)) {
            continue;
        }
        mqg_tap_print(stdout, &fmt, v.wall_ms, &m);
        t->shown++;
        if (fflush(stdout) != 0) {
            return -1;
        }
        if (t->o->count && t->shown >= t->o->count) {
            return 1;
        }
    }
    return 0;
}

/* Read and print until --count, a signal, a failed stdout or the gateway's end. */
static int s_loop(struct s_tap *t, const struct mqg_settings *s)
{
    int64_t alive_at = mqg_now_ms() + S_ALIVE_MS;
    while (!s_stop) {
        size_t len;
        int rc = mqg_bus_tap_recv(t->bus, t->buf, MQG_TAP_FRAME_MAX, &len);
        if (rc == 0 || rc == -EMSGSIZE) {
            if (rc == 0 && (rc = s_frame(t, t->buf, len)) != 0) {
                return rc > 0 ? MQG_EXIT_OK : MQG_EXIT_TRANSIENT;
            }
            continue;
        }
        if (rc != -EAGAIN) {
            fprintf(stderr, "mqgate: tap: %s\n", strerror(-rc));
            return MQG_EXIT_TRANSIENT;
        }
        int64_t now = mqg_now_ms();
        if (now >= alive_at) {
            if (!s_running(s, false)) {
                return MQG_EXIT_TRANSIENT;
            }
            alive_at = now + S_ALIVE_MS;
        }
        struct pollfd p = {.fd = mqg_bus_fd(t->bus), .events = POLLIN};
        poll(&p, 1, 100); /* ZeroMQ's fd is edge-triggered: look again at least this often */
    }
    return MQG_EXIT_OK;
}

static int s_check_filters(const struct tap_opts *o)
{
    if (o->n_filters == 0) {
        fprintf(stderr, "mqgate: error: tap needs at least one MQTT filter, e.g. 'services/#'; "
                        "see `mqgate tap --help`\n");
        return MQG_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->n_filters; i++) {
        if (!mqg_topic_valid_filter(o->filters[i])) {
            fprintf(stderr, "mqgate: error: %s: not a valid MQTT filter; see `mqgate tap --help`\n",
                    o->filters[i]);
            return MQG_EXIT_USAGE;
        }
    }
    return 0;
}

int supervisor_tap(const struct mqg_settings *s, const struct tap_opts *o)
{
    char dir[512], ep[600];
    int rc = s_check_filters(o);
    if (rc != 0 || supervisor_instance_dir(s, dir, sizeof(dir)) != 0) {
        return rc ? rc : MQG_EXIT_USAGE;
    }
    if (!s_running(s, true)) {
        return MQG_EXIT_TRANSIENT;
    }
    snprintf(ep, sizeof(ep), "ipc://%s/tap", dir);
    struct s_tap t = {.o = o, .buf = malloc(MQG_TAP_FRAME_MAX)};
    if (!t.buf || (rc = mqg_bus_tap_connect(ep, S_TAP_HWM, &t.bus)) != 0) {
        fprintf(stderr, "mqgate: tap: cannot connect to %s: %s\n", ep,
                strerror(t.buf ? -rc : ENOMEM));
        free(t.buf);
        return MQG_EXIT_TRANSIENT;
    }
    struct sigaction sa = {.sa_handler = s_on_signal, .sa_flags = SA_RESTART};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = s_loop(&t, s);
    if (rc != MQG_EXIT_TRANSIENT) {
        fprintf(stderr, "mqgate: tap: %llu messages shown, %llu missed\n",
                (unsigned long long)t.shown, (unsigned long long)t.gaps.missed);
    }
    mqg_bus_destroy(&t.bus);
    free(t.buf);
    return rc;
}
