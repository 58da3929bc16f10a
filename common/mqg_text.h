/* mqg_text — text from the input made safe to print: control characters and bytes that are not
 * UTF-8 become C-style escapes.
 *
 * Used wherever mqgate echoes what a user wrote: configuration errors (mqg_error_format) and
 * `mqgate check`'s listing (mqg_model_print, the supervisor's subscription list). A name or a
 * topic holding "\x1b[2J" or a newline must not reach a terminal as such. Pure string logic,
 * no global state.
 *
 * Escapes: "\n", "\r", "\t"; "\xNN" for the other bytes 0x00..0x1f, for 0x7f and for every byte
 * that does not belong to well-formed UTF-8; "\u0080".."\u009f" for the C1 control characters.
 * Everything else, a backslash included, is copied as it is.
 * mqg_text_shown() is the short form for a log line about a message (the connector's drops
 * for a bad topic): bytes only, cut at MQG_TEXT_SHOWN_MAX.
 */
#ifndef MQG_TEXT_H
#define MQG_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* True if s[0..len) prints as it is (needs no escape). */
bool mqg_text_plain(const char *s, size_t len);

/* Write s[0..len) escaped into out (cap bytes; NUL-terminated when cap > 0, cut at a whole
 * escape when it does not fit). Returns the length of the whole escaped text, as snprintf. */
size_t mqg_text_escape(char *out, size_t cap, const char *s, size_t len);

/* Write the NUL-terminated s escaped to f ("(null)" for NULL). */
void mqg_text_fput(const char *s, FILE *f);

/* At most this many bytes of the text are shown by mqg_text_shown(). */
#define MQG_TEXT_SHOWN_MAX 48
/* The room mqg_text_shown() needs, its NUL included. */
#define MQG_TEXT_SHOWN_CAP (4 * MQG_TEXT_SHOWN_MAX + 4)

/* s[0..len) for a log line: printable ASCII as it is, every other byte (a backslash too) as
 * "\xNN", at most MQG_TEXT_SHOWN_MAX bytes of it (then "..."). Writes into out, which has
 * MQG_TEXT_SHOWN_CAP bytes, and returns out. */
const char *mqg_text_shown(const char *s, size_t len, char *out);

/* The value of the n hex digits at s (either case) in *v: true, or false (*v undefined) when
 * one of them is not a hex digit. n <= 7. */
bool mqg_text_hex(const char *s, size_t n, unsigned *v);

/* Length of the well-formed UTF-8 sequence at s[0..len) (2..4), with its code point in *cp, or
 * 0 if the bytes there are not one. s[0] >= 0x80. */
size_t mqg_text_utf8_seq(const unsigned char *s, size_t len, uint32_t *cp);

/* Format a reason for the user into why[0..cap) and return -EINVAL: the one line of the
 * parsers (mqg_url, mqg_jsre) that report why an input is refused. */
int mqg_text_why(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
