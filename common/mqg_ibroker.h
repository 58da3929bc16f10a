/* mqg_ibroker — the internal broker: its settings, its connection in the model, and the
 * configuration of the embedded mosquitto.
 *
 * Used by the settings loader (the `internal_broker` group), the supervisor (`run` and
 * `check`: the connection it adds before the services are loaded, the mosquitto it starts)
 * and the loader (the built-ins Cybus::MqttHost, MqttPort, MqttUser, MqttPassword). Pure
 * except mqg_ibroker_find_mosquitto() and mqg_ibroker_port_free(), which look at the
 * machine. Strings in the structs are heap copies owned by them.
 */
#ifndef MQG_IBROKER_H
#define MQG_IBROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_model.h"

/* The default loopback listener of the embedded broker: not 1883, where a system mosquitto
 * may listen. */
#define MQG_IB_DEFAULT_HOST "127.0.0.1"
#define MQG_IB_DEFAULT_PORT 11883

/* The connection's ids in the model: the key cannot be a service's ("-" is not allowed in a
 * resource id). */
#define MQG_IB_SERVICE "mqgate"
#define MQG_IB_ID "internal-broker"
#define MQG_IB_KEY MQG_IB_SERVICE "/" MQG_IB_ID

enum mqg_ib_mode {
    MQG_IB_EMBEDDED = 0, /* a mosquitto started and supervised by mqgate (default) */
    MQG_IB_EXTERNAL,     /* a broker the user runs, at `url` */
    MQG_IB_OFF,          /* none: internal topics exist only inside the router */
};

/* An extra listener of the embedded broker (`listeners`), TLS when certfile is set. */
struct mqg_ib_listener {
    char *host; /* address to bind, e.g. "0.0.0.0" or "::" */
    int port;
    char *cafile;   /* NULL = none */
    char *certfile; /* NULL = plain MQTT */
    char *keyfile;
    bool require_certificate;
};

struct mqg_ib_settings {
    enum mqg_ib_mode mode;
    char *listen_host; /* embedded: the loopback listener mqgate connects to */
    int listen_port;
    char *mosquitto;     /* embedded: program name (searched) or path; "mosquitto" */
    char *password_file; /* embedded: mosquitto's password_file; NULL = anonymous */
    struct mqg_ib_listener *listeners;
    size_t n_listeners;
    char *url; /* external: mqtt://host:port, mqtts://... */
    char *username;
    char *password; /* wiped before it is freed */
    char *ca_cert;  /* external with TLS: PEM text or file path */
    char *client_cert;
    char *client_key; /* wiped before it is freed */
    bool trust_all;
};

/* Defaults (embedded on 127.0.0.1:11883, "mosquitto"). Returns 0 or -ENOMEM (ib is then
 * freed). */
int mqg_ibroker_defaults(struct mqg_ib_settings *ib);

/* NULL-safe; frees (and wipes the secrets of) everything ib owns and zeroes it. */
void mqg_ibroker_free(struct mqg_ib_settings *ib);

/* "HOST:PORT" ("[v6]:PORT" for an IPv6 address) into *host (heap) and *port (1..65535).
 * Returns 0, -EINVAL (why, cap bytes, says what is wrong) or -ENOMEM. */
int mqg_ibroker_parse_listen(const char *text, char **host, int *port, char *why, size_t cap);

/* "embedded", "external", "off" -> mode; -1 if unknown. */
int mqg_ibroker_mode_parse(const char *text);
const char *mqg_ibroker_mode_name(enum mqg_ib_mode mode);

/* Add the internal broker's connection to m (before any service is loaded, so that the
 * built-ins can name it), flagged internal_broker; nothing for mode off. Embedded: plain MQTT to
 * the listen address (a wildcard address is reached on loopback); external: the url. MQTT 5,
 * subscriptions with No Local (nothing mqgate publishes there comes back), quick reconnects.
 * Returns 0, -EINVAL (the external url does not parse: why says so) or -ENOMEM. */
int mqg_ibroker_add(struct mqg_model *m, const struct mqg_ib_settings *ib, char *why, size_t cap);

/* The mosquitto.conf of the embedded broker, a new heap string (caller frees): the loopback
 * listener, the extra listeners with their TLS files, the password file (else anonymous
 * access), no persistence, log to stderr without timestamps. `user`: the account mosquitto
 * keeps when started by root (NULL when not root: mosquitto changes user only as root).
 * Returns NULL when out of memory. */
char *mqg_ibroker_conf(const struct mqg_ib_settings *ib, const char *user);

/* Where the mosquitto program `name` is: a name with '/' as it is; else the first executable
 * in $PATH, /usr/sbin, /usr/local/sbin (Debian installs it in /usr/sbin, which is not on every
 * user's PATH). Returns 0 with out filled, or -ENOENT. */
int mqg_ibroker_find_mosquitto(const char *name, char *out, size_t cap);

/* Can host:port be bound now (TCP, SO_REUSEADDR as mosquitto does)? Returns 0, or -errno
 * (-EADDRINUSE: someone listens there; -EADDRNOTAVAIL: not an address of this machine;
 * -EINVAL: host is not an address). */
int mqg_ibroker_port_free(const char *host, int port);

/* The host a client connects to for a listener bound to `host`: the loopback address for
 * a wildcard address ("0.0.0.0" -> "127.0.0.1", "::" -> "::1"), else host itself. */
const char *mqg_ibroker_connect_host(const char *host);

#endif
