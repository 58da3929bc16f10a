"""it_bridge — data moves between two real mosquitto brokers through the real mqgate.

subscribe endpoint (plant) -> mapping -> write endpoint (cloud), and mappings that subscribe and
publish directly on a connection with named wildcards.
"""
import os
import shutil
import struct
import time
import unittest

from harness import BIN, GatewayTest, bridge_service, wait_for


class BridgeTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def _numbered_stream(self, pub, sink, n, pad, timeout):
        """Publish n QoS 1 messages numbered 0..n-1 (4-byte prefix + pad bytes) on the plant
        temperature topic, wait for n at the sink, give duplicates 0.5 s to show, return all."""
        infos = [pub.publish("factory/line1/temperature", struct.pack(">I", i) + b"x" * pad,
                             qos=1, wait=False) for i in range(n)]
        for info in infos:
            info.wait_for_publish()
        sink.wait_count(n, timeout)
        time.sleep(0.5)  # any duplicate would arrive now
        return sink.received()

    def test_qos1_10000_messages_no_loss_no_dup_in_order(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        n = 10000
        got = self._numbered_stream(pub, sink, n, 60, 60)
        seqs = [struct.unpack(">I", p[:4])[0] for (_, p, _, _) in got]
        self.assertEqual(len(seqs), n, "lost or duplicated messages")
        self.assertEqual(seqs, list(range(n)), "messages reordered")
        self.assertTrue(all(q == 1 for (_, _, q, _) in got))

    def _burst_through_small_queues(self, settings, n, pad):
        """n numbered QoS 1 messages of 4 + pad bytes through queues bounded by settings: all
        arrive, in order, and nothing is dropped anywhere."""
        gw = self.gateway(bridge_service(), self.ports(), settings=settings)
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        got = self._numbered_stream(pub, sink, n, pad, 90)
        seqs = [struct.unpack(">I", p[:4])[0] for (_, p, _, _) in got]
        self.assertEqual(seqs, list(range(n)), "messages lost, duplicated or reordered")
        self.assertTrue(all(len(p) == 4 + pad for (_, p, _, _) in got))
        for needle in ("OUT-DROP", "IN-DROP", "ROUTER-QUEUE-FULL"):
            self.assertNotIn(needle, gw.log_text())

    def test_burst_beyond_every_queue_is_slowed_not_dropped(self):
        # queues of 50 messages and one publish in flight: the cloud side is much slower than
        # the plant side, so 3000 messages overflow every queue unless flow control holds the
        # sources back (before it, the connector dropped the oldest: OUT-DROP)
        self._burst_through_small_queues(
            "connector = { outbound_queue_max = 50; max_inflight = 1; };\n"
            "router = { queue_max = 50; };", 3000, 200)

    def test_large_burst_beyond_byte_bounds_is_slowed_not_dropped(self):
        # queues of 64 KiB (bytes, not messages) and 300 messages of 16 KB: flow control by
        # bytes holds the sources back; nothing is dropped
        self._burst_through_small_queues(
            "connector = { outbound_queue_max_bytes = 65536; max_inflight = 2; };\n"
            "router = { queue_max_bytes = 65536; };", 300, 16000)

    def _qos1_roundtrip(self, gw, n):
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        got = self._numbered_stream(pub, sink, n, 16, 30)
        seqs = [struct.unpack(">I", p[:4])[0] for (_, p, _, _) in got]
        self.assertEqual(seqs, list(range(n)), "messages lost, duplicated or reordered")

    def test_connector_uses_mqgate_paho_build_next_to_its_binary(self):
        plugin = os.path.realpath(os.path.join(BIN, "..", "lib", "mqgate", "mqgate-paho-plain.so"))
        if not os.path.exists(plugin):
            self.skipTest("built without MQG_PAHO_PLUGIN (no static paho archives)")
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        self._qos1_roundtrip(gw, 500)
        libs = [ln for ln in gw.log_text().splitlines() if "LINK-LIB" in ln]
        self.assertEqual(len(libs), 2, "one LINK-LIB line per connector")
        for ln in libs:
            self.assertIn("lib/mqgate/mqgate-paho-plain.so", ln)

    def test_without_mqgate_paho_build_the_system_paho_is_used(self):
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir)
        for name in ("mqgate", "mqgate-router", "mqgate-connector"):
            shutil.copy2(os.path.join(BIN, name), bindir)
        gw = self.gateway(bridge_service(), self.ports(), bin_dir=bindir)
        self.dump_log_on_failure(gw)
        self._qos1_roundtrip(gw, 500)
        libs = [ln for ln in gw.log_text().splitlines() if "LINK-LIB" in ln]
        self.assertEqual(len(libs), 2, "one LINK-LIB line per connector")
        for ln in libs:
            self.assertIn("MQTT library: libpaho-mqtt3a.so.1", ln)

    def test_binary_empty_and_1mb_payloads_arrive_byte_for_byte(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        every_byte = bytes(range(256)) * 4
        nul_heavy = b"\x00" * 100 + b"\xff\xfe\x00\x01"
        big = os.urandom(1024 * 1024)
        payloads = [every_byte, b"", nul_heavy, big, b"\x00"]
        for p in payloads:
            pub.publish("factory/line1/temperature", p, qos=1)
        sink.wait_count(len(payloads), 30)
        got = [p for (_, p, _, _) in sink.received()]
        self.assertEqual(len(got), len(payloads))
        for want, have in zip(payloads, got):
            self.assertEqual(len(want), len(have))
            self.assertEqual(want, have)

    def test_qos2_and_retain_as_configured(self):
        gw = self.gateway(bridge_service(qos=2, retain="true"), self.ports())
        self.dump_log_on_failure(gw)
        pub = self.client("plant")
        pub.publish("factory/line1/temperature", b"21.5", qos=1)
        # a subscriber that arrives later still gets it: it was published retained
        time.sleep(0.3)

        def retained():
            c = self.client("cloud", ["cloud/line1/temperature"], qos=2)
            try:
                wait_for(lambda: c.count() >= 1, 2, what="retained message")
                return c.received()[0]
            except AssertionError:
                return None
            finally:
                c.close()

        topic, payload, qos, retain = wait_for(retained, 10, step=0.2, what="retained copy")
        self.assertEqual(payload, b"21.5")
        self.assertEqual(qos, 2)
        self.assertTrue(retain)

    def test_qos0_path(self):
        gw = self.gateway(bridge_service(qos=0), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=0)
        pub = self.client("plant")
        for i in range(100):
            pub.publish("factory/line1/temperature", b"%d" % i, qos=0)
        sink.wait_count(100, 20)  # loopback, low rate: QoS 0 arrives too
        self.assertEqual([p for (_, p, _, _) in sink.received()],
                         [b"%d" % i for i in range(100)])
        self.assertTrue(all(q == 0 for (_, _, q, _) in sink.received()))


OVERLAP = """
metadata:
  name: Overlap
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
      connection: {host: 127.0.0.1, port: !ref cloudPort}
  machineTemp:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      subscribe: {topic: factory/machine1/temperature, qos: 1}
  factoryAll:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      subscribe: {topic: "factory/#", qos: 1}
  mirror:
    type: Cybus::Mapping
    properties:
      mappings:
        # one mapping, two overlapping subscriptions: still one copy per message
        - subscribe:
            - {topic: "factory/machine1/temperature", connection: !ref plant, qos: 1}
            - {topic: "factory/#", connection: !ref plant, qos: 1}
          publish: {topic: "mirror/all", connection: !ref cloud, qos: 1}
        # named wildcards keep the structure of the topic
        - subscribe: {topic: "factory/+machine/#rest", connection: !ref plant, qos: 1}
          publish: {topic: "plant/{machine}/$rest", connection: !ref cloud, qos: 1}
        # two endpoints overlap too: each is its own target, one copy each
        - subscribe: {endpoint: !ref machineTemp}
          publish: {topic: "ep/machine", connection: !ref cloud, qos: 1}
        - subscribe: {endpoint: !ref factoryAll}
          publish: {topic: "ep/all", connection: !ref cloud, qos: 1}
        # filters that overlap without either covering the other: still one copy
        - subscribe:
            - {topic: "line/+/temp", connection: !ref plant, qos: 1}
            - {topic: "line/7/+", connection: !ref plant, qos: 1}
          publish: {topic: "join/out", connection: !ref cloud, qos: 1}
"""


class RoutingTest(GatewayTest):
    # MQTT allows a broker to send one message once per matching subscription of a client;
    # make the plant broker do so, as some brokers do
    broker_extra = {"plant": "allow_duplicate_messages true"}

    def test_overlapping_subscriptions_deliver_one_copy_per_target(self):
        gw = self.gateway(OVERLAP, {"plantPort": self.b["plant"].port,
                                    "cloudPort": self.b["cloud"].port})
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["#"], qos=1)
        pub = self.client("plant")
        for i in range(50):
            pub.publish("factory/machine1/temperature", b"t%d" % i, qos=1)
        pub.publish("factory/machine2/pressure/raw", b"p", qos=1)
        for t in ("line/7/temp", "line/8/temp", "line/7/pressure", "line/8/pressure"):
            pub.publish(t, t.encode(), qos=1)
        # per machine1 message: mirror/all, plant/machine1/temperature, ep/machine, ep/all
        # plus for the machine2 message: mirror/all, plant/machine2/pressure/raw, ep/all
        sink.wait_count(50 * 4 + 3 + 3, 20)
        time.sleep(0.5)
        got = sink.received()
        by_topic = {}
        for (t, p, _, _) in got:
            by_topic.setdefault(t, []).append(p)
        self.assertEqual(by_topic["mirror/all"], [b"t%d" % i for i in range(50)] + [b"p"])
        self.assertEqual(by_topic["plant/machine1/temperature"], [b"t%d" % i for i in range(50)])
        self.assertEqual(by_topic["plant/machine2/pressure/raw"], [b"p"])
        self.assertEqual(by_topic["ep/machine"], [b"t%d" % i for i in range(50)])
        self.assertEqual(by_topic["ep/all"], [b"t%d" % i for i in range(50)] + [b"p"])
        # line/8/pressure matches neither filter of that mapping: not delivered
        self.assertEqual(by_topic["join/out"], [b"line/7/temp", b"line/8/temp",
                                                b"line/7/pressure"])
        self.assertEqual(len(got), 50 * 4 + 3 + 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
