/* mqg_child — what every child process (router, connector) does with its supervisor.
 *
 * Parses the child command line, blocks signals before any library thread exists, reads the
 * configuration (the encoded model) from the control channel on fd 3, then keeps the
 * heartbeat both ways: the child sends one every interval with its status text, and stops
 * itself when the supervisor is silent for `misses` intervals or the channel closes (the
 * supervisor died). SIGTERM or a TERM message ask for an orderly stop; SIGINT is ignored
 * (the supervisor owns the terminal's Ctrl-C).
 */
#ifndef MQG_CHILD_H
#define MQG_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_ctl.h"
#include "mqg_model.h"

/* Longest status text a heartbeat carries (bytes, without the NUL); the supervisor keeps as
 * much. */
#define MQG_CHILD_STATUS_MAX 1023

struct mqg_child {
    const char *role;
    char key[256];    /* connection key (connector) or "router" */
    char bus[512];    /* ZeroMQ endpoint of the router */
    char rundir[512]; /* instance runtime directory */
    char instance[128];
    int heartbeat_ms;
    int heartbeat_misses;
    int queue_max;          /* bound of each message queue, in messages */
    size_t queue_max_bytes; /* ... and in bytes */
    int max_inflight;       /* connector: publishes in flight */
    /* crash-safe delivery (docs/delivery.md): state_dir is "" when the journal is off */
    char state_dir[512];         /* <state_dir>/<instance> */
    long long journal_max_bytes; /* per source connection */
    int journal_sync;            /* MQG_SETTINGS_SYNC_* */
    int journal_sync_ms;
    int journal_wait_ms;
    struct mqg_ctl ctl;
    int sigfd;
    int64_t last_rx_ms; /* last message from the supervisor */
    int64_t last_hb_ms; /* last heartbeat sent */
    bool stop;          /* set when the process should stop */
    bool handover;      /* the stop is a handover (MQG_CTL_HANDOVER): finish what it holds */
    bool ctl_closed;    /* the control channel reached end of file: poll it no more */
    int exit_code;      /* what to exit with when stop is set */
    struct mqg_model model;
    struct mqg_model *update; /* a reload's model, CONFIG while running; the child takes it
                                 (NULL: none) */
};

/* Parse argv, set up logging and signals, read and decode the configuration. Returns 0, or an
 * exit code (> 0) to exit with right away after a logged error. */
int mqg_child_init(struct mqg_child *c, const char *role, int argc, char **argv);

/* Call now and then during long set-up work, before mqg_child_ready(): sends the heartbeat
 * (status "state=starting") when one is due, so the supervisor does not take a child that is
 * still setting itself up for a hung one. Work that stops making progress stops calling it,
 * and is killed as hung as before. */
void mqg_child_progress(struct mqg_child *c);

/* Tell the supervisor this child is configured and serving. */
void mqg_child_ready(struct mqg_child *c);

/* The fd to poll for control messages, or -1 once the channel is closed. */
int mqg_child_ctl_fd(const struct mqg_child *c);

/* Call when the control fd is readable. */
void mqg_child_on_ctl(struct mqg_child *c);

/* Call when the signal fd is readable. */
void mqg_child_on_signal(struct mqg_child *c);

/* Is a heartbeat due at `now`? (Lets the caller format its status text only then.) */
bool mqg_child_heartbeat_due(const struct mqg_child *c, int64_t now);

/* Call every loop turn: sends the heartbeat (with status text, which must be given when a
 * heartbeat is due) and checks that the supervisor is alive. Returns the ms until it wants to
 * be called again. */
int mqg_child_tick(struct mqg_child *c, int64_t now, const char *status);

/* The loop skeleton every child shares: one turn is mqg_child_turn(), the caller's own
 * timeout adjustments, then mqg_child_wait(). */

/* Fills buf (cap bytes) with the child's status text for a heartbeat. */
typedef void (*mqg_child_status_fn)(const void *arg, char *buf, size_t cap);

/* Start of a loop turn: when a heartbeat is due, status(arg, ...) formats the text and it is
 * sent; checks that the supervisor is alive (mqg_child_tick). Returns the ms until it wants
 * the next turn. */
int mqg_child_turn(struct mqg_child *c, int64_t now, mqg_child_status_fn status, const void *arg);

/* Wait at most timeout_us (< 0: no limit) for the control channel, the signal fd and the n
 * fds in fds (POLLIN; -1 entries are skipped); handles control messages and signals itself
 * and sets ready[i] for each of fds that fired. Returns 0, or -errno when polling failed
 * (the caller logs it with its own message id and stops). */
int mqg_child_wait(struct mqg_child *c, const int *fds, bool *ready, size_t n, int64_t timeout_us);

/* Free everything (model wiped). */
void mqg_child_free(struct mqg_child *c);

#endif
