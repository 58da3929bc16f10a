/* mqg_jval — a small JSON value: what a parameter's value and its JSON Schema are checked as.
 *
 * Used by the loader's parameter checks (mqg_svc_param.c builds values from YAML nodes and
 * from -p text) and by mqg_jschema.c. A value owns everything in it (mqg_jval_free). The
 * parser reads one JSON text (RFC 8259) for array and object parameters given with -p. Pure,
 * no global state.
 */
#ifndef MQG_JVAL_H
#define MQG_JVAL_H

#include <stdbool.h>
#include <stddef.h>

enum mqg_jval_type {
    MQG_JVAL_NULL,
    MQG_JVAL_BOOL,
    MQG_JVAL_NUMBER,
    MQG_JVAL_STRING,
    MQG_JVAL_ARRAY,
    MQG_JVAL_OBJECT,
};

struct mqg_jval {
    enum mqg_jval_type type;
    bool b;     /* BOOL */
    double num; /* NUMBER */
    char *str;  /* STRING (NUL-terminated; len bytes, which may hold a NUL) */
    size_t len;
    struct mqg_jval *items; /* ARRAY: the items; OBJECT: the values */
    char **keys;            /* OBJECT: the keys, in the order written */
    size_t n;
    int line, col; /* where it was written, 1-based; 0 = unknown */
};

/* Parse one JSON text text[0..len) into *out (free with mqg_jval_free). Returns 0; -EINVAL
 * with why[0..cap) (what is wrong and at which byte); -ENOMEM. Nesting is bounded (64). */
int mqg_jval_parse(const char *text, size_t len, struct mqg_jval *out, char *why, size_t cap);

/* NULL-safe; frees what v owns and zeroes it. */
void mqg_jval_free(struct mqg_jval *v);

/* JSON Schema's equality (enum, const, uniqueItems): same type and value, numbers by value,
 * objects whatever the order of their keys. */
bool mqg_jval_equal(const struct mqg_jval *a, const struct mqg_jval *b);

/* The value of `key` in an object, or NULL. */
const struct mqg_jval *mqg_jval_get(const struct mqg_jval *obj, const char *key);

/* "null", "boolean", "number", "string", "array", "object" (an integral number: "integer"
 * when integral is true). */
const char *mqg_jval_type_name(const struct mqg_jval *v, bool integral);

/* Is v a number without a fraction (JSON Schema's "integer")? */
bool mqg_jval_is_integer(const struct mqg_jval *v);

/* v written as compact JSON (strings escaped) into buf (cut to cap, "..." at the end when cut). */
void mqg_jval_text(const struct mqg_jval *v, char *buf, size_t cap);

/* v written as compact JSON (strings escaped), whole: a heap string the caller frees, or NULL
 * when out of memory. */
char *mqg_jval_dup_text(const struct mqg_jval *v);

#endif
