/* broker — the embedded internal broker as a child of the supervisor (see broker.h).
 *
 * Used by supervisor.c: the checks before it starts (program, password file, ports), when it
 * counts as ready, whether connectors still wait for its first start, and a port lost to
 * another program. Reads the settings only; logs with stable message ids (BROKER-*).
 */
#include "broker.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqg_error.h"
#include "mqg_ibroker.h"
#include "mqg_log.h"
#include "mqg_proc.h"

/* Does the broker's loopback listener accept a TCP connection? (A fallback: the broker says
 * when it is ready, s_broker_line.) */
bool sup_broker_listening(const struct sup *S)
{
    const struct mqg_ib_settings *ib = &S->set->internal_broker;
    char port[16];
    snprintf(port, sizeof(port), "%d", ib->listen_port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(mqg_ibroker_connect_host(ib->listen_host), port, &hints, &res) != 0) {
        return false;
    }
    bool ok = false;
    for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        ok = fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        if (fd >= 0) {
            close(fd);
        }
    }
    freeaddrinfo(res);
    return ok;
}

/* The broker reported ready (LC_DO_LOG_READY). */
void sup_broker_ready(struct sup *S, struct sup_child *c)
{
    const struct mqg_ib_settings *ib = &S->set->internal_broker;
    snprintf(c->status, sizeof(c->status), "state=up listen=%s:%d", ib->listen_host,
             ib->listen_port);
    log_notice("BROKER-UP", "internal broker (pid %d) listens on %s:%d%s", (int)c->pid,
               ib->listen_host, ib->listen_port, c->was_ready ? " again" : "");
    c->was_ready = true;
}

/* Do connectors wait for the broker's first start (SUP_BROKER_HOLD_MS)? */
bool sup_broker_holds(const struct sup *S, const struct sup_child *c, int64_t now)
{
    const struct sup_child *b = sup_broker_child(S);
    if (c->kind != SUP_CONNECTOR || !b || b->life.state == LC_CONFIG ||
        b->life.state == LC_FAILED) {
        return false;
    }
    if (now < S->broker_hold_until) { /* a reload restarted it: until it runs again */
        return b->life.state != LC_RUNNING;
    }
    return !b->was_ready && now - S->started_ms < SUP_BROKER_HOLD_MS;
}

/* One of host:port's problems for the broker's listener `setting`, logged: 78, else 0. */
static int s_broker_port(const char *setting, const char *host, int port)
{
    int rc = mqg_ibroker_port_free(host, port);
    if (rc == -EADDRINUSE) {
        log_error("BROKER-PORT",
                  "%s: %s:%d is in use by another program; expected a free port for the "
                  "internal broker: change %s, stop what listens there, or set "
                  "internal_broker.mode = \"off\"",
                  setting, host, port, setting);
        return MQG_EXIT_CONFIG;
    }
    if (rc == -EADDRNOTAVAIL || rc == -EACCES) {
        log_error("BROKER-PORT", "%s: cannot listen on %s:%d: %s", setting, host, port,
                  strerror(-rc));
        return MQG_EXIT_CONFIG;
    }
    return 0; /* -EINVAL: a host name, which mosquitto resolves itself */
}

/* Is host:port one of the running broker's (its own: not to be checked)? */
static bool s_running_port(const struct mqg_ib_settings *run, const char *host, int port)
{
    if (!run || run->mode != MQG_IB_EMBEDDED) {
        return false;
    }
    bool same = port == run->listen_port && strcmp(host, run->listen_host) == 0;
    for (size_t i = 0; !same && i < run->n_listeners; i++) {
        same = port == run->listeners[i].port && strcmp(host, run->listeners[i].host) == 0;
    }
    return same;
}

int sup_broker_check(const struct mqg_ib_settings *ib, const struct mqg_ib_settings *running,
                     char *exe, size_t cap)
{
    if (mqg_ibroker_find_mosquitto(ib->mosquitto, exe, cap) != 0) {
        log_error("BROKER-MISSING",
                  "internal_broker.mosquitto: program '%s' not found (looked in $PATH, /usr/sbin "
                  "and /usr/local/sbin); expected the mosquitto broker: install the Debian "
                  "package mosquitto, set internal_broker.mosquitto to its path, or set "
                  "internal_broker.mode = \"off\"",
                  ib->mosquitto);
        return MQG_EXIT_CONFIG;
    }
    if (ib->password_file && access(ib->password_file, R_OK) != 0) {
        log_error("BROKER-CONF", "internal_broker.password_file: cannot read %s: %s",
                  ib->password_file, strerror(errno));
        return MQG_EXIT_CONFIG;
    }
    int rc = s_running_port(running, ib->listen_host, ib->listen_port)
                 ? 0
                 : s_broker_port("internal_broker.listen", ib->listen_host, ib->listen_port);
    for (size_t i = 0; rc == 0 && i < ib->n_listeners; i++) {
        char setting[64];
        snprintf(setting, sizeof(setting), "internal_broker.listeners[%zu].listen", i);
        if (!s_running_port(running, ib->listeners[i].host, ib->listeners[i].port)) {
            rc = s_broker_port(setting, ib->listeners[i].host, ib->listeners[i].port);
        }
    }
    return rc;
}

/* The broker ended before its first start succeeded because its port was taken (the check
 * at set-up raced with another program): a configuration error, the gateway stops. */
bool sup_broker_port_lost(struct sup *S, const struct sup_child *c)
{
    if (c->kind != SUP_BROKER || c->was_ready || !c->addr_in_use || S->broker_hold_until) {
        return false; /* (one a reload started is restarted with backoff like a crash) */
    }
    const struct mqg_ib_settings *ib = &S->set->internal_broker;
    log_error("BROKER-PORT",
              "internal_broker.listen: the internal broker could not listen on %s:%d (or on "
              "one of internal_broker.listeners): address already in use; expected free ports; "
              "stopping (exit 78)",
              ib->listen_host, ib->listen_port);
    S->exit_code = MQG_EXIT_CONFIG;
    return true;
}

/* A line of the broker's output (mosquitto writes its own format), as an mqgate log line in
 * its name. "Address already in use" is remembered (the port is taken); "mosquitto version ...
 * running" says that its listeners are open: it is ready. */
bool sup_broker_line(struct sup_child *c, const char *line, size_t len)
{
    char text[2048];
    if (len >= sizeof(text)) {
        len = sizeof(text) - 1;
    }
    memcpy(text, line, len);
    text[len] = '\0';
    int level = MQG_LOG_INFO;
    if (strncmp(text, "Error", 5) == 0) {
        level = MQG_LOG_ERROR;
    } else if (strncmp(text, "Warning", 7) == 0 && !strstr(text, "run as root")) {
        level = MQG_LOG_WARN; /* started by root, it runs as root on purpose (mqg_ibroker_conf) */
    }
    if (strstr(text, "Address already in use")) {
        c->addr_in_use = true;
    }
    mqg_log_write_as(c->role, (int)c->pid, c->key, level, "BROKER-LOG", "%s", text);
    return strncmp(text, "mosquitto version ", 18) == 0 && strstr(text, " running");
}
