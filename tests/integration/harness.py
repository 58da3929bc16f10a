"""harness — real mosquitto brokers and real mqgate processes for the integration tests.

Everything binds to 127.0.0.1 on free ports, lives in a temporary directory, and is stopped
by the test's cleanup (and, as a last resort, at interpreter exit) even when a test fails.
Every wait is bounded. Needs /usr/sbin/mosquitto and python3-paho-mqtt (Debian packages).
FakeBroker plays a broken or hostile broker where a real one would not misbehave.
"""
import atexit
import os
import queue
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import sys

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "pylib"))
from mqgprocs import children_of, free_port, pid_alive, processes_named, wait_for  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MQG_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("MQG_BIN", os.path.join(SRC, "build", "bin"))
MOSQUITTO = "/usr/sbin/mosquitto"

_live = []  # every Popen we started, killed at exit if still running


def _reap_all():
    for p in _live:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass


atexit.register(_reap_all)


class Broker:
    """A mosquitto broker on a free loopback port."""

    def __init__(self, workdir, name, users=None, extra="", persistent=False, tls=None,
                 host="127.0.0.1", port=None):
        """tls: {"cafile", "certfile", "keyfile", "require_certificate"}: the main port
        (self.port) speaks TLS, and self.plain_port offers the same broker without TLS (on
        127.0.0.1). host, port: where the main port listens (default: a free port on
        127.0.0.1)."""
        self.host = host
        self.port = port or free_port()
        self.plain_port = None
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "mosquitto.log")
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [
            "user root" if os.geteuid() == 0 else "",
            "listener %d %s" % (self.port, host),
        ]
        if tls:
            lines += ["cafile %s" % tls["cafile"], "certfile %s" % tls["certfile"],
                      "keyfile %s" % tls["keyfile"],
                      "require_certificate %s" % str(tls.get("require_certificate", False)).lower()]
            self.plain_port = free_port()
            lines += ["listener %d 127.0.0.1" % self.plain_port]
        lines += [
            "persistence %s" % ("true" if persistent else "false"),
            "persistence_location %s/" % self.dir,
            "log_dest file %s" % self.log,
            "max_queued_messages 0",
            "max_inflight_messages 0",
        ]
        if users:
            pwfile = os.path.join(self.dir, "passwd")
            with open(pwfile, "w") as f:
                pass
            for u, p in users.items():
                subprocess.run(["mosquitto_passwd", "-b", pwfile, u, p], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", "password_file %s" % pwfile]
        else:
            lines += ["allow_anonymous true"]
        lines.append(extra)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.conf = conf
        self.proc = None
        self.start()

    def _log_tail(self, n=5):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def start(self):
        """Start mosquitto and wait until its port answers. Started again on the same port
        (a test's restart), it may find the port taken for a moment: a client reconnecting
        meanwhile can get that port as its own source port (the ports come from the kernel's
        ephemeral range) and connect to itself. Then it tries again, for at most 10 s."""
        end = time.monotonic() + 10
        while True:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            _live.append(self.proc)
            exited = []

            def up():
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.2):
                        return True
                except OSError:
                    if self.proc.poll() is not None:
                        exited.append(True)
                        return True
                    return False

            wait_for(up, 10, what="mosquitto %s on port %d" % (self.name, self.port))
            if not exited:
                return
            tail = self._log_tail()
            if "Address already in use" not in tail or time.monotonic() > end:
                raise AssertionError("mosquitto %s exited (%s):\n%s" % (self.name, self.log, tail))
            time.sleep(0.5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Client:
    """A paho client that records what it receives: list of (topic, payload, qos, retain)."""

    def __init__(self, port, subs=(), client_id="", username=None, password=None, qos=1,
                 clean=True):
        self.msgs = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(client_id=client_id, clean_session=clean)
        if username:
            self.c.username_pw_set(username, password)
        self.c.max_inflight_messages_set(1000)
        self.c.max_queued_messages_set(0)
        self.subscribed = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()
        if subs:
            self.c.subscribe([(s, qos) for s in subs])
            if not self.subscribed.wait(10):
                raise AssertionError("subscribe timed out")

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, bytes(m.payload), m.qos, bool(m.retain)))

    def received(self):
        with self.lock:
            return list(self.msgs)

    def count(self):
        with self.lock:
            return len(self.msgs)

    def publish(self, topic, payload, qos=1, retain=False, wait=True):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish()
        return info

    def wait_count(self, n, timeout):
        return wait_for(lambda: self.count() >= n, timeout,
                        what=lambda: "%d messages (have %d)" % (n, self.count()))

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


