/* rules_check — see rules_check.h. */
#include "rules_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mqg_error.h"
#include "mqg_proc.h"

/* One expression to check. */
struct rc_item {
    const char *where; /* FILE:LINE:COL */
    const char *route;
    char what[96]; /* "transform", "filter", "setContextVars 'name'" */
    const char *expr;
};

/* The expressions of every route's rules into *items (malloc'd). Returns their number or -1. */
static long s_collect(const struct mqg_model *m, struct rc_item **items)
{
    size_t n = 0, cap = 0;
    struct rc_item *v = NULL;
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct mqg_route *r = &m->routes[i];
        for (size_t k = 0; k < r->n_rules; k++) {
            const struct mqg_rule *ru = &r->rules[k];
            bool vars = ru->kind == MQG_RULE_SET_CONTEXT_VARS;
            if (!vars && ru->kind != MQG_RULE_TRANSFORM && ru->kind != MQG_RULE_FILTER) {
                continue;
            }
            size_t add = vars ? ru->n_vars : 1;
            if (n + add > cap) {
                cap = (n + add) * 2;
                struct rc_item *nv = realloc(v, cap * sizeof(*v));
                if (!nv) {
                    free(v);
                    return -1;
                }
                v = nv;
            }
            for (size_t j = 0; j < add; j++) {
                struct rc_item *it = &v[n++];
                it->route = r->name ? r->name : "route";
                it->where = vars && ru->vars[j].where ? ru->vars[j].where : ru->where;
                it->expr = vars ? ru->vars[j].expr : ru->text;
                snprintf(it->what, sizeof(it->what), "%s%s%s%s", vars ? "setContextVars '" : "",
                         vars ? ru->vars[j].name : "", vars ? "'" : "",
                         vars                             ? ""
                         : ru->kind == MQG_RULE_TRANSFORM ? "transform"
                                                          : "filter");
            }
        }
    }
    *items = v;
    return (long)n;
}

/* Run prog --check with the expressions on its stdin; its stdout into *out (malloc'd). Returns
 * the child's exit status (0..255), or -errno. */
static int s_run(const char *prog, const struct rc_item *items, size_t n, char **out)
{
    FILE *in = tmpfile();
    int pfd[2];
    if (!in) {
        return -errno;
    }
    for (size_t i = 0; i < n; i++) {
        fputs(items[i].expr ? items[i].expr : "", in);
        fputc('\0', in);
    }
    if (fflush(in) != 0 || lseek(fileno(in), 0, SEEK_SET) != 0 || pipe2(pfd, O_CLOEXEC) != 0) {
        int e = errno;
        fclose(in);
        return -e;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(in), 0);
        dup2(pfd[1], 1);
        execl(prog, prog, "--check", (char *)NULL);
        _exit(127);
    }
    int e = errno;
    fclose(in);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -e;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(pfd[0], buf + len, cap - len - 1)) != 0) {
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        len += (size_t)r;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
            }
            buf = nb;
        }
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!buf) {
        return -ENOMEM;
    }
    buf[len] = '\0';
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* One answer line for item it: 0 for "ok", 1 for an error (printed), -1 for a malformed line. */
static int s_answer(const struct rc_item *it, char *line, FILE *errf)
{
    if (strcmp(line, "ok") == 0) {
        return 0;
    }
    char *f[6];
    char *save = NULL, *p = line;
    for (int i = 0; i < 6; i++) {
        f[i] = i < 5 ? strtok_r(p, "\t", &save) : save;
        p = NULL;
        if (!f[i]) {
            return -1;
        }
    }
    if (strcmp(f[0], "error") != 0) {
        return -1;
    }
    fprintf(errf,
            "%s: %s: %s: JSONata %s at line %s column %s of the expression (position %s): %s\n",
            it->where ? it->where : "?", it->route, it->what, f[1], f[2], f[3], f[4], f[5]);
    return 1;
}

/* The answers (one line per item) printed; the number of failures, or -1 (malformed). */
static int s_answers(const struct rc_item *items, size_t n, char *out, FILE *errf)
{
    int bad = 0;
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    for (size_t i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
        int rc = line ? s_answer(&items[i], line, errf) : -1;
        if (rc < 0) {
            return -1;
        }
        bad += rc;
    }
    return bad;
}

int rules_check_model(const struct mqg_model *m, FILE *errf)
{
    struct rc_item *items = NULL;
    bool any = false;
    for (size_t i = 0; i < m->n_routes; i++) {
        any = any || m->routes[i].n_rules > 0;
    }
    if (!any) {
        return 0;
    }
    char prog[4096];
    if (mqg_exe_dir(prog, sizeof(prog) - 16) != 0) {
        fprintf(errf, "mqgate: cannot find the directory of the mqgate program\n");
        return MQG_EXIT_CONFIG;
    }
    strcat(prog, "/mqgate-rules");
    if (access(prog, X_OK) != 0) {
        fprintf(errf,
                "mqgate: the configuration has rules, but this mqgate was built without the rules "
                "engine (MQG_RULES): %s is missing\n",
                prog);
        return MQG_EXIT_CONFIG;
    }
    long n = s_collect(m, &items);
    if (n <= 0) {
        free(items);
        if (n < 0) {
            fprintf(errf, "mqgate: out of memory checking the rules' expressions\n");
        }
        return n < 0 ? MQG_EXIT_CONFIG : 0;
    }
    char *out = NULL;
    int st = s_run(prog, items, (size_t)n, &out);
    int bad = st == 0 ? s_answers(items, (size_t)n, out, errf) : -1;
    if (bad < 0 && st < 0) {
        fprintf(errf, "mqgate: cannot check the rules' expressions: cannot run %s --check: %s\n",
                prog, strerror(-st));
    } else if (bad < 0) {
        fprintf(errf,
                "mqgate: cannot check the rules' expressions: %s --check %s (exit status %d)\n",
                prog, st ? "failed" : "gave answers that do not fit", st);
    }
    free(out);
    free(items);
    return bad == 0 ? 0 : MQG_EXIT_CONFIG;
}
