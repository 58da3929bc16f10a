/* mqg_prom — writing the Prometheus text exposition format (version 0.0.4).
 *
 * Used by the supervisor's /metrics (supervisor/metrics.c). A metric family is announced once
 * (mqg_prom_family: its # HELP and # TYPE lines), then all its samples follow, one line each,
 * `name{label="value",...} value`. Label values and help texts are escaped as the format asks
 * (label values: \\, \" and \n; help texts: \\ and \n). Metric and label names are the
 * caller's constants and must match [a-zA-Z_:][a-zA-Z0-9_:]* (mqg_prom_name_ok checks one).
 * Pure formatting onto a FILE * (e.g. open_memstream); no state.
 */
#ifndef MQG_PROM_H
#define MQG_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mqg_prom_label {
    const char *name;
    const char *value; /* NULL: the label is left out of this sample */
};

/* "# HELP name help" and "# TYPE name type" (type: "counter", "gauge", ...). */
void mqg_prom_family(FILE *f, const char *name, const char *type, const char *help);

/* One sample with an unsigned integer value. */
void mqg_prom_u64(FILE *f, const char *name, const struct mqg_prom_label *labels, size_t n,
                  uint64_t value);

/* One sample with a floating-point value (NaN, +Inf and -Inf written as the format spells them;
 * otherwise the shortest text that reads back as the same double). */
void mqg_prom_f64(FILE *f, const char *name, const struct mqg_prom_label *labels, size_t n,
                  double value);

/* Write v escaped as a label value (without the quotes). */
void mqg_prom_escape_label(FILE *f, const char *v);

/* Is s a valid metric name (label names: the same without ':')? */
bool mqg_prom_name_ok(const char *s, bool label);

#endif
