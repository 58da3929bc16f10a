/* mqg_json — writing JSON strings (RFC 8259) onto a FILE *.
 *
 * Used by the supervisor for `mqgate status --json` (status.json) and the body of /health. Only
 * the string is the hard part of JSON output; objects, numbers and literals are written by the
 * caller with fprintf. Pure formatting, no state.
 */
#ifndef MQG_JSON_H
#define MQG_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Write s[0..len) as a JSON string, quotes included: '"' and '\' escaped, control characters
 * as \n, \r, \t or \u00XX, and every byte that is not part of well-formed UTF-8 as \ufffd (so
 * the output is always valid JSON, whatever the input). */
void mqg_json_strn(FILE *f, const char *s, size_t len);

/* The same for a NUL-terminated s; NULL is written as null. */
void mqg_json_str(FILE *f, const char *s);

#endif
