/* mqg_jsre — JavaScript regular expressions (JSON Schema's `pattern`) run with POSIX regcomp.
 *
 * The platform validates parameters with ajv, which runs `pattern` as a JavaScript RegExp
 * (no flags): \d, \w, \s, (?:...), lazy quantifiers, {-as-a-literal and the like must mean
 * what JavaScript says. mqgate translates the pattern into a POSIX extended expression for
 * glibc's regcomp in a UTF-8 locale (so `.` and classes take characters, not bytes); what
 * POSIX cannot express (lookahead, lookbehind, named back-references) is refused with a
 * reason. Whether a text contains a match is what JSON Schema asks: lazy and greedy
 * quantifiers agree on that, so laziness is dropped. Used by the loader's parameter checks
 * (mqg_jschema.c); pure except the locale it switches to while matching. No global state.
 */
#ifndef MQG_JSRE_H
#define MQG_JSRE_H

#include <stddef.h>

/* The POSIX extended expression for the JavaScript pattern js (a new heap string in *out,
 * caller frees). Returns 0; -EINVAL with why[0..cap) saying what cannot be translated or is
 * malformed (an unterminated class, a trailing backslash, ...); -ENOMEM. */
int mqg_jsre_to_ere(const char *js, char **out, char *why, size_t cap);

/* Does text contain a match of the JavaScript pattern js (as RegExp.prototype.test)? Returns
 * 1 or 0; -EINVAL with why (the pattern cannot be translated, or regcomp refuses the
 * translation: the JavaScript pattern is malformed); -ENOMEM. */
int mqg_jsre_test(const char *js, const char *text, char *why, size_t cap);

#endif
