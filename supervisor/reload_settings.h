/* reload_settings — the settings part of a reload (reload.c): what changed in mqgate.cfg
 * (common/mqg_settings_diff.h) and how it is applied.
 *
 * - refused as a whole (nothing of the reload is applied, RELOAD-NEEDS-RESTART): instance,
 *   runtime_dir, state_dir, cpu_affinity name the running instance, its lock, its runtime
 *   directory and its journals;
 * - in place, by the supervisor (nothing restarted): log.level (its own at once, the children's
 *   by MQG_CTL_LOG_LEVEL), log.file (opened and switched to), http.listen (the server moves; if
 *   the new address cannot be listened on, it serves on at the old one and the reload says so),
 *   http.health_disconnected_s, restart.*, stop_grace_ms;
 * - by restarting the children that use them, each the loss-free restart a changed connection
 *   gets: connector.* and journal.* every connector; router.* the router's handover;
 *   heartbeat.* both;
 * - internal_broker: the embedded mosquitto restarted with its new mosquitto.conf, started or
 *   stopped when the mode changes; its connection in the model follows through the model's plan
 *   (the model of a reload is built from the new settings).
 * The new settings become the running ones (S->set) before any child is started again, so every
 * child started from then on gets them on its command line.
 */
#ifndef SUPERVISOR_RELOAD_SETTINGS_H
#define SUPERVISOR_RELOAD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_model_plan.h"
#include "mqg_settings.h"
#include "mqg_settings_diff.h"

struct sup;

struct reload_settings {
    struct mqg_settings_diff d;
    char broker_exe[4096]; /* the embedded broker's program, when it is to run */
    size_t n_connectors;   /* running connectors restarted (for the settings, or the model) */
    bool router;           /* the router hands over (for the settings, or the model) */
};

enum { RELOAD_SETTINGS_OK = 0, RELOAD_SETTINGS_REFUSED = 1, RELOAD_SETTINGS_FAILED = 2 };

/* Compare the running settings with next into *rs and check what must hold before anything is
 * applied: RELOAD_SETTINGS_OK; REFUSED (settings that cannot change while mqgate runs:
 * RELOAD-NEEDS-RESTART logged) or FAILED (the embedded broker could not run with next: its
 * error logged), each with the reason written into out (cap bytes). */
int reload_settings_judge(struct sup *S, const struct mqg_settings *next,
                          struct reload_settings *rs, char *out, size_t cap);

/* The restarts the changed settings need, added to the model's plan p: every running connector
 * (by_settings[i] set where the model kept it), the router's handover. */
void reload_settings_plan(struct sup *S, struct reload_settings *rs, struct mqg_model_plan *p,
                          bool *by_settings);

/* Make next (taken over: *next is left empty) the running settings and apply what changed in
 * place and for the embedded broker; the summary ("settings: ...") is appended to sum (cap
 * bytes). Returns false when something could not be applied (said in the summary and logged):
 * the running setting stays for it. */
bool reload_settings_apply(struct sup *S, struct mqg_settings *next, struct reload_settings *rs,
                           char *sum, size_t cap);

#endif