class Gateway:
    """mqgate run on a service file, with its own runtime directory and log file.

    Without an internal_broker group in `settings` the gateway runs with mode "off": the
    default (an embedded mosquitto on a fixed port) would make gateways of parallel tests
    clash. A test of the internal broker passes its own group, with a free port
    (internal_broker_settings())."""

    def __init__(self, workdir, service_text, params=None, settings="", name="gw", bin_dir=None):
        self.bin = bin_dir or BIN
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.service = os.path.join(self.dir, "service.yml")
        with open(self.service, "w") as f:
            f.write(service_text)
        self.cfg = os.path.join(self.dir, "mqgate.cfg")
        self.rundir = os.path.join(self.dir, "run")
        self.statedir = os.path.join(self.dir, "state")
        if "internal_broker" not in settings:
            settings += '\ninternal_broker = { mode = "off"; };'
        with open(self.cfg, "w") as f:
            f.write('instance = "%s";\nruntime_dir = "%s";\n' % (name, self.rundir))
            if "state_dir" not in settings:  # journals live with the test, never in /var/lib
                f.write('state_dir = "%s";\n' % self.statedir)
            f.write(settings + "\n")
        self.params = params or {}
        self.log = os.path.join(self.dir, "mqgate.log")
        self.proc = None
        self.env = None  # environment of mqgate (None: the test's own)

    def args(self, cmd="run"):
        a = [os.path.join(self.bin, "mqgate"), cmd, "-c", self.cfg, self.service]
        for k, v in self.params.items():
            a += ["-p", "%s=%s" % (k, v)]
        return a

    def start(self, wait_connectors=None):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env)
        _live.append(self.proc)
        if wait_connectors is not None:
            wait_for(lambda: self.log_count("CONN-UP") >= wait_connectors, 15,
                     what="%d connectors up (log %s)" % (wait_connectors, self.log))
            wait_for(lambda: self.log_count("SUBSCRIBED") + self.log_count("SUB-") >=
                     self.subscribing, 15, what="subscriptions done")
        return self

    subscribing = 0  # how many connectors subscribe something; set by tests that care

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_count(self, needle):
        return self.log_text().count(needle)

    def status(self):
        """Rows of the status file's process table: dicts with role, name, state, pid,
        restarts, and counters (the process's own key=value counters, e.g. {"dropped": "3",
        "state": "up"}). The connection table after the blank line is not read."""
        path = os.path.join(self.rundir, self.dir.split("/")[-1], "status")
        rows = []
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            return rows
        for ln in lines[2:]:
            if not ln.strip():
                break  # the connection table follows
            parts = ln.split()
            if len(parts) >= 6:
                rows.append({"role": parts[0], "name": parts[1], "state": parts[2],
                             "pid": int(parts[3]) if parts[3].isdigit() else 0,
                             "restarts": int(parts[5]),
                             "counters": dict(p.split("=", 1) for p in parts[7:] if "=" in p)})
        return rows

    def child_pids(self):
        return children_of(self.proc.pid) if self.proc else []

    def child_pid(self, exe_suffix, key=None):
        for pid in self.child_pids():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv[0].decode().endswith(exe_suffix) and \
                    (key is None or key.encode() in argv):
                return pid
        return None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal the supervisor and return (exit code, seconds taken)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0

    def kill_all(self):
        if self.proc and self.proc.poll() is None:
            pids = self.child_pids()
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait(5)
        # children of a killed supervisor may still be winding down
        for p in processes_named(self.dir + "/run"):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if getattr(self, "logf", None):
            self.logf.close()


