"""it_config — bad input gets one clear error (file, line, column, setting), exit 78, and
nothing starts; good input passes `mqgate check`, including the seed's own example file."""
import os
import re
import shutil
import tempfile
import time
import unittest

from harness import BIN, SRC, run_mqgate, processes_named

GOOD = """\
metadata:
  name: Config Test
parameters:
  port:
    type: integer
    default: 1883
resources:
  conn:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection:
        host: 127.0.0.1
        port: !ref port
  ep:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref conn
      subscribe:
        topic: a/b
"""


class ConfigTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mqgate-cfg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, text, name="service.yml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_config_error(self, args, line, col, setting, also=None):
        """mqgate check and run both exit 78 with one message naming where and what."""
        for cmd in ("check", "run"):
            cfg = self.write('runtime_dir = "%s/run";\n' % self.tmp, "gw.cfg")
            rc, out, err = run_mqgate([cmd, "-c", cfg] + args)
            self.assertEqual(rc, 78, "%s: exit %d, stderr: %s" % (cmd, rc, err))
            lines = [l for l in err.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, "one message expected, got: %r" % err)
            msg = lines[0]
            if line is not None:
                self.assertIn(":%d:%d: " % (line, col), msg)
            self.assertIn(setting, msg)
            if also:
                self.assertRegex(msg, also)
            self.assertEqual(out, "")
            # nothing started half-configured
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "run", "mqgate", "lock")))
            self.assertEqual(processes_named(self.tmp), [])
        return msg

    def test_good_file_passes_check_and_prints_the_model(self):
        path = self.write(GOOD)
        rc, out, err = run_mqgate(["check", path])
        self.assertEqual(rc, 0, err)
        self.assertIn("configtest/conn", out)
        self.assertIn("tcp://127.0.0.1:1883", out)
        self.assertIn("services/configtest/ep", out)

    def test_seed_example_passes_check_with_its_three_parameters(self):
        seed = os.path.join(SRC, "examples", "seed-mqtt-example.yml")
        rc, out, err = run_mqgate(["check", seed, "-p", "mqttHost=broker.local", "-p",
                                   "mqttUsername=user", "-p", "mqttPassword=s3cret"])
        self.assertEqual(rc, 0, err)
        self.assertIn("ssl://broker.local:8883", out)
        self.assertIn("factory/line1/temperature", out)
        self.assertNotIn("s3cret", out, "passwords are never printed")

    def test_seed_example_without_parameters_names_the_missing_one(self):
        seed = os.path.join(SRC, "examples", "seed-mqtt-example.yml")
        rc, out, err = run_mqgate(["check", seed])
        self.assertEqual(rc, 78)
        self.assertIn("mqttHost", err)
        self.assertRegex(err, r"seed-mqtt-example\.yml:\d+:\d+: ")

    def test_missing_file(self):
        missing = os.path.join(self.tmp, "nope.yml")
        rc, out, err = run_mqgate(["check", missing])
        self.assertEqual(rc, 78)
        self.assertIn("nope.yml", err)

    def test_malformed_yaml(self):
        path = self.write("metadata:\n  name: x\nresources: [\n  - a: b\n   c\n")
        self.assert_config_error([path], None, None, "service.yml:")

    def test_unknown_resource_reference(self):
        path = self.write(GOOD.replace("connection: !ref conn", "connection: !ref nosuch"))
        self.assert_config_error([path], 19, 19, "resources.ep.properties.connection",
                                 also="nosuch")

    def test_endpoint_with_both_subscribe_and_write(self):
        path = self.write(GOOD + "      write:\n        topic: x/y\n")
        self.assert_config_error([path], None, None, "resources.ep.properties",
                                 also="subscribe|write")

    def test_endpoint_with_neither_subscribe_nor_write(self):
        path = self.write(GOOD.replace("      subscribe:\n        topic: a/b\n", ""))
        self.assert_config_error([path], None, None, "resources.ep.properties",
                                 also="subscribe|write")

    def test_empty_endpoint_reference(self):
        """issue 8, item 2: `endpoint:` with no value crashed check and run (exit 139)"""
        for value in ("", " ~", " null"):
            for side, other in (("publish", "subscribe"), ("subscribe", "publish")):
                text = GOOD + (
                    "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"
                    "        - %s:\n            endpoint:%s\n"
                    "          %s:\n            topic: x/y\n" % (side, value, other))
                path = self.write(text)
                self.assert_config_error(
                    [path], 27, 13, "resources.m.properties.mappings[0].%s.endpoint" % side,
                    also=r"endpoint is empty; expected endpoint: !ref <(write )?endpoint id>")

    def test_write_topic_a_broker_would_refuse(self):
        """issue 8, item 5: a write topic with U+0001 or U+FFFE passed check, and the broker
        then disconnected the connector"""
        for topic, why, pos in (('"cmd/\\x01"', "a control character", 5),
                                ('"cmd\\uFFFE"', "a Unicode non-character", 4)):
            path = self.write(GOOD.replace("      subscribe:\n        topic: a/b\n",
                                           "      write:\n        topic: %s\n" % topic))
            self.assert_config_error(
                [path], 21, 16, "resources.ep.properties.write.topic",
                also=r"is not a valid topic to write to: it contains %s \(character %d\)"
                % (why, pos))

    def test_check_escapes_control_characters(self):
        """issue 8, item 9: check printed raw control characters from the input"""
        path = self.write(GOOD.replace("topic: a/b", 'topic: "a/\\e[2J\\x01"').replace(
            "name: Config Test", 'name: "Config\\tTest"'))
        rc, out, err = run_mqgate(["check", path])
        self.assertEqual(rc, 0, err)
        self.assertIn('"Config\\tTest"', out)
        self.assertIn("subscribe a/\\x1b[2J\\x01 qos 0", out)
        self.assertIn("\n    a/\\x1b[2J\\x01 (qos 0)\n", out)  # broker subscriptions
        self.assertIsNone(re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), out)
        # an error naming a key with a newline stays on one line
        path = self.write(GOOD.replace("        port: !ref port\n",
                                       '        "po\\nrt": 1\n'))
        msg = self.assert_config_error([path], 14, 9, "resources.conn.properties.connection.po\\nrt",
                                       also=r"unknown property 'po\\nrt'")
        self.assertNotIn("\x1b", msg)

    def test_deep_nesting_and_sub_expansion_fail_fast(self):
        """issue 8, item 9: 100,000 nested flow levels took 45-99 s, and a 1 KB file of nested
        !sub took 33-44 s and 1 GB, before their errors"""
        deep = self.write(GOOD + "definitions:\n  d: " + "{a: " * 100000 + "1" + "}" * 100000
                          + "\n", "deep.yml")
        subs = ["definitions:\n  d0: xx\n"]
        for i in range(1, 8):
            subs.append("  d%d: !sub '%s'\n" % (i, "${d%d}" % (i - 1) * 16))
        bomb = self.write(GOOD.replace("host: 127.0.0.1", "host: !ref d7") + "".join(subs),
                          "bomb.yml")
        for path, setting, also in (
                (deep, "definitions.d.a.a.a", r"nested more than 64 levels deep"),
                (bomb, "resources.conn.properties.connection.host",
                 r"more than 100000 substitutions .* \(from definition 'd7'\)")):
            start = time.monotonic()
            rc, out, err = run_mqgate(["check", path])
            self.assertEqual(rc, 78, err)
            self.assertLess(time.monotonic() - start, 5.0)
            self.assertIn(setting, err)
            self.assertRegex(err, also)

    def test_bad_port(self):
        path = self.write(GOOD.replace("port: !ref port", "port: 70000"))
        self.assert_config_error([path], 14, 15, "resources.conn.properties.connection.port")

    def test_bad_port_from_parameter(self):
        path = self.write(GOOD)
        msg = self.assert_config_error([path, "-p", "port=notanumber"], None, None, "port")
        self.assertIn("integer", msg)

    def test_unknown_parameter(self):
        path = self.write(GOOD)
        self.assert_config_error([path, "-p", "nosuch=1"], None, None, "nosuch")

    def test_parameter_without_value(self):
        path = self.write(GOOD.replace("    default: 1883\n", ""))
        self.assert_config_error([path], None, None, "port")
        self.assert_config_error([path, "-p", "port"], None, None, "port")

    def test_bad_settings_file_names_line_and_setting(self):
        path = self.write(GOOD)
        cfg = self.write('instance = "x";\nno_such_setting = 5;\n', "bad.cfg")
        rc, out, err = run_mqgate(["check", "-c", cfg, path])
        self.assertEqual(rc, 78)
        self.assertIn("bad.cfg:2:1: ", err)
        self.assertIn("no_such_setting", err)

    def test_example_settings_file_is_valid(self):
        path = self.write(GOOD)
        rc, out, err = run_mqgate(["check", "-c", os.path.join(SRC, "etc", "mqgate.cfg"), path])
        self.assertEqual(rc, 0, err)

    def test_usage_errors_exit_2(self):
        rc, _, err = run_mqgate(["frobnicate"])
        self.assertEqual(rc, 2)
        rc, _, err = run_mqgate(["run"])
        self.assertEqual(rc, 2)
        self.assertIn("no service file", err)

    def test_version(self):
        rc, out, _ = run_mqgate(["version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^mqgate \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
