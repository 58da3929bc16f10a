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
 * The module also mends one defect of paho (1.3.12, and upstream still): see
 * __wrap_MQTTPacket_send_publish below; and it counts the keepalive answers (PINGRESP) paho
 * receives, which paho's API does not tell (mqg_paho_pingresps, below).
 *
 * The archive's symbols are hidden, so the module exports one function, mqg_paho_sym(), that
 * resolves the paho functions the connector uses (connector/mqtt_link.c). Built twice by
 * CMake: mqgate-paho-plain.so (libpaho-mqtt3a.a) and mqgate-paho-tls.so (libpaho-mqtt3as.a).
 */
#include <MQTTAsync.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* ---- a failed write of a QoS 1/2 PUBLISH ----
 *
 * paho's MQTTAsync_processCommand hands a QoS 1/2 publish to MQTTProtocol_startPublish, which
 * moves the topic and payload buffers into the message kept for retries (outboundMsgs) while
 * the command keeps its pointers to them. When the write then fails (the broker went away:
 * EPIPE or ECONNRESET from writev), processCommand takes its error branch and frees the
 * command with those buffers; the kept message still points at them, and the clean-up of the
 * session (MQTTAsync_cleanSession, from the disconnect that the same branch queues) frees them
 * a second time: "free(): double free" in MQTTProtocol_removePublication. In a resumed session
 * paho would instead re-send the freed buffers. paho's heap tracking hides the second free (it
 * ignores pointers it no longer tracks), which is why Debian's shared paho does not abort.
 *
 * Every caller of MQTTPacket_send_publish for QoS 1/2 keeps the message in outboundMsgs until
 * it is acknowledged or the session is cleaned, and handles a connection that is lost while a
 * message waits for its acknowledgement correctly. So a failed write of such a message is
 * turned into exactly that case: the socket is shut down (paho's receive thread then sees the
 * connection end and closes the session through its normal path, which owns the buffers
 * correctly), and the write is reported as done, so processCommand keeps the command waiting
 * for an acknowledgement instead of freeing it. QoS 0 writes are left as they are (paho does
 * not keep them). The linker routes paho's own calls here (-Wl,--wrap in CMakeLists.txt). */

/* paho's networkHandles (Clients.h) starts with the socket; Publish stays opaque here */
struct s_paho_net {
    int socket;
};

#define S_TCPSOCKET_COMPLETE 0
#define S_SOCKET_ERROR -1

int __real_MQTTPacket_send_publish(void *pack, int dup, int qos, int retained,
                                   struct s_paho_net *net, const char *client_id);
int __wrap_MQTTPacket_send_publish(void *pack, int dup, int qos, int retained,
                                   struct s_paho_net *net, const char *client_id);

int __wrap_MQTTPacket_send_publish(void *pack, int dup, int qos, int retained,
                                   struct s_paho_net *net, const char *client_id)
{
    int rc = __real_MQTTPacket_send_publish(pack, dup, qos, retained, net, client_id);
    if (rc == S_SOCKET_ERROR && qos > 0) {
        if (net->socket > 0) {
            shutdown(net->socket, SHUT_RDWR);
        }
        rc = S_TCPSOCKET_COMPLETE;
    }
    return rc;
}

/* ---- keepalive answers ----
 *
 * paho's receive thread hands every PINGRESP to MQTTProtocol_handlePingresps; the linker routes
 * that call here (-Wl,--wrap in CMakeLists.txt), which counts it. mqg_paho_pingresps() reads
 * the count from the connector's thread: a connection that is up but moves nothing still
 * shows that its keepalive is answered (the supervisor's health check, docs/architecture.md).
 * One client per connector process, so one count per process. */
static unsigned long s_pingresps;

int __real_MQTTProtocol_handlePingresps(void *pack, int sock);
int __wrap_MQTTProtocol_handlePingresps(void *pack, int sock);

int __wrap_MQTTProtocol_handlePingresps(void *pack, int sock)
{
    __atomic_add_fetch(&s_pingresps, 1, __ATOMIC_RELAXED);
    return __real_MQTTProtocol_handlePingresps(pack, sock);
}

static unsigned long mqg_paho_pingresps(void)
{
    return __atomic_load_n(&s_pingresps, __ATOMIC_RELAXED);
}

/* (clang-format would break the stringizing initializer over four lines) */
/* clang-format off */
#define S_ENTRY(name) {#name, (void *)name}
/* clang-format on */

static const struct {
    const char *name;
    void *fn;
} s_table[] = {
    S_ENTRY(MQTTAsync_connect),       S_ENTRY(MQTTAsync_createWithOptions),
    S_ENTRY(MQTTAsync_destroy),       S_ENTRY(MQTTAsync_disconnect),
    S_ENTRY(MQTTAsync_free),          S_ENTRY(MQTTAsync_freeMessage),
    S_ENTRY(MQTTAsync_global_init),   S_ENTRY(MQTTAsync_isConnected),
    S_ENTRY(MQTTAsync_sendMessage),   S_ENTRY(MQTTAsync_setCallbacks),
    S_ENTRY(MQTTAsync_setTraceLevel), S_ENTRY(MQTTAsync_strerror),
    S_ENTRY(MQTTAsync_subscribeMany), S_ENTRY(MQTTProperties_add),
    S_ENTRY(MQTTProperties_free),     S_ENTRY(mqg_paho_pingresps),
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
