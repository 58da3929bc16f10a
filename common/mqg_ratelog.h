/* mqg_ratelog — how often a problem that repeats at any rate is logged.
 *
 * The first occurrence of a series is logged at WARN with its details; later ones at DEBUG,
 * and at most one WARN summary per interval counts them ("N more in the last 60 s"). After an
 * interval without any, the next one starts a new series. Pure logic: the caller passes the
 * time and writes the lines. Used by the connector for messages it must drop (bad topics,
 * packets too large), which a broker or a mapping can produce by the thousand per second,
 * and (mqg_ratelog_tally) for its queue overflows.
 */
#ifndef MQG_RATELOG_H
#define MQG_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

struct mqg_ratelog {
    int64_t interval_ms;
    int64_t last_ms;     /* when the last WARN line (detail or summary) was due */
    uint64_t total;      /* occurrences counted */
    uint64_t unreported; /* occurrences since the last WARN line */
    bool started;        /* a WARN line was due at least once */
};

void mqg_ratelog_init(struct mqg_ratelog *r, int64_t interval_ms);

/* Count one occurrence at now (ms). True: log it at WARN in detail (the first of a series);
 * false: at DEBUG, a later summary counts it. */
bool mqg_ratelog_hit(struct mqg_ratelog *r, int64_t now);

/* When a summary is due at now — occurrences not yet reported, and an interval passed since
 * the last WARN line — returns how many (and counts them as reported); otherwise 0. Call it
 * now and then (every loop turn is fine). */
uint64_t mqg_ratelog_summary(struct mqg_ratelog *r, int64_t now);

/* For drops logged by count rather than by time (queue overflows, which the log line counts
 * so far): adds n to *count; true when a line is due, at the first drop and each time *count
 * passes a multiple of MQG_RATELOG_TALLY. */
#define MQG_RATELOG_TALLY 10000
bool mqg_ratelog_tally(uint64_t *count, uint64_t n);

#endif
