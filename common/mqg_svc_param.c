/* mqg_svc_param — metadata, parameters and definitions of a commissioning file.
 *
 * Used by the loader (see mqg_svc_param.h). Declarations are read as literal YAML (no !ref
 * or !sub in them) and checked as JSON Schema by mqg_svc_pschema.c; a parameter's value is
 * checked once and then handed out as text wherever !ref or ${} names it.
 */
#include "mqg_svc_param.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_pschema.h"
#include "mqg_svc_scalar.h"
#include "mqg_svc_setting.h"

typedef struct mqg_yaml_node s_node;

/* Names of parameters and definitions: letters, digits, '_', '-', '.'. */
static bool s_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') {
            return false;
        }
    }
    return true;
}

const struct mqg_svc_pdef *mqg_svc_find_param(const struct mqg_svc_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_pdefs; i++) {
        if (strcmp(c->pdefs[i].name, name) == 0) {
            return &c->pdefs[i];
        }
    }
    return NULL;
}

const s_node *mqg_svc_find_def(const struct mqg_svc_ctx *c, const char *name)
{
    const s_node *key = NULL;
    const s_node *v = mqg_yaml_map_get(c->doc, c->defs, name, &key);
    return key ? v : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* metadata                                                                                  */

/* metadata: a mapping of the allowed keys, each a scalar; *md gets it. */
static int s_metadata_map(struct mqg_svc_ctx *c, const s_node *root, const s_node **md)
{
    static const char *const keys[] = {"name", "version", "provider", "icon", "homepage", NULL};
    char path[MQG_SVC_PATH_MAX];
    *md = mqg_yaml_map_get(c->doc, root, "metadata", NULL);
    if (!*md) {
        return mqg_svc_fail(c, root, "metadata",
                            "metadata is missing; expected metadata with a name");
    }
    if (mqg_yaml_kind(*md) != MQG_YAML_MAPPING || mqg_yaml_local_tag(*md)) {
        return mqg_svc_fail(c, *md, "metadata",
                            "expected a mapping with name, version, provider, ...");
    }
    int rc = mqg_svc_check_keys(c, *md, "metadata", keys);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 1; keys[i]; i++) {
        const s_node *v = mqg_yaml_map_get(c->doc, *md, keys[i], NULL);
        mqg_svc_path(path, "metadata", keys[i]);
        if (v && mqg_yaml_kind(v) != MQG_YAML_SCALAR) {
            return mqg_svc_fail(c, v, path, "expected text, got a %s", mqg_yaml_kind_name(v));
        }
    }
    return 0;
}

/* metadata.name: literal text of at most MQG_SVC_SID_MAX characters; *nn gets its node. */
static int s_metadata_name(struct mqg_svc_ctx *c, const s_node *md, const s_node **nn,
                           const char **name)
{
    size_t len;
    *nn = mqg_yaml_map_get(c->doc, md, "name", NULL);
    *name = mqg_yaml_scalar(*nn, &len);
    if (!*nn || mqg_yaml_is_null(*nn)) {
        return mqg_svc_fail(c, *nn ? *nn : md, "metadata.name",
                            "metadata.name is missing; expected the service name (at most %d "
                            "characters)",
                            MQG_SVC_SID_MAX);
    }
    if (!*name || mqg_yaml_local_tag(*nn) || strlen(*name) != len) {
        return mqg_svc_fail(c, *nn, "metadata.name",
                            "expected literal text (no !ref or !sub), got a %s%s",
                            mqg_yaml_kind_name(*nn), mqg_yaml_local_tag(*nn) ? " with a tag" : "");
    }
    if (mqg_svc_utf8_len(*name) > MQG_SVC_SID_MAX) {
        return mqg_svc_fail(c, *nn, "metadata.name", "name has %zu characters; expected at most %d",
                            mqg_svc_utf8_len(*name), MQG_SVC_SID_MAX);
    }
    return 0;
}

/* c->sid from --service-id (override) or from the name; c->root; unique among the services
 * loaded so far. Errors about the name point at nn. */
