/* mqg_jschema — JSON Schema (draft 7, as ajv applies it) for commissioning-file parameters.
 *
 * The platform validates a parameter's value against its declaration as a JSON Schema with
 * the JavaScript library ajv; mqgate does the same with these keywords:
 *   type (one name or a list), enum, const; minimum, maximum, exclusiveMinimum,
 *   exclusiveMaximum, multipleOf; minLength, maxLength (in characters), pattern (JavaScript
 *   syntax, mqg_jsre.h), format (mqg_jschema_format); items (a schema, or a list for tuples),
 *   additionalItems, minItems, maxItems, uniqueItems, contains; properties, required,
 *   additionalProperties, patternProperties, propertyNames, minProperties, maxProperties,
 *   dependencies; allOf, anyOf, oneOf, not, if/then/else.
 * Annotations (title, description, default, examples, $comment, readOnly, writeOnly,
 * deprecated, $schema, $id, definitions, $defs, contentMediaType, contentEncoding) are
 * accepted and not checked. $ref is refused (mqgate resolves no references). A keyword JSON
 * Schema does not define (such as allowedValues) is handed to the caller, who notes that it
 * is ignored. Pure: schemas and values are mqg_jval trees (mqg_jval.h), no I/O.
 */
#ifndef MQG_JSCHEMA_H
#define MQG_JSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_jval.h"

/* Where and why a schema is malformed, or a value does not fit it. */
struct mqg_jschema_err {
    const struct mqg_jval *at; /* the keyword's value in the schema (its position), or NULL */
    char keyword[200];         /* the keyword's path in the schema, e.g. "items.pattern" */
    char where[200];           /* the part of the value at fault: "" (the value), "[1]", ".a" */
    char msg[400];             /* what is wrong, e.g. "is too long; expected at most 4" */
};

/* Called for each keyword JSON Schema does not define (path in the schema, its value). */
typedef void (*mqg_jschema_unknown_fn)(void *arg, const char *path, const struct mqg_jval *at);

/* Check that schema is a well-formed schema of the supported keywords (their values of the
 * right kind, patterns translatable, formats known). Unknown keywords go to unknown (may be
 * NULL). Returns 0, or -EINVAL with *err (keyword and msg). */
int mqg_jschema_check(const struct mqg_jval *schema, mqg_jschema_unknown_fn unknown, void *arg,
                      struct mqg_jschema_err *err);

/* Validate value against a checked schema. Returns 0 when it fits, 1 when it does not (*err:
 * the first keyword that fails, where in the value, and why), -ENOMEM. */
int mqg_jschema_validate(const struct mqg_jval *schema, const struct mqg_jval *value,
                         struct mqg_jschema_err *err);

/* Is format a known format name? */
bool mqg_jschema_format_known(const char *format);

/* Does text have format `format` (ajv-formats' definitions: date, time, date-time, duration,
 * uri, uri-reference, email, hostname, ipv4, ipv6, uuid, regex, json-pointer,
 * relative-json-pointer, byte, password, binary)? Unknown formats: false. */
bool mqg_jschema_format(const char *format, const char *text);

#endif
