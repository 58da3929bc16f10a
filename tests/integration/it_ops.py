"""it_ops — operating mqgate unattended: /metrics, /health, mqgate status, logs, help, the unit.

- /metrics is Prometheus text (checked by a strict parser below) and its counters equal a known
  traffic pattern exactly: per connection, per route, the router, the processes;
- a scrape never holds the gateway up: idle and half-sent HTTP connections while messages flow;
- http.listen that cannot be used: exit 1 (port in use) or 78 (no such host);
- /health: 200, 503 within seconds of a broker being stopped (with why), 200 again after it is
  back; 503 for a failed child; 503 for a connection that is up but moves nothing and has no
  keepalive answered (a stand-in connector, fake_connector.py, which also reports journal
  counters: exported when present);
- mqgate status prints the process table and the connection table; --json parses and has the
  fields;
- SIGUSR1 reopens the log file (renamed as logrotate does: a new file gets the new lines);
- --help for every command exits 0 and names its options;
- cmake --install puts a systemd unit that systemd-analyze verify accepts (skipped without it).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from harness import (BIN, SRC, Broker, Gateway, GatewayTest, bridge_service, free_port,
                     run_mqgate, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- a strict reader of the Prometheus text exposition format (0.0.4) ----

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)( -?\d+)?$" % _NAME)
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _labels(text):
    """name="value",... with \\\\, \\" and \\n escapes -> dict; raises ValueError."""
    out, i = {}, 0
    while i < len(text):
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", text[i:])
        if not m:
            raise ValueError("bad label at %r" % text[i:])
        name, i, val = m.group(1), i + m.end(), ""
        while True:
            if i >= len(text):
                raise ValueError("unterminated label value")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1]
                if nxt not in "\\\"n":
                    raise ValueError("bad escape \\%s" % nxt)
                val += "\n" if nxt == "n" else nxt
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("newline in a label value")
            else:
                val += c
                i += 1
        if name in out:
            raise ValueError("label %s twice" % name)
        out[name] = val
        if i < len(text):
            if text[i] != ",":
                raise ValueError("expected ',' at %r" % text[i:])
            i += 1
    return out


def parse_prometheus(text):
    """{family: {"type", "help", "samples": {frozenset(labels): value}}}; raises ValueError on
    anything the format does not allow: samples before their TYPE or apart from their family,
    a family declared twice, bad names, labels or values, the same series twice."""
    if text and not text.endswith("\n"):
        raise ValueError("no final newline")
    fams, current, closed = {}, None, set()
    for ln in text.split("\n")[:-1]:
        if ln.startswith("# HELP ") or ln.startswith("# TYPE "):
            parts = ln.split(" ", 3)
            name = parts[2]
            if not re.fullmatch(_NAME, name):
                raise ValueError("bad metric name %r" % name)
            if name != current:
                if current:
                    closed.add(current)
                if name in closed:
                    raise ValueError("family %s is not contiguous" % name)
                current = name
            f = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
            if parts[1] == "TYPE":
                if f["type"] or f["samples"] or parts[3] not in _TYPES:
                    raise ValueError("bad TYPE line %r" % ln)
                f["type"] = parts[3]
            else:
                if f["help"] is not None:
                    raise ValueError("HELP twice for %s" % name)
                f["help"] = parts[3] if len(parts) > 3 else ""
            continue
        if ln.startswith("#") or not ln.strip():
            continue
        m = _SAMPLE.match(ln)
        if not m:
            raise ValueError("bad sample line %r" % ln)
        name = m.group(1)
        if name != current or not fams[name]["type"]:
            raise ValueError("sample of %s outside its family (after TYPE)" % name)
        labels = frozenset(_labels(m.group(3) or "").items())
        if labels in fams[name]["samples"]:
            raise ValueError("series twice: %r" % ln)
        fams[name]["samples"][labels] = float(m.group(4))  # also +Inf, -Inf, NaN
    return fams


