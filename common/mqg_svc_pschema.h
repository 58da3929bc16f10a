/* mqg_svc_pschema — a parameter declaration read as the JSON Schema it is, and its value checked.
 *
 * Internal to the loader (mqg_svc_param.c). The declaration's YAML becomes a JSON value with
 * the positions the user wrote (mqg_jval.h), is checked as a schema (mqg_jschema.h: keywords
 * JSON Schema does not define become one NOTICE each), and the value (-p text, or the
 * default) is validated against it as ajv would. Errors carry FILE:LINE:COL of the keyword at
 * fault and the setting path parameters.NAME.KEYWORD.
 */
#ifndef MQG_SVC_PSCHEMA_H
#define MQG_SVC_PSCHEMA_H

#include "mqg_svc_ctx.h"
#include "mqg_svc_param.h"

/* Check the declaration `decl` of parameter p (p->name set; key is its name's node, base its
 * setting path) and set p->value, p->type and p->owned from text (the -p value, or NULL for
 * the default). Returns 0 or a negative errno (c->err filled). */
int mqg_svc_pschema_load(struct mqg_svc_ctx *c, const struct mqg_yaml_node *key,
                         const struct mqg_yaml_node *decl, const char *base, const char *text,
                         struct mqg_svc_pdef *p);

#endif
