/* mqg_svc_mapping — builds a Cybus::Mapping into the model: one route per entry of its
 * `mappings` list.
 *
 * Internal to the loader; run after connections and endpoints are built. Rules:
 * docs/formats.md §1.8 — subscribe S or [S, ...] with S = {endpoint} or {topic, connection?},
 * publish P = {endpoint: <write endpoint>} or {topic, connection?}; named wildcards (+name,
 * #name) in S.topic, and every {name} of P.topic must be a named wildcard of each S or a
 * variable set by a setContextVars rule of the entry; the entry's rules (mqg_svc_rules.h) go on
 * its route.
 */
#ifndef MQG_SVC_MAPPING_H
#define MQG_SVC_MAPPING_H

#include "mqg_svc_ctx.h"
#include "mqg_svc_res.h"

/* Append a route for every entry of mapping r (collected, kind MQG_SVC_R_MAP). Returns 0 or a
 * negative errno (c->err filled). */
int mqg_svc_build_mapping(struct mqg_svc_ctx *c, struct mqg_svc_res *r);

#endif
