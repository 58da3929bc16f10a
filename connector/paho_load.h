/* paho_load — finds and loads paho's MQTTAsync library at run time, for mqtt_link.c.
 *
 * The TLS build (with OpenSSL, several MB of resident memory) is loaded only for connections
 * that use TLS, the plain build otherwise; same API either way. First choice is mqgate's own
 * build, lib/mqgate/mqgate-paho-{plain,tls}.so next to the bin/ directory of this executable
 * (Debian's paho objects relinked without paho's heap tracking: connector/paho_plugin.c),
 * which resolves the names through its one export, mqg_paho_sym(); if it is not there, the
 * system's libpaho-mqtt3a / libpaho-mqtt3as. mqtt_link.c is the only user of this API.
 * This header includes MQTTAsync.h: this file and mqtt_link.c are the two halves of the one
 * paho adapter (loading here, using there); nothing else includes paho's headers.
 */
#ifndef CONNECTOR_PAHO_LOAD_H
#define CONNECTOR_PAHO_LOAD_H

#include <MQTTAsync.h>
#include <stdbool.h>

/* The paho functions mqtt_link.c uses. */
struct paho_api {
    void *dl; /* the dlopen() handle; NULL before paho_load */
    __typeof__(MQTTAsync_connect) *connect;
    __typeof__(MQTTAsync_createWithOptions) *create;
    __typeof__(MQTTAsync_destroy) *destroy;
    __typeof__(MQTTAsync_disconnect) *disconnect;
    __typeof__(MQTTAsync_free) *free_;
    __typeof__(MQTTAsync_freeMessage) *freeMessage;
    __typeof__(MQTTAsync_global_init) *global_init;
    __typeof__(MQTTAsync_isConnected) *isConnected;
    __typeof__(MQTTAsync_sendMessage) *sendMessage;
    __typeof__(MQTTAsync_setCallbacks) *setCallbacks;
    __typeof__(MQTTAsync_setTraceLevel) *setTraceLevel;
    __typeof__(MQTTAsync_strerror) *strerror_;
    __typeof__(MQTTAsync_subscribeMany) *subscribeMany;
    __typeof__(MQTTProperties_add) *props_add;
    __typeof__(MQTTProperties_free) *props_free;
    unsigned long (*pingresps)(void); /* PINGRESPs received; only in mqgate's build, else NULL */
};

/* Load paho (tls: the TLS build) and fill *api; logs the library in use (LINK-LIB, INFO; WARN
 * when mqgate's own build is there but cannot be used). Nothing is done when api->dl is set
 * already. Returns 0, or -ENOENT when there is no paho or it lacks a function (logged,
 * ERROR). The library stays loaded for the life of the process. */
int paho_load(bool tls, struct paho_api *api);

#endif
