/* intake — what arrives from the broker, into the journal (see connector_int.h).
 *
 * paho's message callback (on paho's thread: it appends QoS >= 1 messages to the journal
 * before paho acknowledges them, docs/delivery.md), the journal's set-up with the feed
 * towards the router, and its housekeeping on the main thread. The test hook
 * MQG_TEST_DIE_IN_CALLBACK ends the process inside the callback (it_process).
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
void connector_arrive(void *ctx, struct link_ev *ev)
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

/* Open the journal of this connection (journal on) and make the feed towards the router.
 * Returns 0 or an exit code after a logged error: 78 when the journal's directory cannot be
 * used (a setting to fix), 1 when it is busy (an earlier connector of ours still ends). */
int connector_setup_journal(struct connector *c, int idx)
{
    const struct mqg_model *m = &c->child.model;
    c->keys = calloc(m->n_conns ? m->n_conns : 1, sizeof(*c->keys));
    if (!c->keys) {
        return MQG_EXIT_TRANSIENT;
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        c->keys[i] = m->conns[i].key;
    }
    if (c->child.state_dir[0]) {
        char name[256], dir[sizeof(c->child.state_dir) + 256];
        int rc = s_key_dir(c->child.key, name, sizeof(name));
        struct mqg_journal_opts jo = {.dir = dir,
                                      .max_bytes = (uint64_t)c->child.journal_max_bytes,
                                      .sync = c->child.journal_sync == MQG_SETTINGS_SYNC_ALWAYS
                                                  ? MQG_JOURNAL_SYNC_ALWAYS
                                              : c->child.journal_sync == MQG_SETTINGS_SYNC_INTERVAL
                                                  ? MQG_JOURNAL_SYNC_INTERVAL
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
    }
    size_t maxn = (size_t)c->child.queue_max > (size_t)c->conn->max_buffered
                      ? (size_t)c->child.queue_max
                      : (size_t)c->conn->max_buffered;
    struct feed_opts fo = {.journal = c->journal,
                           .self = (uint16_t)idx,
                           .keys = c->keys,
                           .n_conns = m->n_conns,
                           .max_count = maxn,
                           .max_bytes = c->child.queue_max_bytes,
                           .send = connector_send,
                           .ctx = c,
                           .persist_ms = CONNECTOR_PERSIST_MS};
    return feed_new(&fo, &c->feed) == 0 ? 0 : MQG_EXIT_TRANSIENT;
}

/* The journal's housekeeping: acknowledgements written, the interval sync, JOURNAL-FULL. */
void connector_journal_timers(struct connector *c, int64_t now)
{
    if (!c->journal) {
        return;
    }
    int rc = feed_persist(c->feed, now);
    if (rc < 0) {
        log_warn("JOURNAL-MARKS", "cannot write the journal's marks: %s", strerror(-rc));
    }
    if (c->child.journal_sync == MQG_SETTINGS_SYNC_INTERVAL && now >= c->sync_at) {
        mqg_journal_sync(c->journal);
        c->sync_at = now + c->child.journal_sync_ms;
    }
    if (atomic_exchange(&c->journal_full, false)) {
        log_warn("JOURNAL-FULL",
                 "the journal is full (journal.max_bytes %lld): messages from the broker wait "
                 "up to %d ms each for room, then go on without the journal (counted as "
                 "unjournaled)",
                 c->child.journal_max_bytes, c->child.journal_wait_ms);
    }
}
