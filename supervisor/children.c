/* children — the supervisor's table of child records (see sup.h): made at set-up, grown by a
 * reload (records for added connections; the table and the poll set are realloc'ed), shrunk
 * between turns of the loop (records a reload retired, once their process ended).
 *
 * Nothing keeps a pointer into S->ch across these: the broker's record is looked up by its
 * kind (sup_broker_child), the others by their connection (reload.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"
#include "mqg_ctl.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_restart.h"
#include "sup.h"

void sup_close_child_fds(struct sup_child *c)
{
    if (c->ctl_fd >= 0) {
        close(c->ctl_fd);
        c->ctl_fd = -1;
    }
    if (c->log_fd >= 0) {
        close(c->log_fd);
        c->log_fd = -1;
    }
    mqg_ctl_free(&c->ctl);
}

struct sup_child *sup_broker_child(const struct sup *S)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].kind == SUP_BROKER) {
            return &S->ch[i];
        }
    }
    return NULL;
}

static struct mqg_restart_policy s_policy(const struct mqg_settings *set)
{
    return (struct mqg_restart_policy){
        .backoff_ms = set->restart_backoff_ms,
        .backoff_max_ms = set->restart_backoff_max_ms,
        .max = set->restart_max,
        .window_ms = (int64_t)set->restart_window_s * 1000,
        .failed_retry_ms = (int64_t)set->restart_failed_retry_s * 1000,
        .stable_after_ms = (int64_t)set->stable_after_s * 1000,
    };
}

int sup_revive(struct sup *S, struct sup_child *c)
{
    const struct mqg_restart_policy policy = s_policy(S->set);
    lifecycle_free(&c->life);
    c->revive = false;
    return lifecycle_init(&c->life, &policy, mqg_seed() ^ (uint64_t)(c - S->ch));
}

/* A new record at S->ch[S->n_ch], which has room, waiting to be started now: the embedded
 * broker when broker_exe is not NULL (conn -1), else connection conn's connector or, for
 * conn -1, the router. 0 or -errno. */
static int s_child_init(struct sup *S, int conn, const char *broker_exe)
{
    const struct mqg_restart_policy policy = s_policy(S->set);
    struct sup_child *c = &S->ch[S->n_ch];
    memset(c, 0, sizeof(*c));
    c->ctl_fd = c->log_fd = -1;
    c->conn = broker_exe ? -1 : conn;
    if (broker_exe) {
        c->kind = SUP_BROKER;
        c->role = "broker";
        c->key = "internal-broker";
        snprintf(c->exe, sizeof(c->exe), "%s", broker_exe);
    } else {
        char exedir[4096];
        if (mqg_exe_dir(exedir, sizeof(exedir)) != 0) {
            return -EIO;
        }
        c->kind = conn < 0 ? SUP_ROUTER : SUP_CONNECTOR;
        /* the rules process is a connector whose broker is the rule engine (docs/rules.md) */
        bool rules = conn >= 0 && S->model->conns[conn].rules_engine;
        c->role = conn < 0 ? "router" : rules ? "rules" : "connector";
        c->key = conn < 0 ? "router" : S->model->conns[conn].key;
        snprintf(c->exe, sizeof(c->exe), "%s/mqgate-%s", exedir, c->role);
        if (access(c->exe, X_OK) != 0) {
            log_error("CHILD-MISSING", "%s not found next to mqgate", c->exe);
            return -ENOENT;
        }
    }
    uint64_t salt = broker_exe ? 0xb4u : (uint64_t)S->n_ch;
    if (lifecycle_init(&c->life, &policy, mqg_seed() ^ salt) != 0) {
        return -ENOMEM;
    }
    S->n_ch++; /* so that the clean-up frees what was made, also after a failure */
    return 0;
}

/* Room for n children in the table and the poll set. 0 or -ENOMEM. */
static int s_child_room(struct sup *S, size_t n)
{
    struct sup_child *ch = realloc(S->ch, (n ? n : 1) * sizeof(*ch));
    if (!ch) {
        return -ENOMEM;
    }
    S->ch = ch;
    struct pollfd *pfd = realloc(S->pfd, (3 + 2 * n) * sizeof(*pfd));
    if (!pfd) {
        return -ENOMEM;
    }
    S->pfd = pfd;
    return 0;
}

int sup_add_child(struct sup *S, int conn)
{
    int rc = s_child_room(S, S->n_ch + 1);
    return rc ? rc : s_child_init(S, conn, NULL);
}

int sup_add_broker(struct sup *S, const char *exe)
{
    int rc = s_child_room(S, S->n_ch + 1);
    return rc ? rc : s_child_init(S, -1, exe);
}

void sup_set_policy(struct sup *S)
{
    const struct mqg_restart_policy policy = s_policy(S->set);
    for (size_t i = 0; i < S->n_ch; i++) {
        if (mqg_restart_set_policy(&S->ch[i].life.restart, &policy) != 0) {
            log_warn("RELOAD-POLICY", "%s %s keeps its restart policy: out of memory",
                     S->ch[i].role, S->ch[i].key);
        }
    }
}

void sup_compact(struct sup *S)
{
    size_t n = 0;
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        if (c->revive && !c->retire && !S->stopping && c->life.state == LC_STOPPED) {
            sup_revive(S, c); /* a reload added it back while it stopped: start it again */
        }
        if (c->retire && !lifecycle_has_process(c->life.state)) {
            sup_close_child_fds(c);
            lifecycle_free(&c->life);
            continue;
        }
        if (n != i) {
            S->ch[n] = *c;
        }
        n++;
    }
    S->n_ch = n;
}

int sup_setup_children(struct sup *S, const char *broker_exe)
{
    if (s_child_room(S, S->model->n_conns + 2) != 0) {
        return -ENOMEM;
    }
    int rc = broker_exe ? s_child_init(S, -1, broker_exe) : 0;
    if (rc == 0) {
        rc = s_child_init(S, -1, NULL);
    }
    for (size_t i = 0; rc == 0 && i < S->model->n_conns; i++) {
        const struct mqg_connection *conn = &S->model->conns[i];
        if (!conn->target_connected) {
            log_info("CONN-DISABLED",
                     "connection %s has targetState disconnected: not "
                     "started",
                     conn->key);
            continue;
        }
        rc = s_child_init(S, (int)i, NULL);
    }
    return rc;
}
