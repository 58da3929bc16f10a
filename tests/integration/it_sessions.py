"""it_sessions — MQTT protocol versions and persistent sessions against real mosquitto.

- protocolVersion 3 (MQTT 3.1), 4 (3.1.1) and 5 each carry data end to end;
- clean: false: what the plant publishes while mqgate is stopped is queued by the broker for
  mqgate's session and bridged after mqgate starts again (the startup buffer holds it until
  the routes are ready), in order, none lost.
"""
import struct
import time
import unittest

from harness import GatewayTest, bridge_service, wait_for


def with_props(service, conn, lines):
    """Add connection properties to connection `conn` ("plant" or "cloud") of the bridge."""
    anchor = "port: !ref %sPort\n" % conn
    return service.replace(anchor, anchor + "".join("        %s\n" % l for l in lines), 1)


class SessionTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def test_protocol_versions_3_4_5(self):
        for plant_v, cloud_v in ((3, 5), (5, 3), (4, 4)):
            with self.subTest(plant=plant_v, cloud=cloud_v):
                svc = with_props(bridge_service(), "plant", ["protocolVersion: %d" % plant_v])
                svc = with_props(svc, "cloud", ["protocolVersion: %d" % cloud_v])
                gw = self.gateway(svc, self.ports(), name="gwv%d%d" % (plant_v, cloud_v))
                self.dump_log_on_failure(gw)
                sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
                pub = self.client("plant")
                for i in range(50):
                    pub.publish("factory/line1/temperature", b"v%d" % i, qos=1)
                sink.wait_count(50, 15)
                self.assertEqual([p for (_, p, _, _) in sink.received()],
                                 [b"v%d" % i for i in range(50)])
                rc, _ = gw.stop()
                self.assertEqual(rc, 0)
                sink.close()
                pub.close()
        # mosquitto logs the protocol of each client: p1 = MQTT 3.1, p2 = 3.1.1, p5 = 5
        with open(self.b["plant"].log) as f:
            plant_log = f.read()
        with open(self.b["cloud"].log) as f:
            cloud_log = f.read()
        # (default client ids: <serviceId>-<connectionId>-<8 hex>, formats.md)
        for v, tag in ((3, "p1"), (4, "p2"), (5, "p5")):
            self.assertRegex(plant_log, r"as itbridge-plant-[0-9a-f]{8} \(%s," % tag,
                             "plant protocolVersion %d" % v)
            self.assertRegex(cloud_log, r"as itbridge-cloud-[0-9a-f]{8} \(%s," % tag,
                             "cloud protocolVersion %d" % v)

    def test_persistent_session_delivers_what_arrived_while_stopped(self):
        for v in (4, 5):
            with self.subTest(protocolVersion=v):
                svc = with_props(bridge_service(), "plant",
                                 ["clean: false", "clientId: mqgate-it-plant-v%d" % v,
                                  "protocolVersion: %d" % v])
                name = "gwp%d" % v
                gw = self.gateway(svc, self.ports(), name=name)
                self.dump_log_on_failure(gw)
                rc, _ = gw.stop()
                self.assertEqual(rc, 0)
                # mqgate is away: the broker queues QoS 1 messages for its session
                pub = self.client("plant")
                n = 2000
                for i in range(n):
                    pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1,
                                wait=(i == n - 1))
                sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
                gw.start(wait_connectors=2)
                sink.wait_count(n, 30)
                time.sleep(0.3)
                seqs = [struct.unpack(">I", p)[0] for (_, p, _, _) in sink.received()]
                self.assertEqual(seqs, list(range(n)), "all of them, once each, in order")
                self.assertIn("session resumed", gw.log_text())
                gw.stop()
                sink.close()
                pub.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
