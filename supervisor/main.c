/* mqgate — the gateway's program: run, check, status, version (the command line: cli.c).
 *
 * Reads the gateway settings (-c, libconfig) and the service commissioning files, resolves
 * them into one model and either prints it (check) or runs the supervisor (run). Any
 * configuration error is printed once, naming file, line, column and setting, and ends the
 * program with exit code 78 before anything starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mqg_clientid.h"
#include "mqg_error.h"
#include "mqg_ibroker.h"
#include "mqg_log.h"
#include "mqg_model.h"
#include "mqg_proc.h"
#include "mqg_service.h"
#include "mqg_settings.h"
#include "mqg_subs.h"
#include "mqg_text.h"
#include "reload.h"
#include "rules_check.h"
#include "supervisor.h"

/* Parameters for a service of the settings file: its own values, overridden by -p. */
static struct mqg_param *s_merge(const struct mqg_settings_service *sv, const struct cli *c,
                                 size_t *n)
{
    struct mqg_param *p = calloc(sv->n_params + c->n_params + 1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < c->n_params; i++) {
        p[k++] = (struct mqg_param){.name = c->params[i].name, .value = c->params[i].value};
    }
    for (size_t i = 0; i < sv->n_params; i++) {
        bool overridden = false;
        for (size_t j = 0; j < c->n_params; j++) {
            overridden |= strcmp(sv->params[i].name, c->params[j].name) == 0;
        }
        if (!overridden) {
            p[k++] = (struct mqg_param){.name = sv->params[i].name, .value = sv->params[i].value};
        }
    }
    *n = k;
    return p;
}

static int s_load_model(struct cli *c, struct mqg_settings *set, struct mqg_model *m, FILE *errf)
{
    struct mqg_error err;
    if (c->n_files == 0 && set->n_services == 0) {
        fprintf(errf, "mqgate: error: no service file given (on the command line, or in "
                      "`services` of the settings file)\n");
        return MQG_EXIT_USAGE;
    }
    if (c->service_id && c->n_files + set->n_services != 1) {
        fprintf(errf, "mqgate: error: --service-id needs exactly one service file\n");
        return MQG_EXIT_USAGE;
    }
    for (size_t i = 0; i < c->n_files; i++) {
        if (mqg_service_load(m, c->files[i], c->params, c->n_params, c->service_id, &err) != 0) {
            mqg_error_print(&err, errf);
            return MQG_EXIT_CONFIG;
        }
    }
    for (size_t i = 0; i < set->n_services; i++) {
        size_t n = 0;
        struct mqg_param *p = s_merge(&set->services[i], c, &n);
        if (!p) {
            return MQG_EXIT_INTERNAL;
        }
        int rc = mqg_service_load(m, set->services[i].file, p, n, c->service_id, &err);
        if (rc == 0) {
            /* the settings file's own values must each be declared by its service */
            for (size_t j = c->n_params; j < n; j++) {
                for (size_t k = 0; k < set->services[i].n_params; k++) {
                    if (strcmp(set->services[i].params[k].name, p[j].name) == 0) {
                        set->services[i].params[k].used = p[j].used;
                    }
                }
            }
            rc = mqg_service_check_unused(set->services[i].params, set->services[i].n_params,
                                          set->services[i].file, &err);
        }
        for (size_t j = 0; j < c->n_params && j < n; j++) {
            c->params[j].used |= p[j].used;
        }
        free(p);
        if (rc != 0) {
            mqg_error_print(&err, errf);
            return MQG_EXIT_CONFIG;
        }
    }
    const char *first = c->n_files ? c->files[0] : set->services[0].file;
    if (mqg_service_check_unused(c->params, c->n_params, first, &err) != 0) {
        mqg_error_print(&err, errf);
        return MQG_EXIT_CONFIG;
    }
    return 0;
}

