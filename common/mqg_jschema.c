/* mqg_jschema — JSON Schema validation of parameter values (see mqg_jschema.h).
 *
 * Two walks over a schema: s_check_schema (once per declaration: is every keyword's value of
 * the right kind?) and s_validate (the value against it), both recursive through the
 * subschemas. Keyword table s_keywords says what each keyword's value must be; annotations are
 * in it too, with nothing to check. Error paths are built on the way down: the keyword's path
 * in the schema ("items.pattern") and the place in the value ("[1].name").
 */
#include "mqg_jschema.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_jsre.h"

#define S_DEPTH_MAX 32

/* What a keyword's value must be. */
enum s_kind {
    K_ANNOTATION,  /* anything: not checked */
    K_TYPE,        /* a type name or a list of them */
    K_ANY,         /* any JSON value (const) */
    K_LIST,        /* a list of values (enum) */
    K_NUMBER,      /* a number */
    K_POSITIVE,    /* a number > 0 (multipleOf) */
    K_COUNT,       /* an integer >= 0 */
    K_BOOL,        /* true or false */
    K_PATTERN,     /* a JavaScript regular expression */
    K_FORMAT,      /* a known format name */
    K_SCHEMA,      /* a schema */
    K_SCHEMAS,     /* a non-empty list of schemas */
    K_ITEMS,       /* a schema or a list of schemas */
    K_SCHEMA_MAP,  /* an object of schemas (properties, patternProperties) */
    K_NAMES,       /* a list of unique strings (required) */
    K_DEPS,        /* an object of name lists or schemas (dependencies) */
    K_BOOL_SCHEMA, /* true, false or a schema (additionalItems, additionalProperties) */
    K_REFUSED,     /* $ref: not supported */
};

static const struct {
    const char *name;
    enum s_kind kind;
} s_keywords[] = {
    {"type", K_TYPE},
    {"enum", K_LIST},
    {"const", K_ANY},
    {"minimum", K_NUMBER},
    {"maximum", K_NUMBER},
    {"exclusiveMinimum", K_NUMBER},
    {"exclusiveMaximum", K_NUMBER},
    {"multipleOf", K_POSITIVE},
    {"minLength", K_COUNT},
    {"maxLength", K_COUNT},
    {"pattern", K_PATTERN},
    {"format", K_FORMAT},
    {"items", K_ITEMS},
    {"additionalItems", K_BOOL_SCHEMA},
    {"minItems", K_COUNT},
    {"maxItems", K_COUNT},
    {"uniqueItems", K_BOOL},
    {"contains", K_SCHEMA},
    {"properties", K_SCHEMA_MAP},
    {"patternProperties", K_SCHEMA_MAP},
    {"additionalProperties", K_BOOL_SCHEMA},
    {"propertyNames", K_SCHEMA},
    {"required", K_NAMES},
    {"minProperties", K_COUNT},
    {"maxProperties", K_COUNT},
    {"dependencies", K_DEPS},
    {"allOf", K_SCHEMAS},
    {"anyOf", K_SCHEMAS},
    {"oneOf", K_SCHEMAS},
    {"not", K_SCHEMA},
    {"if", K_SCHEMA},
    {"then", K_SCHEMA},
    {"else", K_SCHEMA},
    {"title", K_ANNOTATION},
    {"description", K_ANNOTATION},
    {"default", K_ANNOTATION},
    {"examples", K_ANNOTATION},
    {"$comment", K_ANNOTATION},
    {"readOnly", K_ANNOTATION},
    {"writeOnly", K_ANNOTATION},
    {"deprecated", K_ANNOTATION},
    {"$schema", K_ANNOTATION},
    {"$id", K_ANNOTATION},
    {"definitions", K_ANNOTATION},
    {"$defs", K_ANNOTATION},
    {"contentMediaType", K_ANNOTATION},
    {"contentEncoding", K_ANNOTATION},
    {"$ref", K_REFUSED},
};

static const char *const s_types[] = {"null",   "boolean", "number", "integer",
                                      "string", "array",   "object"};

/* ---- errors and paths ---- */

static void s_join(char *out, size_t cap, const char *base, const char *part)
{
    if (snprintf(out, cap, "%s%s%s", base, base[0] ? "." : "", part) < 0) {
        out[0] = '\0'; /* an encoding error: no path rather than garbage */
    }
}

