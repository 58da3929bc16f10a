/* mqg_svc_param — what a commissioning file declares before its resources: metadata (the
 * service id), parameters (typed, checked values from -p or their default) and definitions.
 *
 * Internal to the loader; read in this order by mqg_service.c before any resource, so that
 * !ref can find every name. The rules are those of docs/formats.md §1.2 and §1.3: a parameter
 * declaration is a JSON Schema and its value is validated as ajv does (mqg_svc_pschema.h);
 * the first violation names the parameter and the keyword. A parameter's value text is owned
 * by its pdef (p->owned, freed by the loader); definition nodes are borrowed from the
 * document.
 */
#ifndef MQG_SVC_PARAM_H
#define MQG_SVC_PARAM_H

#include "mqg_svc_ctx.h"

/* The type of a parameter's value (T_JSON: an array, object or null, as compact JSON). */
enum mqg_svc_ptype {
    MQG_SVC_T_STRING,
    MQG_SVC_T_INTEGER,
    MQG_SVC_T_NUMBER,
    MQG_SVC_T_BOOLEAN,
    MQG_SVC_T_JSON,
};

/* A declared parameter and its value as text (a string as it is; numbers, booleans and the
 * rest as JSON writes them). */
struct mqg_svc_pdef {
    const char *name; /* borrowed from the document */
    enum mqg_svc_ptype type;
    const char *value; /* = owned */
    char *owned;
};

/* metadata: checks its keys and name, sets c->sid (from the name, or `override` when not
 * NULL: --service-id) and c->root, fails if another loaded service has the same id, and adds
 * the service to the model. Returns 0 or a negative errno (c->err filled). */
int mqg_svc_load_metadata(struct mqg_svc_ctx *c, const struct mqg_yaml_node *root,
                          const char *override);

/* parameters: every declaration into c->pdefs (heap, freed by the loader) with its value from
 * c->params (marked used) or its default, checked. Returns 0 or a negative errno. */
int mqg_svc_load_params(struct mqg_svc_ctx *c, const struct mqg_yaml_node *root);

/* definitions: checks the names (none may also be a parameter) and sets c->defs. Returns 0 or
 * -EINVAL. */
int mqg_svc_load_defs(struct mqg_svc_ctx *c, const struct mqg_yaml_node *root);

/* The parameter declared as `name`, or NULL. */
const struct mqg_svc_pdef *mqg_svc_find_param(const struct mqg_svc_ctx *c, const char *name);

/* The node of definition `name`, or NULL. */
const struct mqg_yaml_node *mqg_svc_find_def(const struct mqg_svc_ctx *c, const char *name);

#endif
