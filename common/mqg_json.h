/* mqg_json — a small JSON value: what a parameter's value and its JSON Schema are checked as.
 *
 * Used by the loader's parameter checks (mqg_svc_param.c builds values from YAML nodes and
 * from -p text) and by mqg_jschema.c. A value owns everything in it (mqg_json_free). The
 * parser reads one JSON text (RFC 8259) for array and object parameters given with -p. Pure,
 * no global state.
 */
#ifndef MQG_JSON_H
#define MQG_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum mqg_json_type {
    MQG_JSON_NULL,
    MQG_JSON_BOOL,
    MQG_JSON_NUMBER,
    MQG_JSON_STRING,
    MQG_JSON_ARRAY,
    MQG_JSON_OBJECT,
};

struct mqg_json {
    enum mqg_json_type type;
    bool b;     /* BOOL */
    double num; /* NUMBER */
    char *str;  /* STRING (NUL-terminated; len bytes, which may hold a NUL) */
    size_t len;
    struct mqg_json *items; /* ARRAY: the items; OBJECT: the values */
    char **keys;            /* OBJECT: the keys, in the order written */
    size_t n;
    int line, col; /* where it was written, 1-based; 0 = unknown */
};

/* Parse one JSON text text[0..len) into *out (free with mqg_json_free). Returns 0; -EINVAL
 * with why[0..cap) (what is wrong and at which byte); -ENOMEM. Nesting is bounded (64). */
int mqg_json_parse(const char *text, size_t len, struct mqg_json *out, char *why, size_t cap);

/* NULL-safe; frees what v owns and zeroes it. */
void mqg_json_free(struct mqg_json *v);

/* JSON Schema's equality (enum, const, uniqueItems): same type and value, numbers by value,
 * objects whatever the order of their keys. */
bool mqg_json_equal(const struct mqg_json *a, const struct mqg_json *b);

/* The value of `key` in an object, or NULL. */
const struct mqg_json *mqg_json_get(const struct mqg_json *obj, const char *key);

/* "null", "boolean", "number", "string", "array", "object" (an integral number: "integer"
 * when integral is true). */
const char *mqg_json_type_name(const struct mqg_json *v, bool integral);

/* Is v a number without a fraction (JSON Schema's "integer")? */
bool mqg_json_is_integer(const struct mqg_json *v);

/* v written as compact JSON (strings escaped) into buf (cut to cap, "..." at the end when cut). */
void mqg_json_text(const struct mqg_json *v, char *buf, size_t cap);

/* v written as compact JSON (strings escaped), whole: a heap string the caller frees, or NULL
 * when out of memory. */
char *mqg_json_dup_text(const struct mqg_json *v);

#endif
