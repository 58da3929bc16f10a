/* mqg_svc_scalar — how a commissioning file spells integers, numbers and booleans.
 *
 * Used by the loader (see mqg_svc_scalar.h). Pure functions over NUL-terminated text.
 */
#include "mqg_svc_scalar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool mqg_svc_parse_ll(const char *s, long long *out)
{
    if (!s || !s[0] || isspace((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = x;
    return true;
}

bool mqg_svc_parse_double(const char *s, double *out)
{
    if (!s || !s[0] || isspace((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(x)) {
        return false;
    }
    *out = x;
    return true;
}

bool mqg_svc_parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *out = false;
        return true;
    }
    return false;
}

size_t mqg_svc_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}
