"""it_badinput — messages that can never be delivered are dropped alone, never the others.

From the source broker: topics that are not valid topic names (invalid UTF-8, NUL, surrogates,
overlong forms, '+', '#'), sent by a fake broker among good messages in one TCP write.
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
        self.assertEqual([p for (_, p, _, _) in got], [b"good-%d" % i for i in range(good)])
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
