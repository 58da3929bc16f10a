"""it_internal — the internal broker: endpoint data on a real MQTT broker for local applications.

The embedded mosquitto that mqgate starts (on a free loopback port here, never the default),
or an external one: the seed example, unchanged, against a TLS broker with a password file on
port 8883, seen with mosquitto_sub on the internal broker byte for byte; writes and plain
topics published there by local applications, routed once; nothing mqgate publishes there
routed a second time (exact counts); kill -9 of the embedded broker; a clean stop leaves no
mosquitto behind, nor does kill -9 of the supervisor; a port in use and a missing mosquitto
are configuration errors naming the setting (exit 78); the internal broker's connector journals
what local applications publish at QoS 1 and its copies are confirmed like any target's.
"""
import os
import random
import signal
import socket
import subprocess
import time
import unittest

from harness import (BIN, Broker, Gateway, GatewayTest, free_port, internal_broker_settings,
                     pid_alive, processes_named, run_mqgate, wait_for)
from it_tls import make_ca, make_cert

SRC = os.environ.get("MQG_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SEED = os.path.join(SRC, "examples", "seed-mqtt-example.yml")
MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"

SERVICE = """
metadata:
  name: IT Internal
parameters:
  plantPort: {type: integer}
resources:
  plant:
    type: Cybus::Connection
    properties:
      protocol: Mqtt
      connection: {host: 127.0.0.1, port: !ref plantPort, reconnectPeriod: 200}
  temp:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      subscribe: {topic: factory/+/temperature, qos: 1}
  cmd:
    type: Cybus::Endpoint
    properties:
      protocol: Mqtt
      connection: !ref plant
      write: {topic: plant/cmd, qos: 1}
  toDashboard:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe: {endpoint: !ref temp}
          publish: {topic: dashboard/temperature, qos: 1}
  echo:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe: {topic: dashboard/temperature, qos: 1}
          publish: {connection: !ref plant, topic: plant/echo, qos: 1}
  fromLocal:
    type: Cybus::Mapping
    properties:
      mappings:
        - subscribe: {topic: local/+dev/in, qos: 1}
          publish: {connection: !ref plant, topic: 'plant/local/{dev}', qos: 1}
"""


def loopback_with_free_8883():
    """An address of 127/8 on which port 8883 can be listened on (the seed file says 8883),
    or None: a few random ones are tried, so that tests running at the same time (or a broker
    on 127.0.0.1:8883) do not clash."""
    for _ in range(20):
        addr = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                                 random.randint(2, 254))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, 8883))
                return addr
            except OSError:
                continue
    return None


