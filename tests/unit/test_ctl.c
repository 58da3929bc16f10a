/* test_ctl — control channel framing over a real socketpair. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_ctl.h"
#include "mqg_proc.h"

struct got {
    int n;
    uint8_t kinds[16];
    size_t lens[16];
    uint8_t first[16];
    uint8_t last[16];
};

static void s_collect(uint8_t kind, const uint8_t *body, size_t len, void *arg)
{
    struct got *g = arg;
    if (g->n < 16) {
        g->kinds[g->n] = kind;
        g->lens[g->n] = len;
        g->first[g->n] = len ? body[0] : 0;
        g->last[g->n] = len ? body[len - 1] : 0;
    }
    g->n++;
}

struct big_send {
    int fd;
    size_t len;
};

static void *s_sender(void *arg)
{
    struct big_send *b = arg;
    uint8_t *buf = malloc(b->len);
    memset(buf, 0xab, b->len);
    buf[0] = 1;
    buf[b->len - 1] = 2;
    mqg_ctl_send(b->fd, MQG_CTL_CONFIG, buf, b->len, 0);
    mqg_ctl_send(b->fd, MQG_CTL_READY, NULL, 0, 0);
    free(buf);
    return NULL;
}

static void test_messages_in_order_small_and_large(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(mqg_set_nonblock(sp[0]), 0);
    struct mqg_ctl c;
    mqg_ctl_init(&c, sp[0]);
    struct big_send b = {sp[1], 3 * 1024 * 1024}; /* larger than the socket buffer */
    pthread_t t;
    pthread_create(&t, NULL, s_sender, &b);
    struct got g = {0};
    for (int i = 0; i < 100000 && g.n < 2; i++) {
        assert_true(mqg_ctl_drain(&c, s_collect, &g) == 0);
        usleep(100);
    }
    pthread_join(t, NULL);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.kinds[0], MQG_CTL_CONFIG);
    assert_int_equal(g.lens[0], b.len);
    assert_int_equal(g.first[0], 1);
    assert_int_equal(g.last[0], 2);
    assert_int_equal(g.kinds[1], MQG_CTL_READY);
    assert_int_equal(g.lens[1], 0);

    /* end of file after a complete message: the message first, then -EPIPE */
    assert_int_equal(mqg_ctl_send(sp[1], MQG_CTL_HEARTBEAT, "state=up", 8, 0), 0);
    close(sp[1]);
    g.n = 0;
    assert_int_equal(mqg_ctl_drain(&c, s_collect, &g), -EPIPE);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kinds[0], MQG_CTL_HEARTBEAT);
    assert_int_equal(g.lens[0], 8);
    mqg_ctl_free(&c);
    close(sp[0]);
}

static void test_bad_lengths_are_rejected(void **state)
{
    (void)state;
    static const uint8_t zero_len[] = {0, 0, 0, 0, 1};
    static const uint8_t huge_len[] = {0xff, 0xff, 0xff, 0xff, 1};
    const uint8_t *cases[] = {zero_len, huge_len};
    for (int i = 0; i < 2; i++) {
        int sp[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        mqg_set_nonblock(sp[0]);
        assert_int_equal(write(sp[1], cases[i], 5), 5);
        struct mqg_ctl c;
        mqg_ctl_init(&c, sp[0]);
        struct got g = {0};
        assert_int_equal(mqg_ctl_drain(&c, s_collect, &g), -EPROTO);
        assert_int_equal(g.n, 0);
        mqg_ctl_free(&c);
        close(sp[0]);
        close(sp[1]);
    }
}

static void test_partial_message_waits(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    mqg_set_nonblock(sp[0]);
    static const uint8_t part1[] = {0, 0, 0, 4, MQG_CTL_HEARTBEAT, 'a'};
    static const uint8_t part2[] = {'b', 'c'};
    assert_int_equal(write(sp[1], part1, sizeof(part1)), (ssize_t)sizeof(part1));
    struct mqg_ctl c;
    mqg_ctl_init(&c, sp[0]);
    struct got g = {0};
    assert_int_equal(mqg_ctl_drain(&c, s_collect, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(write(sp[1], part2, sizeof(part2)), (ssize_t)sizeof(part2));
    assert_int_equal(mqg_ctl_drain(&c, s_collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.lens[0], 3);
    assert_int_equal(g.first[0], 'a');
    assert_int_equal(g.last[0], 'c');
    mqg_ctl_free(&c);
    close(sp[0]);
    close(sp[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_in_order_small_and_large),
        cmocka_unit_test(test_bad_lengths_are_rejected),
        cmocka_unit_test(test_partial_message_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
