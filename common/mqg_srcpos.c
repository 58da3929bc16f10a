/* mqg_srcpos — where a name stands on a line of a source file (see mqg_srcpos.h). */
#include "mqg_srcpos.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Reads line `line` (1-based) of file into buf; false if the file or line cannot be read. */
static bool s_read_line(const char *file, int line, char *buf, size_t cap)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        return false;
    }
    bool ok = false;
    int n = 1;
    while (fgets(buf, (int)cap, f)) {
        size_t len = strlen(buf);
        bool whole = len > 0 && buf[len - 1] == '\n';
        if (n == line) {
            ok = true;
            break;
        }
        if (whole) {
            n++;
        }
    }
    fclose(f);
    return ok;
}

static bool s_is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '*';
}

/* 0-based offset of `name` as a whole word in text, or -1. */
static int s_find_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    if (n == 0) {
        return -1;
    }
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        bool start_ok = p == text || !s_is_name_char(p[-1]);
        if (start_ok && !s_is_name_char(p[n])) {
            return (int)(p - text);
        }
    }
    return -1;
}

int mqg_srcpos_find(const char *file, int line, const char *name, char *buf, size_t cap)
{
    if (!name || line <= 0 || cap == 0 || !s_read_line(file, line, buf, cap)) {
        return -1;
    }
    return s_find_word(buf, name);
}

int mqg_srcpos_col(const char *file, int line, const char *name)
{
    char buf[4096];
    int off = mqg_srcpos_find(file, line, name, buf, sizeof(buf));
    return off < 0 ? 1 : off + 1;
}
