/* test_health — unit tests of the rules of /health (supervisor/health.c), table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"

#define LIMIT 5000 /* disconnected_ms, the default 5 s */

static struct health_subject s_conn(bool connected, int64_t for_ms, int64_t idle_ms, int ka)
{
    return (struct health_subject){.role = "connector",
                                   .name = "svc/plant",
                                   .is_conn = true,
                                   .connected = connected,
                                   .for_ms = for_ms,
                                   .idle_ms = idle_ms,
                                   .keepalive_s = ka};
}

static void test_rules(void **state)
{
    (void)state;
    struct health_subject router = {.role = "router", .name = "router", .idle_ms = -1};
    struct health_subject router_failed = router;
    router_failed.failed = true;
    struct health_subject conn_config = s_conn(false, 100, -1, 60);
    conn_config.failed = conn_config.config = true;
    struct health_subject conn_failed_up = s_conn(true, 100, 0, 60);
    conn_failed_up.failed = true; /* a failed process wins over its connection's last state */
    static const int none = -1;
    const struct {
        const char *what;
        struct health_subject s;
        int why; /* enum health_reason, or none */
        int64_t for_ms, limit_ms;
    } cases[] = {
        {"router running", router, none, 0, 0},
        {"router failed", router_failed, HEALTH_FAILED, 0, 0},
        {"connector exited 78", conn_config, HEALTH_CONFIG, 0, 0},
        {"failed, last seen up", conn_failed_up, HEALTH_FAILED, 0, 0},
        {"connected, busy", s_conn(true, 600000, 10, 60), none, 0, 0},
        {"down, within the limit", s_conn(false, 4999, -1, 60), none, 0, 0},
        {"down, at the limit", s_conn(false, LIMIT, -1, 60), none, 0, 0},
        {"down, past the limit", s_conn(false, LIMIT + 1, -1, 60), HEALTH_DISCONNECTED, LIMIT + 1,
         LIMIT},
        {"idle, at twice the keepalive", s_conn(true, 900000, 120000, 60), none, 0, 0},
        {"stalled", s_conn(true, 900000, 120001, 60), HEALTH_STALLED, 120001, 120000},
        {"stalled, short keepalive", s_conn(true, 9000, 4001, 2), HEALTH_STALLED, 4001, 4000},
        {"idle, keepalive off", s_conn(true, 900000, 900000, 0), none, 0, 0},
        {"idle, no keepalive count", s_conn(true, 900000, -1, 60), none, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct health_problem p[2];
        size_t n = health_judge(&cases[i].s, 1, LIMIT, p, 2);
        if (cases[i].why == none) {
            if (n != 0) {
                fail_msg("%s: unhealthy (%s), want healthy", cases[i].what,
                         health_reason_name(p[0].why));
            }
            continue;
        }
        if (n != 1 || (int)p[0].why != cases[i].why || p[0].for_ms != cases[i].for_ms ||
            p[0].limit_ms != cases[i].limit_ms) {
            fail_msg("%s: got %zu problems (%s, %lld of %lld ms)", cases[i].what, n,
                     n ? health_reason_name(p[0].why) : "-", n ? (long long)p[0].for_ms : 0,
                     n ? (long long)p[0].limit_ms : 0);
        }
        assert_ptr_equal(p[0].who, &cases[i].s);
    }
}

/* All problems counted, in order; only cap of them written. */
static void test_several(void **state)
{
    (void)state;
    struct health_subject s[4] = {
        {.role = "router", .name = "router", .failed = true},
        s_conn(true, 1000, 10, 60),
        s_conn(false, 9000, -1, 60),
        s_conn(true, 900000, 500000, 60),
    };
    struct health_problem p[2];
    assert_int_equal(health_judge(s, 4, LIMIT, p, 2), 3);
    assert_ptr_equal(p[0].who, &s[0]);
    assert_ptr_equal(p[1].who, &s[2]);
    assert_int_equal(health_judge(s, 4, LIMIT, NULL, 0), 3);
    assert_int_equal(health_judge(s + 1, 1, LIMIT, p, 2), 0);
}

static void test_json(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    health_json(f, NULL, 0, 1, 2);
    fclose(f);
    assert_string_equal(out,
                        "{\"status\":\"ok\",\"problems\":[],\"processes\":1,\"connections\":2}\n");
    free(out);
    struct health_subject s = s_conn(false, 7500, -1, 60);
    s.name = "svc/\"odd\"";
    struct health_problem p;
    assert_int_equal(health_judge(&s, 1, LIMIT, &p, 1), 1);
    f = open_memstream(&out, &len);
    health_json(f, &p, 1, 1, 1);
    fclose(f);
    assert_non_null(strstr(out, "\"status\":\"unhealthy\""));
    assert_non_null(strstr(out, "\"name\":\"svc/\\\"odd\\\"\""));
    assert_non_null(strstr(out, "\"reason\":\"disconnected\",\"for_s\":7.500,\"limit_s\":5.000"));
    assert_non_null(strstr(out, "has not been connected for 7 s (limit 5 s)"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_several),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
