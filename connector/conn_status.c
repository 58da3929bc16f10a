/* conn_status — the connector's status text for the supervisor's heartbeat (connector_int.h):
 * the counters, the journal's when there is one, and what `status`, /metrics and /health need
 * (docs/architecture.md §8.1 lists the keys). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "connector_int.h"
#include "mqg_ctl.h"
#include "mqg_kv.h"
#include "mqg_proc.h"

/* Bound of one report of rule counters: well inside the control socket's buffer. */
#define S_RULE_REPORT_MAX 16384

static const char *const s_state_names[] = {"down", "connecting", "subscribing", "up"};

/* What the supervisor's status, /metrics and /health need besides the counters: appended to
 * the status text in buf (mqg_kv; the keys are listed in docs/architecture.md §8.1). */
static void s_status_ops(const struct connector *c, const struct outbox_stats *ob, char *buf,
                         size_t cap)
{
    size_t off = strlen(buf);
    int64_t pings = mqtt_link_pingresps(c->link);
    int n = snprintf(
        buf + off, cap - off, " rx=%llu rx_bytes=%llu out_bytes=%llu overflow=%llu reconnects=%llu",
        (unsigned long long)c->n_rx, (unsigned long long)c->n_rx_bytes,
        (unsigned long long)ob->out_bytes, (unsigned long long)(c->n_dropped_in + ob->overflow),
        (unsigned long long)(c->n_connects ? c->n_connects - 1 : 0));
    off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
    if (pings >= 0 && off < cap - 1) {
        n = snprintf(buf + off, cap - off, " pings=%lld", (long long)pings);
        off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
    }
    if (c->last_error[0] && off + 8 < cap) {
        memcpy(buf + off, " error=", 7);
        mqg_kv_quote(buf + off + 7, cap - off - 7, c->last_error);
    }
}

void conn_status(const void *arg, char *buf, size_t cap)
{
    const struct connector *c = arg;
    struct outbox_stats ob;
    outbox_stats(c->outbox, &ob);
    struct feed_stats fs;
    feed_stats(c->feed, &fs);
    struct link_drops ld;
    mqtt_link_drops(c->link, &ld); /* the rules process's rules; zero for a broker */
    uint64_t rule_drops = ld.not_json + ld.timeout + ld.error;
    int n =
        snprintf(buf, cap,
                 "state=%s in=%llu out=%llu dropped=%llu malformed=%llu queued=%zu "
                 "buffered=%zu inflight=%d invalid=%llu badtopic=%llu toolarge=%llu",
                 s_state_names[c->state], (unsigned long long)c->n_in, (unsigned long long)ob.out,
                 (unsigned long long)(c->n_dropped + ob.dropped + rule_drops),
                 (unsigned long long)c->n_malformed, ob.queued, fs.buffered, ob.inflight,
                 (unsigned long long)c->invalid.total, (unsigned long long)ob.badtopic,
                 (unsigned long long)ob.toolarge);
    if (c->journal && n > 0 && (size_t)n < cap) {
        struct mqg_journal_stats js;
        mqg_journal_stats(c->journal, &js);
        int64_t age = js.oldest_time_ms ? mqg_now_wall_ms() - (int64_t)js.oldest_time_ms : 0;
        snprintf(buf + n, cap - (size_t)n,
                 " journal=%llu journal_bytes=%llu journal_age_ms=%lld redelivered=%llu "
                 "unjournaled=%llu",
                 (unsigned long long)js.records, (unsigned long long)js.bytes,
                 (long long)(age > 0 ? age : 0), (unsigned long long)fs.redelivered,
                 (unsigned long long)c->n_unjournaled);
    }
    if (c->conn->rules_engine && n > 0 && (size_t)n < cap) {
        size_t off = strlen(buf);
        snprintf(buf + off, cap - off,
                 " filtered=%llu rule_notjson=%llu rule_timeout=%llu rule_error=%llu",
                 (unsigned long long)ld.filtered, (unsigned long long)ld.not_json,
                 (unsigned long long)ld.timeout, (unsigned long long)ld.error);
    }
    s_status_ops(c, &ob, buf, cap);
}

/* mqg_rstats_row_fn over the rows taken from the link: keyed by rid. */
static bool s_rule_row(const void *src, size_t i, uint64_t *key, uint64_t row[MQG_RSTATS_FIELDS])
{
    const struct link_rule_row *r = &((const struct link_rule_row *)src)[i];
    *key = r->rid;
    memcpy(row, &r->st, sizeof(r->st));
    return true;
}

void conn_rule_report(struct connector *c)
{
    size_t n = mqtt_link_rule_stats(c->link, c->rule_rows, c->n_rule_rows);
    if (n == 0) {
        return;
    }
    if (n != c->n_rule_rows) { /* the rules started: a reporter for their routes */
        struct link_rule_row *rows = realloc(c->rule_rows, n * sizeof(*rows));
        if (!rows) {
            return;
        }
        c->rule_rows = rows;
        c->n_rule_rows = n;
        mqg_rstats_free(&c->rule_rep);
        if (mqg_rstats_init(&c->rule_rep, n) != 0 ||
            mqtt_link_rule_stats(c->link, c->rule_rows, n) != n) {
            c->n_rule_rows = 0;
            return;
        }
    }
    const uint8_t *body;
    size_t len =
        mqg_rstats_encode_rows(&c->rule_rep, s_rule_row, c->rule_rows, S_RULE_REPORT_MAX, &body);
    int fd = mqg_child_ctl_fd(&c->child);
    if (len && fd >= 0 && mqg_ctl_send(fd, MQG_CTL_RULE_ROUTES, body, len, MSG_DONTWAIT) == 0) {
        mqg_rstats_commit_rows(&c->rule_rep);
    }
}

void conn_rule_report_free(struct connector *c)
{
    mqg_rstats_free(&c->rule_rep);
    free(c->rule_rows);
    c->rule_rows = NULL;
    c->n_rule_rows = 0;
}
