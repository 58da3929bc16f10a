/* reload — SIGHUP and `mqgate reload` (see reload.h). */
#include "reload.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lifecycle.h"
#include "mqg_ctl.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_model_plan.h"
#include "mqg_proc.h"
#include "rundir.h"
#include "sup.h"
#include "supervisor.h"

/* How long `mqgate reload` waits for the gateway's answer. */
#define S_ANSWER_MS 15000

static bool s_str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether the internal broker's settings are the same (a change is not applied: the embedded
 * broker runs on, and its connection in the model stays as it was; s_reload_load in main.c). */
static bool s_ib_same(const struct mqg_ib_settings *a, const struct mqg_ib_settings *b)
{
    bool same = a->mode == b->mode && s_str_same(a->listen_host, b->listen_host) &&
                a->listen_port == b->listen_port && s_str_same(a->mosquitto, b->mosquitto) &&
                s_str_same(a->password_file, b->password_file) && s_str_same(a->url, b->url) &&
                s_str_same(a->username, b->username) && s_str_same(a->password, b->password) &&
                s_str_same(a->ca_cert, b->ca_cert) && s_str_same(a->client_cert, b->client_cert) &&
                s_str_same(a->client_key, b->client_key) && a->trust_all == b->trust_all &&
                a->n_listeners == b->n_listeners;
    for (size_t i = 0; same && i < a->n_listeners; i++) {
        const struct mqg_ib_listener *x = &a->listeners[i], *y = &b->listeners[i];
        same = s_str_same(x->host, y->host) && x->port == y->port &&
               s_str_same(x->cafile, y->cafile) && s_str_same(x->certfile, y->certfile) &&
               s_str_same(x->keyfile, y->keyfile) &&
               x->require_certificate == y->require_certificate;
    }
    return same;
}

/* Whether the settings that shape the running gateway are the same (the services are in the
 * model). */
static bool s_settings_same(const struct mqg_settings *a, const struct mqg_settings *b)
{
    bool strs =
        s_str_same(a->instance, b->instance) && s_str_same(a->runtime_dir, b->runtime_dir) &&
        s_str_same(a->log_file, b->log_file) && s_str_same(a->http_listen, b->http_listen) &&
        s_str_same(a->state_dir, b->state_dir);
    bool ints =
        a->log_level == b->log_level && a->restart_backoff_ms == b->restart_backoff_ms &&
        a->restart_backoff_max_ms == b->restart_backoff_max_ms &&
        a->restart_max == b->restart_max && a->restart_window_s == b->restart_window_s &&
        a->restart_failed_retry_s == b->restart_failed_retry_s &&
        a->stable_after_s == b->stable_after_s && a->heartbeat_ms == b->heartbeat_ms &&
        a->heartbeat_misses == b->heartbeat_misses && a->stop_grace_ms == b->stop_grace_ms &&
        a->outbound_queue_max == b->outbound_queue_max &&
        a->outbound_queue_max_bytes == b->outbound_queue_max_bytes &&
        a->max_inflight == b->max_inflight && a->router_queue_max == b->router_queue_max &&
        a->router_queue_max_bytes == b->router_queue_max_bytes &&
        a->http_disconnected_s == b->http_disconnected_s &&
        a->journal_enabled == b->journal_enabled && a->journal_max_bytes == b->journal_max_bytes &&
        a->journal_sync == b->journal_sync && a->journal_sync_ms == b->journal_sync_ms &&
        a->journal_full_wait_ms == b->journal_full_wait_ms;
    return strs && ints && s_ib_same(&a->internal_broker, &b->internal_broker) &&
           memcmp(&a->cpu_affinity, &b->cpu_affinity, sizeof(a->cpu_affinity)) == 0;
}

/* Whether two models are the same: their encodings (everything the children get) are. */
static bool s_model_same(const struct mqg_model *a, const struct mqg_model *b)
{
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    bool same = mqg_model_encode(a, &ea, &la) == 0 && mqg_model_encode(b, &eb, &lb) == 0 &&
                la == lb && memcmp(ea, eb, la) == 0;
    free(ea);
    free(eb);
    return same;
}

/* The errors as one log line: newlines as "; ". */
static void s_one_line(char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n') {
        s[--n] = '\0';
    }
    for (char *p = s; *p; p++) {
        *p = *p == '\n' ? ';' : *p;
    }
}

