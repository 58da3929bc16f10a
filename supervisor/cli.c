/* cli — mqgate's commands, options and help texts (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_error.h"
#include "mqg_tap.h"

#define S_EXIT_CODES                                                                               \
    "exit codes: 0 ok, 1 runtime failure, 2 usage error, 70 internal error, 78 configuration "     \
    "error\n"

#define S_OPT_CONFIG                                                                               \
    "  -c, --config FILE        the gateway's settings (libconfig, e.g. "                          \
    "/etc/mqgate/mqgate.cfg);\n"                                                                   \
    "                           without it every setting has its default\n"
#define S_OPT_PARAMS                                                                               \
    "  -p, --param NAME=VALUE   value of a parameter of the service files (repeatable); wins "     \
    "over\n"                                                                                       \
    "                           the values in the settings file\n"                                 \
    "      --service-id ID      the service id instead of the one derived from metadata.name\n"    \
    "                           (one service file only)\n"
#define S_OPT_HELP "  -h, --help               this text\n"

struct s_cmd {
    const char *name;
    const char *opts; /* the options it takes, as getopt letters: c, p, S (--service-id), j,
                       * n (--count), m (--max-bytes) */
    bool files;       /* takes service files (tap: filters) */
    const char *help;
};

static const struct s_cmd s_cmds[] = {
    {"run", "cpS", true,
     "usage: mqgate run [-c mqgate.cfg] [SERVICE.yml ...] [-p NAME=VALUE ...] [--service-id ID]\n"
     "\n"
     "Run the gateway in the foreground: the supervisor starts the router and one connector per\n"
     "connection, restarts them when they fail, and serves /metrics and /health when the\n"
     "settings have http.listen. The service files are those given here and those listed in\n"
     "the settings' `services`.\n"
     "Signals: SIGTERM, SIGINT: stop everything in order, exit 0. SIGUSR1: reopen the log file\n"
     "(log_file), e.g. after logrotate moved it. SIGHUP: read the settings and service files\n"
     "again (as `mqgate reload`): an invalid configuration is rejected and logged\n"
     "(RELOAD-INVALID), the running one stays; changed services are applied (RELOAD-APPLIED),\n"
     "unchanged connections keep running; changed settings are applied, in place or by\n"
     "restarting the processes that use them; instance, runtime_dir, state_dir and\n"
     "cpu_affinity need a restart (RELOAD-NEEDS-RESTART: nothing of that reload is applied).\n"
     "\n"
     "options:\n" S_OPT_CONFIG S_OPT_PARAMS S_OPT_HELP S_EXIT_CODES},
    {"check", "cpS", true,
     "usage: mqgate check [-c mqgate.cfg] [SERVICE.yml ...] [-p NAME=VALUE ...] [--service-id "
     "ID]\n"
     "\n"
     "Validate the settings and the service files and print the resolved model: connections,\n"
     "endpoints, routes and the subscriptions each broker gets. Starts nothing. With only -c,\n"
     "checks the settings file alone. Errors name the file, line, column and setting.\n"
     "\n"
     "options:\n" S_OPT_CONFIG S_OPT_PARAMS S_OPT_HELP S_EXIT_CODES},
    {"status", "cj", false,
     "usage: mqgate status [-c mqgate.cfg] [--json]\n"
     "\n"
     "Show the state of a running gateway (the instance and runtime directory of the settings):\n"
     "one row per process (state, pid, uptime, restarts, last exit, counters), then one per\n"
     "connection (state and since when, reconnects, messages in/out/dropped, queued, held,\n"
     "broker URL, last error). Run it as the gateway's user or root.\n"
     "\n"
     "options:\n" S_OPT_CONFIG
     "      --json               the same as one JSON object, for scripts\n" S_OPT_HELP
     "exit codes: 0 printed, 1 not running or no current status, 2 usage error, 78 bad settings\n"},
    {"reload", "c", false,
     "usage: mqgate reload [-c mqgate.cfg]\n"
     "\n"
     "Make the running gateway (the instance and runtime directory of the settings) read the\n"
     "settings and service files it was started with again (SIGHUP), and report: an invalid\n"
     "configuration is rejected with the same FILE:LINE:COL errors as `check` and the running\n"
     "one stays (exit 78); an unchanged one: exit 0. Changed services are applied (exit 0, what\n"
     "was done is printed): unchanged connections keep running, added ones start, removed ones\n"
     "stop after delivering what they hold, changed ones restart, the router hands over to a new\n"
     "one with the new routes. Changed settings (mqgate.cfg) are applied too: log.level,\n"
     "log.file, http.*, restart.* and stop_grace_ms in place; connector.* and journal.* by\n"
     "restarting every connector, router.* by the router's handover, heartbeat.* both,\n"
     "internal_broker.* by restarting the embedded broker (and its connection). instance,\n"
     "runtime_dir, state_dir and cpu_affinity cannot change while mqgate runs: the whole reload\n"
     "is refused (exit 1: restart mqgate). Run it as the gateway's user or root.\n"
     "\n"
     "options:\n" S_OPT_CONFIG S_OPT_HELP
     "exit codes: 0 unchanged or applied, 1 not running, no answer, settings that need a\n"
     "restart (nothing applied), or a setting that could not be applied (the rest was), 2 usage\n"
     "error, 78 the new configuration is invalid (or bad settings for this command)\n"},
    {"tap", "cnmj", true,
     "usage: mqgate tap [-c mqgate.cfg] [--count N] [--json] [--max-bytes N] FILTER...\n"
     "\n"
     "Print, live, every message on the internal bus of the running gateway (the instance and\n"
     "runtime directory of the settings) whose topic matches one of the MQTT filters, e.g.\n"
     "'services/#' or 'services/mqttconnectiontest/+': the time the router took it, the topic,\n"
     "QoS, retain flag, payload size and the payload (text when it is printable UTF-8, else\n"
     "hex). Nothing in the gateway changes and it never waits for a tap: a tap that cannot keep\n"
     "up misses messages and says how many on standard error. Ctrl-C ends it. Run it as the\n"
     "gateway's user or root.\n"
     "\n"
     "options:\n" S_OPT_CONFIG "      --count N            exit after N messages\n"
     "      --json               one JSON object per line: time, topic, qos, retain, size,\n"
     "                           encoding (text or hex), payload, truncated\n"
     "      --max-bytes N        show at most N bytes of each payload (default 1024, at most\n"
     "                           65536; 0: none)\n" S_OPT_HELP
     "exit codes: 0 done (--count reached, or interrupted), 1 no gateway running or it stopped,\n"
     "2 usage error (a filter that is not one), 78 bad settings\n"},
    {"version", "", false,
     "usage: mqgate version\n"
     "\n"
     "Print mqgate's version.\n"
     "\n"
     "options:\n" S_OPT_HELP},
};

