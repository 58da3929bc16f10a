"""it_process — the supervisor keeps the gateway alive, and stops it cleanly.

kill -9 of a connector or of the router: back within 2 s, traffic resumes by itself.
kill -9 of the supervisor: children notice and exit, no orphans. SIGTERM/SIGINT: clean stop,
exit 0, within 5 s. A broker that goes away, or refuses the credentials, is retried with
backoff and reported once, not in a flood.
"""
import os
import signal
import struct
import threading
import time
import unittest

from harness import (Broker, GatewayTest, bridge_service, pid_alive, processes_named, run_mqgate,
                     wait_for)


class Streamer:
    """Publishes numbered QoS 1 messages at a steady rate in a thread until stopped."""

    def __init__(self, client, topic, rate=500):
        self.client, self.topic, self.rate = client, topic, rate
        self.sent = 0
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        period = 1.0 / self.rate
        next_t = time.monotonic()
        while not self.stop_flag.is_set() and self.sent < 200000:
            self.client.publish(self.topic, struct.pack(">I", self.sent), qos=1, wait=False)
            self.sent += 1
            next_t += period
            d = next_t - time.monotonic()
            if d > 0:
                time.sleep(d)

    def stop(self):
        self.stop_flag.set()
        self.t.join(5)


def seqs(client):
    return [struct.unpack(">I", p[:4])[0] for (_, p, _, _) in client.received()]


class ProcessTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def _kill_child_midstream(self, exe, key=None):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        st = Streamer(pub, "factory/line1/temperature")
        self.addCleanup(st.stop)
        sink.wait_count(200, 10)
        victim = gw.child_pid(exe, key)
        self.assertIsNotNone(victim, "no %s child found" % exe)
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        new = wait_for(lambda: (lambda p: p if p and p != victim else None)(gw.child_pid(exe, key)),
                       2.0, what="%s restarted within 2 s" % exe)
        restart_s = time.monotonic() - t0
        self.assertNotEqual(new, victim)
        # traffic resumes by itself: new sequence numbers keep arriving
        before = sink.count()
        wait_for(lambda: sink.count() >= before + 500, 15, what="traffic after the restart")
        st.stop()
        last_sent = st.sent - 1
        wait_for(lambda: last_sent in set(seqs(sink)), 15, what="the last message sent")
        self.assertLess(restart_s, 2.0)
        got = seqs(sink)
        # messages published after the restart arrive in order (no reordering of the stream)
        tail = got[-200:]
        self.assertEqual(tail, sorted(tail))
        self.assertIn("CHILD-EXIT", gw.log_text())
        self.assertIn("signal 9", gw.log_text())
        return gw, sink, st

    def test_killed_connector_comes_back_and_stream_continues(self):
        self._kill_child_midstream("mqgate-connector", "itbridge/plant")

    def test_killed_target_connector_comes_back(self):
        self._kill_child_midstream("mqgate-connector", "itbridge/cloud")

    def test_killed_router_comes_back_and_stream_continues(self):
        self._kill_child_midstream("mqgate-router")

    def test_router_full_before_a_target_greets_it_does_not_stall(self):
        # A new router learns of a target connector from its HELLO (once a second). If the
        # sources fill that target's queue first, the router must still read the HELLO: a
        # full queue for a connector it has never heard from must not pause its input (it did:
        # the router stopped reading, never heard the HELLO, never sent, and nothing moved).
        # Made certain here: the target connector is stopped while the router restarts.
        gw = self.gateway(bridge_service(), self.ports(),
                          settings="connector = { outbound_queue_max = 50; max_inflight = 1; };\n"
                                   "router = { queue_max = 50; };\n"
                                   "heartbeat = { misses = 30; };")
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        for i in range(20):
            pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1)
        sink.wait_count(20, 15)
        cloud = gw.child_pid("mqgate-connector", "itbridge/cloud")
        os.kill(cloud, signal.SIGSTOP)
        try:
            n = 600
            for i in range(20, n):
                pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1, wait=False)
            router = gw.child_pid("mqgate-router")
            os.kill(router, signal.SIGKILL)
            wait_for(lambda: (lambda p: p and p != router)(gw.child_pid("mqgate-router")), 5,
                     what="the router restarted")

            def router_queue():
                for row in gw.status():
                    if row["role"] == "router" and row["restarts"] >= 1:
                        return int(row["counters"].get("queued", "0"))
                return 0
            # the new router holds a full queue for the silent target connector
            wait_for(lambda: router_queue() >= 50, 15, what="the new router's queue full")
        finally:
            os.kill(cloud, signal.SIGCONT)
        wait_for(lambda: set(range(n)) <= set(seqs(sink)), 30,
                 what=lambda: "all %d messages (have %d)" % (n, len(set(seqs(sink)))))

    def test_sigterm_stops_everything_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                gw = self.gateway(bridge_service(), self.ports(), name="gw%d" % sig)
                self.dump_log_on_failure(gw)
                kids = gw.child_pids()
                self.assertEqual(len(kids), 3, "router + 2 connectors expected")
                rc, took = gw.stop(sig)
                self.assertEqual(rc, 0)
                self.assertLess(took, 5.0)
                for k in kids:
                    self.assertFalse(pid_alive(k), "child %d left behind" % k)
                self.assertEqual(processes_named(gw.rundir), [])
                self.assertFalse(os.path.exists(os.path.join(gw.rundir, "gw%d" % sig, "lock")))

    def _assert_bridge_moves(self, gw, n=20):
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        for i in range(n):
            pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1)
        sink.wait_count(n, 15)
        self.assertEqual(seqs(sink), list(range(n)))

    def _cpus_of(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    return line.split(":", 1)[1].strip()
        return None

    def test_cpu_affinity_pins_every_process(self):
        mine = sorted(os.sched_getaffinity(0))
        full = ",".join(str(c) for c in mine)
        for setting, want in (("", str(mine[-1])),  # auto: one CPU, the highest available
                              ('cpu_affinity = "none";', None),
                              ('cpu_affinity = "%d";' % mine[0], str(mine[0]))):
            with self.subTest(setting=setting):
                gw = self.gateway(bridge_service(), self.ports(), settings=setting,
                                  name="gwcpu%d" % len(setting))
                self.dump_log_on_failure(gw)
                pids = [gw.proc.pid] + gw.child_pids()
                self.assertEqual(len(pids), 4)
                got = {self._cpus_of(p) for p in pids}
                if want is None:
                    # not pinned: what this test itself may use (as a list "0-1" or "0,1")
                    self.assertEqual(len(got), 1)
                    listed = set()
                    for part in got.pop().split(","):
                        lo, _, hi = part.partition("-")
                        listed.update(range(int(lo), int(hi or lo) + 1))
                    self.assertEqual(sorted(listed), mine, full)
                    self.assertIn('cpu_affinity "none"', gw.log_text())
                else:
                    self.assertEqual(got, {want})
                    self.assertIn("CPU-AFFINITY: all processes on CPU %s" % want, gw.log_text())
                self._assert_bridge_moves(gw)
                gw.stop()

    def test_status_command_shows_every_process(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        pub = self.client("plant")
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        for i in range(5):
            pub.publish("factory/line1/temperature", b"%d" % i, qos=1)
        sink.wait_count(5, 10)
        # counters travel with the 1 s heartbeat; the status file is rewritten every second
        wait_for(lambda: run_mqgate(["status", "-c", gw.cfg])[1].count("=5 ") >= 4, 5,
                 what="counters of every process in mqgate status")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"instance gw pid %d" % gw.proc.pid)
        rows = {l.split()[1]: l for l in out.split("\n\n")[0].splitlines()[2:]}
        self.assertEqual(set(rows), {"router", "itbridge/plant", "itbridge/cloud"})
        for line in rows.values():
            self.assertIn(" running ", line)
        self.assertIn("in=5", rows["itbridge/plant"])
        self.assertIn("out=5", rows["itbridge/cloud"])
        self.assertIn("in=5 out=5", rows["router"])
        gw.stop()
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 1)
        self.assertIn("not running", err)

    def test_killed_supervisor_children_exit_no_orphans(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        kids = gw.child_pids()
        self.assertEqual(len(kids), 3)
        os.kill(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait(5)
        wait_for(lambda: not any(pid_alive(k) for k in kids), 5,
                 what="children to exit after the supervisor died")
        self.assertEqual(processes_named(gw.rundir), [])

    def _outage_begin(self, settings=""):
        """A gateway whose cloud broker (persistent, with a persistent sink session) is down."""
        cloud = Broker(self.work, "cloudp", persistent=True)
        self.addCleanup(cloud.stop)
        gw = self.gateway(bridge_service(), {"plantPort": self.b["plant"].port,
                                             "cloudPort": cloud.port}, settings=settings)
        self.dump_log_on_failure(gw)
        # a persistent sink session: the broker keeps what arrives while the sink is away
        sink = self.client(cloud.port, ["cloud/line1/temperature"], client_id="sink",
                           clean=False)
        sink.close()
        cloud.stop()
        wait_for(lambda: "CONN-LOST" in gw.log_text(), 10, what="CONN-LOST logged")
        return cloud, gw

    def _outage_end(self, cloud, gw):
        """Bring the cloud broker back; returns the sink, reconnected to its session."""
        cloud.start()  # same port, sessions restored from its persistence file
        wait_for(lambda: gw.log_count("CONN-UP") >= 3, 15, what="reconnect")
        return self.client(cloud.port, ["cloud/line1/temperature"], client_id="sink",
                           clean=False)

    def test_target_broker_down_messages_wait_and_arrive(self):
        cloud, gw = self._outage_begin()
        pub = self.client("plant")
        n = 300
        for i in range(n):
            pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1)
        time.sleep(2.5)  # several reconnect attempts while the broker is down
        log = gw.log_text()
        # the loss is reported once; the failing reconnect attempts go to DEBUG, not WARN
        self.assertEqual(log.count("CONN-LOST"), 1)
        self.assertLessEqual(log.count("CONN-FAIL"), 1)
        self.assertEqual(len([l for l in log.splitlines() if " WARN " in l]), 1, log)
        sink = self._outage_end(cloud, gw)
        wait_for(lambda: set(range(n)) <= set(seqs(sink)), 15,
                 what="all messages queued during the outage")
        got = [s for s in seqs(sink) if s < n]
        self.assertEqual(sorted(set(got)), list(range(n)), "nothing lost")
        self.assertEqual(got[:n], list(range(n)), "in order")
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["itbridge/cloud"]["restarts"], 0, "connector must not crash")

    def test_outage_buffer_is_bounded_in_bytes_newest_kept(self):
        # without the journal: 100 messages of 4 KB while the cloud broker is down, with a
        # 64 KiB buffer: only the newest 15 fit (topic + payload = 4120 bytes each); they
        # arrive, in order
        cloud, gw = self._outage_begin("connector = { outbound_queue_max_bytes = 65536; };\n"
                                       "journal = { enabled = false; };")
        pub = self.client("plant")
        n, size = 100, 4096
        for i in range(n):
            pub.publish("factory/line1/temperature", struct.pack(">I", i) + b"x" * (size - 4),
                        qos=1)
        wait_for(lambda: "OUT-DROP" in gw.log_text(), 10, what="OUT-DROP logged")
        time.sleep(1.0)  # the rest of the burst reaches the cloud connector
        self.assertIn("(100000 messages or 65536 bytes)", gw.log_text())
        sink = self._outage_end(cloud, gw)
        keep = 65536 // (len("cloud/line1/temperature") + size)
        wait_for(lambda: n - 1 in seqs(sink), 15, what="the newest message")
        time.sleep(0.5)  # anything else would arrive now
        self.assertEqual(seqs(sink), list(range(n - keep, n)), "the newest, in order")
        # the drops are counted in the connector's status (`mqgate status`)
        def cloud_dropped():
            row = {r["name"]: r for r in gw.status()}.get("itbridge/cloud", {})
            return row.get("counters", {}).get("dropped")
        wait_for(lambda: cloud_dropped() == str(n - keep), 5,
                 what="dropped=%d in the status" % (n - keep))

    def test_outage_with_journal_nothing_dropped_memory_bounded(self):
        # with the journal (the default): the same outage and the same small buffer, and
        # nothing is dropped: what does not fit waits in the plant connector's journal and
        # all 100 arrive, in order, once the broker is back
        cloud, gw = self._outage_begin("connector = { outbound_queue_max_bytes = 65536; };")
        pub = self.client("plant")
        n, size = 100, 4096
        for i in range(n):
            pub.publish("factory/line1/temperature", struct.pack(">I", i) + b"x" * (size - 4),
                        qos=1)
        time.sleep(1.0)
        self.assertNotIn("OUT-DROP", gw.log_text())
        rows = {r["name"]: r for r in gw.status()}
        # its bound (15 of these) plus at most one batch from the router (64 KiB, 15 more),
        # which it takes whole once it has room again
        self.assertLessEqual(int(rows["itbridge/cloud"]["counters"]["queued"]), 32,
                             "the cloud connector holds no more than its bound and one batch")
        sink = self._outage_end(cloud, gw)
        wait_for(lambda: set(range(n)) <= set(seqs(sink)), 20, what="all 100 messages")
        got = [x for x in seqs(sink) if x < n]
        self.assertEqual(sorted(set(got)), list(range(n)), "nothing lost")
        first = sorted(set(got), key=got.index)
        self.assertEqual(first, list(range(n)), "in order (first arrivals)")
        wait_for(lambda: {r["name"]: r for r in gw.status()}["itbridge/plant"]["counters"]
                 .get("journal") == "0", 10, what="the plant journal released")

    def test_wrong_credentials_reported_and_retried_without_crash_loop(self):
        secured = Broker(self.work, "secured", users={"plc": "right"})
        self.addCleanup(secured.stop)
        service = bridge_service().replace(
            "port: !ref cloudPort\n",
            "port: !ref cloudPort\n        username: plc\n        password: wrong\n")
        gw = self.gateway(service, {"plantPort": self.b["plant"].port,
                                    "cloudPort": secured.port}, wait_connectors=None)
        self.dump_log_on_failure(gw)
        wait_for(lambda: "CONN-FAIL" in gw.log_text(), 10, what="credential failure reported")
        time.sleep(3)
        log = gw.log_text()
        self.assertRegex(log, r"CONN-FAIL: .*(not authorized|bad user name)")  # reason named
        self.assertEqual(log.count("CONN-FAIL"), 1, "reported once, retries at DEBUG")
        self.assertNotIn("wrong", log.replace("wrong-", ""), "password must never be logged")
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["itbridge/cloud"]["restarts"], 0)
        self.assertEqual(rows["itbridge/cloud"]["state"], "running")
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
