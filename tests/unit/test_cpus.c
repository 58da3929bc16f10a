/* test_cpus — unit tests of mqg_cpus: the cpu_affinity setting ("auto", "none", "0,2-3"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "mqg_cpus.h"

static cpu_set_t s_set(const char *list)
{
    struct mqg_cpus c;
    char msg[200];
    assert_int_equal(mqg_cpus_parse(list, &c, msg, sizeof(msg)), 0);
    assert_int_equal(c.mode, MQG_CPUS_LIST);
    return c.list;
}

static void s_assert_format(const cpu_set_t *set, const char *want)
{
    char buf[256];
    mqg_cpus_format(set, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_keywords(void **state)
{
    struct mqg_cpus c;
    char msg[200];
    assert_int_equal(mqg_cpus_parse("auto", &c, msg, sizeof(msg)), 0);
    assert_int_equal(c.mode, MQG_CPUS_AUTO);
    assert_int_equal(mqg_cpus_parse("none", &c, msg, sizeof(msg)), 0);
    assert_int_equal(c.mode, MQG_CPUS_NONE);
}

static void test_lists_and_ranges(void **state)
{
    static const struct {
        const char *in, *out;
        int count;
    } cases[] = {
        {"0", "0", 1},         {"3", "3", 1},   {"0,2-3", "0,2-3", 3},     {"2-3,0", "0,2-3", 3},
        {"1,1,1", "1", 1},     {"0-0", "0", 1}, {"5-7,1-2", "1-2,5-7", 5}, {"1023", "1023", 1},
        {"0,1,2,3", "0-3", 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cpu_set_t set = s_set(cases[i].in);
        assert_int_equal(CPU_COUNT(&set), cases[i].count);
        s_assert_format(&set, cases[i].out);
    }
}

static void test_bad_text(void **state)
{
    static const char *const bad[] = {
        "",    "Auto", "x",    "1,",     ",1",   "1-", "-1", "3-1", "1 2",
        "1;2", "0x1",  "1024", "0-1024", "1,,2", " 1", "1 ", "one", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mqg_cpus c;
        char msg[200] = "";
        if (mqg_cpus_parse(bad[i], &c, msg, sizeof(msg)) != -EINVAL) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
        assert_non_null(strstr(msg, "expected \"auto\", \"none\" or CPU numbers"));
        assert_non_null(strstr(msg, bad[i]));
    }
}

static void test_resolve(void **state)
{
    cpu_set_t allowed = s_set("0-3"), out;
    struct mqg_cpus c = {.mode = MQG_CPUS_AUTO};
    /* auto: one CPU, the highest allowed */
    assert_int_equal(mqg_cpus_resolve(&c, &allowed, &out), 1);
    s_assert_format(&out, "3");
    cpu_set_t gap = s_set("0,5,9");
    assert_int_equal(mqg_cpus_resolve(&c, &gap, &out), 1);
    s_assert_format(&out, "9");
    /* none: nothing to change */
    c.mode = MQG_CPUS_NONE;
    assert_int_equal(mqg_cpus_resolve(&c, &allowed, &out), 0);
    /* a list: what of it is allowed */
    c.mode = MQG_CPUS_LIST;
    c.list = s_set("2-5");
    assert_int_equal(mqg_cpus_resolve(&c, &allowed, &out), 1);
    s_assert_format(&out, "2-3");
    c.list = s_set("6,8");
    assert_int_equal(mqg_cpus_resolve(&c, &allowed, &out), -ENXIO);
    /* auto with nothing allowed leaves it to the kernel */
    cpu_set_t empty;
    CPU_ZERO(&empty);
    c.mode = MQG_CPUS_AUTO;
    assert_int_equal(mqg_cpus_resolve(&c, &empty, &out), 0);
}

static void test_format_truncates(void **state)
{
    cpu_set_t set = s_set("0,2,4,6,8,10,12,14");
    char buf[8];
    mqg_cpus_format(&set, buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
    assert_string_equal(buf, "0,2,4,6");
    CPU_ZERO(&set);
    s_assert_format(&set, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keywords),         cmocka_unit_test(test_lists_and_ranges),
        cmocka_unit_test(test_bad_text),         cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_format_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
