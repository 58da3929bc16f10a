/* health — is the gateway healthy? The rules of /health, as one pure function.
 *
 * Used by ops.c, which describes every child process and every connection as a subject and
 * serves the verdict on /health (200 or 503 with the JSON body health_json writes); tested alone
 * by tests/unit/test_health.c. No I/O, no clock: durations come with the subjects. The rules
 * (docs/architecture.md §8.3):
 *   - a process that is failed (crashed too often) or stopped for a configuration error;
 *   - a connection that has not been connected for longer than `disconnected_ms`;
 *   - a connection that is connected but has neither moved a message nor had a keepalive
 *     answered for longer than twice its keepalive (stalled), when that can be told.
 */
#ifndef SUPERVISOR_HEALTH_H
#define SUPERVISOR_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A child process, or a connection (with its connector process). */
struct health_subject {
    const char *role; /* "router", "connector" */
    const char *name; /* the process's key: "router", or the connection key */
    bool failed;      /* its process is failed, or stopped for a configuration error */
    bool config;      /* ... the latter */
    bool is_conn;     /* a connection: the connection rules apply too */
    bool connected;
    int64_t for_ms;  /* connected: since when; not connected: since it last was (or started) */
    int64_t idle_ms; /* connected: since a message moved or a keepalive was answered; < 0: the
                      * connector cannot tell (no keepalive count), the stall rule is skipped */
    int keepalive_s; /* the connection's keepalive; 0: none, the stall rule is skipped */
};

enum health_reason { HEALTH_FAILED, HEALTH_CONFIG, HEALTH_DISCONNECTED, HEALTH_STALLED };

struct health_problem {
    const struct health_subject *who;
    enum health_reason why;
    int64_t for_ms;   /* how long it has been so (failed: 0, unknown) */
    int64_t limit_ms; /* the rule's limit (failed: 0) */
};

/* Judge subjects s[0..n): at most one problem per subject (a failed process before its
 * connection's state), in the order of the subjects, the first `cap` into out. Returns the
 * number of problems: 0 means healthy. */
size_t health_judge(const struct health_subject *s, size_t n, int64_t disconnected_ms,
                    struct health_problem *out, size_t cap);

/* "failed", "config", "disconnected", "stalled". */
const char *health_reason_name(enum health_reason r);

/* One sentence on p for a log line or the JSON body, into buf (cap bytes). */
void health_describe(const struct health_problem *p, char *buf, size_t cap);

/* The body of /health: {"status":"ok"|"unhealthy","problems":[...],"processes":N,
 * "connections":M} (the child processes and connections judged), each problem with role,
 * name, reason, for_s, limit_s and text. */
void health_json(FILE *f, const struct health_problem *p, size_t n, size_t processes,
                 size_t connections);

#endif
