/* status_json — status.json (see status_json.h). Numbers of a heartbeat text are written as
 * JSON numbers, anything else as strings. */
#include "status_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mqg_json.h"
#include "mqg_kv.h"
#include "observe.h"

void status_iso_time(int64_t wall_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* {"key":value,...} of a heartbeat text. */
static void s_counters(FILE *f, const struct mqg_kv *kv)
{
    fputc('{', f);
    for (size_t i = 0; i < kv->n; i++) {
        fputs(i ? "," : "", f);
        mqg_json_str(f, kv->items[i].key);
        fputc(':', f);
        if (mqg_kv_is_number(kv->items[i].val)) {
            fputs(kv->items[i].val, f);
        } else {
            mqg_json_str(f, kv->items[i].val);
        }
    }
    fputc('}', f);
}

static void s_process(FILE *f, const struct sup_child *c, int64_t now)
{
    bool live = lifecycle_has_process(c->life.state);
    fputs("{\"role\":", f);
    mqg_json_str(f, c->role);
    fputs(",\"name\":", f);
    mqg_json_str(f, c->key);
    fprintf(f, ",\"state\":\"%s\",\"pid\":", lifecycle_state_name(c->life.state));
    fprintf(f, live ? "%d" : "null", (int)c->pid);
    fputs(",\"uptime_s\":", f);
    fprintf(f, live ? "%lld" : "null", (long long)((now - c->life.started_ms) / 1000));
    fprintf(f, ",\"restarts\":%d,\"last_exit\":", c->life.restart.restarts);
    mqg_json_str(f, c->last_exit[0] ? c->last_exit : NULL);
    fputs(",\"retry_in_s\":", f);
    if (lifecycle_waits(c->life.state)) {
        int64_t left = c->life.due_ms > now ? c->life.due_ms - now : 0;
        fprintf(f, "%lld", (long long)((left + 999) / 1000));
    } else {
        fputs("null", f);
    }
    struct mqg_kv kv;
    mqg_kv_parse(live ? c->status : NULL, &kv);
    fputs(",\"counters\":", f);
    s_counters(f, &kv);
    fputc('}', f);
}

/* ,"journal":{...} of a connection, null when its connector keeps no journal. */
static void s_journal(FILE *f, const struct mqg_kv *kv)
{
    if (!mqg_kv_get(kv, "journal")) {
        fputs(",\"journal\":null", f);
        return;
    }
    fprintf(f,
            ",\"journal\":{\"messages\":%llu,\"bytes\":%llu,\"oldest_age_ms\":%llu,"
            "\"redelivered\":%llu,\"unjournaled\":%llu}",
            (unsigned long long)observe_u64(kv, "journal"),
            (unsigned long long)observe_u64(kv, "journal_bytes"),
            (unsigned long long)observe_u64(kv, "journal_age_ms"),
            (unsigned long long)observe_u64(kv, "redelivered"),
            (unsigned long long)observe_u64(kv, "unjournaled"));
}

static void s_connection(FILE *f, const struct sup *S, const struct sup_child *c, int64_t now)
{
    struct obs_view v;
    observe_view(S, c, now, &v);
    char since[32];
    status_iso_time(v.since_wall_ms, since, sizeof(since));
    fputs("{\"name\":", f);
    mqg_json_str(f, v.conn->key);
    fputs(",\"service\":", f);
    mqg_json_str(f, v.conn->service_id);
    fputs(",\"connection\":", f);
    mqg_json_str(f, v.conn->id);
    fputs(",\"url\":", f);
    mqg_json_str(f, v.conn->uri);
    fprintf(f, ",\"state\":\"%s\",\"since\":\"%s\",\"state_s\":%lld,\"reconnects\":%llu,",
            observe_state_name(v.state), since, (long long)(v.for_ms / 1000),
            (unsigned long long)observe_u64(&v.kv, "reconnects"));
    fputs("\"last_error\":", f);
    mqg_json_str(f, mqg_kv_get(&v.kv, "error"));
    fprintf(f,
            ",\"messages\":{\"in\":%llu,\"out\":%llu,\"dropped\":%llu},"
            "\"bytes\":{\"in\":%llu,\"out\":%llu},\"queued\":%llu,\"held\":%llu,"
            "\"inflight\":%llu",
            (unsigned long long)observe_u64(&v.kv, "rx"),
            (unsigned long long)observe_u64(&v.kv, "out"),
            (unsigned long long)observe_u64(&v.kv, "dropped"),
            (unsigned long long)observe_u64(&v.kv, "rx_bytes"),
            (unsigned long long)observe_u64(&v.kv, "out_bytes"),
            (unsigned long long)observe_u64(&v.kv, "queued"),
            (unsigned long long)observe_u64(&v.kv, "buffered"),
            (unsigned long long)observe_u64(&v.kv, "inflight"));
    s_journal(f, &v.kv);
    fputc('}', f);
}

char *status_json(const struct sup *S, int64_t now, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) {
        return NULL;
    }
    char time_now[32];
    status_iso_time(s_wall_ms(), time_now, sizeof(time_now));
    fputs("{\"instance\":", f);
    mqg_json_str(f, S->set->instance);
    fprintf(f, ",\"pid\":%d,\"uptime_s\":%lld,\"time\":\"%s\",\"processes\":[", (int)getpid(),
            (long long)((now - S->started_ms) / 1000), time_now);
    for (size_t i = 0; i < S->n_ch; i++) {
        fputs(i ? "," : "", f);
        s_process(f, &S->ch[i], now);
    }
    fputs("],\"connections\":[", f);
    bool first = true;
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].conn >= 0) {
            fputs(first ? "" : ",", f);
            first = false;
            s_connection(f, S, &S->ch[i], now);
        }
    }
    fputs("]}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
