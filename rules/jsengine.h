/* jsengine — JSONata expressions run by the official jsonata package inside JavaScriptCore.
 *
 * The only file that includes JavaScriptCore's headers (libjavascriptcoregtk-4.1). It loads
 * jsonata.js once, compiles expressions, and evaluates them on JSON text with a time limit per
 * evaluation and its garbage collection driven, so a runaway expression stops and memory stays
 * bounded. For the rules process and `mqgate check` (docs/rules.md). Single-threaded: every call
 * on the thread that made the engine. jsengine_new starts JavaScriptCore's helper threads (JIT,
 * GC, watchdog), which inherit the signal mask: block the signals the process reads with
 * signalfd before it, but never SIGSEGV, SIGBUS or the thread-suspension signal (SIGUSR1 unless
 * moved with JSConfigureSignalForGC, as mqgate-rules does) — JavaScriptCore installs handlers
 * for them and needs them (VM traps, thread suspension); do not replace those handlers either.
 */
#ifndef RULES_JSENGINE_H
#define RULES_JSENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsengine;
struct jsexpr;

#define JSENGINE_TIME_LIMIT_MS 1000 /* default per-evaluation limit */
#define JSENGINE_MAX_DEPTH 5000     /* default jsonata evaluation depth (recursion) */
#define JSENGINE_GC_RSS_MB 48       /* default RSS above which a full collection runs */
#define JSENGINE_GC_CHECK_EVERY 256 /* evaluations between two RSS checks */

struct jsengine_opts {
    uint32_t time_limit_ms;  /* per evaluation; 0 = JSENGINE_TIME_LIMIT_MS */
    uint32_t max_depth;      /* jsonata's `stack` guardrail; 0 = JSENGINE_MAX_DEPTH */
    uint32_t gc_rss_mb;      /* collect fully when RSS is above this; 0 = JSENGINE_GC_RSS_MB */
    uint32_t gc_headroom_mb; /* after a collection the bar is max(gc_rss_mb, RSS + this); 0 = 16 */
    bool no_watchdog;        /* skip JavaScriptCore's watchdog: about 2x faster, but one long native
                                step (a backtracking regex, $distinct of 10^7 items) is not stopped */
    bool ftl_jit; /* turn JavaScriptCore's FTL JIT on (process-wide, first engine decides) */
};

/* Why a call failed: jsonata's own code, position and message where jsonata gave them. */
struct jsengine_error {
    char code[8];      /* jsonata's error code ("S0202", "T2002", "D1012", ...) or "" */
    long position;     /* jsonata's position: characters (UTF-16 units) from the start of the
                          expression to the end of the offending token; -1 when none */
    int line;          /* that position as a 1-based line and column in the expression, */
    int column;        /* counted in characters (code points); 0 when there is no position */
    char token[64];    /* the token jsonata names, or "" */
    char message[320]; /* jsonata's message, or the engine's; never empty on failure */
};

/* What one evaluation sees. Every text is JSON in UTF-8; NULL leaves the variable unbound. */
struct jsengine_args {
    const char *input; /* the message, bound to $ (need not be NUL-terminated) */
    size_t input_len;
    const char *context;  /* NUL-terminated JSON bound to $context, or NULL */
    const char *stash;    /* NUL-terminated JSON object label -> value that $last(label)
                             returns (null for a label not in it), or NULL for {} */
    const char *bindings; /* NUL-terminated JSON object; each member becomes $name, or NULL */
    unsigned flags;       /* JSENGINE_CANONICAL */
};

/* The output's objects have their keys sorted, so equal values give equal text (cov). */
#define JSENGINE_CANONICAL 1u

struct jsengine_stats {
    uint64_t evaluations; /* calls of jsengine_eval that reached the engine */
    uint64_t timeouts;    /* of which stopped by the time limit */
    uint64_t collections; /* full collections run (jsengine_collect and RSS-driven) */
    uint32_t rss_mb;      /* RSS at the last check */
};

/* Start JavaScriptCore and load jsonata from jsonata_js (the file installed in lib/mqgate/).
 * opts may be NULL for the defaults. Returns 0 and *out, or -errno: a file that cannot be read
 * (its errno), -EINVAL when it is not a jsonata build that loads (err says why), -ENOMEM. */
int jsengine_new(const char *jsonata_js, const struct jsengine_opts *opts, struct jsengine **out,
                 struct jsengine_error *err);

/* Free the engine and clear *pe. NULL-safe. Destroy its expressions first. */
void jsengine_destroy(struct jsengine **pe);

/* Where jsonata.js is for a program in <dir>/bin: <dir>/lib/mqgate/jsonata.js, found from
 * /proc/self/exe; the environment variable MQG_JSONATA_JS wins. 0, -ENOENT, or -ENAMETOOLONG. */
int jsengine_default_path(char *buf, size_t size);

/* Compile expr (NUL-terminated UTF-8). 0 and *out, or -EINVAL when jsonata rejects it (err has
 * jsonata's code, position, line/column and message), -ENOMEM. */
int jsengine_compile(struct jsengine *e, const char *expr, struct jsexpr **out,
                     struct jsengine_error *err);

/* Free a compiled expression and clear *px. NULL-safe; its engine must still exist. */
void jsexpr_destroy(struct jsexpr **px);

/* Evaluate x on a->input. Returns 0 with *out the result as JSON text (caller frees), or with
 * *out NULL when the result is undefined (a missing field, a predicate that matched nothing;
 * JSON.stringify's rules otherwise, as in Node.js). Failures leave *out NULL:
 *   -EBADMSG   input, context, stash or bindings is not JSON (UTF-8) or not the right shape;
 *   -ETIMEDOUT the time limit stopped it (jsonata's D1012, or JavaScriptCore's watchdog);
 *              the engine stays usable;
 *   -EINVAL    jsonata reported an error (err: code, position, message), D1011 for depth;
 *   -EIO       the engine failed otherwise (err.message says how); -ENOMEM. */
int jsengine_eval(struct jsengine *e, const struct jsexpr *x, const struct jsengine_args *a,
                  char **out, struct jsengine_error *err);

/* Evaluate a built-in expression n times (then collect), so that JavaScriptCore's JIT has
 * compiled jsonata's evaluator before the first message: without it, the first few thousand
 * evaluations run slower and their latencies show in the p99 (docs/performance.md). 0 or the
 * failure of jsengine_compile/jsengine_eval. */
int jsengine_warm_up(struct jsengine *e, unsigned n);

/* A full, synchronous garbage collection now (e.g. when the process has been idle). */
void jsengine_collect(struct jsengine *e);

void jsengine_get_stats(const struct jsengine *e, struct jsengine_stats *st);

#endif
