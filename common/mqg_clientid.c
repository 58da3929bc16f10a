/* mqg_clientid — default client ids (see mqg_clientid.h). */
#include "mqg_clientid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqg_proc.h"

/* Readable part of a default id: 23 minus '-' and 8 hex digits. */
#define S_PREFIX_MAX (MQG_CLIENT_ID_DEFAULT_MAX - 9)

/* First line of path, without trailing blanks, into out; 0 when not empty, else -errno. */
static int s_first_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return -errno;
    }
    int rc = fgets(out, (int)cap, f) ? 0 : -ENODATA;
    fclose(f);
    if (rc == 0) {
        out[strcspn(out, "\r\n")] = '\0';
        size_t n = strlen(out);
        while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t')) {
            out[--n] = '\0';
        }
        rc = n ? 0 : -ENODATA;
    }
    if (rc != 0) {
        out[0] = '\0';
    }
    return rc;
}

int mqg_clientid_machine(char *out, size_t cap)
{
    if (cap == 0) {
        return -ENOSPC;
    }
    if (s_first_line("/etc/machine-id", out, cap) == 0 ||
        s_first_line("/var/lib/dbus/machine-id", out, cap) == 0) {
        return 0;
    }
    if (gethostname(out, cap) != 0) {
        out[0] = '\0';
        return -errno;
    }
    out[cap - 1] = '\0';
    return 0;
}

static uint64_t s_hash_field(uint64_t h, const char *s)
{
    h = mqg_fnv1a64(s, strlen(s), h);
    return mqg_fnv1a64("\n", 1, h);
}

int mqg_clientid_default(const char *machine, const char *instance, const char *sid,
                         const char *cid, char *out, size_t cap)
{
    if (cap <= MQG_CLIENT_ID_DEFAULT_MAX) {
        return -ENOSPC;
    }
    uint64_t h = MQG_FNV64_INIT;
    h = s_hash_field(h, machine);
    h = s_hash_field(h, instance);
    h = s_hash_field(h, sid);
    h = mqg_fnv1a64(cid, strlen(cid), h);
    uint32_t folded = (uint32_t)(h >> 32) ^ (uint32_t)h;
    char prefix[S_PREFIX_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%s-%s", sid, cid);
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '-') {
        prefix[--n] = '\0';
    }
    snprintf(out, cap, "%s-%08x", prefix, (unsigned)folded);
    return 0;
}

int mqg_clientid_apply(struct mqg_model *m, const char *machine, const char *instance)
{
    for (size_t i = 0; i < m->n_conns; i++) {
        struct mqg_connection *c = &m->conns[i];
        if (!c->client_id_derived) {
            continue;
        }
        char id[MQG_CLIENT_ID_DEFAULT_MAX + 1];
        mqg_clientid_default(machine, instance, c->service_id, c->id, id, sizeof(id));
        char *copy = strdup(id);
        if (!copy) {
            return -ENOMEM;
        }
        free(c->client_id);
        c->client_id = copy;
    }
    return 0;
}