static int s_err(struct mqg_jschema_err *e, const struct mqg_jval *at, const char *kpath,
                 const char *where, int rc, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int s_err(struct mqg_jschema_err *e, const struct mqg_jval *at, const char *kpath,
                 const char *where, int rc, const char *fmt, ...)
{
    e->at = at;
    snprintf(e->keyword, sizeof(e->keyword), "%s", kpath);
    snprintf(e->where, sizeof(e->where), "%s", where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- checking a schema ---- */

static int s_kind_of(const char *name)
{
    for (size_t i = 0; i < sizeof(s_keywords) / sizeof(s_keywords[0]); i++) {
        if (strcmp(s_keywords[i].name, name) == 0) {
            return (int)s_keywords[i].kind;
        }
    }
    return -1;
}

static bool s_type_name(const struct mqg_jval *v)
{
    for (size_t i = 0; v->type == MQG_JVAL_STRING && i < sizeof(s_types) / sizeof(s_types[0]);
         i++) {
        if (strcmp(v->str, s_types[i]) == 0) {
            return true;
        }
    }
    return false;
}

struct s_ctx {
    mqg_jschema_unknown_fn unknown;
    void *arg;
    struct mqg_jschema_err *err;
};

static int s_check_schema(struct s_ctx *c, const struct mqg_jval *s, const char *path, int depth);
static int s_check_value(struct s_ctx *c, enum s_kind k, const struct mqg_jval *v, const char *path,
                         int depth);

/* pattern (a translatable JavaScript expression) and format (a known name). */
static int s_check_text(struct s_ctx *c, enum s_kind k, const struct mqg_jval *v, const char *path)
{
    char why[200];
    switch (k) {
    case K_PATTERN: {
        if (v->type != MQG_JVAL_STRING) {
            return s_err(c->err, v, path, "", -EINVAL, "expected a regular expression (text)");
        }
        int rc = mqg_jsre_test(v->str, "", why, sizeof(why));
        if (rc == -EINVAL) {
            return s_err(c->err, v, path, "", -EINVAL,
                         "invalid regular expression '%s': %s; expected a JavaScript regular "
                         "expression",
                         v->str, why);
        }
        return rc < 0 ? rc : 0;
    }
    case K_FORMAT:
        if (v->type != MQG_JVAL_STRING || !mqg_jschema_format_known(v->str)) {
            return s_err(c->err, v, path, "", -EINVAL,
                         "unknown format%s%s; expected one of date, time, date-time, duration, "
                         "uri, uri-reference, email, hostname, ipv4, ipv6, uuid, regex, "
                         "json-pointer, relative-json-pointer, byte, password, binary",
                         v->type == MQG_JVAL_STRING ? " " : "",
                         v->type == MQG_JVAL_STRING ? v->str : "");
        }
        return 0;
    default:
        return 0;
    }
}

/* items, allOf/anyOf/oneOf (lists of schemas), properties, patternProperties, dependencies
 * (mappings of schemas). */
static int s_check_subschemas(struct s_ctx *c, enum s_kind k, const struct mqg_jval *v,
                              const char *path, int depth)
{
    char sub[sizeof(c->err->keyword)];
    switch (k) {
    case K_SCHEMAS:
    case K_ITEMS:
        if (v->type != MQG_JVAL_ARRAY) {
            return k == K_ITEMS ? s_check_schema(c, v, path, depth + 1)
                                : s_err(c->err, v, path, "", -EINVAL, "expected a list of schemas");
        }
        for (size_t i = 0; i < v->n; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            int rc = s_check_schema(c, &v->items[i], sub, depth + 1);
            if (rc) {
                return rc;
            }
        }
        return v->n == 0 && k == K_SCHEMAS
                   ? s_err(c->err, v, path, "", -EINVAL, "expected a non-empty list of schemas")
                   : 0;
    case K_SCHEMA_MAP:
    case K_DEPS:
        if (v->type != MQG_JVAL_OBJECT) {
            return s_err(c->err, v, path, "", -EINVAL, "expected a mapping of names to schemas");
        }
        for (size_t i = 0; i < v->n; i++) {
            s_join(sub, sizeof(sub), path, v->keys[i]);
            int rc = k == K_DEPS && v->items[i].type == MQG_JVAL_ARRAY
                         ? s_check_value(c, K_NAMES, &v->items[i], sub, depth)
                         : s_check_schema(c, &v->items[i], sub, depth + 1);
            if (rc) {
                return rc;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/* A schema's value of kind k at `path`. */
static int s_check_value(struct s_ctx *c, enum s_kind k, const struct mqg_jval *v, const char *path,
                         int depth)
{
    bool bad = false;
    switch (k) {
    case K_ANNOTATION:
    case K_ANY:
        return 0;
    case K_REFUSED:
        return s_err(c->err, v, path, "", -EINVAL,
                     "$ref is not supported; expected the schema written out in place");
    case K_TYPE:
        if (v->type == MQG_JVAL_ARRAY) {
            for (size_t i = 0; i < v->n; i++) {
                bad = bad || !s_type_name(&v->items[i]);
            }
            bad = bad || v->n == 0;
        } else {
            bad = !s_type_name(v);
        }
        if (bad) {
            return s_err(c->err, v, path, "", -EINVAL,
                         "expected a type (null, boolean, number, integer, string, array, "
                         "object) or a list of them");
        }
        return 0;
    case K_LIST:
        bad = v->type != MQG_JVAL_ARRAY;
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected a list of allowed values") : 0;
    case K_NUMBER:
        bad = v->type != MQG_JVAL_NUMBER;
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected a number") : 0;
    case K_POSITIVE:
        bad = v->type != MQG_JVAL_NUMBER || v->num <= 0;
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected a number greater than 0") : 0;
    case K_COUNT:
        bad = !mqg_jval_is_integer(v) || v->num < 0;
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected a non-negative integer") : 0;
    case K_BOOL:
        bad = v->type != MQG_JVAL_BOOL;
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected true or false") : 0;
    case K_PATTERN:
    case K_FORMAT:
        return s_check_text(c, k, v, path);
    case K_SCHEMA:
        return s_check_schema(c, v, path, depth + 1);
    case K_BOOL_SCHEMA:
        return v->type == MQG_JVAL_BOOL ? 0 : s_check_schema(c, v, path, depth + 1);
    case K_SCHEMAS:
    case K_ITEMS:
    case K_SCHEMA_MAP:
    case K_DEPS:
        return s_check_subschemas(c, k, v, path, depth);
    case K_NAMES:
        bad = v->type != MQG_JVAL_ARRAY;
        for (size_t i = 0; !bad && i < v->n; i++) {
            bad = v->items[i].type != MQG_JVAL_STRING;
        }
        return bad ? s_err(c->err, v, path, "", -EINVAL, "expected a list of names") : 0;
    }
    return 0;
}

static int s_check_schema(struct s_ctx *c, const struct mqg_jval *s, const char *path, int depth)
{
    char sub[sizeof(c->err->keyword)];
    if (depth > S_DEPTH_MAX) {
        return s_err(c->err, s, path, "", -EINVAL, "schemas nested deeper than %d", S_DEPTH_MAX);
    }
    if (s->type == MQG_JVAL_BOOL) {
        return 0; /* true / false: every value, no value */
    }
    if (s->type != MQG_JVAL_OBJECT) {
        return s_err(c->err, s, path, "", -EINVAL, "expected a schema (a mapping)");
    }
    for (size_t i = 0; i < s->n; i++) {
        s_join(sub, sizeof(sub), path, s->keys[i]);
        int k = s_kind_of(s->keys[i]);
        if (k < 0) {
            if (c->unknown) {
                c->unknown(c->arg, sub, &s->items[i]);
            }
            continue;
        }
        int rc = s_check_value(c, (enum s_kind)k, &s->items[i], sub, depth);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int mqg_jschema_check(const struct mqg_jval *schema, mqg_jschema_unknown_fn unknown, void *arg,
                      struct mqg_jschema_err *err)
{
    struct s_ctx c = {.unknown = unknown, .arg = arg, .err = err};
    return s_check_schema(&c, schema, "", 0);
}

/* ---- validating a value ---- */

/* Characters of a UTF-8 string (as ajv counts: code points). */
static size_t s_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    return n;
}

/* A number as the user would write it. */
static const char *s_num(double v, char *buf, size_t cap)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    return buf;
}

static bool s_has_type(const struct mqg_jval *v, const char *t)
{
    if (strcmp(t, "integer") == 0) {
        return mqg_jval_is_integer(v);
    }
    return strcmp(t, mqg_jval_type_name(v, false)) == 0;
}

struct s_val {
    struct mqg_jschema_err *err;
    int depth;
};

static int s_validate(struct s_val *c, const struct mqg_jval *s, const struct mqg_jval *v,
                      const char *kpath, const char *where);

/* "path.kw" into out. */
static void s_kw(char *out, size_t cap, const char *kpath, const char *kw)
{
    s_join(out, cap, kpath, kw);
}

static int s_v_type(struct s_val *c, const struct mqg_jval *t, const struct mqg_jval *v,
                    const char *kp, const char *where)
{
    char list[200] = "";
    bool ok = false;
    if (t->type == MQG_JVAL_STRING) {
        ok = s_has_type(v, t->str);
        snprintf(list, sizeof(list), "%s", t->str);
    }
    for (size_t i = 0; t->type == MQG_JVAL_ARRAY && i < t->n; i++) {
        ok = ok || s_has_type(v, t->items[i].str);
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s%s", i ? " or " : "", t->items[i].str);
    }
    return ok ? 0
              : s_err(c->err, t, kp, where, 1, "is %s %s; expected %s",
                      mqg_jval_is_integer(v) || v->type == MQG_JVAL_ARRAY ||
                              v->type == MQG_JVAL_OBJECT
                          ? "an"
                          : "a",
                      mqg_jval_type_name(v, true), list);
}

static int s_v_enum(struct s_val *c, const struct mqg_jval *e, const struct mqg_jval *v,
                    const char *kp, const char *where)
{
    char list[300] = "";
    for (size_t i = 0; i < e->n; i++) {
        if (mqg_jval_equal(&e->items[i], v)) {
            return 0;
        }
        size_t l = strlen(list);
        char item[120];
        if (e->items[i].type == MQG_JVAL_STRING) {
            snprintf(item, sizeof(item), "%s", e->items[i].str);
        } else {
            mqg_jval_text(&e->items[i], item, sizeof(item));
        }
        snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", item);
    }
    return s_err(c->err, e, kp, where, 1, "is not allowed; expected one of: %s", list);
}

/* minimum, maximum, exclusive*, multipleOf on a number. */
static int s_v_number(struct s_val *c, const char *kw, const struct mqg_jval *b,
                      const struct mqg_jval *v, const char *kp, const char *where)
{
    char n[40];
    if (v->type != MQG_JVAL_NUMBER) {
        return 0;
    }
    if (strcmp(kw, "minimum") == 0 && v->num < b->num) {
        return s_err(c->err, b, kp, where, 1, "is too small; expected >= %s", s_num(b->num, n, 40));
    }
    if (strcmp(kw, "maximum") == 0 && v->num > b->num) {
        return s_err(c->err, b, kp, where, 1, "is too large; expected <= %s", s_num(b->num, n, 40));
    }
    if (strcmp(kw, "exclusiveMinimum") == 0 && v->num <= b->num) {
        return s_err(c->err, b, kp, where, 1, "is too small; expected > %s", s_num(b->num, n, 40));
    }
    if (strcmp(kw, "exclusiveMaximum") == 0 && v->num >= b->num) {
        return s_err(c->err, b, kp, where, 1, "is too large; expected < %s", s_num(b->num, n, 40));
    }
    if (strcmp(kw, "multipleOf") == 0) {
        double q = v->num / b->num;
        if (!isfinite(q) || fabs(q - round(q)) > 1e-9 * fmax(1.0, fabs(q))) {
            return s_err(c->err, b, kp, where, 1, "is not a multiple of %s", s_num(b->num, n, 40));
        }
    }
    return 0;
}

/* minLength, maxLength, pattern, format on a string. */
static int s_v_string(struct s_val *c, const char *kw, const struct mqg_jval *b,
                      const struct mqg_jval *v, const char *kp, const char *where)
{
    char why[200];
    if (v->type != MQG_JVAL_STRING) {
        return 0;
    }
    size_t len = s_chars(v->str, v->len);
    if (strcmp(kw, "minLength") == 0 && (double)len < b->num) {
        return s_err(c->err, b, kp, where, 1, "is too short; expected at least %.0f", b->num);
    }
    if (strcmp(kw, "maxLength") == 0 && (double)len > b->num) {
        return s_err(c->err, b, kp, where, 1, "is too long; expected at most %.0f", b->num);
    }
    if (strcmp(kw, "pattern") == 0) {
        int rc = mqg_jsre_test(b->str, v->str, why, sizeof(why));
        if (rc == 0) {
            return s_err(c->err, b, kp, where, 1, "does not match the pattern '%s'", b->str);
        }
        return rc < 0 ? rc : 0;
    }
    if (strcmp(kw, "format") == 0 && !mqg_jschema_format(b->str, v->str)) {
        return s_err(c->err, b, kp, where, 1, "is not a valid %s (format)", b->str);
    }
    return 0;
}

/* items, additionalItems, minItems, maxItems, uniqueItems, contains on an array. */
static int s_v_array(struct s_val *c, const struct mqg_jval *s, const char *kw,
                     const struct mqg_jval *b, const struct mqg_jval *v, const char *kp,
                     const char *where)
{
    char w[sizeof(c->err->where)];
    char k[sizeof(c->err->keyword)];
    if (v->type != MQG_JVAL_ARRAY) {
        return 0;
    }
    if (strcmp(kw, "minItems") == 0 && (double)v->n < b->num) {
        return s_err(c->err, b, kp, where, 1, "has too few items; expected at least %.0f", b->num);
    }
    if (strcmp(kw, "maxItems") == 0 && (double)v->n > b->num) {
        return s_err(c->err, b, kp, where, 1, "has too many items; expected at most %.0f", b->num);
    }
    if (strcmp(kw, "uniqueItems") == 0 && b->b) {
        for (size_t i = 0; i < v->n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (mqg_jval_equal(&v->items[i], &v->items[j])) {
                    return s_err(c->err, b, kp, where, 1,
                                 "has items %zu and %zu equal; expected unique items", j, i);
                }
            }
        }
    }
    if (strcmp(kw, "items") == 0 || strcmp(kw, "additionalItems") == 0) {
        const struct mqg_jval *items = mqg_jval_get(s, "items");
        bool tuple = items && items->type == MQG_JVAL_ARRAY;
        bool extra = strcmp(kw, "additionalItems") == 0;
        if (extra && !tuple) {
            return 0; /* additionalItems means something only beside a list of items */
        }
        for (size_t i = extra ? items->n : 0; i < v->n; i++) {
            const struct mqg_jval *sub = extra || !tuple ? b : (i < b->n ? &b->items[i] : NULL);
            if (!sub) {
                break;
            }
            snprintf(w, sizeof(w), "%s[%zu]", where, i);
            if (tuple && !extra) {
                if (snprintf(k, sizeof(k), "%s[%zu]", kp, i) < 0) {
                    k[0] = '\0'; /* an encoding error: no path rather than garbage */
                }
            } else {
                snprintf(k, sizeof(k), "%s", kp);
            }
            int rc = s_validate(c, sub, &v->items[i], k, w);
            if (rc) {
                return rc;
            }
        }
    }
    if (strcmp(kw, "contains") == 0) {
        struct mqg_jschema_err scratch;
        struct s_val inner = {.err = &scratch, .depth = c->depth};
        for (size_t i = 0; i < v->n; i++) {
            int rc = s_validate(&inner, b, &v->items[i], kp, where);
            if (rc <= 0) {
                return rc;
            }
        }
        return s_err(c->err, b, kp, where, 1, "has no item that fits 'contains'");
    }
    return 0;
}

/* Does the JavaScript pattern re match name? 1, 0, or a negative errno. */
static int s_name_matches(const char *re, const char *name)
{
    char why[100];
    return mqg_jsre_test(re, name, why, sizeof(why));
}

/* An object's property `name` against properties / patternProperties / additionalProperties. */
static int s_v_property(struct s_val *c, const struct mqg_jval *s, const char *name,
                        const struct mqg_jval *pv, const char *kp, const char *where)
{
    char w[sizeof(c->err->where)];
    char k[sizeof(c->err->keyword)];
    bool matched = false;
    snprintf(w, sizeof(w), "%s.%s", where, name);
    const struct mqg_jval *props = mqg_jval_get(s, "properties");
    const struct mqg_jval *sub = mqg_jval_get(props, name);
    if (sub) {
        matched = true;
        snprintf(k, sizeof(k), "%s%sproperties.%s", kp, kp[0] ? "." : "", name);
        int rc = s_validate(c, sub, pv, k, w);
        if (rc) {
            return rc;
        }
    }
    const struct mqg_jval *pp = mqg_jval_get(s, "patternProperties");
    for (size_t i = 0; pp && i < pp->n; i++) {
        int m = s_name_matches(pp->keys[i], name);
        if (m < 0) {
            return m;
        }
        if (m == 1) {
            matched = true;
            snprintf(k, sizeof(k), "%s%spatternProperties.%s", kp, kp[0] ? "." : "", pp->keys[i]);
            int rc = s_validate(c, &pp->items[i], pv, k, w);
            if (rc) {
                return rc;
            }
        }
    }
    const struct mqg_jval *ap = mqg_jval_get(s, "additionalProperties");
    if (!matched && ap) {
        s_kw(k, sizeof(k), kp, "additionalProperties");
        if (ap->type == MQG_JVAL_BOOL && !ap->b) {
            return s_err(c->err, ap, k, where, 1, "has property '%s', which is not allowed", name);
        }
        return s_validate(c, ap, pv, k, w);
    }
    return 0;
}

/* An object keyword kw (its path kp; the schema's path kpath) on an object. */
static int s_v_object(struct s_val *c, const struct mqg_jval *s, const char *kw,
                      const struct mqg_jval *b, const struct mqg_jval *v, const char *kpath,
                      const char *kp, const char *where)
{
    char k[sizeof(c->err->keyword)];
    if (v->type != MQG_JVAL_OBJECT) {
        return 0;
    }
    if (strcmp(kw, "minProperties") == 0 && (double)v->n < b->num) {
        return s_err(c->err, b, kp, where, 1, "has too few properties; expected at least %.0f",
                     b->num);
    }
    if (strcmp(kw, "maxProperties") == 0 && (double)v->n > b->num) {
        return s_err(c->err, b, kp, where, 1, "has too many properties; expected at most %.0f",
                     b->num);
    }
    if (strcmp(kw, "required") == 0) {
        for (size_t i = 0; i < b->n; i++) {
            if (!mqg_jval_get(v, b->items[i].str)) {
                return s_err(c->err, b, kp, where, 1, "has no property '%s', which is required",
                             b->items[i].str);
            }
        }
    }
    if (strcmp(kw, "propertyNames") == 0) {
        for (size_t i = 0; i < v->n; i++) {
            struct mqg_jval name = {
                .type = MQG_JVAL_STRING, .str = v->keys[i], .len = strlen(v->keys[i])};
            snprintf(k, sizeof(k), "%s", kp);
            int rc = s_validate(c, b, &name, k, where);
            if (rc) {
                return rc;
            }
        }
    }
    if (strcmp(kw, "dependencies") == 0) {
        for (size_t i = 0; i < b->n; i++) {
            if (!mqg_jval_get(v, b->keys[i])) {
                continue;
            }
            const struct mqg_jval *d = &b->items[i];
            s_kw(k, sizeof(k), kp, b->keys[i]);
            for (size_t j = 0; d->type == MQG_JVAL_ARRAY && j < d->n; j++) {
                if (!mqg_jval_get(v, d->items[j].str)) {
                    return s_err(c->err, d, k, where, 1,
                                 "has property '%s' but not '%s', which it needs", b->keys[i],
                                 d->items[j].str);
                }
            }
            if (d->type != MQG_JVAL_ARRAY) {
                int rc = s_validate(c, d, v, k, where);
                if (rc) {
                    return rc;
                }
            }
        }
    }
    if (strcmp(kw, "properties") == 0) { /* every property once, with the other two */
        for (size_t i = 0; i < v->n; i++) {
            int rc = s_v_property(c, s, v->keys[i], &v->items[i], kpath, where);
            if (rc) {
                return rc;
            }
        }
    }
    return 0;
}

/* allOf, anyOf, oneOf, not, if (with then/else): kw at kp, in the schema at kpath. */
static int s_v_logic(struct s_val *c, const struct mqg_jval *s, const char *kw,
                     const struct mqg_jval *b, const struct mqg_jval *v, const char *kpath,
                     const char *kp, const char *where)
{
    char k[sizeof(c->err->keyword)];
    struct mqg_jschema_err scratch;
    struct s_val quiet = {.err = &scratch, .depth = c->depth};
    if (strcmp(kw, "allOf") == 0) {
        for (size_t i = 0; i < b->n; i++) {
            if (snprintf(k, sizeof(k), "%s[%zu]", kp, i) < 0) {
                k[0] = '\0'; /* an encoding error: no path rather than garbage */
            }
            int rc = s_validate(c, &b->items[i], v, k, where);
            if (rc) {
                return rc;
            }
        }
        return 0;
    }
    if (strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0) {
        size_t fits = 0;
        for (size_t i = 0; i < b->n; i++) {
            int rc = s_validate(&quiet, &b->items[i], v, kp, where);
            if (rc < 0) {
                return rc;
            }
            fits += rc == 0;
        }
        if (kw[0] == 'a' ? fits == 0 : fits != 1) {
            return s_err(c->err, b, kp, where, 1, "fits %zu of the schemas of %s; expected %s",
                         fits, kw, kw[0] == 'a' ? "at least one" : "exactly one");
        }
        return 0;
    }
    if (strcmp(kw, "not") == 0) {
        int rc = s_validate(&quiet, b, v, kp, where);
        return rc < 0    ? rc
               : rc == 0 ? s_err(c->err, b, kp, where, 1, "fits the schema of 'not'")
                         : 0;
    }
    if (strcmp(kw, "if") == 0) {
        int rc = s_validate(&quiet, b, v, kp, where);
        if (rc < 0) {
            return rc;
        }
        const char *branch = rc == 0 ? "then" : "else";
        const struct mqg_jval *sub = mqg_jval_get(s, branch);
        if (sub) {
            s_join(k, sizeof(k), kpath, branch);
            return s_validate(c, sub, v, k, where);
        }
    }
    return 0;
}

static int s_validate(struct s_val *c, const struct mqg_jval *s, const struct mqg_jval *v,
                      const char *kpath, const char *where)
{
    char kp[sizeof(c->err->keyword)];
    if (s->type == MQG_JVAL_BOOL) {
        return s->b ? 0 : s_err(c->err, s, kpath, where, 1, "is not allowed (schema false)");
    }
    if (++c->depth > S_DEPTH_MAX * 4) {
        c->depth--;
        return s_err(c->err, s, kpath, where, 1, "nests deeper than mqgate checks");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        const char *kw = s->keys[i];
        const struct mqg_jval *b = &s->items[i];
        s_kw(kp, sizeof(kp), kpath, kw);
        int kind = s_kind_of(kw);
        if (kind == K_TYPE) {
            rc = s_v_type(c, b, v, kp, where);
        } else if (kind == K_LIST) {
            rc = s_v_enum(c, b, v, kp, where);
        } else if (strcmp(kw, "const") == 0 && !mqg_jval_equal(b, v)) {
            rc = s_err(c->err, b, kp, where, 1, "is not the one allowed value");
        } else if (kind == K_NUMBER || kind == K_POSITIVE) {
            rc = s_v_number(c, kw, b, v, kp, where);
        } else if (strstr(kw, "Length") || kind == K_PATTERN || kind == K_FORMAT) {
            rc = s_v_string(c, kw, b, v, kp, where);
        } else if (strstr(kw, "Items") || strcmp(kw, "items") == 0 || strcmp(kw, "contains") == 0) {
            rc = s_v_array(c, s, kw, b, v, kp, where);
        } else if (strstr(kw, "roperties") || strcmp(kw, "required") == 0 ||
                   strcmp(kw, "dependencies") == 0 || strcmp(kw, "propertyNames") == 0) {
            rc = strcmp(kw, "patternProperties") == 0 || strcmp(kw, "additionalProperties") == 0
                     ? 0 /* with "properties", or alone (below) */
                     : s_v_object(c, s, kw, b, v, kpath, kp, where);
        } else {
            rc = s_v_logic(c, s, kw, b, v, kpath, kp, where);
        }
    }
    /* patternProperties / additionalProperties without properties: each property once */
    if (rc == 0 && v->type == MQG_JVAL_OBJECT && !mqg_jval_get(s, "properties") &&
        (mqg_jval_get(s, "patternProperties") || mqg_jval_get(s, "additionalProperties"))) {
        for (size_t i = 0; rc == 0 && i < v->n; i++) {
            rc = s_v_property(c, s, v->keys[i], &v->items[i], kpath, where);
        }
    }
    c->depth--;
    return rc;
}

int mqg_jschema_validate(const struct mqg_jval *schema, const struct mqg_jval *value,
                         struct mqg_jschema_err *err)
{
    struct s_val c = {.err = err, .depth = 0};
    memset(err, 0, sizeof(*err));
    return s_validate(&c, schema, value, "", "");
}
