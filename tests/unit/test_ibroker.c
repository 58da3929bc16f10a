/* test_ibroker — unit tests of mqg_ibroker: the internal broker's listen address, its
 * connection in the model, the mosquitto.conf of the embedded broker, finding mosquitto and
 * telling a port in use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqg_clientid.h"
#include "mqg_ibroker.h"

static void test_parse_listen(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host; /* NULL: refused */
        int port;
    } cases[] = {
        {"127.0.0.1:11883", "127.0.0.1", 11883},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"localhost:65535", "localhost", 65535},
        {"[::1]:1884", "::1", 1884},
        {"[::]:8883", "::", 8883},
        {"127.0.0.1", NULL, 0},
        {"127.0.0.1:", NULL, 0},
        {":1883", NULL, 0},
        {"127.0.0.1:0", NULL, 0},
        {"127.0.0.1:65536", NULL, 0},
        {"127.0.0.1:12x", NULL, 0},
        {"127.0.0.1:-5", NULL, 0},
        {"::1:1883", NULL, 0}, /* IPv6 without brackets is ambiguous */
        {"[::1]1883", NULL, 0},
        {"a b:1883", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *host = NULL;
        int port = 0;
        char why[200] = "";
        int rc = mqg_ibroker_parse_listen(cases[i].text, &host, &port, why, sizeof(why));
        if (!cases[i].host) {
            assert_int_equal(rc, -EINVAL);
            assert_null(host);
            assert_true(why[0] != '\0');
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
        free(host);
    }
}

static void test_modes(void **state)
{
    (void)state;
    assert_int_equal(mqg_ibroker_mode_parse("embedded"), MQG_IB_EMBEDDED);
    assert_int_equal(mqg_ibroker_mode_parse("external"), MQG_IB_EXTERNAL);
    assert_int_equal(mqg_ibroker_mode_parse("off"), MQG_IB_OFF);
    assert_int_equal(mqg_ibroker_mode_parse("Off"), -1);
    assert_int_equal(mqg_ibroker_mode_parse(NULL), -1);
    assert_string_equal(mqg_ibroker_mode_name(MQG_IB_EXTERNAL), "external");
    assert_string_equal(mqg_ibroker_connect_host("0.0.0.0"), "127.0.0.1");
    assert_string_equal(mqg_ibroker_connect_host("::"), "::1");
    assert_string_equal(mqg_ibroker_connect_host("10.1.2.3"), "10.1.2.3");
}

/* Embedded: a connection to the loopback listener, MQTT 5, flagged as the internal broker,
 * with the credentials mqgate uses and a default client id made unique like any other. */
static void test_add_embedded(void **state)
{
    (void)state;
    struct mqg_ib_settings ib;
    struct mqg_model m;
    char why[200];
    assert_int_equal(mqg_ibroker_defaults(&ib), 0);
    free(ib.listen_host);
    ib.listen_host = strdup("0.0.0.0");
    ib.username = strdup("mqgate");
    ib.password = strdup("pw");
    mqg_model_init(&m);
    assert_int_equal(mqg_model_internal(&m), MQG_NO_CONN);
    assert_int_equal(mqg_ibroker_add(&m, &ib, why, sizeof(why)), 0);
    assert_int_equal(m.n_conns, 1);
    assert_int_equal(mqg_model_internal(&m), 0);
    const struct mqg_connection *c = &m.conns[0];
    assert_true(c->internal_broker);
    assert_string_equal(c->key, MQG_IB_KEY);
    assert_string_equal(c->key, "mqgate/internal-broker");
    assert_string_equal(c->uri, "tcp://127.0.0.1:11883");
    assert_string_equal(c->host, "127.0.0.1");
    assert_int_equal(c->port, 11883);
    assert_int_equal(c->protocol_version, 5);
    assert_true(c->clean);
    assert_true(c->target_connected);
    assert_string_equal(c->username, "mqgate");
    assert_string_equal(c->password, "pw");
    assert_null(c->ca_cert);
    assert_true(c->client_id_derived);
    assert_int_equal(mqg_clientid_apply(&m, "machine", "gw"), 0);
    assert_true(strncmp(c->client_id, "mqgate-interna-", 15) == 0);
    assert_int_equal(strlen(c->client_id), 23);
    mqg_model_free(&m);

    /* off: nothing */
    ib.mode = MQG_IB_OFF;
    mqg_model_init(&m);
    assert_int_equal(mqg_ibroker_add(&m, &ib, why, sizeof(why)), 0);
    assert_int_equal(m.n_conns, 0);
    assert_int_equal(mqg_model_internal(&m), MQG_NO_CONN);
    mqg_model_free(&m);
    mqg_ibroker_free(&ib);
    mqg_ibroker_free(&ib); /* twice is fine */
    mqg_ibroker_free(NULL);
}

/* External: the url, TLS settings passed on; a bad url is refused with a reason. */
static void test_add_external(void **state)
{
    (void)state;
    struct mqg_ib_settings ib;
    struct mqg_model m;
    char why[200];
    assert_int_equal(mqg_ibroker_defaults(&ib), 0);
    ib.mode = MQG_IB_EXTERNAL;
    ib.url = strdup("mqtts://broker.local");
    ib.ca_cert = strdup("/etc/ssl/ca.pem");
    ib.trust_all = true;
    mqg_model_init(&m);
    assert_int_equal(mqg_ibroker_add(&m, &ib, why, sizeof(why)), 0);
    const struct mqg_connection *c = &m.conns[0];
    assert_string_equal(c->uri, "ssl://broker.local:8883");
    assert_int_equal(c->scheme, MQG_SCHEME_MQTTS);
    assert_string_equal(c->ca_cert, "/etc/ssl/ca.pem");
    assert_true(c->trust_all);
    assert_false(c->mutual_auth);
    assert_true(c->internal_broker);
    mqg_model_free(&m);

    free(ib.url);
    ib.url = strdup("http://x");
    mqg_model_init(&m);
    assert_int_equal(mqg_ibroker_add(&m, &ib, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "http://x"));
    mqg_model_free(&m);
    mqg_ibroker_free(&ib);
}

