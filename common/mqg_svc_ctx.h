/* mqg_svc_ctx — the state of loading one commissioning file, shared by the loader's files.
 *
 * Internal to the loader (mqg_service.c and the mqg_svc_*.c files it is split into); not for
 * other modules, which use mqg_service.h. One context lives on the stack of mqg_service_load*
 * for one file. Here: the context itself, errors that point at a node, setting paths, and
 * appending to the model. Every function reports through c->err; the first error stops
 * loading. Not thread-safe per context; no global state.
 */
#ifndef MQG_SVC_CTX_H
#define MQG_SVC_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_error.h"
#include "mqg_model.h"
#include "mqg_service.h"
#include "mqg_yaml.h"

#define MQG_SVC_SID_MAX 80   /* service id / metadata.name, characters */
#define MQG_SVC_NAME_MAX 128 /* parameter / definition name, bytes */
#define MQG_SVC_PATH_MAX 256 /* setting path (same size as mqg_error.setting) */

struct mqg_svc_pdef;
struct mqg_svc_res;
struct mqg_svc_val;

/* A property accepted and ignored (mqg_svc_notice): the first place it was seen in the file,
 * and how often. */
struct mqg_svc_note {
    char key[160];          /* what is ignored, e.g. "agentName": one notice per key */
    struct mqg_error first; /* where, and the text */
    size_t count;
};

struct mqg_svc_ctx {
    struct mqg_model *m; /* what the file is loaded into */
    const char *path;    /* the file's name, for errors and the model */
    struct mqg_yaml_doc *doc;
    struct mqg_error *err;
    struct mqg_param *params; /* -p values (marked used by mqg_svc_load_params) */
    size_t n_params;
    char sid[MQG_SVC_SID_MAX + 1];
    char root[MQG_SVC_SID_MAX + 16]; /* Cybus::MqttRoot */
    char mqtt_port[8];               /* Cybus::MqttPort as text */
    /* declared names (mqg_svc_param.c) */
    struct mqg_svc_pdef *pdefs;
    size_t n_pdefs;
    const struct mqg_yaml_node *defs; /* definitions mapping or NULL */
    /* resources of this file (mqg_svc_res.c) */
    struct mqg_svc_res *res;
    size_t n_res;
    /* bounds of !sub (mqg_svc_value.c) */
    const struct mqg_svc_val *top; /* the setting being resolved: where limits point */
    size_t expanded;               /* bytes produced by !sub so far, nested ones each time */
    size_t substitutions;          /* ${NAME} resolved so far */
    /* properties accepted and ignored, flushed into the model's notices at the end */
    struct mqg_svc_note *notes;
    size_t n_notes;
};

/* Fill c->err with the position of `at` (none when NULL), the setting path and the message.
 * Returns -EINVAL. */
int mqg_svc_fail(struct mqg_svc_ctx *c, const struct mqg_yaml_node *at, const char *setting,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* mqg_svc_fail with a 1-based line and column (0: unknown) instead of a node. */
int mqg_svc_fail_lc(struct mqg_svc_ctx *c, int line, int col, const char *setting, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* Note that the property `key` at `at` (setting path `setting`) is accepted and ignored, and
 * why (fmt). One notice per key and file: the first place is shown, with how many places there
 * are (mqg_svc_notes_flush). Returns 0, or mqg_svc_oom(). */
int mqg_svc_notice(struct mqg_svc_ctx *c, const struct mqg_yaml_node *at, const char *setting,
                   const char *key, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* mqg_svc_notice with a 1-based line and column instead of a node. */
int mqg_svc_notice_lc(struct mqg_svc_ctx *c, int line, int col, const char *setting,
                      const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The notes of this file into the model's notices ("FILE:LINE:COL: SETTING: text (N places in
 * this file)"), then freed. Returns 0, or mqg_svc_oom(). */
int mqg_svc_notes_flush(struct mqg_svc_ctx *c);

/* Fill c->err with "out of memory" (file only). Returns -ENOMEM. */
int mqg_svc_oom(struct mqg_svc_ctx *c);

/* out (MQG_SVC_PATH_MAX bytes) = "parent.key", or "key" when parent is NULL or empty. A path
 * that does not fit ends in "...". */
void mqg_svc_path(char *out, const char *parent, const char *key);

/* out (MQG_SVC_PATH_MAX bytes) = "parent[i]". */
void mqg_svc_path_idx(char *out, const char *parent, size_t i);

/* *out = a heap copy of s. Returns 0, or mqg_svc_oom(). */
int mqg_svc_dup(struct mqg_svc_ctx *c, const char *s, char **out);

/* *out = heap text made as by printf (NULL on failure). Returns 0, or mqg_svc_oom(). */
int mqg_svc_aprintf(struct mqg_svc_ctx *c, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append one zeroed element of `size` bytes to a model array (*arr, *n); *idx gets its index.
 * Returns 0, or mqg_svc_oom() (the array is unchanged). */
int mqg_svc_append(struct mqg_svc_ctx *c, void **arr, size_t *n, size_t size, size_t *idx);

/* Append a route with n_sources zeroed sources to the model; *idx gets its index. Returns 0,
 * or mqg_svc_oom(). */
int mqg_svc_add_route(struct mqg_svc_ctx *c, size_t n_sources, size_t *idx);

#endif
