/* mqg_settings_desc — the table that describes every setting of mqgate.cfg (mqg_settings.c),
 * for the code that reads it (mqg_settings.c) and the code that compares two sets of settings
 * (mqg_settings_diff.c). Internal to those two.
 */
#ifndef MQG_SETTINGS_DESC_H
#define MQG_SETTINGS_DESC_H

#include <stddef.h>

enum mqg_setting_kind {
    K_INT,       /* int field, integer range */
    K_U32,       /* uint32_t field, integer range */
    K_INSTANCE,  /* char *, [A-Za-z0-9_.-]{1,64} */
    K_ABSDIR,    /* char *, absolute path */
    K_FILE,      /* char *, "" = NULL, relative to the settings file's directory */
    K_LEVEL,     /* int, log level name */
    K_CPUS,      /* struct mqg_cpus, "auto" / "none" / "0,2-3" (mqg_cpus.h) */
    K_TEXT,      /* char *, any text, "" = NULL */
    K_NAME,      /* char *, non-empty text */
    K_PATH,      /* char *, "" = NULL, relative to the settings file's directory */
    K_CERT,      /* char *, PEM text as it is, or a path as K_PATH */
    K_BOOL,      /* bool */
    K_IB_MODE,   /* enum mqg_ib_mode: "embedded", "external", "off" */
    K_IB_LISTEN, /* "HOST:PORT" into internal_broker.listen_host and .listen_port */
    K_LISTEN,    /* char *, "host:port" (mqg_hostport.h); also sets http_host, http_port */
    K_I64,       /* long long field, integer range (an L suffix for large values) */
    K_SYNC,      /* int, "none" / "interval" / "always" */
};

struct mqg_setting_desc {
    const char *group; /* NULL = top level */
    const char *name;
    enum mqg_setting_kind kind;
    long long min;
    long long max;
    size_t off;
    const char *path; /* "group.name" or "name" */
    unsigned how;     /* how a reload applies a change (enum mqg_sd_class); 0: not by this
                       * row (log_file is log.file again; internal_broker.*: by its mode,
                       * mqg_settings_diff.c) */
};

/* The table: every setting, in the order of mqg_settings.c (*n rows). */
const struct mqg_setting_desc *mqg_settings_descs(size_t *n);

#endif
