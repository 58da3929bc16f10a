/* mqg_error — one configuration error: where it is and what was expected.
 *
 * Used by every configuration reader (commissioning YAML, libconfig settings, command line).
 * A reader fills the first error it meets and stops; the caller prints it with
 * mqg_error_print() and exits with MQG_EXIT_CONFIG. No allocation: fixed-size buffers.
 */
#ifndef MQG_ERROR_H
#define MQG_ERROR_H

#include <stdio.h>

/* Exit codes shared by all mqgate processes (see DESIGN.md, STYLE.md). */
#define MQG_EXIT_OK 0
#define MQG_EXIT_TRANSIENT 1
#define MQG_EXIT_USAGE 2
#define MQG_EXIT_INTERNAL 70
#define MQG_EXIT_CONFIG 78

struct mqg_error {
    char file[512];    /* file name as given by the user; "" = command line */
    int line;          /* 1-based; 0 = unknown */
    int col;           /* 1-based; 0 = unknown */
    char setting[256]; /* dotted path, e.g. "resources.conn.properties.connection.port" */
    char msg[512];     /* what is wrong and what was expected */
};

/* Fill *e (if e is not NULL). file/setting may be NULL. Always returns -EINVAL so callers can
 * write `return mqg_error_set(...)`. */
int mqg_error_set(struct mqg_error *e, const char *file, int line, int col, const char *setting,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Format as "FILE:LINE:COL: SETTING: MSG" (parts that are unknown are left out) into buf.
 * Control characters and bytes that are not UTF-8 in FILE, SETTING and MSG are written as
 * escapes ("\x01", "\n", see mqg_text.h), so what the user wrote cannot reach the terminal
 * raw. */
void mqg_error_format(const struct mqg_error *e, char *buf, size_t len);

/* Print the formatted error plus a newline to f, prefixed with "mqgate: error: ". */
void mqg_error_print(const struct mqg_error *e, FILE *f);

#endif
