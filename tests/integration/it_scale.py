"""it_scale — one connection with 10,000 endpoints: set up within the heartbeat, and runs.

The connector reduces 10,000 distinct and overlapping filters to its broker subscriptions;
this used to take minutes, during which it sent no heartbeat and the supervisor killed it as
hung again and again. Now it starts, stays up, and a message on one endpoint's topic arrives.
"""
import unittest

from harness import GatewayTest

N_ENDPOINTS = 10000
PICK = 1234  # the endpoint whose data is mapped to the cloud broker


def endpoint_topic(i):
    """Lines of 20 machines; every 50th line has a wildcard endpoint covering its topics and
    one overlapping it (joined); every 100th line ends in a '#' endpoint."""
    line = i // 20
    if i % 1000 == 7:
        return "site/line%d/+/temp" % line
    if i % 1000 == 8:
        return "site/line%d/m%d/+" % (line, i - 1)
    if i % 2000 == 1999:
        return "site/line%d/#" % line
    return "site/line%d/m%d/temp" % (line, i)


def big_service(n=N_ENDPOINTS, pick=PICK):
    out = ["metadata:", "  name: Big", "parameters:", "  plantPort: {type: integer}",
           "  cloudPort: {type: integer}", "resources:"]
    for name in ("plant", "cloud"):
        out += ["  %s:" % name, "    type: Cybus::Connection", "    properties:",
                "      protocol: Mqtt",
                "      connection: {host: 127.0.0.1, port: !ref %sPort}" % name]
    for i in range(n):
        out += ["  ep%d:" % i, "    type: Cybus::Endpoint", "    properties:",
                "      protocol: Mqtt", "      connection: !ref plant",
                "      subscribe: {topic: \"%s\", qos: 1}" % endpoint_topic(i)]
    out += ["  toCloud:", "    type: Cybus::Mapping", "    properties:", "      mappings:",
            "        - subscribe: {endpoint: !ref ep%d}" % pick,
            "          publish: {topic: out/ep%d, connection: !ref cloud, qos: 1}" % pick]
    return "\n".join(out) + "\n"


class ScaleTest(GatewayTest):

    def test_10000_endpoints_on_one_connection_run(self):
        gw = self.gateway(big_service(), {"plantPort": self.b["plant"].port,
                                          "cloudPort": self.b["cloud"].port})
        self.dump_log_on_failure(gw)
        sink = self.client("cloud", ["out/#"], qos=1)
        pub = self.client("plant")
        pub.publish(endpoint_topic(PICK), b"hello", qos=1)
        sink.wait_count(1, 20)
        self.assertEqual(sink.received()[0][:2], ("out/ep%d" % PICK, b"hello"))
        # set-up took no heartbeat away: nothing was killed or restarted
        log = gw.log_text()
        self.assertNotIn("CHILD-HUNG", log)
        self.assertNotIn("CHILD-EXIT", log)
        self.assertTrue(all(r["restarts"] == 0 and r["state"] == "running" for r in gw.status()),
                        gw.status())
        self.assertIn("subscribed %d filters" % (10 + 5 + 485 * 20), log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
