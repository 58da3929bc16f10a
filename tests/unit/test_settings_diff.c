/* test_settings_diff — unit tests of mqg_settings_diff: every setting of mqgate.cfg, changed
 * alone in a file read by mqg_settings_load, is found with its name and its class (how a
 * reload applies it); several at once; nothing for the same file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_settings.h"
#include "mqg_settings_desc.h"
#include "mqg_settings_diff.h"

/* Settings read from text (written to a temporary file). */
static void s_load(const char *text, struct mqg_settings *s)
{
    char dir[64] = "/tmp/test_settings_diff.XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mqgate.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct mqg_error err;
    int rc = mqg_settings_load(path, s, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", text, err.msg);
    }
    assert_int_equal(rc, 0);
    unlink(path);
    rmdir(dir);
}

struct s_case {
    const char *text; /* the new file; the running one is empty (defaults) */
    const char *name;
    enum mqg_sd_class how;
};

static const struct s_case s_cases[] = {
    {"instance = \"other\";", "instance", MQG_SD_REFUSED},
    {"runtime_dir = \"/tmp/elsewhere\";", "runtime_dir", MQG_SD_REFUSED},
    {"state_dir = \"/tmp/elsewhere-state\";", "state_dir", MQG_SD_REFUSED},
    {"cpu_affinity = \"none\";", "cpu_affinity", MQG_SD_REFUSED},
    {"log = { level = \"debug\"; };", "log.level", MQG_SD_IN_PLACE},
    {"log_file = \"/tmp/x.log\";", "log.file", MQG_SD_IN_PLACE},
    {"http = { listen = \"127.0.0.1:9100\"; };", "http.listen", MQG_SD_IN_PLACE},
    {"http = { health_disconnected_s = 9; };", "http.health_disconnected_s", MQG_SD_IN_PLACE},
    {"restart = { backoff_ms = 100; };", "restart.backoff_ms", MQG_SD_IN_PLACE},
    {"restart = { backoff_max_ms = 1000; };", "restart.backoff_max_ms", MQG_SD_IN_PLACE},
    {"restart = { max = 3; };", "restart.max", MQG_SD_IN_PLACE},
    {"restart = { window_s = 3; };", "restart.window_s", MQG_SD_IN_PLACE},
    {"restart = { failed_retry_s = 3; };", "restart.failed_retry_s", MQG_SD_IN_PLACE},
    {"restart = { stable_after_s = 3; };", "restart.stable_after_s", MQG_SD_IN_PLACE},
    {"stop_grace_ms = 100;", "stop_grace_ms", MQG_SD_IN_PLACE},
    {"connector = { outbound_queue_max = 7; };", "connector.outbound_queue_max", MQG_SD_CONNECTORS},
    {"connector = { outbound_queue_max_bytes = 70000; };", "connector.outbound_queue_max_bytes",
     MQG_SD_CONNECTORS},
    {"connector = { max_inflight = 7; };", "connector.max_inflight", MQG_SD_CONNECTORS},
    /* (the journal's default queue bounds kept: without it the defaults are larger) */
    {"journal = { enabled = false; };\n"
     "connector = { outbound_queue_max = 20000; outbound_queue_max_bytes = 16777216; };\n"
     "router = { queue_max = 20000; queue_max_bytes = 16777216; };",
     "journal.enabled", MQG_SD_CONNECTORS},
    {"journal = { max_bytes = 2000000; };", "journal.max_bytes", MQG_SD_CONNECTORS},
    {"journal = { sync = \"always\"; };", "journal.sync", MQG_SD_CONNECTORS},
    {"journal = { sync_interval_ms = 7; };", "journal.sync_interval_ms", MQG_SD_CONNECTORS},
    {"journal = { full_wait_ms = 7; };", "journal.full_wait_ms", MQG_SD_CONNECTORS},
    {"router = { queue_max = 7; };", "router.queue_max", MQG_SD_ROUTER},
    {"router = { queue_max_bytes = 70000; };", "router.queue_max_bytes", MQG_SD_ROUTER},
    {"heartbeat = { interval_ms = 700; };", "heartbeat.interval_ms", MQG_SD_ALL},
    {"heartbeat = { misses = 7; };", "heartbeat.misses", MQG_SD_ALL},
    {"internal_broker = { listen = \"127.0.0.1:1999\"; };", "internal_broker.listen",
     MQG_SD_BROKER},
    {"internal_broker = { mosquitto = \"/usr/sbin/mosquitto\"; };", "internal_broker.mosquitto",
     MQG_SD_BROKER},
    {"internal_broker = { mode = \"off\"; };", "internal_broker.mode", MQG_SD_BROKER},
    {"internal_broker = { listeners = ( { listen = \"127.0.0.1:1998\"; } ); };",
     "internal_broker.listeners", MQG_SD_BROKER},
    {"rules = { time_limit_ms = 300; };", "rules.time_limit_ms", MQG_SD_MODEL},
};