#define N_CMDS (sizeof(s_cmds) / sizeof(s_cmds[0]))

static const struct s_cmd *s_find(const char *name)
{
    for (size_t i = 0; name && i < N_CMDS; i++) {
        if (strcmp(s_cmds[i].name, name) == 0) {
            return &s_cmds[i];
        }
    }
    return NULL;
}

void cli_usage(FILE *f, const char *cmd)
{
    const struct s_cmd *c = s_find(cmd);
    if (c) {
        fputs(c->help, f);
        return;
    }
    fputs("usage: mqgate COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  run      run the gateway in the foreground\n"
          "  check    validate the settings and service files, print the resolved model\n"
          "  status   show the state of a running gateway (--json for scripts)\n"
          "  tap      print the messages on the internal bus that match MQTT filters\n"
          "  reload   make the running gateway read its configuration again (SIGHUP)\n"
          "  version  print the version\n"
          "  help     this text\n"
          "\n"
          "`mqgate COMMAND --help` or `mqgate help COMMAND` describes one command and its\n"
          "options. The most used: mqgate run -c /etc/mqgate/mqgate.cfg\n" S_EXIT_CODES,
          f);
}

int cli_settings(const struct cli *c, struct mqg_settings *set)
{
    if (!c->cfg) {
        return mqg_settings_defaults(set) == 0 ? MQG_EXIT_OK : MQG_EXIT_INTERNAL;
    }
    struct mqg_error err;
    if (mqg_settings_load(c->cfg, set, &err) != 0) {
        mqg_error_print(&err, stderr);
        return MQG_EXIT_CONFIG;
    }
    return MQG_EXIT_OK;
}

void cli_free(struct cli *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n_owned; i++) {
        free(c->owned[i]);
    }
    free(c->owned);
    free(c->files);
    free(c->params);
    memset(c, 0, sizeof(*c));
}

