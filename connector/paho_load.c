/* paho_load — loading paho MQTTAsync at run time (see paho_load.h). */
#include "paho_load.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mqg_log.h"
#include "mqg_proc.h"

#define S_PAHO_PLAIN "libpaho-mqtt3a.so.1"
#define S_PAHO_TLS "libpaho-mqtt3as.so.1"
#define S_PLUGIN_PLAIN "mqgate-paho-plain.so"
#define S_PLUGIN_TLS "mqgate-paho-tls.so"

typedef void *(*s_sym_fn)(const char *name);

/* dlopen()s <directory of this executable>/../lib/mqgate/<name>; NULL when it is not there. */
static void *s_open_plugin(const char *name, char *path, size_t cap)
{
    char dir[512];
    if (mqg_exe_dir(dir, sizeof(dir)) != 0) {
        return NULL;
    }
    char raw[600];
    int w = snprintf(raw, sizeof(raw), "%s/../lib/mqgate/%s", dir, name);
    char *real = w < 0 || (size_t)w >= sizeof(raw) ? NULL : realpath(raw, NULL);
    if (!real) {
        return NULL; /* not there */
    }
    w = snprintf(path, cap, "%s", real);
    free(real);
    if (w < 0 || (size_t)w >= cap) {
        return NULL;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        log_warn("LINK-LIB", "cannot load %s: %s; using the system's paho", path, dlerror());
    }
    return dl;
}

/* mqgate's own build (*sym: its resolver), else the system's (*sym NULL); NULL when neither
 * loads (logged). *lib names what was loaded, inside path or static. */
static void *s_open(bool tls, char *path, size_t cap, s_sym_fn *sym, const char **lib)
{
    *sym = NULL;
    *lib = path;
    void *dl = s_open_plugin(tls ? S_PLUGIN_TLS : S_PLUGIN_PLAIN, path, cap);
    if (dl) {
        *(void **)sym = dlsym(dl, "mqg_paho_sym");
        if (!*sym) {
            log_warn("LINK-LIB", "%s has no mqg_paho_sym; using the system's paho", path);
            dlclose(dl);
            dl = NULL;
        }
    }
    if (!dl) {
        *lib = tls ? S_PAHO_TLS : S_PAHO_PLAIN;
        dl = dlopen(*lib, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            log_error("LINK-LIB", "cannot load the MQTT library %s: %s (install libpaho-mqtt1.3)",
                      *lib, dlerror());
        }
    }
    return dl;
}

int paho_load(bool tls, struct paho_api *api)
{
    if (api->dl) {
        return 0;
    }
    char path[600];
    s_sym_fn sym;
    const char *lib;
    void *dl = s_open(tls, path, sizeof(path), &sym, &lib);
    if (!dl) {
        return -ENOENT;
    }
    log_info("LINK-LIB", "MQTT library: %s", lib);
    api->dl = dl;
#define S_SYM(field, name)                                                                         \
    do {                                                                                           \
        *(void **)&api->field = sym ? sym(#name) : dlsym(dl, #name);                               \
        if (!api->field) {                                                                         \
            log_error("LINK-LIB", "%s has no %s: wrong paho version?", lib, #name);                \
            return -ENOENT;                                                                        \
        }                                                                                          \
    } while (0)
    S_SYM(connect, MQTTAsync_connect);
    S_SYM(create, MQTTAsync_createWithOptions);
    S_SYM(destroy, MQTTAsync_destroy);
    S_SYM(disconnect, MQTTAsync_disconnect);
    S_SYM(free_, MQTTAsync_free);
    S_SYM(freeMessage, MQTTAsync_freeMessage);
    S_SYM(global_init, MQTTAsync_global_init);
    S_SYM(isConnected, MQTTAsync_isConnected);
    S_SYM(sendMessage, MQTTAsync_sendMessage);
    S_SYM(setCallbacks, MQTTAsync_setCallbacks);
    S_SYM(setTraceLevel, MQTTAsync_setTraceLevel);
    S_SYM(strerror_, MQTTAsync_strerror);
    S_SYM(subscribeMany, MQTTAsync_subscribeMany);
    S_SYM(props_add, MQTTProperties_add);
    S_SYM(props_free, MQTTProperties_free);
#undef S_SYM
    *(void **)&api->pingresps = sym ? sym("mqg_paho_pingresps") : NULL; /* optional */
    return 0;
}