static int s_service_id(struct mqg_svc_ctx *c, const s_node *nn, const char *name,
                        const char *override)
{
    if (override) {
        bool ok = override[0] != '\0' && strlen(override) <= MQG_SVC_SID_MAX;
        for (const char *p = override; *p; p++) {
            ok = ok && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
        }
        if (!ok) {
            return mqg_error_set(c->err, NULL, 0, 0, "--service-id",
                                 "service id '%s' is invalid; expected 1..%d characters a-z, 0-9",
                                 override, MQG_SVC_SID_MAX);
        }
        snprintf(c->sid, sizeof(c->sid), "%s", override);
    } else {
        mqg_service_id_from_name(name, c->sid, sizeof(c->sid));
        if (!c->sid[0]) {
            return mqg_svc_fail(c, nn, "metadata.name",
                                "'%s' gives an empty service id; expected at least one letter a-z "
                                "or digit (or give --service-id)",
                                name);
        }
    }
    snprintf(c->root, sizeof(c->root), "services/%s", c->sid);
    for (size_t i = 0; i < c->m->n_services; i++) {
        if (strcmp(c->m->services[i].service_id, c->sid) == 0) {
            return mqg_svc_fail(c, nn, "metadata.name",
                                "service id '%s' is already used by %s; expected a different "
                                "metadata.name (or --service-id)",
                                c->sid, c->m->services[i].file);
        }
    }
    return 0;
}

int mqg_svc_load_metadata(struct mqg_svc_ctx *c, const s_node *root, const char *override)
{
    const s_node *md;
    const s_node *nn;
    const char *name;
    size_t idx;
    int rc = s_metadata_map(c, root, &md);
    rc = rc < 0 ? rc : s_metadata_name(c, md, &nn, &name);
    rc = rc < 0 ? rc : s_service_id(c, nn, name, override);
    rc = rc < 0 ? rc
                : mqg_svc_append(c, (void **)&c->m->services, &c->m->n_services,
                                 sizeof(*c->m->services), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_service_info *si = &c->m->services[idx];
    if (mqg_svc_dup(c, c->sid, &si->service_id) < 0 || mqg_svc_dup(c, name, &si->name) < 0 ||
        mqg_svc_dup(c, c->path, &si->file) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* parameters and definitions                                                                */

/* One declaration `key: decl` into p (p->name set): its value from -p (marking it used) or
 * its default, checked against the declaration as a JSON Schema (mqg_svc_pschema.c). */
static int s_load_param(struct mqg_svc_ctx *c, const s_node *key, const s_node *decl,
                        struct mqg_svc_pdef *p)
{
    char base[MQG_SVC_PATH_MAX];
    const char *text = NULL;
    mqg_svc_path(base, "parameters", p->name);
    for (size_t i = 0; i < c->n_params; i++) {
        if (c->params[i].name && strcmp(c->params[i].name, p->name) == 0) {
            text = c->params[i].value ? c->params[i].value : "";
            c->params[i].used = true;
        }
    }
    return mqg_svc_pschema_load(c, key, decl, base, text, p);
}

int mqg_svc_load_params(struct mqg_svc_ctx *c, const s_node *root)
{
    const s_node *ps = mqg_yaml_map_get(c->doc, root, "parameters", NULL);
    if (!ps || mqg_yaml_is_null(ps)) {
        return 0;
    }
    if (mqg_yaml_kind(ps) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ps)) {
        return mqg_svc_fail(c, ps, "parameters", "expected a mapping NAME: {type, default, ...}");
    }
    size_t n = mqg_yaml_map_size(ps);
    c->pdefs = calloc(n ? n : 1, sizeof(*c->pdefs));
    if (!c->pdefs) {
        return mqg_svc_oom(c);
    }
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        const s_node *v;
        mqg_yaml_map_at(c->doc, ps, i, &k, &v);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, MQG_SVC_NAME_MAX)) {
            return mqg_svc_fail(
                c, k, "parameters",
                "invalid parameter name '%s'; expected letters, digits, '_', '-', '.'",
                name ? name : "");
        }
        struct mqg_svc_pdef *p = &c->pdefs[c->n_pdefs++];
        p->name = name;
        int rc = s_load_param(c, k, v, p);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int mqg_svc_load_defs(struct mqg_svc_ctx *c, const s_node *root)
{
    const s_node *ds = mqg_yaml_map_get(c->doc, root, "definitions", NULL);
    if (!ds || mqg_yaml_is_null(ds)) {
        return 0;
    }
    if (mqg_yaml_kind(ds) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ds)) {
        return mqg_svc_fail(c, ds, "definitions", "expected a mapping NAME: value");
    }
    size_t n = mqg_yaml_map_size(ds);
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        mqg_yaml_map_at(c->doc, ds, i, &k, NULL);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, MQG_SVC_NAME_MAX)) {
            return mqg_svc_fail(c, k, "definitions",
                                "invalid definition name '%s'; expected letters, digits, '_', '-', "
                                "'.'",
                                name ? name : "");
        }
        if (mqg_svc_find_param(c, name)) {
            char path[MQG_SVC_PATH_MAX];
            mqg_svc_path(path, "definitions", name);
            return mqg_svc_fail(c, k, path,
                                "'%s' is declared as a parameter and as a definition; expected one "
                                "name for each",
                                name);
        }
    }
    c->defs = ds;
    return 0;
}