/* Connections without clientId get the default of this machine and instance, so that two
 * gateways sharing a source do not take each other's session (mqg_clientid.h). */
static int s_client_ids(struct mqg_model *m, const struct mqg_settings *set, FILE *errf)
{
    char machine[256];
    mqg_clientid_machine(machine, sizeof(machine)); /* "" when unknown: the instance remains */
    if (mqg_clientid_apply(m, machine, set->instance) != 0) {
        fprintf(errf, "mqgate: error: out of memory\n");
        return MQG_EXIT_INTERNAL;
    }
    return 0;
}

/* The model of the service files as `run` builds it: the internal broker's connection of ib
 * first (mqg_ibroker_add; so it has index 0 and keeps it across reloads), the services, the
 * default client ids. Errors are printed to errf. 0 or the exit code (m is to be freed either
 * way). */
static int s_build_model(struct cli *c, const struct mqg_ib_settings *ib, struct mqg_settings *set,
                         struct mqg_model *m, FILE *errf)
{
    char why[300];
    int rc = mqg_ibroker_add(m, ib, why, sizeof(why));
    if (rc != 0) {
        fprintf(errf, "mqgate: error: internal_broker.url: %s\n",
                rc == -EINVAL ? why : strerror(-rc));
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_INTERNAL;
    }
    rc = s_load_model(c, set, m, errf);
    if (rc == 0) {
        rc = s_client_ids(m, set, errf);
    }
    if (rc == 0 && mqg_model_rules_engine(m, set->rules_time_limit_ms) != 0) {
        fprintf(errf, "mqgate: error: out of memory\n");
        rc = MQG_EXIT_INTERNAL;
    }
    if (rc == 0) {
        rc = rules_check_model(m, errf); /* the JSONata expressions compile */
    }
    return rc;
}

/* sup_reload.load: the settings file and service files `run` was given, read again and built
 * into a model as `run` did (s_build_model), its internal broker's connection from the new
 * internal_broker settings (reload.h). */
static int s_reload_load(void *arg, struct mqg_settings *set, struct mqg_model *m, FILE *errf)
{
    struct cli *c = arg;
    struct mqg_error err;
    if (c->cfg && mqg_settings_load(c->cfg, set, &err) != 0) {
        mqg_error_print(&err, errf);
        return MQG_EXIT_CONFIG;
    }
    if (!c->cfg && mqg_settings_defaults(set) != 0) {
        return MQG_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < c->n_params; i++) {
        c->params[i].used = false; /* counted again */
    }
    mqg_model_init(m);
    int rc = s_build_model(c, &set->internal_broker, set, m, errf);
    if (rc != 0) {
        mqg_model_free(m);
        mqg_settings_free(set);
    }
    return rc;
}

/* The internal broker's section of `mqgate check`: what runs where (its connection and its
 * subscriptions are listed with the others). */
static void s_print_internal_broker(const struct mqg_settings *set, const struct mqg_model *m)
{
    const struct mqg_ib_settings *ib = &set->internal_broker;
    printf("\ninternal broker: %s", mqg_ibroker_mode_name(ib->mode));
    if (ib->mode == MQG_IB_OFF) {
        printf(" (internal topics exist only inside the router)\n");
        return;
    }
    int k = mqg_model_internal(m);
    printf(" (connection %s)\n", k >= 0 ? m->conns[k].key : "-");
    if (ib->mode == MQG_IB_EXTERNAL) {
        printf("  url: %s\n", k >= 0 ? m->conns[k].uri : ib->url);
        return;
    }
    printf("  mosquitto: %s, started by mqgate\n  listen: %s:%d (mqgate and local "
           "applications)\n",
           ib->mosquitto, ib->listen_host, ib->listen_port);
    for (size_t i = 0; i < ib->n_listeners; i++) {
        const struct mqg_ib_listener *l = &ib->listeners[i];
        printf("  listener: %s:%d%s%s\n", l->host, l->port, l->certfile ? " (TLS)" : "",
               l->require_certificate ? ", client certificate required" : "");
    }
    printf("  password_file: %s\n", ib->password_file ? ib->password_file : "- (anonymous access)");
}

