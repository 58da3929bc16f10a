/* mqg_cpus — parsing and resolving the cpu_affinity setting (see mqg_cpus.h). */
#include "mqg_cpus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CPU number at *p; advances *p. -1 if there is none or it is too large. */
static long s_cpu_number(const char **p)
{
    if (!isdigit((unsigned char)**p)) {
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(*p, &end, 10);
    *p = end;
    return errno || v >= CPU_SETSIZE ? -1 : v;
}

int mqg_cpus_parse(const char *text, struct mqg_cpus *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(text, "auto") == 0) {
        out->mode = MQG_CPUS_AUTO;
        return 0;
    }
    if (strcmp(text, "none") == 0) {
        out->mode = MQG_CPUS_NONE;
        return 0;
    }
    out->mode = MQG_CPUS_LIST;
    CPU_ZERO(&out->list);
    const char *p = text;
    for (;;) {
        long lo = s_cpu_number(&p);
        long hi = lo;
        if (lo >= 0 && *p == '-') {
            p++;
            hi = s_cpu_number(&p);
        }
        if (lo < 0 || hi < 0 || hi < lo) {
            goto bad;
        }
        for (long i = lo; i <= hi; i++) {
            CPU_SET((int)i, &out->list);
        }
        if (*p == '\0') {
            return 0;
        }
        if (*p != ',') {
            goto bad;
        }
        p++;
    }
bad:
    snprintf(msg, cap,
             "expected \"auto\", \"none\" or CPU numbers and ranges below %d such as "
             "\"0,2-3\", got \"%s\"",
             CPU_SETSIZE, text);
    return -EINVAL;
}

int mqg_cpus_resolve(const struct mqg_cpus *c, const cpu_set_t *allowed, cpu_set_t *out)
{
    CPU_ZERO(out);
    switch (c->mode) {
    case MQG_CPUS_NONE:
        return 0;
    case MQG_CPUS_AUTO:
        for (int i = CPU_SETSIZE - 1; i >= 0; i--) {
            if (CPU_ISSET(i, allowed)) {
                CPU_SET(i, out);
                return 1;
            }
        }
        return 0; /* nothing allowed: leave it to the kernel */
    case MQG_CPUS_LIST:
        CPU_AND(out, &c->list, allowed);
        return CPU_COUNT(out) ? 1 : -ENXIO;
    }
    return 0;
}

void mqg_cpus_format(const cpu_set_t *set, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap) {
        buf[0] = '\0';
    }
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, set)) {
            continue;
        }
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, set)) {
            j++;
        }
        int w = j == i ? snprintf(buf + n, cap - n, "%s%d", n ? "," : "", i)
                       : snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", i, j);
        if (w < 0 || (size_t)w >= cap - n) {
            return;
        }
        n += (size_t)w;
        i = j;
    }
}
