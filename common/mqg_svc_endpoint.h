/* mqg_svc_endpoint — builds a Cybus::Endpoint (protocol Mqtt) into the model: the endpoint and
 * its route.
 *
 * Internal to the loader; run after every connection is built (an endpoint names one) and
 * before the mappings (which name endpoints). Rules: docs/formats.md §1.7 — exactly one of
 * subscribe {topic, qos} and write {topic, qos, retain}; the data topic is
 * <Cybus::MqttRoot>/<topic property or endpoint id>; rules (mqg_svc_rules.h) go on its route.
 */
#ifndef MQG_SVC_ENDPOINT_H
#define MQG_SVC_ENDPOINT_H

#include "mqg_svc_ctx.h"
#include "mqg_svc_res.h"

/* Append endpoint r (collected, kind MQG_SVC_R_EP) and its route to the model and set
 * r->index. A subscribe endpoint routes its broker filter to its data topic, a write endpoint
 * routes <data topic>/set to its broker topic. Returns 0 or a negative errno (c->err filled). */
int mqg_svc_build_endpoint(struct mqg_svc_ctx *c, struct mqg_svc_res *r);

#endif
