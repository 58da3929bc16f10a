/* mqg_settings_svc — the `services` list of the settings file (see mqg_settings_read.h).
 *
 * Internal to the settings loader: each entry's file (relative to the settings file) and its
 * parameters, every value kept as the text -p would give. Errors with FILE:LINE:COL and the
 * setting path (services[i].parameters.NAME).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_settings.h"
#include "mqg_settings_read.h"

/* Shortest decimal text that reads back as the same double. */
static void s_format_double(double v, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

/* Parameter value as text: strings as is, numbers in decimal, booleans "true"/"false". */
static int s_param_value(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                         char **out)
{
    char buf[64];
    switch (config_setting_type(st)) {
    case CONFIG_TYPE_STRING:
        *out = mqg_set_strdup(config_setting_get_string(st));
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: {
        long long v = config_setting_get_int64(st);
        long long src;
        if (config_setting_type(st) == CONFIG_TYPE_INT && mqg_set_source_int(c, st, &src) &&
            (src < INT_MIN || src > INT_MAX)) {
            return mqg_set_fail(c, st, path,
                                "integer does not fit in 32 bits; write it with an L suffix "
                                "(e.g. 4294967296L) or as a string");
        }
        snprintf(buf, sizeof(buf), "%lld", v);
        *out = mqg_set_strdup(buf);
        break;
    }
    case CONFIG_TYPE_FLOAT:
        s_format_double(config_setting_get_float(st), buf, sizeof(buf));
        *out = mqg_set_strdup(buf);
        break;
    case CONFIG_TYPE_BOOL:
        *out = mqg_set_strdup(config_setting_get_bool(st) ? "true" : "false");
        break;
    default:
        return mqg_set_fail(c, st, path, "expected a string, number or boolean, got %s",
                            mqg_set_type_name(config_setting_type(st)));
    }
    return *out ? 0 : -ENOMEM;
}

static int s_load_params(const struct mqg_set_ctx *c, const config_setting_t *g, const char *gpath,
                         struct mqg_settings_service *svc)
{
    char path[256];
    if (!config_setting_is_group(g)) {
        return mqg_set_fail(c, g, gpath, "expected a group { NAME = VALUE; ... }, got %s",
                            mqg_set_type_name(config_setting_type(g)));
    }
    size_t n = (size_t)config_setting_length(g);
    if (n == 0) {
        return 0;
    }
    svc->params = calloc(n, sizeof(*svc->params));
    svc->owned = calloc(2 * n, sizeof(*svc->owned));
    if (!svc->params || !svc->owned) {
        return -ENOMEM;
    }
    svc->n_params = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", gpath, name);
        if (!(svc->owned[2 * i] = mqg_set_strdup(name))) {
            return -ENOMEM;
        }
        int rc = s_param_value(c, st, path, &svc->owned[2 * i + 1]);
        if (rc < 0) {
            return rc;
        }
        svc->params[i].name = svc->owned[2 * i];
        svc->params[i].value = svc->owned[2 * i + 1];
        svc->params[i].used = false;
    }
    return 0;
}

static int s_load_service(const struct mqg_set_ctx *c, const config_setting_t *e, size_t idx,
                          struct mqg_settings_service *svc)
{
    char base[64];
    char path[128];
    const config_setting_t *file = NULL;
    snprintf(base, sizeof(base), "services[%zu]", idx);
    if (!config_setting_is_group(e)) {
        return mqg_set_fail(c, e, base,
                            "expected a group { file = \"service.yml\"; parameters = { ... }; }, "
                            "got %s",
                            mqg_set_type_name(config_setting_type(e)));
    }
    for (int i = 0; i < config_setting_length(e); i++) {
        const config_setting_t *st = config_setting_get_elem(e, (unsigned)i);
        const char *name = config_setting_name(st);
        snprintf(path, sizeof(path), "%s.%s", base, name);
        int rc = 0;
        if (strcmp(name, "file") == 0) {
            file = st;
        } else if (strcmp(name, "parameters") == 0) {
            rc = s_load_params(c, st, path, svc);
        } else {
            rc = mqg_set_fail(c, st, path, "unknown setting; known in a service: file, parameters");
        }
        if (rc < 0) {
            return rc;
        }
    }
    snprintf(path, sizeof(path), "%s.file", base);
    if (!file) {
        return mqg_set_fail(c, e, path,
                            "missing; expected the path of a service commissioning file");
    }
    const char *str = NULL;
    int rc = mqg_set_get_string(c, file, path, "the path of a service commissioning file", &str);
    if (rc < 0) {
        return rc;
    }
    if (str[0] == '\0') {
        return mqg_set_fail(c, file, path,
                            "expected the path of a service commissioning file, got \"\"");
    }
    svc->file = mqg_set_resolve(c->dir, str);
    return svc->file ? 0 : -ENOMEM;
}

int mqg_set_load_services(const struct mqg_set_ctx *c, const config_setting_t *l,
                          struct mqg_settings *s)
{
    int type = config_setting_type(l);
    size_t n = (size_t)config_setting_length(l);
    /* an empty [] is an empty list too */
    if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0)) {
        return mqg_set_fail(c, l, "services",
                            "expected a list ( { file = \"service.yml\"; parameters = { ... }; }, "
                            "... ), got %s",
                            mqg_set_type_name(type));
    }
    if (n == 0) {
        return 0;
    }
    s->services = calloc(n, sizeof(*s->services));
    if (!s->services) {
        return -ENOMEM;
    }
    s->n_services = n;
    for (size_t i = 0; i < n; i++) {
        int rc = s_load_service(c, config_setting_get_elem(l, (unsigned)i), i, &s->services[i]);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}
