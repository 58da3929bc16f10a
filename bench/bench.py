#!/usr/bin/env python3
"""bench.py — mqgate throughput/latency benchmark (run it through bench/run).

For every workload three systems move the same messages between MQTT brokers started on free
loopback ports:

  bridge  mosquitto's own bridge: a `connection` on the plant broker pushes to the cloud broker
  mqgate  mqgate bridging plant -> cloud (subscribe endpoint, mapping, write endpoint)
  direct  publish and subscribe on one broker (the ceiling)

The rules-* workloads (issue 13) send JSON payloads (mqbench --json) through a mapping entry
with one `transform` rule run by mqgate-rules (system mqgate), against the same mapping without
rules (mqgate-plain) and the bridge; they are skipped, with the reason, when mqgate-rules was
not built.

The load generator (bench/mqbench.c, libmosquitto) publishes on the plant broker and
subscribes on the cloud broker (direct: the plant broker), checks loss, duplicates and order
and measures the latency. Fresh brokers (and a fresh mqgate) for every workload and system.

Every wait is capped and the caps shrink to fit a total time budget, so the run ends in time
even when a system is slow; bad numbers never make it fail (exit 1 only for real errors: the
build fails, a broker does not start).

Python standard library only.
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "pylib"))
from mqgprocs import (CLK_TCK, children_of, cmdline, free_port, pid_alive, proc_cpu,  # noqa: E402
                      proc_status, stop_proc)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
MOSQUITTO = "/usr/sbin/mosquitto"
T_START = time.monotonic()

SYSTEMS = ("bridge", "mqgate", "mqgate-nj", "mqgate-plain", "direct")
# mqgate-nj: mqgate with journal = { enabled = false; } (crash-safe delivery off), only for the
# workloads marked journal_ab: the cost of the journal, measured in the same run
NO_JOURNAL = "journal = { enabled = false; };"
# the workloads marked rules: mqgate's mapping entry carries this rule (mqgate-rules runs it);
# mqgate-plain is the same mapping without it, on the same JSON payloads: what the rules cost
RULES_YAML = """          rules:
            - transform:
                expression: '{"h": $.h, "p": $.p, "via": "rules"}'
"""
RULES_MB = 64  # issue 13: mqgate-rules RSS under 64 MB after 1,000,000 messages
# seconds each run of a rules workload adds to the default budget (full, --quick): the other
# workloads' caps stay what they were without them
RULES_RUN_BUDGET = (20.0, 8.0)


def is_mqgate(system):
    return system in ("mqgate", "mqgate-nj", "mqgate-plain")


def with_rules(wl, system):
    """mqgate runs the workload's mapping with the transform rule (and mqgate-rules)."""
    return bool(wl.get("rules")) and system == "mqgate"


def runs_on(wl, system, direct_asked=False):
    """Whether the workload is run on the system at all (direct runs the rules workloads only
    when --systems names it)."""
    if wl.get("systems") and system not in wl["systems"]:
        return False
    if system == "mqgate-nj":
        return bool(wl.get("journal_ab"))
    if system == "mqgate-plain":
        return bool(wl.get("rules"))
    return not (wl.get("rules") and system == "direct" and not direct_asked)


def long_cap(wl):
    """Hard cap of a `long` workload: its own, not shrunk by the budget (1.5 x nominal + 20 s)."""
    return wl["count"] / wl["rate"] * 1.5 + 20.0
FANOUT_TARGETS = 10

# name, qos, count, payload bytes, rate (0 = burst), source topics, copies per message
WORKLOADS = [
    dict(name="burst-qos0-64B", qos=0, count=200000, size=64, rate=0, topics=1, copies=1,
         quick_count=20000,
         what="burst of 200,000 messages, QoS 0, 64 B"),
    dict(name="burst-qos1-64B", qos=1, count=200000, size=64, rate=0, topics=1, copies=1,
         quick_count=20000, journal_ab=True,
         what="burst of 200,000 messages, QoS 1, 64 B"),
    dict(name="burst-qos1-16KB", qos=1, count=20000, size=16384, rate=0, topics=1, copies=1,
         quick_count=2000,
         what="burst of 20,000 messages, QoS 1, 16 KB"),
    dict(name="steady-qos1-10k", qos=1, count=50000, size=64, rate=10000, topics=1, copies=1,
         quick_count=10000,
         what="10,000 msg/s for 5 s, QoS 1, 64 B"),
    dict(name="fanout-qos1-100x10", qos=1, count=20000, size=64, rate=0, topics=100,
         copies=FANOUT_TARGETS, quick_count=2000,
         what="20,000 messages on 100 topics, each to 10 targets (200,000 deliveries), QoS 1"),
    # issue 13, the rules: JSON payloads (mqbench --json) on mqgate (with the transform),
    # mqgate-plain (without) and the bridge; no direct
    # warmup: messages sent (at the workload's rate) and thrown away before the measured run,
    # for every system alike: the figures are of a gateway that has run a little, not of its
    # first seconds (JavaScriptCore compiles jsonata's evaluator, the journals are new); the
    # cold run's p99 is printed too ("cold")
    dict(name="rules-burst-qos1", qos=1, count=100000, size=128, rate=0, topics=1, copies=1,
         quick_count=10000, rules=True, warmup=10000,
         what="burst of 100,000 messages, QoS 1, 128 B JSON, one transform"),
    dict(name="rules-steady-qos1-2k", qos=1, count=20000, size=128, rate=2000, topics=1,
         copies=1, quick_count=6000, rules=True, warmup=10000,
         what="2,000 msg/s for 10 s, QoS 1, 128 B JSON, one transform (latency)"),
    # long: its own cap (long_cap) and its own time on top of the budget; not with --quick;
    # mqgate only (the RSS of mqgate-rules is the point; the others would add 400 s)
    dict(name="rules-rss-1m", qos=1, count=1000000, size=128, rate=5000, topics=1, copies=1,
         quick_count=None, rules=True, long=True, systems=("mqgate",),
         what="1,000,000 messages at 5,000 msg/s, QoS 1, 128 B JSON, one transform: "
              "mqgate-rules RSS at the end and peak"),
]
NAME_W, SYS_W = 19, 9  # result line columns (main() widens them for longer names)

