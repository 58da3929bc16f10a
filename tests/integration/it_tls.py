"""it_tls — connections over TLS to a real mosquitto with certificates made at test time.

CA and server/client certificates are generated with openssl into the test's temporary
directory. The cloud broker speaks TLS on its main port (mqgate connects there) and plain MQTT
on a second port (the test's own subscriber).
"""
import os
import subprocess
import unittest

from harness import BIN, Broker, Gateway, GatewayTest, bridge_service, wait_for


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
            name + ".key", "-out", name + ".crt", "-subj", "/CN=" + name, cwd=d)
    return os.path.join(d, name + ".crt")


def make_cert(d, ca, name, san=None):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + name, cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-out", name + ".crt", "-extfile", ext, cwd=d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def tls_service(extra_lines):
    """The bridge, with the cloud connection over TLS plus the given properties."""
    props = "port: !ref cloudPort\n        scheme: mqtts\n" + "".join(
        "        %s\n" % l for l in extra_lines)
    return bridge_service().replace("port: !ref cloudPort\n", props, 1)


def pem_block(path):
    """A PEM file as a YAML block scalar, indented for a connection property."""
    with open(path) as f:
        body = f.read().strip().splitlines()
    return "|\n" + "\n".join("          " + l for l in body)


class TlsTest(GatewayTest):
    brokers = ("plant",)

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.work, "pki")
        os.makedirs(self.pki)
        self.ca = make_ca(self.pki, "testca")
        self.other_ca = make_ca(self.pki, "otherca")
        self.srv_crt, self.srv_key = make_cert(self.pki, "testca", "server",
                                               "IP:127.0.0.1,DNS:localhost")
        self.cli_crt, self.cli_key = make_cert(self.pki, "testca", "client")

    def tls_broker(self, require_certificate=False):
        br = Broker(self.work, "cloudtls", tls={"cafile": self.ca, "certfile": self.srv_crt,
                                                "keyfile": self.srv_key,
                                                "require_certificate": require_certificate})
        self.addCleanup(br.stop)
        return br

    def bridge_and_check(self, cloud, service):
        gw = self.gateway(service, {"plantPort": self.b["plant"].port, "cloudPort": cloud.port})
        self.dump_log_on_failure(gw)
        sink = self.client(cloud.plain_port, ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        for i in range(20):
            pub.publish("factory/line1/temperature", b"tls%d" % i, qos=1)
        sink.wait_count(20, 15)
        self.assertEqual([p for (_, p, _, _) in sink.received()], [b"tls%d" % i for i in range(20)])
        self.assertIn("CONN-UP: connected to ssl://127.0.0.1:%d" % cloud.port, gw.log_text())
        return gw

    def test_server_verified_with_ca_file(self):
        cloud = self.tls_broker()
        gw = self.bridge_and_check(cloud, tls_service(["caCert: %s" % self.ca]))
        # the TLS connection loads the TLS build of paho, the plain one the plain build
        if os.path.exists(os.path.join(BIN, "..", "lib", "mqgate", "mqgate-paho-tls.so")):
            libs = sorted(ln.rsplit("/", 1)[-1] for ln in gw.log_text().splitlines()
                          if "LINK-LIB" in ln)
            self.assertEqual(libs, ["mqgate-paho-plain.so", "mqgate-paho-tls.so"])

    def test_mutual_authentication_with_inline_pem(self):
        cloud = self.tls_broker(require_certificate=True)
        gw = self.bridge_and_check(cloud, tls_service([
            "caCert: " + pem_block(self.ca),
            "mutualAuthentication: true",
            "clientCert: " + pem_block(self.cli_crt),
            "clientPrivateKey: " + pem_block(self.cli_key),
        ]))
        # inline keys were written privately into the runtime dir, and are gone after stop
        rundir = os.path.join(gw.rundir, "gw")
        pems = [f for f in os.listdir(rundir) if f.endswith(".pem")]
        self.assertEqual(len(pems), 3, pems)
        for f in pems:
            self.assertEqual(os.stat(os.path.join(rundir, f)).st_mode & 0o077, 0)
        rc, _ = gw.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(rundir) and
                         [f for f in os.listdir(rundir) if f.endswith(".pem")])
        self.assertNotIn("PRIVATE KEY", gw.log_text())

    def test_inline_pem_is_never_written_through_a_planted_link(self):
        """Links named like the connector's CA file (ca-<pid>.pem, for the next pids) must not
        make it write through them: the file they point to stays as it was."""
        cloud = self.tls_broker()
        gw = Gateway(self.work, tls_service(["caCert: " + pem_block(self.ca)]),
                     {"plantPort": self.b["plant"].port, "cloudPort": cloud.port})
        self.addCleanup(self.assert_no_sanitizer_reports, gw)
        self.addCleanup(gw.kill_all)
        self.dump_log_on_failure(gw)
        rundir = os.path.join(gw.rundir, "gw")
        os.makedirs(rundir, mode=0o700)
        victim = os.path.join(self.work, "victim.pem")
        with open(victim, "w") as f:
            f.write("precious\n")
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        for i in range(1, 3001):
            os.symlink(victim, os.path.join(rundir, "ca-%d.pem" % ((last + i) % pid_max)))
        gw.start()
        wait_for(lambda: gw.child_pid("mqgate-connector", "itbridge/cloud"), 10,
                 what="the cloud connector")
        pid = gw.child_pid("mqgate-connector", "itbridge/cloud")
        planted = (pid - last) % pid_max <= 3000
        wait_for(lambda: "TLS-FILES" in gw.log_text() or "CONN-UP: connected to ssl"
                 in gw.log_text(), 15, what="the TLS connection tried")
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n", "written through a planted link")
        if planted:
            self.assertRegex(gw.log_text(), r"TLS-FILES: .*ca-%d\.pem exists and is not a "
                             r"regular file" % pid)
            self.assertNotIn("CONN-UP: connected to ssl", gw.log_text())

    def test_untrusted_server_is_refused_then_trust_all_connects(self):
        cloud = self.tls_broker()
        gw = self.gateway(tls_service(["caCert: %s" % self.other_ca]),
                          {"plantPort": self.b["plant"].port, "cloudPort": cloud.port},
                          wait_connectors=None, name="gwbad")
        self.dump_log_on_failure(gw)
        wait_for(lambda: "CONN-FAIL" in gw.log_text(), 15, what="TLS failure reported")
        self.assertNotIn("connected to ssl://", gw.log_text())
        gw.stop()
        self.bridge_and_check(cloud, tls_service(["trustAllCertificates: true"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
