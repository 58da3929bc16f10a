/* conn_journal — the connector's journal (docs/delivery.md; connector_int.h): opening it in
 * the state directory, paho's callback that writes every QoS >= 1 message into it before
 * paho acknowledges it, and the test-only hook that ends the process inside that callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connector_int.h"
#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_settings.h"
#include "mqg_topic.h"

static void s_test_die(struct connector *c);

/* paho's callback (paho's thread): every QoS >= 1 message with a valid topic goes into the
 * journal before paho acknowledges it to the broker. A full journal holds the message (and
 * so the broker) up to journal.full_wait_ms, then lets it go on untracked. Never fails. */
void conn_journal_arrive(void *ctx, struct link_ev *ev)
{
    struct connector *c = ctx;
    bool tracked =
        c->journal && ev->qos > 0 && !mqg_topic_name_fault(ev->topic, ev->topic_len, false, NULL);
    long nth = tracked && c->die_at ? atomic_fetch_add(&c->die_count, 1) + 1 : 0;
    if (nth == c->die_at && !c->die_after && nth) {
        s_test_die(c);
    }
    if (!tracked) {
        return;
    }
    uint8_t flags = ev->retain ? MQG_WIRE_F_RETAIN : 0;
    int64_t deadline = mqg_now_ms() + c->child.journal_wait_ms;
    for (;;) {
        int rc = mqg_journal_append(c->journal, flags, (uint8_t)ev->qos, ev->topic, ev->topic_len,
                                    ev->payload, ev->payload_len, &ev->seq);
        if (rc == 0) {
            break;
        }
        int64_t left = deadline - mqg_now_ms();
        if ((rc != -ENOSPC && rc != -EDQUOT) || left <= 0) {
            ev->seq = 0;
            ev->unjournaled = true;
            break;
        }
        atomic_store(&c->journal_full, true);
        mqg_journal_wait_space(c->journal, left > 100 ? 100 : (int)left);
    }
    if (nth == c->die_at && c->die_after && nth) {
        s_test_die(c);
    }
}

/* A connection key as one path component: letters, digits, '-', '_' and '.' as they are,
 * every other byte as %XX ("plantbridge/plant" -> "plantbridge%2Fplant"). */
static int s_key_dir(const char *key, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
                     (*p == '.' && p != (const unsigned char *)key);
        if (n + (plain ? 1 : 3) >= cap) {
            return -ENAMETOOLONG;
        }
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

/* The test-only hook (MQG_TEST_DIE_IN_CALLBACK=<n>:<before|after>): on the n-th tracked
 * message, inside paho's callback, before or after it was journaled, the process ends as if
 * killed; once per state directory (<state_dir>/die-hook-fired). */
static void s_test_hook_init(struct connector *c)
{
    const char *v = getenv("MQG_TEST_DIE_IN_CALLBACK");
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (n > 0 && *end == ':' && c->journal) {
        c->die_at = n;
        c->die_after = strcmp(end + 1, "after") == 0;
    }
}

static void s_test_die(struct connector *c)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/die-hook-fired", c->child.state_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return; /* fired before */
    }
    close(fd);
    _exit(1);
}

int conn_journal_open(struct connector *c)
{
    char name[256], dir[sizeof(c->child.state_dir) + 256];
    int rc = s_key_dir(c->child.key, name, sizeof(name));
    struct mqg_journal_opts jo = {
        .dir = dir,
        .max_bytes = (uint64_t)c->child.journal_max_bytes,
        .sync = c->child.journal_sync == MQG_SETTINGS_SYNC_ALWAYS     ? MQG_JOURNAL_SYNC_ALWAYS
                : c->child.journal_sync == MQG_SETTINGS_SYNC_INTERVAL ? MQG_JOURNAL_SYNC_INTERVAL
                                                                      : MQG_JOURNAL_SYNC_NONE};
    snprintf(dir, sizeof(dir), "%s/%s", c->child.state_dir, name);
    if (rc == 0) {
        rc = mqg_journal_open(&jo, &c->journal);
    }
    if (rc != 0) {
        log_error("JOURNAL-OPEN", "cannot open the journal in %s: %s", dir, strerror(-rc));
        return rc == -EBUSY || rc == -ENOMEM ? MQG_EXIT_TRANSIENT : MQG_EXIT_CONFIG;
    }
    struct mqg_journal_stats js;
    mqg_journal_stats(c->journal, &js);
    log_info("JOURNAL-OPEN", "journal %s: %llu unconfirmed messages (%llu bytes)", dir,
             (unsigned long long)js.records, (unsigned long long)js.bytes);
    s_test_hook_init(c);
    return 0;
}

/* ---- a reload ---- */

void conn_journal_update(struct connector *c)
{
    struct mqg_model *m = c->child.update;
    c->child.update = NULL;
    bool same = m->n_conns >= c->n_keys;
    for (size_t i = 0; same && i < c->n_keys; i++) {
        same = strcmp(c->keys[i], m->conns[i].key) == 0;
    }
    const char **keys = same && m->n_conns > c->n_keys ? calloc(m->n_conns, sizeof(*keys)) : NULL;
    for (size_t i = 0; keys && i < m->n_conns; i++) {
        keys[i] = m->conns[i].key;
    }
    if (!keys || !c->feed || feed_set_keys(c->feed, keys, m->n_conns) != 0) {
        if (!same) {
            log_warn("CONN-UPDATE", "a reload's model does not keep this connector's indices: "
                                    "ignored");
        }
        free(keys);
        mqg_model_free(m);
        free(m);
        return;
    }
    log_info("CONN-UPDATE", "a reload added connections: %zu known now (was %zu)", m->n_conns,
             c->n_keys);
    free(c->keys);
    c->keys = keys;
    c->n_keys = m->n_conns;
    if (c->keys_model) {
        mqg_model_free(c->keys_model);
        free(c->keys_model);
    }
    c->keys_model = m;
}
