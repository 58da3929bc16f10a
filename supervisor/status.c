/* status — the status file of a running gateway, and `mqgate status`, which checks and
 * prints it.
 *
 * status_write() is called by supervisor.c every 0.5 s and writes two files: `status` (a table
 * of the processes, then one of the connections) and `status.json` (status_json.c, the same
 * for scripts); supervisor_status() (supervisor.h) runs in the `mqgate status` process and only
 * reads: the files, and the instance lock to tell a gateway whose file is missing from one
 * that is not running. See docs/architecture.md §8.
 */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mqg_error.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "observe.h"
#include "rundir.h"
#include "status_json.h"
#include "supervisor.h"

/* How old the status file may be before `mqgate status` calls it out of date. */
#define S_STATUS_STALE_S 10

static size_t s_n_conns(const struct sup *S)
{
    size_t n = 0;
    for (size_t i = 0; i < S->n_ch; i++) {
        n += S->ch[i].conn >= 0;
    }
    return n;
}

/* After a blank line, the table of the connections: one row each (observe.c). */
static void s_connections_text(FILE *f, const struct sup *S, int64_t now)
{
    fprintf(f, "\n%-32s %-12s %-20s %10s %10s %10s %10s %8s %8s %8s  %s %s\n", "CONNECTION",
            "STATE", "SINCE", "RECONNECTS", "IN", "OUT", "DROPPED", "QUEUED", "HELD", "JOURNAL",
            "URL", "LAST-ERROR");
    for (size_t i = 0; i < S->n_ch; i++) {
        if (S->ch[i].conn < 0) {
            continue;
        }
        struct obs_view v;
        observe_view(S, &S->ch[i], now, &v);
        char since[32];
        status_iso_time(v.since_wall_ms, since, sizeof(since));
        const char *err = mqg_kv_get(&v.kv, "error");
        const char *journal = mqg_kv_get(&v.kv, "journal"); /* absent: the journal is off */
        fprintf(f, "%-32s %-12s %-20s %10llu %10llu %10llu %10llu %8llu %8llu %8s  %s %s\n",
                v.conn->key, observe_state_name(v.state), since,
                (unsigned long long)observe_u64(&v.kv, "reconnects"),
                (unsigned long long)observe_u64(&v.kv, "rx"),
                (unsigned long long)observe_u64(&v.kv, "out"),
                (unsigned long long)observe_u64(&v.kv, "dropped"),
                (unsigned long long)observe_u64(&v.kv, "queued"),
                (unsigned long long)observe_u64(&v.kv, "buffered"), journal ? journal : "-",
                v.conn->uri, err && *err ? err : "-");
    }
}

/* The status text into a heap buffer (caller frees), or NULL when out of memory. The header
 * counts the process rows and the connection rows, so that a reader can tell a complete file
 * from a cut one. A child waiting for its (re)start shows when that is due instead of
 * counters. */
