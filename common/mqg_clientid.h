/* mqg_clientid — the default MQTT client id of a connection: unique per gateway instance,
 * stable across its restarts.
 *
 * Brokers allow one session per client id: two gateways that share a source (scaling out with
 * $share/<group>/... subscriptions) must not use the same id, or the broker disconnects one
 * for the other, over and over. A persistent session (clean: false) needs the same id after a
 * restart. So a connection without clientId gets <serviceId>-<connectionId>-<8 hex digits>,
 * the digits a hash of this machine's identity, the instance name, the service id and the
 * connection id. Used by the supervisor after loading the model (mqgate run and check); an
 * explicit clientId is never changed. No global state.
 */
#ifndef MQG_CLIENTID_H
#define MQG_CLIENTID_H

#include <stddef.h>

#include "mqg_model.h"

/* Longest default id: MQTT 3.1 allows 23 bytes, and every 3.1.1/5 broker must accept them. */
#define MQG_CLIENT_ID_DEFAULT_MAX 23

/* This machine's identity into out: the first line of /etc/machine-id, else of
 * /var/lib/dbus/machine-id, else the host name. Returns 0 or -errno (out is then ""). */
int mqg_clientid_machine(char *out, size_t cap);

/* The default id into out (cap > MQG_CLIENT_ID_DEFAULT_MAX): "<sid>-<cid>" cut to
 * 14 bytes (without a trailing '-'), then '-' and 8 lower-case hex digits of the FNV-1a 64
 * hash of "<machine>\n<instance>\n<sid>\n<cid>", its two halves XORed. The hash covers the
 * service and connection ids, so names that agree in their first 14 bytes still differ.
 * Returns 0 or -ENOSPC. */
int mqg_clientid_default(const char *machine, const char *instance, const char *sid,
                         const char *cid, char *out, size_t cap);

/* Give every connection of m whose client id was derived by the loader (client_id_derived)
 * its default id for this machine and instance; other ids stay as written. Returns 0 or
 * -ENOMEM (m unchanged for the connection that failed). */
int mqg_clientid_apply(struct mqg_model *m, const char *machine, const char *instance);

#endif
