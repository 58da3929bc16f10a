/* sup — the supervisor's records, shared by its files: one struct sup for the gateway and,
 * as nginx's master and s6-supervise keep, one struct sup_child per child process.
 *
 * supervisor.c owns and changes them (set-up, loop, tear-down); children.c makes the child
 * table and grows and shrinks it (at set-up, and for a reload: reload.c); spawn.c starts a
 * child's process into its record; observe.c keeps what the heartbeats tell of the connections and
 * routes; status.c, metrics.c and ops.c read them for the status file, /metrics and /health.
 * Single-threaded. Three kinds of child: the router and the connectors (mqgate's own
 * programs, with a control channel and heartbeats) and the embedded internal broker
 * (mosquitto: no control channel; ready when it says it runs, stopped after the others).
 */
#ifndef SUPERVISOR_SUP_H
#define SUPERVISOR_SUP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lifecycle.h"
#include "mqg_child.h"
#include "mqg_ctl.h"
#include "mqg_model.h"
#include "mqg_route.h"
#include "mqg_settings.h"
#include "observe.h"
#include "rundir.h"

enum sup_kind { SUP_ROUTER, SUP_CONNECTOR, SUP_BROKER };

struct sup_child {
    enum sup_kind kind;
    int conn;         /* connection index; -1 for the router and the broker */
    const char *role; /* "router" / "connector" / "rules" / "broker" */
    const char *key;  /* connection key, "router" or "internal-broker" */
    char exe[4200];
    struct lifecycle life; /* state, when to start it, when started, restart policy */
    pid_t pid;
    int ctl_fd;
    struct mqg_ctl ctl;
    int log_fd;
    char logbuf[4096];
    size_t loglen;
    int64_t last_rx_ms; /* last message from it */
    char last_exit[64];
    char status[MQG_CHILD_STATUS_MAX + 1]; /* its last heartbeat's text (mqg_kv) */
    int hb_ms, hb_misses; /* the heartbeat settings its process was started with (a reload
                             may have changed them since: it is restarted with the new ones) */
    struct obs_conn obs;  /* a connector: its connection (observe.c) */
    /* the broker */
    bool was_ready;   /* its port accepted a connection since the gateway started */
    bool addr_in_use; /* its last run said "Address already in use" */
    /* a reload (reload.c) */
    int64_t kill_at;     /* killed if its process still runs then (0: no limit) */
    bool handover;       /* the router: its stop is a handover (MQG_CTL_HANDOVER), not TERM */
    bool retire;         /* the record goes once its process ended (sup_compact) */
    bool revive;         /* started again once its process ended (sup_compact): added back */
    bool after_handover; /* a connector a reload changed: restarted once the router's handover
                            ended, so that it has the old router's releases (reload_follow_up) */
    bool stop_later;     /* the broker, retired by a reload: stopped once no connector of its
                            connection runs any more (reload_follow_up) */
};

struct ops;

struct sup_reload;

struct obs_rid;

struct sup {
    const struct mqg_settings *set; /* the running settings: run's, or own_set */
    struct mqg_settings *own_set;   /* the settings a reload installed (freed at the end); or
                                       NULL */
    const struct mqg_model *model;
    struct mqg_model *own_model; /* the model a reload installed (freed at the end); or NULL */
    struct rundir rd;            /* the runtime directory and the instance lock */
    char state_dir[4096];        /* <state_dir>/<instance> (the journals); "" when they are off */
    int status_err;              /* last status write failed with this -errno; 0 = fine */
    int sigfd;
    int log_fd;
    struct sup_child *ch;
    size_t n_ch;
    struct pollfd *pfd; /* the poll set: 2 + 2 * n_ch */
    bool stopping;
    int64_t stop_deadline;
    int64_t last_hb_ms;
    int64_t last_status_ms;
    int64_t started_ms;
    char broker_conf[600]; /* <runtime dir>/mosquitto.conf while it exists, else "" */
    int exit_code;         /* of the gateway: 0, or 78 when the broker's port was taken */
    struct mqg_route_stats *route_stats; /* per model route, from the router (observe.c) */
    struct mqg_rule_stats *rule_stats;   /* per model route, from the rules process */
    struct obs_rid *rids;                /* the routes with rules by rid, sorted (observe.c) */
    size_t n_rids;
    struct ops *ops;                 /* /metrics and /health; NULL when off (ops.c) */
    const struct sup_reload *reload; /* how to read the configuration again (reload.c) */
    uint64_t reload_gen;             /* reloads done (the outcome file's generation) */
    int64_t broker_hold_until; /* a reload restarted or started the embedded broker: connectors
                                  starting before then wait until it runs (sup_broker_holds) */
};

/* Post event ev for child c (supervisor.c): one step of its life cycle and its action. */
void sup_post(struct sup *S, struct sup_child *c, enum lifecycle_event ev, int64_t now);

/* The records of the child table are made, grown and shrunk by children.c; a pointer into
 * S->ch is good until the table changes (a reload, or the loop's sup_compact), so none is
 * kept: the broker's record is looked up (sup_broker_child). */

/* A record for each child, waiting to be started now: the embedded broker first (when
 * broker_exe is not NULL), the router, a connector per connection with targetState
 * connected; the poll set gets room for them. 0 or -errno. */
int sup_setup_children(struct sup *S, const char *broker_exe);

/* The embedded internal broker's record, or NULL (mode external or off). */
struct sup_child *sup_broker_child(const struct sup *S);

/* Close c's control channel and output pipe. */
void sup_close_child_fds(struct sup_child *c);

/* Append a record for connection conn (-1: the router), waiting to be started now; the
 * table and the poll set grow. Pointers into S->ch are stale afterwards. 0 or -errno. */
int sup_add_child(struct sup *S, int conn);

/* Append a record for the embedded broker (program exe), waiting to be started now (a reload
 * set internal_broker.mode to embedded). Pointers into S->ch are stale afterwards. 0 or
 * -errno. */
int sup_add_broker(struct sup *S, const char *exe);

/* The restart policy of the running settings onto every record (a reload changed it). */
void sup_set_policy(struct sup *S);

/* <state_dir>/<instance> for the journals, made and checked (at set-up, and by a reload that
 * turns the journal on): 0, or 78 after a logged error (STATE-DIR). supervisor.c. */
int sup_state_dir(struct sup *S);

/* Start record c afresh (its life cycle new: waiting, due now), e.g. one in state config that
 * a reload changed. 0 or -ENOMEM. */
int sup_revive(struct sup *S, struct sup_child *c);

/* Remove the retired records whose process has ended (the table shrinks; pointers into S->ch
 * are stale afterwards). Called by the loop between turns only. */
void sup_compact(struct sup *S);

#endif
