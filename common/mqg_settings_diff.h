/* mqg_settings_diff — which settings of mqgate.cfg a reload finds changed, and how each
 * change is applied (supervisor/reload_settings.c carries it out).
 *
 * Pure: compares two struct mqg_settings field by field, by the table that describes the
 * settings (mqg_settings_desc.h, a class per row). Every setting is named by its path in
 * mqgate.cfg ("log.level", "connector.max_inflight", ...) and has one class:
 * - in place: the supervisor applies it, no process is restarted (log.level and log.file,
 *   http.listen and http.health_disconnected_s, restart.*, stop_grace_ms);
 * - connectors: every connector is restarted (connector.*, journal.*);
 * - router: the router hands over to a new one (router.queue_max, router.queue_max_bytes);
 * - all: every connector and the router (heartbeat.*);
 * - broker: the embedded broker (mosquitto) is restarted with its new mosquitto.conf, or
 *   started or stopped when the mode changes (internal_broker.mode to or from embedded, and
 *   in mode embedded .listen, .listeners, .mosquitto, .password_file); its connection in the
 *   model follows through the model's own plan, like the external broker's settings (in mode
 *   external .url, .username, ...; and a mode change between external and off: class model);
 *   a changed mode is noted alone (what else changed with it comes with the start);
 *   rules.time_limit_ms is class model too (the rules process's connection carries it);
 * - refused: cannot change while mqgate runs (instance, runtime_dir, state_dir,
 *   cpu_affinity): the whole reload is refused.
 * `services` is not compared: the service files are in the model.
 */
#ifndef MQG_SETTINGS_DIFF_H
#define MQG_SETTINGS_DIFF_H

#include <stddef.h>

#include "mqg_settings.h"

enum mqg_sd_class {
    MQG_SD_IN_PLACE = 1 << 0,
    MQG_SD_CONNECTORS = 1 << 1,
    MQG_SD_ROUTER = 1 << 2,
    MQG_SD_ALL = MQG_SD_CONNECTORS | MQG_SD_ROUTER,
    MQG_SD_BROKER = 1 << 3,
    MQG_SD_MODEL = 1 << 4,
    MQG_SD_REFUSED = 1 << 5,
};

#define MQG_SD_MAX 48 /* more than there are settings */

struct mqg_sd_change {
    const char *name;      /* its path in mqgate.cfg, a static string */
    enum mqg_sd_class how; /* one class (MQG_SD_ALL counts as one) */
};

struct mqg_settings_diff {
    unsigned how; /* the union of the changes' classes; 0: nothing changed */
    size_t n;
    struct mqg_sd_change change[MQG_SD_MAX];
};

/* Compare the running settings a with the new ones b into *d. */
void mqg_settings_diff(const struct mqg_settings *a, const struct mqg_settings *b,
                       struct mqg_settings_diff *d);

/* The names of d's changes of class `how` (exactly), joined by ", ", into out (cap bytes;
 * "" when none). Returns how many there are. */
size_t mqg_settings_diff_names(const struct mqg_settings_diff *d, enum mqg_sd_class how, char *out,
                               size_t cap);

#endif
