/* paho_plugin — mqgate's own build of paho MQTTAsync, without paho's heap tracking.
 *
 * Debian builds paho with its debugging heap on (paho's HIGH_PERFORMANCE option off): every
 * malloc and free inside paho goes through mymalloc()/myfree(), which take one global mutex
 * and keep a tree of all live blocks. Under load that is the largest user-space cost in the
 * connector's paho threads. Debian also ships paho's static archives; this module is linked
 * from this file and those archives, and this file defines paho's heap entry points as the
 * plain C allocator, so the linker never takes paho's Heap.c object. The result is what
 * paho's HIGH_PERFORMANCE build does, made from the same objects Debian ships.
 *
 * The archive's symbols are hidden, so the module exports one function, mqg_paho_sym(), that
 * resolves the paho functions the connector uses (connector/mqtt_link.c). Built twice by
 * CMake: mqgate-paho-plain.so (libpaho-mqtt3a.a) and mqgate-paho-tls.so (libpaho-mqtt3as.a).
 */
#include <MQTTAsync.h>
#include <stdlib.h>
#include <string.h>

/* paho's Heap.h maps malloc/realloc/free to these (file and line are for its leak report) */
void *mymalloc(char *file, int line, size_t size);
void myfree(char *file, int line, void *p);
void *myrealloc(char *file, int line, void *p, size_t size);
int Heap_initialize(void);
void Heap_terminate(void);

void *mymalloc(char *file, int line, size_t size)
{
    (void)file;
    (void)line;
    return malloc(size);
}

void myfree(char *file, int line, void *p)
{
    (void)file;
    (void)line;
    free(p);
}

void *myrealloc(char *file, int line, void *p, size_t size)
{
    (void)file;
    (void)line;
    return realloc(p, size);
}

int Heap_initialize(void)
{
    return 0;
}

void Heap_terminate(void)
{
}

#define S_ENTRY(name) {#name, (void *)name}

static const struct {
    const char *name;
    void *fn;
} s_table[] = {
    S_ENTRY(MQTTAsync_connect),      S_ENTRY(MQTTAsync_createWithOptions),
    S_ENTRY(MQTTAsync_destroy),      S_ENTRY(MQTTAsync_disconnect),
    S_ENTRY(MQTTAsync_free),         S_ENTRY(MQTTAsync_freeMessage),
    S_ENTRY(MQTTAsync_global_init),  S_ENTRY(MQTTAsync_isConnected),
    S_ENTRY(MQTTAsync_sendMessage),  S_ENTRY(MQTTAsync_setCallbacks),
    S_ENTRY(MQTTAsync_setTraceLevel), S_ENTRY(MQTTAsync_strerror),
    S_ENTRY(MQTTAsync_subscribeMany), S_ENTRY(MQTTProperties_add),
    S_ENTRY(MQTTProperties_free),
};

__attribute__((visibility("default"))) void *mqg_paho_sym(const char *name);

void *mqg_paho_sym(const char *name)
{
    for (size_t i = 0; i < sizeof(s_table) / sizeof(s_table[0]); i++) {
        if (strcmp(s_table[i].name, name) == 0) {
            return s_table[i].fn;
        }
    }
    return NULL;
}
