/* mqg_error — formatting of configuration errors (see mqg_error.h). The file name, setting
 * path and message may hold what the user wrote: they are printed escaped (mqg_text). */
#include "mqg_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "mqg_text.h"

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

/* Append text to buf (len bytes) at *off, escaped (mqg_text: it may hold what the user wrote). */
static void s_put(char *buf, size_t len, size_t *off, const char *text, bool escape)
{
    if (*off + 1 >= len) {
        return;
    }
    size_t room = len - *off;
    size_t n = escape ? mqg_text_escape(buf + *off, room, text, strlen(text))
                      : (size_t)snprintf(buf + *off, room, "%s", text);
    *off += n < room ? n : strlen(buf + *off);
}

void mqg_error_format(const struct mqg_error *e, char *buf, size_t len)
{
    char pos[32];
    size_t off = 0;
    if (len == 0) {
        return;
    }
    buf[0] = '\0';
    if (e->file[0]) {
        s_put(buf, len, &off, e->file, true);
        if (e->line > 0 && e->col > 0) {
            snprintf(pos, sizeof(pos), ":%d:%d: ", e->line, e->col);
        } else if (e->line > 0) {
            snprintf(pos, sizeof(pos), ":%d: ", e->line);
        } else {
            snprintf(pos, sizeof(pos), ": ");
        }
        s_put(buf, len, &off, pos, false);
    }
    if (e->setting[0]) {
        s_put(buf, len, &off, e->setting, true);
        s_put(buf, len, &off, ": ", false);
    }
    s_put(buf, len, &off, e->msg, true);
}

void mqg_error_print(const struct mqg_error *e, FILE *f)
{
    char buf[1400];
    mqg_error_format(e, buf, sizeof(buf));
    fprintf(f, "mqgate: error: %s\n", buf);
}
