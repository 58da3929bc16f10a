"""it_delivery — crash-safe QoS 1 (issue 10): no loss across the crash of any mqgate process.

Real mosquitto brokers, QoS 1 end to end, sequence-numbered messages (a source id and a
sequence number at the start of every payload) published at a steady 5,000 msg/s, a sink that
records every delivery, and a checker that reports, per source topic, what is missing (loss),
what came more than once (duplicates: how many, and the sequence ranges they fall in) and the
first place where the order goes back other than by a duplicate. Loss and order are asserted;
duplicates are allowed, but only for what was in flight at a fault (DUP_PER_FAULT below), never
for a whole backlog.

Scenarios (the numbers of issue 10), each with its own brokers and gateway:
  s0  the connector dies inside paho's message callback (test hook MQG_TEST_DIE_IN_CALLBACK,
      before and after the journal append): the message comes again (broker or journal)
  s1  the router killed (kill -9) five times during one stream
  s2  the target connector killed five times during one stream
  s3  the source connector killed five times during one stream (persistent session)
  s4  the supervisor killed (kill -9) mid-stream, then `mqgate run` again
  s5  SIGTERM mid-stream, then `mqgate run` again
  s6  the target broker down for 60 s under load (120,000 messages wait): every mqgate
      process stays under 64 MiB (VmHWM/VmRSS sampled every 0.5 s), all arrive in order
  s7  a fan-out route (one source, three targets), one target connector killed: the other
      two targets get no duplicates

Faults in a steady stream find only a few messages inside mqgate; so before some of them (the
second and fourth kill of s1, s2, the second of s7, the stop in s4 and s5) the target broker is
paused (SIGSTOP) until BACKLOG messages are on their way, and goes on right after the fault.
In s1 the target connector's queue is 1,000 messages, so that backlog waits in the router.

Settings: state_dir = "<test dir>/state" and journal = { enabled = true; } (docs: the
delivery design), short restart pauses for the five kills; `mqgate check` runs first. MQG_IT_DELIVERY_NO_JOURNAL_SETTINGS=1 leaves those two out of mqgate.cfg:
only for running this harness against a build from before issue 10, which refuses them
(it then reports that build's losses; the tests still fail).
Every scenario prints its report (sent, missing, duplicates, order, time) as it ends, and the
module prints a summary of all of them at the end.
"""
import multiprocessing
import os
import signal
import struct
import sys
import threading
import time
import unittest

import paho.mqtt.client as mqtt

from harness import (Broker, GatewayTest, pid_alive, processes_named, run_mqgate,
                     wait_for)
from mqgprocs import cmdline, proc_status

RATE = 5000  # msg/s, all source topics together
PAYLOAD = 64  # bytes per message: 6 bytes of header (source id, sequence number) + padding
# Duplicates one fault may cause. What can be duplicated is what was in flight when the fault
# hit: publishes the target connector had outstanding at its broker (at most
# connector.max_inflight, 1,000 by default), plus what was confirmed but whose confirmation had
# not yet travelled back (DONE / MARK / RELEASE go out at most every 10 ms, marks are
# persisted at most every 10 ms, PUBACKs paho still had queued towards the source broker):
# allow another 0.2 s of the stream at 5,000 msg/s, 1,000 messages. When the router is killed
# while the target broker is paused (s1), what the old router had handed to the target
# connector is in flight too: the backlog the test built (BACKLOG, 2,500 messages over both
# topics, more arriving until the kill), which the target publishes after the kill and the new
# router replays (measured: clusters of 900-1,800 per topic). A replay of a whole backlog
# (everything since the last release, or an outage's 120,000 messages) is far above it.
DUP_PER_FAULT = 3000
# Duplicates of one fault lie close together: a cluster is a run of duplicated sequence
# numbers with gaps below this; no cluster may hold more than DUP_PER_FAULT duplicates.
CLUSTER_GAP = 200
MIB = 1024  # kB
RSS_LIMIT_KB = 64 * MIB
# Scenario 6's payload: 256 bytes, a typical JSON reading; the outage's backlog is then
# 120,000 x 279 bytes of topic + payload, about 32 MiB: more than the queues in memory hold
# with the journal on (the router's and the target connector's, 20,000 messages / 16 MiB
# each), so most of the backlog must wait in the source's journal.
S6_PAYLOAD = 256
# Before some faults the target broker is paused (SIGSTOP) until this many messages are on
# their way (acknowledged by the source broker, not yet at the sink): in the steady stream
# only a few are inside mqgate at any moment, and a fault there would prove little.
BACKLOG = 2500

LEGACY = os.environ.get("MQG_IT_DELIVERY_NO_JOURNAL_SETTINGS") == "1"
SVC_ID = "itdelivery"
HEADER = struct.Struct(">HI")  # source id, sequence number

SUMMARY = []  # (scenario, seconds, text) of every scenario that got as far as its report


T0 = time.monotonic()


def log(msg):
    sys.stdout.write("[it_delivery %6.1f] %s\n" % (time.monotonic() - T0, msg))
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# service text


CONN = """  %(name)s:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection:
        host: 127.0.0.1
        port: !ref %(name)sPort
        reconnectPeriod: 200
%(extra)s"""

ROUTE = """        - subscribe: {topic: "it/src/+t", connection: !ref plant, qos: 1}
          publish: {topic: "%(prefix)s/{t}", connection: !ref %(target)s, qos: 1}
"""


