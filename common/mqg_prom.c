/* mqg_prom — the Prometheus text exposition format (see mqg_prom.h). */
#include "mqg_prom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mqg_prom_escape_label(FILE *f, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\') {
            fputs("\\\\", f);
        } else if (*p == '"') {
            fputs("\\\"", f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*p, f);
        }
    }
}

void mqg_prom_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s ", name);
    for (const char *p = help ? help : ""; *p; p++) {
        if (*p == '\\') {
            fputs("\\\\", f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*p, f);
        }
    }
    fprintf(f, "\n# TYPE %s %s\n", name, type);
}

/* name{labels} followed by a blank; labels with a NULL value are left out. */
static void s_head(FILE *f, const char *name, const struct mqg_prom_label *labels, size_t n)
{
    fputs(name, f);
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].value) {
            continue;
        }
        fputs(open ? "," : "{", f);
        open = true;
        fprintf(f, "%s=\"", labels[i].name);
        mqg_prom_escape_label(f, labels[i].value);
        fputc('"', f);
    }
    fputs(open ? "} " : " ", f);
}

void mqg_prom_u64(FILE *f, const char *name, const struct mqg_prom_label *labels, size_t n,
                  uint64_t value)
{
    s_head(f, name, labels, n);
    fprintf(f, "%llu\n", (unsigned long long)value);
}

void mqg_prom_f64(FILE *f, const char *name, const struct mqg_prom_label *labels, size_t n,
                  double value)
{
    s_head(f, name, labels, n);
    if (isnan(value)) {
        fputs("NaN\n", f);
    } else if (isinf(value)) {
        fputs(value > 0 ? "+Inf\n" : "-Inf\n", f);
    } else {
        char buf[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, value);
            if (strtod(buf, NULL) == value) {
                break;
            }
        }
        fprintf(f, "%s\n", buf);
    }
}

bool mqg_prom_name_ok(const char *s, bool label)
{
    if (!s || !*s) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c == ':' && !label);
        if (!alpha && !(p > s && c >= '0' && c <= '9')) {
            return false;
        }
    }
    return true;
}
