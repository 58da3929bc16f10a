/* mqg_tap — tap frames, filters and lines (see mqg_tap.h). */
#include "mqg_tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqg_json.h"
#include "mqg_text.h"
#include "mqg_topic.h"

static const uint8_t s_magic[4] = {'M', 'Q', 'T', '1'};

static void s_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t s_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/* ---- building ---- */

static int s_reserve(struct mqg_tap_frame *f, size_t more)
{
    size_t need = (f->len ? f->len : MQG_TAP_HDR_LEN) + more;
    if (need <= f->cap) {
        return 0;
    }
    size_t cap = f->cap ? f->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *buf = realloc(f->buf, cap);
    if (!buf) {
        return -ENOMEM;
    }
    f->buf = buf;
    f->cap = cap;
    return 0;
}

int mqg_tap_frame_add(struct mqg_tap_frame *f, uint64_t seq, const struct mqg_wire_rec *rec)
{
    if (rec->topic_len > 65535) {
        return -EINVAL;
    }
    size_t copied = rec->payload_len < MQG_TAP_PAYLOAD_MAX ? rec->payload_len : MQG_TAP_PAYLOAD_MAX;
    if (s_reserve(f, MQG_TAP_REC_HDR_LEN + rec->topic_len + copied) != 0) {
        return -ENOMEM;
    }
    if (f->count == 0) {
        f->len = MQG_TAP_HDR_LEN;
        f->first = seq;
    }
    uint8_t *p = f->buf + f->len;
    p[0] = (rec->flags & MQG_WIRE_F_RETAIN) ? 1 : 0;
    p[1] = rec->qos;
    s_put(p + 2, rec->topic_len, 2);
    s_put(p + 4, rec->payload_len > UINT32_MAX ? UINT32_MAX : rec->payload_len, 4);
    s_put(p + 8, copied, 4);
    memcpy(p + MQG_TAP_REC_HDR_LEN, rec->topic, rec->topic_len);
    if (copied) {
        memcpy(p + MQG_TAP_REC_HDR_LEN + rec->topic_len, rec->payload, copied);
    }
    f->len += MQG_TAP_REC_HDR_LEN + rec->topic_len + copied;
    f->count++;
    return 0;
}

void mqg_tap_frame_seal(struct mqg_tap_frame *f, uint64_t epoch, int64_t wall_ms)
{
    if (s_reserve(f, 0) != 0) {
        return; /* no buffer: count is 0 and there is nothing to send */
    }
    if (f->len < MQG_TAP_HDR_LEN) {
        f->len = MQG_TAP_HDR_LEN;
    }
    memcpy(f->buf, s_magic, 4);
    s_put(f->buf + 4, f->count, 4);
    s_put(f->buf + 8, epoch, 8);
    s_put(f->buf + 16, f->first, 8);
    s_put(f->buf + 24, (uint64_t)wall_ms, 8);
}

void mqg_tap_frame_reset(struct mqg_tap_frame *f)
{
    f->len = 0;
    f->count = 0;
    f->first = 0;
}

void mqg_tap_frame_free(struct mqg_tap_frame *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

/* ---- reading ---- */

int mqg_tap_open(const void *buf, size_t len, struct mqg_tap_view *v)
{
    const uint8_t *p = buf;
    if (len < MQG_TAP_HDR_LEN || memcmp(p, s_magic, 4) != 0) {
        return -EPROTO;
    }
    v->buf = p;
    v->len = len;
    v->count = (uint32_t)s_get(p + 4, 4);
    v->epoch = s_get(p + 8, 8);
    v->first = s_get(p + 16, 8);
    v->wall_ms = (int64_t)s_get(p + 24, 8);
    return 0;
}

int mqg_tap_next(const struct mqg_tap_view *v, size_t *off, struct mqg_tap_msg *m)
{
    size_t at = *off ? *off : MQG_TAP_HDR_LEN;
    if (at == v->len) {
        return 0;
    }
    if (at > v->len || v->len - at < MQG_TAP_REC_HDR_LEN) {
        return -EPROTO;
    }
    const uint8_t *p = v->buf + at;
    m->retain = (p[0] & 1) != 0;
    m->qos = p[1];
    m->topic_len = (size_t)s_get(p + 2, 2);
    m->size = (size_t)s_get(p + 4, 4);
    m->copied = (size_t)s_get(p + 8, 4);
    size_t rest = v->len - at - MQG_TAP_REC_HDR_LEN;
    if (m->copied > m->size || m->topic_len > rest || m->copied > rest - m->topic_len) {
        return -EPROTO;
    }
    m->topic = (const char *)p + MQG_TAP_REC_HDR_LEN;
    m->payload = p + MQG_TAP_REC_HDR_LEN + m->topic_len;
    *off = at + MQG_TAP_REC_HDR_LEN + m->topic_len + m->copied;
    return 1;
}

uint64_t mqg_tap_gaps_frame(struct mqg_tap_gaps *g, const struct mqg_tap_view *v)
{
    uint64_t missed = 0;
    if (g->started && g->epoch == v->epoch && v->first > g->next) {
        missed = v->first - g->next;
    }
    g->started = true;
    g->epoch = v->epoch;
    g->next = v->first + v->count;
    g->missed += missed;
    return missed;
}

/* ---- picking and printing ---- */

bool mqg_tap_match(char *const *filters, size_t n, const char *topic, size_t len)
{
    char name[MQG_TOPIC_MAX + 1];
    if (len > MQG_TOPIC_MAX) {
        return false;
    }
    memcpy(name, topic, len);
    name[len] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (mqg_topic_match(filters[i], name)) {
            return true;
        }
    }
    return false;
}

