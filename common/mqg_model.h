/* mqg_model — the resolved gateway model: connections, endpoints and routes.
 *
 * Built by the supervisor from commissioning files (mqg_service.c), printed by `mqgate check`,
 * serialized (mqg_model_encode/decode) and handed to every child over the control channel.
 * Children never read configuration files. The model owns every string in it (heap copies);
 * mqg_model_free() releases all of it and wipes passwords and keys first.
 *
 * Routing is expressed only through routes: every subscribe endpoint, write endpoint and
 * mapping entry becomes one route with one or more sources and exactly one target. A source
 * or target with conn == MQG_INTERNAL lives on the router's internal bus; otherwise conn is
 * the index of the external broker connection in model->conns.
 */
#ifndef MQG_MODEL_H
#define MQG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MQG_INTERNAL (-1)
/* mqg_model_internal() when there is no internal broker. */
#define MQG_NO_CONN (-2)

enum mqg_scheme {
    MQG_SCHEME_MQTT = 0, /* also "tcp" */
    MQG_SCHEME_MQTTS,    /* also "tls" */
    MQG_SCHEME_WS,
    MQG_SCHEME_WSS,
};

struct mqg_will {
    bool set;
    char *topic;
    char *payload;
    int qos;
    bool retain;
};

struct mqg_connection {
    char *service_id; /* owning service */
    char *id;         /* resource id as written in the file */
    char *key;        /* "<serviceId>/<resourceId>": unique process / ZeroMQ identity */
    char *host;
    int port;
    enum mqg_scheme scheme;
    char *uri;       /* what paho connects to: "tcp://h:p", "ssl://h:p", "ws://..", "wss://.." */
    char *username;  /* NULL = none */
    char *password;  /* NULL = none; never printed or logged */
    char *client_id; /* never NULL after resolution */
    bool client_id_derived;  /* no clientId given: the supervisor sets the default for its
                                instance (mqg_clientid.h); not encoded for children */
    bool clean;              /* default true */
    int keepalive_s;         /* default 60 */
    int connect_timeout_ms;  /* default 30000 */
    int reconnect_period_ms; /* default 1000; connectionStrategy.initialDelay */
    int reconnect_max_ms;    /* connectionStrategy.maxDelay; 0 = max(60 s, reconnect_period) */
    int reconnect_factor;    /* connectionStrategy.incrementFactor: each delay this many times
                                the one before; 0 = growing with jitter (mqg_backoff) */
    int protocol_version;    /* 3, 4 (default) or 5 */
    bool target_connected;   /* targetState: connected (default) | disconnected */
    bool trust_all;          /* trustAllCertificates */
    bool mutual_auth;        /* mutualAuthentication */
    char *ca_cert;           /* PEM text or file path; NULL = none */
    char *client_cert;
    char *client_key;
    struct mqg_will will;
    int buffer_window_ms;    /* messageBufferWindowMs, default 10000, max 30000 */
    int max_buffered;        /* maxBufferedMessages, default 20000, max 300000 */
    bool internal_broker;    /* the internal broker's connection (mqg_ibroker.h; at most one):
                                internal targets are published there too, what arrives from it is
                                routed as internal, and it subscribes with MQTT 5 No Local so that
                                what mqgate publishes there never comes back */
    bool rules_engine;       /* the rules process's connection (MQG_RULES_KEY; at most one, added
                                when a route has rules): no broker behind it, its connector is
                                mqgate-rules, which runs the rules (docs/rules.md) */
    int rules_time_limit_ms; /* rules_engine: the time limit of one rule's evaluation */
};

enum mqg_ep_kind { MQG_EP_SUBSCRIBE = 1, MQG_EP_WRITE = 2 };

struct mqg_endpoint {
    char *service_id;
    char *id; /* resource id */
    int conn; /* index into conns */
    enum mqg_ep_kind kind;
    char *topic; /* subscribe filter / write topic on the broker */
    int qos;
    bool retain;      /* write only */
    char *data_topic; /* internal: services/<sid>/<id or topic property> */
    bool disabled;    /* targetState: disabled: no route of its own */
};

/* Where a route listens. filter may hold named wildcards (+name, #name). */
struct mqg_source {
    int conn;     /* MQG_INTERNAL or connection index */
    char *filter; /* as written (named wildcards kept) */
    int qos;
    char *label; /* a mapping's subscribe label (for the collect rule), or NULL */
};

/* Where a route publishes. topic may hold {name} / $name placeholders. */
struct mqg_target {
    int conn; /* MQG_INTERNAL or connection index */
    char *topic;
    int qos;
    bool retain;
};

/* The rules process's connection: "-" cannot be in a service's resource id. */
#define MQG_RULES_SERVICE "mqgate"
#define MQG_RULES_ID "rules-engine"
#define MQG_RULES_KEY MQG_RULES_SERVICE "/" MQG_RULES_ID

/* Connectware's data-processing rules (docs/rules.md), in the order they run. */
enum mqg_rule_kind {
    MQG_RULE_TRANSFORM = 1,    /* text: the JSONata expression; the message becomes its result */
    MQG_RULE_FILTER,           /* text: the JSONata expression; the message passes when true */
    MQG_RULE_PARSE,            /* text: the format ("json", "int16BE", ...: mqg_parse_format) */
    MQG_RULE_SET_CONTEXT_VARS, /* vars: name -> JSONata expression, into $context.vars */
    MQG_RULE_COV,              /* text: the key; cov_mode, deadband */
    MQG_RULE_BURST,            /* max_size, interval_ms (either may be 0) */
    MQG_RULE_COLLECT,          /* no options */
    MQG_RULE_STASH,            /* text: the label */
};
#define MQG_RULE_KIND_MAX MQG_RULE_STASH