def internal_broker_settings(port=None, extra=""):
    """An internal_broker group for an embedded broker on a free loopback port (or `port`):
    (settings text, port)."""
    port = port or free_port()
    return ('internal_broker = { mode = "embedded"; listen = "127.0.0.1:%d"; %s };' %
            (port, extra)), port


def run_mqgate(args, timeout=20):
    """Run mqgate to completion: (exit code, stdout, stderr)."""
    p = subprocess.run([os.path.join(BIN, "mqgate")] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class GatewayTest(unittest.TestCase):
    """Base class: a temp dir, two brokers (plant, cloud), cleanup of all of it."""

    brokers = ("plant", "cloud")
    broker_extra = {}  # name -> extra mosquitto.conf lines

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="mqgate-it-")
        self.addCleanup(self.tmp.cleanup)
        self.work = self.tmp.name
        self.b = {}
        for name in self.brokers:
            br = Broker(self.work, name, extra=self.broker_extra.get(name, ""))
            self.addCleanup(br.stop)
            self.b[name] = br
        self.clients = []
        self.addCleanup(self._close_clients)

    def _close_clients(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass

    def fake_broker(self, **kw):
        """A FakeBroker (see there), stopped at cleanup."""
        fb = FakeBroker(**kw)
        self.addCleanup(fb.stop)
        return fb

    def client(self, broker, subs=(), **kw):
        c = Client(self.b[broker].port if isinstance(broker, str) else broker, subs, **kw)
        self.clients.append(c)
        return c

    def gateway(self, service_text, params=None, settings="", wait_connectors=2, subscribing=1,
                name="gw", bin_dir=None, env=None):
        gw = Gateway(self.work, service_text, params, settings, name, bin_dir)
        gw.subscribing = subscribing
        gw.env = env
        self.addCleanup(self.assert_no_sanitizer_reports, gw)
        self.addCleanup(gw.kill_all)
        self._gw_for_failure = gw
        gw.start(wait_connectors=wait_connectors)
        return gw

    def assert_no_sanitizer_reports(self, gw):
        """A sanitizer build (MQG_SANITIZE) reports into the gateway log: that fails the test."""
        log = gw.log_text()
        for needle in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                       "UndefinedBehaviorSanitizer"):
            i = log.find(needle)
            if i >= 0:
                self.fail("sanitizer report in %s:\n%s" % (gw.log, log[max(0, i - 200):i + 3000]))

    def dump_log_on_failure(self, gw):
        """Print the gateway log if the test fails (helps CI readers)."""
        def dump():
            outcome = getattr(self, "_outcome", None)
            result = getattr(outcome, "result", None)
            failed = outcome is not None and (not outcome.success or any(
                t is self for t, _ in (result.failures + result.errors if result else [])))
            if failed:
                print("\n----- mqgate log (%s) -----\n%s" % (gw.log, gw.log_text()[-6000:]))
        self.addCleanup(dump)


BRIDGE = """
description: two brokers bridged by mqgate (integration test)
metadata:
  name: IT Bridge
parameters:
  plantPort: {type: integer}
  cloudPort: {type: integer}
resources:
  plant:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection:
        host: 127.0.0.1
        port: !ref plantPort
        reconnectPeriod: 200
  cloud:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection:
        host: 127.0.0.1
        port: !ref cloudPort
        reconnectPeriod: 200
  source:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      subscribe:
        topic: %(src_topic)s
        qos: %(qos)d
  sink:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref cloud
      write:
        topic: %(dst_topic)s
        qos: %(qos)d
        retain: %(retain)s
  route:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe:
            endpoint: !ref source
          publish:
            endpoint: !ref sink
"""


def bridge_service(src_topic="factory/line1/temperature", dst_topic="cloud/line1/temperature",
                   qos=1, retain="false"):
    return BRIDGE % {"src_topic": src_topic, "dst_topic": dst_topic, "qos": qos,
                     "retain": retain}


def mqtt_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_publish(topic, payload, qos=0, pid=0, v5=False):
    """A PUBLISH packet; topic is bytes, sent as given (valid or not)."""
    body = struct.pack(">H", len(topic)) + topic
    if qos:
        body += struct.pack(">H", pid)
    if v5:
        body += b"\x00"  # no properties
    body += payload
    return bytes([0x30 | (qos << 1)]) + mqtt_varint(len(body)) + body