class InternalBrokerTest(GatewayTest):
    brokers = ("plant",)

    def internal_gateway(self, extra="", port=None, **kw):
        settings, ibport = internal_broker_settings(port, extra)
        gw = self.gateway(SERVICE, {"plantPort": self.b["plant"].port}, settings, **kw)
        self.dump_log_on_failure(gw)
        return gw, ibport

    def status_row(self, gw, name):
        for r in gw.status():
            if r["name"] == name:
                return r
        return None

    # ---- the seed example ----

    def test_seed_example_data_on_the_internal_broker(self):
        """The seed file, unchanged: TLS on 8883 with a password file, the test CA trusted
        through SSL_CERT_FILE; mosquitto_sub on the internal broker sees the data topic,
        payload byte for byte, each message once."""
        addr = loopback_with_free_8883()
        if not addr:
            self.skipTest("port 8883 is taken on every loopback address tried")
        pki = os.path.join(self.work, "pki")
        os.makedirs(pki)
        ca = make_ca(pki, "seedca")
        crt, key = make_cert(pki, "seedca", "broker", "IP:%s" % addr)
        ext = Broker(self.work, "seedbroker", users={"line1": "s3cret"}, host=addr, port=8883,
                     tls={"cafile": ca, "certfile": crt, "keyfile": key})
        self.addCleanup(ext.stop)
        with open(SEED) as f:
            seed = f.read()
        settings, ibport = internal_broker_settings()
        env = dict(os.environ, SSL_CERT_FILE=ca)
        gw = self.gateway(seed, {"mqttHost": addr, "mqttUsername": "line1",
                                 "mqttPassword": "s3cret"}, settings, env=env)
        self.dump_log_on_failure(gw)
        self.assertIn("CONN-UP: connected to ssl://%s:8883" % addr, gw.log_text())
        sub = subprocess.Popen([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(ibport), "-i",
                                "seedsub", "-q", "1", "-t",
                                "services/mqttconnectiontest/temperatureEndpoint", "-F", "%t %x",
                                "-W", "8"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        wait_for(lambda: "as seedsub" in gw.log_text(), 10, what="mosquitto_sub connected")
        time.sleep(0.3)  # its SUBSCRIBE follows the CONNECT
        payloads = [b"21.5", b"\x00\x01\xfe\xff binary", "23,4 °C".encode(), b""]
        pub = self.client(ext.plain_port, username="line1", password="s3cret")
        for p in payloads:
            pub.publish("factory/line1/temperature", p, qos=1)
        out, _ = sub.communicate(timeout=20)
        lines = out.splitlines()
        self.assertEqual(lines, ["services/mqttconnectiontest/temperatureEndpoint %s" % p.hex()
                                 for p in payloads])

    # ---- routing through the internal broker ----

    def test_writes_plain_topics_and_no_second_routing(self):
        gw, ibport = self.internal_gateway()
        local = self.client(ibport, ["services/#", "dashboard/#", "local/#"], client_id="app")
        plant = self.client("plant", ["plant/#"], client_id="plantapp")
        # from the plant broker: the data topic and the mapping's plain topic, on the internal
        # broker; the mapping that reads the plain topic fires once per message
        for i in range(50):
            plant.publish("factory/line1/temperature", b"t%d" % i, qos=1, wait=False)
        wait_for(lambda: len([m for m in plant.received() if m[0] == "plant/echo"]) >= 50, 15,
                 what="50 echoes")
        # local applications: a write endpoint and a plain topic a mapping reads
        for i in range(20):
            local.publish("services/itinternal/cmd/set", b"c%d" % i, qos=1)
        for i in range(10):
            local.publish("local/dev7/in", b"l%d" % i, qos=1)
        wait_for(lambda: len([m for m in plant.received() if m[0] != "plant/echo"]) >= 30, 15,
                 what="writes and local messages on the plant broker")
        time.sleep(1.5)  # anything routed twice would arrive by now
        by = {}
        for t, p, _, _ in plant.received():
            by.setdefault(t, []).append(p)
        self.assertEqual(by["plant/echo"], [b"t%d" % i for i in range(50)])
        self.assertEqual(by["plant/cmd"], [b"c%d" % i for i in range(20)])
        self.assertEqual(by["plant/local/dev7"], [b"l%d" % i for i in range(10)])
        self.assertEqual(sorted(by), ["plant/cmd", "plant/echo", "plant/local/dev7"])
        seen = {}
        for t, p, _, _ in local.received():
            seen.setdefault(t, []).append(p)
        self.assertEqual(seen["services/itinternal/temp"], [b"t%d" % i for i in range(50)])
        self.assertEqual(seen["dashboard/temperature"], [b"t%d" % i for i in range(50)])
        # what the app published, once (mqgate does not publish it back)
        self.assertEqual(seen["services/itinternal/cmd/set"], [b"c%d" % i for i in range(20)])
        self.assertEqual(seen["local/dev7/in"], [b"l%d" % i for i in range(10)])
        # exact counts: the internal broker's connector passed on only what the app published,
        # the router took 50 + 30 messages and made 50 + 50 + 50 + 20 + 10 copies
        wait_for(lambda: self.status_row(gw, "mqgate/internal-broker")["counters"].get("in")
                 == "30", 5, what="internal connector in=30")
        router = self.status_row(gw, "router")["counters"]
        self.assertEqual((router["in"], router["out"], router["unrouted"]), ("80", "180", "0"))
        ib = self.status_row(gw, "mqgate/internal-broker")["counters"]
        self.assertEqual((ib["in"], ib["out"]), ("30", "100"))

    def test_journal_and_acks_through_the_internal_broker(self):
        """The internal broker's connector is a connector like any: QoS 1 messages local
        applications publish there are journaled (they wait in its journal while their target
        is down and all arrive, in order, once it is back; the journal is then released), and
        the copies it publishes on the internal broker are confirmed like any target's (the
        plant connector's journal is released once they are)."""
        plant_b = Broker(self.work, "plantp", persistent=True)
        self.addCleanup(plant_b.stop)
        settings, ibport = internal_broker_settings()
        gw = self.gateway(SERVICE, {"plantPort": plant_b.port}, settings)
        self.dump_log_on_failure(gw)
        counters = lambda name: self.status_row(gw, name)["counters"]
        # a target: plant data reaches the internal broker, and the plant journal is released
        watch = self.client(ibport, ["services/itinternal/temp"], client_id="watch")
        pub = self.client(plant_b.port, client_id="plantpub")
        for i in range(20):
            pub.publish("factory/line1/temperature", b"t%d" % i, qos=1)
        wait_for(lambda: watch.count() >= 20, 10, what="20 messages on the internal broker")
        wait_for(lambda: counters("itinternal/plant").get("journal") == "0", 10,
                 what="the plant journal released")
        pub.close()
        # a source: the plant broker (the target) is down while a local application publishes
        sink = self.client(plant_b.port, ["plant/local/#"], client_id="sink", clean=False)
        sink.close()
        plant_b.stop()
        wait_for(lambda: "CONN-LOST" in gw.log_text(), 10, what="CONN-LOST logged")
        local = self.client(ibport, client_id="app")
        n = 30
        for i in range(n):
            local.publish("local/dev7/in", b"l%d" % i, qos=1)
        wait_for(lambda: int(counters("mqgate/internal-broker").get("journal", "0")) > 0, 5,
                 what="the messages in the internal connector's journal")
        plant_b.start()  # same port, the sink's session kept
        sink = self.client(plant_b.port, ["plant/local/#"], client_id="sink", clean=False)
        wait_for(lambda: sink.count() >= n, 20, what="%d messages on the plant broker" % n)
        got = [p for t, p, _, _ in sink.received() if t == "plant/local/dev7"]
        first = sorted(set(got), key=got.index)
        self.assertEqual(first, [b"l%d" % i for i in range(n)], "all, in order")
        wait_for(lambda: counters("mqgate/internal-broker").get("journal") == "0", 10,
                 what="the internal connector's journal released")
        self.assertTrue(os.path.isdir(os.path.join(gw.statedir, "gw", "mqgate%2Finternal-broker")),
                        os.listdir(os.path.join(gw.statedir, "gw")))

    def test_status_check_and_clean_stop(self):
        gw, ibport = self.internal_gateway()
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["internal-broker"]["role"], "broker")
        self.assertEqual(rows["internal-broker"]["state"], "running")
        self.assertEqual(rows["internal-broker"]["counters"]["listen"], "127.0.0.1:%d" % ibport)
        self.assertEqual(rows["mqgate/internal-broker"]["role"], "connector")
        rc, out, err = run_mqgate(["status", "-c", gw.cfg])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"broker +internal-broker +running")
        # check shows the broker, its connection and its subscriptions
        rc, out, err = run_mqgate(["check", "-c", gw.cfg, gw.service, "-p",
                                   "plantPort=%d" % self.b["plant"].port])
        self.assertEqual(rc, 0, err)
        self.assertIn("mqgate/internal-broker (the internal broker", out)
        self.assertIn("internal broker: embedded (connection mqgate/internal-broker)", out)
        self.assertIn("  listen: 127.0.0.1:%d" % ibport, out)
        subs = out.split("broker subscriptions")[1]
        self.assertIn("  mqgate/internal-broker:\n    services/itinternal/cmd/set (qos 1)\n"
                      "    services/itinternal/temp (qos 0)\n    dashboard/temperature (qos 1)\n"
                      "    local/+/in (qos 1)\n", subs)
        broker = gw.child_pid("mosquitto")
        conf = os.path.join(gw.rundir, "gw", "mosquitto.conf")
        self.assertTrue(os.path.exists(conf))
        rc, took = gw.stop()
        self.assertEqual(rc, 0)
        self.assertLess(took, 5)
        self.assertFalse(pid_alive(broker))
        self.assertEqual(processes_named(gw.rundir), [])
        self.assertFalse(os.path.exists(conf))
        # stopped last: after every connector
        log = gw.log_text()
        self.assertGreater(log.index("broker internal-broker (pid %d) stopped" % broker),
                           log.rindex("connector mqgate/internal-broker (pid"))

    def test_killed_broker_comes_back_connectors_keep_running(self):
        gw, ibport = self.internal_gateway()
        broker = gw.child_pid("mosquitto")
        connectors = sorted((gw.child_pid("mqgate-connector", k) for k in
                             ("mqgate/internal-broker", "itinternal/plant")))
        os.kill(broker, signal.SIGKILL)
        new = wait_for(lambda: (lambda p: p if p and p != broker else None)(
            gw.child_pid("mosquitto")), 5, what="the broker restarted")
        self.assertNotEqual(new, broker)
        wait_for(lambda: gw.log_text().count("BROKER-UP") >= 2, 5, what="BROKER-UP again")
        local = self.client(ibport, ["services/itinternal/temp"], client_id="after")
        plant = self.client("plant")

        def flows():
            plant.publish("factory/l2/temperature", b"again", qos=1)
            return local.count() > 0
        wait_for(flows, 15, step=0.5, what="data on the restarted internal broker")
        self.assertEqual(local.received()[0][:2], ("services/itinternal/temp", b"again"))
        self.assertEqual(sorted((gw.child_pid("mqgate-connector", k) for k in
                                 ("mqgate/internal-broker", "itinternal/plant"))), connectors)
        rows = {r["name"]: r for r in gw.status()}
        self.assertEqual(rows["internal-broker"]["restarts"], 1)
        self.assertEqual(rows["mqgate/internal-broker"]["restarts"], 0)
        self.assertEqual(rows["itinternal/plant"]["restarts"], 0)

    def test_killed_supervisor_leaves_no_mosquitto(self):
        gw, _ = self.internal_gateway()
        broker = gw.child_pid("mosquitto")
        os.kill(gw.proc.pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(broker), 5, what="mosquitto gone with the supervisor")
        wait_for(lambda: processes_named(gw.rundir) == [], 10, what="every child gone")

    # ---- configuration errors ----

    def test_port_in_use_is_a_configuration_error(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            settings, _ = internal_broker_settings(port)
            gw = Gateway(self.work, SERVICE, {"plantPort": self.b["plant"].port}, settings)
            self.addCleanup(gw.kill_all)
            gw.start()
            rc = gw.proc.wait(10)
        self.assertEqual(rc, 78, gw.log_text())
        self.assertIn("BROKER-PORT: internal_broker.listen: 127.0.0.1:%d is in use" % port,
                      gw.log_text())
        self.assertNotIn("CHILD-START", gw.log_text())

    def test_missing_mosquitto_is_a_configuration_error(self):
        settings, _ = internal_broker_settings(None, 'mosquitto = "/nonexistent/mosquitto";')
        gw = Gateway(self.work, SERVICE, {"plantPort": self.b["plant"].port}, settings)
        self.addCleanup(gw.kill_all)
        gw.start()
        self.assertEqual(gw.proc.wait(10), 78, gw.log_text())
        self.assertIn("BROKER-MISSING: internal_broker.mosquitto: program '/nonexistent/mosquitto' "
                      "not found", gw.log_text())

    # ---- an external internal broker ----

    def test_external_internal_broker(self):
        ext = Broker(self.work, "localbroker")
        self.addCleanup(ext.stop)
        settings = ('internal_broker = { mode = "external"; url = "mqtt://127.0.0.1:%d"; };'
                    % ext.port)
        gw = self.gateway(SERVICE, {"plantPort": self.b["plant"].port}, settings)
        self.dump_log_on_failure(gw)
        self.assertIsNone(gw.child_pid("mosquitto"))
        local = self.client(ext.port, ["services/itinternal/temp"], client_id="extapp")
        plant = self.client("plant", ["plant/cmd"])
        plant.publish("factory/x/temperature", b"42", qos=1)
        local.wait_count(1, 10)
        local.publish("services/itinternal/cmd/set", b"go", qos=1)
        plant.wait_count(1, 10)
        self.assertEqual(plant.received()[0][:2], ("plant/cmd", b"go"))
        self.assertEqual(local.received()[0][:2], ("services/itinternal/temp", b"42"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
