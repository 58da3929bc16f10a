/*
 * mqbench — MQTT load generator and checker for bench/run.
 *
 * One process runs one publisher client and one or more subscriber clients (libmosquitto).
 * The publisher runs unthreaded in the main thread (mosquitto_publish writes to the socket at
 * once; mosquitto_loop reads the PUBACKs); every subscriber runs its own network loop in its
 * own thread. Every payload carries a sequence number, the CLOCK_MONOTONIC send time and the
 * index of the source topic, so the receiving side can count loss, duplicates and reordering
 * and measure the end-to-end latency (same process, same clock).
 *
 * QoS 1/2 bursts keep at most --pub-window publishes unacknowledged by the broker (the
 * broker's acknowledgement, not the delivery: a slow path behind the broker fills the
 * broker's queue, as a real publisher would).
 *
 * Copy streams: a published message is expected --expect-copies times. With --subs K > 1
 * every subscriber client is one copy stream (direct fan-out); otherwise the first level of
 * the topic a message arrives on names the stream ("t3/bench/src/7" -> stream "t3").
 *
 * --json: the payload is JSON text instead, {"h":"<the 32 header bytes as 64 hex digits>",
 * "p":"<padding>"}, for paths that parse and rewrite it (mqgate's rules): the receiver finds
 * "h":" anywhere in what arrives (keys may be reordered or added; JSON.stringify writes no
 * spaces) and decodes the header from the 64 hex digits after it.
 *
 * Before the measured run a probe message (flagged, excluded from the statistics) is sent
 * until it has arrived on every copy stream: this proves that the path through a bridge or
 * gateway is up. At the end one JSON object is printed on stdout.
 *
 * Exit codes: 0 ran (whatever the numbers), 1 usage, 2 cannot connect/subscribe,
 * 3 the probe never arrived (path not up; JSON still printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x4d514243u /* "MQBC" */
#define FLAG_PROBE 1u
#define HDR_SIZE 32
#define MAX_STREAMS 256
#define JSON_PRE "{\"h\":\""   /* --json: payload head, then 64 hex digits */
#define JSON_MID "\",\"p\":\"" /* then the padding */
#define JSON_END "\"}"
#define JSON_KEY "\"h\":\"" /* what the receiver looks for */
#define JSON_HEX (2 * HDR_SIZE)
#define JSON_MIN (sizeof JSON_PRE - 1 + JSON_HEX + sizeof JSON_MID - 1 + sizeof JSON_END - 1)

/* payload header, little endian as the host writes it (same process reads it) */
struct hdr {
    uint32_t magic;
    uint32_t flags;
    uint64_t seq;     /* message number 0..count-1 (probe: round number) */
    uint64_t send_ns; /* CLOCK_MONOTONIC at publish */
    uint32_t topic;   /* source topic index */
    uint32_t run_id;  /* random per process: ignore anything not ours */
};

static struct {
    const char *host;
    int pub_port, sub_port, qos, size, topics, subs, copies, keepalive;
    long count;
    double rate, idle_timeout, max_time, probe_timeout;
    const char *topic_prefix, *sub_filter, *probe_topic;
    bool probe_only, verbose;
    int protocol;
    long pub_window;
    int inflight;
    bool lib_threads;
    bool json;
} opt = {
    .host = "127.0.0.1",
    .pub_port = 1883,
    .sub_port = -1,
    .qos = 0,
    .size = 64,
    .topics = 1,
    .subs = 1,
    .copies = 1,
    .keepalive = 60,
    .count = 10000,
    .rate = 0,
    .idle_timeout = 3.0,
    .max_time = 40.0,
    .probe_timeout = 15.0,
    .topic_prefix = "bench/src",
    .sub_filter = "#",
    .probe_topic = NULL,
    .protocol = 4,
    .inflight = 100,
    .pub_window = 500,
};

static uint32_t run_id;

