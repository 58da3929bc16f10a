/* mqg_jsformat — JSON Schema's `format` names for parameters (mqg_jschema_format, declared in
 * mqg_jschema.h), with the definitions of ajv-formats, the format plugin of the library the
 * platform validates with: date, time and date-time (RFC 3339, with real days and times),
 * duration (ISO 8601), uri and uri-reference (their shape: a scheme, no blanks), email,
 * hostname (RFC 1123 labels), ipv4, ipv6, uuid, regex (a JavaScript pattern mqgate can run),
 * json-pointer, relative-json-pointer, byte (base64); password and binary take any text.
 * Pure: each format is a function of the text.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mqg_jschema.h"
#include "mqg_jsre.h"

/* n digits at s into *v. */
static bool s_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* YYYY-MM-DD, a day the month has. */
static bool s_date_part(const char *s)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (!s_digits(s, 4, &y) || s[4] != '-' || !s_digits(s + 5, 2, &m) || s[7] != '-' ||
        !s_digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days[m - 1]) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m != 2 || d <= 28 || leap;
}

static bool s_date(const char *s)
{
    return strlen(s) == 10 && s_date_part(s);
}

/* HH:MM:SS[.frac][Z|+HH:MM|-HH:MM]; zone required when need_zone. Leap second 60 allowed. */
static bool s_time(const char *s, bool need_zone)
{
    int h, m, sec;
    if (!s_digits(s, 2, &h) || s[2] != ':' || !s_digits(s + 3, 2, &m) || s[5] != ':' ||
        !s_digits(s + 6, 2, &sec) || h > 23 || m > 59 || sec > 60) {
        return false;
    }
    s += 8;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
        while (isdigit((unsigned char)*s)) {
            s++;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        return s[1] == '\0';
    }
    if (*s == '+' || *s == '-') {
        int zh, zm;
        return s_digits(s + 1, 2, &zh) && s[3] == ':' && s_digits(s + 4, 2, &zm) && zh <= 23 &&
               zm <= 59 && s[6] == '\0';
    }
    return *s == '\0' && !need_zone;
}

static bool s_date_time(const char *s)
{
    return strlen(s) > 11 && s_date_part(s) && strchr("Tt ", s[10]) && s_time(s + 11, true);
}

/* P[nY][nM][nD][T[nH][nM][nS]] with at least one part (T only before one), or P[nW] alone. */
static bool s_duration(const char *s)
{
    if (*s++ != 'P' || !*s) {
        return false;
    }
    const char *units = "YMWD";
    bool weeks = false, time = false;
    int parts = 0;
    while (*s) {
        if (*s == 'T') {
            if (time || !isdigit((unsigned char)s[1])) {
                return false;
            }
            time = true;
            units = "HMS";
            s++;
            continue;
        }
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
        while (isdigit((unsigned char)*s)) {
            s++;
        }
        const char *u = *s ? strchr(units, *s) : NULL;
        if (!u) {
            return false;
        }
        weeks = weeks || (!time && *s == 'W');
        units = u + 1; /* in order, each once */
        parts++;
        s++;
    }
    return parts > 0 && (!weeks || parts == 1);
}

static bool s_no_blank(const char *s)
{
    for (; *s; s++) {
        if (isspace((unsigned char)*s) || *s == '\\') {
            return false;
        }
    }
    return true;
}

/* scheme ":" anything without blanks */
static bool s_uri(const char *s)
{
    if (!isalpha((unsigned char)*s)) {
        return false;
    }
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return s[n] == ':' && s_no_blank(s + n + 1);
}

/* RFC 1123 labels of letters, digits, '-' (not first or last), 1..63 each, 253 in all. */
static bool s_hostname(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253 + (s[len - 1] == '.')) {
        return false;
    }
    while (*s) {
        size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-' || (s[n] && s[n] != '.')) {
            return false;
        }
        s += n;
        if (*s == '.') {
            s++;
        }
    }
    return true;
}

/* local@domain as ajv-formats' fast email check */
static bool s_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@')) {
        return false;
    }
    for (const char *p = s; p < at; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(".!#$%&'*+/=?^_`{|}~-", *p)) {
            return false;
        }
    }
    return s_hostname(at + 1) && at[1] != '\0' && !strchr(at + 1, '_');
}

/* four decimal numbers 0..255 without leading zeros */
static bool s_ipv4(const char *s)
{
    for (int part = 0; part < 4; part++) {
        size_t n = strspn(s, "0123456789");
        int v;
        if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || !s_digits(s, (int)n, &v) || v > 255) {
            return false;
        }
        s += n;
        if (part < 3 && *s++ != '.') {
            return false;
        }
    }
    return *s == '\0';
}

static bool s_ipv6(const char *s)
{
    unsigned char buf[16];
    return strchr(s, ':') && inet_pton(AF_INET6, s, buf) == 1;
}

static bool s_uuid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    if (strncasecmp(s, "urn:uuid:", 9) == 0) {
        s += 9;
    }
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++) {
            if (!isxdigit((unsigned char)*s++)) {
                return false;
            }
        }
        if (g < 4 && *s++ != '-') {
            return false;
        }
    }
    return *s == '\0';
}

/* "" or ("/" then characters with '~' only as ~0 or ~1)* */
static bool s_json_pointer(const char *s)
{
    if (*s && *s != '/') {
        return false;
    }
    for (; *s; s++) {
        if (*s == '~' && s[1] != '0' && s[1] != '1') {
            return false;
        }
    }
    return true;
}

static bool s_relative_json_pointer(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || (n > 1 && s[0] == '0')) {
        return false;
    }
    return strcmp(s + n, "#") == 0 || s_json_pointer(s + n);
}

static bool s_base64(const char *s)
{
    size_t len = strlen(s);
    if (len % 4) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        bool pad = s[i] == '=' && i + 2 >= len && (i == len - 1 || s[len - 1] == '=');
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' && !pad) {
            return false;
        }
    }
    return true;
}

static bool s_regex(const char *s)
{
    char why[100];
    return mqg_jsre_test(s, "", why, sizeof(why)) >= 0;
}

static bool s_any(const char *s)
{
    (void)s;
    return true;
}

static bool s_uri_reference(const char *s)
{
    return s_no_blank(s);
}

static const struct {
    const char *name;
    bool (*fn)(const char *);
} s_formats[] = {
    {"date", s_date},
    {"date-time", s_date_time},
    {"duration", s_duration},
    {"uri", s_uri},
    {"uri-reference", s_uri_reference},
    {"email", s_email},
    {"hostname", s_hostname},
    {"ipv4", s_ipv4},
    {"ipv6", s_ipv6},
    {"uuid", s_uuid},
    {"regex", s_regex},
    {"json-pointer", s_json_pointer},
    {"relative-json-pointer", s_relative_json_pointer},
    {"byte", s_base64},
    {"password", s_any},
    {"binary", s_any},
};

bool mqg_jschema_format_known(const char *format)
{
    if (strcmp(format, "time") == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(s_formats) / sizeof(s_formats[0]); i++) {
        if (strcmp(s_formats[i].name, format) == 0) {
            return true;
        }
    }
    return false;
}

bool mqg_jschema_format(const char *format, const char *text)
{
    if (strcmp(format, "time") == 0) {
        return s_time(text, false);
    }
    for (size_t i = 0; i < sizeof(s_formats) / sizeof(s_formats[0]); i++) {
        if (strcmp(s_formats[i].name, format) == 0) {
            return s_formats[i].fn(text);
        }
    }
    return false;
}