static void s_write_outcome(struct sup *S, const char *result, const char *errs)
{
    char path[700], tmp[720];
    snprintf(path, sizeof(path), "%s/reload", S->rd.dir);
    snprintf(tmp, sizeof(tmp), "%s/reload.tmp", S->rd.dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return;
    }
    fprintf(f, "mqgate-reload %llu %s\n%s", (unsigned long long)++S->reload_gen, result,
            errs ? errs : "");
    if (fclose(f) == 0) {
        rename(tmp, path);
    } else {
        unlink(tmp);
    }
}

/* ---- applying a changed model ---- */

/* The record of connection conn (-1: the router), or NULL. Never the embedded broker's (its
 * conn is -1 too): a reload does not touch it. */
static struct sup_child *s_child_of(struct sup *S, int conn)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].conn == conn && S->ch[i].kind != SUP_BROKER) {
            return &S->ch[i];
        }
    }
    return NULL;
}

/* Start c again with the new model: restarted when it runs (once the router's handover ended
 * when handing is set: reload_follow_up); started afresh when it has no process and would not
 * start by itself (config, stopped); when it is stopping (removed by an earlier reload), once it
 * stopped. 0 or -ENOMEM. */
static int s_start_again(struct sup *S, struct sup_child *c, int64_t now, bool handing)
{
    c->retire = false;
    switch (c->life.state) {
    case LC_CONFIG:
    case LC_STOPPED:
        return sup_revive(S, c);
    case LC_STOPPING:
        c->revive = true;
        return 0;
    default:
        if (handing) {
            c->after_handover = true;
            return 0;
        }
        c->kill_at = now + S->set->stop_grace_ms;
        sup_post(S, c, LC_EV_RESTART, now);
        return 0;
    }
}

/* Is the router being handed over (its old process still runs)? */
static bool s_handing_over(const struct sup *S)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].handover) {
            return true;
        }
    }
    return false;
}

void reload_follow_up(struct sup *S, int64_t now)
{
    if (s_handing_over(S)) {
        return;
    }
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        if (c->after_handover) {
            c->after_handover = false;
            if (!S->stopping && lifecycle_has_process(c->life.state)) {
                c->kill_at = now + S->set->stop_grace_ms;
                sup_post(S, c, LC_EV_RESTART, now);
            }
        }
    }
}

/* Install next (laid out by mqg_model_plan; taken over) as the running model: the children's
 * keys point into it, the per-route counters start again for its routes. */
static int s_install(struct sup *S, struct mqg_model *next)
{
    struct mqg_model *own = malloc(sizeof(*own));
    struct mqg_route_stats *rs = calloc(next->n_routes ? next->n_routes : 1, sizeof(*rs));
    if (!own || !rs) {
        free(own);
        free(rs);
        return -ENOMEM;
    }
    *own = *next;
    mqg_model_init(next);
    free(S->route_stats);
    S->route_stats = rs;
    S->model = own;
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].conn >= 0) {
            S->ch[i].key = own->conns[S->ch[i].conn].key;
        }
    }
    if (S->own_model) {
        mqg_model_free(S->own_model);
        free(S->own_model);
    }
    S->own_model = own;
    return 0;
}

/* Connection i's process as the plan says (RELOAD-RESTART, RELOAD-STOP, RELOAD-START); handing:
 * the router is handed over (a running connector restarts after that). */
static int s_carry_out_conn(struct sup *S, size_t i, enum mqg_plan_action a, int64_t now,
                            bool handing)
{
    struct sup_child *c = s_child_of(S, (int)i);
    const char *key = S->model->conns[i].key;
    int64_t grace = S->set->stop_grace_ms;
    if (a == MQG_PLAN_RESTART && c) {
        log_notice("RELOAD-RESTART", "reload: connection %s changed: restarting its connector",
                   key);
        return s_start_again(S, c, now, handing);
    } else if (a == MQG_PLAN_STOP && c) {
        log_notice("RELOAD-STOP",
                   "reload: connection %s removed or disconnected: its connector stops after "
                   "delivering what it holds",
                   key);
        c->retire = true;
        c->revive = false;
        c->after_handover = false;
        c->kill_at = now + grace;
        sup_post(S, c, LC_EV_STOP, now);
    } else if (a == MQG_PLAN_START) {
        log_notice("RELOAD-START", "reload: connection %s added: starting its connector", key);
        if (c) {
            return s_start_again(S, c, now, handing);
        }
        return sup_add_child(S, (int)i);
    }
    return 0;
}

