/* sup — the supervisor's records, shared by its files: one struct sup for the gateway and,
 * as nginx's master and s6-supervise keep, one struct sup_child per child process.
 *
 * supervisor.c owns and changes them (set-up, loop, tear-down); spawn.c starts a child's
 * process into its record; status.c reads them for the status file. Single-threaded.
 */
#ifndef SUPERVISOR_SUP_H
#define SUPERVISOR_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mqg_ctl.h"
#include "mqg_model.h"
#include "mqg_restart.h"
#include "mqg_settings.h"
#include "rundir.h"

enum ch_state { CH_WAITING, CH_RUNNING, CH_FAILED, CH_STOPPED };

struct sup_child {
    int conn;         /* connection index; -1 for the router */
    const char *role; /* "router" / "connector" */
    const char *key;  /* connection key or "router" */
    char exe[4200];
    enum ch_state state;
    pid_t pid;
    int ctl_fd;
    struct mqg_ctl ctl;
    int log_fd;
    char logbuf[4096];
    size_t loglen;
    int64_t started_ms;
    int64_t last_rx_ms;
    int64_t next_start_ms;
    bool ready;
    bool config_error;
    bool rebind; /* stopped on purpose to bind the bus again: restart at once, no crash */
    struct mqg_restart restart; /* the restart policy's record: pauses, crashes, restarts */
    char last_exit[64];
    char status[256];
};

struct sup {
    const struct mqg_settings *set;
    const struct mqg_model *model;
    struct rundir rd; /* the runtime directory and the instance lock */
    int status_err;   /* last status write failed with this -errno; 0 = fine */
    int sigfd;
    int log_fd;
    struct sup_child *ch;
    size_t n_ch;
    bool stopping;
    int64_t stop_deadline;
    int64_t last_hb_ms;
    int64_t last_status_ms;
    int64_t started_ms;
};

#endif
