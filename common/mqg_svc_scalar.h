/* mqg_svc_scalar — how a commissioning file spells integers, numbers and booleans.
 *
 * Used by the loader's typed settings (mqg_svc_setting.c) and parameter checks
 * (mqg_svc_param.c): the rules of docs/formats.md §1.3. Pure functions, no state.
 */
#ifndef MQG_SVC_SCALAR_H
#define MQG_SVC_SCALAR_H

#include <stdbool.h>
#include <stddef.h>

/* A decimal integer (strtoll, base 10), the whole text, no leading blank. False (and *out
 * unchanged) otherwise, also for NULL, "" and values out of range of long long. */
bool mqg_svc_parse_ll(const char *s, long long *out);

/* A finite decimal number (strtod), the whole text, no leading blank. False otherwise. */
bool mqg_svc_parse_double(const char *s, double *out);

/* true, True, TRUE, false, False, FALSE (not yes/no/1/0). False for anything else. */
bool mqg_svc_parse_bool(const char *s, bool *out);

/* Length in characters of UTF-8 text. */
size_t mqg_svc_utf8_len(const char *s);

#endif