static char *s_status_text(const struct sup *S, int64_t now, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) {
        return NULL;
    }
    size_t n_conns = s_n_conns(S);
    fprintf(f, "instance %s pid %d uptime %llds processes %zu connections %zu\n", S->set->instance,
            (int)getpid(), (long long)((now - S->started_ms) / 1000), S->n_ch, n_conns);
    fprintf(f, "%-10s %-32s %-8s %-7s %8s %8s  %-16s %s\n", "ROLE", "NAME", "STATE", "PID",
            "UPTIME", "RESTARTS", "LAST-EXIT", "COUNTERS");
    for (size_t i = 0; i < S->n_ch; i++) {
        const struct sup_child *c = &S->ch[i];
        char up[32] = "-";
        char pid[16] = "-";
        char next[40] = "";
        bool live = lifecycle_has_process(c->life.state);
        if (live) {
            snprintf(up, sizeof(up), "%llds", (long long)((now - c->life.started_ms) / 1000));
            snprintf(pid, sizeof(pid), "%d", (int)c->pid);
        } else if (lifecycle_waits(c->life.state)) {
            int64_t left = c->life.due_ms > now ? c->life.due_ms - now : 0;
            snprintf(next, sizeof(next), "(retry in %llds)", (long long)((left + 999) / 1000));
        }
        fprintf(f, "%-10s %-32s %-8s %-7s %8s %8d  %-16s %s\n", c->role, c->key,
                lifecycle_state_name(c->life.state), pid, up, c->life.restart.restarts,
                c->last_exit[0] ? c->last_exit : "-", live ? c->status : next);
    }
    if (n_conns) {
        s_connections_text(f, S, now);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Write text (NULL: out of memory) to <dir>/<name>.tmp and rename it over <dir>/<name>,
 * checking every step: a reader sees the old file or the new one, never a part of one, and a
 * failed write (disk full) keeps the old file. Returns 0 or -errno; path: the file's path. */
static int s_replace(const char *dir, const char *name, const char *text, size_t len, char *path,
                     size_t cap)
{
    char tmp[720];
    snprintf(path, cap, "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    int rc = text ? 0 : -ENOMEM;
    if (rc == 0) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = fd < 0 ? -errno : mqg_write_all(fd, text, len);
        if (fd >= 0 && close(fd) != 0 && rc == 0) {
            rc = -errno;
        }
        if (rc == 0 && rename(tmp, path) != 0) {
            rc = -errno;
        }
        if (rc != 0 && fd >= 0) {
            unlink(tmp);
        }
    }
    return rc;
}

/* Write the status file and status.json; a failure of either keeps the old files and is
 * logged as described in status.h. */
void status_write(struct sup *S, int64_t now)
{
    char path[700], json_path[700];
    size_t len = 0, json_len = 0;
    char *text = s_status_text(S, now, &len);
    char *json = status_json(S, now, &json_len);
    int rc = s_replace(S->rd.dir, "status", text, len, path, sizeof(path));
    int rc_json = s_replace(S->rd.dir, "status.json", json, json_len, json_path, sizeof(json_path));
    if (rc == 0 && rc_json != 0) {
        rc = rc_json;
        snprintf(path, sizeof(path), "%s", json_path);
    }
    free(text);
    free(json);
    if (rc != 0 && S->status_err == 0) {
        log_warn("STATUS-WRITE",
                 "cannot write the status file %s: %s; it keeps its last content, which "
                 "`mqgate status` reports as out of date after %d s",
                 path, strerror(-rc), S_STATUS_STALE_S);
    } else if (rc != 0) {
        log_debug("STATUS-WRITE", "cannot write the status file %s: %s", path, strerror(-rc));
    } else if (S->status_err != 0) {
        log_notice("STATUS-OK", "status file %s is written again", path);
    }
    S->status_err = rc;
}

/* Read the whole status file (at most 1 MiB) into a heap buffer. 0 or -errno. */
static int s_read_status(FILE *f, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= (1u << 20)) {
            break;
        }
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        int e = buf ? EIO : ENOMEM;
        free(buf);
        return -e;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Why the status file cannot be opened, for the user: 1. */
static int s_status_unreadable(const struct mqg_settings *s, const char *dir, const char *path,
                               int e)
{
    pid_t holder;
    uid_t holder_uid;
    struct stat st;
    if (e == ENOENT && rundir_lock_holder(s, &holder, &holder_uid) == 0) {
        fprintf(stderr,
                "mqgate: instance '%s' is running (pid %d) but its status file %s is missing; "
                "it is written every 0.5 s: try again (if the runtime directory was removed, "
                "see RUNDIR-GONE / RUNDIR in its log)\n",
                s->instance, (int)holder, path);
    } else if (e == ENOENT) {
        fprintf(stderr, "mqgate: instance '%s' is not running (no %s)\n", s->instance, path);
    } else if (e == EACCES || e == EPERM) {
        char owner[64] = "";
        if (stat(dir, &st) == 0) {
            snprintf(owner, sizeof(owner), ", owned by uid %u,", (unsigned)st.st_uid);
        }
        fprintf(stderr,
                "mqgate: permission denied: cannot read %s (%s); the runtime directory %s%s "
                "is readable only by the user running the gateway: run mqgate status as that "
                "user or as root\n",
                path, strerror(e), dir, owner);
    } else {
        fprintf(stderr, "mqgate: cannot read the status file %s: %s\n", path, strerror(e));
    }
    return MQG_EXIT_TRANSIENT;
}

/* Check what was read: a header with a live pid, and exactly the rows it announces, each line
 * complete. Returns 0, or 1 after printing why not. */
static int s_status_check(const struct mqg_settings *s, const char *path, const char *text,
                          size_t len)
{
    char name[128];
    int pid = 0;
    long long up = 0;
    size_t rows = 0, conns = 0, lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    if (len == 0) {
        fprintf(stderr,
                "mqgate: the status file %s is empty: the gateway could not write it (disk "
                "full?); see STATUS-WRITE in its log\n",
                path);
        return MQG_EXIT_TRANSIENT;
    }
    int got =
        sscanf(text, "instance %127s pid %d uptime %llds processes %zu", name, &pid, &up, &rows);
    if (got >= 2 && (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))) {
        fprintf(stderr, "mqgate: instance '%s' is not running (stale %s)\n", s->instance, path);
        return MQG_EXIT_TRANSIENT;
    }
    bool legacy = got == 3 && !strstr(text, " processes "); /* mqgate <= 0.1.0: no count */
    const char *c = strstr(text, " connections "); /* mqgate <= 0.1.0: no connection table */
    if (got == 4 && c && c < strchr(text, '\n') && sscanf(c, " connections %zu", &conns) != 1) {
        got = 0;
    }
    size_t want = rows + 2 + (conns ? conns + 2 : 0);
    if ((got != 4 && !legacy) || text[len - 1] != '\n' || (!legacy && lines != want)) {
        fprintf(stderr,
                "mqgate: the status file %s is truncated or damaged (%zu complete lines%s); "
                "the gateway rewrites it every 0.5 s: try again, and see STATUS-WRITE in its "
                "log\n",
                path, lines, got == 4 ? "" : ", no valid header");
        return MQG_EXIT_TRANSIENT;
    }
    return 0;
}

