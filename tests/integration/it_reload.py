"""it_reload — SIGHUP and `mqgate reload` with real brokers and the real binaries.

What reload does today (issue 12, in part): the configuration `run` was given is read again;
- an invalid one is rejected with FILE:LINE:COL errors (`mqgate reload`: printed, exit 78;
  SIGHUP: RELOAD-INVALID in the log) and the running configuration stays: the same processes,
  messages keep flowing;
- an unchanged one: exit 0, nothing restarted;
- a changed, valid one is not applied yet: exit 1 with a message, RELOAD-NOT-APPLIED, the
  running configuration stays;
- no gateway: exit 1.
"""
import os
import signal
import time
import unittest

from harness import GatewayTest, bridge_service, run_mqgate, wait_for


class ReloadTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def start(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        self.sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        self.pub = self.client("plant")
        self.sent = 0
        return gw

    def flows(self):
        """One more message gets through."""
        self.sent += 1
        self.pub.publish("factory/line1/temperature", b"%d" % self.sent, qos=1)
        self.sink.wait_count(self.sent, 10)

    def write_service(self, gw, text):
        with open(gw.service, "w") as f:
            f.write(text)

    def test_invalid_reload_keeps_the_running_configuration(self):
        gw = self.start()
        self.flows()
        pids = sorted(gw.child_pids())
        # a line that breaks the YAML of the new file
        self.write_service(gw, bridge_service().replace("      protocol: Mqtt\n",
                                                        "      protocol: Mqtt\n    colour: blue\n",
                                                        1))
        rc, out, err = run_mqgate(["reload", "-c", gw.cfg])
        self.assertEqual(rc, 78, (out, err))
        self.assertRegex(err, r"%s:\d+:\d+: " % gw.service)
        self.assertIn("the running one stays", err)
        self.assertIn("RELOAD-INVALID", gw.log_text())
        self.assertIn(gw.service + ":", gw.log_text().split("RELOAD-INVALID", 1)[1])
        self.flows()
        self.assertEqual(sorted(gw.child_pids()), pids, "nothing restarted")
        # SIGHUP (systemctl reload) does the same
        before = gw.log_count("RELOAD-INVALID")
        os.kill(gw.proc.pid, signal.SIGHUP)
        wait_for(lambda: gw.log_count("RELOAD-INVALID") > before, 10, what="RELOAD-INVALID")
        self.flows()
        self.assertEqual(sorted(gw.child_pids()), pids)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    def test_unchanged_and_changed_reloads(self):
        gw = self.start()
        pids = sorted(gw.child_pids())
        rc, out, err = run_mqgate(["reload", "-c", gw.cfg])
        self.assertEqual((rc, out), (0, "configuration unchanged\n"), err)
        self.assertIn("RELOAD-UNCHANGED", gw.log_text())
        # a valid change: not applied yet, said so, the running configuration stays
        self.write_service(gw, bridge_service(dst_topic="cloud/line1/other"))
        rc, out, err = run_mqgate(["reload", "-c", gw.cfg])
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("restart mqgate", err)
        self.assertIn("RELOAD-NOT-APPLIED", gw.log_text())
        self.flows()  # still to cloud/line1/temperature
        self.assertEqual(sorted(gw.child_pids()), pids)
        gw.stop()

    def test_no_gateway(self):
        cfg = os.path.join(self.work, "none.cfg")
        with open(cfg, "w") as f:
            f.write('instance = "nobody";\nruntime_dir = "%s";\n' % os.path.join(self.work, "run"))
        rc, out, err = run_mqgate(["reload", "-c", cfg])
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("instance 'nobody' is not running", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