/* Bytes of the UTF-8 sequence led by b, or 0 for a byte that cannot lead one. */
static int s_seq_len(uint8_t b)
{
    return b < 0x80             ? 1
           : (b & 0xE0) == 0xC0 ? 2
           : (b & 0xF0) == 0xE0 ? 3
           : (b & 0xF8) == 0xF0 ? 4
                                : 0;
}

/* The code point of the k-byte sequence at p (continuation bytes checked), or -1. */
static long s_decode(const uint8_t *p, int k)
{
    static const uint8_t lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    long cp = p[0] & lead_mask[k];
    for (int i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    bool bad = cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF);
    return bad ? -1 : cp;
}

bool mqg_tap_printable(const uint8_t *p, size_t n, bool incomplete_ok)
{
    for (size_t i = 0; i < n;) {
        int k = s_seq_len(p[i]);
        if (k == 0) {
            return false;
        }
        if ((size_t)k > n - i) {
            return incomplete_ok && s_seq_len(p[i]) > 1; /* cut inside the last character */
        }
        long cp = s_decode(p + i, k);
        bool control = cp < 0x20 ? cp != '\t' && cp != '\n' && cp != '\r'
                                 : cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
        if (cp < 0 || control) {
            return false;
        }
        i += (size_t)k;
    }
    return true;
}

static void s_time(int64_t wall_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(wall_ms % 1000));
}

/* How much of m's payload is shown (at most max_bytes, a text cut at a character's start)
 * and whether as text. */
static size_t s_shown(const struct mqg_tap_msg *m, size_t max_bytes, bool *text)
{
    size_t n = m->copied < max_bytes ? m->copied : max_bytes;
    bool cut = n < m->size;
    *text = mqg_tap_printable(m->payload, n, cut);
    if (*text && cut) {
        size_t k = n;
        while (k > 0 && n - k < 4 && (m->payload[k - 1] & 0xC0) == 0x80) {
            k--;
        }
        /* k - 1 leads the last character: keep it only when it is complete */
        if (k > 0 && m->payload[k - 1] >= 0xC0 &&
            (size_t)s_seq_len(m->payload[k - 1]) > n - k + 1) {
            n = k - 1;
        }
    }
    return n;
}

static void s_hex(FILE *f, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], f);
        fputc(digits[p[i] & 15], f);
    }
}

/* Printable text in a line: tab, newline and carriage return as \t \n \r. */
static void s_text_line(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t') {
            fputc('\\', f);
            fputc(p[i] == '\n' ? 'n' : p[i] == '\r' ? 'r' : 't', f);
        } else {
            fputc(p[i], f);
        }
    }
}

void mqg_tap_print(FILE *f, const struct mqg_tap_fmt *fmt, int64_t wall_ms,
                   const struct mqg_tap_msg *m)
{
    char when[40];
    s_time(wall_ms, when, sizeof(when));
    bool text;
    size_t n = s_shown(m, fmt->max_bytes, &text);
    if (fmt->json) {
        fprintf(f, "{\"time\":\"%s\",\"topic\":", when);
        mqg_json_strn(f, m->topic, m->topic_len);
        fprintf(f,
                ",\"qos\":%u,\"retain\":%s,\"size\":%zu,\"encoding\":\"%s\",\"payload\":", m->qos,
                m->retain ? "true" : "false", m->size, text ? "text" : "hex");
        if (text) {
            mqg_json_strn(f, (const char *)m->payload, n);
        } else {
            fputc('"', f);
            s_hex(f, m->payload, n);
            fputc('"', f);
        }
        fprintf(f, ",\"truncated\":%s}\n", n < m->size ? "true" : "false");
        return;
    }
    char topic[4 * 64 + 4];
    const char *shown = topic;
    char *big = NULL;
    size_t need = mqg_text_escape(topic, sizeof(topic), m->topic, m->topic_len);
    if (need >= sizeof(topic) && (big = malloc(need + 1)) != NULL) {
        mqg_text_escape(big, need + 1, m->topic, m->topic_len);
        shown = big;
    }
    fprintf(f, "%s %s qos=%u retain=%d size=%zu %s ", when, shown, m->qos, m->retain ? 1 : 0,
            m->size, text ? "text" : "hex");
    free(big);
    if (text) {
        s_text_line(f, m->payload, n);
    } else {
        s_hex(f, m->payload, n);
    }
    if (n < m->size) {
        fprintf(f, " (+%zu bytes)", m->size - n);
    }
    fputc('\n', f);
}
