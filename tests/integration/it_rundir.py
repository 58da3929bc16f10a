"""it_rundir — the runtime directory: only a safe one is used, and its loss is repaired.

- a runtime directory owned by another user, a symbolic link, or one writable by others is
  refused (exit 78, RUNDIR naming the path and the problem) and left untouched;
- `rm -rf` of the runtime directory of a running gateway: it comes back, traffic resumes
  (also through restarted children), `mqgate status` works, and a second gateway with the
  same instance is still refused (INSTANCE-BUSY);
- a full disk (a 64 KiB tmpfs as runtime directory) keeps the last good status file, logs
  STATUS-WRITE once and STATUS-OK when there is room again; `mqgate status` reports an
  empty or truncated status file as an error, and a runtime directory it may not read as
  "permission denied", not as "not running".
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import Gateway, GatewayTest, bridge_service, processes_named, run_mqgate, wait_for
from it_process import Streamer, seqs

NOBODY = 65534


class RundirTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def unstarted(self, name="gw"):
        gw = Gateway(self.work, bridge_service(), self.ports(), "", name)
        self.addCleanup(self.assert_no_sanitizer_reports, gw)
        self.addCleanup(gw.kill_all)
        self.dump_log_on_failure(gw)
        return gw

    # ---- item 3: unsafe runtime directories are refused ----

    def _assert_refused(self, gw, path, problem):
        gw.start()
        try:
            rc = gw.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("a gateway started in an unsafe runtime directory %s" % path)
        log = gw.log_text()
        self.assertEqual(rc, 78, log)
        self.assertIn("RUNDIR", log)
        self.assertIn(path, log)
        self.assertRegex(log, problem)
        self.assertEqual(processes_named(gw.rundir), [], "no child started")

    def test_runtime_directory_of_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create a directory owned by another user")
        gw = self.unstarted()
        inst = os.path.join(gw.rundir, "gw")
        os.makedirs(inst, mode=0o700)
        os.chown(inst, NOBODY, NOBODY)
        self._assert_refused(gw, inst, r"owned by (uid )?%d" % NOBODY)
        self.assertEqual(os.stat(inst).st_uid, NOBODY, "left as it was")
        self.assertEqual(os.listdir(inst), [])

    def test_runtime_base_directory_of_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create a directory owned by another user")
        gw = self.unstarted()
        os.makedirs(gw.rundir, mode=0o755)
        os.chown(gw.rundir, NOBODY, NOBODY)
        self._assert_refused(gw, gw.rundir, r"owned by (uid )?%d" % NOBODY)

    def test_symlinked_runtime_directory_is_refused(self):
        gw = self.unstarted()
        elsewhere = os.path.join(self.work, "elsewhere")
        os.makedirs(elsewhere, mode=0o700)
        os.makedirs(gw.rundir, mode=0o700)
        inst = os.path.join(gw.rundir, "gw")
        os.symlink(elsewhere, inst)
        self._assert_refused(gw, inst, r"symbolic link")
        self.assertEqual(os.listdir(elsewhere), [])

    def test_group_writable_runtime_directory_is_refused(self):
        gw = self.unstarted()
        inst = os.path.join(gw.rundir, "gw")
        os.makedirs(inst)
        os.chmod(inst, 0o770)
        self._assert_refused(gw, inst, r"writable by (its )?group or others")
        self.assertEqual(os.stat(inst).st_mode & 0o777, 0o770, "left as it was")

    def test_world_writable_parent_without_sticky_bit_is_refused(self):
        gw = self.unstarted()
        parent = os.path.dirname(gw.rundir)  # <work>/gw, holds service and settings
        os.chmod(parent, 0o777)
        self._assert_refused(gw, parent, r"writable by (its )?group or others")


    # ---- the runtime directory removed under a running gateway ----

    def test_removed_runtime_directory_is_recreated_and_traffic_resumes(self):
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        st = Streamer(pub, "factory/line1/temperature", rate=200)
        self.addCleanup(st.stop)
        sink.wait_count(100, 10)
        status = os.path.join(gw.rundir, "gw", "status")
        shutil.rmtree(gw.rundir)  # as systemd-tmpfiles or an operator might
        wait_for(lambda: os.path.exists(status), 5, what="the status file back")
        self.assertEqual(os.stat(os.path.join(gw.rundir, "gw")).st_mode & 0o777, 0o700)
        # children restarted from now on find the bus: kill both connectors and the router
        for exe, key in (("mqgate-router", None), ("mqgate-connector", "itbridge/plant"),
                         ("mqgate-connector", "itbridge/cloud")):
            victim = wait_for(lambda: gw.child_pid(exe, key), 5, what="%s running" % exe)
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: (lambda p: p and p != victim)(gw.child_pid(exe, key)), 5,
                     what="%s restarted" % exe)
            time.sleep(0.5)
        before = sink.count()
        wait_for(lambda: sink.count() >= before + 400, 20, what="traffic after the repair")
        st.stop()
        last = st.sent - 1
        wait_for(lambda: last in set(seqs(sink)), 15, what="the last message sent")
        log = gw.log_text()
        self.assertIn("RUNDIR-GONE", log)
        self.assertNotIn("BUS-BIND", log)
        self.assertNotIn("CHILD-FAILED", log)
        # mqgate status works again, every process running
        wait_for(lambda: run_mqgate(["status", "-c", gw.cfg])[1].count(" running ") == 3, 5,
                 what="every process running in mqgate status")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        # a second gateway with the same instance is refused, and the first is untouched
        rc, out, err = run_mqgate(gw.args()[1:], timeout=15)
        self.assertEqual(rc, 1, err)
        self.assertIn("INSTANCE-BUSY", err)
        self.assertIn("pid %d" % gw.proc.pid, err)
        self.assertTrue(os.path.exists(status))
        self.assertIsNone(gw.proc.poll())
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)


    # ---- the status file on a full disk ----

    def test_full_disk_keeps_the_last_status_file(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        gw = self.unstarted()
        os.makedirs(gw.rundir, mode=0o700)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                            gw.rundir], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", gw.rundir])
        gw.subscribing = 1
        gw.start(wait_connectors=2)
        wait_for(lambda: run_mqgate(["status", "-c", gw.cfg])[1].count(" running ") == 3, 5,
                 what="a complete status")
        filler = os.path.join(gw.rundir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        time.sleep(2.0)  # several attempts to write the status file
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(out.count(" running "), 3, "the last good status file: %r" % out)
        self.assertEqual(rc, 0, err)
        self.assertEqual(gw.log_count("STATUS-WRITE"), 1, "logged once")
        os.unlink(filler)
        wait_for(lambda: "STATUS-OK" in gw.log_text(), 5, what="recovery logged")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count(" running "), 3)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)

    # ---- what mqgate status says about a bad status file ----

    def _status_file(self, text):
        gw = self.unstarted()
        inst = os.path.join(gw.rundir, "gw")
        os.makedirs(inst, mode=0o700)
        with open(os.path.join(inst, "status"), "w") as f:
            f.write(text)
        return gw, os.path.join(inst, "status")

    def test_status_reports_an_empty_status_file(self):
        gw, path = self._status_file("")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 1, out)
        self.assertIn(path, err)
        self.assertIn("empty", err)

    def test_status_reports_a_truncated_status_file(self):
        gw, path = self._status_file(
            "instance gw pid %d uptime 5s processes 3\nROLE       NAME         STATE\n"
            "router     router       running  1234" % os.getpid())
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 1, out)
        self.assertIn(path, err)
        self.assertIn("truncated", err)


    def test_status_says_permission_denied_not_not_running(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run mqgate status as another user")
        gw = self.gateway(bridge_service(), self.ports())
        self.dump_log_on_failure(gw)
        inst = os.path.join(gw.rundir, "gw")
        wait_for(lambda: os.path.exists(os.path.join(inst, "status")), 5, what="status file")
        # everything above the runtime directory readable: only its own mode 0700 refuses
        d = inst
        while d != "/" and d != os.path.dirname(self.work):
            d = os.path.dirname(d)
            os.chmod(d, os.stat(d).st_mode | 0o755)
        pub = tempfile.mkdtemp(prefix="mqgate-nobody-")
        self.addCleanup(shutil.rmtree, pub, True)
        os.chmod(pub, 0o755)
        cfg = os.path.join(pub, "mqgate.cfg")
        shutil.copy(gw.cfg, cfg)
        os.chmod(cfg, 0o644)
        r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                            "--clear-groups", os.path.join(gw.bin, "mqgate"), "status", "-c",
                            cfg], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("ermission denied", r.stderr)
        self.assertIn(inst, r.stderr)
        self.assertNotIn("not running", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