# ---------------------------------------------------------------------------------------------
# processes we started: stopped at exit whatever happens

_procs = []  # Popen objects, each the leader of its own process group
_extra_pids = set()  # pids outside those groups (mqgate children, in case they left the group)


def _kill_everything():
    for p in _procs:
        stop_proc(p, signal.SIGKILL, grace=2)
    for pid in list(_extra_pids):
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


atexit.register(_kill_everything)


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def spawn(args, **kw):
    p = subprocess.Popen(args, start_new_session=True, **kw)
    _procs.append(p)
    return p


def stat_cpu():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v) - idle) / CLK_TCK, sum(v) / CLK_TCK


def cpu_busy(seconds=0.5):
    """Share of all CPUs busy (0..1) over `seconds`, from /proc/stat."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t1, i1 = snap()
    time.sleep(seconds)
    t2, i2 = snap()
    dt = t2 - t1
    return 0.0 if dt <= 0 else max(0.0, 1.0 - (i2 - i1) / dt)


class FatalError(Exception):
    """A real error: the run cannot continue (build failed, broker did not start)."""


# ---------------------------------------------------------------------------------------------
# build

def run_logged(args, cwd, what, log):
    print("  $ %s" % " ".join(args), flush=True)
    with open(log, "ab") as f:
        r = subprocess.run(args, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read().decode(errors="replace").splitlines()[-40:]
        raise FatalError("%s failed (exit %d); last lines of %s:\n%s"
                         % (what, r.returncode, log, "\n".join(tail)))


def cmake_cache(bdir, name):
    """A variable's value in bdir/CMakeCache.txt, or None."""
    try:
        with open(os.path.join(bdir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def build_rules(args, log):
    """mqgate-rules for the rules workloads: None when it is there, else why it is not (the
    rules workloads are then skipped with that reason). A compile error is a FatalError."""
    bdir = args.build_dir
    exe = os.path.join(bdir, "bin", "mqgate-rules")
    flag = cmake_cache(bdir, "MQG_RULES")
    if flag is not None and flag.upper() in ("OFF", "0", "FALSE", "NO", "N"):
        return "mqgate built without MQG_RULES (rules engine off: see rules/rules.cmake)"
    if not args.no_build:
        argv = ["cmake", "--build", bdir, "-j2", "--target", "mqgate-rules"]
        print("  $ %s" % " ".join(argv), flush=True)
        with open(log, "ab") as f:
            r = subprocess.run(argv, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            f.write(r.stdout)
        if r.returncode != 0:
            out = r.stdout.decode(errors="replace")
            if "No rule to make target" in out or "unknown target" in out:
                return "mqgate-rules is not in this branch yet (no such CMake target)"
            raise FatalError("building mqgate-rules failed (exit %d); last lines of %s:\n%s"
                             % (r.returncode, log, "\n".join(out.splitlines()[-40:])))
    if not os.access(exe, os.X_OK):
        return "%s missing (%s)" % (exe, "drop --no-build to build it" if args.no_build else
                                    "the build made no such program")
    return None


def build(args, need_rules=False):
    """The load generator's path, and why mqgate-rules is missing (None: it is there; only
    looked at when need_rules)."""
    bdir = args.build_dir
    os.makedirs(bdir, exist_ok=True)
    log = os.path.join(bdir, "bench-build.log")
    open(log, "w").close()
    if not args.no_build:
        print("building mqgate (Release) in %s" % bdir, flush=True)
        run_logged(["cmake", "-S", SRC, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release"], SRC,
                   "cmake configure", log)
        run_logged(["cmake", "--build", bdir, "-j2", "--target", "mqgate", "mqgate-router",
                    "mqgate-connector"], SRC, "cmake build", log)
    for exe in ("mqgate", "mqgate-router", "mqgate-connector"):
        if not os.access(os.path.join(bdir, "bin", exe), os.X_OK):
            raise FatalError("%s/bin/%s missing (build first, or drop --no-build)" % (bdir, exe))
    rules_missing = build_rules(args, log) if need_rules else None
    # the load generator: always (re)built when its source is newer; it takes a second
    src = os.path.join(HERE, "mqbench.c")
    exe = os.path.join(bdir, "bench", "mqbench")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        print("building the load generator %s" % exe, flush=True)
        cc = os.environ.get("CC", "cc")
        run_logged([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-o",
                    exe, src, "-lmosquitto", "-lpthread", "-lm"], SRC, "building mqbench", log)
    return exe, rules_missing


# ---------------------------------------------------------------------------------------------
# brokers, bridge, gateway

class Broker:
    """mosquitto on a free loopback port; identical settings for every system."""

    def __init__(self, workdir, name, extra=""):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [
            "user root" if os.geteuid() == 0 else "",
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous true",
            "persistence false",
            "log_dest file %s" % self.log,
            "log_type error",
            "log_type warning",
            "log_type notice",
            # no limits: every message a subscriber (or bridge) has not taken yet is kept,
            # QoS 0 included (with both at 0 mosquitto 2.0 never drops QoS 0 to a client)
            "max_queued_messages 0",
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            extra,
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = spawn([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                raise FatalError("mosquitto (%s) did not start on port %d; see %s:\n%s"
                                 % (name, self.port, self.log, tail(self.log, 10)))
            time.sleep(0.02)

    def peak_rss_kb(self):
        return proc_status(self.proc.pid, "VmHWM")["VmHWM"]

    def stop(self):
        stop_proc(self.proc, grace=3.0)


def bridge_conf(cloud_port, qos, targets):
    """Bridge sections for the plant broker: `targets` connections, each pushing bench/# to
    the cloud broker under its own prefix t<k>/ (so each target gets its own copy)."""
    out = []
    for k in range(targets):
        out += [
            "",
            "connection bench-bridge-%d" % k,
            "address 127.0.0.1:%d" % cloud_port,
            "bridge_protocol_version mqttv311",
            "cleansession true",
            "notifications false",
            "keepalive_interval 60",
            "restart_timeout 1",
            "start_type automatic",
            'topic bench/# out %d "" t%d/' % (qos, k),
        ]
    return "\n".join(out)


def mqgate_service(plant_port, cloud_port, qos, targets, rules=False):
    """Commissioning file: subscribe endpoint on plant, one write endpoint per target on
    cloud (t<k>/bench/data), one mapping with an entry per target (each with RULES_YAML when
    rules)."""
    res = """description: mqgate benchmark (bench/run)
metadata:
  name: Bench
resources:
  plant:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: %(plant)d, scheme: mqtt, reconnectPeriod: 200}
  cloud:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: %(cloud)d, scheme: mqtt, reconnectPeriod: 200}
  source:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      subscribe: {topic: "bench/#", qos: %(qos)d}
""" % {"plant": plant_port, "cloud": cloud_port, "qos": qos}
    for k in range(targets):
        res += """  sink%(k)d:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref cloud
      write: {topic: t%(k)d/bench/data, qos: %(qos)d, retain: false}
""" % {"k": k, "qos": qos}
    res += """  route:
    type: Cybus::Mapping
    properties:
      mappings:
"""
    for k in range(targets):
        res += """        - subscribe: {endpoint: !ref source, qos: %(qos)d}
          publish: {endpoint: !ref sink%(k)d}
""" % {"k": k, "qos": qos}
        if rules:
            res += RULES_YAML
    return res


def tail(path, n):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


class Gateway:
    """mqgate run on a generated service file, in its own process group."""

    def __init__(self, workdir, service_text, bindir, instance, settings=""):
        self.dir = os.path.join(workdir, "mqgate")
        os.makedirs(self.dir, exist_ok=True)
        self.service = os.path.join(self.dir, "service.yml")
        with open(self.service, "w") as f:
            f.write(service_text)
        self.cfg = os.path.join(self.dir, "mqgate.cfg")
        self.log = os.path.join(self.dir, "mqgate.log")
        with open(self.cfg, "w") as f:
            # no internal broker: the bridge has none either (and its port would clash
            # between the runs); --mqgate-settings can switch it on again
            f.write('instance = "%s";\nruntime_dir = "%s";\nstate_dir = "%s";\n'
                    'log = { level = "warn"; file = "%s"; };\n%s\n%s\n'
                    % (instance, os.path.join(self.dir, "run"), os.path.join(self.dir, "state"),
                       self.log, "" if "internal_broker" in settings
                       else 'internal_broker = { mode = "off"; };', settings))
        self.logf = open(os.path.join(self.dir, "stderr.log"), "ab")
        # argv[0] "…/mqgate[bench]": mqgate finds its children through /proc/self/exe, and
        # a `pkill -f "mqgate run"` someone runs on the same machine (a test script, a
        # colleague's experiment) does not stop the gateway in the middle of a measurement
        exe = os.path.join(bindir, "mqgate")
        self.proc = spawn([exe + "[bench]", "run", "-c", self.cfg, self.service], executable=exe,
                          stdout=self.logf, stderr=subprocess.STDOUT)
        self.pids = {}
        self.restarts = {}

    def find_children(self, want=3, timeout=5.0):
        """{label: pid} for the supervisor, the router, each connector and the rules process
        (labels found before keep their last pid while a child is being restarted)."""
        end = time.monotonic() + timeout
        while True:
            pids = {"sup": self.proc.pid}
            for pid in children_of(self.proc.pid):
                argv = cmdline(pid)
                if not argv:
                    continue
                exe = os.path.basename(argv[0])
                if exe == "mqgate-router":
                    pids["router"] = pid
                elif exe == "mqgate-rules":
                    pids["rules"] = pid
                elif exe == "mqgate-connector":
                    key = argv[argv.index("--key") + 1] if "--key" in argv[:-1] else str(pid)
                    pids["conn:" + key.split("/")[-1]] = pid
            if len(pids) >= 1 + want or time.monotonic() > end or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        for label, pid in pids.items():
            if label != "sup":
                _extra_pids.add(pid)
            old = self.pids.get(label)
            if old is not None and old != pid:
                self.restarts[label] = self.restarts.get(label, 0) + 1
        merged = dict(self.pids)
        merged.update(pids)
        self.pids = merged
        return merged

    def start_sampler(self, interval=0.2):
        """Follow VmHWM of every process (and restarted children) until stop_sampler."""
        self.peak = {}
        self._stop_ev = threading.Event()

        def sample():
            for label, pid in list(self.pids.items()):
                v = proc_status(pid, "VmHWM")["VmHWM"]
                if v is not None and v > self.peak.get(label, 0):
                    self.peak[label] = v

        def loop():
            last_scan = 0.0
            while not self._stop_ev.is_set():
                if time.monotonic() - last_scan > 1.0 and self.proc.poll() is None:
                    self.find_children(want=0, timeout=0)
                    last_scan = time.monotonic()
                sample()
                self._stop_ev.wait(interval)
            sample()

        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop_sampler(self):
        """{label: peak VmHWM kB}."""
        self._stop_ev.set()
        self._sampler.join(5)
        return {k: self.peak.get(k) for k in self.pids}

    def mem(self, key):
        return {label: proc_status(pid, key)[key] for label, pid in self.pids.items()}

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM to the supervisor (it stops its children in order); then kill leftovers."""
        t0 = time.monotonic()
        rc = stop_proc(self.proc, grace=6.0, group=False)
        took = time.monotonic() - t0
        for label, pid in self.pids.items():
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.logf.close()
        return rc, took

    def problems(self):
        """WARN/ERROR lines of its log (level warn: nothing else is written)."""
        lines = []
        for path in (self.log, os.path.join(self.dir, "stderr.log")):
            try:
                with open(path, "rb") as f:
                    lines += [ln for ln in f.read().decode(errors="replace").splitlines()
                              if ln.strip()]
            except OSError:
                pass
        return lines


# ---------------------------------------------------------------------------------------------
# one workload on one system

def mqbench(exe, args, timeout, abort_if=None):
    """Run the generator; its JSON line (dict) or {'error': ...}. abort_if(): checked every
    0.2 s, a text when there is no point in waiting (e.g. mqgate exited)."""
    p = spawn([exe] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + timeout
        while True:
            try:
                out, err = p.communicate(timeout=0.2 if abort_if else timeout)
                break
            except subprocess.TimeoutExpired:
                why = abort_if() if abort_if else None
                if why or time.monotonic() > end:
                    if not why:
                        raise
                    stop_proc(p, sig=signal.SIGKILL, grace=1)
                    p.communicate()
                    _procs.remove(p)
                    return {"error": why}
    except subprocess.TimeoutExpired:
        stop_proc(p, sig=signal.SIGKILL, grace=1)
        out, err = p.communicate()
        _procs.remove(p)
        return {"error": "mqbench killed after %.0f s" % timeout,
                "stderr": err.decode(errors="replace")[-2000:]}
    except BaseException:
        stop_proc(p, sig=signal.SIGKILL, grace=1)
        raise
    _procs.remove(p)
    res = None
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                res = json.loads(line)
            except ValueError:
                pass
    if res is None:
        return {"error": "mqbench exit %d without result" % p.returncode,
                "stderr": err.decode(errors="replace")[-2000:]}
    e = err.decode(errors="replace").strip()
    if e:
        res["stderr"] = e[-2000:]
    res["exit"] = p.returncode
    return res


def run_one(ctx, wl, system, max_time):
    """Start brokers (+ bridge or mqgate), run the generator, collect numbers, stop it all."""
    a = ctx.args
    work = os.path.join(ctx.tmp, "%s-%s" % (wl["name"], system))
    os.makedirs(work, exist_ok=True)
    qos, copies = wl["qos"], wl["copies"]
    count = wl["quick_count"] if a.quick else wl["count"]
    res = {"workload": wl["name"], "system": system, "qos": qos, "count": count,
           "size": wl["size"], "rate_target": wl["rate"], "topics": wl["topics"],
           "copies": copies, "max_time_s": round(max_time, 1)}
    gen = ["--qos", qos, "--count", count, "--size", wl["size"], "--rate", wl["rate"],
           "--topics", wl["topics"], "--topic-prefix", "bench/src",
           "--idle-timeout", ctx.idle_timeout, "--max-time", "%.1f" % max_time,
           "--probe-timeout", ctx.probe_timeout]
    fmt = ["--json"] if wl.get("rules") else []  # JSON payloads on every system
    gen += fmt
    rules = with_rules(wl, system)
    if wl.get("rules"):
        res["json"] = True
        res["rules"] = rules
    if wl.get("long"):
        res["long"] = True
    brokers, gw = [], None
    t0 = time.monotonic()
    try:
        if system == "direct":
            plant = Broker(work, "plant")
            brokers.append(plant)
            gen += ["--pub-port", plant.port, "--sub-port", plant.port,
                    "--sub-filter", "bench/#"]
            if copies > 1:
                gen += ["--subs", copies]
        else:
            cloud = Broker(work, "cloud")
            brokers.append(cloud)
            if system == "bridge":
                plant = Broker(work, "plant", extra=bridge_conf(cloud.port, qos, copies))
                brokers.insert(0, plant)
            else:
                plant = Broker(work, "plant")
                brokers.insert(0, plant)
                ctx.instances += 1
                settings = ctx.args.mqgate_settings
                if system == "mqgate-nj":
                    settings += "\n" + NO_JOURNAL
                gw = Gateway(work, mqgate_service(plant.port, cloud.port, qos, copies, rules),
                             ctx.bindir, "bench%d-%d" % (os.getpid(), ctx.instances),
                             settings)
                want = 4 if rules else 3  # + mqgate-rules
                gw.find_children(want=want)
                # path up (probe through mqgate), then the idle memory, before any load
                pr = mqbench(ctx.mqbench, ["--pub-port", plant.port, "--sub-port", cloud.port,
                                           "--qos", qos, "--size", wl["size"],
                                           "--topic-prefix", "bench/src", "--sub-filter", "#",
                                           "--expect-copies", copies, "--probe-only",
                                           "--probe-timeout", ctx.probe_timeout] + fmt,
                             timeout=ctx.probe_timeout + 15,
                             abort_if=lambda: None if gw.alive() else
                             "mqgate exited with %s at start" % gw.proc.returncode)
                res["startup_probe_s"] = pr.get("probe_s")
                gw.find_children(want=want, timeout=0.5)
                res["idle_rss_kb"] = gw.mem("VmRSS")
                if not pr.get("path_up"):
                    res["error"] = pr.get("error") or \
                        "mqgate path not up after %.0f s (probe never arrived)" % ctx.probe_timeout
            gen += ["--pub-port", plant.port, "--sub-port", cloud.port, "--sub-filter", "#",
                    "--expect-copies", copies]
        if "error" not in res:
            if wl.get("warmup") and not a.quick:
                cold = list(gen)
                cold[cold.index("--count") + 1] = wl["warmup"]
                w = mqbench(ctx.mqbench, cold, timeout=max_time + ctx.probe_timeout + 20)
                res["cold"] = {k: w.get(k) for k in ("count", "rate", "p50_ms", "p99_ms",
                                                     "max_ms", "lost", "dup")}
                res["cold"]["count"] = wl["warmup"]
            ours = {"broker:" + b.name: b.proc.pid for b in brokers}
            if gw:
                ours.update({"mqgate:" + k: v for k, v in gw.pids.items()})
            cpu0 = {k: proc_cpu(pid) for k, pid in ours.items()}
            m0 = stat_cpu()
            if gw:
                gw.start_sampler()
            r = mqbench(ctx.mqbench, gen, timeout=max_time + ctx.probe_timeout + 20)
            if gw:
                res["peak_rss_kb"] = gw.stop_sampler()
            m1 = stat_cpu()
            cpu1 = {k: proc_cpu(pid) for k, pid in ours.items()}
            cpu = {k: round(cpu1[k] - cpu0[k], 3) for k in ours
                   if cpu0[k] is not None and cpu1[k] is not None}
            cpu["generator"] = r.pop("cpu_s", None)
            res["cpu_by_process_s"] = cpu
            system_cpu = sum(v for k, v in cpu.items() if k != "generator" and v)
            res["system_cpu_s"] = round(system_cpu, 3)
            if r.get("unique"):
                res["system_cpu_us_per_msg"] = round(system_cpu / r["unique"] * 1e6, 2)
            busy, total = m1[0] - m0[0], m1[1] - m0[1]
            if total > 0:
                other = busy - system_cpu - (cpu["generator"] or 0)
                res["other_cpu_share"] = round(max(0.0, other / total), 3)
            res.update(r)
            if r.get("path_up") is False and "error" not in res:
                res["error"] = "path not up after %.0f s (probe never arrived)" % ctx.probe_timeout
        if gw:
            if "peak_rss_kb" not in res:
                res["peak_rss_kb"] = gw.mem("VmHWM")
            res["rss_end_kb"] = gw.mem("VmRSS")
            if rules:
                res["rules_rss_end_kb"] = res["rss_end_kb"].get("rules")
                res["rules_peak_rss_kb"] = (res.get("peak_rss_kb") or {}).get("rules")
            if gw.restarts:
                res["mqgate_restarts"] = dict(gw.restarts)
            if not gw.alive():
                res["error"] = (res.get("error", "") + "; " if res.get("error") else "") + \
                    "mqgate exited with %s during the run" % gw.proc.returncode
        res["broker_peak_rss_kb"] = {b.name: b.peak_rss_kb() for b in brokers}
    finally:
        if gw:
            rc, took = gw.stop()
            res["mqgate_exit"] = rc
            res["mqgate_stop_s"] = round(took, 2)
            probs = gw.problems()
            res["mqgate_log_problems"] = len(probs)
            res["mqgate_log_tail"] = probs[-15:]
            if a.keep:
                res["mqgate_log"] = gw.log
        for b in brokers:
            b.stop()
    res["wall_s"] = round(time.monotonic() - t0, 2)
    return res


# ---------------------------------------------------------------------------------------------
# output

def fmt_int(n):
    return "-" if n is None else "{:,}".format(int(n))


def fmt_ms(v):
    if v is None or v < 0:
        return "-"
    if v < 1:
        return "%.3f" % v
    if v < 10:
        return "%.2f" % v
    if v < 100:
        return "%.1f" % v
    return "{:,.0f}".format(v)


def fmt_mb(kb):
    return "-" if kb is None else "%.1fM" % (kb / 1024.0)


def rss_text(d):
    if not d:
        return ""
    conns = sorted((k for k in d if k.startswith("conn:")), key=lambda k: (k != "conn:plant", k))
    parts = ["sup %s" % fmt_mb(d.get("sup")), "router %s" % fmt_mb(d.get("router"))]
    parts.append("conn %s" % "/".join(fmt_mb(d[k]) for k in conns) if conns else "conn -")
    if "rules" in d:
        parts.append("rules %s" % fmt_mb(d["rules"]))
    return " ".join(parts)


def result_line(r, ratio=None):
    name = "%-*s %-*s" % (NAME_W, r["workload"], SYS_W, r["system"])
    ind = NAME_W + SYS_W  # the notes' indent (28 with the default columns)
    if r.get("skipped"):
        return "%s  skipped: %s" % (name, r["skipped"])
    if "rate" not in r:
        return "%s  ERROR: %s" % (name, r.get("error", "no result"))
    s = "%s %9s msg/s  p50 %7s  p99 %7s  max %7s ms  lost %s dup %s ooo %s" % (
        name, fmt_int(r["rate"]), fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), fmt_ms(r["max_ms"]),
        fmt_int(r["lost"]), fmt_int(r["dup"]), fmt_int(r["reordered"]))
    if r.get("system_cpu_us_per_msg") is not None:
        s += "  cpu %sus/msg" % fmt_ms(r["system_cpu_us_per_msg"])
    if r.get("peak_rss_kb"):
        s += "  rss %s" % rss_text(r["peak_rss_kb"])
    if ratio is not None:
        s += "  ratio %.2f" % ratio
    notes = []
    if r.get("stop") == "cap":
        notes.append("capped at %.0f s: %s of %s delivered" % (
            r["max_time_s"], fmt_int(r["unique"]), fmt_int(r["expected"])))
    elif r.get("stop") == "idle":
        notes.append("stopped after %.0f s of silence: %s of %s delivered" % (
            r.get("idle_timeout", 3), fmt_int(r["unique"]), fmt_int(r["expected"])))
    elif r.get("stop") not in (None, "complete"):
        notes.append("stop: %s" % r.get("stop"))
    if r.get("sent") is not None and r.get("sent") < r.get("count", 0):
        notes.append("only %s of %s published" % (fmt_int(r["sent"]), fmt_int(r["count"])))
    if r.get("foreign"):
        notes.append("%s unexpected messages" % fmt_int(r["foreign"]))
    if r.get("extra_streams"):
        notes.append("%s copies on unexpected targets" % fmt_int(r["extra_streams"]))
    if r.get("mqgate_restarts"):
        notes.append("mqgate restarted " + ", ".join(
            "%s x%d" % (k, v) for k, v in sorted(r["mqgate_restarts"].items())))
    if r.get("conn_lost"):
        notes.append("a generator connection was lost")
    if r.get("other_cpu_share", 0) > 0.15:
        notes.append("other processes used %.0f%% of the CPUs meanwhile"
                     % (100 * r["other_cpu_share"]))
    if r.get("cold") and r["cold"].get("p99_ms") is not None:
        c = r["cold"]
        notes.append("cold start (the first %s messages, before the run): %s msg/s, p50 %s, "
                     "p99 %s ms, lost %s" % (fmt_int(c["count"]), fmt_int(c.get("rate") or 0),
                                             fmt_ms(c["p50_ms"]), fmt_ms(c["p99_ms"]),
                                             fmt_int(c.get("lost") or 0)))
    if r.get("error"):
        notes.append("ERROR: " + r["error"])
    if r.get("long") and r.get("rules"):
        notes.append("mqgate-rules RSS at the end %s, peak %s, after %s messages" % (
            fmt_mb(r.get("rules_rss_end_kb")), fmt_mb(r.get("rules_peak_rss_kb")),
            fmt_int(r.get("unique"))))
    if notes:
        s += "\n%*s[%s]" % (ind, "", "; ".join(notes))
    return s


def targets_summary(results, quick):
    """(text, met) rows of the issue's targets; informational only."""
    by = {(r["workload"], r["system"]): r for r in results}
    rows = []

    def ratio(wl):
        m, b = by.get((wl, "mqgate")), by.get((wl, "bridge"))
        if not m or not b or not m.get("rate") or not b.get("rate"):
            return None
        return m["rate"] / b["rate"]

    for wl, label in (("burst-qos0-64B", "QoS 0"), ("burst-qos1-64B", "QoS 1")):
        q = ratio(wl)
        if q is not None:
            rows.append(("throughput mqgate/bridge >= 1.0 at %s (%s): %.2f" % (label, wl, q),
                         q >= 1.0))
    on, off = by.get(("burst-qos1-64B", "mqgate")), by.get(("burst-qos1-64B", "mqgate-nj"))
    if on and off and on.get("rate") and off.get("rate"):
        q = on["rate"] / off["rate"]
        rows.append(("QoS 1 burst with the journal (default) >= 0.85 x without: %s / %s msg/s "
                     "= %.2f" % (fmt_int(on["rate"]), fmt_int(off["rate"]), q), q >= 0.85))
    st = by.get(("steady-qos1-10k", "mqgate"))
    if st and st.get("p50_ms") is not None and st.get("p50_ms", -1) >= 0:
        rows.append(("steady 10k msg/s p50 <= 0.5 ms: %s ms" % fmt_ms(st["p50_ms"]),
                     st["p50_ms"] <= 0.5))
        rows.append(("steady 10k msg/s p99 <= 5 ms: %s ms" % fmt_ms(st["p99_ms"]),
                     st["p99_ms"] <= 5.0))
    q1 = [r for r in results if is_mqgate(r["system"]) and r["qos"] >= 1 and "lost" in r]
    if q1:
        bad = ["%s lost %s dup %s" % (r["workload"], fmt_int(r["lost"]), fmt_int(r["dup"]))
               for r in q1 if r["lost"] or r["dup"]]
        rows.append(("zero loss and duplicates at QoS 1 (mqgate, %d workloads)%s"
                     % (len(q1), ": " + ", ".join(bad) if bad else ""), not bad))
    idle = idle_result(results)
    idle = idle["idle_rss_kb"] if idle else None
    if idle:
        big = {k: v for k, v in idle.items() if k not in ("sup", "rules") and v is not None}
        if big:
            mx = max(big.values())
            rows.append(("idle RSS router/connector <= 8 MB: max %s" % fmt_mb(mx),
                         mx <= 8 * 1024))
        if idle.get("sup") is not None:
            rows.append(("idle RSS supervisor <= 4 MB: %s" % fmt_mb(idle["sup"]),
                         idle["sup"] <= 4 * 1024))
    rows += rules_targets(by)
    return rows


def rules_targets(by):
    """Issue 13's rows (met None: skipped, with the reason), when a rules workload ran."""
    rows = []

    def get(wl):
        """(mqgate's result, None) or (None, why there is none); (None, None): not selected.
        A skip is reported as skipped (met None), a run without numbers as not met."""
        r = by.get((wl, "mqgate"))
        if not r:
            return None, None
        if r.get("skipped"):
            return None, (r["skipped"], None)
        if "rate" not in r:
            return None, ("no result: %s" % (r.get("error") or "?"), False)
        return r, None

    r, why = get("rules-burst-qos1")
    label = "rules: >= 5,000 msg/s through one transform (QoS 1, rules-burst-qos1)"
    if why:
        rows.append(("%s: %s" % (label, why[0]), why[1]))
    elif r:
        extra = []
        for other, name in (("mqgate-plain", "without rules"), ("bridge", "bridge")):
            o = by.get(("rules-burst-qos1", other))
            if o and o.get("rate"):
                extra.append("%s %s msg/s, ratio %.2f" % (name, fmt_int(o["rate"]),
                                                         r["rate"] / o["rate"]))
        rows.append(("%s: %s msg/s%s" % (label, fmt_int(r["rate"]), " (%s)" % "; ".join(extra)
                                          if extra else ""), r["rate"] >= 5000))
    r, why = get("rules-steady-qos1-2k")
    label = "rules: p99 < 20 ms at 2,000 msg/s (rules-steady-qos1-2k)"
    if why:
        rows.append(("%s: %s" % (label, why[0]), why[1]))
    elif r:
        lost = r.get("lost") or 0
        ok = r.get("p99_ms") is not None and 0 <= r["p99_ms"] < 20.0 and not lost
        rows.append(("%s: p99 %s ms (p50 %s)%s" % (label, fmt_ms(r.get("p99_ms")),
                                                   fmt_ms(r.get("p50_ms")),
                                                   "; %s lost" % fmt_int(lost) if lost else ""),
                     ok))
    r, why = get("rules-rss-1m")
    label = "rules: mqgate-rules RSS < %d MB after 1,000,000 messages (rules-rss-1m)" % RULES_MB
    if why:
        rows.append(("%s: %s" % (label, why[0]), why[1]))
    elif r:
        end, n = r.get("rules_rss_end_kb"), r.get("unique") or 0
        ok = end is not None and end < RULES_MB * 1024 and n >= 1000000
        rows.append(("%s: %s at the end, peak %s, after %s messages" % (
            label, fmt_mb(end), fmt_mb(r.get("rules_peak_rss_kb")), fmt_int(n)), ok))
    return rows


def idle_result(results):
    """The result whose idle RSS is reported: the first run with one, preferring a run without
    the rules process (the targets are the router's, connectors' and supervisor's)."""
    have = [r for r in results if r.get("idle_rss_kb") and
            any(v is not None for v in r["idle_rss_kb"].values())]
    plain = [r for r in have if "rules" not in r["idle_rss_kb"]]
    return (plain or have or [None])[0]


# ---------------------------------------------------------------------------------------------

class Ctx:
    pass


def estimate_cost(wl, system, quick):
    """Rough seconds a run of a fast system (direct, bridge) takes, start and stop included."""
    base = 1.5
    if wl["rate"]:
        n = wl["quick_count"] if quick else wl["count"]
        return base + n / wl["rate"] + 0.5
    return base + (1.5 if quick else 4.0)


def main():
    ap = argparse.ArgumentParser(
        prog="bench/run",
        description="Throughput and latency of mqgate against mosquitto's bridge and a direct "
                    "publish/subscribe, on two local mosquitto brokers.")
    ap.add_argument("--quick", action="store_true", help="smaller counts (smoke test, ~1 min)")
    ap.add_argument("--only", metavar="WORKLOAD",
                    help="comma-separated workloads (names or prefixes): "
                         + ", ".join(w["name"] for w in WORKLOADS))
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of %s (default all; mqgate-nj and "
                         "mqgate-plain run only where a workload asks for them)"
                         % ",".join(SYSTEMS))
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build-release"),
                    help="CMake build directory (default build-release)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (configs, broker and mqgate logs)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds the whole run may take (default 270; --quick 120; + %.0f "
                         "(--quick %.0f) per run of a rules workload, + rules-rss-1m's own "
                         "cap); caps shrink to fit" % RULES_RUN_BUDGET)
    ap.add_argument("--max-time", type=float, default=None,
                    help="hard cap per run in seconds (default 40; --quick 15)")
    ap.add_argument("--mqgate-settings", default="", metavar="TEXT",
                    help="extra lines for mqgate's settings file, e.g. "
                         "'cpu_affinity = \"none\"; connector = { max_inflight = 100; };'")
    ap.add_argument("--json", default=None,
                    help="results file (default <build-dir>/bench-results.json)")
    args = ap.parse_args()
    if not os.path.isabs(args.build_dir):
        args.build_dir = os.path.abspath(os.path.join(os.getcwd(), args.build_dir))

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in SYSTEMS:
            ap.error("unknown system %r (choose from %s)" % (s, ", ".join(SYSTEMS)))
    workloads = WORKLOADS
    if args.only:
        want = [w.strip() for w in args.only.split(",") if w.strip()]
        workloads = [w for w in WORKLOADS if any(w["name"] == x or w["name"].startswith(x)
                                                 for x in want)]
        if not workloads:
            ap.error("no workload matches %r (have %s)"
                     % (args.only, ", ".join(w["name"] for w in WORKLOADS)))
    budget = args.budget if args.budget else (120.0 if args.quick else 270.0)
    cap = args.max_time if args.max_time else (15.0 if args.quick else 40.0)

    order = [s for s in ("direct", "bridge", "mqgate", "mqgate-nj", "mqgate-plain")
             if s in systems]  # run order
    direct_asked = "direct" in systems and args.systems != ap.get_default("systems")
    runs = [(w, s) for w in workloads for s in order if runs_on(w, s, direct_asked)]
    global NAME_W, SYS_W
    NAME_W = max([NAME_W] + [len(w["name"]) for w in workloads])
    SYS_W = max([SYS_W] + [len(s) for w, s in runs])

    signal.signal(signal.SIGINT, _on_signal)  # also when started with SIGINT ignored (&)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    if not os.access(MOSQUITTO, os.X_OK):
        raise FatalError("%s not found (apt-get install mosquitto)" % MOSQUITTO)

    ctx = Ctx()
    ctx.args = args
    ctx.bindir = os.path.join(args.build_dir, "bin")
    ctx.idle_timeout = 2.0 if args.quick else 3.0
    ctx.probe_timeout = 15.0
    ctx.instances = 0
    need_rules = any(with_rules(w, s) and not (w.get("long") and args.quick) for w, s in runs)
    ctx.mqbench, ctx.rules_missing = build(args, need_rules)
    ctx.tmp = tempfile.mkdtemp(prefix="mqgate-bench-")

    def skip_reason(w, s):
        if w.get("long") and args.quick:
            return "not run with --quick (%s messages at %s msg/s)" % (fmt_int(w["count"]),
                                                                      fmt_int(w["rate"]))
        if with_rules(w, s) and ctx.rules_missing:
            return ctx.rules_missing
        return None

    todo = [(w, s) for w, s in runs if not skip_reason(w, s)]
    if not args.budget:
        budget += sum(RULES_RUN_BUDGET[1 if args.quick else 0] for w, s in todo
                      if w.get("rules") and not w.get("long"))
    # a long workload has its own cap and its own time on top of the budget
    reserve = lambda w: long_cap(w) + 15.0  # noqa: E731  (+ start, probe, stop)
    results = []
    t_meas = time.monotonic()
    deadline = T_START + budget + sum(reserve(w) for w, s in todo if w.get("long"))
    busy0 = cpu_busy(1.0)
    host = os.uname()
    print()
    print("mqgate benchmark%s — %s, %d CPUs, mosquitto %s, started %s" % (
        " (--quick)" if args.quick else "", host.nodename, os.cpu_count(),
        mosquitto_version(), time.strftime("%Y-%m-%d %H:%M:%S")))
    print("brokers: mosquitto on 127.0.0.1 free ports, fresh per run, max_queued_messages 0, "
          "max_inflight_messages 0, set_tcp_nodelay true; clients MQTT 3.1.1")
    print("bridge: mosquitto bridge (mqttv311, cleansession true, topic bench/# out <qos> \"\" "
          "t<k>/); mqgate: %s%s" % (ctx.bindir, ", settings: " + args.mqgate_settings
                                     if args.mqgate_settings else ", default settings"))
    print("per run: idle stop %.0f s after publishing, hard cap %.0f s (less if the %.0f s "
          "budget runs short)" % (ctx.idle_timeout, cap, budget))
    for w in {w["name"]: w for w, s in todo if w.get("long")}.values():
        print("%s: its own hard cap of %.0f s, on top of the budget" % (w["name"], long_cap(w)))
    if any(w.get("rules") for w, s in runs):
        print("rules-*: JSON payloads (mqbench --json); mqgate: the mapping entry carries one "
              "transform %s run by mqgate-rules;" % RULES_YAML.split("expression: ")[1].strip())
        print("         mqgate-plain: the same mapping without rules; rss ... rules = mqgate-rules; "
              "direct only when --systems names it")
        if ctx.rules_missing and need_rules:
            print("         mqgate with rules is skipped: %s" % ctx.rules_missing)
    print("CPU busy before start (other processes): %.0f%%%s" % (
        busy0 * 100, "  <-- the box is not idle: numbers will be noisy" if busy0 > 0.15 else ""))
    print("temp dir: %s" % ctx.tmp)
    print()
    print("msg/s = unique deliveries per second (first publish to last delivery); p50/p99/max = "
          "publish-to-delivery latency in ms;")
    print("lost/dup/ooo = messages missing, duplicated, out of order (per target and source "
          "topic); cpu = CPU of brokers + bridge/mqgate per delivery;")
    print("rss = peak RSS (VmHWM) of the mqgate supervisor, router, connectors (plant/cloud); "
          "ratio = mqgate msg/s / bridge msg/s; mqgate-nj = mqgate with %s" % NO_JOURNAL)
    print("-" * 118)
    sys.stdout.flush()

    interrupted = False
    try:
        for wl in workloads:
            busy = cpu_busy(0.3)
            printed = []
            wl_results = {}
            for system in order:
                if (wl, system) not in runs:
                    continue  # mqgate-nj/-plain run only for the workloads that ask for them
                why = skip_reason(wl, system)
                if why:
                    r = {"workload": wl["name"], "system": system, "qos": wl["qos"],
                         "skipped": why}
                    results.append(r)
                    wl_results[system] = r
                    continue
                # time left, minus what the cheap runs still to come will need, shared by the
                # mqgate runs still to come (mqgate gets whatever the cheap ones leave over);
                # the long runs still to come keep their reserve
                i = todo.index((wl, system))
                rest = [(w, s) for w, s in todo[i:] if not w.get("long")]
                reserved = sum(reserve(w) for w, s in todo[i:] if w.get("long"))
                if wl.get("long"):
                    r = run_one(ctx, wl, system, long_cap(wl))
                    r["idle_timeout"] = ctx.idle_timeout
                    r["other_cpu_busy_before"] = round(busy, 3)
                    results.append(r)
                    wl_results[system] = r
                    continue
                if deadline - reserved - time.monotonic() < 5.0:
                    r = {"workload": wl["name"], "system": system, "qos": wl["qos"],
                         "error": "skipped: the time budget (%.0f s) is used up" % budget}
                    results.append(r)
                    wl_results[system] = r
                    continue
                cheap = sum(estimate_cost(w, s, args.quick) for w, s in rest
                            if not is_mqgate(s))
                n_mq = sum(1 for w, s in rest if is_mqgate(s))
                left = deadline - reserved - time.monotonic()
                overhead = 8.0  # start, probe, stop of one mqgate run
                if is_mqgate(system):
                    share = (left - cheap - overhead * n_mq) / max(1, n_mq)
                else:
                    share = (left - overhead * n_mq) / max(1, len(rest)) 
                mt = max(3.0, min(cap, share))
                if wl["rate"]:
                    n = wl["quick_count"] if args.quick else wl["count"]
                    mt = max(mt, min(cap, n / wl["rate"] + 2.0))
                r = run_one(ctx, wl, system, mt)
                r["idle_timeout"] = ctx.idle_timeout
                r["other_cpu_busy_before"] = round(busy, 3)
                results.append(r)
                wl_results[system] = r
            for system in SYSTEMS:
                r = wl_results.get(system)
                if not r:
                    continue
                ratio = None
                b = wl_results.get("bridge")
                if is_mqgate(system) and b and b.get("rate") and r.get("rate"):
                    ratio = r["rate"] / b["rate"]
                    r["ratio_vs_bridge"] = round(ratio, 3)
                print(result_line(r, ratio))
                if is_mqgate(system) and r.get("mqgate_log_problems"):
                    print("%28s[mqgate log: %d WARN/ERROR lines, last:]" % (
                        "", r["mqgate_log_problems"]))
                    for ln in r["mqgate_log_tail"][-5:]:
                        print("%30s%s" % ("", ln[:200]))
            sys.stdout.flush()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping everything", flush=True)
    finally:
        _kill_everything()

    # idle memory, once
    idle = idle_result(results)
    print()
    if idle:
        print("mqgate idle RSS (VmRSS after start, path up, before load; %s): %s" % (
            idle["workload"], rss_text(idle["idle_rss_kb"])))
    rows = targets_summary(results, args.quick)
    if rows:
        print()
        print("targets (informational):")
        for text, met in rows:
            print("  [%s] %s" % ("skipped" if met is None else "met    " if met else "NOT met",
                                 text))

    total = time.monotonic() - T_START
    out = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - total)),
        "quick": args.quick, "host": host.nodename, "cpus": os.cpu_count(),
        "mosquitto": mosquitto_version(), "build_dir": args.build_dir,
        "budget_s": budget, "cap_s": cap, "idle_timeout_s": ctx.idle_timeout,
        "other_cpu_busy_at_start": round(busy0, 3), "total_s": round(total, 1),
        "measure_s": round(time.monotonic() - t_meas, 1), "interrupted": interrupted,
        "rules_missing": ctx.rules_missing,
        "results": results,
        "targets": [{"target": t, "met": m} for t, m in rows],
    }
    path = args.json or os.path.join(args.build_dir, "bench-results.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print()
    print("results: %s" % path)
    if args.keep:
        print("kept: %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    print("total %.0f s" % total)
    return 130 if interrupted else 0


_mosq_ver = None


def mosquitto_version():
    global _mosq_ver
    if _mosq_ver is None:
        try:
            r = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True, timeout=5)
            first = (r.stdout or r.stderr).splitlines()[0]
            _mosq_ver = first.split("version")[-1].strip()
        except Exception:
            _mosq_ver = "?"
    return _mosq_ver


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FatalError as e:
        _kill_everything()
        print("bench: error: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        _kill_everything()
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)
