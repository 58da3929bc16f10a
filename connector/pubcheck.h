/* pubcheck — would the broker take this PUBLISH? Decided before it is sent.
 *
 * Pure logic for the connector (no I/O, no state). A packet larger than MQTT allows, or than
 * the broker announced (MQTT 5 CONNACK Maximum Packet Size), makes the broker close the
 * connection instead of refusing the one message; re-sent after the reconnect, it costs the
 * connection again, and the messages in flight with it. The topic has its own check
 * (mqg_topic_name_fault, strict).
 */
#ifndef CONNECTOR_PUBCHECK_H
#define CONNECTOR_PUBCHECK_H

#include <stddef.h>
#include <stdint.h>

/* MQTT's largest Remaining Length (a four-byte Variable Byte Integer), 3.1.1 and 5. */
#define PC_MAX_REMAINING 268435455u

enum pc_size {
    PC_SIZE_OK = 0,
    PC_SIZE_MQTT,   /* beyond what MQTT can encode */
    PC_SIZE_BROKER, /* beyond the broker's Maximum Packet Size */
};

/* Bytes of the PUBLISH packet paho writes for this message: fixed header, topic (2 + topic_len),
 * packet id for QoS > 0, for MQTT 5 (version 5) an empty property list, payload. Bytes after
 * the fixed header go into *remaining if not NULL. */
uint64_t pc_publish_size(int version, size_t topic_len, size_t payload_len, int qos,
                         uint64_t *remaining);

/* Whether the message fits: PC_SIZE_OK, PC_SIZE_MQTT (Remaining Length above
 * PC_MAX_REMAINING) or PC_SIZE_BROKER (the whole packet above max_packet; 0 = the broker
 * announced no maximum). *size gets pc_publish_size(). */
enum pc_size pc_size_check(int version, size_t topic_len, size_t payload_len, int qos,
                           uint32_t max_packet, uint64_t *size);

#endif
