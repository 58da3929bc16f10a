/* test_settings — unit tests of mqg_settings (libconfig settings file, etc/mqgate.cfg).
 *
 * Fixtures live in tests/data/settings-*.cfg (MQG_TEST_DATA); short error cases are written
 * to a temporary file by the test itself. Every error asserts file, line, column and setting.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_log.h"
#include "mqg_settings.h"

#define DATA MQG_TEST_DATA

/* ---- helpers ---- */

struct tmpcfg {
    char dir[64];
    char path[128];
};

/* Writes text to <fresh tmp dir>/mqgate.cfg. */
static void s_write_tmp(struct tmpcfg *t, const char *text)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/test_settings.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/mqgate.cfg", t->dir);
    FILE *f = fopen(t->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_remove_tmp(struct tmpcfg *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

static void s_assert_empty(const struct mqg_settings *s)
{
    struct mqg_settings zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(s, &zero, sizeof(zero));
}

/* The default runtime_dir of the user running the test (see s_default_runtime_dir). */
static const char *s_default_rundir(void)
{
    static char buf[PATH_MAX];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0) {
        return "/run/mqgate";
    }
    if (xdg && xdg[0] == '/') {
        snprintf(buf, sizeof(buf), "%s/mqgate", xdg);
    } else {
        snprintf(buf, sizeof(buf), "/tmp/mqgate-%u", (unsigned)geteuid());
    }
    return buf;
}

static void s_assert_defaults(const struct mqg_settings *s)
{
    assert_string_equal(s->instance, "mqgate");
    assert_string_equal(s->runtime_dir, s_default_rundir());
    assert_int_equal(s->log_level, MQG_LOG_INFO);
    assert_null(s->log_file);
    assert_int_equal(s->restart_backoff_ms, 250);
    assert_int_equal(s->restart_backoff_max_ms, 30000);
    assert_int_equal(s->restart_max, 10);
    assert_int_equal(s->restart_window_s, 60);
    assert_int_equal(s->restart_failed_retry_s, 60);
    assert_int_equal(s->stable_after_s, 10);
    assert_int_equal(s->heartbeat_ms, 1000);
    assert_int_equal(s->heartbeat_misses, 3);
    assert_int_equal(s->stop_grace_ms, 3000);
    /* the journal is on: the queues in memory are not the outage buffer */
    assert_int_equal(s->outbound_queue_max, 20000);
    assert_int_equal(s->max_inflight, 1000);
    assert_int_equal(s->router_queue_max, 20000);
    assert_int_equal(s->outbound_queue_max_bytes, 16 << 20);
    assert_int_equal(s->router_queue_max_bytes, 16 << 20);
    assert_int_equal(s->cpu_affinity.mode, MQG_CPUS_AUTO);
    assert_null(s->http_listen);
    assert_null(s->http_host);
    assert_int_equal(s->http_disconnected_s, 5);
    assert_null(s->services);
    assert_int_equal(s->n_services, 0);
    const struct mqg_ib_settings *ib = &s->internal_broker;
    assert_int_equal(ib->mode, MQG_IB_EMBEDDED);
    assert_string_equal(ib->listen_host, "127.0.0.1");
    assert_int_equal(ib->listen_port, 11883);
    assert_string_equal(ib->mosquitto, "mosquitto");
    assert_null(ib->password_file);
    assert_int_equal(ib->n_listeners, 0);
    assert_null(ib->url);
    assert_null(ib->username);
    assert_null(ib->password);
    assert_null(ib->ca_cert);
    assert_null(ib->client_cert);
    assert_null(ib->client_key);
    assert_false(ib->trust_all);
}

/* Loads text from a temp file, expects -EINVAL with the error at line/col/setting and a
 * message containing msg_part. */
static void s_expect_error(const char *text, int line, int col, const char *setting,
                           const char *msg_part)
{
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, text);
    int rc = mqg_settings_load(t.path, &s, &err);
    s_remove_tmp(&t); /* before any assert can end the test */
    if (rc != -EINVAL || err.line != line || err.col != col || strcmp(err.setting, setting) != 0 ||
        !strstr(err.msg, msg_part)) {
        print_error("input:\n%s\ngot rc=%d %s:%d:%d: %s: %s\n", text, rc, err.file, err.line,
                    err.col, err.setting, err.msg);
    }
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err.file, t.path);
    assert_int_equal(err.line, line);
    assert_int_equal(err.col, col);
    assert_string_equal(err.setting, setting);
    assert_non_null(strstr(err.msg, msg_part));
    s_assert_empty(&s);
}

/* ---- defaults and the shipped file ---- */

static void test_defaults(void **state)
{
    struct mqg_settings s;
    assert_int_equal(mqg_settings_defaults(&s), 0);
    s_assert_defaults(&s);
    mqg_settings_free(&s);
    s_assert_empty(&s);
    mqg_settings_free(&s); /* twice is fine */
    mqg_settings_free(NULL);
}