/* mosquitto.conf: every setting passed through, line by line. */
static void test_conf(void **state)
{
    (void)state;
    struct mqg_ib_settings ib;
    assert_int_equal(mqg_ibroker_defaults(&ib), 0);
    char *conf = mqg_ibroker_conf(&ib, NULL);
    assert_non_null(conf);
    assert_non_null(strstr(conf, "\nper_listener_settings false\n"));
    assert_non_null(strstr(conf, "\nallow_anonymous true\n"));
    assert_non_null(strstr(conf, "\npersistence false\n"));
    assert_non_null(strstr(conf, "\nlog_dest stderr\n"));
    assert_non_null(strstr(conf, "\nlog_timestamp false\n"));
    assert_non_null(strstr(conf, "\nlog_type information\n"));
    assert_non_null(strstr(conf, "\nlistener 11883 127.0.0.1\n"));
    assert_null(strstr(conf, "user "));
    assert_null(strstr(conf, "password_file"));
    assert_null(strstr(conf, "certfile"));
    free(conf);

    ib.password_file = strdup("/etc/mqgate/passwd");
    ib.n_listeners = 2;
    ib.listeners = calloc(2, sizeof(*ib.listeners));
    assert_non_null(ib.listeners);
    ib.listeners[0] = (struct mqg_ib_listener){.host = strdup("0.0.0.0"),
                                               .port = 8883,
                                               .cafile = strdup("/pki/ca.crt"),
                                               .certfile = strdup("/pki/server.crt"),
                                               .keyfile = strdup("/pki/server.key"),
                                               .require_certificate = true};
    ib.listeners[1] = (struct mqg_ib_listener){.host = strdup("::"), .port = 1884};
    conf = mqg_ibroker_conf(&ib, "root");
    assert_non_null(conf);
    const char *want = "user root\n"
                       "per_listener_settings false\n"
                       "allow_anonymous false\n"
                       "password_file /etc/mqgate/passwd\n"
                       "persistence false\n"
                       "log_dest stderr\n"
                       "log_timestamp false\n"
                       "log_type error\n"
                       "log_type warning\n"
                       "log_type notice\n"
                       "log_type information\n"
                       "listener 11883 127.0.0.1\n"
                       "listener 8883 0.0.0.0\n"
                       "cafile /pki/ca.crt\n"
                       "certfile /pki/server.crt\n"
                       "keyfile /pki/server.key\n"
                       "require_certificate true\n"
                       "listener 1884 ::\n";
    const char *body = strstr(conf, "user root\n");
    assert_non_null(body);
    assert_string_equal(body, want);
    assert_true(conf[0] == '#'); /* a comment says who wrote it */
    free(conf);
    mqg_ibroker_free(&ib);
}

/* A program name is looked up on PATH (then /usr/sbin, /usr/local/sbin); a path is taken as
 * it is; neither found: -ENOENT. */
static void test_find_mosquitto(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ibroker.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char prog[64];
    snprintf(prog, sizeof(prog), "%s/fakemosq", dir);
    FILE *f = fopen(prog, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    chmod(prog, 0755);
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    char path[256];
    snprintf(path, sizeof(path), "/nonexistent:%s", dir);
    setenv("PATH", path, 1);
    char out[256];
    assert_int_equal(mqg_ibroker_find_mosquitto("fakemosq", out, sizeof(out)), 0);
    assert_string_equal(out, prog);
    assert_int_equal(mqg_ibroker_find_mosquitto(prog, out, sizeof(out)), 0);
    assert_int_equal(mqg_ibroker_find_mosquitto("no-such-mosquitto", out, sizeof(out)), -ENOENT);
    assert_string_equal(out, "");
    assert_int_equal(mqg_ibroker_find_mosquitto("/nonexistent/mosquitto", out, sizeof(out)),
                     -ENOENT);
    chmod(prog, 0644); /* not executable: not found */
    assert_int_equal(mqg_ibroker_find_mosquitto("fakemosq", out, sizeof(out)), -ENOENT);
    if (old) {
        setenv("PATH", old, 1);
        free(old);
    }
    unlink(prog);
    rmdir(dir);
}

/* A port someone listens on is in use; a free one is not; a name is not checked. */
static void test_port_free(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int port = ntohs(a.sin_port);
    assert_int_equal(mqg_ibroker_port_free("127.0.0.1", port), -EADDRINUSE);
    assert_int_equal(mqg_ibroker_port_free("0.0.0.0", port), -EADDRINUSE);
    close(fd);
    assert_int_equal(mqg_ibroker_port_free("127.0.0.1", port), 0);
    assert_int_equal(mqg_ibroker_port_free("localhost", port), -EINVAL);
    assert_int_equal(mqg_ibroker_port_free("192.0.2.1", port), -EADDRNOTAVAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_listen), cmocka_unit_test(test_modes),
        cmocka_unit_test(test_add_embedded), cmocka_unit_test(test_add_external),
        cmocka_unit_test(test_conf),         cmocka_unit_test(test_find_mosquitto),
        cmocka_unit_test(test_port_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
