/* mqg_service — reads service commissioning files (YAML) into the resolved model.
 *
 * Used by the supervisor for `mqgate run` and `mqgate check`. Implements the subset described
 * in shared/commissioning.md: metadata, parameters (typed, checked), definitions, !ref, !sub,
 * built-ins Cybus::ServiceId / Cybus::MqttRoot, Cybus::Connection (protocol Mqtt),
 * Cybus::Endpoint (protocol Mqtt), Cybus::Mapping. Other resource types are recorded in
 * model->skipped. The first error stops loading and is described in *err with file, line,
 * column and setting path; the model may then hold a partial load and must be freed.
 * libyaml is touched only by mqg_yaml.c.
 */
#ifndef MQG_SERVICE_H
#define MQG_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_error.h"
#include "mqg_model.h"

/* A parameter value given on the command line (-p NAME=VALUE) or in the settings file. */
struct mqg_param {
    const char *name;  /* borrowed */
    const char *value; /* borrowed */
    bool used;         /* set by mqg_service_load when some file declares the parameter */
};

/* Load one commissioning file and append its connections, endpoints and routes to m.
 * params: values for declared parameters (entries are marked used). service_id: overrides
 * the id derived from metadata.name (NULL = derive). Returns 0, or a negative errno with *err
 * filled (-ENOENT/-EIO for unreadable files, -EINVAL for everything else). */
int mqg_service_load(struct mqg_model *m, const char *path, struct mqg_param *params,
                     size_t n_params, const char *service_id, struct mqg_error *err);

/* The same for a file's text in memory (buf[0..len), not kept; used by the fuzzer and tests):
 * `name` stands for the file in *err and in the model. Never -ENOENT or -EIO. */
int mqg_service_load_buffer(struct mqg_model *m, const char *name, const void *buf, size_t len,
                            struct mqg_param *params, size_t n_params, const char *service_id,
                            struct mqg_error *err);

/* After all files are loaded: fail if a parameter given was declared by no file. The error
 * names `first_file` (line/column of its `parameters` key when present). */
int mqg_service_check_unused(const struct mqg_param *params, size_t n_params,
                             const char *first_file, struct mqg_error *err);

/* The service id derived from a metadata name: lower-cased, only [a-z0-9] kept. Writes into
 * out (cap bytes, NUL-terminated). */
void mqg_service_id_from_name(const char *name, char *out, size_t cap);

#endif
