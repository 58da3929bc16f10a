/* mqgate-rules — the rules process: a connector whose "broker" is the rule engine
 * (rules/rules_link.c), started by the supervisor for the connection MQG_RULES_KEY.
 *
 * `mqgate-rules --check` compiles JSONata expressions for `mqgate check` and the supervisor
 * (supervisor/rules_check.c) instead. Protocol: stdin holds the expressions, each followed by
 * one NUL byte (an expression cannot hold a NUL); after reading all of stdin it writes one line
 * per expression, in order, to stdout:
 *     ok
 *     error\t<code>\t<line>\t<column>\t<position>\t<message>
 * (jsengine_compile's error: jsonata's code, the line and column in the expression, jsonata's
 * position, its message with tabs and line breaks as spaces). Text after the last NUL counts
 * as one more expression. Exit 0; 1 when the engine cannot start (why on stderr, nothing on
 * stdout), 70 when stdin cannot be read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "jsengine.h"

/* All of stdin into *buf (*len bytes, NUL-terminated). 0 or -errno. */
static int s_read_all(char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n - 1, stdin);
        n += r;
        if (r == 0) {
            if (ferror(stdin)) {
                free(b);
                return -EIO;
            }
            b[n] = '\0';
            *buf = b;
            *len = n;
            return 0;
        }
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
    }
    return -ENOMEM;
}

static void s_answer(struct jsengine *e, const char *expr)
{
    struct jsengine_error err;
    struct jsexpr *x = NULL;
    if (jsengine_compile(e, expr, &x, &err) == 0) {
        jsexpr_destroy(&x);
        puts("ok");
        return;
    }
    for (char *p = err.message; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    printf("error\t%s\t%d\t%d\t%ld\t%s\n", err.code[0] ? err.code : "-", err.line, err.column,
           err.position, err.message);
}

static int s_check(void)
{
    char *buf = NULL;
    size_t len = 0;
    if (s_read_all(&buf, &len) != 0) {
        fprintf(stderr, "mqgate-rules --check: cannot read the expressions from stdin\n");
        return 70;
    }
    char path[4096];
    struct jsengine *e = NULL;
    struct jsengine_error err;
    if (jsengine_default_path(path, sizeof(path)) != 0) {
        fprintf(stderr, "mqgate-rules --check: jsonata.js not found (lib/mqgate/jsonata.js)\n");
        free(buf);
        return 1;
    }
    if (jsengine_new(path, NULL, &e, &err) != 0) {
        fprintf(stderr, "mqgate-rules --check: cannot start the rule engine with %s: %s\n", path,
                err.message);
        free(buf);
        return 1;
    }
    for (size_t off = 0; off < len;) {
        const char *expr = buf + off;
        s_answer(e, expr);
        off += strlen(expr) + 1;
    }
    fflush(stdout);
    jsengine_destroy(&e);
    free(buf);
    return 0;
}

/* WebKit's JSBasePrivate.h; the library exports it (checked at link time). */
void JSConfigureSignalForGC(int signal);

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        return s_check();
    }
    /* JavaScriptCore suspends threads with SIGUSR1 unless told otherwise, and unblocks it in
     * the threads it knows: a SIGUSR1 sent to the process (`systemctl kill -s USR1`, which
     * every mqgate process must survive) then lands in its handler and crashed the process
     * while an expression ran (measured). A real-time signal nobody sends leaves SIGUSR1 to
     * the connector (blocked, read and ignored). Set by JSConfigureSignalForGC (exported,
     * declared in WebKit's private headers) before the engine starts: the environment
     * variable JSC_SIGNAL_FOR_GC would do the same, but JavaScriptCore's option parser then
     * logs "ERROR: invalid option" for it. */
    JSConfigureSignalForGC(SIGRTMIN + 4);
    return connector_main(argc, argv);
}