class FakeBroker:
    """A minimal MQTT broker on a free loopback port that plays a broken or hostile broker.

    It answers CONNECT with CONNACK (MQTT 3.1.1 or 5, as asked), SUBSCRIBE with SUBACK (granting
    what was asked), PINGREQ, and acknowledges QoS 1 publishes. After the SUBACK it sends
    burst(v5) (bytes, e.g. mqtt_publish() packets) in one sendall. With close_after_connack it
    closes every connection right after its CONNACK. Records the time of every CONNECT, of every
    accepted connection and of every close after a CONNACK, and the packet ids of the PUBACKs
    it got. stop() ends it (GatewayTest.fake_broker adds that to the cleanup)."""

    def __init__(self, burst=None, close_after_connack=False):
        self.burst = burst
        self.close_after_connack = close_after_connack
        self.connects = []  # time.monotonic() of each CONNECT
        self.accepts = []  # ... of each accepted connection
        self.closes = []  # ... of each close right after a CONNACK
        self.pubacks = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def connect_times(self):
        with self.lock:
            return list(self.connects)

    def reconnect_delays(self):
        """Seconds from each close after a CONNACK to the next connection accepted: the
        client's pause before it tried again."""
        with self.lock:
            return [a - c for c, a in zip(self.closes, self.accepts[1:])]

    def acked(self):
        with self.lock:
            return list(self.pubacks)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(5)
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.accepts.append(time.monotonic())
            conn.settimeout(0.1)
            self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _read(self, conn, buf, n):
        while len(buf) < n:
            if self.stopping.is_set():
                return None
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def _packets(self, conn):
        """Yield (first byte, body) of each packet the client sends, until it closes."""
        buf = b""
        while True:
            buf = self._read(conn, buf, 2)
            if buf is None:
                return
            n, shift, i = 0, 0, 1
            while True:
                buf = self._read(conn, buf, i + 1)
                if buf is None:
                    return
                n += (buf[i] & 0x7F) << shift
                shift += 7
                i += 1
                if not buf[i - 1] & 0x80:
                    break
            buf = self._read(conn, buf, i + n)
            if buf is None:
                return
            yield buf[0], buf[i:i + n]
            buf = buf[i + n:]

    def _serve(self, conn):
        v5 = False
        try:
            for first, body in self._packets(conn):
                kind = first >> 4
                if kind == 1:  # CONNECT: name (2 + 4 bytes), level
                    v5 = body[6] == 5
                    with self.lock:
                        self.connects.append(time.monotonic())
                    conn.sendall(b"\x20\x03\x00\x00\x00" if v5 else b"\x20\x02\x00\x00")
                    if self.close_after_connack:
                        conn.shutdown(socket.SHUT_RDWR)
                        with self.lock:
                            self.closes.append(time.monotonic())
                        return
                elif kind == 8:  # SUBSCRIBE: packet id, [properties], (filter, options)*
                    pid, off = body[:2], 2
                    if v5:
                        off += 1 + body[2]  # short property lengths only
                    granted = b""
                    while off < len(body):
                        flen = struct.unpack(">H", body[off:off + 2])[0]
                        granted += bytes([body[off + 2 + flen] & 3])
                        off += 3 + flen
                    ack = pid + (b"\x00" if v5 else b"") + granted
                    conn.sendall(b"\x90" + mqtt_varint(len(ack)) + ack)
                    if self.burst:
                        conn.sendall(self.burst(v5))
                elif kind == 4:  # PUBACK
                    with self.lock:
                        self.pubacks.append(struct.unpack(">H", body[:2])[0])
                elif kind == 3 and (first >> 1) & 3:  # PUBLISH QoS 1/2 from the client
                    tlen = struct.unpack(">H", body[:2])[0]
                    conn.sendall(b"\x40\x02" + body[2 + tlen:4 + tlen])
                elif kind == 12:  # PINGREQ
                    conn.sendall(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    return
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
