"""mqgprocs — process and port helpers shared by the integration tests and the benchmark.

Linux only (reads /proc). Used by tests/integration/harness.py and bench/bench.py; nothing
here starts a process of its own.
"""
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, step=0.02, what="condition"):
    """Poll pred() until it is truthy or timeout seconds pass; return its value or raise.
    what: a text, or a function giving it (called at the time-out, so it can say what was
    there at the end)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(step)


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[-1].split()


def pid_alive(pid):
    """True while pid exists and is neither a zombie nor dead."""
    try:
        return _stat_fields(pid)[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def children_of(pid):
    """Pids whose parent is pid, zombies left out."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = _stat_fields(int(d))
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def cmdline(pid):
    """The argument vector of pid ([] if it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def processes_named(needle):
    """Pids whose command line contains needle."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and needle in " ".join(cmdline(int(d))):
            out.append(int(d))
    return out


def proc_status(pid, *keys):
    """Values in kB of VmRSS/VmHWM/... from /proc/PID/status (None if unreadable)."""
    out = {k: None for k in keys}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in out:
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def proc_cpu(pid):
    """CPU seconds (user + system) a process used so far; None if it is gone."""
    try:
        fields = _stat_fields(pid)
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def stop_proc(p, sig=signal.SIGTERM, grace=5.0, group=True):
    """Signal Popen p (or its process group), wait up to grace seconds, then SIGKILL the
    group. Returns the exit code (None if p is None or would not die)."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            if group:
                os.killpg(p.pid, sig)
            else:
                p.send_signal(sig)
        except OSError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    return p.returncode
