"""it_tap — `mqgate tap` on a running gateway, with real brokers and the real binaries.

- a tap prints exactly the messages published, on the internal topics its filter matches
  (topic, QoS, retain, size, payload as text or hex), in order, and exits after --count;
- a tap whose filter matches nothing prints nothing;
- --json: one JSON object per line; --max-bytes cuts the payload and says so;
- no gateway running: a clear message and exit 1; a bad filter: exit 2;
- a stopped tap (SIGSTOP) does not slow the data path: the same stream is delivered as fast
  as without a tap, nothing lost, and the tap, continued, says how many it missed.
"""
import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import BIN, GatewayTest, bridge_service, run_mqgate, wait_for, _live

SOURCE = "services/itbridge/source"  # the source endpoint's data topic
SINK_SET = "services/itbridge/sink/set"  # where the mapping publishes for the write endpoint
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) qos=(\d) retain=([01]) "
                  r"size=(\d+) (text|hex) (.*)$")


class TapTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def start_gateway(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        return gw

    def tap(self, gw, *args, joined=True, stdout=subprocess.PIPE):
        """Start `mqgate tap -c <cfg> args...`; with joined, wait until the router saw it."""
        before = gw.log_count(" joined: ")
        p = subprocess.Popen([os.path.join(BIN, "mqgate"), "tap", "-c", gw.cfg] + list(args),
                             stdout=stdout, stderr=subprocess.PIPE, text=True)
        _live.append(p)
        self.addCleanup(self._end, p)
        if joined:
            wait_for(lambda: gw.log_count(" joined: ") > before or p.poll() is not None, 10,
                     what="the router sees the tap")
            self.assertIsNone(p.poll(), "tap ended early")
        return p

    @staticmethod
    def _end(p):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
            except OSError:
                pass
            p.kill()
        p.communicate(timeout=10)

    def test_tap_shows_exactly_the_published_messages(self):
        gw = self.start_gateway()
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        nothing = self.tap(gw, "services/other/#", "plant/#")
        tap = self.tap(gw, "--count", "4", "services/itbridge/+")
        pub = self.client("plant")
        payloads = [b"21.5", b"\x00\x01\xfe", "d\u00e9j\u00e0 vu".encode(), b""]
        for p in payloads:
            pub.publish("factory/line1/temperature", p, qos=1)
        sink.wait_count(4, 10)
        out, err = tap.communicate(timeout=10)  # --count 4: it ends by itself
        self.assertEqual(tap.returncode, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out)
        got = [LINE.match(ln).groups() for ln in lines]
        for (when, topic, qos, retain, size, enc, shown), p in zip(got, payloads):
            self.assertEqual((topic, qos, retain, int(size)), (SOURCE, "1", "0", len(p)))
            if p == b"\x00\x01\xfe":
                self.assertEqual((enc, shown), ("hex", "0001fe"))
            else:
                self.assertEqual((enc, shown), ("text", p.decode()))
        # the filter matches the source's data topic only, not .../sink/set: 4 lines, not 8
        self.assertNotIn(SINK_SET, out)
        time.sleep(0.5)
        nothing.send_signal(signal.SIGINT)
        out, err = nothing.communicate(timeout=10)
        self.assertEqual((nothing.returncode, out), (0, ""), err)

    def test_json_max_bytes_and_every_internal_topic(self):
        gw = self.start_gateway()
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        tap = self.tap(gw, "--json", "--max-bytes", "4", "--count", "4", "services/#")
        pub = self.client("plant")
        pub.publish("factory/line1/temperature", b"0123456789", qos=1)
        pub.publish("factory/line1/temperature", b"\xff\xfe\xfd\xfc\xfb", qos=1)
        sink.wait_count(2, 10)
        out, err = tap.communicate(timeout=10)
        self.assertEqual(tap.returncode, 0, err)
        objs = [json.loads(ln) for ln in out.splitlines()]
        for o in objs:
            self.assertRegex(o.pop("time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        text = {"qos": 1, "retain": False, "size": 10, "encoding": "text", "payload": "0123",
                "truncated": True}
        binary = {"qos": 1, "retain": False, "size": 5, "encoding": "hex", "payload": "fffefdfc",
                  "truncated": True}
        # each message: the source endpoint's topic, then the mapping's copy for the sink
        self.assertEqual(objs, [dict(text, topic=SOURCE), dict(text, topic=SINK_SET),
                                dict(binary, topic=SOURCE), dict(binary, topic=SINK_SET)])

    def test_no_gateway_and_bad_filters(self):
        cfg = os.path.join(self.work, "none.cfg")
        with open(cfg, "w") as f:
            f.write('instance = "nobody";\nruntime_dir = "%s";\n' % os.path.join(self.work, "run"))
        rc, out, err = run_mqgate(["tap", "-c", cfg, "services/#"], timeout=10)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("instance 'nobody' is not running", err)
        rc, _, err = run_mqgate(["tap", "-c", cfg, "services/#/x"], timeout=10)
        self.assertEqual(rc, 2)
        self.assertIn("services/#/x: not a valid MQTT filter", err)
        rc, _, err = run_mqgate(["tap", "-c", cfg], timeout=10)
        self.assertEqual(rc, 2)
        self.assertIn("at least one MQTT filter", err)
        rc, _, err = run_mqgate(["tap", "-c", cfg, "--count", "0", "a"], timeout=10)
        self.assertEqual(rc, 2)

    def test_tap_ends_when_the_gateway_stops(self):
        gw = self.start_gateway()
        tap = self.tap(gw, "services/#")
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)
        out, err = tap.communicate(timeout=10)
        self.assertEqual(tap.returncode, 1)
        self.assertIn("instance 'gw' stopped", err)

    def publish_and_time(self, pub, sink, start, n, size):
        """Publish n QoS 1 messages of size bytes (numbered from start) and return the seconds
        until the sink has them all."""
        t0 = time.monotonic()
        for i in range(start, start + n):
            pub.publish("factory/line1/temperature", b"%08d" % i + b"x" * (size - 8), qos=1,
                        wait=False)
        sink.wait_count(start + n, 60)
        return time.monotonic() - t0

    def test_stopped_tap_does_not_slow_delivery(self):
        gw = self.start_gateway()
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        n, size = 3000, 2000
        alone = self.publish_and_time(pub, sink, 0, n, size)
        out_path = os.path.join(self.work, "tap.out")  # a file: its writes never block
        with open(out_path, "w") as out_file:
            tap = self.tap(gw, "services/#", stdout=out_file)
        os.kill(tap.pid, signal.SIGSTOP)
        stopped = self.publish_and_time(pub, sink, n, n, size)
        # the same stream with a stopped tap: as fast as without one (noise allowed for)
        self.assertLess(stopped, 2 * alone + 2.0, (alone, stopped))
        got = [int(p[:8]) for _, p, _, _ in sink.received()]
        self.assertEqual(got, list(range(2 * n)))  # nothing lost, nothing twice, in order
        router = [r for r in gw.status() if r["role"] == "router"][0]
        self.assertEqual(router["counters"].get("dropped"), "0")
        # continued, it shows what its pipe held and says how many it missed
        os.kill(tap.pid, signal.SIGCONT)
        time.sleep(2.5)  # the router sends a frame at least every second: the last gap too
        tap.send_signal(signal.SIGINT)
        _, err = tap.communicate(timeout=20)
        self.assertEqual(tap.returncode, 0, err)
        with open(out_path) as f:
            out = f.read()
        m = re.search(r"(\d+) messages shown, (\d+) missed", err)
        self.assertIsNotNone(m, err)
        shown, missed = int(m.group(1)), int(m.group(2))
        self.assertEqual(shown, len(out.splitlines()))
        print("\n  %d messages: %.2f s alone, %.2f s with a stopped tap; the tap showed %d, "
              "missed %d" % (n, alone, stopped, shown, missed))
        self.assertGreater(missed, 0)
        # each message is on two internal topics (source, sink/set): each seen or counted
        self.assertEqual(shown + missed, 2 * n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
