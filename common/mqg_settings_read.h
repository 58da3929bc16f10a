/* mqg_settings_read — reading libconfig values for the settings loader, with positions.
 *
 * Internal to the settings loader (mqg_settings.c): the state of one load, errors with
 * FILE:LINE:COL and the setting path, typed reads of integers (libconfig's 32-bit truncation
 * corrected) and strings, and path helpers; the services list (mqg_settings_svc.c). With
 * mqg_settings.c and mqg_settings_svc.c the only files that include libconfig.h.
 */
#ifndef MQG_SETTINGS_READ_H
#define MQG_SETTINGS_READ_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "mqg_error.h"

/* One load: where the file is, for error positions and relative paths. */
struct mqg_set_ctx {
    const char *path; /* as given by the user */
    char *dir;        /* directory of path, "" when path has no '/' */
    struct mqg_error *err;
};

/* strdup that accepts NULL (returns NULL). Caller frees. */
char *mqg_set_strdup(const char *s);

/* Directory part of path ("" when it has no '/', "/" for "/x"). Caller frees; NULL if out of
 * memory. */
char *mqg_set_dirname(const char *path);

/* rel made absolute against dir (rel unchanged when absolute or dir is ""). Caller frees. */
char *mqg_set_resolve(const char *dir, const char *rel);

/* What a libconfig type is called in messages ("a string", "an integer", ...). */
const char *mqg_set_type_name(int type);

/* File name of a setting (or of a libconfig error) as a path the user can open: the main
 * file as given, an @include'd file relative to the settings directory. */
void mqg_set_source_path(const struct mqg_set_ctx *c, const char *file, char *out, size_t cap);

/* Fills c->err for setting st (path: dotted name) and returns -EINVAL. */
int mqg_set_fail(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* libconfig 1.5 silently truncates an integer literal that does not fit in 32 bits (without
 * an L suffix). Re-reads the literal of st from its source line: true (and *v) when it could
 * be parsed there. Trust it only for values outside the int range. */
bool mqg_set_source_int(const struct mqg_set_ctx *c, const config_setting_t *st, long long *v);

/* Integer setting st within [min, max] into *v; otherwise an error naming path. Returns 0 or
 * -EINVAL. */
int mqg_set_get_int(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                    long long min, long long max, long long *v);

/* String setting st into *out (borrowed from libconfig); otherwise an error saying `what`
 * was expected. Returns 0 or -EINVAL. */
int mqg_set_get_string(const struct mqg_set_ctx *c, const config_setting_t *st, const char *path,
                       const char *what, const char **out);

struct mqg_settings;

/* The top-level `services` list l into s->services (heap, owned by s). Returns 0, -EINVAL
 * with c->err filled, or -ENOMEM. */
int mqg_set_load_services(const struct mqg_set_ctx *c, const config_setting_t *l,
                          struct mqg_settings *s);

/* The default runtime_dir: /run/mqgate for root, else $XDG_RUNTIME_DIR/mqgate, else
 * /tmp/mqgate-<uid>. Caller frees; NULL when out of memory. */
char *mqg_set_default_runtime_dir(void);

/* The default state_dir: /var/lib/mqgate for root, else $XDG_STATE_HOME/mqgate, else
 * ~/.local/state/mqgate, else /tmp/mqgate-state-<uid>. Caller frees; NULL when out of
 * memory. */
char *mqg_set_default_state_dir(void);

struct mqg_ib_settings;

/* What the internal_broker settings ib need together, once all are read from cfg
 * (mqg_settings_ib.c). Returns 0, or -EINVAL with c->err filled (the setting's position). */
int mqg_set_check_ibroker(const struct mqg_set_ctx *c, const config_t *cfg,
                          const struct mqg_ib_settings *ib);

#endif
