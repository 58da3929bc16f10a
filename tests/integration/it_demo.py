"""it_demo — scripts/demo, a new user's first run, is clean: it moves its 8 messages, exits 0,
and the shell reports nothing (no "integer expression expected" while it waits for the log).

Runs the demo on the programs under test (MQG_BIN): it then neither installs nor builds. A
`tee` that starts late (as on a slow first run) makes the demo wait for a log file that does
not exist yet, every time.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, SRC


class DemoTest(unittest.TestCase):

    def test_demo_runs_clean(self):
        slow = tempfile.mkdtemp(prefix="mqgate-demo-path-")
        self.addCleanup(shutil.rmtree, slow, True)
        with open(os.path.join(slow, "tee"), "w") as f:
            f.write("#!/bin/sh\nsleep 0.5\nexec %s \"$@\"\n" % shutil.which("tee"))
        os.chmod(os.path.join(slow, "tee"), 0o755)
        env = dict(os.environ, MQG_BIN=BIN, PATH=slow + os.pathsep + os.environ["PATH"])
        p = subprocess.run([os.path.join(SRC, "scripts", "demo")], cwd=SRC, env=env,
                           capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("demo OK: 8 messages moved from plant to cloud", out)
        for noise in ("integer expression expected", "scripts/demo: line",
                      "No such file or directory", "command not found"):
            self.assertNotIn(noise, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