def value(fams, name, **labels):
    """The value of the one sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    hits = [v for ls, v in fams[name]["samples"].items() if want <= set(ls)]
    if len(hits) != 1:
        raise AssertionError("%d samples of %s with %r" % (len(hits), name, labels))
    return hits[0]


def read(path):
    with open(path) as f:
        return f.read()


def http_get(port, path, method="GET"):
    """(status, content type, body as text), also for 4xx/5xx answers."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class OpsTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def http_gateway(self, extra_http="", settings="", **kw):
        self.http_port = free_port()
        http = 'http = { listen = "127.0.0.1:%d"; %s };' % (self.http_port, extra_http)
        gw = self.gateway(bridge_service(), self.ports(), settings=http + settings, **kw)
        self.dump_log_on_failure(gw)
        return gw

    def scrape(self):
        status, ctype, body = http_get(self.http_port, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        return parse_prometheus(body)

    # ---- /metrics ----

    def test_metrics_equal_a_known_traffic_pattern(self):
        gw = self.http_gateway()
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        n, size = 40, 100
        for i in range(n):
            pub.publish("factory/line1/temperature", bytes([65 + i % 26]) * size, qos=1)
        sink.wait_count(n, 10)
        conn = {"service": "itbridge"}

        def settled():
            # Counters travel with each process's own 1 s heartbeat: the source connector's
            # may arrive after the target's, so wait until every process has reported all n.
            f = self.scrape()
            reported = (
                value(f, "mqgate_connection_received_messages_total", connection="plant", **conn),
                value(f, "mqgate_connection_forwarded_messages_total", connection="plant", **conn),
                value(f, "mqgate_connection_published_messages_total", connection="cloud", **conn),
                value(f, "mqgate_route_delivered_messages_total", route="endpoint sink"),
                value(f, "mqgate_router_delivered_messages_total"))
            return f if min(reported) >= n else None
        f = wait_for(settled, 5, what="%d messages in /metrics" % n)
        expect = {
            ("mqgate_connection_received_messages_total", "plant"): n,
            ("mqgate_connection_received_bytes_total", "plant"): n * size,
            ("mqgate_connection_forwarded_messages_total", "plant"): n,
            ("mqgate_connection_published_messages_total", "plant"): 0,
            ("mqgate_connection_received_messages_total", "cloud"): 0,
            ("mqgate_connection_published_messages_total", "cloud"): n,
            ("mqgate_connection_published_bytes_total", "cloud"): n * size,
            ("mqgate_connection_reconnects_total", "cloud"): 0,
            ("mqgate_connection_connected", "cloud"): 1,
            ("mqgate_connection_queued_messages", "cloud"): 0,
            ("mqgate_connection_held_messages", "plant"): 0,
        }
        for (name, c), want in expect.items():
            self.assertEqual(value(f, name, connection=c, **conn), want, (name, c))
        for c in ("plant", "cloud"):
            for cause in ("queue_full", "invalid_topic", "bad_topic", "too_large", "failed"):
                self.assertEqual(value(f, "mqgate_connection_dropped_messages_total",
                                       connection=c, cause=cause, **conn), 0)
        # each of the three routes (endpoint, mapping, endpoint) fired once per message
        for route, ep in (("endpoint source", "source"), ("mapping route[0]", None),
                          ("endpoint sink", "sink")):
            labels = {"route": route, "service": "itbridge"}
            if ep:
                labels["endpoint"] = ep
            for name, want in (("mqgate_route_matched_messages_total", n),
                               ("mqgate_route_matched_bytes_total", n * size),
                               ("mqgate_route_delivered_messages_total", n),
                               ("mqgate_route_delivered_bytes_total", n * size)):
                self.assertEqual(value(f, name, **labels), want, (name, route))
            for cause in ("render", "loop"):
                self.assertEqual(value(f, "mqgate_route_dropped_messages_total", cause=cause,
                                       **labels), 0)
        self.assertEqual(value(f, "mqgate_router_received_messages_total"), n)
        self.assertEqual(value(f, "mqgate_router_delivered_messages_total"), n)
        self.assertEqual(value(f, "mqgate_router_unrouted_messages_total"), 0)
        for cause in ("queue", "render", "loop"):
            self.assertEqual(value(f, "mqgate_router_dropped_messages_total", cause=cause), 0)
        # the journal (on in these tests): every message confirmed, so released at the source
        def released():
            f = self.scrape()
            return f if value(f, "mqgate_connection_journal_messages", connection="plant",
                              **conn) == 0 and value(f, "mqgate_router_outstanding_messages") == 0 \
                else None
        f = wait_for(released, 5, what="the journal released in /metrics")
        for c in ("plant", "cloud"):
            self.assertEqual(value(f, "mqgate_connection_journal_bytes", connection=c, **conn), 0)
            self.assertEqual(value(f, "mqgate_connection_redelivered_messages_total",
                                   connection=c, **conn), 0)
            self.assertEqual(value(f, "mqgate_connection_unjournaled_messages_total",
                                   connection=c, **conn), 0)
            self.assertEqual(value(f, "mqgate_connection_journal_oldest_age_seconds",
                                   connection=c, **conn), 0)
        self.assertEqual(value(f, "mqgate_router_delivery_gaps"), 0)
        self.assertEqual(value(f, "mqgate_router_replayed_messages_total"), 0)
        self.assertEqual(f["mqgate_connection_journal_messages"]["type"], "gauge")
        self.assertEqual(f["mqgate_connection_redelivered_messages_total"]["type"], "counter")
        # processes: 4 running, none restarted, each with its memory and uptime
        for role, c in (("supervisor", None), ("router", None), ("connector", "plant"),
                        ("connector", "cloud")):
            labels = {"role": role}
            if c:
                labels.update(connection=c, service="itbridge")
            self.assertEqual(value(f, "mqgate_process_up", **labels), 1)
            self.assertGreater(value(f, "mqgate_process_resident_memory_bytes", **labels), 1e6)
            self.assertGreater(value(f, "mqgate_process_uptime_seconds", **labels), 0)
            if role != "supervisor":
                self.assertEqual(value(f, "mqgate_process_restarts_total", **labels), 0)
        self.assertEqual(f["mqgate_process_restarts_total"]["type"], "counter")
        self.assertEqual(f["mqgate_connection_queued_messages"]["type"], "gauge")
        for fam in f.values():
            self.assertTrue(fam["help"], fam)
        # a killed connector: one restart, its counters start again from 0
        victim = gw.child_pid("mqgate-connector", "itbridge/cloud")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: value(self.scrape(), "mqgate_process_restarts_total",
                               role="connector", connection="cloud") == 1, 5,
                 what="the restart in /metrics")
        gw.stop()

    def test_supervisor_loads_the_http_library_only_when_asked(self):
        """The supervisor runs all the time: without http.listen it maps neither libmicrohttpd
        nor ZeroMQ (the tap has a program of its own); with it, libmicrohttpd."""
        def libs(gw):
            with open("/proc/%d/maps" % gw.proc.pid) as f:
                text = f.read()
            return {name for name in ("libmicrohttpd", "libzmq") if name in text}
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        self.assertEqual(libs(gw), set())
        gw.stop()
        gw = self.http_gateway(name="gw2")
        self.assertEqual(http_get(self.http_port, "/health")[0], 200)
        self.assertEqual(libs(gw), {"libmicrohttpd"})

    def test_http_answers_and_a_scrape_never_holds_the_gateway(self):
        gw = self.http_gateway()
        self.assertEqual(http_get(self.http_port, "/nothing")[0], 404)
        self.assertEqual(http_get(self.http_port, "/metrics", "POST")[0], 405)
        self.assertEqual(http_get(self.http_port, "/metrics", "HEAD")[0], 200)
        # clients that connect and send nothing, or half a request, and stay
        idle = []
        for i in range(6):
            s = socket.create_connection(("127.0.0.1", self.http_port))
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            idle.append(s)
        self.addCleanup(lambda: [s.close() for s in idle])
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        t0 = time.monotonic()
        for i in range(200):
            pub.publish("factory/line1/temperature", b"%d" % i, qos=1, wait=False)
            if i % 50 == 0:
                t = time.monotonic()
                self.assertEqual(http_get(self.http_port, "/metrics")[0], 200)
                self.assertLess(time.monotonic() - t, 1.0, "a scrape took a second")
        sink.wait_count(200, 10)
        self.assertLess(time.monotonic() - t0, 10)
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        gw.stop()

    def test_http_listen_errors(self):
        """A port in use: exit 1 (a restart may find it free); a host that does not resolve:
        exit 78. Either way nothing is started."""
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        for listen, code, why in (("127.0.0.1:%d" % busy.getsockname()[1], 1, "in use"),
                                  ("no-such-host.invalid:9883", 78, "cannot resolve")):
            gw = Gateway(self.work, bridge_service(), self.ports(),
                         'http = { listen = "%s"; };' % listen, "gw%d" % code)
            self.addCleanup(gw.kill_all)
            gw.start()
            self.assertEqual(gw.proc.wait(10), code, gw.log_text())
            self.assertIn("ERROR HTTP-LISTEN: http.listen %s: " % listen, gw.log_text())
            self.assertIn(why, gw.log_text())
            self.assertNotIn("CHILD-START", gw.log_text())

    # ---- /health ----

    def health(self):
        status, ctype, body = http_get(self.http_port, "/health")
        self.assertEqual(ctype, "application/json")
        return status, json.loads(body)

    def test_health_follows_a_broker_outage(self):
        gw = self.http_gateway("health_disconnected_s = 2;")
        status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(self.health()),
                                5, what="healthy")
        self.assertEqual(body, {"status": "ok", "problems": [], "processes": 3,
                                "connections": 2})
        self.b["cloud"].stop()
        t0 = time.monotonic()
        status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(self.health()),
                                8, what="503 after the broker stopped")
        self.assertLess(time.monotonic() - t0, 6.0)
        self.assertEqual(body["status"], "unhealthy")
        (p,) = body["problems"]
        self.assertEqual((p["name"], p["reason"], p["limit_s"]),
                         ("itbridge/cloud", "disconnected", 2.0))
        self.assertGreaterEqual(p["for_s"], 2.0)
        wait_for(lambda: "HEALTH-BAD" in gw.log_text(), 3, what="HEALTH-BAD logged")
        # the status tells the same, with the connection's last error
        rc, out, err = run_mqgate(["status", "--json", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        cloud = {c["name"]: c for c in json.loads(out)["connections"]}["itbridge/cloud"]
        self.assertIn(cloud["state"], ("disconnected", "connecting"))
        self.assertIsNotNone(cloud["last_error"])
        self.b["cloud"].start()
        wait_for(lambda: self.health()[0] == 200, 30, what="healthy again")
        wait_for(lambda: "HEALTH-OK" in gw.log_text(), 3, what="HEALTH-OK logged")
        f = self.scrape()
        self.assertEqual(value(f, "mqgate_connection_reconnects_total", connection="cloud"), 1)
        self.assertEqual(value(f, "mqgate_connection_connected", connection="cloud"), 1)
        gw.stop()

    def fake_bin(self, connector_script=None, exit_code=1):
        """A bin dir with the real mqgate and router, and a connector that exits at once, or
        the given script."""
        d = os.path.join(self.work, "bin-fake")
        os.makedirs(d)
        for name in ("mqgate", "mqgate-router"):
            shutil.copy2(os.path.join(BIN, name), d)
        target = os.path.join(d, "mqgate-connector")
        if connector_script:
            shutil.copy2(connector_script, target)
        else:
            with open(target, "w") as f:
                f.write("#!/bin/sh\nexit %d\n" % exit_code)
        os.chmod(target, 0o755)
        return d

    def start_fake(self, bindir, service, settings):
        self.http_port = free_port()
        gw = Gateway(self.work, service, self.ports(),
                     'http = { listen = "127.0.0.1:%d"; };\n%s' % (self.http_port, settings),
                     "gwfake", bin_dir=bindir)
        self.addCleanup(self.assert_no_sanitizer_reports, gw)
        self.addCleanup(gw.kill_all)
        self.dump_log_on_failure(gw)
        gw.start()
        wait_for(lambda: "HTTP-LISTEN" in gw.log_text(), 5, what="the HTTP server")
        return gw

    def test_failed_child_makes_health_503(self):
        gw = self.start_fake(self.fake_bin(), bridge_service(),
                             "restart = { backoff_ms = 100; max = 2; failed_retry_s = 3600; };")
        wait_for(lambda: gw.log_count("CHILD-FAILED") >= 2, 20, what="both connectors failed")
        status, body = wait_for(
            lambda: (lambda r: r if len(r[1]["problems"]) == 2 else None)(self.health()), 3,
            what="both failed in /health")
        self.assertEqual(status, 503)
        self.assertEqual({(p["name"], p["reason"]) for p in body["problems"]},
                         {("itbridge/plant", "failed"), ("itbridge/cloud", "failed")})
        f = self.scrape()
        self.assertEqual(value(f, "mqgate_process_failed", role="connector", connection="plant"),
                         1)
        self.assertEqual(value(f, "mqgate_process_up", role="connector", connection="plant"), 0)
        self.assertEqual(value(f, "mqgate_process_failed", role="router"), 0)
        def failed():  # the status files are rewritten every 0.5 s
            doc = json.loads(run_mqgate(["status", "--json", "-c", gw.cfg])[1])
            states = {c["name"]: c["state"] for c in doc["connections"]}
            return doc if set(states.values()) == {"failed"} else None
        doc = wait_for(failed, 3, what="both connections failed in status.json")
        procs = {p["name"]: p for p in doc["processes"]}
        self.assertEqual(procs["itbridge/plant"]["state"], "failed")
        self.assertGreater(procs["itbridge/plant"]["retry_in_s"], 3000)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    def test_stalled_connection_and_journal_counters(self):
        """A connection "up" whose counters never move and whose keepalive (1 s) is never
        answered is unhealthy after 2 s; a keepalive answer makes it healthy again."""
        statusdir = os.path.join(self.work, "fake-status")
        os.makedirs(statusdir)
        os.environ["FAKE_STATUS_DIR"] = statusdir
        self.addCleanup(os.environ.pop, "FAKE_STATUS_DIR", None)
        up = ("state=up in=7 out=3 rx=7 rx_bytes=70 out_bytes=30 pings=%d journal=%d "
              "journal_bytes=%d journal_age_ms=%d redelivered=2 unjournaled=1")

        def report(key, pings, journal):
            with open(os.path.join(statusdir, key + ".status.tmp"), "w") as f:
                f.write(up % (pings, journal, journal * 100, journal * 1500))
            os.rename(os.path.join(statusdir, key + ".status.tmp"),
                      os.path.join(statusdir, key + ".status"))
        report("itbridge_plant", 1, 5)
        report("itbridge_cloud", 1, 0)
        service = bridge_service().replace("reconnectPeriod: 200",
                                           "reconnectPeriod: 200\n        keepalive: 1")
        gw = self.start_fake(self.fake_bin(os.path.join(HERE, "fake_connector.py")), service, "")
        f = wait_for(lambda: (lambda f: f if "mqgate_connection_journal_messages" in f else None)(
            self.scrape()), 5, what="journal counters in /metrics")
        self.assertEqual(value(f, "mqgate_connection_journal_messages", connection="plant"), 5)
        self.assertEqual(value(f, "mqgate_connection_journal_bytes", connection="plant"), 500)
        self.assertEqual(value(f, "mqgate_connection_journal_messages", connection="cloud"), 0)
        self.assertEqual(value(f, "mqgate_connection_received_bytes_total", connection="plant"),
                         70)
        self.assertEqual(value(f, "mqgate_connection_journal_oldest_age_seconds",
                               connection="plant"), 7.5)
        self.assertEqual(value(f, "mqgate_connection_redelivered_messages_total",
                               connection="plant"), 2)
        self.assertEqual(value(f, "mqgate_connection_unjournaled_messages_total",
                               connection="cloud"), 1)
        def journal_in_status():  # status.json is rewritten every 0.5 s
            doc = json.loads(run_mqgate(["status", "--json", "-c", gw.cfg])[1])
            return {c["name"]: c for c in doc["connections"]}["itbridge/plant"]["journal"]
        self.assertEqual(wait_for(journal_in_status, 3, what="the journal in status.json"), {"messages": 5, "bytes": 500, "oldest_age_ms": 7500,
                                            "redelivered": 2, "unjournaled": 1})
        rows = run_mqgate(["status", "-c", gw.cfg])[1].split("\n\n")[1].splitlines()
        self.assertEqual({r.split()[0]: r.split()[9] for r in rows[1:]},
                         {"itbridge/plant": "5", "itbridge/cloud": "0"})
        status, body = wait_for(
            lambda: (lambda r: r if len(r[1]["problems"]) == 2 else None)(self.health()), 6,
            what="both connections stalled")
        self.assertEqual(status, 503)
        self.assertEqual({(p["name"], p["reason"], p["limit_s"]) for p in body["problems"]},
                         {("itbridge/plant", "stalled", 2.0), ("itbridge/cloud", "stalled", 2.0)})
        # keepalives answered again: healthy while they keep coming
        stop = time.monotonic() + 30
        pings = 2

        def answered():
            nonlocal pings
            pings += 1
            report("itbridge_plant", pings, 5)
            report("itbridge_cloud", pings, 0)
            return self.health()[0] == 200 or time.monotonic() > stop
        wait_for(answered, 10, what="healthy with keepalives answered")
        self.assertEqual(self.health()[0], 200)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    # ---- mqgate status ----

    def test_status_tables_and_json(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        for i in range(3):
            pub.publish("factory/line1/temperature", b"12345", qos=1)
        sink.wait_count(3, 10)
        def counted():
            out = run_mqgate(["status", "--json", "-c", gw.cfg])[1]
            c = {c["name"]: c for c in json.loads(out)["connections"]} if out else {}
            return c and c["itbridge/cloud"]["messages"]["out"] == 3 and \
                c["itbridge/plant"]["messages"]["in"] == 3 and \
                c["itbridge/plant"]["journal"]["messages"] == 0
        wait_for(counted, 5, what="counters in status.json")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        procs, conns = out.split("\n\n")
        self.assertRegex(procs, r"^instance gw pid \d+ uptime \d+s processes 3 connections 2\n")
        lines = conns.splitlines()
        self.assertEqual(lines[0].split(), ["CONNECTION", "STATE", "SINCE", "RECONNECTS", "IN",
                                            "OUT", "DROPPED", "QUEUED", "HELD", "JOURNAL",
                                            "URL", "LAST-ERROR"])
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        self.assertEqual(rows["itbridge/plant"][1:2] + rows["itbridge/plant"][3:],
                         ["connected", "0", "3", "0", "0", "0", "0", "0",
                          "tcp://127.0.0.1:%d" % self.b["plant"].port, "-"])
        self.assertEqual(rows["itbridge/cloud"][5], "3")
        self.assertRegex(rows["itbridge/cloud"][2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        rc, out, err = run_mqgate(["status", "--json", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["instance"], doc["pid"]), ("gw", gw.proc.pid))
        self.assertEqual([p["name"] for p in doc["processes"]],
                         ["router", "itbridge/plant", "itbridge/cloud"])
        for p in doc["processes"]:
            self.assertEqual(p["state"], "running")
            self.assertEqual(p["restarts"], 0)
            self.assertIsInstance(p["pid"], int)
            self.assertEqual(p["counters"]["state"], "up")
        c = {c["name"]: c for c in doc["connections"]}
        self.assertEqual(set(c), {"itbridge/plant", "itbridge/cloud"})
        cloud = c["itbridge/cloud"]
        for field in ("service", "connection", "url", "state", "since", "state_s", "reconnects",
                      "last_error", "messages", "bytes", "queued", "held", "inflight"):
            self.assertIn(field, cloud)
        self.assertEqual((cloud["service"], cloud["connection"], cloud["state"]),
                         ("itbridge", "cloud", "connected"))
        self.assertEqual(cloud["url"], "tcp://127.0.0.1:%d" % self.b["cloud"].port)
        self.assertEqual(cloud["messages"], {"in": 0, "out": 3, "dropped": 0})
        self.assertEqual(cloud["bytes"], {"in": 0, "out": 15})
        self.assertEqual(c["itbridge/plant"]["messages"], {"in": 3, "out": 0, "dropped": 0})
        self.assertEqual((cloud["queued"], cloud["held"], cloud["reconnects"]), (0, 0, 0))
        self.assertIsNone(cloud["last_error"])
        self.assertEqual(cloud["journal"], {"messages": 0, "bytes": 0, "oldest_age_ms": 0,
                                            "redelivered": 0, "unjournaled": 0})
        gw.stop()
        rc, out, err = run_mqgate(["status", "--json", "-c", gw.cfg])
        self.assertEqual(rc, 1)
        self.assertIn("not running", err)

    # ---- logs ----

    def test_sigusr1_reopens_the_log_file(self):
        logfile = os.path.join(self.work, "logs", "mqgate.log")
        os.makedirs(os.path.dirname(logfile))
        gw = self.gateway(bridge_service(), self.ports(),
                          settings='log_file = "%s";' % logfile, wait_connectors=None)
        self.dump_log_on_failure(gw)
        wait_for(lambda: os.path.exists(logfile) and read(logfile).count("CONN-UP") >= 2, 10,
                 what="both connectors up in the log file")
        rotated = logfile + ".1"
        os.rename(logfile, rotated)
        os.kill(gw.proc.pid, signal.SIGUSR1)
        wait_for(lambda: os.path.exists(logfile), 5, what="a new log file")
        victim = gw.child_pid("mqgate-connector", "itbridge/cloud")
        os.kill(victim, signal.SIGKILL)  # new lines: CHILD-EXIT, CHILD-RESTART, CONN-UP
        wait_for(lambda: "connector[" in read(logfile).partition("CHILD-EXIT")[2], 10,
                 what="new lines, the children's too")
        new, old = read(logfile), read(rotated)
        self.assertIn("NOTICE LOG-REOPEN: log file %s reopened (SIGUSR1)" % logfile, new)
        self.assertIn("INFO LOG-REOPEN: SIGUSR1: reopening the log file", old)
        self.assertNotIn("CHILD-EXIT", old)
        self.assertIn("CHILD-EXIT", new)
        self.assertIsNone(gw.proc.poll())
        for pid in gw.child_pids():  # children ignore the signal: systemctl kill sends it to all
            os.kill(pid, signal.SIGUSR1)
        time.sleep(0.5)
        self.assertEqual(read(logfile).count("CHILD-EXIT"), 1)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    # ---- help ----

    def test_help_for_every_command(self):
        cases = {
            ("--help",): ["run", "check", "status", "tap", "reload", "version"],
            ("help",): ["run", "check", "status", "tap", "version"],
            ("-h",): ["run", "check", "status", "tap", "version"],
            ("run", "--help"): ["-c, --config", "-p, --param", "--service-id", "SIGUSR1"],
            ("check", "--help"): ["-c, --config", "-p, --param", "--service-id"],
            ("status", "--help"): ["-c, --config", "--json"],
            ("status", "-h"): ["-c, --config", "--json"],
            ("version", "--help"): ["usage: mqgate version"],
            ("help", "status"): ["--json"],
            ("reload", "--help"): ["-c, --config", "FILE:LINE:COL", "exit codes"],
            ("tap", "--help"): ["-c, --config", "--count N", "--json", "--max-bytes N", "FILTER"],
        }
        for args, names in cases.items():
            rc, out, err = run_mqgate(list(args))
            self.assertEqual(rc, 0, (args, err))
            self.assertEqual(err, "")
            for n in names:
                self.assertIn(n, out, args)
        for args in (["status", "-p", "a=b"], ["version", "-c", "x"], ["run", "--json"],
                     ["status", "file.yml"], ["help", "frobnicate"], ["check", "--nope"],
                     ["tap", "--count"], ["tap", "--max-bytes", "70000", "a"],
                     ["status", "--count", "1"], ["run", "--max-bytes", "3"]):
            rc, out, err = run_mqgate(args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn("mqgate: error:", err)

    # ---- the systemd unit ----

    def test_install_puts_a_valid_systemd_unit(self):
        build = os.path.dirname(os.path.abspath(BIN))
        prefix = os.path.join(self.work, "prefix")
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        unit = os.path.join(prefix, "lib", "systemd", "system", "mqgate.service")
        text = read(unit)
        for line in ("ExecStart=%s/bin/mqgate run -c %s/etc/mqgate/mqgate.cfg" % (prefix, prefix),
                     "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                     "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "StateDirectory=mqgate", "RuntimeDirectory=mqgate"):
            self.assertIn("\n" + line + "\n", text)
        for prog in ("mqgate", "mqgate-router", "mqgate-connector", "mqgate-tap"):
            self.assertTrue(os.access(os.path.join(prefix, "bin", prog), os.X_OK), prog)
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        r = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        complaints = [l for l in (r.stdout + r.stderr).splitlines() if "mqgate.service" in l]
        self.assertEqual(complaints, [], "systemd-analyze verify: %s" % r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
