/* fuzz_service — libFuzzer target for the commissioning file loader (common/mqg_service.c with
 * common/mqg_svc_*.c and common/mqg_url.c, and the libyaml adapter common/mqg_yaml.c).
 *
 * The input is the text of one service file, loaded with mqg_service_load_buffer and a fixed
 * set of -p values (those the example files declare, so they load further); when the input
 * holds a NUL byte, what follows it is the -p value given for all of them. Any input must
 * give 0, -EINVAL with a message, or -ENOMEM, without a crash, leak, hang or sanitizer report.
 * A loaded model must also print, encode and decode again, and every topic it publishes to as
 * written must pass the strict topic check; the same text is then loaded a second time into
 * the same model, which must fail on the duplicate service id. Seeds: examples/, tests/data/
 * and fuzz/corpus_service/; dictionary fuzz/fuzz_service.dict.
 * Built only with clang and MQG_FUZZ=ON (fuzz/CMakeLists.txt).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_error.h"
#include "mqg_model.h"
#include "mqg_service.h"
#include "mqg_svc_rules.h"
#include "mqg_topic.h"

#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed load leaves one error with a message and sane positions. */
static void s_check_error(int rc, const struct mqg_error *err)
{
    S_CHECK(rc == -EINVAL || rc == -ENOMEM);
    S_CHECK(err->msg[0] != '\0' && err->line >= 0 && err->col >= 0);
    char buf[1400];
    mqg_error_format(err, buf, sizeof(buf));
    S_CHECK(strlen(buf) < sizeof(buf));
}

/* Every topic mqgate publishes to as written passes the strict check brokers apply (a
 * template's references are names, so the check sees its literal text). */
static void s_check_published(const char *topic)
{
    S_CHECK(topic && mqg_topic_name_fault(topic, strlen(topic), true, NULL) == NULL);
}

/* A loaded model prints, and survives the trip to a child (encode, decode). */
static void s_check_model(const struct mqg_model *m)
{
    for (size_t i = 0; i < m->n_endpoints; i++) {
        s_check_published(m->endpoints[i].data_topic);
        if (m->endpoints[i].kind == MQG_EP_WRITE) {
            s_check_published(m->endpoints[i].topic);
        }
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        if (m->conns[i].will.set) {
            s_check_published(m->conns[i].will.topic);
        }
    }
    for (size_t i = 0; i < m->n_routes; i++) {
        s_check_published(m->routes[i].target.topic);
    }
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        mqg_model_print(m, f);
        for (size_t i = 0; i < m->n_routes; i++) {
            mqg_model_rules_print(m->routes[i].rules, m->routes[i].n_rules, f);
        }
        fclose(f);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mqg_model_encode(m, &buf, &len);
    S_CHECK(rc == 0 || rc == -ENOMEM);
    if (rc == 0) {
        struct mqg_model back;
        rc = mqg_model_decode(buf, len, &back);
        S_CHECK(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            S_CHECK(back.n_conns == m->n_conns && back.n_endpoints == m->n_endpoints &&
                    back.n_routes == m->n_routes);
        }
        mqg_model_free(&back);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mqg_param params[] = {
        {"mqttHost", "broker.local", false},
        {"mqttUsername", "user", false},
        {"mqttPassword", "secret", false},
        {"sourceHost", "plant.local", false},
        {"targetHost", "cloud.example", false},
        {"targetPort", "8883", false},
        {"area", "south", false},
        {"user", "operator", false},
        {"port", "1883", false},
    };
    size_t n_params = sizeof(params) / sizeof(params[0]);
    /* after a NUL byte (which the file text may not hold anyway): a -p value for every name */
    const uint8_t *nul = memchr(data, 0, size);
    char *value = NULL;
    if (nul) {
        value = strndup((const char *)nul + 1, size - (size_t)(nul - data) - 1);
        if (!value) {
            return 0;
        }
        for (size_t i = 0; i < n_params; i++) {
            params[i].value = value;
        }
        size = (size_t)(nul - data);
    }
    struct mqg_model m;
    struct mqg_error err;
    mqg_model_init(&m);
    memset(&err, 0, sizeof(err));
    int rc = mqg_service_load_buffer(&m, "fuzz.yml", data, size, params, n_params, NULL, &err);
    if (rc != 0) {
        s_check_error(rc, &err);
    } else {
        S_CHECK(m.n_services == 1);
        s_check_model(&m);
        rc = mqg_service_load_buffer(&m, "again.yml", data, size, params, n_params, NULL, &err);
        S_CHECK(rc != 0); /* the same service id twice */
        s_check_error(rc, &err);
    }
    for (size_t i = 0; i < m.n_routes; i++) { /* until mqg_model_free frees them */
        mqg_rules_clear(&m.routes[i]);
    }
    mqg_model_free(&m);
    free(value);
    return 0;
}