/* Connections were added (the model had n_before): the connectors that run on get the new
 * model, of which they take only the added connections' keys (their marks are kept by key;
 * connector conn_journal_update). Not sent (the channel is full): they do without. */
static void s_tell_kept(struct sup *S, const struct mqg_model_plan *p, size_t n_before)
{
    for (size_t i = 0; p->n_conns > n_before && i < p->n_conns; i++) {
        struct sup_child *c = s_child_of(S, (int)i);
        uint8_t *blob = NULL;
        size_t len = 0;
        if (p->conn[i] != MQG_PLAN_KEEP || !c || !lifecycle_has_process(c->life.state) ||
            mqg_model_encode_for(S->model, c->conn, &blob, &len) != 0) {
            continue;
        }
        if (mqg_ctl_send(c->ctl_fd, MQG_CTL_CONFIG, blob, len, MSG_DONTWAIT) != 0) {
            log_debug("RELOAD-TELL", "connector %s not told of the added connections", c->key);
        }
        free(blob);
    }
}

/* Carry the plan out on the children: connections first, then the router's handover (the old
 * router delivers and has confirmed what it holds, then the new one starts with the new
 * model). Changed connectors that run are restarted only after the handover
 * (reload_follow_up): stopped during it, a source could miss the old router's releases. */
static int s_carry_out(struct sup *S, const struct mqg_model_plan *p)
{
    int64_t now = mqg_now_ms();
    struct sup_child *r = s_child_of(S, -1);
    bool handing = p->router && r && lifecycle_has_process(r->life.state);
    for (size_t i = 0; i < p->n_conns; i++) {
        int rc = s_carry_out_conn(S, i, p->conn[i], now, handing);
        if (rc != 0) {
            return rc;
        }
    }
    r = s_child_of(S, -1); /* sup_add_child may have moved the table */
    if (p->router && r) {
        log_notice("RELOAD-ROUTER",
                   "reload: the routes changed: the router hands over to a new one");
        r->handover = lifecycle_has_process(r->life.state);
        r->kill_at = now + S->set->stop_grace_ms + 1000;
        sup_post(S, r, LC_EV_RESTART, now);
    }
    return 0;
}

/* Apply the valid, changed model m (taken over): "applied", or "failed" (out of memory: the
 * running configuration stays as far as it was not yet changed). Summary into sum. */
static const char *s_apply(struct sup *S, struct mqg_model *m, char *sum, size_t cap)
{
    struct mqg_model_plan p;
    size_t n_before = S->model->n_conns;
    int rc = mqg_model_plan(S->model, m, &p);
    if (rc == 0) {
        snprintf(
            sum, cap, "connections: %zu kept, %zu restarted, %zu started, %zu stopped; router %s\n",
            p.n_kept, p.n_restarted, p.n_started, p.n_stopped, p.router ? "handed over" : "kept");
        rc = s_install(S, m);
    }
    if (rc == 0) {
        rc = s_carry_out(S, &p);
    }
    if (rc == 0) {
        s_tell_kept(S, &p, n_before);
    }
    mqg_model_plan_free(&p);
    if (rc != 0) {
        snprintf(sum, cap, "applying the configuration failed: %s\n", strerror(-rc));
        log_error("RELOAD-FAILED", "reload: %s", sum);
        return "failed";
    }
    log_notice("RELOAD-APPLIED", "reload: the new configuration is applied: %s", sum);
    return "applied";
}

/* The outcome of a valid configuration (set, m): unchanged, or the model applied; changed
 * settings are not applied (RELOAD-SETTINGS-KEPT). */
static void s_judge_valid(struct sup *S, struct mqg_settings *set, struct mqg_model *m)
{
    bool model_same = s_model_same(S->model, m);
    bool set_same = s_settings_same(S->set, set);
    char sum[512] = "";
    const char *result = "unchanged";
    if (!model_same) {
        result = s_apply(S, m, sum, sizeof(sum));
    }
    if (!set_same) {
        size_t n = strlen(sum);
        snprintf(sum + n, sizeof(sum) - n,
                 "settings changed in mqgate.cfg are not applied by a reload: restart mqgate "
                 "to apply them\n");
        log_warn("RELOAD-SETTINGS-KEPT",
                 "reload: changed settings (mqgate.cfg) are not applied by a reload; the "
                 "running ones stay until mqgate restarts");
        result = strcmp(result, "failed") == 0 ? result : "settings-kept";
    } else if (model_same) {
        log_notice("RELOAD-UNCHANGED", "reload: the configuration is valid and unchanged");
    }
    s_write_outcome(S, result, sum);
}

