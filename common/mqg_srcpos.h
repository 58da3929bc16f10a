/* mqg_srcpos — where a name stands on a line of a source file (for error columns).
 *
 * Used by the settings reader: libconfig reports the line of a setting but not its column,
 * so the column is found by reading that line again. Reads the file; no state.
 */
#ifndef MQG_SRCPOS_H
#define MQG_SRCPOS_H

#include <stddef.h>

/* 1-based column of `name` as a whole word (letters, digits, '_', '-', '*' around it are
 * not word boundaries) on line `line` (1-based) of `file`; 1 when the file, the line or the
 * name cannot be found or name is NULL. Lines longer than 4095 bytes are searched in their
 * first 4095 bytes. */
int mqg_srcpos_col(const char *file, int line, const char *name);

/* Read line `line` (1-based) of `file` into buf (cap bytes, NUL-terminated, the newline kept)
 * and find `name` there as a whole word: its 0-based offset in buf, or -1 when the file, the
 * line or the name is not there. */
int mqg_srcpos_find(const char *file, int line, const char *name, char *buf, size_t cap);

#endif
