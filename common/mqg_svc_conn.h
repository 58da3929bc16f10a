/* mqg_svc_conn — builds a Cybus::Connection (protocol Mqtt) into the model.
 *
 * Internal to the loader; run for every connection after the resources' first pass and before
 * any endpoint. Every `connection.` setting is one row of a table (mqg_svc_conn.c) that gives
 * its name, type, bounds, default and field in struct mqg_connection; the table alone drives
 * unknown-key detection, defaults, reading and checking. The rules are those of
 * docs/formats.md §1.6, which lists the same settings in the same order.
 */
#ifndef MQG_SVC_CONN_H
#define MQG_SVC_CONN_H

#include "mqg_svc_ctx.h"
#include "mqg_svc_res.h"

/* Append connection r (collected, kind MQG_SVC_R_CONN) to the model and set r->index: its
 * targetState, address (url, or host/port/scheme) and URI, the other settings or their
 * defaults, and a derived client id when none is given (client_id_derived: made unique per
 * gateway instance later, mqg_clientid.h). Returns 0 or a negative errno (c->err filled). */
int mqg_svc_build_conn(struct mqg_svc_ctx *c, struct mqg_svc_res *r);

#endif
