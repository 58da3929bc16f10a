/* reload_settings — the settings part of a reload (see reload_settings.h). */
#include "reload_settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "lifecycle.h"
#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "ops.h"
#include "sup.h"

/* How long connectors starting after a reload restarted the broker wait for it at most (the
 * router's handover, up to 2.5 s, comes first). */
#define S_BROKER_HOLD_MS 10000

/* Append to buf (cap bytes, NUL-terminated). */
static void s_add(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_add(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

int reload_settings_judge(struct sup *S, const struct mqg_settings *next,
                          struct reload_settings *rs, char *out, size_t cap)
{
    memset(rs, 0, sizeof(*rs));
    mqg_settings_diff(S->set, next, &rs->d);
    char names[512];
    if (rs->d.how & MQG_SD_REFUSED) {
        mqg_settings_diff_names(&rs->d, MQG_SD_REFUSED, names, sizeof(names));
        snprintf(out, cap,
                 "not applied: %s cannot change while mqgate runs (they name the running "
                 "instance, its lock, its runtime directory and its journals); restart mqgate "
                 "to apply them; nothing of this reload is applied, the running configuration "
                 "stays\n",
                 names);
        log_warn("RELOAD-NEEDS-RESTART",
                 "reload: %s changed, which cannot change while mqgate runs: restart mqgate to "
                 "apply; nothing of this reload is applied",
                 names);
        return RELOAD_SETTINGS_REFUSED;
    }
    const struct mqg_ib_settings *ib = &next->internal_broker;
    if ((rs->d.how & MQG_SD_BROKER) && ib->mode == MQG_IB_EMBEDDED &&
        sup_broker_check(ib, &S->set->internal_broker, rs->broker_exe, sizeof(rs->broker_exe)) !=
            0) {
        snprintf(out, cap,
                 "not applied: the internal broker cannot run with the new internal_broker "
                 "settings (see the log: BROKER-*); nothing of this reload is applied, the "
                 "running configuration stays\n");
        log_error("RELOAD-FAILED", "reload: the new internal_broker settings cannot be used; "
                                   "nothing of this reload is applied");
        return RELOAD_SETTINGS_FAILED;
    }
    return RELOAD_SETTINGS_OK;
}

void reload_settings_plan(struct sup *S, struct reload_settings *rs, struct mqg_model_plan *p,
                          bool *by_settings)
{
    if (rs->d.how & MQG_SD_CONNECTORS) {
        for (size_t i = 0; i < S->n_ch; i++) {
            const struct sup_child *c = &S->ch[i];
            if (c->kind != SUP_CONNECTOR || c->retire || (size_t)c->conn >= p->n_conns ||
                !lifecycle_has_process(c->life.state)) {
                continue;
            }
            if (p->conn[c->conn] == MQG_PLAN_KEEP) {
                p->conn[c->conn] = MQG_PLAN_RESTART;
                by_settings[c->conn] = true;
            }
            rs->n_connectors += p->conn[c->conn] == MQG_PLAN_RESTART;
        }
    }
    if (rs->d.how & MQG_SD_ROUTER) {
        p->router = true;
        rs->router = true;
    }
}

/* log.file: the new file (or standard error) from now on, for the supervisor's lines and the
 * copies of the children's. 0 or -errno (the old one stays). */
static int s_switch_log(struct sup *S, const char *path)
{
    if (!path || !path[0]) {
        mqg_log_init("supervisor", S->set->instance, mqg_log_threshold, 2);
        if (S->log_fd != 2) {
            close(S->log_fd);
        }
        S->log_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -errno;
    }
    if (S->log_fd == 2) {
        S->log_fd = fd;
        mqg_log_init("supervisor", S->set->instance, mqg_log_threshold, fd);
        return 0;
    }
    int rc = dup3(fd, S->log_fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* log.level: the supervisor's at once, every running child's by a control message (one
 * started later gets it on its command line). */
static void s_log_level(struct sup *S, int level)
{
    mqg_log_threshold = level;
    uint8_t body = (uint8_t)level;
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        if (lifecycle_has_process(c->life.state) && c->ctl_fd >= 0 &&
            mqg_ctl_send(c->ctl_fd, MQG_CTL_LOG_LEVEL, &body, 1, MSG_DONTWAIT) != 0) {
            log_warn("RELOAD-LOG-LEVEL",
                     "%s %s not told the new log level (its control channel "
                     "is full): it gets it when it restarts",
                     c->role, c->key);
        }
    }
}

/* The settings the supervisor applies itself that need a resource: log.file and http.listen.
 * One that fails keeps the running value in next (so that a later reload tries it again) and
 * is said in bad (cap bytes). Returns false then. */
static bool s_resources(struct sup *S, struct mqg_settings *next, char *bad, size_t cap)
{
    const struct mqg_settings *old = S->set; /* the running settings (copied from, if need be) */
    bool ok = true;
    char why[300];
    if (strcmp(old->log_file ? old->log_file : "", next->log_file ? next->log_file : "") != 0) {
        int rc = s_switch_log(S, next->log_file);
        if (rc != 0) {
            log_error("RELOAD-LOG-FILE",
                      "reload: cannot open the log file %s: %s; writing on to "
                      "the old one",
                      next->log_file, strerror(-rc));
            s_add(bad, cap, "%slog.file: cannot open %s: %s, the old log stays", bad[0] ? "; " : "",
                  next->log_file, strerror(-rc));
            char *keep = old->log_file ? strdup(old->log_file) : NULL;
            free(next->log_file);
            next->log_file = keep;
            ok = false;
        }
    }
    if (strcmp(old->http_listen ? old->http_listen : "",
               next->http_listen ? next->http_listen : "") != 0 &&
        ops_reopen(S, next, why, sizeof(why)) != 0) {
        char where[300];
        snprintf(where, sizeof(where), "%s%s", old->http_listen ? "still serving on " : "",
                 old->http_listen ? old->http_listen : "not serving /metrics and /health");
        log_error("HTTP-LISTEN", "reload: http.listen %s: %s; %s", next->http_listen, why, where);
        s_add(bad, cap, "%shttp.listen: cannot listen on %s: %s, %s", bad[0] ? "; " : "",
              next->http_listen, why, where);
        char *l = old->http_listen ? strdup(old->http_listen) : NULL;
        char *h = old->http_host ? strdup(old->http_host) : NULL;
        free(next->http_listen);
        free(next->http_host);
        next->http_listen = l;
        next->http_host = h;
        next->http_port = old->http_port;
        ok = false;
    }
    return ok;
}

/* The embedded broker after the settings changed (S->set: the new ones): restarted with its new
 * mosquitto.conf, started (mode embedded now) or stopped (mode embedded no more); the
 * connectors starting meanwhile (its connection's, restarted by the model's plan) wait until
 * it runs. Returns what was done, for the summary. */
static const char *s_broker(struct sup *S, struct reload_settings *rs, enum mqg_ib_mode was)
{
    int64_t now = mqg_now_ms();
    bool emb = S->set->internal_broker.mode == MQG_IB_EMBEDDED;
    struct sup_child *b = sup_broker_child(S);
    if (emb && !b) {
        if (sup_add_broker(S, rs->broker_exe) != 0) {
            log_error("RELOAD-FAILED", "reload: cannot start the internal broker: out of memory");
            return NULL;
        }
        S->broker_hold_until = now + S_BROKER_HOLD_MS;
        log_notice("RELOAD-BROKER", "reload: internal_broker.mode is embedded: starting the "
                                    "internal broker");
        return "internal broker started";
    }
    if (!b) {
        return was == MQG_IB_EMBEDDED ? "internal broker stopped" : "applied";
    }
    if (!emb) {
        log_notice("RELOAD-BROKER",
                   "reload: internal_broker.mode is %s: stopping the internal "
                   "broker",
                   mqg_ibroker_mode_name(S->set->internal_broker.mode));
        b->retire = true;
        b->stop_later = true; /* after its connection's connector (reload_follow_up) */
        b->kill_at = 0;
        return "internal broker stopped";
    }
    log_notice("RELOAD-BROKER", "reload: internal_broker changed: restarting the internal broker "
                                "with its new configuration");
    snprintf(b->exe, sizeof(b->exe), "%s", rs->broker_exe);
    S->broker_hold_until = now + S_BROKER_HOLD_MS;
    b->kill_at = now + S->set->stop_grace_ms;
    b->retire = false; /* an earlier reload may have retired it */
    b->stop_later = false;
    if (b->life.state == LC_STOPPING) {
        b->revive = true; /* started again once stopped (sup_compact) */
    } else if (lifecycle_has_process(b->life.state)) {
        sup_post(S, b, LC_EV_RESTART, now);
    } else if (b->life.state == LC_CONFIG || b->life.state == LC_STOPPED) {
        sup_revive(S, b);
    }
    return "internal broker restarted";
}

/* The summary of the settings: what was applied in place, what was restarted for what. */
static void s_summary(const struct reload_settings *rs, const char *broker, const char *bad,
                      char *sum, size_t cap)
{
    char names[600];
    const struct mqg_settings_diff *d = &rs->d;
    s_add(sum, cap, "settings:");
    const char *sep = " ";
    if (mqg_settings_diff_names(d, MQG_SD_IN_PLACE, names, sizeof(names))) {
        s_add(sum, cap, "%s%s applied", sep, names);
        sep = "; ";
    }
    if (mqg_settings_diff_names(d, MQG_SD_CONNECTORS, names, sizeof(names))) {
        s_add(sum, cap, "%s%s: %zu connector%s restarted", sep, names, rs->n_connectors,
              rs->n_connectors == 1 ? "" : "s");
        sep = "; ";
    }
    if (mqg_settings_diff_names(d, MQG_SD_ROUTER, names, sizeof(names))) {
        s_add(sum, cap, "%s%s: router handed over", sep, names);
        sep = "; ";
    }
    if (mqg_settings_diff_names(d, MQG_SD_ALL, names, sizeof(names))) {
        s_add(sum, cap, "%s%s: %zu connector%s restarted, router handed over", sep, names,
              rs->n_connectors, rs->n_connectors == 1 ? "" : "s");
        sep = "; ";
    }
    if (mqg_settings_diff_names(d, MQG_SD_BROKER, names, sizeof(names))) {
        s_add(sum, cap, "%s%s: %s", sep, names, broker ? broker : "failed");
        sep = "; ";
    }
    if (mqg_settings_diff_names(d, MQG_SD_MODEL, names, sizeof(names))) {
        s_add(sum, cap, "%s%s: applied to the internal broker's connection", sep, names);
        sep = "; ";
    }
    if (bad[0]) {
        s_add(sum, cap, "%sNOT applied: %s", sep, bad);
    }
    s_add(sum, cap, "\n");
}

bool reload_settings_apply(struct sup *S, struct mqg_settings *next, struct reload_settings *rs,
                           char *sum, size_t cap)
{
    const struct mqg_settings *old = S->set;
    char bad[700] = "";
    bool ok = s_resources(S, next, bad, sizeof(bad));
    struct mqg_settings *own = malloc(sizeof(*own));
    if (!own) {
        s_add(sum, cap, "settings: not applied: out of memory\n");
        return false;
    }
    *own = *next;
    memset(next, 0, sizeof(*next));
    enum mqg_ib_mode was = old->internal_broker.mode;
    bool journal_on = own->journal_enabled && !old->journal_enabled;
    S->set = own;
    if (S->own_set) {
        mqg_settings_free(S->own_set);
        free(S->own_set);
    }
    S->own_set = own;
    if (own->log_level != mqg_log_threshold) {
        s_log_level(S, own->log_level);
    }
    sup_set_policy(S); /* restart.*: from each child's next end on */
    if (journal_on && sup_state_dir(S) != 0) {
        s_add(bad, sizeof(bad),
              "%sjournal.enabled: the state directory cannot be used (see the "
              "log: STATE-DIR), the connectors run without the journal",
              bad[0] ? "; " : "");
        ok = false;
    }
    const char *broker = (rs->d.how & MQG_SD_BROKER) ? s_broker(S, rs, was) : "";
    ok = ok && broker;
    s_summary(rs, broker, bad, sum, cap);
    return ok;
}
