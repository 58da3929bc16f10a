"""it_faults — brokers that restart, flap or misbehave, and a gateway that keeps its data.

A target broker restarted again and again under a QoS 1 stream: the connector never crashes
(under ASan too, with the paho modules mqgate ships) and no message is lost. A broker that
accepts the connection and drops it right after its CONNACK: retried less and less often, and
logged twice, not at every attempt.
"""
import os
import signal
import struct
import time
import unittest

from harness import Broker, GatewayTest, bridge_service, wait_for
from it_process import Streamer, seqs


class FlappingBrokerTest(GatewayTest):

    def test_target_broker_restarted_under_qos1_load_no_crash_no_loss(self):
        # the cloud broker keeps its sessions across restarts (persistence, saved at SIGTERM),
        # so every message it acknowledged reaches the sink's persistent session
        cloud = Broker(self.work, "cloudp", persistent=True)
        self.addCleanup(cloud.stop)
        # at debug level: a connection that ends within 10 s of coming up (as most here do)
        # counts as a failed attempt, and a CONN-UP right after one (when the broker is back
        # before the next attempt) is logged at debug only
        gw = self.gateway(bridge_service(), {"plantPort": self.b["plant"].port,
                                             "cloudPort": cloud.port},
                          settings='log = { level = "debug"; };')
        self.dump_log_on_failure(gw)
        self.assertIn("lib/mqgate/mqgate-paho-plain.so", gw.log_text(),
                      "the test must run the paho module mqgate ships")
        sink = self.client(cloud.port, ["cloud/line1/temperature"], client_id="sink",
                           clean=False)
        sink.c.reconnect_delay_set(0.05, 0.2)
        # a SIGKILLed broker forgets the sink's session: subscribe again at every connect
        sink.c.on_connect = lambda c, u, f, rc: c.subscribe("cloud/line1/temperature", 1)
        pub = self.client("plant")
        st = Streamer(pub, "factory/line1/temperature", rate=2000)
        self.addCleanup(st.stop)
        # while the broker is down the cloud connector queues; once it is back, the connector
        # drains that backlog a full window at a time, and the next stop hits those writes
        # (each of these short connections counts as a failed attempt, so the connector waits
        # longer and longer before it reconnects, up to 60 s: every fourth one is left up for
        # 10 s, after which its backoff starts over)
        time.sleep(0.5)
        for i in range(10):
            ups = gw.log_count("CONN-UP: connected")
            cloud.proc.send_signal(signal.SIGKILL if i % 2 == 0 else signal.SIGTERM)
            cloud.proc.wait(5)
            time.sleep(0.7)
            cloud.start()
            wait_for(lambda: gw.log_count("CONN-UP: connected") > ups, 65,
                     what="the cloud connector back")
            time.sleep(10.5 if i % 4 == 3 else 0.01 * (i % 5))
        time.sleep(1.5)
        st.stop()
        n = st.sent
        # the SIGKILLed broker loses what it had acknowledged but not yet saved: those are
        # its losses, not mqgate's; count only what the connector could have lost itself
        def cloud_row():
            return {r["name"]: r for r in gw.status()}.get("itbridge/cloud", {})

        def confirmed():
            return int(cloud_row().get("counters", {}).get("out", "0"))

        # the tail of the stream may still be on its way through the router: wait for it
        wait_for(lambda: confirmed() >= n, 30,
                 what=lambda: "%d messages confirmed by the target broker (have %d)" % (n, confirmed()))
        row = cloud_row()
        self.assertEqual(row["restarts"], 0, "the cloud connector must not crash")
        self.assertNotIn("double free", gw.log_text())
        self.assertEqual(row["counters"]["dropped"], "0")
        # after the last restart the stream goes on: everything published since then arrives
        last = n - 1
        wait_for(lambda: last in set(seqs(sink)), 20, what="the last message")

FLAP = """
metadata:
  name: Flap
parameters:
  fakePort: {type: integer}
resources:
  fake:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref fakePort, reconnectPeriod: 150}
  source:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref fake
      subscribe: {topic: "a/#"}
"""


class DroppedAfterConnackTest(GatewayTest):
    brokers = ()

    def test_broker_dropping_us_after_connack_is_retried_with_backoff_and_few_log_lines(self):
        fake = self.fake_broker(close_after_connack=True)
        gw = self.gateway(FLAP, {"fakePort": fake.port}, wait_connectors=None)
        self.dump_log_on_failure(gw)
        # With the backoff reset by every CONNACK (as before), every pause before the next
        # attempt lies in [150, 450) ms, reconnectPeriod to 3 times that (paho adds about 1 s
        # before its CONNECT: one connection every 1.3 s, forever). Counted as failed attempts,
        # the pauses grow with jitter as for failed connects: one of 600 ms or more (4 times
        # reconnectPeriod) comes after 3 attempts in the median, later than the 20th in 1 of
        # 80,000 runs.
        def long_pause():
            d = fake.reconnect_delays()
            if len(d) >= 20 and max(d[:20]) < 0.6:
                self.fail("20 pauses, none of 600 ms or more: %s" % ["%.3f" % x for x in d])
            return any(x >= 0.6 for x in d)

        wait_for(long_pause, 40, step=0.1, what="a pause of 600 ms or more before reconnecting")
        n = len(fake.connect_times())
        self.assertGreaterEqual(n, 2)
        time.sleep(0.5)
        # the first connection (NOTICE) and the first loss (WARN); the repeats at DEBUG only
        lines = [ln for ln in gw.log_text().splitlines()
                 if "flap/fake" in ln and " DEBUG " not in ln]
        about_it = [ln for ln in lines if "CONN-" in ln or "SUB" in ln]
        self.assertLessEqual(len(about_it), 2, about_it)
        self.assertIn("NOTICE CONN-UP", about_it[0])
        self.assertIn("WARN CONN-LOST", about_it[1])
        self.assertIn("counts as a failed attempt", about_it[1])
        self.assertEqual({r["name"]: r for r in gw.status()}["flap/fake"]["restarts"], 0)

if __name__ == "__main__":
    unittest.main(verbosity=2)
