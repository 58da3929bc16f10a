/* mqg_svc_rules — the `rules` of an endpoint or a mapping entry: Connectware's data-processing
 * rules (docs/rules.md §6) read into struct mqg_rule (mqg_model.h).
 *
 * mqg_svc_rules() is internal to the loader (mqg_svc_endpoint.c, mqg_svc_mapping.c): it checks
 * the syntax and the options of each rule, not the JSONata expressions, which are only required
 * to be non-empty UTF-8 text (compiling them is the rules process's job). mqg_model_rules_free()
 * (mqg_model.h) frees them, mqg_model_rules_print() prints them. No global state.
 */
#ifndef MQG_SVC_RULES_H
#define MQG_SVC_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mqg_model.h"
#include "mqg_svc_ctx.h"

/* Read map's `rules` (setting path "<parent>.rules") into a new array *out of *n rules (heap;
 * free with mqg_rules_free). Absent, null or an empty list: *out NULL, *n 0. Each rule's and
 * var's `where` is "FILE:LINE:COL" of the value as written, where errors point (a block
 * scalar's: its '|' or '>' indicator; a !ref's: the tag); rid is not set. Returns 0, or a
 * negative errno with c->err filled (*out NULL, *n 0: nothing to free). */
int mqg_svc_rules(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                  struct mqg_rule **out, size_t *n);

/* True when one of the route's rules (rt: a const struct mqg_route *) is a setContextVars that
 * sets the variable name[0..len): a name a mapping's publish topic may use as "{name}". The
 * shape of mqg_pattern_check_template_vars's `known`. */
bool mqg_rules_sets_var(const void *rt, const char *name, size_t len);

/* Free the rules of rt and leave it without rules (rules NULL, n_rules 0). */
void mqg_rules_clear(struct mqg_route *rt);

#endif
