/* mqg_svc_res — the resources of a commissioning file: the first pass over them, and
 * references from one resource to another.
 *
 * Internal to the loader. The first pass (mqg_svc_collect) reads every resource's id, type and
 * protocol, records the kinds mqgate skips in the model, and keeps the rest for the builders
 * (mqg_svc_conn.c, mqg_svc_endpoint.c, mqg_svc_mapping.c), which run after it so that a
 * resource may refer to one defined later in the file.
 */
#ifndef MQG_SVC_RES_H
#define MQG_SVC_RES_H

#include "mqg_svc_ctx.h"

enum mqg_svc_rkind { MQG_SVC_R_CONN, MQG_SVC_R_EP, MQG_SVC_R_MAP, MQG_SVC_R_SKIPPED };

/* A resource of this file, collected in the first pass. */
struct mqg_svc_res {
    const char *id;                    /* borrowed from the document */
    const struct mqg_yaml_node *key;   /* the id as written */
    const struct mqg_yaml_node *props; /* properties mapping (resolved), NULL when skipped */
    enum mqg_svc_rkind kind;
    char *skipped_as; /* skipped: the kind shown to the user (heap, freed by the loader) */
    int index;        /* model index of the connection / endpoint, -1 before it is built */
};

/* resources: every resource into c->res (heap, freed by the loader with each skipped_as);
 * skipped ones (other types, other protocols) are added to model->skipped. Returns 0 or a
 * negative errno (c->err filled). */
int mqg_svc_collect(struct mqg_svc_ctx *c, const struct mqg_yaml_node *root);

/* The resource with id `id`, or NULL. */
struct mqg_svc_res *mqg_svc_find_res(const struct mqg_svc_ctx *c, const char *id);

/* map[key] as a reference to a resource of kind `want` (MQG_SVC_R_CONN or MQG_SVC_R_EP):
 * `!ref <id>`, a plain id, or a parameter/definition holding an id. *out gets the resource,
 * NULL when the setting is absent or null. Returns 1 when set, 0 when not, or -EINVAL for an
 * unknown, skipped or other kind of resource, or a reference to another service. */
int mqg_svc_resref_kind(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                        const char *key, enum mqg_svc_rkind want, struct mqg_svc_res **out);

/* As mqg_svc_resref_kind for an endpoint (MQG_SVC_R_EP), but a resource mqgate skips (another
 * protocol or kind) is not an error: 2, with *out set (a mapping entry that reads from or
 * writes to it is left out). */
int mqg_svc_resref_endpoint(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map,
                            const char *parent, const char *key, struct mqg_svc_res **out);

#endif