/* Each setting alone: one change, with its name and class; `how` is that class. */
static void test_each_setting_alone(void **state)
{
    (void)state;
    struct mqg_settings a;
    assert_int_equal(mqg_settings_defaults(&a), 0);
    for (size_t i = 0; i < sizeof(s_cases) / sizeof(s_cases[0]); i++) {
        struct mqg_settings b;
        struct mqg_settings_diff d;
        s_load(s_cases[i].text, &b);
        mqg_settings_diff(&a, &b, &d);
        if (d.n != 1 || strcmp(d.change[0].name, s_cases[i].name) != 0) {
            fail_msg("%s: %zu changes, first %s", s_cases[i].text, d.n,
                     d.n ? d.change[0].name : "-");
        }
        assert_int_equal(d.change[0].how, s_cases[i].how);
        assert_int_equal(d.how, (unsigned)s_cases[i].how);
        mqg_settings_free(&b);
    }
    mqg_settings_free(&a);
}

/* Every row of the settings table has a class (or is one of the rows classed otherwise), and
 * each class is tested above: a new setting cannot be forgotten by reloads or by this test. */
static void test_every_setting_has_a_class(void **state)
{
    (void)state;
    size_t n;
    const struct mqg_setting_desc *t = mqg_settings_descs(&n);
    assert_true(n > 30);
    for (size_t i = 0; i < n; i++) {
        if (!t[i].how) {
            if (strcmp(t[i].path, "log_file") != 0 && strncmp(t[i].path, "internal_broker.", 16)) {
                fail_msg("setting %s has no class", t[i].path);
            }
            continue;
        }
        bool tested = false;
        for (size_t k = 0; k < sizeof(s_cases) / sizeof(s_cases[0]); k++) {
            tested |= strcmp(s_cases[k].name, t[i].path) == 0 && s_cases[k].how == t[i].how;
        }
        if (!tested) {
            fail_msg("setting %s: no case in s_cases with its class", t[i].path);
        }
    }
}

/* The same file twice: nothing changed (services are not compared: they are in the model). */
static void test_same_is_nothing(void **state)
{
    (void)state;
    const char *text = "log = { level = \"warn\"; };\nhttp = { listen = \"127.0.0.1:9100\"; };\n"
                       "internal_broker = { listen = \"127.0.0.1:1999\"; };\n";
    struct mqg_settings a, b;
    struct mqg_settings_diff d;
    s_load(text, &a);
    s_load(text, &b);
    mqg_settings_diff(&a, &b, &d);
    assert_int_equal(d.n, 0);
    assert_int_equal(d.how, 0);
    mqg_settings_free(&a);
    mqg_settings_free(&b);
}

