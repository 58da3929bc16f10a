/* mqg_settings_ib — the checks of the internal_broker group that need several of its settings
 * (see mqg_settings_read.h).
 *
 * Internal to the settings loader: external needs a url, a url must parse, an embedded broker
 * with a password file needs mqgate's own login, and every listener needs a port of its own.
 */
#include <errno.h>
#include <stdio.h>

#include "mqg_ibroker.h"
#include "mqg_settings_read.h"
#include "mqg_url.h"

/* What the internal_broker settings need together, once all are read. */
int mqg_set_check_ibroker(const struct mqg_set_ctx *c, const config_t *cfg,
                          const struct mqg_ib_settings *ib)
{
    const config_setting_t *g = config_lookup(cfg, "internal_broker");
    const config_setting_t *st;
    char why[300];
    if (ib->mode == MQG_IB_EXTERNAL && !ib->url) {
        st = config_lookup(cfg, "internal_broker.mode");
        return mqg_set_fail(c, st, "internal_broker.url",
                            "missing; mode \"external\" needs the url of the broker, e.g. "
                            "url = \"mqtt://broker.local:1883\"");
    }
    if (ib->url) {
        struct mqg_url u;
        int rc = mqg_url_parse(ib->url, &u, why, sizeof(why));
        mqg_url_clear(&u);
        if (rc == -EINVAL) {
            return mqg_set_fail(c, config_lookup(cfg, "internal_broker.url"), "internal_broker.url",
                                "%s", why);
        }
    }
    if (ib->mode == MQG_IB_EMBEDDED && ib->password_file && !ib->username) {
        st = config_lookup(cfg, "internal_broker.password_file");
        return mqg_set_fail(c, st, "internal_broker.username",
                            "missing; with a password_file the embedded broker allows no "
                            "anonymous clients: give mqgate a user of that file (username and "
                            "password)");
    }
    for (size_t i = 0; ib->mode == MQG_IB_EMBEDDED && i < ib->n_listeners; i++) {
        const struct mqg_ib_listener *l = &ib->listeners[i];
        bool same = l->port == ib->listen_port;
        for (size_t j = 0; j < i; j++) {
            same = same || ib->listeners[j].port == l->port;
        }
        if (same) {
            char path[64];
            snprintf(path, sizeof(path), "internal_broker.listeners[%zu].listen", i);
            return mqg_set_fail(c, g, path,
                                "port %d is used twice; expected a port of its own for every "
                                "listener (internal_broker.listen included)",
                                l->port);
        }
    }
    return 0;
}
