/* test_url — unit tests of broker addresses (mqg_url): schemes, default ports, host names,
 * url parsing with every error message, and the URI handed to paho.
 *
 * Table-driven; every error case asserts the whole message. The loader's tests
 * (test_service.c) check the same errors again with file, line, column and setting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_url.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_schemes(void **state)
{
    static const struct {
        const char *name;
        enum mqg_scheme scheme;
        bool without_ssl; /* also accepted when ssl is not */
    } good[] = {
        {"mqtt", MQG_SCHEME_MQTT, true},   {"tcp", MQG_SCHEME_MQTT, true},
        {"mqtts", MQG_SCHEME_MQTTS, true}, {"tls", MQG_SCHEME_MQTTS, true},
        {"ssl", MQG_SCHEME_MQTTS, false},  {"ws", MQG_SCHEME_WS, true},
        {"wss", MQG_SCHEME_WSS, true},     {"MQTT", MQG_SCHEME_MQTT, true},
        {"Wss", MQG_SCHEME_WSS, true},     {"SSL", MQG_SCHEME_MQTTS, false},
    };
    for (size_t i = 0; i < N_ELEMS(good); i++) {
        enum mqg_scheme s = MQG_SCHEME_WSS + 1;
        assert_true(mqg_url_scheme(good[i].name, strlen(good[i].name), true, &s));
        assert_int_equal(s, good[i].scheme);
        s = MQG_SCHEME_WSS + 1;
        assert_int_equal(mqg_url_scheme(good[i].name, strlen(good[i].name), false, &s),
                         good[i].without_ssl);
        assert_int_equal(s, good[i].without_ssl ? good[i].scheme : MQG_SCHEME_WSS + 1);
    }
    static const char *const bad[] = {"", "http", "mqt", "mqttx", "mqtt ", " ws", "websocket"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        enum mqg_scheme s = MQG_SCHEME_WS;
        assert_false(mqg_url_scheme(bad[i], strlen(bad[i]), true, &s));
        assert_int_equal(s, MQG_SCHEME_WS);
    }
    /* only the first len bytes count */
    enum mqg_scheme s = MQG_SCHEME_MQTT;
    assert_true(mqg_url_scheme("wss://host", 3, false, &s));
    assert_int_equal(s, MQG_SCHEME_WSS);
    assert_false(mqg_url_scheme("mqtts", 3, false, &s));
}

static void test_default_ports(void **state)
{
    assert_int_equal(mqg_url_default_port(MQG_SCHEME_MQTT), 1883);
    assert_int_equal(mqg_url_default_port(MQG_SCHEME_MQTTS), 8883);
    assert_int_equal(mqg_url_default_port(MQG_SCHEME_WS), 80);
    assert_int_equal(mqg_url_default_port(MQG_SCHEME_WSS), 443);
}

static void test_valid_host(void **state)
{
    static const char *const good[] = {
        "broker", "broker.example.com",  "10.0.0.1", "::1", "fe80::1%eth0",
        "b-1_x",  "\xc3\xa4rger.example"};
    for (size_t i = 0; i < N_ELEMS(good); i++) {
        assert_true(mqg_url_valid_host(good[i]));
    }
    static const char *const bad[] = {"",   "a b", "a\tb", "a/b",  "u@b",  "[::1]",
                                      "a]", "a?b", "a#b",  "\x1b", "a\x7f"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        if (mqg_url_valid_host(bad[i])) {
            fail_msg("host '%s' accepted", bad[i]);
        }
    }
    char longest[255];
    memset(longest, 'a', 253);
    longest[253] = '\0';
    assert_true(mqg_url_valid_host(longest));
    longest[253] = 'a';
    longest[254] = '\0';
    assert_false(mqg_url_valid_host(longest));
}

struct url_case {
    const char *url;
    enum mqg_scheme scheme;
    const char *host;
    int port;
    const char *path; /* NULL: none */
};

