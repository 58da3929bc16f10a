/* reload — SIGHUP and `mqgate reload`: read the settings and service files `run` was given
 * again and judge them against the running configuration.
 *
 * An invalid new configuration is rejected with the same FILE:LINE:COL errors as `check`,
 * logged (RELOAD-INVALID), and the running configuration stays; an unchanged one is said to be
 * unchanged (RELOAD-UNCHANGED); changed services are applied (RELOAD-APPLIED): the new model is
 * laid out on the running connection indices (mqg_model_plan.h), unchanged connectors run on,
 * changed ones restart, removed ones stop, added ones start, and the router hands over to a new
 * one (architecture.md §8.8). Changed settings are applied (reload_settings.h): in place, by
 * restarting the children that use them, or, for those that name the running instance
 * (instance, runtime_dir, state_dir, cpu_affinity), not at all: the whole reload is refused
 * (RELOAD-NEEDS-RESTART). The
 * supervisor writes the outcome of each reload to <runtime_dir>/<instance>/reload (a line
 * "mqgate-reload GEN RESULT", then the errors or the summary), where `mqgate reload` reads it
 * after sending SIGHUP.
 */
#ifndef SUPERVISOR_RELOAD_H
#define SUPERVISOR_RELOAD_H

#include <stdint.h>
#include <stdio.h>

#include "mqg_model.h"
#include "mqg_settings.h"

/* How the supervisor reads its configuration again: load(arg, set, m, errf) fills *set and *m
 * as `run` did (errors printed onto errf) and returns 0 (both to be freed by the caller) or an
 * exit code (nothing to free). The model's internal broker connection is made from the new
 * internal_broker settings: when they change it, the model's plan restarts that connection
 * (it keeps its key, hence its index). */
struct sup_reload {
    int (*load)(void *arg, struct mqg_settings *set, struct mqg_model *m, FILE *errf);
    void *arg;
};

struct sup;

/* On SIGHUP: read, judge, log, write the outcome file. */
void reload_run(struct sup *S);

/* Every turn of the loop: once no router is being handed over, restart the connectors a reload
 * changed while it was (a source stopped during the handover could miss the old router's
 * releases of what it had delivered, and send it again to the new router). */
void reload_follow_up(struct sup *S, int64_t now);

/* `mqgate reload`: SIGHUP to the running gateway of settings s, then its outcome: 0
 * (unchanged, or applied: the summary printed), 78 (invalid: the errors printed), 1 (not
 * running, no answer in 15 s, changed settings that need a restart (nothing applied), a
 * setting that could not be applied (the rest was: the summary printed), or applying
 * failed). */
int supervisor_reload(const struct mqg_settings *s);

#endif
