/* health — the rules of /health (see health.h). */
#include "health.h"

#include "mqg_json.h"

static const char *const s_names[] = {"failed", "config", "disconnected", "stalled"};

const char *health_reason_name(enum health_reason r)
{
    return r <= HEALTH_STALLED ? s_names[r] : "?";
}

/* The problem of one subject, if it has one. */
static bool s_judge(const struct health_subject *s, int64_t disconnected_ms,
                    struct health_problem *p)
{
    *p = (struct health_problem){.who = s};
    if (s->failed) {
        p->why = s->config ? HEALTH_CONFIG : HEALTH_FAILED;
        return true;
    }
    if (!s->is_conn) {
        return false;
    }
    if (!s->connected) {
        p->why = HEALTH_DISCONNECTED;
        p->for_ms = s->for_ms;
        p->limit_ms = disconnected_ms;
        return s->for_ms > disconnected_ms;
    }
    if (s->keepalive_s > 0 && s->idle_ms >= 0) {
        p->why = HEALTH_STALLED;
        p->for_ms = s->idle_ms;
        p->limit_ms = 2 * (int64_t)s->keepalive_s * 1000;
        return s->idle_ms > p->limit_ms;
    }
    return false;
}

size_t health_judge(const struct health_subject *s, size_t n, int64_t disconnected_ms,
                    struct health_problem *out, size_t cap)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        struct health_problem p;
        if (s_judge(&s[i], disconnected_ms, &p)) {
            if (found < cap) {
                out[found] = p;
            }
            found++;
        }
    }
    return found;
}

void health_describe(const struct health_problem *p, char *buf, size_t cap)
{
    const struct health_subject *s = p->who;
    long long for_s = (long long)(p->for_ms / 1000), limit_s = (long long)(p->limit_ms / 1000);
    switch (p->why) {
    case HEALTH_FAILED:
        snprintf(buf, cap, "%s %s is failed: it crashed too often and waits to be tried again",
                 s->role, s->name);
        break;
    case HEALTH_CONFIG:
        snprintf(buf, cap, "%s %s stopped with a configuration error and is not restarted", s->role,
                 s->name);
        break;
    case HEALTH_DISCONNECTED:
        snprintf(buf, cap, "connection %s has not been connected for %lld s (limit %lld s)",
                 s->name, for_s, limit_s);
        break;
    case HEALTH_STALLED:
        snprintf(buf, cap,
                 "connection %s is connected but has moved no message and had no keepalive "
                 "answered for %lld s (limit %lld s: twice its keepalive)",
                 s->name, for_s, limit_s);
        break;
    }
}

void health_json(FILE *f, const struct health_problem *p, size_t n, size_t processes,
                 size_t connections)
{
    fprintf(f, "{\"status\":\"%s\",\"problems\":[", n ? "unhealthy" : "ok");
    for (size_t i = 0; i < n; i++) {
        char text[400];
        health_describe(&p[i], text, sizeof(text));
        fputs(i ? ",{\"role\":" : "{\"role\":", f);
        mqg_json_str(f, p[i].who->role);
        fputs(",\"name\":", f);
        mqg_json_str(f, p[i].who->name);
        fprintf(f, ",\"reason\":\"%s\",\"for_s\":%.3f,\"limit_s\":%.3f,\"text\":",
                health_reason_name(p[i].why), (double)p[i].for_ms / 1000.0,
                (double)p[i].limit_ms / 1000.0);
        mqg_json_str(f, text);
        fputc('}', f);
    }
    fprintf(f, "],\"processes\":%zu,\"connections\":%zu}\n", processes, connections);
}
