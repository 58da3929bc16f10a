/* test_clientid — unit tests of mqg_clientid: the default client id is at most 23 bytes,
 * readable, stable for the same machine and instance, different for another instance or
 * machine, different for names that agree in their first 14 bytes; explicit ids stay.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_clientid.h"

#define MACHINE "3d1219c7c4c5404aaa1f6d2a48adfda4"

static void s_id(const char *machine, const char *instance, const char *sid, const char *cid,
                 char *out)
{
    assert_int_equal(
        mqg_clientid_default(machine, instance, sid, cid, out, MQG_CLIENT_ID_DEFAULT_MAX + 1), 0);
    assert_true(strlen(out) <= MQG_CLIENT_ID_DEFAULT_MAX);
}

/* "<prefix>-<8 lower-case hex>" */
static void s_assert_shape(const char *id, const char *prefix)
{
    size_t n = strlen(prefix);
    assert_int_equal(strlen(id), n + 9);
    assert_memory_equal(id, prefix, n);
    assert_int_equal(id[n], '-');
    for (size_t i = n + 1; i < n + 9; i++) {
        assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
    }
}

static void test_short_names_are_kept_whole(void **state)
{
    (void)state;
    char id[32];
    s_id(MACHINE, "mqgate", "itbridge", "plant", id);
    s_assert_shape(id, "itbridge-plant");
}

static void test_stable(void **state)
{
    (void)state;
    char a[32], b[32];
    s_id(MACHINE, "mqgate", "itbridge", "plant", a);
    s_id(MACHINE, "mqgate", "itbridge", "plant", b);
    assert_string_equal(a, b);
    /* the algorithm is part of the format (formats.md): persistent sessions depend on the id
     * keeping; checked against an independent computation of FNV-1a 64 of "m\ni\ns\nc" */
    s_id("m", "i", "s", "c", a);
    assert_string_equal(a, "s-c-319b5366");
}

static void test_unique_per_instance_and_machine(void **state)
{
    (void)state;
    char a[32], b[32], c[32];
    s_id(MACHINE, "gwa", "itbridge", "plant", a);
    s_id(MACHINE, "gwb", "itbridge", "plant", b);
    s_id("another-machine", "gwa", "itbridge", "plant", c);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(b, c);
    /* fields do not run into each other */
    s_id(MACHINE, "ab", "c", "plant", a);
    s_id(MACHINE, "a", "bc", "plant", b);
    assert_string_not_equal(a + 8, b + 8);
}

static void test_long_names_are_cut_but_stay_distinct(void **state)
{
    (void)state;
    char a[32], b[32];
    s_id(MACHINE, "mqgate", "plantbridge", "plantBroker", a);
    s_assert_shape(a, "plantbridge-pl");
    assert_int_equal(strlen(a), 23);
    s_id(MACHINE, "mqgate", "plantbridge", "plantBroker2", b);
    s_assert_shape(b, "plantbridge-pl");
    assert_string_not_equal(a, b);
    /* no "--" where the cut falls right after the separator */
    s_id(MACHINE, "mqgate", "thirteenchars", "x", a);
    s_assert_shape(a, "thirteenchars");
}

static void test_small_buffer(void **state)
{
    (void)state;
    char id[MQG_CLIENT_ID_DEFAULT_MAX];
    assert_int_equal(mqg_clientid_default(MACHINE, "i", "s", "c", id, sizeof(id)), -ENOSPC);
}

static void test_apply_changes_only_derived_ids(void **state)
{
    (void)state;
    struct mqg_model m;
    mqg_model_init(&m);
    struct mqg_connection conns[2];
    memset(conns, 0, sizeof(conns));
    conns[0].service_id = "svc";
    conns[0].id = "plant";
    conns[0].client_id = strdup("svc-plant");
    conns[0].client_id_derived = true;
    conns[1].service_id = "svc";
    conns[1].id = "cloud";
    conns[1].client_id = strdup("my-own-id");
    m.conns = conns;
    m.n_conns = 2;
    assert_int_equal(mqg_clientid_apply(&m, MACHINE, "gwa"), 0);
    char want[32];
    s_id(MACHINE, "gwa", "svc", "plant", want);
    assert_string_equal(conns[0].client_id, want);
    assert_string_equal(conns[1].client_id, "my-own-id");
    free(conns[0].client_id);
    free(conns[1].client_id);
}

static void test_machine(void **state)
{
    (void)state;
    char machine[256];
    assert_int_equal(mqg_clientid_machine(machine, sizeof(machine)), 0);
    assert_true(machine[0] != '\0');
    assert_null(strchr(machine, '\n'));
    char again[256];
    assert_int_equal(mqg_clientid_machine(again, sizeof(again)), 0);
    assert_string_equal(machine, again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_names_are_kept_whole),
        cmocka_unit_test(test_stable),
        cmocka_unit_test(test_unique_per_instance_and_machine),
        cmocka_unit_test(test_long_names_are_cut_but_stay_distinct),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_apply_changes_only_derived_ids),
        cmocka_unit_test(test_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
