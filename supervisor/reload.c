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
#include "mqg_ibroker.h"
#include "mqg_log.h"
#include "mqg_model_plan.h"
#include "mqg_proc.h"
#include "observe.h"
#include "reload_settings.h"
#include "rundir.h"
#include "sup.h"
#include "supervisor.h"

/* How long `mqgate reload` waits for the gateway's answer. */
#define S_ANSWER_MS 15000

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

/* RELOAD-APPLIED (or, when a setting could not be applied, RELOAD-PARTIAL, warn) with the
 * summary as one line. */
static void s_log_applied(const char *sum, bool all)
{
    char line[2048];
    snprintf(line, sizeof(line), "%s", sum);
    s_one_line(line);
    if (all) {
        log_notice("RELOAD-APPLIED", "reload: the new configuration is applied: %s", line);
    } else {
        log_warn("RELOAD-PARTIAL", "reload: the new configuration is applied but for: %s", line);
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

/* The embedded broker a reload retired (mode no longer embedded) stops once the connector of
 * its connection, which may still be delivering to it, has stopped. */
static void s_stop_broker_later(struct sup *S, int64_t now)
{
    struct sup_child *b = sup_broker_child(S);
    if (!b || !b->stop_later || S->stopping) {
        return;
    }
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        if (c->kind == SUP_CONNECTOR && strcmp(c->key, MQG_IB_KEY) == 0 &&
            lifecycle_has_process(c->life.state)) {
            return;
        }
    }
    b->stop_later = false;
    b->kill_at = now + S->set->stop_grace_ms;
    sup_post(S, b, LC_EV_STOP, now);
}

void reload_follow_up(struct sup *S, int64_t now)
{
    s_stop_broker_later(S, now);
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
 * keys point into it, the per-route counters are made for its routes (observe_model). */
static int s_install(struct sup *S, struct mqg_model *next)
{
    struct mqg_model *own = malloc(sizeof(*own));
    if (!own || observe_model(S, next) != 0) {
        free(own);
        return -ENOMEM;
    }
    *own = *next;
    mqg_model_init(next);
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
                            bool handing, bool by_settings)
{
    struct sup_child *c = s_child_of(S, (int)i);
    const char *key = S->model->conns[i].key;
    int64_t grace = S->set->stop_grace_ms;
    if (a == MQG_PLAN_RESTART && c) {
        if (by_settings) {
            log_notice("RELOAD-RESTART",
                       "reload: settings changed: restarting the connector of "
                       "%s",
                       key);
        } else {
            log_notice("RELOAD-RESTART", "reload: connection %s changed: restarting its connector",
                       key);
        }
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
static int s_carry_out(struct sup *S, const struct mqg_model_plan *p, const bool *by_settings)
{
    int64_t now = mqg_now_ms();
    struct sup_child *r = s_child_of(S, -1);
    bool handing = p->router && r && lifecycle_has_process(r->life.state);
    for (size_t i = 0; i < p->n_conns; i++) {
        int rc = s_carry_out_conn(S, i, p->conn[i], now, handing, by_settings[i]);
        if (rc != 0) {
            return rc;
        }
    }
    r = s_child_of(S, -1); /* sup_add_child may have moved the table */
    if (p->router && r) {
        log_notice("RELOAD-ROUTER", "reload: the routes or the router's settings changed: the "
                                    "router hands over to a new one");
        r->handover = lifecycle_has_process(r->life.state);
        r->kill_at = now + S->set->stop_grace_ms + 1000;
        sup_post(S, r, LC_EV_RESTART, now);
    }
    return 0;
}

/* The plan of model m (laid out on the running one), with the restarts the settings need
 * (reload_settings_plan; by_settings: a new array, the connections restarted for them only).
 * The connections' summary into sum when the model changed. 0 or -errno. */
static int s_plan(struct sup *S, struct mqg_model *m, bool model_same, struct reload_settings *rs,
                  struct mqg_model_plan *p, bool **by_settings, char *sum, size_t cap)
{
    int rc = mqg_model_plan(S->model, m, p);
    if (rc != 0) {
        return rc;
    }
    if (!model_same) {
        snprintf(sum, cap,
                 "connections: %zu kept, %zu restarted, %zu started, %zu stopped; router %s\n",
                 p->n_kept, p->n_restarted, p->n_started, p->n_stopped,
                 p->router ? "handed over" : "kept");
    }
    *by_settings = calloc(p->n_conns ? p->n_conns : 1, sizeof(**by_settings));
    if (!*by_settings) {
        return -ENOMEM;
    }
    reload_settings_plan(S, rs, p, *by_settings);
    return 0;
}

/* Apply the valid configuration (set, m; both taken over), of which the model or the settings
 * changed: "applied", "partial" (a setting could not be applied: said in the summary), or
 * "failed" (out of memory: the running configuration stays as far as it was not yet changed).
 * Summary into sum. */
static const char *s_apply(struct sup *S, struct mqg_settings *set, struct mqg_model *m,
                           bool model_same, struct reload_settings *rs, char *sum, size_t cap)
{
    struct mqg_model_plan p = {0};
    bool *by_settings = NULL;
    size_t n_before = S->model->n_conns;
    bool all = true;
    int rc = s_plan(S, m, model_same, rs, &p, &by_settings, sum, cap);
    if (rc == 0 && !model_same) {
        rc = s_install(S, m);
    }
    if (rc == 0 && rs->d.n) {
        size_t n = strlen(sum);
        all = reload_settings_apply(S, set, rs, sum + n, cap - n);
    }
    if (rc == 0) {
        rc = s_carry_out(S, &p, by_settings);
    }
    if (rc == 0) {
        s_tell_kept(S, &p, n_before);
    }
    mqg_model_plan_free(&p);
    free(by_settings);
    if (rc != 0) {
        snprintf(sum, cap, "applying the configuration failed: %s\n", strerror(-rc));
        log_error("RELOAD-FAILED", "reload: %s", sum);
        return "failed";
    }
    s_log_applied(sum, all);
    return all ? "applied" : "partial";
}

/* The outcome of a valid configuration (set, m): refused (settings that cannot change while
 * mqgate runs), unchanged, or applied. */
static void s_judge_valid(struct sup *S, struct mqg_settings *set, struct mqg_model *m)
{
    struct reload_settings rs;
    char sum[2048] = "";
    int v = reload_settings_judge(S, set, &rs, sum, sizeof(sum));
    if (v != RELOAD_SETTINGS_OK) {
        s_write_outcome(S, v == RELOAD_SETTINGS_REFUSED ? "needs-restart" : "failed", sum);
        return;
    }
    bool model_same = s_model_same(S->model, m);
    if (model_same && rs.d.n == 0) {
        log_notice("RELOAD-UNCHANGED", "reload: the configuration is valid and unchanged");
        s_write_outcome(S, "unchanged", "");
        return;
    }
    s_write_outcome(S, s_apply(S, set, m, model_same, &rs, sum, sizeof(sum)), sum);
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
    int rc = S->reload->load(S->reload->arg, &set, &m, ef);
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
    } else if (strcmp(result, "partial") == 0) {
        fprintf(stderr, "mqgate: configuration applied in part: %s", rest ? rest : "\n");
    } else {
        fprintf(stderr, "mqgate: %s", rest && rest[0] ? rest : "the reload failed; see the log\n");
    }
    free(rest);
    return rc;
}