/* Read the file at path into a heap buffer (*text, *len) and stat it. 0 or -errno. */
static int s_read_path(const char *path, char **text, size_t *len, struct stat *st)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return -errno;
    }
    int rc = s_read_status(f, text, len);
    if (rc == 0 && fstat(fileno(f), st) != 0) {
        rc = -errno;
        free(*text);
    }
    fclose(f);
    return rc;
}

/* status.json, after the status file was found good: printed, or 1 after saying why not. */
static int s_print_json(const struct mqg_settings *s, const char *dir)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/status.json", dir);
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int rc = s_read_path(path, &text, &len, &st);
    if (rc != 0) {
        return s_status_unreadable(s, dir, path, -rc);
    }
    if (len < 3 || text[0] != '{' || memcmp(text + len - 2, "}\n", 2) != 0) {
        fprintf(stderr,
                "mqgate: %s is empty, truncated or damaged; the gateway rewrites it every "
                "0.5 s: try again, and see STATUS-WRITE in its log\n",
                path);
        free(text);
        return MQG_EXIT_TRANSIENT;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

int supervisor_status(const struct mqg_settings *s, bool json)
{
    char dir[512], path[700];
    if (supervisor_instance_dir(s, dir, sizeof(dir)) != 0) {
        return MQG_EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "%s/status", dir);
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int rc = s_read_path(path, &text, &len, &st);
    if (rc != 0) {
        return s_status_unreadable(s, dir, path, -rc);
    }
    int exit_code = s_status_check(s, path, text, len);
    if (exit_code == 0 && json) {
        exit_code = s_print_json(s, dir);
    } else if (exit_code == 0) {
        fputs(text, stdout);
    }
    if (exit_code == 0) {
        long long age = (long long)(time(NULL) - st.st_mtime);
        if (age > S_STATUS_STALE_S) {
            fflush(stdout);
            fprintf(stderr,
                    "mqgate: the status above is %lld s old: the gateway has not been able to "
                    "rewrite %s since (see STATUS-WRITE in its log)\n",
                    age, path);
            exit_code = MQG_EXIT_TRANSIENT;
        }
    }
    free(text);
    return exit_code;
}
