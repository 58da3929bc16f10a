/* mqg_settings_diff — the settings a reload finds changed, by class (see mqg_settings_diff.h).
 *
 * The class of each setting is a column of the table that describes the settings
 * (mqg_settings_desc.h), so a new setting cannot go without one; internal_broker.* are
 * classed here by the broker's mode (s_ib).
 */
#include "mqg_settings_diff.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mqg_settings_desc.h"

static bool s_str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool s_cpus_same(const struct mqg_cpus *a, const struct mqg_cpus *b)
{
    return a->mode == b->mode && (a->mode != MQG_CPUS_LIST || CPU_EQUAL(&a->list, &b->list));
}

static void s_note(struct mqg_settings_diff *d, bool changed, const char *name,
                   enum mqg_sd_class how)
{
    if (changed && d->n < MQG_SD_MAX) {
        d->change[d->n++] = (struct mqg_sd_change){.name = name, .how = how};
        d->how |= (unsigned)how;
    }
}

static bool s_listeners_same(const struct mqg_ib_settings *a, const struct mqg_ib_settings *b)
{
    bool same = a->n_listeners == b->n_listeners;
    for (size_t i = 0; same && i < a->n_listeners; i++) {
        const struct mqg_ib_listener *x = &a->listeners[i], *y = &b->listeners[i];
        same = s_str_same(x->host, y->host) && x->port == y->port &&
               s_str_same(x->cafile, y->cafile) && s_str_same(x->certfile, y->certfile) &&
               s_str_same(x->keyfile, y->keyfile) &&
               x->require_certificate == y->require_certificate;
    }
    return same;
}

/* internal_broker. A changed mode is the one change noted (class broker when it is embedded
 * before or after: the broker starts or stops; else model: the connection goes, comes or
 * changes), whatever else changed with it. In the same mode: what makes mosquitto.conf (class
 * broker) when embedded, what makes the external broker's connection (class model: the
 * model's plan restarts that connection) when external; nothing when off. */
static void s_ib(struct mqg_settings_diff *d, const struct mqg_ib_settings *a,
                 const struct mqg_ib_settings *b)
{
    if (a->mode != b->mode) {
        bool emb = a->mode == MQG_IB_EMBEDDED || b->mode == MQG_IB_EMBEDDED;
        s_note(d, true, "internal_broker.mode", emb ? MQG_SD_BROKER : MQG_SD_MODEL);
        return;
    }
    bool emb = a->mode == MQG_IB_EMBEDDED;
    bool ext = a->mode == MQG_IB_EXTERNAL;
    s_note(d,
           emb && (!s_str_same(a->listen_host, b->listen_host) || a->listen_port != b->listen_port),
           "internal_broker.listen", MQG_SD_BROKER);
    s_note(d, emb && !s_listeners_same(a, b), "internal_broker.listeners", MQG_SD_BROKER);
    s_note(d, emb && !s_str_same(a->mosquitto, b->mosquitto), "internal_broker.mosquitto",
           MQG_SD_BROKER);
    s_note(d, emb && !s_str_same(a->password_file, b->password_file),
           "internal_broker.password_file", MQG_SD_BROKER);
    s_note(d, ext && !s_str_same(a->url, b->url), "internal_broker.url", MQG_SD_MODEL);
    s_note(d,
           ext && (!s_str_same(a->username, b->username) || !s_str_same(a->password, b->password)),
           "internal_broker.username/password", MQG_SD_MODEL);
    s_note(d,
           ext && (!s_str_same(a->ca_cert, b->ca_cert) ||
                   !s_str_same(a->client_cert, b->client_cert) ||
                   !s_str_same(a->client_key, b->client_key) || a->trust_all != b->trust_all),
           "internal_broker TLS", MQG_SD_MODEL);
}

/* Whether a and b hold the same value of the setting d describes. */
static bool s_same(const struct mqg_setting_desc *d, const struct mqg_settings *a,
                   const struct mqg_settings *b)
{
    const char *x = (const char *)a + d->off, *y = (const char *)b + d->off;
    switch (d->kind) {
    case K_INT:
    case K_LEVEL:
    case K_SYNC:
        return *(const int *)x == *(const int *)y;
    case K_U32:
        return *(const uint32_t *)x == *(const uint32_t *)y;
    case K_I64:
        return *(const long long *)x == *(const long long *)y;
    case K_BOOL:
        return *(const bool *)x == *(const bool *)y;
    case K_CPUS:
        return s_cpus_same((const struct mqg_cpus *)x, (const struct mqg_cpus *)y);
    case K_IB_MODE:
    case K_IB_LISTEN:
        return true; /* class 0: s_ib */
    default:         /* the strings */
        return s_str_same(*(char *const *)x, *(char *const *)y);
    }
}

void mqg_settings_diff(const struct mqg_settings *a, const struct mqg_settings *b,
                       struct mqg_settings_diff *d)
{
    memset(d, 0, sizeof(*d));
    size_t n;
    const struct mqg_setting_desc *t = mqg_settings_descs(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].how) {
            s_note(d, !s_same(&t[i], a, b), t[i].path, (enum mqg_sd_class)t[i].how);
        }
    }
    s_ib(d, &a->internal_broker, &b->internal_broker);
}

size_t mqg_settings_diff_names(const struct mqg_settings_diff *d, enum mqg_sd_class how, char *out,
                               size_t cap)
{
    size_t n = 0, off = 0;
    if (cap) {
        out[0] = '\0';
    }
    for (size_t i = 0; i < d->n; i++) {
        if (d->change[i].how != how) {
            continue;
        }
        int w = snprintf(out + off, cap > off ? cap - off : 0, "%s%s", n ? ", " : "",
                         d->change[i].name);
        off = w > 0 && off + (size_t)w < cap ? off + (size_t)w : off;
        n++;
    }
    return n;
}
