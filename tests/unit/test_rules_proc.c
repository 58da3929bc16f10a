/* test_rules_proc — bin/mqgate-rules as the supervisor and the router see it: started with a
 * control channel on fd 3 and a model holding the rules connection, it comes up (READY), says
 * its "broker" is connected (LINK up) and stays so, and confirms a tracked copy from the router
 * (ACK DONE) after its rules ran; TERM stops it with exit 0.
 *
 * The model has no routes, so the copy finds none (RULE-NO-ROUTE): what is checked here is the
 * connector's life cycle over rules_link, not the rules (test_chain; tests/integration/it_rules.py
 * runs them in the whole gateway). Built only with MQG_RULES.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_bus.h"
#include "mqg_ctl.h"
#include "mqg_model.h"
#include "mqg_proc.h"
#include "mqg_wire.h"

struct fake {
    struct mqg_bus *bus;
    char peer[256];
    size_t peer_len;
    bool hello, link_up, sent, done;
    int link_downs;
};

/* One message from the connector. */
static void s_on_msg(struct fake *f, const struct mqg_bus_msg *m)
{
    if (m->peer_len < sizeof(f->peer)) {
        memcpy(f->peer, m->peer, m->peer_len);
        f->peer_len = m->peer_len;
    }
    if (m->hdr.kind == MQG_MSG_HELLO) {
        f->hello = true;
        struct mqg_wire_hdr h = {.kind = MQG_MSG_READY, .seq = 7};
        assert_int_equal(mqg_bus_send_hdr(f->bus, f->peer, f->peer_len, &h), 0);
    } else if (m->hdr.kind == MQG_MSG_LINK) {
        f->link_up = m->hdr.qos == 1;
        f->link_downs += m->hdr.qos == 0 && f->sent;
    } else if (m->hdr.kind == MQG_MSG_ACK) {
        size_t off = 0;
        struct mqg_wire_ack a;
        while (mqg_bus_msg_next_ack(m, &off, &a)) {
            if (a.type == MQG_ACK_DONE && a.idx == 0 && a.seq == 1) {
                f->done = true;
            }
        }
    }
}

/* A tracked copy of source 0's message seq 1, for the route with rid 0000000000000001. */
static void s_send_copy(struct fake *f)
{
    static const char topic[] = "0000000000000001/plant/x";
    struct mqg_wire_rec rec = {.flags = MQG_WIRE_F_TRACK,
                               .qos = 1,
                               .topic = topic,
                               .topic_len = sizeof(topic) - 1,
                               .payload = "{\"v\":1}",
                               .payload_len = 7,
                               .src = 0,
                               .seq = 1};
    uint8_t body[256];
    mqg_wire_rec_encode(&rec, body);
    assert_int_equal(
        mqg_bus_send_batch(f->bus, f->peer, f->peer_len, 1, body, mqg_wire_rec_bytes(&rec)), 0);
    f->sent = true;
}

static void s_model(struct mqg_model *m)
{
    static struct mqg_connection conns[2] = {
        {.service_id = "svc",
         .id = "broker",
         .key = "svc/broker",
         .host = "127.0.0.1",
         .port = 1,
         .uri = "tcp://127.0.0.1:1",
         .client_id = "b",
         .clean = true,
         .keepalive_s = 60,
         .connect_timeout_ms = 1000,
         .reconnect_period_ms = 1000,
         .protocol_version = 4,
         .target_connected = true,
         .buffer_window_ms = 10000,
         .max_buffered = 1000},
        {.service_id = MQG_RULES_SERVICE,
         .id = MQG_RULES_ID,
         .key = MQG_RULES_KEY,
         .host = "rules",
         .uri = "rules://engine",
         .client_id = "r",
         .clean = true,
         .keepalive_s = 60,
         .connect_timeout_ms = 1000,
         .reconnect_period_ms = 1000,
         .protocol_version = 4,
         .target_connected = true,
         .buffer_window_ms = 10000,
         .max_buffered = 1000,
         .rules_engine = true,
         .rules_time_limit_ms = 300},
    };
    mqg_model_init(m);
    m->conns = conns;
    m->n_conns = 2;
}