/* What another user gets: $XDG_RUNTIME_DIR/mqgate when it is set (absolute), else
 * /tmp/mqgate-<uid>; root gets /run/mqgate whatever XDG_RUNTIME_DIR says. Checked in a child
 * that drops to uid 65534 (root only). */
static int s_rundir_as(uid_t uid, const char *xdg, const char *want)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (uid != 0 && setresuid(uid, uid, uid) != 0) {
            _exit(3);
        }
        if (xdg) {
            setenv("XDG_RUNTIME_DIR", xdg, 1);
        } else {
            unsetenv("XDG_RUNTIME_DIR");
        }
        struct mqg_settings s;
        if (mqg_settings_defaults(&s) != 0) {
            _exit(2);
        }
        int ok = strcmp(s.runtime_dir, want) == 0;
        if (!ok) {
            fprintf(stderr, "runtime_dir %s, expected %s\n", s.runtime_dir, want);
        }
        mqg_settings_free(&s);
        _exit(ok ? 0 : 1);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_default_runtime_dir(void **state)
{
    if (geteuid() != 0) {
        skip();
    }
    assert_int_equal(s_rundir_as(0, "/run/user/0", "/run/mqgate"), 0);
    assert_int_equal(s_rundir_as(0, NULL, "/run/mqgate"), 0);
    assert_int_equal(s_rundir_as(65534, "/run/user/65534", "/run/user/65534/mqgate"), 0);
    assert_int_equal(s_rundir_as(65534, NULL, "/tmp/mqgate-65534"), 0);
    assert_int_equal(s_rundir_as(65534, "relative", "/tmp/mqgate-65534"), 0);
}

static void test_empty_file_is_defaults(void **state)
{
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, "# nothing set\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    s_assert_defaults(&s);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
}

static void test_shipped_cfg_is_defaults(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    int rc = mqg_settings_load(DATA "/../../etc/mqgate.cfg", &s, &err);
    if (rc != 0) {
        mqg_error_print(&err, stderr);
    }
    assert_int_equal(rc, 0);
    s_assert_defaults(&s);
    mqg_settings_free(&s);
}

/* ---- overrides ---- */

