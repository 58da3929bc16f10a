/* mqg_svc_value — a setting's value after !ref and !sub: tags, built-ins and their bounds.
 *
 * Internal to the loader. Resolves what is written at a node: untagged YAML as it is,
 * `!ref NAME` (a parameter's text, a definition's node, recursively, or a built-in) and
 * `!sub 'text ${NAME}'` (new heap text), so that every error can still point at the node the
 * user wrote. Bounds (docs/formats.md §1.4): references nested at most 16 levels, a !sub value
 * at most 1 MiB, at most 16 MiB of !sub text and 100,000 substitutions per file (kept in the
 * context). Tags other than !ref and !sub are errors.
 */
#ifndef MQG_SVC_VALUE_H
#define MQG_SVC_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_svc_ctx.h"

/* Room for mqg_svc_origin()'s text. */
#define MQG_SVC_ORIGIN_MAX (MQG_SVC_NAME_MAX + 32)

/* A setting's value after !ref / !sub resolution. */
struct mqg_svc_val {
    const struct mqg_yaml_node *at;   /* where it is written: errors point here */
    const struct mqg_yaml_node *node; /* resolved node; NULL for text from -p, built-ins, !sub */
    const char *text;                 /* scalar text, NULL for a mapping or a sequence */
    size_t len;
    bool quoted; /* typed as a string (quoted scalar, !sub, string parameter) */
    const struct mqg_svc_pdef *param; /* the parameter it comes from, or NULL */
    const char *from_kind;            /* "parameter" / "definition" / NULL: for messages */
    const char *from_name;
    char *owned; /* heap text made by !sub */
};

/* Resolve node n, the value of setting `path`, into a fresh *v (clear it with
 * mqg_svc_val_clear, also after a failure). Returns 0 or a negative errno (c->err filled). */
int mqg_svc_resolve(struct mqg_svc_ctx *c, const struct mqg_yaml_node *n, const char *path,
                    struct mqg_svc_val *v);

/* Free what v owns and zero it. */
void mqg_svc_val_clear(struct mqg_svc_val *v);

/* True when v is an untagged null ("", ~, null): "not set". */
bool mqg_svc_val_null(const struct mqg_svc_val *v);

/* " (from parameter 'x')" / " (from definition 'd')" or "" — where v came from, for messages;
 * written into buf (cap bytes, MQG_SVC_ORIGIN_MAX is enough) and returned. */
const char *mqg_svc_origin(const struct mqg_svc_val *v, char *buf, size_t cap);

/* The name written after tag `tag` ("!ref") at node n: a non-empty scalar without NUL, into
 * *out (borrowed from the document). Returns 0 or -EINVAL naming `path`. */
int mqg_svc_tag_name(struct mqg_svc_ctx *c, const struct mqg_yaml_node *n, const char *tag,
                     const char *path, const char **out);

#endif