static void test_parse(void **state)
{
    static const struct url_case cases[] = {
        {"mqtt://broker:1884", MQG_SCHEME_MQTT, "broker", 1884, NULL},
        {"mqtt://broker", MQG_SCHEME_MQTT, "broker", 1883, NULL},
        {"tcp://10.0.0.1:1883/", MQG_SCHEME_MQTT, "10.0.0.1", 1883, NULL},
        {"mqtts://broker", MQG_SCHEME_MQTTS, "broker", 8883, NULL},
        {"tls://broker", MQG_SCHEME_MQTTS, "broker", 8883, NULL},
        {"ssl://broker:9999", MQG_SCHEME_MQTTS, "broker", 9999, NULL},
        {"TLS://Broker", MQG_SCHEME_MQTTS, "Broker", 8883, NULL},
        {"ws://broker:9001/mqtt", MQG_SCHEME_WS, "broker", 9001, "/mqtt"},
        {"ws://broker", MQG_SCHEME_WS, "broker", 80, NULL},
        {"ws://broker/", MQG_SCHEME_WS, "broker", 80, NULL},
        {"ws://broker//", MQG_SCHEME_WS, "broker", 80, "//"},
        {"wss://broker/ws?x=1", MQG_SCHEME_WSS, "broker", 443, "/ws?x=1"},
        {"wss://broker?x=1", MQG_SCHEME_WSS, "broker", 443, "?x=1"},
        {"wss://broker#f", MQG_SCHEME_WSS, "broker", 443, "#f"},
        {"mqtt://[fe80::1]:1885", MQG_SCHEME_MQTT, "fe80::1", 1885, NULL},
        {"mqtt://[::1]", MQG_SCHEME_MQTT, "::1", 1883, NULL},
        {"wss://[::1]:8443/mqtt", MQG_SCHEME_WSS, "::1", 8443, "/mqtt"},
        {"mqtt://b:65535", MQG_SCHEME_MQTT, "b", 65535, NULL},
        {"mqtt://b:1", MQG_SCHEME_MQTT, "b", 1, NULL},
        {"mqtt://b:0001883", MQG_SCHEME_MQTT, "b", 1883, NULL},
        /* the part after the path is not looked at for user info or ports */
        {"ws://b/a@b:c", MQG_SCHEME_WS, "b", 80, "/a@b:c"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_url u;
        char why[512] = "";
        int rc = mqg_url_parse(cases[i].url, &u, why, sizeof(why));
        if (rc != 0) {
            fail_msg("%s: rc %d: %s", cases[i].url, rc, why);
        }
        assert_int_equal(u.scheme, cases[i].scheme);
        assert_string_equal(u.host, cases[i].host);
        assert_int_equal(u.port, cases[i].port);
        if (cases[i].path) {
            assert_non_null(u.path);
            assert_string_equal(u.path, cases[i].path);
        } else {
            assert_null(u.path);
        }
        mqg_url_clear(&u);
        assert_null(u.host);
    }
}

struct bad_case {
    const char *url;
    const char *why;
};

static void test_parse_errors(void **state)
{
#define SCHEMES                                                                                    \
    "; expected mqtt://, mqtts://, tcp://, ssl://, tls://, ws:// or wss:// followed by "           \
    "host[:port]"
#define PORT ": invalid port; expected 1..65535"
#define HOST ": invalid host; expected scheme://host[:port]"
    static const struct bad_case cases[] = {
        {"broker:1883", "cannot use url 'broker:1883'" SCHEMES},
        {"http://broker", "cannot use url 'http://broker'" SCHEMES},
        {"://broker", "cannot use url '://broker'" SCHEMES},
        {"mqtt:/broker", "cannot use url 'mqtt:/broker'" SCHEMES},
        {"", "cannot use url ''" SCHEMES},
        {"mqtt://u:p@b", "credentials in the url are not supported; expected username and "
                         "password as their own properties"},
        {"mqtt://u@b:1883", "credentials in the url are not supported; expected username and "
                            "password as their own properties"},
        {"mqtt://[::1", "unterminated '[' in url 'mqtt://[::1'; expected [IPv6]:port"},
        {"mqtt://[::1]x", "cannot use url 'mqtt://[::1]x'; expected [IPv6]:port"},
        {"mqtt://::1:1883",
         "cannot use url 'mqtt://::1:1883'; expected an IPv6 address in brackets ([::1])"},
        {"mqtt://", "cannot use url 'mqtt://'" HOST},
        {"mqtt://:1883", "cannot use url 'mqtt://:1883'" HOST},
        {"mqtt://[]:1883", "cannot use url 'mqtt://[]:1883'" HOST},
        {"mqtt://[[::1]", "cannot use url 'mqtt://[[::1]'" HOST},
        {"mqtt://a b", "cannot use url 'mqtt://a b'" HOST},
        {"mqtt://\x1b", "cannot use url 'mqtt://\x1b'" HOST},
        {"mqtt://b:", "cannot use url 'mqtt://b:'" PORT},
        {"mqtt://[::1]:", "cannot use url 'mqtt://[::1]:'" PORT},
        {"mqtt://b:0", "cannot use url 'mqtt://b:0'" PORT},
        {"mqtt://b:65536", "cannot use url 'mqtt://b:65536'" PORT},
        {"mqtt://b:x", "cannot use url 'mqtt://b:x'" PORT},
        {"mqtt://b:+1", "cannot use url 'mqtt://b:+1'" PORT},
        {"mqtt://b:-1", "cannot use url 'mqtt://b:-1'" PORT},
        {"mqtt://b: 1", "cannot use url 'mqtt://b: 1'" PORT},
        {"mqtt://b:1 ", "cannot use url 'mqtt://b:1 '" PORT},
        {"mqtt://b:0x10", "cannot use url 'mqtt://b:0x10'" PORT},
        {"mqtt://b:00001883", "cannot use url 'mqtt://b:00001883'" PORT},
        {"mqtt://b/path", "url 'mqtt://b/path' has a path; expected a path only with ws:// or "
                          "wss://"},
        {"mqtts://b?x", "url 'mqtts://b?x' has a path; expected a path only with ws:// or wss://"},
        {"tcp://b:1883#x", "url 'tcp://b:1883#x' has a path; expected a path only with ws:// or "
                           "wss://"},
    };
#undef SCHEMES
#undef PORT
#undef HOST
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_url u;
        char why[512] = "";
        int rc = mqg_url_parse(cases[i].url, &u, why, sizeof(why));
        if (rc != -EINVAL || strcmp(why, cases[i].why) != 0) {
            fail_msg("%s: rc %d\n got  '%s'\n want '%s'", cases[i].url, rc, why, cases[i].why);
        }
        /* nothing is left to free */
        assert_null(u.host);
        assert_null(u.path);
    }
    /* the message is cut to the buffer */
    struct mqg_url u;
    char why[16];
    assert_int_equal(mqg_url_parse("http://b", &u, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "cannot use url ");
}

static void test_uri(void **state)
{
    static const struct {
        enum mqg_scheme scheme;
        const char *host;
        int port;
        const char *path;
        const char *uri;
    } cases[] = {
        {MQG_SCHEME_MQTT, "broker", 1883, NULL, "tcp://broker:1883"},
        {MQG_SCHEME_MQTTS, "broker", 8883, NULL, "ssl://broker:8883"},
        {MQG_SCHEME_WS, "broker", 80, "/mqtt", "ws://broker:80/mqtt"},
        {MQG_SCHEME_WSS, "broker", 443, "?x=1", "wss://broker:443?x=1"},
        {MQG_SCHEME_MQTT, "::1", 1884, NULL, "tcp://[::1]:1884"},
        {MQG_SCHEME_WSS, "fe80::1", 8443, "/ws", "wss://[fe80::1]:8443/ws"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *uri = mqg_url_uri(cases[i].scheme, cases[i].host, cases[i].port, cases[i].path);
        assert_non_null(uri);
        assert_string_equal(uri, cases[i].uri);
        free(uri);
    }
}

/* A parsed url gives the URI of the same address; clearing is NULL-safe and repeatable. */
static void test_parse_to_uri(void **state)
{
    struct mqg_url u;
    char why[512];
    assert_int_equal(mqg_url_parse("WSS://[::1]/mqtt", &u, why, sizeof(why)), 0);
    char *uri = mqg_url_uri(u.scheme, u.host, u.port, u.path);
    assert_string_equal(uri, "wss://[::1]:443/mqtt");
    free(uri);
    mqg_url_clear(&u);
    mqg_url_clear(&u);
    mqg_url_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes),      cmocka_unit_test(test_default_ports),
        cmocka_unit_test(test_valid_host),   cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_uri),
        cmocka_unit_test(test_parse_to_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
