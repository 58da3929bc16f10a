/* pubcheck — PUBLISH packet size against MQTT's and the broker's limits (see pubcheck.h). */
#include "pubcheck.h"

/* Bytes of the Variable Byte Integer for n (MQTT 2.2.3 / 1.5.5). */
static unsigned s_varint_len(uint64_t n)
{
    unsigned len = 1;
    while (n >= 128) {
        n /= 128;
        len++;
    }
    return len;
}

uint64_t pc_publish_size(int version, size_t topic_len, size_t payload_len, int qos,
                         uint64_t *remaining)
{
    uint64_t rem = 2 + (uint64_t)topic_len + (qos > 0 ? 2 : 0) + (version == 5 ? 1 : 0) +
                   (uint64_t)payload_len;
    if (remaining) {
        *remaining = rem;
    }
    return 1 + s_varint_len(rem) + rem;
}

enum pc_size pc_size_check(int version, size_t topic_len, size_t payload_len, int qos,
                           uint32_t max_packet, uint64_t *size)
{
    uint64_t rem;
    *size = pc_publish_size(version, topic_len, payload_len, qos, &rem);
    if (rem > PC_MAX_REMAINING) {
        return PC_SIZE_MQTT;
    }
    if (max_packet && *size > max_packet) {
        return PC_SIZE_BROKER;
    }
    return PC_SIZE_OK;
}
