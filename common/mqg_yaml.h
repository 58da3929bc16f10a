/* mqg_yaml — a read-only view of one YAML document, the only module that includes <yaml.h>.
 *
 * Used by the service loader (mqg_service.c and its mqg_svc_*.c files). A document is read into
 * memory and loaded whole with libyaml's composer (mqg_yaml_load, mqg_yaml_load_buffer) and then
 * walked through borrowed node handles that stay valid until mqg_yaml_destroy(). Syntax errors
 * and duplicate mapping keys are reported with the file, 1-based line and column. No global
 * state; not thread-safe per document.
 */
#ifndef MQG_YAML_H
#define MQG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_error.h"

struct mqg_yaml_doc;
struct mqg_yaml_node; /* borrowed from its document; never freed by the caller */

enum mqg_yaml_kind {
    MQG_YAML_NONE = 0,
    MQG_YAML_SCALAR,
    MQG_YAML_SEQUENCE,
    MQG_YAML_MAPPING,
};

/* Mappings and sequences nested deeper than this (the root counts as 1) are an error. */
#define MQG_YAML_DEPTH_MAX 64

/* Load the first document of `path` into *out (free with mqg_yaml_destroy). Returns 0;
 * -ENOENT if the file does not exist, -EIO if it cannot be read; -EINVAL for a syntax error,
 * input that is not UTF-8 (UTF-16, a surrogate, a control character), an empty file, more than
 * one document, a duplicate mapping key, collections nested deeper than MQG_YAML_DEPTH_MAX,
 * or a tag other than a local one ("!ref", "!sub", "!x": global tags such as "!!str",
 * "!!binary", "!<tag:...>", and the non-specific "!" are refused); -ENOMEM. *err is filled on
 * every failure (file = path, 1-based line/column where known, the setting path for depth
 * and tag errors). */
int mqg_yaml_load(const char *path, struct mqg_yaml_doc **out, struct mqg_error *err);

/* The same for a document in memory (buf[0..len), not NUL-terminated, not kept): `name` stands
 * for the file in *err. Returns as mqg_yaml_load, without -ENOENT and -EIO. */
int mqg_yaml_load_buffer(const char *name, const void *buf, size_t len, struct mqg_yaml_doc **out,
                         struct mqg_error *err);

/* NULL-safe; clears *doc. Every node handle of the document becomes invalid. */
void mqg_yaml_destroy(struct mqg_yaml_doc **doc);

/* The root node (never NULL for a loaded document). */
const struct mqg_yaml_node *mqg_yaml_root(const struct mqg_yaml_doc *doc);

enum mqg_yaml_kind mqg_yaml_kind(const struct mqg_yaml_node *n);

/* "scalar", "sequence" or "mapping" — for error messages. */
const char *mqg_yaml_kind_name(const struct mqg_yaml_node *n);

/* The node's tag as resolved by libyaml (e.g. "tag:yaml.org,2002:str" for an untagged
 * scalar, "!ref" for a local tag), or NULL. Borrowed. */
const char *mqg_yaml_tag(const struct mqg_yaml_node *n);

/* The tag if it is a local tag written by the user ("!ref", "!sub", "!merge", ...), else NULL
 * (untagged nodes; a loaded document holds no other tags). */
const char *mqg_yaml_local_tag(const struct mqg_yaml_node *n);

/* Scalar text (NUL-terminated; *len, if not NULL, gets the byte length, which may differ
 * from strlen() if the text holds an escaped NUL). NULL if n is not a scalar. */
const char *mqg_yaml_scalar(const struct mqg_yaml_node *n, size_t *len);

/* True for a plain (unquoted, non-block) scalar. */
bool mqg_yaml_plain(const struct mqg_yaml_node *n);

/* True for an untagged plain scalar spelling null: "", "~", "null", "Null", "NULL". */
bool mqg_yaml_is_null(const struct mqg_yaml_node *n);

/* Start of the node (its tag or anchor if it has one), 1-based. */
int mqg_yaml_line(const struct mqg_yaml_node *n);
int mqg_yaml_col(const struct mqg_yaml_node *n);

/* Number of key/value pairs of a mapping (0 if n is not a mapping). */
size_t mqg_yaml_map_size(const struct mqg_yaml_node *n);

/* Pair i of a mapping, in file order. Returns 0, or -EINVAL if n is not a mapping or i is out
 * of range. key/value may be NULL. */
int mqg_yaml_map_at(const struct mqg_yaml_doc *doc, const struct mqg_yaml_node *map, size_t i,
                    const struct mqg_yaml_node **key, const struct mqg_yaml_node **value);

/* The value of the pair whose key is the scalar `key`, or NULL (also if map is not a
 * mapping). *key_node, if not NULL, gets the key node (NULL when absent). */
const struct mqg_yaml_node *mqg_yaml_map_get(const struct mqg_yaml_doc *doc,
                                             const struct mqg_yaml_node *map, const char *key,
                                             const struct mqg_yaml_node **key_node);

/* Number of items of a sequence (0 if n is not a sequence). */
size_t mqg_yaml_seq_size(const struct mqg_yaml_node *n);

/* Item i of a sequence, or NULL if n is not a sequence or i is out of range. */
const struct mqg_yaml_node *mqg_yaml_seq_at(const struct mqg_yaml_doc *doc,
                                            const struct mqg_yaml_node *seq, size_t i);

#endif
