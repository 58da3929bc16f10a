/* mqg_error — formatting of configuration errors (see mqg_error.h). */
#include "mqg_error.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int mqg_error_set(struct mqg_error *e, const char *file, int line, int col, const char *setting,
                  const char *fmt, ...)
{
    if (!e) {
        return -EINVAL;
    }
    memset(e, 0, sizeof(*e));
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    e->col = col;
    snprintf(e->setting, sizeof(e->setting), "%s", setting ? setting : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void mqg_error_format(const struct mqg_error *e, char *buf, size_t len)
{
    size_t off = 0;
    int n;
    buf[0] = '\0';
    if (e->file[0]) {
        if (e->line > 0 && e->col > 0) {
            n = snprintf(buf, len, "%s:%d:%d: ", e->file, e->line, e->col);
        } else if (e->line > 0) {
            n = snprintf(buf, len, "%s:%d: ", e->file, e->line);
        } else {
            n = snprintf(buf, len, "%s: ", e->file);
        }
        off = n > 0 && (size_t)n < len ? (size_t)n : strlen(buf);
    }
    if (e->setting[0] && off < len) {
        n = snprintf(buf + off, len - off, "%s: ", e->setting);
        off = n > 0 && (size_t)n < len - off ? off + (size_t)n : strlen(buf);
    }
    if (off < len) {
        snprintf(buf + off, len - off, "%s", e->msg);
    }
}

void mqg_error_print(const struct mqg_error *e, FILE *f)
{
    char buf[1400];
    mqg_error_format(e, buf, sizeof(buf));
    fprintf(f, "mqgate: error: %s\n", buf);
}
