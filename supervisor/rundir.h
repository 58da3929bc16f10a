/* rundir — the supervisor's runtime directory and instance lock.
 *
 * Used by supervisor.c (open at start, watch every 0.5 s and before every child start, close
 * at the end) and status.c (who holds the lock). Takes the instance lock, makes and checks
 * <runtime_dir>/<instance> with common/mqg_rundir.c, makes it again when it was removed,
 * removes the secret files of dead connectors and cleans up on a clean stop. Logs its own
 * problems (RUNDIR, RUNDIR-GONE, RUNDIR-RESTORED, INSTANCE-BUSY, INSTANCE-LOCK). Single-threaded.
 */
#ifndef SUPERVISOR_RUNDIR_H
#define SUPERVISOR_RUNDIR_H

#include <stdbool.h>
#include <sys/types.h>

#include "mqg_rundir.h"
#include "mqg_settings.h"

struct rundir {
    const struct mqg_settings *set; /* borrowed */
    char dir[512];                  /* <runtime_dir>/<instance> */
    char bus[600];                  /* ipc://<dir>/bus */
    struct mqg_rundir_id id;        /* what dir was when made: a change means it was removed */
    bool gone;                      /* RUNDIR-GONE logged, not yet made again */
    bool bad;                       /* RUNDIR logged for the present trouble */
    int lock_fd;                    /* the instance lock; -1 when not held */
};

/* Take the instance lock, then make or check the runtime directory (before anything else
 * touches it). Returns 0, or the exit code after a logged error: 78 for a path too long or a
 * directory another user could change (a configuration to fix), 1 when the lock is held or the
 * directory cannot be made. On failure nothing is held. */
int rundir_open(struct rundir *R, const struct mqg_settings *set);

/* Is the runtime directory still the one we made? When it was removed (or replaced), make it
 * again with the same checks and set *remade: the router must bind the bus there again.
 * Returns 0 when the directory is usable now, else -errno (RUNDIR logged once per episode). */
int rundir_watch(struct rundir *R, bool *remade);

/* Someone asked who holds the lock (rundir_lock_holder): the answer was in the connection
 * itself; close what is pending. Call when the lock fd is readable. */
void rundir_accept(struct rundir *R);

/* Remove the inline certificate and key files a connector with this pid wrote into the
 * runtime directory: a killed one cannot remove them itself. */
void rundir_remove_secrets(const struct rundir *R, pid_t pid);

/* On a clean stop: remove the files the gateway made (status, bus), the directory if it is
 * empty then, and release the lock. */
void rundir_close(struct rundir *R);

/* Who holds the instance lock of these settings: 0 with *pid and *uid; -ECONNREFUSED when
 * nobody does; another -errno. For `mqgate status`. */
int rundir_lock_holder(const struct mqg_settings *set, pid_t *pid, uid_t *uid);

#endif
