"""it_shared — two gateways scale out over one source with a shared subscription.

Two instances (their own `instance` and runtime directory, the same service file) subscribe
`$share/g/...` on one mosquitto: every message arrives exactly once across both, both take
part, and neither loses its connections to the other (each derives its own client id: no
CONN-LOST, every connector connected once). `mqgate check` shows the default client ids:
different per instance, the same on every run, at most 23 bytes; an explicit clientId is
used unchanged.
"""
import re
import struct
import time
import unittest

from harness import Gateway, GatewayTest, bridge_service, run_mqgate, wait_for


def seqs(client):
    return [struct.unpack(">I", p[:4])[0] for (_, p, _, _) in client.received()]


SHARED = bridge_service(src_topic="$share/g/factory/line1/temperature")


class SharedSubscriptionTest(GatewayTest):

    def ports(self):
        return {"plantPort": self.b["plant"].port, "cloudPort": self.b["cloud"].port}

    def test_two_gateways_share_one_source_without_fighting(self):
        gws = []
        for name in ("gwa", "gwb"):
            gw = self.gateway(SHARED, self.ports(), name=name)
            self.dump_log_on_failure(gw)
            gws.append(gw)
        sink = self.client("cloud", ["cloud/line1/temperature"], qos=1)
        pub = self.client("plant")
        time.sleep(1.0)  # a fight over one client id shows within the reconnect period (200 ms)
        n = 1000
        for i in range(n):
            pub.publish("factory/line1/temperature", struct.pack(">I", i), qos=1)
        wait_for(lambda: len(set(seqs(sink))) >= n, 30,
                 what=lambda: "all %d messages (have %d)" % (n, len(set(seqs(sink)))))
        time.sleep(0.5)  # duplicates would arrive now
        self.assertEqual(sorted(seqs(sink)), list(range(n)), "every message exactly once")

        def plant_in(gw):
            row = {r["name"]: r for r in gw.status()}.get("itbridge/plant", {})
            return int(row.get("counters", {}).get("in", 0))
        wait_for(lambda: sum(plant_in(gw) for gw in gws) == n, 5, what="counters of both")
        for gw in gws:
            self.assertGreater(plant_in(gw), 0, "%s took no part" % gw.log)
            log = gw.log_text()
            self.assertNotIn("CONN-LOST", log)
            self.assertEqual(log.count("CONN-UP"), 2, "each connector connected once")
        for gw in gws:
            rc, _ = gw.stop()
            self.assertEqual(rc, 0)

    def _client_ids(self, gw):
        rc, out, err = run_mqgate(gw.args("check")[1:])
        self.assertEqual(rc, 0, err)
        return dict(re.findall(r"^  (\S+)\n    uri: .*\n    clientId: (\S+)", out, re.M))

    def test_check_shows_default_client_ids_per_instance(self):
        a = Gateway(self.work, SHARED, self.ports(), "", "gwa")
        b = Gateway(self.work, SHARED, self.ports(), "", "gwb")
        ids_a, ids_b = self._client_ids(a), self._client_ids(b)
        self.assertEqual(set(ids_a), {"itbridge/plant", "itbridge/cloud"})
        self.assertEqual(ids_a, self._client_ids(a), "stable")
        for key in ids_a:
            self.assertNotEqual(ids_a[key], ids_b[key])
            for ids in (ids_a, ids_b):
                self.assertRegex(ids[key], r"^itbridge-%s-[0-9a-f]{8}$" % key.split("/")[1])
                self.assertLessEqual(len(ids[key]), 23)
        explicit = SHARED.replace("reconnectPeriod: 200\n",
                                  "reconnectPeriod: 200\n        clientId: my-own-id\n", 1)
        c = Gateway(self.work, explicit, self.ports(), "", "gwc")
        self.assertEqual(self._client_ids(c)["itbridge/plant"], "my-own-id")


if __name__ == "__main__":
    unittest.main(verbosity=2)