void reload_run(struct sup *S)
{
    if (!S->reload || S->stopping) {
        return;
    }
    char *errs = NULL;
    size_t elen = 0;
    FILE *ef = open_memstream(&errs, &elen);
    if (!ef) {
        return;
    }
    struct mqg_settings set;
    struct mqg_model m;
    int rc = S->reload->load(S->reload->arg, &S->set->internal_broker, &set, &m, ef);
    fclose(ef);
    if (rc != 0) {
        s_write_outcome(S, "invalid", errs);
        s_one_line(errs);
        log_error("RELOAD-INVALID",
                  "reload: the configuration is rejected, the running one stays: %s", errs);
    } else {
        s_judge_valid(S, &set, &m);
        mqg_model_free(&m);
        mqg_settings_free(&set);
    }
    free(errs);
}

/* ---- mqgate reload ---- */

/* The outcome file's generation (0: none yet), its result word and the rest (heap text). */
static uint64_t s_read_outcome(const char *path, char *result, size_t cap, char **rest)
{
    FILE *f = fopen(path, "r");
    unsigned long long gen = 0;
    char word[32] = "";
    if (!f) {
        return 0;
    }
    if (fscanf(f, "mqgate-reload %llu %31s", &gen, word) != 2) {
        gen = 0;
    }
    snprintf(result, cap, "%s", word);
    if (rest) {
        size_t n = 0, len = 0;
        char *buf = NULL;
        fgetc(f); /* the newline */
        FILE *out = open_memstream(&buf, &len);
        char chunk[4096];
        while (out && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            fwrite(chunk, 1, n, out);
        }
        if (out) {
            fclose(out);
        }
        *rest = buf;
    }
    fclose(f);
    return gen;
}

int supervisor_reload(const struct mqg_settings *s)
{
    char dir[512], path[700], result[32];
    pid_t pid;
    uid_t uid;
    if (supervisor_instance_dir(s, dir, sizeof(dir)) != 0) {
        return MQG_EXIT_USAGE;
    }
    if (rundir_lock_holder(s, &pid, &uid) != 0) {
        fprintf(stderr, "mqgate: instance '%s' is not running: nothing to reload\n", s->instance);
        return MQG_EXIT_TRANSIENT;
    }
    snprintf(path, sizeof(path), "%s/reload", dir);
    uint64_t before = s_read_outcome(path, result, sizeof(result), NULL);
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "mqgate: cannot signal the gateway (pid %d): %s\n", (int)pid,
                strerror(errno));
        return MQG_EXIT_TRANSIENT;
    }
    char *rest = NULL;
    int64_t until = mqg_now_ms() + S_ANSWER_MS;
    while (s_read_outcome(path, result, sizeof(result), NULL) == before) {
        if (mqg_now_ms() > until) {
            fprintf(stderr,
                    "mqgate: the gateway (pid %d) did not answer within %d s; see "
                    "its log\n",
                    (int)pid, S_ANSWER_MS / 1000);
            return MQG_EXIT_TRANSIENT;
        }
        usleep(50000);
    }
    s_read_outcome(path, result, sizeof(result), &rest);
    int rc = MQG_EXIT_TRANSIENT;
    if (strcmp(result, "invalid") == 0) {
        fprintf(stderr, "%smqgate: the new configuration is rejected; the running one stays\n",
                rest ? rest : "");
        rc = MQG_EXIT_CONFIG;
    } else if (strcmp(result, "unchanged") == 0) {
        printf("configuration unchanged\n");
        rc = MQG_EXIT_OK;
    } else if (strcmp(result, "applied") == 0) {
        printf("configuration applied: %s", rest ? rest : "\n");
        rc = MQG_EXIT_OK;
    } else {
        fprintf(stderr, "mqgate: %s", rest && rest[0] ? rest : "the reload failed; see the log\n");
    }
    free(rest);
    return rc;
}