static void s_print_subscriptions(const struct mqg_model *m)
{
    printf("\nbroker subscriptions (minimal set per connection):\n");
    for (size_t i = 0; i < m->n_conns; i++) {
        struct mqg_sub *subs;
        size_t n;
        if (mqg_subs_for_conn(m, (int)i, &subs, &n) != 0) {
            continue;
        }
        printf("  %s:%s\n", m->conns[i].key, n ? "" : " (none)");
        for (size_t k = 0; k < n; k++) {
            printf("    ");
            mqg_text_fput(subs[k].filter, stdout);
            printf(" (qos %d)\n", subs[k].qos);
        }
        mqg_subs_free(subs, n);
    }
}

/* `mqgate tap`: the program next to this one, mqgate-tap, with the same arguments (it alone
 * carries ZeroMQ; supervisor/tap_main.c). Returns only when it cannot be started. */
static int s_exec_tap(char **argv)
{
    char prog[4096];
    if (mqg_exe_dir(prog, sizeof(prog) - 16) != 0) {
        fprintf(stderr, "mqgate tap: cannot find the directory of mqgate\n");
        return MQG_EXIT_INTERNAL;
    }
    strcat(prog, "/mqgate-tap");
    argv[0] = prog;
    execv(prog, argv);
    fprintf(stderr, "mqgate tap: cannot start %s: %s\n", prog, strerror(errno));
    return MQG_EXIT_TRANSIENT;
}

int main(int argc, char **argv)
{
    struct cli c;
    int rc = cli_parse(&c, argc, argv);
    if (rc != 0) {
        cli_free(&c);
        return rc < 0 ? MQG_EXIT_OK : rc;
    }
    if (strcmp(c.cmd, "version") == 0) {
        printf("mqgate %s\n", MQG_VERSION);
        cli_free(&c);
        return MQG_EXIT_OK;
    }
    if (strcmp(c.cmd, "tap") == 0) {
        cli_free(&c);
        return s_exec_tap(argv);
    }
    bool check = strcmp(c.cmd, "check") == 0;
    bool status = strcmp(c.cmd, "status") == 0;
    struct mqg_settings set;
    if ((rc = cli_settings(&c, &set)) != 0) {
        cli_free(&c);
        return rc;
    }
    if (strcmp(c.cmd, "reload") == 0) {
        rc = supervisor_reload(&set);
        mqg_settings_free(&set);
        cli_free(&c);
        return rc;
    }
    if (status) {
        rc = supervisor_status(&set, c.json);
        mqg_settings_free(&set);
        cli_free(&c);
        return rc;
    }
    mqg_log_init("supervisor", set.instance, set.log_level, 2);
    if (check && c.n_files == 0 && set.n_services == 0 && c.cfg && c.n_params == 0 &&
        !c.service_id) {
        /* `mqgate check -c FILE`: the settings alone */
        printf("settings %s OK (no service files given or listed)\n", c.cfg);
        mqg_settings_free(&set);
        cli_free(&c);
        return MQG_EXIT_OK;
    }
    struct mqg_model m;
    mqg_model_init(&m);
    rc = s_build_model(&c, &set.internal_broker, &set, &m, stderr);
    if (rc == 0 && check) {
        mqg_model_print(&m, stdout);
        s_print_internal_broker(&set, &m);
        s_print_subscriptions(&m);
        printf("\nconfiguration OK\n");
    } else if (rc == 0) {
        struct sup_reload reload = {.load = s_reload_load, .arg = &c};
        rc = supervisor_run(&set, &m, &reload);
    }
    mqg_model_free(&m);
    mqg_settings_free(&set);
    cli_free(&c);
    return rc;
}
