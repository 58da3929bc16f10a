"""it_rundir — the runtime directory: only a safe one is used.

- a runtime directory owned by another user, a symbolic link, or one writable by others is
  refused (exit 78, RUNDIR naming the path and the problem) and left untouched.
"""
import os
import subprocess
import unittest

from harness import Gateway, GatewayTest, bridge_service, processes_named

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
