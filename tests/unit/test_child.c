/* test_child — the child side of the supervisor protocol: heartbeats during set-up, a new log
 * level (MQG_CTL_LOG_LEVEL).
 *
 * The child's end of the control channel is one end of a real socketpair; the test reads
 * what the child sends from the other end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_child.h"
#include "mqg_ctl.h"
#include "mqg_log.h"
#include "mqg_proc.h"

/* Set up as mqg_child_init leaves a child after reading its configuration. */
static void s_child(struct mqg_child *c, int fd, int heartbeat_ms)
{
    memset(c, 0, sizeof(*c));
    c->role = "connector";
    c->heartbeat_ms = heartbeat_ms;
    c->heartbeat_misses = 3;
    c->sigfd = -1;
    mqg_model_init(&c->model);
    mqg_ctl_init(&c->ctl, fd);
    c->last_rx_ms = mqg_now_ms();
    c->last_hb_ms = 0;
}

/* The next message on fd, if one is there: 1 with kind and body, 0 if none. */
static int s_next(struct mqg_ctl *rx, uint8_t *kind, char *body, size_t cap)
{
    const uint8_t *b;
    size_t len;
    (void)mqg_ctl_fill(rx);
    int n = mqg_ctl_next(rx, kind, &b, &len);
    if (n == 1) {
        assert_true(len < cap);
        memcpy(body, b, len);
        body[len] = '\0';
    }
    return n;
}

/* Long set-up work calls mqg_child_progress(): the first call sends a heartbeat at once (the
 * supervisor has heard nothing since it started the child), later ones once per interval. */
static void test_progress_sends_heartbeats_while_starting(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mqg_set_nonblock(sv[1]), 0);
    struct mqg_ctl rx;
    mqg_ctl_init(&rx, sv[1]);
    struct mqg_child c;
    s_child(&c, sv[0], 100);
    uint8_t kind;
    char body[64];

    mqg_child_progress(&c);
    assert_int_equal(s_next(&rx, &kind, body, sizeof(body)), 1);
    assert_int_equal(kind, MQG_CTL_HEARTBEAT);
    assert_string_equal(body, "state=starting");
    mqg_child_progress(&c); /* not due yet */
    assert_int_equal(s_next(&rx, &kind, body, sizeof(body)), 0);
    int64_t until = mqg_now_ms() + 350;
    int beats = 0;
    while (mqg_now_ms() < until) { /* busy "work" for 3.5 intervals */
        mqg_child_progress(&c);
        while (s_next(&rx, &kind, body, sizeof(body)) == 1) {
            assert_int_equal(kind, MQG_CTL_HEARTBEAT);
            beats++;
        }
    }
    assert_in_range(beats, 1, 4); /* about 3; never more than one per interval */
    /* ready: the first status goes out at the next tick, with the real status text */
    mqg_child_ready(&c);
    assert_int_equal(s_next(&rx, &kind, body, sizeof(body)), 1);
    assert_int_equal(kind, MQG_CTL_READY);
    c.last_rx_ms = mqg_now_ms(); /* the supervisor is not silent */
    mqg_child_tick(&c, mqg_now_ms(), "state=down");
    assert_int_equal(s_next(&rx, &kind, body, sizeof(body)), 1);
    assert_string_equal(body, "state=down");

    mqg_child_free(&c);
    mqg_ctl_free(&rx);
    close(sv[0]);
    close(sv[1]);
}

/* MQG_CTL_LOG_LEVEL (a reload changed log.level) sets the child's level; a body of another
 * length or an unknown level is ignored; the child does not stop for it. */
static void test_log_level_message(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mqg_set_nonblock(sv[0]), 0);
    struct mqg_child c;
    s_child(&c, sv[0], 1000);
    int before = mqg_log_threshold;
    mqg_log_threshold = MQG_LOG_INFO;
    uint8_t level = MQG_LOG_DEBUG, bad = 9, two[2] = {MQG_LOG_ERROR, MQG_LOG_ERROR};
    assert_int_equal(mqg_ctl_send(sv[1], MQG_CTL_LOG_LEVEL, &level, 1, 0), 0);
    mqg_child_on_ctl(&c);
    assert_int_equal(mqg_log_threshold, MQG_LOG_DEBUG);
    assert_int_equal(mqg_ctl_send(sv[1], MQG_CTL_LOG_LEVEL, &bad, 1, 0), 0);
    assert_int_equal(mqg_ctl_send(sv[1], MQG_CTL_LOG_LEVEL, two, 2, 0), 0);
    mqg_child_on_ctl(&c);
    assert_int_equal(mqg_log_threshold, MQG_LOG_DEBUG);
    level = MQG_LOG_WARN;
    assert_int_equal(mqg_ctl_send(sv[1], MQG_CTL_LOG_LEVEL, &level, 1, 0), 0);
    mqg_child_on_ctl(&c);
    assert_int_equal(mqg_log_threshold, MQG_LOG_WARN);
    assert_false(c.stop);
    mqg_log_threshold = before;
    mqg_child_free(&c);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_sends_heartbeats_while_starting),
        cmocka_unit_test(test_log_level_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