static pid_t s_start(int ctl, const char *bus, const char *dir)
{
    char state[512];
    snprintf(state, sizeof(state), "--state-dir=%s/state", dir);
    char rundir[512];
    snprintf(rundir, sizeof(rundir), "--rundir=%s", dir);
    char busarg[512];
    snprintf(busarg, sizeof(busarg), "--bus=%s", bus);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ctl, MQG_CTL_FD);
        execl(MQG_RULES_BIN, MQG_RULES_BIN, "--key=" MQG_RULES_KEY, busarg, rundir, state,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Serve the connector until cond or ms passed; heartbeats to it on the control channel. */
static void s_serve(struct fake *f, struct mqg_ctl *ctl, int ms, bool *cond)
{
    int64_t end = mqg_now_ms() + ms, hb = 0;
    while (!*cond && mqg_now_ms() < end) {
        if (mqg_now_ms() >= hb) {
            mqg_ctl_send(ctl->fd, MQG_CTL_HEARTBEAT, NULL, 0, MSG_DONTWAIT);
            hb = mqg_now_ms() + 300;
        }
        struct pollfd p[2] = {{.fd = mqg_bus_fd(f->bus), .events = POLLIN},
                              {.fd = ctl->fd, .events = POLLIN}};
        poll(p, 2, 20);
        uint8_t kind;
        const uint8_t *body;
        size_t len;
        if (mqg_ctl_fill(ctl) >= 0) {
            while (mqg_ctl_next(ctl, &kind, &body, &len) == 1) {
            }
        }
        struct mqg_bus_msg m;
        while (mqg_bus_recv(f->bus, &m) == 0) {
            s_on_msg(f, &m);
            mqg_bus_msg_close(&m);
        }
    }
}

static void test_process(void **state)
{
    char dir[] = "/tmp/test_rules_proc.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char bus[600];
    snprintf(bus, sizeof(bus), "%s/state", dir);
    assert_int_equal(mqg_mkdir_p(bus, 0700), 0); /* the supervisor makes it */
    snprintf(bus, sizeof(bus), "ipc://%s/bus", dir);
    struct fake f = {0};
    assert_int_equal(mqg_bus_bind(bus, MQG_BUS_HWM, &f.bus), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    setenv("MQG_JSONATA_JS", MQG_JSONATA_JS, 1);
    pid_t pid = s_start(sv[1], bus, dir);
    assert_true(pid > 0);
    close(sv[1]);

    struct mqg_model m;
    s_model(&m);
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(mqg_model_encode(&m, &enc, &len), 0);
    assert_int_equal(mqg_ctl_send(sv[0], MQG_CTL_CONFIG, enc, len, 0), 0);
    free(enc);
    struct mqg_ctl ctl;
    mqg_ctl_init(&ctl, sv[0]);
    mqg_set_nonblock(sv[0]);

    s_serve(&f, &ctl, 20000, &f.link_up);
    assert_true(f.hello);
    assert_true(f.link_up);
    /* what `systemctl kill -s USR1` (log reopen) sends every process of the unit */
    assert_int_equal(kill(pid, SIGUSR1), 0);
    s_serve(&f, &ctl, 300, &f.done);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
    s_send_copy(&f);
    s_serve(&f, &ctl, 10000, &f.done);
    assert_true(f.done);
    bool never = false;
    s_serve(&f, &ctl, 1500, &never); /* stays up */
    assert_true(f.link_up);
    assert_int_equal(f.link_downs, 0);

    mqg_ctl_send(sv[0], MQG_CTL_TERM, NULL, 0, 0);
    int st = 0;
    for (int i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        s_serve(&f, &ctl, 10, &never);
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    mqg_ctl_free(&ctl);
    close(sv[0]);
    mqg_bus_destroy(&f.bus);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_process)};
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