/* One variable of setContextVars. */
struct mqg_rule_var {
    char *name;
    char *expr;  /* JSONata */
    char *where; /* "FILE:LINE:COL" of expr in its file */
};

struct mqg_rule {
    enum mqg_rule_kind kind;
    char *where; /* "FILE:LINE:COL" of the rule's main value (the expression, the format, the
                  * key, the label) or of the rule itself; for errors and log lines */
    char *text;  /* see enum mqg_rule_kind; NULL for burst, collect, setContextVars */
    struct mqg_rule_var *vars; /* setContextVars */
    size_t n_vars;
    int cov_mode;         /* cov: 0 no deadband, 1 absolute, 2 relative (enum mqg_cov_mode) */
    double deadband;      /* cov, >= 0 */
    uint32_t max_size;    /* burst: messages per batch, 0 = not set */
    uint32_t interval_ms; /* burst: ms from a batch's first message, 0 = not set */
};

struct mqg_route {
    char *name; /* for humans: "endpoint temperatureEndpoint", "mapping m1[0]" */
    struct mqg_source *sources;
    size_t n_sources;
    struct mqg_target target;
    char *service_id; /* the service it belongs to; not encoded for children (NULL there) */
    /* rules: the router sends what fires this route to the rules process (topic
     * "<rid>/<topic matched>", the target's QoS and retain flag), which runs them and hands
     * what comes out back as "<rid>/<target topic rendered>" for this route's target */
    struct mqg_rule *rules;
    size_t n_rules;
    char *rid; /* with rules: 16 hex digits naming the route stably across reloads (service,
                * name, sources, target, rules: mqg_model_rules_engine) */
};

struct mqg_skipped {
    char *service_id;
    char *id;
    char *type; /* e.g. "Cybus::Container" */
};

struct mqg_service_info {
    char *service_id;
    char *name; /* metadata.name */
    char *file;
};

struct mqg_model {
    struct mqg_service_info *services;
    size_t n_services;
    struct mqg_connection *conns;
    size_t n_conns;
    struct mqg_endpoint *endpoints;
    size_t n_endpoints;
    struct mqg_route *routes;
    size_t n_routes;
    struct mqg_skipped *skipped;
    size_t n_skipped;
    /* what the loader accepted and ignores, one line each ("FILE:LINE:COL: SETTING: text"):
     * printed by `mqgate check`, logged at start; not encoded for children */
    char **notices;
    size_t n_notices;
};

/* Zero the model (an empty model is valid). */
void mqg_model_init(struct mqg_model *m);

/* Free everything inside m (passwords/keys wiped first); m is left empty and reusable. */
void mqg_model_free(struct mqg_model *m);

/* Free routes [from, n_routes) and shrink the array's count to `from` (a disabled mapping's
 * entries, checked and then dropped). */
void mqg_model_drop_routes(struct mqg_model *m, size_t from);

/* Append a notice (a heap copy of text). Returns 0 or -ENOMEM. */
int mqg_model_add_notice(struct mqg_model *m, const char *text);

/* Index of the internal broker's connection (internal_broker set), or MQG_NO_CONN. */
int mqg_model_internal(const struct mqg_model *m);

/* Free rules[0..n) and every string in them, and the array. NULL-safe. */
void mqg_model_rules_free(struct mqg_rule *rules, size_t n);

/* When a route has rules: give each such route its rid and append the rules process's
 * connection (rules_engine, key MQG_RULES_KEY) unless there is one, with the time limit
 * time_limit_ms. Nothing when no route has rules. Returns 0 or -ENOMEM. */
int mqg_model_rules_engine(struct mqg_model *m, int time_limit_ms);

/* One line for `mqgate check`, nothing when n is 0:
 * "      rules: parse int16BE (f.yml:30:21), transform (f.yml:32:25)\n" — each rule's kind, its
 * main options (not the expressions) and where it is; text from the input escaped. */
void mqg_model_rules_print(const struct mqg_rule *r, size_t n, FILE *f);

/* The kind's name as written in a commissioning file ("transform", "setContextVars"), "?". */
const char *mqg_rule_kind_name(enum mqg_rule_kind k);

/* Index of the rules process's connection, or MQG_NO_CONN. */
int mqg_model_rules_conn(const struct mqg_model *m);

/* Index of the connection whose key equals `key`, or -1. */
int mqg_model_find_conn(const struct mqg_model *m, const char *key);

/* Serialize m into a new heap buffer (*out, *len; caller frees). Returns 0 or -ENOMEM. */
int mqg_model_encode(const struct mqg_model *m, uint8_t **out, size_t *len);

/* Like mqg_model_encode, but the secrets (password, clientPrivateKey) of every connection
 * except connection index secrets_of are left out (encoded as absent); MQG_MODEL_ALL_SECRETS
 * keeps all, -1 none. The supervisor hands each child only the secrets it needs. */
#define MQG_MODEL_ALL_SECRETS (-2)
int mqg_model_encode_for(const struct mqg_model *m, int secrets_of, uint8_t **out, size_t *len);

/* Parse a buffer made by mqg_model_encode into *m (initialized by this call). Returns 0, or
 * -EPROTO for a truncated/corrupt buffer (m is then left empty), or -ENOMEM. */
int mqg_model_decode(const uint8_t *buf, size_t len, struct mqg_model *m);

/* Human-readable listing for `mqgate check`: services, connections (password shown as ***),
 * endpoints, routes, skipped resources. Text from the input is written with control
 * characters and bytes that are not UTF-8 escaped ("\x01", "\n"; mqg_text.h). */
void mqg_model_print(const struct mqg_model *m, FILE *f);

#endif