struct stream {
    char name[64];
    uint8_t *bitmap;   /* count bits */
    int64_t *last_seq; /* per source topic, -1 = none */
    bool probe_seen;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct stream streams[MAX_STREAMS];
static int nstreams;
static int nprobe_streams;
static uint64_t received, unique_cnt, dups, reordered, foreign, extra_streams;
static uint64_t first_send_ns, last_unique_ns;
static _Atomic uint64_t last_any_ns;
static int64_t *lat; /* latency samples, ns */
static size_t nlat, caplat;

static _Atomic long acked;
static _Atomic int pub_connected, subs_ready, subs_connected;
static _Atomic int conn_lost;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
                          .tv_nsec = (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_ms(int ms)
{
    sleep_until(now_ns() + (uint64_t)ms * 1000000ull);
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mqbench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(code);
}

/* stream index for a message: caller holds mu */
static int stream_of(int sub_index, const char *topic)
{
    char name[64];
    if (opt.subs > 1) {
        snprintf(name, sizeof name, "sub%d", sub_index);
    } else if (opt.copies > 1) {
        size_t n = strcspn(topic, "/");
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, topic, n);
        name[n] = 0;
    } else {
        strcpy(name, "all");
    }
    for (int i = 0; i < nstreams; i++)
        if (strcmp(streams[i].name, name) == 0)
            return i;
    if (nstreams >= MAX_STREAMS)
        return -1;
    struct stream *s = &streams[nstreams];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->bitmap = calloc((size_t)(opt.count + 7) / 8, 1);
    s->last_seq = malloc(sizeof(int64_t) * (size_t)opt.topics);
    if (!s->bitmap || !s->last_seq)
        die(2, "out of memory");
    for (int t = 0; t < opt.topics; t++)
        s->last_seq[t] = -1;
    return nstreams++;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* --json: the header from the 64 hex digits after the first "h":" in the payload */
static bool json_hdr(const void *payload, size_t len, struct hdr *h)
{
    const char *p = memmem(payload, len, JSON_KEY, sizeof JSON_KEY - 1);
    if (!p)
        return false;
    p += sizeof JSON_KEY - 1;
    if ((size_t)((const char *)payload + len - p) < JSON_HEX + 1 || p[JSON_HEX] != '"')
        return false;
    uint8_t raw[HDR_SIZE];
    for (int i = 0; i < HDR_SIZE; i++) {
        int hi = hexval((unsigned char)p[2 * i]), lo = hexval((unsigned char)p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(h, raw, sizeof *h);
    return true;
}

/* --json: the header as 64 hex digits at buf + strlen(JSON_PRE) */
static void json_put_hdr(uint8_t *buf, const struct hdr *h)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *raw = (const uint8_t *)h;
    char *out = (char *)buf + sizeof JSON_PRE - 1;
    for (int i = 0; i < HDR_SIZE; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    uint64_t now = now_ns();
    int sub_index = (int)(intptr_t)ud;
    struct hdr h;
    atomic_store_explicit(&last_any_ns, now, memory_order_relaxed);
    if (opt.json ? !json_hdr(msg->payload, (size_t)msg->payloadlen, &h)
                 : msg->payloadlen < HDR_SIZE) {
        pthread_mutex_lock(&mu);
        foreign++;
        pthread_mutex_unlock(&mu);
        return;
    }
    if (!opt.json)
        memcpy(&h, msg->payload, sizeof h);
    pthread_mutex_lock(&mu);
    if (h.magic != MAGIC || h.run_id != run_id) {
        foreign++;
        goto out;
    }
    int si = stream_of(sub_index, msg->topic);
    if (si < 0) {
        foreign++;
        goto out;
    }
    struct stream *s = &streams[si];
    if (h.flags & FLAG_PROBE) {
        if (!s->probe_seen && si < opt.copies) {
            s->probe_seen = true;
            nprobe_streams++;
        }
        goto out;
    }
    if (si >= opt.copies) { /* more copy streams than expected */
        extra_streams++;
        received++;
        goto out;
    }
    if (h.seq >= (uint64_t)opt.count || h.topic >= (uint32_t)opt.topics) {
        foreign++;
        goto out;
    }
    received++;
    uint8_t bit = (uint8_t)(1u << (h.seq & 7));
    if (s->bitmap[h.seq >> 3] & bit) {
        dups++;
        goto out;
    }
    s->bitmap[h.seq >> 3] |= bit;
    unique_cnt++;
    last_unique_ns = now;
    if ((int64_t)h.seq < s->last_seq[h.topic])
        reordered++;
    else
        s->last_seq[h.topic] = (int64_t)h.seq;
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 65536;
        lat = realloc(lat, caplat * sizeof *lat);
        if (!lat)
            die(2, "out of memory");
    }
    lat[nlat++] = (int64_t)(now - h.send_ns);
out:
    pthread_mutex_unlock(&mu);
}

static void on_sub_connect(struct mosquitto *m, void *ud, int rc)
{
    if (rc != 0) {
        fprintf(stderr, "mqbench: subscriber %d: connect refused (%d)\n", (int)(intptr_t)ud, rc);
        return;
    }
    atomic_fetch_add(&subs_connected, 1);
    int mid;
    mosquitto_subscribe(m, &mid, opt.sub_filter, opt.qos);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    if (n >= 1 && granted[0] > 2)
        fprintf(stderr, "mqbench: subscriber %d: subscription refused\n", (int)(intptr_t)ud);
    else
        atomic_fetch_add(&subs_ready, 1);
}

static void on_pub_connect(struct mosquitto *m, void *ud, int rc)
{
    if (rc == 0)
        atomic_store(&pub_connected, 1);
    else
        fprintf(stderr, "mqbench: publisher: connect refused (%d)\n", rc);
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    atomic_fetch_add(&acked, 1);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    if (rc != 0)
        atomic_store(&conn_lost, 1);
}

static struct mosquitto *new_client(const char *id, void *ud)
{
    struct mosquitto *m = mosquitto_new(id, true, ud);
    if (!m)
        die(2, "mosquitto_new failed");
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
                         opt.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    /* as many QoS 1 messages in flight as possible, both directions */
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, opt.inflight);
    mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
    mosquitto_disconnect_callback_set(m, on_disconnect);
    return m;
}

/* Subscriber network loop in our own thread. With libmosquitto's own thread
 * (mosquitto_loop_start) every PUBACK is handed over to the write phase through a select()
 * round; our loop runs the client unthreaded, so PUBACKs are written at once. */
static _Atomic int stop_loops;

static void *sub_thread(void *arg)
{
    struct mosquitto *m = arg;
    while (!atomic_load_explicit(&stop_loops, memory_order_relaxed)) {
        int rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            atomic_store(&conn_lost, 1);
            sleep_ms(100);
            mosquitto_reconnect(m);
        }
    }
    return NULL;
}

/* The publisher runs unthreaded in the main thread: mosquitto_publish writes to the socket
 * at once, and this reads PUBACKs and writes what the socket did not take. */
static struct mosquitto *pub;
static bool pub_dead;

static void pub_service(int timeout_ms)
{
    if (pub_dead) {
        if (timeout_ms > 0)
            sleep_ms(timeout_ms);
        return;
    }
    int rc = mosquitto_loop(pub, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        fprintf(stderr, "mqbench: publisher: %s\n", mosquitto_strerror(rc));
        atomic_store(&conn_lost, 1);
        pub_dead = true;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(double p)
{
    if (nlat == 0)
        return -1;
    size_t i = (size_t)ceil(p * (double)nlat);
    if (i > 0)
        i--;
    if (i >= nlat)
        i = nlat - 1;
    return (double)lat[i] / 1e6;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: mqbench [options]\n"
            "  --pub-port P        broker to publish to (host 127.0.0.1)\n"
            "  --sub-port P        broker to subscribe on (default: pub port)\n"
            "  --qos Q             0, 1 or 2 (publish and subscribe)\n"
            "  --count N           messages to publish\n"
            "  --size B            payload bytes (>= %d; --json: >= %d)\n"
            "  --rate R            messages/s; 0 = burst\n"
            "  --topics N          publish round-robin to <prefix>/0 .. <prefix>/N-1\n"
            "  --topic-prefix P    default bench/src\n"
            "  --probe-topic T     topic of the probe (default <prefix>/0)\n"
            "  --sub-filter F      filter each subscriber subscribes (default #)\n"
            "  --subs K            subscriber clients (each one copy stream when K > 1)\n"
            "  --expect-copies C   copies of every message (copy stream = first topic level)\n"
            "  --idle-timeout S    stop when nothing arrived for S s after publishing\n"
            "  --max-time S        hard cap from the first publish\n"
            "  --probe-timeout S   give up probing after S s\n"
            "  --probe-only        only wait until the path is up, then exit\n"
            "  --pub-window W      QoS>0: at most W unacknowledged publishes (default 500;\n"
            "                      0 = hand everything to libmosquitto, --inflight in flight)\n"
            "  --inflight N        libmosquitto's in-flight limit when --pub-window is 0\n"
            "  --lib-threads       subscribers use mosquitto_loop_start (default: own loops)\n"
            "  --mqtt5             use MQTT 5 instead of 3.1.1\n"
            "  --json              JSON payloads {\"h\":\"<64 hex digits>\",\"p\":\"<padding>\"}\n"
            "                      (the header in hex); the receiver finds \"h\":\" anywhere\n",
            HDR_SIZE, (int)JSON_MIN);
    exit(1);
}

int main(int argc, char **argv)
{
    /* clang-format off */
    static const struct option lo[] = {
        {"pub-port", 1, 0, 'P'},    {"sub-port", 1, 0, 'S'},      {"qos", 1, 0, 'q'},
        {"count", 1, 0, 'n'},       {"size", 1, 0, 's'},          {"rate", 1, 0, 'r'},
        {"topics", 1, 0, 't'},      {"topic-prefix", 1, 0, 'p'},  {"sub-filter", 1, 0, 'f'},
        {"subs", 1, 0, 'k'},        {"expect-copies", 1, 0, 'c'}, {"idle-timeout", 1, 0, 'i'},
        {"max-time", 1, 0, 'm'},    {"probe-timeout", 1, 0, 'T'}, {"probe-only", 0, 0, 'o'},
        {"probe-topic", 1, 0, 'X'}, {"pub-window", 1, 0, 'w'},    {"mqtt5", 0, 0, '5'},
        {"host", 1, 0, 'H'},        {"inflight", 1, 0, 'I'},      {"lib-threads", 0, 0, 'L'},
        {"verbose", 0, 0, 'v'},     {"help", 0, 0, 'h'},          {"json", 0, 0, 'j'},
        {0, 0, 0, 0}};
    /* clang-format on */
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'P':
            opt.pub_port = atoi(optarg);
            break;
        case 'S':
            opt.sub_port = atoi(optarg);
            break;
        case 'q':
            opt.qos = atoi(optarg);
            break;
        case 'n':
            opt.count = atol(optarg);
            break;
        case 's':
            opt.size = atoi(optarg);
            break;
        case 'r':
            opt.rate = atof(optarg);
            break;
        case 't':
            opt.topics = atoi(optarg);
            break;
        case 'p':
            opt.topic_prefix = optarg;
            break;
        case 'f':
            opt.sub_filter = optarg;
            break;
        case 'k':
            opt.subs = atoi(optarg);
            break;
        case 'c':
            opt.copies = atoi(optarg);
            break;
        case 'i':
            opt.idle_timeout = atof(optarg);
            break;
        case 'm':
            opt.max_time = atof(optarg);
            break;
        case 'T':
            opt.probe_timeout = atof(optarg);
            break;
        case 'o':
            opt.probe_only = true;
            break;
        case 'X':
            opt.probe_topic = optarg;
            break;
        case 'w':
            opt.pub_window = atol(optarg);
            break;
        case '5':
            opt.protocol = 5;
            break;
        case 'H':
            opt.host = optarg;
            break;
        case 'I':
            opt.inflight = atoi(optarg);
            break;
        case 'L':
            opt.lib_threads = true;
            break;
        case 'v':
            opt.verbose = true;
            break;
        case 'j':
            opt.json = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (opt.sub_port < 0)
        opt.sub_port = opt.pub_port;
    if (opt.subs > 1)
        opt.copies = opt.subs;
    if (opt.qos < 0 || opt.qos > 2 || opt.count < 0 || opt.size < HDR_SIZE || opt.topics < 1 ||
        opt.subs < 1 || opt.copies < 1 || opt.copies > MAX_STREAMS || opt.subs > MAX_STREAMS ||
        (opt.json && (size_t)opt.size < JSON_MIN))
        usage();

    {
        uint64_t t = now_ns() ^ ((uint64_t)getpid() << 32);
        run_id = (uint32_t)(t ^ (t >> 29) ^ 0x9e3779b9u);
    }
    mosquitto_lib_init();

    /* source topics */
    char **topics = calloc((size_t)opt.topics, sizeof *topics);
    for (int i = 0; i < opt.topics; i++)
        if (asprintf(&topics[i], "%s/%d", opt.topic_prefix, i) < 0)
            die(2, "out of memory");
    const char *probe_topic = opt.probe_topic ? opt.probe_topic : topics[0];

    /* subscribers first, all SUBACKed before anything is published */
    struct mosquitto **subs = calloc((size_t)opt.subs, sizeof *subs);
    pthread_t *sub_th = calloc((size_t)opt.subs, sizeof *sub_th);
    for (int i = 0; i < opt.subs; i++) {
        char id[64];
        snprintf(id, sizeof id, "mqbench-sub-%d-%d", (int)getpid(), i);
        subs[i] = new_client(id, (void *)(intptr_t)i);
        mosquitto_connect_callback_set(subs[i], on_sub_connect);
        mosquitto_subscribe_callback_set(subs[i], on_subscribe);
        mosquitto_message_callback_set(subs[i], on_message);
        if (mosquitto_connect(subs[i], opt.host, opt.sub_port, opt.keepalive) != MOSQ_ERR_SUCCESS)
            die(2, "subscriber %d: cannot connect to %s:%d", i, opt.host, opt.sub_port);
        if (opt.lib_threads)
            mosquitto_loop_start(subs[i]);
        else if (pthread_create(&sub_th[i], NULL, sub_thread, subs[i]) != 0)
            die(2, "cannot start a thread");
    }
    char pid_s[64];
    snprintf(pid_s, sizeof pid_s, "mqbench-pub-%d", (int)getpid());
    pub = new_client(pid_s, NULL);
    mosquitto_connect_callback_set(pub, on_pub_connect);
    mosquitto_publish_callback_set(pub, on_publish);
    /* QoS > 0: our window keeps at most W publishes unacknowledged, and libmosquitto may have
     * exactly that many in flight, so it never queues: its queue walks are O(queue) per
     * publish and per PUBACK (libmosquitto 2.0), which a burst of 200,000 turns into minutes */
    if (opt.pub_window > 0)
        mosquitto_int_option(pub, MOSQ_OPT_SEND_MAXIMUM, (int)opt.pub_window);
    if (mosquitto_connect(pub, opt.host, opt.pub_port, opt.keepalive) != MOSQ_ERR_SUCCESS)
        die(2, "publisher: cannot connect to %s:%d", opt.host, opt.pub_port);

    uint64_t t_wait = now_ns();
    while (atomic_load(&subs_ready) < opt.subs || !atomic_load(&pub_connected)) {
        if (now_ns() - t_wait > 10000000000ull)
            die(2, "not connected/subscribed after 10 s (publisher %s, %d of %d subscribers ready)",
                atomic_load(&pub_connected) ? "up" : "down", atomic_load(&subs_ready), opt.subs);
        pub_service(5);
    }

    size_t psize = (size_t)opt.size;
    uint8_t *buf = calloc(1, psize);
    if (opt.json) {
        /* {"h":"<64 hex digits>","p":"<padding>"}: the padding letters as in binary mode */
        size_t pad0 = sizeof JSON_PRE - 1 + JSON_HEX + sizeof JSON_MID - 1;
        memcpy(buf, JSON_PRE, sizeof JSON_PRE - 1);
        memcpy(buf + sizeof JSON_PRE - 1 + JSON_HEX, JSON_MID, sizeof JSON_MID - 1);
        for (size_t i = pad0; i < psize - (sizeof JSON_END - 1); i++)
            buf[i] = (uint8_t)('a' + i % 26);
        memcpy(buf + psize - (sizeof JSON_END - 1), JSON_END, sizeof JSON_END - 1);
    } else {
        for (size_t i = HDR_SIZE; i < psize; i++)
            buf[i] = (uint8_t)('a' + i % 26);
    }
    struct hdr h = {.magic = MAGIC, .run_id = run_id};

    /* probe until it arrived on every copy stream */
    uint64_t t_probe = now_ns();
    bool path_up = false;
    long probes = 0;
    for (uint64_t round = 0;; round++) {
        h.flags = FLAG_PROBE;
        h.seq = round;
        h.send_ns = now_ns();
        h.topic = 0;
        if (opt.json)
            json_put_hdr(buf, &h);
        else
            memcpy(buf, &h, sizeof h);
        if (mosquitto_publish(pub, NULL, probe_topic, (int)psize, buf, opt.qos, false) == 0)
            probes++;
        uint64_t until = now_ns() + (round < 5 ? 200000000ull : 1000000000ull);
        while (now_ns() < until) {
            pthread_mutex_lock(&mu);
            int n = nprobe_streams;
            pthread_mutex_unlock(&mu);
            if (n >= opt.copies) {
                path_up = true;
                break;
            }
            pub_service(2);
        }
        if (path_up || (double)(now_ns() - t_probe) / 1e9 > opt.probe_timeout)
            break;
    }
    double probe_s = (double)(now_ns() - t_probe) / 1e9;
    if (opt.verbose)
        fprintf(stderr, "mqbench: path %s after %.3f s\n", path_up ? "up" : "NOT up", probe_s);

    long sent = 0;
    const char *stop = "complete";
    uint64_t t0 = now_ns(), t_pub_end = t0;
    if (path_up && !opt.probe_only) {
        /* let stragglers of the probe rounds drain (and be acknowledged) before measuring */
        uint64_t settle = now_ns() + 50000000ull;
        while (now_ns() < settle ||
               (opt.qos > 0 && atomic_load(&acked) < probes && now_ns() < settle + 2000000000ull))
            pub_service(2);
        long acked0 = atomic_load(&acked);
        h.flags = 0;
        uint64_t max_ns = (uint64_t)(opt.max_time * 1e9);
        double interval = opt.rate > 0 ? 1e9 / opt.rate : 0;
        bool windowed = opt.pub_window > 0 && opt.qos > 0;
        t0 = now_ns();
        first_send_ns = t0;
        for (long i = 0; i < opt.count; i++) {
            uint64_t now = now_ns();
            if (interval > 0) {
                uint64_t due = t0 + (uint64_t)(interval * (double)i);
                if (now < due) {
                    pub_service(0); /* PUBACKs */
                    now = now_ns();
                    if (now < due)
                        sleep_until(due);
                    now = now_ns();
                }
            }
            if ((i & 255) == 0 && now - t0 > max_ns) {
                stop = "cap";
                break;
            }
            if (windowed) {
                while (i - (atomic_load(&acked) - acked0) >= opt.pub_window && !pub_dead) {
                    pub_service(1);
                    if (now_ns() - t0 > max_ns)
                        break;
                }
                now = now_ns();
            } else if ((i & 63) == 0) {
                pub_service(0); /* PUBACKs, and what the socket did not take */
            }
            h.seq = (uint64_t)i;
            h.send_ns = now;
            h.topic = (uint32_t)(i % opt.topics);
            if (opt.json)
                json_put_hdr(buf, &h);
            else
                memcpy(buf, &h, sizeof h);
            int rc = mosquitto_publish(pub, NULL, topics[h.topic], (int)psize, buf, opt.qos, false);
            if (rc != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "mqbench: publish %ld failed: %s\n", i, mosquitto_strerror(rc));
                stop = "publish-error";
                break;
            }
            sent++;
        }
        t_pub_end = now_ns();
        uint64_t expected = (uint64_t)sent * (uint64_t)opt.copies;
        /* wait for everything, for silence or for the cap */
        for (;;) {
            pthread_mutex_lock(&mu);
            uint64_t u = unique_cnt;
            pthread_mutex_unlock(&mu);
            uint64_t last = atomic_load(&last_any_ns);
            uint64_t now = now_ns(); /* read after `last`: now >= last */
            if (last < t_pub_end)
                last = t_pub_end;
            if (last > now)
                last = now;
            if (u >= expected)
                break;
            if (strcmp(stop, "complete") != 0 && strcmp(stop, "cap") != 0)
                break;
            if ((double)(now - last) / 1e9 > opt.idle_timeout) {
                if (strcmp(stop, "complete") == 0)
                    stop = "idle";
                break;
            }
            if (now - t0 > max_ns) {
                stop = "cap";
                break;
            }
            pub_service(5); /* keeps writing what is left, reads PUBACKs */
        }
        atomic_store(&acked, atomic_load(&acked) - acked0);
    }

    /* results (taken under the lock: subscribers may still be delivering) */
    pthread_mutex_lock(&mu);
    uint64_t expected = (uint64_t)sent * (uint64_t)opt.copies;
    uint64_t r_received = received, r_unique = unique_cnt, r_dups = dups, r_reordered = reordered,
             r_foreign = foreign, r_extra = extra_streams;
    double elapsed = r_unique ? (double)(last_unique_ns - first_send_ns) / 1e9 : 0;
    qsort(lat, nlat, sizeof *lat, cmp_i64);
    double p50 = pct_ms(0.50), p99 = pct_ms(0.99), mx = nlat ? (double)lat[nlat - 1] / 1e6 : -1;
    int nstr = nstreams < opt.copies ? nstreams : opt.copies;
    pthread_mutex_unlock(&mu);
    long r_acked = atomic_load(&acked);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

    printf("{\"path_up\": %s, \"probe_s\": %.3f, \"sent\": %ld, \"acked\": %ld, "
           "\"expected\": %" PRIu64 ", \"received\": %" PRIu64 ", \"unique\": %" PRIu64
           ", \"lost\": %" PRIu64 ", \"dup\": %" PRIu64 ", \"reordered\": %" PRIu64
           ", \"foreign\": %" PRIu64 ", \"extra_streams\": %" PRIu64 ", \"streams\": %d"
           ", \"pub_s\": %.4f, \"elapsed_s\": %.4f, \"rate\": %.1f, \"p50_ms\": %.3f"
           ", \"p99_ms\": %.3f, \"max_ms\": %.3f, \"stop\": \"%s\", \"conn_lost\": %s, \"cpu_s\": "
           "%.3f}\n",
           path_up ? "true" : "false", probe_s, sent, opt.qos ? r_acked : sent, expected,
           r_received, r_unique, expected > r_unique ? expected - r_unique : 0, r_dups, r_reordered,
           r_foreign, r_extra, nstr, (double)(t_pub_end - t0) / 1e9, elapsed,
           elapsed > 0 ? (double)r_unique / elapsed : 0.0, p50, p99, mx,
           opt.probe_only ? "probe-only" : (path_up ? stop : "path-down"),
           atomic_load(&conn_lost) ? "true" : "false", cpu_s);
    fflush(stdout);

    /* quick exit: a clean disconnect of a client with 100k queued messages takes time */
    _exit(path_up ? 0 : 3);
}
