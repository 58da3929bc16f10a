/* mqg_service — loads a service commissioning file (YAML) into the resolved model.
 *
 * Used by the supervisor (see mqg_service.h and shared/commissioning.md). The document is
 * walked through mqg_yaml.c; !ref / !sub are resolved on the fly while each setting is read,
 * so every error can point at the node the user wrote. Here: the top level and the order of
 * the passes — metadata, parameters, definitions (mqg_svc_param.c), the resources' first pass
 * (mqg_svc_res.c), then connections, endpoints and mappings (mqg_svc_conn.c,
 * mqg_svc_endpoint.c, mqg_svc_mapping.c), so a resource may refer to one defined later. The
 * state of one load is a struct mqg_svc_ctx (mqg_svc_ctx.h). The first error stops loading;
 * no global state.
 */
#include "mqg_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_conn.h"
#include "mqg_svc_ctx.h"
#include "mqg_svc_endpoint.h"
#include "mqg_svc_mapping.h"
#include "mqg_svc_param.h"
#include "mqg_svc_res.h"
#include "mqg_svc_setting.h"
#include "mqg_yaml.h"

typedef struct mqg_yaml_node s_node;

static int s_load(struct mqg_svc_ctx *c, const char *service_id)
{
    /* `version` is the platform's file format version: accepted and ignored. */
    static const char *const keys[] = {"version",     "description", "metadata", "parameters",
                                       "definitions", "resources",   NULL};
    const s_node *root = mqg_yaml_root(c->doc);
    if (mqg_yaml_kind(root) != MQG_YAML_MAPPING || mqg_yaml_local_tag(root)) {
        return mqg_svc_fail(c, root, NULL,
                            "expected a mapping with metadata and resources at the top "
                            "level, got a %s",
                            mqg_yaml_kind_name(root));
    }
    int rc = mqg_svc_check_keys(c, root, "", keys);
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        const s_node *d = mqg_yaml_map_get(c->doc, root, keys[i], NULL);
        if (d && mqg_yaml_kind(d) != MQG_YAML_SCALAR) {
            rc = mqg_svc_fail(c, d, keys[i], "expected text, got a %s", mqg_yaml_kind_name(d));
        }
    }
    rc = rc < 0 ? rc : mqg_svc_load_metadata(c, root, service_id);
    rc = rc < 0 ? rc : mqg_svc_load_params(c, root);
    rc = rc < 0 ? rc : mqg_svc_load_defs(c, root);
    rc = rc < 0 ? rc : mqg_svc_collect(c, root);
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == MQG_SVC_R_CONN) {
            rc = mqg_svc_build_conn(c, &c->res[i]);
        }
    }
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == MQG_SVC_R_EP) {
            rc = mqg_svc_build_endpoint(c, &c->res[i]);
        }
    }
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == MQG_SVC_R_MAP) {
            rc = mqg_svc_build_mapping(c, &c->res[i]);
        }
    }
    return rc;
}

/* Load c->doc (owned by c, destroyed here) into the model. */
static int s_load_doc(struct mqg_svc_ctx *c, const char *service_id)
{
    int rc = s_load(c, service_id);
    if (rc == 0) {
        rc = mqg_svc_notes_flush(c);
    }
    free(c->notes);
    for (size_t i = 0; i < c->n_res; i++) {
        free(c->res[i].skipped_as);
    }
    free(c->res);
    for (size_t i = 0; i < c->n_pdefs; i++) {
        free(c->pdefs[i].owned);
    }
    free(c->pdefs);
    mqg_yaml_destroy(&c->doc);
    return rc;
}

int mqg_service_load(struct mqg_model *m, const char *path, struct mqg_param *params,
                     size_t n_params, const char *service_id, struct mqg_error *err)
{
    struct mqg_svc_ctx c = {
        .m = m,
        .path = path,
        .err = err,
        .params = params,
        .n_params = n_params,
    };
    int rc = mqg_yaml_load(path, &c.doc, err);
    return rc < 0 ? rc : s_load_doc(&c, service_id);
}

int mqg_service_load_buffer(struct mqg_model *m, const char *name, const void *buf, size_t len,
                            struct mqg_param *params, size_t n_params, const char *service_id,
                            struct mqg_error *err)
{
    struct mqg_svc_ctx c = {
        .m = m,
        .path = name,
        .err = err,
        .params = params,
        .n_params = n_params,
    };
    int rc = mqg_yaml_load_buffer(name, buf, len, &c.doc, err);
    return rc < 0 ? rc : s_load_doc(&c, service_id);
}

int mqg_service_check_unused(const struct mqg_param *params, size_t n_params,
                             const char *first_file, struct mqg_error *err)
{
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].used) {
            continue;
        }
        int line = 1;
        int col = 1;
        struct mqg_yaml_doc *doc = NULL;
        struct mqg_error ignored;
        if (first_file && mqg_yaml_load(first_file, &doc, &ignored) == 0) {
            const s_node *key;
            mqg_yaml_map_get(doc, mqg_yaml_root(doc), "parameters", &key);
            if (key) {
                line = mqg_yaml_line(key);
                col = mqg_yaml_col(key);
            }
            mqg_yaml_destroy(&doc);
        }
        return mqg_error_set(err, first_file, first_file ? line : 0, first_file ? col : 0,
                             "parameters",
                             "unknown parameter '%s' given with -p; expected only parameters "
                             "declared under parameters in a service file",
                             params[i].name ? params[i].name : "");
    }
    return 0;
}

void mqg_service_id_from_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) {
        return;
    }
    for (const char *p = name; p && *p && n + 1 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 'A' && ch <= 'Z') {
            out[n++] = (char)(ch - 'A' + 'a');
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
}