static void test_full_overrides(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    int rc = mqg_settings_load(DATA "/settings-full.cfg", &s, &err);
    if (rc != 0) {
        mqg_error_print(&err, stderr);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(s.instance, "plant-7.gw_a");
    assert_string_equal(s.runtime_dir, "/run/mqgate-test");
    assert_int_equal(s.log_level, MQG_LOG_DEBUG);
    assert_string_equal(s.log_file, DATA "/logs/mqgate.log");
    assert_int_equal(s.restart_backoff_ms, 500);
    assert_int_equal(s.restart_backoff_max_ms, 60000);
    assert_int_equal(s.restart_max, 5);
    assert_int_equal(s.restart_window_s, 120);
    assert_int_equal(s.restart_failed_retry_s, 300);
    assert_int_equal(s.stable_after_s, 20);
    assert_int_equal(s.heartbeat_ms, 2000);
    assert_int_equal(s.heartbeat_misses, 5);
    assert_int_equal(s.stop_grace_ms, 5000);
    assert_int_equal(s.outbound_queue_max, 5000);
    assert_int_equal(s.max_inflight, 20);
    assert_int_equal(s.router_queue_max, 7000);
    assert_int_equal(s.n_services, 0);
    mqg_settings_free(&s);
}

/* Each setting alone: the others keep their defaults. */
static void test_each_override(void **state)
{
    static const struct {
        const char *text;
        size_t off;
        long long want;
        int u32;
    } cases[] = {
        {"restart = { backoff_ms = 1; };", offsetof(struct mqg_settings, restart_backoff_ms), 1, 1},
        {"restart = { backoff_max_ms = 86400000; };",
         offsetof(struct mqg_settings, restart_backoff_max_ms), 86400000, 1},
        {"restart = { max = 1000000; };", offsetof(struct mqg_settings, restart_max), 1000000, 0},
        {"restart = { window_s = 1; };", offsetof(struct mqg_settings, restart_window_s), 1, 0},
        {"restart = { failed_retry_s = 86400; };",
         offsetof(struct mqg_settings, restart_failed_retry_s), 86400, 0},
        {"restart = { stable_after_s = 2; };", offsetof(struct mqg_settings, stable_after_s), 2, 0},
        {"heartbeat = { interval_ms = 100; };", offsetof(struct mqg_settings, heartbeat_ms), 100,
         0},
        {"heartbeat = { misses = 100; };", offsetof(struct mqg_settings, heartbeat_misses), 100, 0},
        {"stop_grace_ms = 0;", offsetof(struct mqg_settings, stop_grace_ms), 0, 0},
        {"connector = { outbound_queue_max = 0x10; };",
         offsetof(struct mqg_settings, outbound_queue_max), 16, 0},
        {"connector = { max_inflight = 65535; };", offsetof(struct mqg_settings, max_inflight),
         65535, 0},
        {"router = { queue_max = 100000000L; };", offsetof(struct mqg_settings, router_queue_max),
         100000000, 0},
        {"router = { queue_max_bytes = 65536; };",
         offsetof(struct mqg_settings, router_queue_max_bytes), 65536, 0},
        {"connector = { outbound_queue_max_bytes = 2147483647; };",
         offsetof(struct mqg_settings, outbound_queue_max_bytes), 2147483647, 0},
        {"log = { level = \"WARNING\"; };", offsetof(struct mqg_settings, log_level), MQG_LOG_WARN,
         0},
        {"log = { level = \"error\"; };", offsetof(struct mqg_settings, log_level), MQG_LOG_ERROR,
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tmpcfg t;
        struct mqg_settings s;
        struct mqg_settings d;
        struct mqg_error err;
        s_write_tmp(&t, cases[i].text);
        int rc = mqg_settings_load(t.path, &s, &err);
        if (rc != 0) {
            mqg_error_print(&err, stderr);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(mqg_settings_defaults(&d), 0);
        const char *field = (const char *)&s + cases[i].off;
        long long got =
            cases[i].u32 ? (long long)*(const uint32_t *)field : (long long)*(const int *)field;
        assert_int_equal(got, cases[i].want);
        /* everything else untouched: copy the default in and compare the ints */
        if (cases[i].u32) {
            *(uint32_t *)((char *)&s + cases[i].off) = *(uint32_t *)((char *)&d + cases[i].off);
        } else {
            *(int *)((char *)&s + cases[i].off) = *(int *)((char *)&d + cases[i].off);
        }
        assert_int_equal(s.log_level, d.log_level);
        assert_memory_equal(&s.restart_backoff_ms, &d.restart_backoff_ms,
                            offsetof(struct mqg_settings, services) -
                                offsetof(struct mqg_settings, restart_backoff_ms));
        mqg_settings_free(&s);
        mqg_settings_free(&d);
        s_remove_tmp(&t);
    }
}

static void test_string_overrides(void **state)
{
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, "instance = \"a\";\nruntime_dir = \"/var/run/x\";\n"
                    "log = { file = \"/var/log/mqgate.log\"; };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_string_equal(s.instance, "a");
    assert_string_equal(s.runtime_dir, "/var/run/x");
    assert_string_equal(s.log_file, "/var/log/mqgate.log");
    mqg_settings_free(&s);
    s_remove_tmp(&t);

    /* "" = standard error */
    s_write_tmp(&t, "log = { file = \"\"; };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_null(s.log_file);
    mqg_settings_free(&s);
    s_remove_tmp(&t);

    /* 64 characters is the longest instance name */
    s_write_tmp(&t, "instance = \"0123456789012345678901234567890123456789012345678901234567"
                    "89abcd\";\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(strlen(s.instance), 64);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
}

/* internal_broker: every setting, relative paths resolved, PEM text kept. */
static void test_internal_broker(void **state)
{
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, "internal_broker = {\n"
                    "  mode = \"embedded\";\n"
                    "  listen = \"[::1]:1884\";\n"
                    "  mosquitto = \"/opt/mosquitto/sbin/mosquitto\";\n"
                    "  password_file = \"passwd\";\n"
                    "  username = \"mqgate\"; password = \"s3cret\";\n"
                    "  listeners = (\n"
                    "    { listen = \"0.0.0.0:8883\"; cafile = \"/pki/ca.crt\";\n"
                    "      certfile = \"pki/server.crt\"; keyfile = \"pki/server.key\";\n"
                    "      require_certificate = true; },\n"
                    "    { listen = \"0.0.0.0:1885\"; } );\n"
                    "  ca_cert = \"-----BEGIN CERTIFICATE-----\\nX\\n\";\n"
                    "  client_cert = \"c.pem\";\n"
                    "  trust_all_certificates = true;\n"
                    "};\n");
    int rc = mqg_settings_load(t.path, &s, &err);
    if (rc != 0) {
        mqg_error_print(&err, stderr);
    }
    assert_int_equal(rc, 0);
    const struct mqg_ib_settings *ib = &s.internal_broker;
    char want[256];
    assert_int_equal(ib->mode, MQG_IB_EMBEDDED);
    assert_string_equal(ib->listen_host, "::1");
    assert_int_equal(ib->listen_port, 1884);
    assert_string_equal(ib->mosquitto, "/opt/mosquitto/sbin/mosquitto");
    snprintf(want, sizeof(want), "%s/passwd", t.dir);
    assert_string_equal(ib->password_file, want);
    assert_string_equal(ib->username, "mqgate");
    assert_string_equal(ib->password, "s3cret");
    assert_int_equal(ib->n_listeners, 2);
    assert_string_equal(ib->listeners[0].host, "0.0.0.0");
    assert_int_equal(ib->listeners[0].port, 8883);
    assert_string_equal(ib->listeners[0].cafile, "/pki/ca.crt");
    snprintf(want, sizeof(want), "%s/pki/server.crt", t.dir);
    assert_string_equal(ib->listeners[0].certfile, want);
    assert_true(ib->listeners[0].require_certificate);
    assert_int_equal(ib->listeners[1].port, 1885);
    assert_null(ib->listeners[1].certfile);
    assert_string_equal(ib->ca_cert, "-----BEGIN CERTIFICATE-----\nX\n");
    snprintf(want, sizeof(want), "%s/c.pem", t.dir);
    assert_string_equal(ib->client_cert, want);
    assert_true(ib->trust_all);
    mqg_settings_free(&s);
    s_remove_tmp(&t);

    s_write_tmp(&t, "internal_broker = { mode = \"external\"; url = \"mqtt://10.0.0.9\"; };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(s.internal_broker.mode, MQG_IB_EXTERNAL);
    assert_string_equal(s.internal_broker.url, "mqtt://10.0.0.9");
    mqg_settings_free(&s);
    s_remove_tmp(&t);

    s_write_tmp(&t, "internal_broker = { mode = \"off\"; listeners = (); };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(s.internal_broker.mode, MQG_IB_OFF);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
}

static void test_internal_broker_errors(void **state)
{
    s_expect_error("internal_broker = { mode = \"internal\"; };\n", 1, 21, "internal_broker.mode",
                   "expected one of \"embedded\", \"external\", \"off\", got \"internal\"");
    s_expect_error("internal_broker = { listen = \"127.0.0.1\"; };\n", 1, 21,
                   "internal_broker.listen", "expected \"HOST:PORT\" with a port of 1..65535");
    s_expect_error("internal_broker = { listen = 1883; };\n", 1, 21, "internal_broker.listen",
                   "expected \"HOST:PORT\"");
    s_expect_error("internal_broker = { mosquitto = \"\"; };\n", 1, 21, "internal_broker.mosquitto",
                   "expected a name or a path");
    s_expect_error("internal_broker = { trust_all_certificates = 1; };\n", 1, 21,
                   "internal_broker.trust_all_certificates", "expected true or false");
    s_expect_error("internal_broker = { color = 1; };\n", 1, 21, "internal_broker.color",
                   "known in this group: mode, listen, mosquitto, password_file, listeners");
    s_expect_error("internal_broker = {\n  mode = \"external\";\n};\n", 2, 3, "internal_broker.url",
                   "mode \"external\" needs the url of the broker");
    s_expect_error("internal_broker = { url = \"ftp://x\"; };\n", 1, 21, "internal_broker.url",
                   "ftp://x");
    s_expect_error("internal_broker = { password_file = \"/etc/pw\"; };\n", 1, 21,
                   "internal_broker.username", "give mqgate a user of that file");
    /* a list element has no name: its line only (column 1) */
    s_expect_error("internal_broker = { listeners = ( { cafile = \"/x\"; } ); };\n", 1, 1,
                   "internal_broker.listeners[0].listen", "missing");
    s_expect_error("internal_broker = { listeners = ( { listen = \"0.0.0.0:8883\"; "
                   "certfile = \"/c\"; } ); };\n",
                   1, 1, "internal_broker.listeners[0].keyfile", "certfile and keyfile together");
    s_expect_error(
        "internal_broker = { listeners = ( { listen = \"0.0.0.0:8883\"; x = 1; } ); };\n", 1, 62,
        "internal_broker.listeners[0].x", "known in a listener: listen, cafile");
    s_expect_error("internal_broker = { listeners = { listen = \"0.0.0.0:8883\"; }; };\n", 1, 21,
                   "internal_broker.listeners", "expected a list");
    s_expect_error("internal_broker = {\n  listeners = ( { listen = \"0.0.0.0:11883\"; } );\n};\n",
                   1, 1, "internal_broker.listeners[0].listen", "port 11883 is used twice");
}

/* ---- errors ---- */

static void test_unknown_setting_fixture(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    assert_int_equal(mqg_settings_load(DATA "/settings-unknown.cfg", &s, &err), -EINVAL);
    assert_string_equal(err.file, DATA "/settings-unknown.cfg");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.col, 5);
    assert_string_equal(err.setting, "restart.retries");
    assert_string_equal(err.msg, "unknown setting; known in this group: backoff_ms, "
                                 "backoff_max_ms, max, window_s, failed_retry_s, "
                                 "stable_after_s");
    s_assert_empty(&s);

    char buf[1400];
    mqg_error_format(&err, buf, sizeof(buf));
    assert_non_null(strstr(buf, "settings-unknown.cfg:4:5: restart.retries: unknown setting"));
}

/* the journal group and state_dir */
static void test_journal_settings(void **state)
{
    (void)state;
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t,
                "state_dir = \"/srv/mqgate\";\njournal = { enabled = false; max_bytes = "
                "2147483648L; sync = \"always\"; sync_interval_ms = 50; full_wait_ms = 0; };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_string_equal(s.state_dir, "/srv/mqgate");
    assert_false(s.journal_enabled);
    assert_true(s.journal_max_bytes == 2147483648LL);
    assert_int_equal(s.journal_sync, MQG_SETTINGS_SYNC_ALWAYS);
    assert_int_equal(s.journal_sync_ms, 50);
    assert_int_equal(s.journal_full_wait_ms, 0);
    /* without the journal the queues in memory are the outage buffer: larger defaults */
    assert_int_equal(s.outbound_queue_max, 100000);
    assert_int_equal(s.outbound_queue_max_bytes, 64 << 20);
    assert_int_equal(s.router_queue_max, 100000);
    assert_int_equal(s.router_queue_max_bytes, 64 << 20);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
    /* ... unless they are set */
    s_write_tmp(&t, "journal = { enabled = false; };\nrouter = { queue_max = 300; };\n"
                    "connector = { outbound_queue_max_bytes = 70000; };\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(s.outbound_queue_max, 100000);
    assert_int_equal(s.outbound_queue_max_bytes, 70000);
    assert_int_equal(s.router_queue_max, 300);
    assert_int_equal(s.router_queue_max_bytes, 64 << 20);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
    assert_int_equal(mqg_settings_defaults(&s), 0);
    assert_true(s.journal_enabled);
    assert_true(s.journal_max_bytes == 1LL << 30);
    assert_int_equal(s.journal_sync, MQG_SETTINGS_SYNC_NONE);
    assert_non_null(s.state_dir);
    mqg_settings_free(&s);
    s_expect_error("journal = { sync = \"sometimes\"; };\n", 1, 13, "journal.sync",
                   "expected one of \"none\", \"interval\", \"always\", got \"sometimes\"");
    s_expect_error("journal = { enabled = 1; };\n", 1, 13, "journal.enabled",
                   "expected true or false");
    s_expect_error("journal = { max_bytes = 1000; };\n", 1, 13, "journal.max_bytes",
                   "expected an integer in 1048576..1125899906842624, got 1000");
    s_expect_error("state_dir = \"relative\";\n", 1, 1, "state_dir", "absolute directory");
}

static void test_unknown_settings_inline(void **state)
{
    s_expect_error("instance = \"x\";\n  colour = \"blue\";\n", 2, 3, "colour",
                   "unknown setting; known at top level: instance, runtime_dir, log, log_file, "
                   "restart, heartbeat, stop_grace_ms, cpu_affinity, connector, router, "
                   "internal_broker, state_dir, journal, http, rules, services");
    s_expect_error("log = { level = \"info\"; lvl = \"debug\"; };\n", 1, 25, "log.lvl",
                   "known in this group: level, file");
    /* a deeper group inside a known group */
    s_expect_error("router = {\n    queue_max = 5;\n    extra = { a = 1; };\n};\n", 3, 5,
                   "router.extra", "unknown setting");
    s_expect_error("services = ( { file = \"a.yml\"; params = { x = 1; }; } );\n", 1, 32,
                   "services[0].params", "known in a service: file, parameters");
}

static void test_wrong_type_fixture(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    assert_int_equal(mqg_settings_load(DATA "/settings-type.cfg", &s, &err), -EINVAL);
    assert_string_equal(err.file, DATA "/settings-type.cfg");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 15);
    assert_string_equal(err.setting, "heartbeat.interval_ms");
    assert_string_equal(err.msg, "expected an integer in 100..60000, got a string");
    s_assert_empty(&s);
}

static void test_wrong_types_inline(void **state)
{
    s_expect_error("stop_grace_ms = 1.5;\n", 1, 1, "stop_grace_ms",
                   "expected an integer in 0..600000, got a decimal number");
    s_expect_error("restart = { max = true; };\n", 1, 13, "restart.max",
                   "expected an integer in 1..1000000, got a boolean");
    s_expect_error("instance = 5;\n", 1, 1, "instance", "expected a name, got an integer");
    s_expect_error("log = \"debug\";\n", 1, 1, "log",
                   "expected a group { level, file }, got a string");
    s_expect_error("log = { level = 3; };\n", 1, 9, "log.level",
                   "expected one of \"debug\", \"info\", \"notice\", \"warn\", \"error\", got an "
                   "integer");
    s_expect_error("runtime_dir = [\"/a\"];\n", 1, 1, "runtime_dir",
                   "expected an absolute directory path, got an array [ ... ]");
    s_expect_error("services = { file = \"a.yml\"; };\n", 1, 1, "services",
                   "expected a list ( { file = \"service.yml\"; parameters = { ... }; }, ... ), "
                   "got a group { ... }");
    s_expect_error("services = [ \"a.yml\" ];\n", 1, 1, "services", "expected a list");
    s_expect_error("services = ( \"a.yml\" );\n", 1, 1, "services[0]",
                   "expected a group { file = \"service.yml\"; parameters = { ... }; }, got a "
                   "string");
    s_expect_error("services = ( { file = 7; } );\n", 1, 16, "services[0].file",
                   "expected the path of a service commissioning file, got an integer");
    s_expect_error("services = ( { file = \"a.yml\";\n  parameters = ( 1 ); } );\n", 2, 3,
                   "services[0].parameters", "expected a group { NAME = VALUE; ... }, got a list");
    s_expect_error("services = ( { file = \"a.yml\";\n  parameters = { p = [1, 2]; }; } );\n", 2,
                   18, "services[0].parameters.p",
                   "expected a string, number or boolean, got an array [ ... ]");
}

static void test_cpu_affinity(void **state)
{
    struct mqg_settings d;
    assert_int_equal(mqg_settings_defaults(&d), 0);
    assert_int_equal(d.cpu_affinity.mode, MQG_CPUS_AUTO);
    mqg_settings_free(&d);

    static const struct {
        const char *text;
        enum mqg_cpus_mode mode;
    } ok[] = {
        {"cpu_affinity = \"none\";\n", MQG_CPUS_NONE},
        {"cpu_affinity = \"auto\";\n", MQG_CPUS_AUTO},
        {"cpu_affinity = \"0\";\n", MQG_CPUS_LIST}, /* CPU 0 exists wherever this runs */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct tmpcfg t;
        struct mqg_settings s;
        struct mqg_error err;
        s_write_tmp(&t, ok[i].text);
        int rc = mqg_settings_load(t.path, &s, &err);
        s_remove_tmp(&t);
        assert_int_equal(rc, 0);
        assert_int_equal(s.cpu_affinity.mode, ok[i].mode);
        mqg_settings_free(&s);
    }
    s_expect_error("cpu_affinity = \"fast\";\n", 1, 1, "cpu_affinity",
                   "expected \"auto\", \"none\" or CPU numbers and ranges below 1024 such as "
                   "\"0,2-3\", got \"fast\"");
    s_expect_error("\n  cpu_affinity = 1;\n", 2, 3, "cpu_affinity",
                   "expected \"auto\", \"none\" or a list of CPUs such as \"0,2-3\", got an "
                   "integer");
    /* a CPU this machine does not have (1023: far beyond any test machine) */
    s_expect_error("cpu_affinity = \"1023\";\n", 1, 1, "cpu_affinity",
                   "none of the CPUs \"1023\" is available here (available: ");
}

static void test_out_of_range_fixture(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    assert_int_equal(mqg_settings_load(DATA "/settings-range.cfg", &s, &err), -EINVAL);
    assert_string_equal(err.file, DATA "/settings-range.cfg");
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 3);
    assert_string_equal(err.setting, "connector.max_inflight");
    assert_string_equal(err.msg, "expected an integer in 1..65535, got 70000");
    s_assert_empty(&s);
}

static void test_out_of_range_inline(void **state)
{
    s_expect_error("heartbeat = { interval_ms = 99; };\n", 1, 15, "heartbeat.interval_ms",
                   "expected an integer in 100..60000, got 99");
    s_expect_error("restart = { backoff_ms = 0; };\n", 1, 13, "restart.backoff_ms",
                   "expected an integer in 1..3600000, got 0");
    s_expect_error("stop_grace_ms = -1;\n", 1, 1, "stop_grace_ms", "got -1");
    s_expect_error("router = { queue_max_bytes = 65535; };\n", 1, 12, "router.queue_max_bytes",
                   "expected an integer in 65536..2147483647, got 65535");
    s_expect_error("connector = { outbound_queue_max_bytes = 4294967296L; };\n", 1, 15,
                   "connector.outbound_queue_max_bytes",
                   "expected an integer in 65536..2147483647, got 4294967296");
    s_expect_error("router = { queue_max = 4294967296L; };\n", 1, 12, "router.queue_max",
                   "expected an integer in 1..100000000, got 4294967296");
    /* libconfig 1.5 would silently read this as 1215752191: the literal is re-read */
    s_expect_error("router = { queue_max = 99999999999; };\n", 1, 12, "router.queue_max",
                   "got 99999999999");
    s_expect_error("connector = { max_inflight = 0x10000; };\n", 1, 15, "connector.max_inflight",
                   "got 65536");
    s_expect_error("connector = { max_inflight = 0xFFFFFFFF; };\n", 1, 15, "connector.max_inflight",
                   "got 4294967295");
    s_expect_error("restart = {\n  backoff_ms = 5000;\n  backoff_max_ms = 1000;\n};\n", 3, 3,
                   "restart.backoff_max_ms",
                   "restart.backoff_max_ms (1000) must be at least restart.backoff_ms (5000)");
    s_expect_error("restart = {\n  backoff_ms = 40000;\n};\n", 2, 3, "restart.backoff_ms",
                   "must be at least");
    s_expect_error("log = { level = \"verbose\"; };\n", 1, 9, "log.level",
                   "expected one of \"debug\", \"info\", \"notice\", \"warn\", \"error\", got "
                   "\"verbose\"");
    s_expect_error("instance = \"my gateway\";\n", 1, 1, "instance",
                   "expected a name of 1..64 characters A-Z a-z 0-9 _ . - (not \".\" or \"..\"), "
                   "got \"my gateway\"");
    s_expect_error("instance = \"\";\n", 1, 1, "instance", "got \"\"");
    s_expect_error("instance = \"..\";\n", 1, 1, "instance", "got \"..\"");
    s_expect_error("instance = \"a/b\";\n", 1, 1, "instance", "got \"a/b\"");
    s_expect_error("instance = \"0123456789012345678901234567890123456789012345678901234567"
                   "89abcde\";\n",
                   1, 1, "instance", "expected a name of 1..64");
    s_expect_error("runtime_dir = \"run/mqgate\";\n", 1, 1, "runtime_dir",
                   "expected an absolute directory path, got \"run/mqgate\"");
    s_expect_error("services = ( { parameters = { a = 1; }; } );\n", 1, 1, "services[0].file",
                   "missing; expected the path of a service commissioning file");
    s_expect_error("services = ( { file = \"\"; } );\n", 1, 16, "services[0].file", "got \"\"");
    s_expect_error("services = ( { file = \"a.yml\"; parameters = { big = 99999999999; }; } );\n",
                   1, 47, "services[0].parameters.big", "with an L suffix");
}

/* http = { listen = "HOST:PORT"; health_disconnected_s = N; } and log_file, the same setting
 * as log.file. */
static void test_http_and_log_file(void **state)
{
    static const struct {
        const char *text, *listen, *host;
        int port;
    } good[] = {
        {"http = { listen = \"127.0.0.1:9883\"; };\n", "127.0.0.1:9883", "127.0.0.1", 9883},
        {"http = { listen = \"[::1]:1\"; };\n", "[::1]:1", "::1", 1},
        {"http = { listen = \"localhost:65535\"; };\n", "localhost:65535", "localhost", 65535},
        {"http = { listen = \"0.0.0.0:80\"; };\n", "0.0.0.0:80", "0.0.0.0", 80},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct tmpcfg t;
        struct mqg_settings s;
        struct mqg_error err;
        s_write_tmp(&t, good[i].text);
        int rc = mqg_settings_load(t.path, &s, &err);
        s_remove_tmp(&t);
        assert_int_equal(rc, 0);
        assert_string_equal(s.http_listen, good[i].listen);
        assert_string_equal(s.http_host, good[i].host);
        assert_int_equal(s.http_port, good[i].port);
        assert_int_equal(s.http_disconnected_s, 5);
        mqg_settings_free(&s);
    }
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, "http = { listen = \"127.0.0.1:9883\"; health_disconnected_s = 2; };\n"
                    "log_file = \"/var/log/mqgate/mqgate.log\";\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    s_remove_tmp(&t);
    assert_int_equal(s.http_disconnected_s, 2);
    assert_string_equal(s.log_file, "/var/log/mqgate/mqgate.log");
    mqg_settings_free(&s);

    s_expect_error("http = { listen = \"127.0.0.1:0\"; };\n", 1, 10, "http.listen",
                   "the port must be 1..65535 (0, any free port, is not allowed");
    s_expect_error("http = { listen = \"127.0.0.1\"; };\n", 1, 10, "http.listen",
                   "expected HOST:PORT, e.g. \"127.0.0.1:9883\" or \"[::1]:9883\", with a port "
                   "1..65535; got \"127.0.0.1\"");
    s_expect_error("http = { listen = \"::1:9883\"; };\n", 1, 10, "http.listen",
                   "expected HOST:PORT");
    s_expect_error("http = { listen = \":9883\"; };\n", 1, 10, "http.listen", "expected HOST:PORT");
    s_expect_error("http = { listen = \"a b:1\"; };\n", 1, 10, "http.listen", "expected HOST:PORT");
    s_expect_error("http = { listen = \"h:65536\"; };\n", 1, 10, "http.listen",
                   "the port must be 1..65535");
    s_expect_error("http = { listen = \"h:+80\"; };\n", 1, 10, "http.listen", "expected HOST:PORT");
    s_expect_error("http = { listen = 9883; };\n", 1, 10, "http.listen",
                   "expected HOST:PORT, got an integer");
    s_expect_error("http = { port = 9883; };\n", 1, 10, "http.port",
                   "known in this group: listen, health_disconnected_s");
    s_expect_error("http = { listen = \"h:1\"; health_disconnected_s = 0; };\n", 1, 26,
                   "http.health_disconnected_s", "expected an integer in 1..86400, got 0");
    s_expect_error("log = { file = \"a.log\"; };\nlog_file = \"b.log\";\n", 2, 1, "log_file",
                   "log.file is set too; they are the same setting: keep one");
}

static void test_syntax_error(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    assert_int_equal(mqg_settings_load(DATA "/settings-syntax.cfg", &s, &err), -EINVAL);
    assert_string_equal(err.file, DATA "/settings-syntax.cfg");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 0); /* libconfig gives no column for syntax errors */
    assert_string_equal(err.setting, "");
    assert_string_equal(err.msg, "syntax error");
    s_assert_empty(&s);

    s_expect_error("log = { level = \"info\"; };\nlog = { file = \"\"; };\n", 2, 0, "",
                   "duplicate setting name");
}

static void test_missing_file(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    assert_int_equal(mqg_settings_load(DATA "/no-such-settings.cfg", &s, &err), -ENOENT);
    assert_string_equal(err.file, DATA "/no-such-settings.cfg");
    assert_non_null(strstr(err.msg, "cannot read the settings file"));
    s_assert_empty(&s);

    /* a directory opens but cannot be read as a file */
    assert_int_equal(mqg_settings_load(DATA, &s, &err), -EIO);
    s_assert_empty(&s);
}

/* ---- services ---- */

static void test_services(void **state)
{
    struct mqg_settings s;
    struct mqg_error err;
    int rc = mqg_settings_load(DATA "/settings-services.cfg", &s, &err);
    if (rc != 0) {
        mqg_error_print(&err, stderr);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(s.n_services, 2);

    const struct mqg_settings_service *a = &s.services[0];
    assert_string_equal(a->file, DATA "/svc/bridge.yml");
    static const char *const want[][2] = {
        {"sourceHost", "127.0.0.1"}, {"sourcePort", "1883"}, {"bigCounter", "4294967296"},
        {"ratio", "0.25"},           {"negative", "-42"},    {"useTls", "true"},
        {"retain", "false"},         {"empty", ""},
    };
    assert_int_equal(a->n_params, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < a->n_params; i++) {
        assert_string_equal(a->params[i].name, want[i][0]);
        assert_string_equal(a->params[i].value, want[i][1]);
        assert_false(a->params[i].used);
        assert_ptr_equal(a->params[i].name, a->owned[2 * i]);
        assert_ptr_equal(a->params[i].value, a->owned[2 * i + 1]);
    }

    const struct mqg_settings_service *b = &s.services[1];
    assert_string_equal(b->file, "/etc/mqgate/cloud.yml");
    assert_int_equal(b->n_params, 0);
    assert_null(b->params);
    mqg_settings_free(&s);
    s_assert_empty(&s);
}

static void test_float_params(void **state)
{
    struct tmpcfg t;
    struct mqg_settings s;
    struct mqg_error err;
    s_write_tmp(&t, "services = ( { file = \"x.yml\"; parameters = {\n"
                    "  a = 0.1; b = 1.0; c = -2.5e-3; d = 1e300; e = 3.141592653589793; }; } );\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    const struct mqg_settings_service *v = &s.services[0];
    assert_string_equal(v->params[0].value, "0.1");
    assert_string_equal(v->params[1].value, "1");
    assert_string_equal(v->params[2].value, "-0.0025");
    assert_string_equal(v->params[3].value, "1e+300");
    assert_string_equal(v->params[4].value, "3.141592653589793");
    /* the file is next to the settings file */
    char want[256];
    snprintf(want, sizeof(want), "%s/x.yml", t.dir);
    assert_string_equal(v->file, want);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
}

/* Relative paths when the settings file itself is given without a directory, and an empty
 * service list. */
static void test_relative_settings_path(void **state)
{
    char cwd[PATH_MAX];
    struct mqg_settings s;
    struct mqg_error err;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(DATA), 0);
    int rc = mqg_settings_load("settings-services.cfg", &s, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(s.services[0].file, "svc/bridge.yml");
    mqg_settings_free(&s);

    rc = mqg_settings_load(DATA "/../data/settings-services.cfg", &s, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(s.services[0].file, DATA "/../data/svc/bridge.yml");
    mqg_settings_free(&s);

    struct tmpcfg t;
    s_write_tmp(&t, "services = ();\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(s.n_services, 0);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
    s_write_tmp(&t, "services = [];\n");
    assert_int_equal(mqg_settings_load(t.path, &s, &err), 0);
    assert_int_equal(s.n_services, 0);
    mqg_settings_free(&s);
    s_remove_tmp(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_runtime_dir),
        cmocka_unit_test(test_empty_file_is_defaults),
        cmocka_unit_test(test_shipped_cfg_is_defaults),
        cmocka_unit_test(test_full_overrides),
        cmocka_unit_test(test_each_override),
        cmocka_unit_test(test_string_overrides),
        cmocka_unit_test(test_internal_broker),
        cmocka_unit_test(test_internal_broker_errors),
        cmocka_unit_test(test_unknown_setting_fixture),
        cmocka_unit_test(test_unknown_settings_inline),
        cmocka_unit_test(test_journal_settings),
        cmocka_unit_test(test_wrong_type_fixture),
        cmocka_unit_test(test_wrong_types_inline),
        cmocka_unit_test(test_cpu_affinity),
        cmocka_unit_test(test_out_of_range_fixture),
        cmocka_unit_test(test_out_of_range_inline),
        cmocka_unit_test(test_http_and_log_file),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_float_params),
        cmocka_unit_test(test_relative_settings_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
