"""it_badinput — messages that can never be delivered are dropped alone, never the others.

From the source broker: topics that are not valid topic names (invalid UTF-8, NUL, surrogates,
overlong forms, '+', '#'), sent by a fake broker among good messages in one TCP write. Towards
the target broker (a real mosquitto): topics it would close the connection for (U+0001, U+FFFE
rendered from a named wildcard) and a packet above its MQTT 5 Maximum Packet Size.
"""
import unittest

from harness import GatewayTest, mqtt_publish, wait_for

FAKE_TO_CLOUD = """
metadata:
  name: Bad Input
parameters:
  fakePort: {type: integer}
  cloudPort: {type: integer}
resources:
  fake:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref fakePort}
  cloud:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref cloudPort, reconnectPeriod: 200}
  fromFake:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe: {topic: "in/+name", connection: !ref fake, qos: 1}
          publish: {topic: "out/{name}", connection: !ref cloud, qos: 1}
"""

# not topic names at all: MQTT's own rule, which the router's wire decoder enforces too
BAD_TOPICS = [
    b"in/\xff",            # not UTF-8
    b"in/a\x00b",          # NUL
    b"in/\xed\xa0\x80",    # a surrogate (U+D800)
    b"in/\xc0\xaf",        # an overlong '/'
    b"in/a+b",             # wildcards
    b"in/#",
    b"in/x\xe2\x82",       # a truncated sequence
]
SECRET = b"payload-never-logged"


