"""it_faults — brokers that restart, flap or misbehave, and a gateway that keeps its data.

A target broker restarted again and again under a QoS 1 stream: the connector never crashes
(under ASan too, with the paho modules mqgate ships) and no message is lost.
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
        gw = self.gateway(bridge_service(), {"plantPort": self.b["plant"].port,
                                             "cloudPort": cloud.port})
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
        time.sleep(0.5)
        for i in range(10):
            ups = gw.log_count("CONN-UP")
            cloud.proc.send_signal(signal.SIGKILL if i % 2 == 0 else signal.SIGTERM)
            cloud.proc.wait(5)
            time.sleep(0.7)
            cloud.start()
            wait_for(lambda: gw.log_count("CONN-UP") > ups, 15, what="the cloud connector back")
            time.sleep(0.01 * (i % 5))
        time.sleep(1.5)
        st.stop()
        n = st.sent
        # the SIGKILLed broker loses what it had acknowledged but not yet saved: those are
        # its losses, not mqgate's; count only what the connector could have lost itself
        rows = lambda: {r["name"]: r for r in gw.status()}
        wait_for(lambda: rows().get("itbridge/cloud", {}).get("counters", {}).get("queued") == "0",
                 30, what="the cloud connector to drain its queue")
        row = rows()["itbridge/cloud"]
        self.assertEqual(row["restarts"], 0, "the cloud connector must not crash")
        self.assertNotIn("double free", gw.log_text())
        self.assertEqual(row["counters"]["dropped"], "0")
        # after the last restart the stream goes on: everything published since then arrives
        last = n - 1
        wait_for(lambda: last in set(seqs(sink)), 20, what="the last message")
        out = int(row["counters"]["out"])
        self.assertGreaterEqual(out, n, "every message confirmed by the target broker")


if __name__ == "__main__":
    unittest.main(verbosity=2)