def service(targets=("cloud",), persistent_source=False):
    """One source connection `plant` (subscribes it/src/+t, QoS 1), one route per target
    connection: it/src/<t> -> <target>/<t> on that connection, QoS 1. With persistent_source
    the plant connection has a persistent session (clean: false, a fixed clientId)."""
    extra = ("        clean: false\n        clientId: mqgate-it-delivery-plant\n"
             if persistent_source else "")
    parts = ["description: crash-safe QoS 1 (integration test it_delivery)\n",
             "metadata:\n  name: IT Delivery\n", "parameters:\n"]
    for c in ("plant",) + tuple(targets):
        parts.append("  %sPort: {type: integer}\n" % c)
    parts.append("resources:\n")
    parts.append(CONN % {"name": "plant", "extra": extra})
    for t in targets:
        parts.append(CONN % {"name": t, "extra": ""})
    parts.append("  route:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n")
    for t in targets:
        parts.append(ROUTE % {"prefix": t, "target": t})
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# publisher, sink, checker


def _publish_loop(port, topics, rate, size, client_id, stop_ev, ready_ev, done_ev, total,
                  acked, sent, elapsed):
    """The publisher process (see Publisher): counters in shared memory, one writer each."""
    pad = b"p" * (size - HEADER.size)
    c = mqtt.Client(client_id=client_id, clean_session=False)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.reconnect_delay_set(0.05, 0.5)
    connected = threading.Event()
    c.on_connect = lambda cl, u, f, rc: rc == 0 and connected.set()

    def on_publish(cl, u, mid):
        acked.value += 1

    c.on_publish = on_publish
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    if not connected.wait(10):
        return
    ready_ev.set()
    ntop = len(topics)
    counts = [0] * ntop
    k = n_total = 0
    t0 = time.monotonic()
    while not stop_ev.is_set():
        due = int((time.monotonic() - t0) * rate)
        # a starved process catches up, but in bursts of at most 0.1 s worth
        for _ in range(min(due - n_total, rate // 10)):
            i = k % ntop
            k += 1
            c.publish(topics[i], HEADER.pack(i, counts[i]) + pad, qos=1)
            counts[i] += 1
            sent[i] = counts[i]
            n_total += 1
            total.value = n_total
        time.sleep(0.005)
    elapsed.value = time.monotonic() - t0
    end = time.monotonic() + 60
    while acked.value < n_total and time.monotonic() < end:
        time.sleep(0.02)
    if acked.value >= n_total:
        done_ev.set()
    c.disconnect()
    c.loop_stop()


class Publisher:
    """Publishes QoS 1 messages at a steady rate, round robin over its topics, each topic with
    its own sequence numbers from 0, until stop(). It runs in a process of its own (the sinks
    in this one must not slow it down, nor it them): a persistent session and automatic
    reconnects (paho resends what the broker had not acknowledged), no local limit on queued
    messages. stop() returns once the source broker acknowledged every message: from then on
    `sent` is exactly what the source broker has."""

    def __init__(self, port, topics, rate=RATE, size=PAYLOAD, client_id="it-delivery-pub"):
        ctx = multiprocessing.get_context("spawn")
        self.ntop = len(topics)
        self.rate = rate
        self.stop_ev, self.ready_ev, self.done_ev = ctx.Event(), ctx.Event(), ctx.Event()
        self._total = ctx.Value("q", 0, lock=False)
        self._acked = ctx.Value("q", 0, lock=False)
        self._sent = ctx.Array("q", self.ntop, lock=False)
        self._elapsed = ctx.Value("d", 0.0, lock=False)
        self.proc = ctx.Process(target=_publish_loop, daemon=True, args=(
            port, list(topics), rate, size, client_id, self.stop_ev, self.ready_ev,
            self.done_ev, self._total, self._acked, self._sent, self._elapsed))
        self.proc.start()
        if not self.ready_ev.wait(20):
            self.close()
            raise AssertionError("publisher: no connection to the source broker")

    @property
    def total(self):
        return self._total.value

    @property
    def acked(self):
        return self._acked.value

    def stop(self, timeout=60):
        """Stop publishing; wait until every message is acknowledged by the source broker.
        Returns {source id: messages published}."""
        self.stop_ev.set()
        if not self.done_ev.wait(timeout):
            raise AssertionError("publisher: the source broker acknowledged %d of %d messages"
                                 % (self.acked, self.total))
        self.proc.join(10)
        return {i: self._sent[i] for i in range(self.ntop)}

    def achieved_rate(self):
        return self.total / max(self._elapsed.value, 1e-6)

    def close(self):
        self.stop_ev.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


class Sink:
    """Records every message on the target broker: (topic, source id, sequence number, dup
    flag) in arrival order. Subscribes again at every connect; with persistent=True it keeps a
    persistent session (a fixed client id, clean session off), so with a target broker that
    saves its state nothing it acknowledged is lost while the broker restarts."""

    def __init__(self, port, filters, client_id, persistent=False):
        self.filters = list(filters)
        self.recs = []
        self.seen = set()  # (source id, seq) of every message that arrived at least once
        self.c = mqtt.Client(client_id=client_id, clean_session=not persistent)
        self.c.reconnect_delay_set(0.05, 0.5)
        self.subscribed = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            self.c.loop_stop()
            raise AssertionError("sink %s: subscribe timed out" % client_id)

    def _on_connect(self, c, u, flags, rc):
        if rc == 0:
            c.subscribe([(f, 1) for f in self.filters])

    def _on_message(self, c, u, m):
        p = m.payload
        if len(p) >= HEADER.size:
            src, seq = HEADER.unpack_from(p)
        else:
            src, seq = -1, -1
        self.recs.append((m.topic, src, seq, m.dup))  # list.append is atomic under the GIL
        self.seen.add((src, seq))

    def count(self):
        return len(self.recs)

    def unique(self):
        """Messages that arrived at least once (duplicates not counted)."""
        return len(self.seen)

    def records(self):
        return list(self.recs)

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def ranges(seqs):
    """Sorted distinct numbers -> [(first, last)] of runs of consecutive numbers."""
    out = []
    for s in seqs:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        elif not out or s != out[-1][1]:
            out.append([s, s])
    return [tuple(r) for r in out]


def fmt_ranges(rs, limit=10):
    txt = ", ".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in rs[:limit])
    return txt + (" ... (%d ranges)" % len(rs) if len(rs) > limit else "")


class TopicReport:
    """What one target got from one source topic."""

    def __init__(self, name, sent):
        self.name, self.sent = name, sent
        self.received = 0
        self.missing = []  # ranges
        self.n_missing = 0
        self.dups = 0  # extra copies that came from mqgate
        self.dup_ranges = []  # ranges of sequence numbers with more than one copy
        self.clusters = []  # (first, last, copies) of duplicates lying close together
        self.sink_redelivered = 0  # extra copies the target broker itself resent (dup flag)
        self.order = None  # (arrival index, seq, highest seq before it) of the first backstep
        self.backsteps = 0
        self.unexpected = 0  # sequence numbers never sent
        self.bad_topic = 0  # arrived under another topic than the route's

    def line(self):
        t = "%s: sent %d, got %d, missing %d" % (self.name, self.sent, self.received,
                                                   self.n_missing)
        if self.missing:
            t += " [%s]" % fmt_ranges(self.missing)
        t += ", duplicates %d" % self.dups
        if self.dups:
            t += " in %d cluster(s), largest %d, seqs [%s]" % (
                len(self.clusters), max(c[2] for c in self.clusters), fmt_ranges(self.dup_ranges))
        if self.sink_redelivered:
            t += ", target broker redelivered %d to the sink (not counted)" % self.sink_redelivered
        if self.order:
            t += ", ORDER: %d backsteps, first at arrival #%d: seq %d after %d" % (
                (self.backsteps,) + self.order)
        else:
            t += ", order ok"
        if self.unexpected or self.bad_topic:
            t += ", unexpected %d, wrong topic %d" % (self.unexpected, self.bad_topic)
        return t


def analyse(recs, sent, topic_of, names):
    """recs: a sink's records; sent: {source id: messages published}; topic_of(source id):
    the topic the route delivers it to; names: {source id: name}. -> {source id: TopicReport}"""
    reps = {}
    copies = {}
    firstmax = {}
    dup_seqs = {}
    for src, n in sent.items():
        reps[src] = TopicReport(names[src], n)
        copies[src] = bytearray(n)  # saturates at 255: enough to count, dups counted apart
        firstmax[src] = -1
        dup_seqs[src] = []
    stray = 0
    for idx, (topic, src, seq, dup) in enumerate(recs):
        r = reps.get(src)
        if r is None:
            stray += 1
            continue
        r.received += 1
        if topic != topic_of(src):
            r.bad_topic += 1
        if not 0 <= seq < r.sent:
            r.unexpected += 1
            continue
        c = copies[src]
        if c[seq]:
            if dup:
                r.sink_redelivered += 1
            else:
                r.dups += 1
                dup_seqs[src].append(seq)
            if c[seq] < 255:
                c[seq] += 1
            continue
        c[seq] = 1
        if seq < firstmax[src]:
            r.backsteps += 1
            if r.order is None:
                r.order = (idx, seq, firstmax[src])
        else:
            firstmax[src] = seq
    for src, r in reps.items():
        c = copies[src]
        miss = [i for i in range(r.sent) if not c[i]]
        r.n_missing = len(miss)
        r.missing = ranges(miss)
        ds = sorted(dup_seqs[src])
        r.dup_ranges = ranges(ds)
        for s in ds:
            if r.clusters and s - r.clusters[-1][1] < CLUSTER_GAP:
                a, _, k = r.clusters[-1]
                r.clusters[-1] = (a, s, k + 1)
            else:
                r.clusters.append((s, s, 1))
    if stray:
        log("  %d messages from unknown sources" % stray)
    return reps


# ---------------------------------------------------------------------------------------------
# memory


class RssSampler:
    """Samples VmRSS and VmHWM of the supervisor and every child every 0.5 s, in a thread;
    keeps the peak per process (label: role and connection key)."""

    def __init__(self, gw, period=0.5):
        self.gw, self.period = gw, period
        self.peak = {}  # label -> [max VmRSS kB, max VmHWM kB, pids seen]
        self.samples = 0
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    @staticmethod
    def label(pid):
        argv = cmdline(pid)
        if not argv:
            return None
        exe = os.path.basename(argv[0])
        if "--key" in argv and argv.index("--key") + 1 < len(argv):
            return "%s %s" % (exe, argv[argv.index("--key") + 1])
        return exe

    def sample(self):
        proc = self.gw.proc
        if proc is None or proc.poll() is not None:
            return
        for pid in [proc.pid] + self.gw.child_pids():
            lab = self.label(pid)
            st = proc_status(pid, "VmRSS", "VmHWM")
            if lab is None or st["VmRSS"] is None:
                continue
            p = self.peak.setdefault(lab, [0, 0, set()])
            p[0] = max(p[0], st["VmRSS"])
            p[1] = max(p[1], st["VmHWM"] or 0)
            p[2].add(pid)
        self.samples += 1

    def _run(self):
        while not self.stop_flag.wait(self.period):
            try:
                self.sample()
            except Exception as e:  # a process that ends between listing and reading
                log("rss sample: %r" % e)

    def stop(self):
        self.stop_flag.set()
        self.t.join(5)
        self.sample()

    def over(self, limit_kb):
        return {k: v for k, v in self.peak.items() if max(v[0], v[1]) >= limit_kb}

    def text(self):
        return "; ".join("%s VmRSS %.1f MiB VmHWM %.1f MiB" % (k, v[0] / MIB, v[1] / MIB)
                         for k, v in sorted(self.peak.items()))


def sanitized(pid):
    """True when the process runs with AddressSanitizer (its RSS then means nothing)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("asan" in ln for ln in f)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# the tests


class DeliveryBase(GatewayTest):
    """Brokers, gateway, publisher, sinks, faults and the report, for the tests below."""

    brokers = ("plant",)  # targets are made per test (scenario 6 needs a persistent one)

    def setUp(self):
        super().setUp()
        self.state_dir = os.path.join(self.work, "state")
        self.t_start = time.monotonic()
        self.faults = 0
        self.max_inside = 0  # the most messages on their way at any fault (the checks' bound)
        self.journal_opts = ""  # more settings of the journal group

    # ---- set-up helpers

    def broker(self, name, persistent=False):
        br = Broker(self.work, name, persistent=persistent)
        self.addCleanup(br.stop)
        self.addCleanup(self.resume, br)  # runs first: a stopped broker cannot act on SIGTERM
        self.b[name] = br
        return br

    @staticmethod
    def pause(br):
        """SIGSTOP a broker: connections stay up, nothing is acknowledged any more, so
        messages pile up inside mqgate (the target connector's queue and in flight)."""
        os.kill(br.proc.pid, signal.SIGSTOP)

    @staticmethod
    def resume(br):
        if br.proc and br.proc.poll() is None:
            os.kill(br.proc.pid, signal.SIGCONT)

    def backlog(self, br, pub, sink, n=BACKLOG):
        """Pause target broker br until at least n messages the source broker acknowledged
        have not reached the sink (at most 5 s). Returns how many that is. The caller resumes
        the broker (after the fault)."""
        self.pause(br)
        end = time.monotonic() + 5
        while self.inside(pub, [sink]) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.inside(pub, [sink])

    def inside(self, pub, sinks):
        """Messages the source broker has acknowledged that no sink has yet (about what is
        inside mqgate, in the brokers' buffers or on its way)."""
        # unique arrivals: duplicates of an earlier fault must not make the next backlog look
        # smaller than it is
        return max(0, pub.acked - min(s.unique() for s in sinks))

    def settings(self, extra=""):
        s = []
        if not LEGACY:
            s += ['state_dir = "%s";' % self.state_dir,
                  "journal = { enabled = true; %s };" % self.journal_opts]
        # five kills within seconds: keep the supervisor's restart pauses short
        s += ["restart = { backoff_ms = 100; backoff_max_ms = 1000; };", extra]
        return "\n".join(s)

    def check_config(self, svc, ports, settings):
        """`mqgate check` on the test's files first: a refused setting fails at once, with
        mqgate's own message (rather than after waiting for connectors that never come)."""
        d = os.path.join(self.work, "check")
        os.makedirs(d, exist_ok=True)
        cfg, yml = os.path.join(d, "mqgate.cfg"), os.path.join(d, "service.yml")
        with open(cfg, "w") as f:
            f.write('instance = "check";\nruntime_dir = "%s";\n%s\n' % (os.path.join(d, "run"),
                                                                        settings))
        with open(yml, "w") as f:
            f.write(svc)
        args = ["check", "-c", cfg, yml]
        for k, v in ports.items():
            args += ["-p", "%s=%s" % (k, v)]
        rc, _, err = run_mqgate(args)
        if rc != 0:
            self.fail("mqgate check refuses the test's configuration (exit %d): %s"
                      % (rc, err.strip()))

    def start_gateway(self, svc, targets, env=None, settings_extra=""):
        ports = {"%sPort" % n: self.b[n].port for n in ("plant",) + tuple(targets)}
        self.check_config(svc, ports, self.settings(settings_extra))
        saved = {}
        for k, v in (env or {}).items():  # the supervisor passes its environment on
            saved[k] = os.environ.get(k)
            os.environ[k] = v
        try:
            gw = self.gateway(svc, ports, settings=self.settings(settings_extra),
                              wait_connectors=1 + len(targets), subscribing=1)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.dump_log_on_failure(gw)
        return gw

    def publisher(self, topics, rate=RATE, size=PAYLOAD):
        pub = Publisher(self.b["plant"].port, topics, rate, size)
        self.addCleanup(pub.close)
        return pub

    def sink(self, broker, filters, name, persistent=False):
        s = Sink(self.b[broker].port, filters, "it-delivery-%s" % name, persistent)
        self.addCleanup(s.close)
        return s

    # ---- fault helpers

    def kill_child(self, gw, exe, key=None, times=1, sink=None, gap=1.2, backlog=(), pub=None,
                   target="cloud"):
        """kill -9 a child `times` times; after each: the supervisor started it again and the
        stream reaches the sink again; then `gap` seconds before the next kill. Before the
        kills numbered in `backlog` (1-based) the target broker is paused until BACKLOG
        messages are on their way (a kill in the steady stream finds only a few inside mqgate);
        it goes on right after the kill."""
        for i in range(times):
            victim = wait_for(lambda: gw.child_pid(exe, key), 15,
                              what="%s %s running (kill %d)" % (exe, key or "", i + 1))
            paused = i + 1 in backlog
            if paused:
                inside = self.backlog(self.b[target], pub, sink)
            else:
                inside = self.inside(pub, [sink]) if pub and sink else None
            try:
                os.kill(victim, signal.SIGKILL)
            finally:
                if paused:
                    self.resume(self.b[target])
            self.faults += 1
            self.max_inside = max(self.max_inside, inside or 0)
            t0 = time.monotonic()
            wait_for(lambda: (lambda p: p if p and p != victim else None)(gw.child_pid(exe, key)),
                     15, what="%s %s started again after kill %d" % (exe, key or "", i + 1))
            back = time.monotonic() - t0
            if sink is not None:
                n = sink.count()
                wait_for(lambda: sink.count() >= n + 500, 20,
                         what="the stream flowing to the sink again after kill %d" % (i + 1))
            log("  kill %d of %s %s: pid %d, back after %.2f s%s%s" % (
                i + 1, exe, key or "", victim, back,
                ", target broker paused before" if paused else "",
                "" if inside is None else ", %d messages on their way at the kill" % inside))
            time.sleep(gap)

    def wait_processes_gone(self, gw, timeout=10):
        wait_for(lambda: not processes_named(gw.rundir), timeout,
                 what="every process of the old gateway gone")

    def run_again(self, gw, connections):
        """`mqgate run` again in the same gateway directory (same state_dir)."""
        if getattr(gw, "logf", None):
            gw.logf.close()
        ups = gw.log_count("CONN-UP")
        subs = gw.log_count("SUBSCRIBED")
        gw.start()
        wait_for(lambda: gw.log_count("CONN-UP") >= ups + connections, 20,
                 what="%d connectors up after the restart (log %s)" % (connections, gw.log))
        wait_for(lambda: gw.log_count("SUBSCRIBED") > subs, 20, what="subscribed again")

    # ---- the end of a stream

    def settle(self, sinks, sent, timeout=60, quiet=5.0):
        """Wait until every sink has every message, or nothing arrived for `quiet` s, or
        `timeout`; then 1 s more for late duplicates. Returns seconds waited."""
        t0 = time.monotonic()
        seen = {id(s): {src: set() for src in sent} for s in sinks}
        done = {id(s): 0 for s in sinks}
        last_n, last_change = -1, t0
        while True:
            complete = True
            for s in sinks:
                recs = s.recs
                n = len(recs)
                got = seen[id(s)]
                for (_, src, seq, _) in recs[done[id(s)]:n]:
                    if src in got:
                        got[src].add(seq)
                done[id(s)] = n
                for src, k in sent.items():
                    if len(got[src]) < k:
                        complete = False
            now = time.monotonic()
            total = sum(done.values())
            if total != last_n:
                last_n, last_change = total, now
            if complete or now - last_change > quiet or now - t0 > timeout:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        return time.monotonic() - t0

    def report(self, scenario, sinks, sent, names, faults, dup_free=(), extra="", checks=()):
        """Analyse what each sink got, print it, record it for the summary, and assert: no
        loss, order kept, nothing unexpected; duplicates at most DUP_PER_FAULT per fault and
        per cluster (none at all for the sinks named in dup_free); and the scenario's own
        checks, (failed?, text) pairs. All failures are reported together."""
        took = time.monotonic() - self.t_start
        lines = []
        failures = [text for bad, text in checks if bad]
        for label, (sink, prefix) in sinks.items():
            reps = analyse(sink.records(), sent, lambda src: "%s/%s" % (prefix, names[src]),
                           names)
            dups = sum(r.dups for r in reps.values())
            lines.append("  target %s: duplicates %d" % (label, dups))
            for r in reps.values():
                lines.append("    " + r.line())
                if r.n_missing:
                    failures.append("%s %s: %d lost [%s]" % (label, r.name, r.n_missing,
                                                            fmt_ranges(r.missing)))
                if r.order:
                    failures.append("%s %s: order broken: first at arrival #%d, seq %d after %d"
                                    % ((label, r.name) + r.order))
                if r.unexpected or r.bad_topic:
                    failures.append("%s %s: %d unexpected sequence numbers, %d on a wrong topic"
                                    % (label, r.name, r.unexpected, r.bad_topic))
                # what was on its way at a fault can come twice: on a slow machine (the
                # sanitizer build) that is more than DUP_PER_FAULT; never more than both
                bound = max(DUP_PER_FAULT, self.max_inside)
                big = [c for c in r.clusters if c[2] > bound]
                if big:
                    failures.append("%s %s: %d duplicates together in seqs %d-%d: more than was "
                                    "in flight (%d)" % ((label, r.name, big[0][2]) +
                                                        big[0][:2] + (bound,)))
            if label in dup_free and dups:
                failures.append("%s: %d duplicates at a target whose connector was not touched"
                                % (label, dups))
            elif dups > max(faults, 1) * DUP_PER_FAULT:
                failures.append("%s: %d duplicates for %d fault(s): more than %d per fault"
                                % (label, dups, faults, DUP_PER_FAULT))
        head = "%s: %.1f s, %d faults, sent %s%s" % (
            scenario, took, faults, ", ".join("%s %d" % (names[s], n) for s, n in sent.items()),
            extra)
        log(head)
        for ln in lines:
            log(ln)
        SUMMARY.append((scenario, took, "\n".join([head] + lines)))
        if failures:
            self.fail("%s:\n  %s" % (scenario, "\n  ".join(failures)))



class DeliveryTest(DeliveryBase):
    """The scenarios of issue 10."""

    # ---- s0: dying inside the callback

    def _callback_death(self, when):
        n_die = 3000
        self.broker("cloud")
        sink = self.sink("cloud", ["cloud/#"], "sink")
        gw = self.start_gateway(service(persistent_source=True), ("cloud",),
                                env={"MQG_TEST_DIE_IN_CALLBACK": "%d:%s" % (n_die, when)})
        pub = self.publisher(["it/src/a"])
        time.sleep(3.0)  # the hook fires 0.6 s in; the connector comes back, the stream goes on
        sent = pub.stop()
        self.settle([sink], sent)
        # the connector's state directory is <state_dir>/<instance>
        fired = any("die-hook-fired" in files for _, _, files in os.walk(self.state_dir))
        rows = {r["name"]: r for r in gw.status()}
        restarts = rows.get("%s/plant" % SVC_ID, {}).get("restarts")
        got = [seq for (_, src, seq, _) in sink.records() if src == 0 and seq == n_die - 1]
        gw.stop()
        log_text = gw.log_text()
        self.report("s0 die in callback (%s append)" % when, {"cloud": (sink, "cloud")}, sent,
                    {0: "a"}, 1,
                    extra=", rate %.0f/s; hook fired: %s, source restarts %s, seq %d (the %d-th "
                    "message) arrived %d times" % (pub.achieved_rate(), fired, restarts, n_die - 1,
                                                   n_die, len(got)),
                    checks=[(not fired, "the test hook MQG_TEST_DIE_IN_CALLBACK did not fire (no "
                             "die-hook-fired under %s)" % self.state_dir),
                            (restarts != 1, "the source connector must have died once, in the "
                             "hook: restarts %s" % restarts),
                            (fired and "exit 1" not in log_text,
                             "no child exit with code 1 in the log")])

    def test_s0_callback_death_before_append(self):
        self._callback_death("before")

    def test_s0_callback_death_after_append(self):
        self._callback_death("after")

    # ---- s1-s3: one process killed five times during one stream

    def _kill_five_times(self, scenario, exe, key, persistent_source=False, settings_extra=""):
        self.broker("cloud")
        sink = self.sink("cloud", ["cloud/#"], "sink")
        gw = self.start_gateway(service(persistent_source=persistent_source), ("cloud",),
                                settings_extra=settings_extra)
        pub = self.publisher(["it/src/a", "it/src/b"])
        wait_for(lambda: sink.count() >= 2000, 15, what="the stream at the sink")
        self.kill_child(gw, exe, key, times=5, sink=sink, backlog=(2, 4), pub=pub)
        time.sleep(1.0)
        sent = pub.stop()
        waited = self.settle([sink], sent)
        gw.stop()
        self.report(scenario, {"cloud": (sink, "cloud")}, sent, {0: "a", 1: "b"}, self.faults,
                    extra=", rate %.0f/s, settled in %.1f s" % (pub.achieved_rate(), waited))

    def test_s1_router_killed_five_times(self):
        # a target connector queue of 1,000 messages (all of them in flight): the backlog the
        # paused target broker makes before kills 2 and 4 waits in the router's queue
        self._kill_five_times("s1 router kill -9 x5", "mqgate-router", None,
                              settings_extra="connector = { outbound_queue_max = 1000; };")

    def test_s2_target_connector_killed_five_times(self):
        self._kill_five_times("s2 target connector kill -9 x5", "mqgate-connector",
                              "%s/cloud" % SVC_ID)

    def test_s3_source_connector_killed_five_times(self):
        # a persistent session: the broker keeps what it sent us unacknowledged and what
        # arrives while the connector is away (design: "Guarantees and their limits")
        # small queues after the source connector (1,000 messages in the target connector,
        # 1,000 in the router): the backlog before kills 2 and 4 backs up into the source
        # connector itself
        self._kill_five_times("s3 source connector kill -9 x5", "mqgate-connector",
                              "%s/plant" % SVC_ID, persistent_source=True,
                              settings_extra="connector = { outbound_queue_max = 1000; };\n"
                              "router = { queue_max = 1000; };")

    # ---- s4, s5: the whole gateway stopped mid-stream and run again

    def _gateway_restart(self, scenario, how):
        self.broker("cloud")
        sink = self.sink("cloud", ["cloud/#"], "sink")
        gw = self.start_gateway(service(persistent_source=True), ("cloud",))
        pub = self.publisher(["it/src/a", "it/src/b"])
        wait_for(lambda: sink.count() >= 5000, 15, what="the stream at the sink")
        time.sleep(1.0)
        kids = gw.child_pids()
        # the target broker paused: a backlog inside mqgate when the gateway stops (in the
        # steady stream only a few messages are on their way at any moment); it goes on once
        # the old processes are gone
        cloud = self.b["cloud"]
        try:
            inside = self.backlog(cloud, pub, sink)
            t0 = time.monotonic()
            if how == "kill":
                os.kill(gw.proc.pid, signal.SIGKILL)
                gw.proc.wait(5)
                rc = None
            else:
                rc, _ = gw.stop(signal.SIGTERM, timeout=10)
            self.faults += 1
            self.max_inside = max(self.max_inside, inside)
            wait_for(lambda: not any(pid_alive(k) for k in kids), 10,
                     what="the children of the stopped supervisor gone")
            self.wait_processes_gone(gw)
            gone = time.monotonic() - t0
        finally:
            self.resume(cloud)
        time.sleep(1.0)  # the gateway is away for a moment: the plant broker keeps the session
        self.run_again(gw, 2)
        back = time.monotonic() - t0
        n = sink.count()
        wait_for(lambda: sink.count() >= n + 2000, 20, what="the stream after the restart")
        time.sleep(1.0)
        sent = pub.stop()
        waited = self.settle([sink], sent)
        gw.stop()
        self.report(scenario, {"cloud": (sink, "cloud")}, sent, {0: "a", 1: "b"}, self.faults,
                    extra=", rate %.0f/s, %d messages on their way at the stop, old processes "
                    "gone after %.1f s, running again after %.1f s%s, settled in %.1f s" % (
                        pub.achieved_rate(), inside, gone, back,
                        "" if rc is None else ", SIGTERM exit code %s" % rc, waited),
                    checks=[(how == "term" and rc != 0, "SIGTERM: exit code %s, not 0" % rc)])

    def test_s4_supervisor_killed_then_run_again(self):
        self._gateway_restart("s4 supervisor kill -9, run again", "kill")

    def test_s5_sigterm_then_run_again(self):
        self._gateway_restart("s5 SIGTERM, run again", "term")

    # ---- s6: the target broker down for 60 s under load

    def test_s6_target_broker_down_60s_memory_bounded(self):
        outage, rate = 60.0, 2000  # 120,000 messages wait (issue 10)
        cloud = self.broker("cloud", persistent=True)
        sink = self.sink("cloud", ["cloud/#"], "sink", persistent=True)
        gw = self.start_gateway(service(), ("cloud",))
        rss = RssSampler(gw)
        self.addCleanup(rss.stop)
        pub = self.publisher(["it/src/a", "it/src/b"], rate=rate, size=S6_PAYLOAD)
        wait_for(lambda: sink.count() >= 2000, 15, what="the stream at the sink")
        cloud.stop()  # SIGTERM: mosquitto saves its sessions (the sink's) and comes back with them
        self.faults += 1
        t_down = time.monotonic()
        at_down = pub.total
        counters = {}
        time.sleep(outage)
        waiting = pub.total - at_down
        for r in gw.status():
            counters[r["name"]] = r["counters"]
        cloud.start()  # same port, sessions restored
        t_up = time.monotonic()

        def target_up():
            row = {r["name"]: r for r in gw.status()}.get("%s/cloud" % SVC_ID, {})
            return row.get("counters", {}).get("state") == "up"

        # the connector's reconnect pause has grown during the outage (up to 60 s)
        wait_for(target_up, 65, step=0.2, what="the target connector connected again")
        reconnect = time.monotonic() - t_up
        time.sleep(3.0)  # the stream goes on while the backlog drains
        sent = pub.stop()
        waited = self.settle([sink], sent, timeout=90, quiet=10.0)
        rss.stop()
        asan = sanitized(gw.proc.pid)
        gw.stop()
        src = counters.get("%s/plant" % SVC_ID, {})
        tgt = counters.get("%s/cloud" % SVC_ID, {})
        rtr = counters.get("router", {})
        journal = src.get("journal")
        asan_note = ""
        over = rss.over(RSS_LIMIT_KB)
        if asan:
            # ASan's shadow memory, redzones and quarantine (256 MB by default) make RSS
            # meaningless; the bound is checked by the plain build (the peaks are printed)
            asan_note = " (AddressSanitizer build: the 64 MiB bound is not asserted)"
            over = {}
        self.report("s6 target broker down 60 s", {"cloud": (sink, "cloud")}, sent,
                    {0: "a", 1: "b"}, self.faults,
                    extra=", rate %.0f/s, %d published during the outage; at its end: source "
                    "journal=%s journal_bytes=%s, router queued=%s gaps=%s, target queued=%s; "
                    "reconnected %.1f s after the broker was back, settled in %.1f s\n  peak "
                    "memory (%d samples)%s: %s" % (
                        pub.achieved_rate(), waiting, journal, src.get("journal_bytes"),
                        rtr.get("queued"), rtr.get("gaps"), tgt.get("queued"), reconnect,
                        waited, rss.samples, asan_note, rss.text()),
                    checks=[
                        (waiting < 100000, "the outage held only %d messages" % waiting),
                        (rss.samples < 100, "only %d memory samples" % rss.samples),
                        (bool(over), "peak RSS at or over 64 MiB: %s" % "; ".join(
                            "%s %.1f MiB" % (k, max(v[:2]) / MIB) for k, v in over.items())),
                        # the backlog waits in the source's journal (design: status counters)
                        (journal is None, "no journal= counter in the source connector's status"),
                        (journal is not None and int(journal) < 100000,
                         "the source's journal held %s records at the end of the outage, not the "
                         "backlog (>= 100,000)" % journal)])

    # ---- s7: fan-out, one of three targets killed

    def test_s7_fanout_one_target_killed_others_no_duplicates(self):
        # one source, three targets (three connections to one target broker): 3 deliveries per
        # message; 2,000 msg/s (6,000 deliveries/s) is what 2 shared cores carry through four
        # brokers' worth of traffic, mqgate and the Python sinks without starving the sinks
        rate = 2000
        self.broker("cloud")
        targets = ("t1", "t2", "t3")
        for t in targets:
            self.b[t] = self.b["cloud"]
        sinks = {t: (self.sink("cloud", ["%s/#" % t], "sink-%s" % t), t) for t in targets}
        gw = self.start_gateway(service(targets=targets), targets)
        pub = self.publisher(["it/src/a"], rate=rate)
        wait_for(lambda: all(s.count() >= 1000 for s, _ in sinks.values()), 15,
                 what="the stream at every sink")
        self.kill_child(gw, "mqgate-connector", "%s/t1" % SVC_ID, times=2, sink=sinks["t1"][0],
                        gap=2.0, backlog=(2,), pub=pub)
        sent = pub.stop()
        waited = self.settle([s for s, _ in sinks.values()], sent)
        gw.stop()
        self.report("s7 fan-out x3, target t1 kill -9 x2", sinks, sent, {0: "a"}, self.faults,
                    dup_free=("t2", "t3"),
                    extra=", rate %.0f/s, settled in %.1f s" % (pub.achieved_rate(), waited))


class JournalBadInputTest(DeliveryBase):
    """Issue 10's bad input: a damaged journal, a state_dir that cannot be used."""

    def test_torn_journal_reported_intact_records_replayed(self):
        """A journal whose last record is torn (as after a power loss in the middle of a
        write) and followed by garbage: the connector reports file and offset, moves the damaged
        bytes aside, starts, and every intact message arrives."""
        cloud = self.broker("cloud")
        gw = self.start_gateway(service(persistent_source=True), ("cloud",))
        cloud.stop()  # the target away: what arrives waits in the source's journal
        pub = self.publisher(["it/src/a"], rate=1000)
        time.sleep(2.0)
        sent = pub.stop()

        def journaled():
            row = {r["name"]: r for r in gw.status()}.get("%s/plant" % SVC_ID, {})
            return int(row.get("counters", {}).get("journal", "-1")) >= sent[0]

        wait_for(journaled, 15, what="every message in the source's journal")
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)
        jdir = os.path.join(self.state_dir, "gw", "%s%%2Fplant" % SVC_ID)
        segs = sorted(f for f in os.listdir(jdir) if f.endswith(".seg"))
        self.assertTrue(segs, "no journal segment in %s: %s" % (jdir, os.listdir(jdir)))
        seg = os.path.join(jdir, segs[-1])
        size = os.path.getsize(seg)
        with open(seg, "ab") as f:  # a record header that promises more than follows, garbage
            f.write(b"\x00\x00\x01\x00" + b"\xa5" * 37)
        cloud.start()
        sink = self.sink("cloud", ["cloud/#"], "sink")
        self.run_again(gw, 2)
        self.settle([sink], sent, timeout=30)
        gw.stop()
        log_text = gw.log_text()
        moved = [f for f in os.listdir(jdir) if ".corrupt-" in f]
        self.report("torn journal", {"cloud": (sink, "cloud")}, sent, {0: "a"}, 1,
                    checks=[("JOURNAL-CORRUPT" not in log_text or
                             "%s: " % segs[-1] not in log_text or
                             "at offset %d" % size not in log_text,
                             "no JOURNAL-CORRUPT line naming %s and offset %d" % (segs[-1], size)),
                            (not moved, "the damaged bytes were not moved aside: %s"
                             % os.listdir(jdir)),
                            (gw.log_count("WARN CHILD-EXIT") > 0,
                             "a process exited unexpectedly (its journal?)")])

    def test_full_journal_holds_the_source_then_passes_messages_on(self):
        """journal.max_bytes reached while the target is away: the connector warns once
        (JOURNAL-FULL), holds each message up to full_wait_ms (the source broker waits), then
        passes it on without the journal (counted as unjournaled); it does not crash and no
        message is lost once the target is back."""
        self.journal_opts = "max_bytes = 1048576; full_wait_ms = 200;"
        cloud = self.broker("cloud", persistent=True)
        sink = self.sink("cloud", ["cloud/#"], "sink", persistent=True)
        gw = self.start_gateway(service(), ("cloud",))
        cloud.stop()  # mosquitto keeps the sink's session
        pub = self.publisher(["it/src/a"], rate=400, size=4096)  # 1.6 MB/s into 1 MiB
        time.sleep(4.0)
        sent = pub.stop()

        def row():
            return {r["name"]: r for r in gw.status()}.get("%s/plant" % SVC_ID, {})

        wait_for(lambda: int(row().get("counters", {}).get("unjournaled", "0")) > 0, 10,
                 what="messages passed on without the journal (unjournaled > 0)")
        self.assertEqual(gw.log_count("JOURNAL-FULL"), 1, "warned once per episode")
        self.assertEqual(row().get("restarts"), 0)
        cloud.start()
        self.settle([sink], sent, timeout=60, quiet=10.0)
        gw.stop()
        rep = analyse(sink.records(), sent, lambda src: "cloud/a", {0: "a"})[0]
        log("full journal: sent %d, %s; %s" % (sent[0], rep.line(), row().get("counters", {})))
        self.assertEqual(rep.n_missing, 0, rep.line())

    def test_state_dir_unusable_is_a_configuration_error(self):
        blocker = os.path.join(self.work, "a-file")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        d = os.path.join(self.work, "bad")
        os.makedirs(d)
        cfg, yml = os.path.join(d, "mqgate.cfg"), os.path.join(d, "service.yml")
        with open(cfg, "w") as f:
            f.write('instance = "bad";\nruntime_dir = "%s";\nstate_dir = "%s/sub";\n'
                    % (os.path.join(d, "run"), blocker))
        with open(yml, "w") as f:
            f.write(service())
        rc, _, err = run_mqgate(["run", "-c", cfg, yml, "-p", "plantPort=%d" % self.b["plant"].port,
                                 "-p", "cloudPort=%d" % self.b["plant"].port])
        self.assertEqual(rc, 78, err)
        self.assertIn("STATE-DIR", err)
        self.assertIn("state_dir", err)
        self.assertIn(blocker, err)


class CheckerTest(unittest.TestCase):
    """The checker itself, on made-up deliveries (no processes)."""

    def test_loss_duplicates_order(self):
        def recs(seqs, src=0, topic="cloud/a", dup=False):
            return [(topic, src, q, dup) for q in seqs]

        # in order, nothing missing, a redelivery after a fault (900-1099 again), the target
        # broker's own resend to the sink (dup flag), a late first copy (an order break)
        got = (recs(range(0, 1100)) + recs(range(900, 1100)) + recs(range(1100, 2000)) +
               recs([1999], dup=True) + recs(range(2100, 3000)) + recs(range(2000, 2100)) +
               recs([5]))
        r = analyse(got, {0: 3000}, lambda src: "cloud/a", {0: "a"})[0]
        self.assertEqual(r.n_missing, 0)
        self.assertEqual(r.dups, 201)
        self.assertEqual(r.dup_ranges, [(5, 5), (900, 1099)])
        self.assertEqual([c[2] for c in r.clusters], [1, 200])
        self.assertEqual(r.sink_redelivered, 1)
        self.assertEqual(r.order, (3101, 2000, 2999))
        self.assertEqual(r.backsteps, 100)
        # loss: ranges of what never came; a wrong topic and a number never sent
        got = recs(range(0, 10)) + recs(range(20, 30)) + recs([31], topic="x") + recs([99])
        r = analyse(got, {0: 40}, lambda src: "cloud/a", {0: "a"})[0]
        self.assertEqual(r.missing, [(10, 19), (30, 30), (32, 39)])
        self.assertEqual(r.n_missing, 19)
        self.assertEqual((r.unexpected, r.bad_topic, r.order), (1, 1, None))


def tearDownModule():
    if SUMMARY:
        log("summary (DUP_PER_FAULT %d%s):" % (DUP_PER_FAULT,
                                                ", WITHOUT journal settings" if LEGACY else ""))
        for scenario, took, text in SUMMARY:
            log("---- %s" % text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