class InvalidTopicFromBrokerTest(GatewayTest):
    brokers = ("cloud",)

    def test_bad_topics_are_dropped_alone_counted_and_warned_once(self):
        good = 16
        bad = list(BAD_TOPICS)

        def burst(v5):
            # good and bad interleaved, QoS 0 and 1, all in one TCP write
            pkts, pid = [], 1
            for i in range(good):
                qos = i % 2
                pkts.append(mqtt_publish(b"in/good", b"good-%d" % i, qos, pid, v5))
                pid += qos
                if i % 2 == 0 and bad:
                    pkts.append(mqtt_publish(bad.pop(0), SECRET, (i // 2) % 2, pid, v5))
                    pid += (i // 2) % 2
            return b"".join(pkts)

        fake = self.fake_broker(burst=burst)
        sink = self.client("cloud", ["out/#"], qos=1)
        gw = self.gateway(FAKE_TO_CLOUD, {"fakePort": fake.port,
                                          "cloudPort": self.b["cloud"].port})
        self.dump_log_on_failure(gw)
        sink.wait_count(good, 15)
        got = sink.received()
        # every good message, each once, in order per QoS: MQTT orders a topic's messages per
        # QoS level only, and mqgate sends QoS 0 ones on while QoS 1 ones are read back from
        # the journal when the router first answers (docs/delivery.md §2.3)
        payloads = [p for (_, p, _, _) in got]
        self.assertEqual(sorted(payloads), sorted(b"good-%d" % i for i in range(good)))
        for q in (0, 1):
            self.assertEqual([p for p in payloads if int(p.split(b"-")[1]) % 2 == q],
                             [b"good-%d" % i for i in range(q, good, 2)])
        self.assertTrue(all(t == "out/good" for (t, _, _, _) in got))

        def row():
            r = {r["name"]: r for r in gw.status()}.get("badinput/fake")
            return r if r and r["counters"].get("invalid") == str(len(BAD_TOPICS)) else None

        r = wait_for(row, 5, what="invalid=%d in the status" % len(BAD_TOPICS))
        self.assertEqual(r["restarts"], 0)
        self.assertEqual(r["counters"]["dropped"], str(len(BAD_TOPICS)))
        # every QoS 1 message was acknowledged to the broker, the bad ones too (they can never
        # be delivered; the broker must not send them again)
        n_qos1 = good // 2 + sum((i // 2) % 2 for i in range(0, 2 * len(BAD_TOPICS), 2))
        wait_for(lambda: len(fake.acked()) == n_qos1, 5, what="%d PUBACKs" % n_qos1)
        log = gw.log_text()
        warns = [ln for ln in log.splitlines() if "WARN IN-BAD-TOPIC" in ln]
        self.assertEqual(len(warns), 1, warns)
        self.assertIn("not valid UTF-8", warns[0])  # the first one, in\xff
        self.assertIn("at byte 3 of 'in/\\xff'", warns[0])
        self.assertNotIn(SECRET.decode(), log)
        self.assertNotIn("ROUTER-MALFORMED", log)
        self.assertIn("malformed=0", [ln for ln in open(gw.rundir + "/gw/status")
                                      if ln.startswith("router")][0])


class UnpublishableTopicTest(GatewayTest):
    brokers = ("cloud",)

    def test_topic_the_broker_refuses_is_dropped_alone_no_reconnect(self):
        # U+0001 and U+FFFE are valid for MQTT's receiver rule (so the source side passes them
        # on), but mosquitto closes the connection of a client that publishes them
        topics = [b"a", b"\x01b", b"c", b"\xef\xbf\xbe", b"d"]

        def burst(v5):
            pkts = []
            for i, t in enumerate(topics):
                pkts += [mqtt_publish(b"in/" + t, b"m%d-%d" % (i, k), 1, 10 * i + k + 1, v5)
                         for k in range(20)]
            return b"".join(pkts)

        fake = self.fake_broker(burst=burst)
        sink = self.client("cloud", ["out/#"], qos=1)
        gw = self.gateway(FAKE_TO_CLOUD, {"fakePort": fake.port,
                                          "cloudPort": self.b["cloud"].port})
        self.dump_log_on_failure(gw)
        sink.wait_count(60, 15)
        got = sink.received()
        self.assertEqual(sorted(set(t for (t, _, _, _) in got)), ["out/a", "out/c", "out/d"])
        for i in (0, 2, 4):
            self.assertEqual([p for (_, p, _, _) in got if p.startswith(b"m%d-" % i)],
                             [b"m%d-%d" % (i, k) for k in range(20)])

        def row():
            r = {r["name"]: r for r in gw.status()}.get("badinput/cloud")
            return r if r and r["counters"].get("badtopic") == "40" else None

        r = wait_for(row, 5, what="badtopic=40 in the status")
        self.assertEqual(r["counters"]["toolarge"], "0")
        log = gw.log_text()
        self.assertNotIn("CONN-LOST", log)
        self.assertNotIn("PUB-FAIL", log)
        self.assertEqual(log.count("CONN-UP"), 2)
        warns = [ln for ln in log.splitlines() if "WARN PUB-BAD-TOPIC" in ln]
        self.assertEqual(len(warns), 1, warns)
        self.assertIn("control character", warns[0])


BRIDGE_V5 = """
metadata:
  name: Big Packets
parameters:
  plantPort: {type: integer}
  cloudPort: {type: integer}
resources:
  plant:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref plantPort}
  cloud:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref cloudPort, protocolVersion: 5,
                   reconnectPeriod: 200}
  toCloud:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe: {topic: "in/#", connection: !ref plant, qos: 1}
          publish: {topic: "out/x", connection: !ref cloud, qos: 1}
"""


class MaximumPacketSizeTest(GatewayTest):
    broker_extra = {"cloud": "max_packet_size 10000"}

    def test_message_above_the_brokers_maximum_is_dropped_alone_no_reconnect(self):
        gw = self.gateway(BRIDGE_V5, {"plantPort": self.b["plant"].port,
                                      "cloudPort": self.b["cloud"].port})
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["out/x"], qos=1)
        pub = self.client("plant")
        # a PUBLISH of "out/x" at QoS 1 with MQTT 5 is 13 bytes + payload: 9987 fits exactly
        sizes = [10] * 5 + [9987, 9988, 20000] + [10] * 5
        for i, n in enumerate(sizes):
            pub.publish("in/x", (b"%02d" % i) + b"x" * (n - 2), qos=1)
        sink.wait_count(len(sizes) - 2, 15)

        def row():
            r = {r["name"]: r for r in gw.status()}.get("bigpackets/cloud")
            return r if r and r["counters"].get("toolarge") == "2" else None

        wait_for(row, 5, what="toolarge=2 in the status")
        got = [p[:2] for (_, p, _, _) in sink.received()]
        self.assertEqual(got, [b"%02d" % i for i in range(len(sizes)) if i not in (6, 7)])
        log = gw.log_text()
        self.assertNotIn("CONN-LOST", log)
        self.assertNotIn("PUB-FAIL", log)
        warns = [ln for ln in log.splitlines() if "WARN PUB-TOO-LARGE" in ln]
        self.assertEqual(len(warns), 1, warns)
        self.assertIn("10001 bytes", warns[0])
        self.assertIn("maximum packet size (10000 bytes)", warns[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
