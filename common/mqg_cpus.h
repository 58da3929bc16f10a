/* mqg_cpus — the cpu_affinity setting: which CPUs mqgate's processes run on.
 *
 * "auto" (the default) puts the supervisor, the router and every connector on one CPU, the
 * highest-numbered one the gateway may use. Their threads hand every message on to each other
 * (paho's threads, ZeroMQ's I/O threads, the processes' main loops); on one CPU such a
 * hand-off is a local switch, and work queues up into batches while one thread runs, where
 * across CPUs every hand-off is a cross-CPU wake-up (docs/performance.md measures the
 * difference). With "auto", the rules process (mqgate-rules) runs on the other CPUs when there
 * are any (supervisor/spawn.c). "none" leaves placement to the kernel. A list such as "0,2-3" (as
 * taskset -c) names the CPUs. Pure logic: parsing, resolving against the allowed set, formatting.
 */
#ifndef MQG_CPUS_H
#define MQG_CPUS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

enum mqg_cpus_mode { MQG_CPUS_AUTO = 0, MQG_CPUS_NONE, MQG_CPUS_LIST };

struct mqg_cpus {
    enum mqg_cpus_mode mode;
    cpu_set_t list; /* MQG_CPUS_LIST only */
};

/* "auto", "none" or a list of CPU numbers and ranges ("1", "0,2-3"). Returns 0, or -EINVAL
 * with what is wrong in msg. */
int mqg_cpus_parse(const char *text, struct mqg_cpus *out, char *msg, size_t cap);

/* The CPUs to pin to, given those this process may use now (allowed). Returns 1 with *out
 * set, 0 when nothing is to be changed (none), or -ENXIO when no CPU of the list is allowed. */
int mqg_cpus_resolve(const struct mqg_cpus *c, const cpu_set_t *allowed, cpu_set_t *out);

/* "0,2-3"; "" for an empty set. Truncated to cap. */
void mqg_cpus_format(const cpu_set_t *set, char *buf, size_t cap);

#endif