/* Several changes: the union of their classes; the names of one class, in order. */
static void test_several_and_names(void **state)
{
    (void)state;
    struct mqg_settings a, b;
    struct mqg_settings_diff d;
    char names[200];
    assert_int_equal(mqg_settings_defaults(&a), 0);
    s_load("log = { level = \"debug\"; };\nstop_grace_ms = 100;\n"
           "connector = { max_inflight = 7; outbound_queue_max = 9; };\n"
           "instance = \"x\";\n",
           &b);
    mqg_settings_diff(&a, &b, &d);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.how, MQG_SD_IN_PLACE | MQG_SD_CONNECTORS | MQG_SD_REFUSED);
    assert_int_equal(mqg_settings_diff_names(&d, MQG_SD_IN_PLACE, names, sizeof(names)), 2);
    assert_string_equal(names, "log.level, stop_grace_ms");
    assert_int_equal(mqg_settings_diff_names(&d, MQG_SD_CONNECTORS, names, sizeof(names)), 2);
    assert_string_equal(names, "connector.outbound_queue_max, connector.max_inflight");
    assert_int_equal(mqg_settings_diff_names(&d, MQG_SD_REFUSED, names, sizeof(names)), 1);
    assert_string_equal(names, "instance");
    assert_int_equal(mqg_settings_diff_names(&d, MQG_SD_BROKER, names, sizeof(names)), 0);
    assert_string_equal(names, "");
    /* a short buffer stays terminated */
    assert_int_equal(mqg_settings_diff_names(&d, MQG_SD_CONNECTORS, names, 10), 2);
    assert_true(strlen(names) < 10);
    mqg_settings_free(&a);
    mqg_settings_free(&b);
}

/* The internal broker: the external broker's connection settings are class model (the
 * model's plan restarts that connection); listen settings of a broker that is not embedded
 * before or after mean nothing. */
static void test_internal_broker_classes(void **state)
{
    (void)state;
    struct mqg_settings a, b;
    struct mqg_settings_diff d;
    s_load("internal_broker = { mode = \"external\"; url = \"mqtt://127.0.0.1:1883\"; };", &a);
    s_load("internal_broker = { mode = \"external\"; url = \"mqtt://127.0.0.1:1884\"; "
           "listen = \"127.0.0.1:1999\"; };",
           &b);
    mqg_settings_diff(&a, &b, &d);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.change[0].name, "internal_broker.url");
    assert_int_equal(d.how, MQG_SD_MODEL);
    mqg_settings_free(&b);
    s_load("internal_broker = { listen = \"127.0.0.1:1999\"; };", &b);
    mqg_settings_diff(&a, &b, &d); /* external -> embedded: the broker starts; only the mode */
    assert_int_equal(d.n, 1);
    assert_string_equal(d.change[0].name, "internal_broker.mode");
    assert_int_equal(d.how, MQG_SD_BROKER);
    mqg_settings_diff(&b, &a, &d); /* and back: the broker stops */
    assert_int_equal(d.n, 1);
    assert_int_equal(d.how, MQG_SD_BROKER);
    mqg_settings_free(&b);
    s_load("internal_broker = { mode = \"off\"; url = \"mqtt://127.0.0.1:1884\"; };", &b);
    mqg_settings_diff(&a, &b, &d); /* external -> off: its connection goes (the model) */
    assert_int_equal(d.n, 1);
    assert_int_equal(d.how, MQG_SD_MODEL);
    mqg_settings_free(&a);
    s_load("internal_broker = { mode = \"off\"; listen = \"127.0.0.1:1999\"; };", &a);
    mqg_settings_diff(&a, &b, &d); /* off and off: nothing, whatever else changed */
    assert_int_equal(d.n, 0);
    mqg_settings_free(&a);
    mqg_settings_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_setting_alone),
        cmocka_unit_test(test_every_setting_has_a_class),
        cmocka_unit_test(test_same_is_nothing),
        cmocka_unit_test(test_several_and_names),
        cmocka_unit_test(test_internal_broker_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