/* -p NAME=VALUE: 0, or 78 (no value, given twice) / 70 after a printed error. */
static int s_param(struct cli *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "mqgate: error: -p %s: expected NAME=VALUE (parameter without value)\n",
                arg);
        return MQG_EXIT_CONFIG;
    }
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name) {
        return MQG_EXIT_INTERNAL;
    }
    c->owned[c->n_owned++] = name;
    for (size_t i = 0; i < c->n_params; i++) {
        if (strcmp(c->params[i].name, name) == 0) {
            fprintf(stderr, "mqgate: error: -p %s: parameter given twice\n", name);
            return MQG_EXIT_CONFIG;
        }
    }
    c->params[c->n_params].name = name;
    c->params[c->n_params].value = eq + 1;
    c->n_params++;
    return 0;
}

/* The usage error: what is wrong with arg for cmd. */
static int s_bad(const struct s_cmd *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "mqgate: error: %s: %s; see `mqgate %s --help`\n", arg, what, cmd->name);
    return MQG_EXIT_USAGE;
}

/* --count N (1 and up) or --max-bytes N (0..65536). */
static int s_number(struct cli *c, const struct s_cmd *cmd, int o, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    bool bad = errno || end == arg || *end || arg[0] == '-' ||
               (o == 'n' ? v == 0 : v > MQG_TAP_PAYLOAD_MAX);
    if (bad) {
        return s_bad(cmd,
                     o == 'n' ? "--count needs a number of messages, 1 or more"
                              : "--max-bytes needs a number of bytes, 0 to 65536",
                     arg);
    }
    if (o == 'n') {
        c->count = v;
    } else {
        c->max_bytes = (size_t)v;
    }
    return 0;
}

/* The options and files after the command. */
static int s_options(struct cli *c, const struct s_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"param", required_argument, NULL, 'p'},
        {"service-id", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"max-bytes", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o, rc;
    optind = 2;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "c:p:h", opts, NULL)) != -1) {
        if (o == 'h') {
            cli_usage(stdout, cmd->name);
            return -1;
        }
        if (o == '?' && optopt && strchr("cpnm", optopt)) {
            return s_bad(cmd, "needs a value", argv[optind - 1]);
        }
        if (o == '?') {
            return s_bad(cmd, "not an option of this command", argv[optind - 1]);
        }
        if (!strchr(cmd->opts, o)) {
            return s_bad(cmd, "not an option of this command", argv[optind - 1]);
        }
        if (o == 'c') {
            c->cfg = optarg;
        } else if (o == 'n' || o == 'm') {
            if ((rc = s_number(c, cmd, o, optarg)) != 0) {
                return rc;
            }
        } else if (o == 'S') {
            c->service_id = optarg;
        } else if (o == 'j') {
            c->json = true;
        } else if ((rc = s_param(c, optarg)) != 0) {
            return rc;
        }
    }
    for (int i = optind; i < argc; i++) { /* getopt moved the files behind the options */
        if (!cmd->files) {
            return s_bad(cmd, "this command takes no files", argv[i]);
        }
        c->files[c->n_files++] = argv[i];
    }
    return 0;
}

int cli_parse(struct cli *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    if (argc < 2) {
        cli_usage(stderr, NULL);
        return MQG_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && !s_find(argv[2])) {
            fprintf(stderr, "mqgate: error: unknown command '%s'\n", argv[2]);
            cli_usage(stderr, NULL);
            return MQG_EXIT_USAGE;
        }
        cli_usage(stdout, argc > 2 ? argv[2] : NULL);
        return -1;
    }
    const struct s_cmd *cmd = s_find(name);
    if (!cmd) {
        fprintf(stderr, "mqgate: error: unknown command '%s'\n", name);
        cli_usage(stderr, NULL);
        return MQG_EXIT_USAGE;
    }
    c->cmd = cmd->name;
    c->max_bytes = 1024;
    c->files = calloc((size_t)argc, sizeof(*c->files));
    c->params = calloc((size_t)argc, sizeof(*c->params));
    c->owned = calloc((size_t)argc, sizeof(*c->owned));
    if (!c->files || !c->params || !c->owned) {
        return MQG_EXIT_INTERNAL;
    }
    return s_options(c, cmd, argc, argv);
}
