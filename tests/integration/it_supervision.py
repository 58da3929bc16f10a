"""it_supervision — the supervisor's restart policy and the router's defences.

- a child that exits with the configuration-error code (78) is not restarted in a loop;
- a child that keeps crashing is restarted with growing delays, then marked failed;
- a hung child (stopped, no heartbeat) is killed and restarted;
- a malformed internal message is counted and dropped, and routing goes on.

The first two use a copy of the real binaries in which mqgate-connector is replaced by a
small script that exits at once: the supervisor under test is the real one.
"""
import os
import re
import shutil
import signal
import struct
import time
import unittest

import zmq

from harness import (BIN, GatewayTest, Gateway, bridge_service, pid_alive, run_mqgate,
                     wait_for)


class SupervisionTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def fake_bin(self, exit_code):
        """A bin dir with the real mqgate and router, and a connector that exits at once."""
        d = os.path.join(self.work, "bin%d" % exit_code)
        os.makedirs(d)
        for name in ("mqgate", "mqgate-router"):
            shutil.copy2(os.path.join(BIN, name), d)
        with open(os.path.join(d, "mqgate-connector"), "w") as f:
            f.write("#!/bin/sh\necho 'fake connector exits %d' >&2\nexit %d\n"
                    % (exit_code, exit_code))
        os.chmod(os.path.join(d, "mqgate-connector"), 0o755)
        return d

    def start_with_bin(self, bindir, settings=""):
        gw = Gateway(self.work, bridge_service(), self.ports(), settings, "gw%s" % bindir[-2:],
                     bin_dir=bindir)
        self.addCleanup(self.assert_no_sanitizer_reports, gw)
        self.addCleanup(gw.kill_all)
        self.dump_log_on_failure(gw)
        gw.start()
        return gw

    def test_configuration_error_exit_is_not_restarted(self):
        gw = self.start_with_bin(self.fake_bin(78))
        wait_for(lambda: gw.log_count("CHILD-CONFIG-ERROR") >= 2, 10,
                 what="both connectors reported as configuration errors")
        time.sleep(2.0)
        self.assertEqual(gw.log_count("fake connector exits 78"), 2, "started once each, no loop")
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["itbridge/plant"]["state"], "config")
        self.assertEqual(rows["router"]["state"], "running")
        rc, took = gw.stop()
        self.assertEqual(rc, 0)

    def test_crashing_child_backs_off_then_is_marked_failed(self):
        settings = "restart = { backoff_ms = 100; max = 4; window_s = 60; failed_retry_s = 3600; };"
        gw = self.start_with_bin(self.fake_bin(1), settings)
        wait_for(lambda: gw.log_count("CHILD-FAILED") >= 2, 20, what="both connectors failed")
        starts = gw.log_count("fake connector exits 1")
        time.sleep(1.5)
        self.assertEqual(gw.log_count("fake connector exits 1"), starts, "no restarts once failed")
        self.assertEqual(starts, 8, "4 crashes per connector before 'failed'")
        delays = [int(l.split(" in ")[1].split(" ms")[0]) for l in gw.log_text().splitlines()
                  if "CHILD-RESTART" in l and "plant" in l]
        self.assertEqual(len(delays), 3)
        self.assertTrue(all(d >= 100 for d in delays), delays)
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["itbridge/plant"]["state"], "failed")
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    def test_status_says_when_a_failed_child_is_tried_again(self):
        settings = "restart = { backoff_ms = 100; max = 2; window_s = 60; failed_retry_s = 3600; };"
        gw = self.start_with_bin(self.fake_bin(1), settings)
        wait_for(lambda: gw.log_count("CHILD-FAILED") >= 2, 20, what="both connectors failed")
        time.sleep(0.6)  # the status file is rewritten every 0.5 s
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        rows = {l.split()[1]: l for l in out.split("\n\n")[0].splitlines()[2:]}
        m = re.search(r" failed .*\(retry in (\d+)s\)$", rows["itbridge/plant"])
        self.assertIsNotNone(m, rows["itbridge/plant"])
        self.assertTrue(3590 <= int(m.group(1)) <= 3600, m.group(0))
        self.assertNotIn("retry", rows["router"])
        # the columns before it keep their places
        self.assertEqual({r["name"]: r["state"] for r in gw.status()},
                         {"router": "running", "itbridge/plant": "failed",
                          "itbridge/cloud": "failed"})
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    def test_hung_child_is_killed_and_restarted(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        victim = gw.child_pid("mqgate-connector", "itbridge/plant")
        os.kill(victim, signal.SIGSTOP)
        self.addCleanup(lambda: pid_alive(victim) and os.kill(victim, signal.SIGKILL))
        wait_for(lambda: "CHILD-HUNG" in gw.log_text(), 6, what="hung child detected")
        new = wait_for(lambda: (lambda p: p if p and p != victim else None)(
            gw.child_pid("mqgate-connector", "itbridge/plant")), 3, what="restart")
        self.assertFalse(pid_alive(victim))
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        wait_for(lambda: gw.log_count("CONN-UP") >= 3, 10, what="reconnected")
        time.sleep(0.3)
        pub.publish("factory/line1/temperature", b"after", qos=1)
        sink.wait_count(1, 10)

    def test_children_stop_when_the_supervisor_is_silent(self):
        """A frozen supervisor (SIGSTOP: no heartbeats, channel still open): children stop
        themselves after 3 missed heartbeats."""
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        kids = gw.child_pids()
        self.assertEqual(len(kids), 3)
        os.kill(gw.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: gw.proc.poll() is None and os.kill(gw.proc.pid, signal.SIGCONT))
        t0 = time.monotonic()
        wait_for(lambda: not any(pid_alive(k) and k in gw.child_pids() for k in kids), 8,
                 what="children to stop without heartbeats")
        self.assertGreater(time.monotonic() - t0, 2.0, "not before 3 missed heartbeats")
        os.kill(gw.proc.pid, signal.SIGCONT)
        wait_for(lambda: gw.log_count("SUPERVISOR-SILENT") >= 3, 5, what="each child said why")

    def test_malformed_internal_messages_are_counted_and_dropped(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        bus = "ipc://" + os.path.join(gw.rundir, "gw", "bus")
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 2000)  # let the queued frames go out before close
        s.setsockopt(zmq.ROUTING_ID, b"intruder")
        s.connect(bus)
        good_hdr = bytes([0x4D, 1, 1, 0, 0, 0, 0, 0]) + struct.pack(">Q", 1)
        bad = [
            [b"garbage"],                                        # short header
            [bytes([0x00]) + good_hdr[1:], b"t", b"p"],          # bad magic
            [bytes([0x4D, 9]) + good_hdr[2:], b"t", b"p"],       # unknown version
            [good_hdr[:4] + bytes([7]) + good_hdr[5:], b"t", b"p"],  # qos 7
            [good_hdr, b"t"],                                    # DATA without payload
            [good_hdr, b"bad\x00topic", b"p"],                   # NUL in topic
            [good_hdr, b"a/+/b", b"p"],                          # wildcard in topic
            [good_hdr, b"\xff\xfe", b"p"],                       # not UTF-8
        ]
        for frames in bad:
            s.send_multipart(frames)
        # also from a peer that is not a connection of this gateway, a valid frame
        s.send_multipart([good_hdr, b"factory/line1/temperature", b"spoof"])
        s.close()
        ctx.term()

        def malformed():
            row = {r["name"]: r for r in gw.status()}.get("router", {})
            return int(row.get("counters", {}).get("malformed", 0))
        wait_for(lambda: malformed() >= len(bad) + 1, 5, what="malformed counter")
        # the router is still the same process and still routes
        self.assertEqual(gw.status()[0]["restarts"], 0)
        pub.publish("factory/line1/temperature", b"still-routing", qos=1)
        sink.wait_count(1, 10)
        self.assertEqual([p for (_, p, _, _) in sink.received()], [b"still-routing"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
