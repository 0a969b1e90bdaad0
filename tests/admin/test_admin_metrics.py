"""GET /metrics after known traffic, read with Prometheus's own text-format parser: the counters
hold exactly what the traffic did. Also the probes and the status document on a loopback bridge,
and POST /reload (token, a broken topology that leaves the old one serving)."""

import json
import os
import sys
import time
import unittest

import paho.mqtt.client as mqtt

import admin_fixture as af

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from prometheus_text import samples, value  # noqa: E402

TOKEN = "admin-token-for-tests-7f3a"


def mqtt_device(port, client_id, password):
    """A connected MQTT 3.1.1 device; raises with the CONNACK code when refused."""
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    c.username_pw_set("hub/%s" % client_id, password)
    result = {}
    c.on_connect = lambda cl, u, flags, rc: result.setdefault("rc", rc)
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return c, result.get("rc")


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.folder = af.temp_folder(self)
        af.plugins_dir(self.folder, "mqtt", "tag")
        with open(os.path.join(self.folder, "token"), "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(os.path.join(self.folder, "token"), 0o600)  # others may not read a secret
        self.topology = """
gateway:
  plugins_dir: plugins
  threads: 2
  admin: {bind: 127.0.0.1:0, token_file: token}
bridge: {flavour: loopback, echo: false}
stages:
  - {name: door, plugin: tag, config: {secret: letmein}}
  - {name: bang, plugin: tag, config: {reject_if: "!"}}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0, auth: [door], pipeline: [bang]}
"""
        self.gw = af.Gateway(self.folder, self.topology)
        self.gw.start()
        self.addCleanup(self.gw.stop)
        self.port = self.gw.ports["mqtt"]

    def test_counters_hold_exactly_what_the_traffic_did(self):
        devices = []
        for i in range(3):
            c, rc = mqtt_device(self.port, "dev%d" % i, "letmein")
            self.assertEqual(rc, 0, "dev%d refused" % i)
            devices.append(c)
        bad, rc = mqtt_device(self.port, "intruder", "wrong")
        self.assertNotEqual(rc, 0, "a wrong password was taken")
        bad.loop_stop()
        bad.disconnect()
        d = devices[0]
        topic = "devices/dev0/messages/events/"
        for i in range(5):
            d.publish(topic, b"hello", qos=1).wait_for_publish(10)
        # Refused by the stage. At QoS 1 an MQTT 3.1.1 device would be disconnected (it has no
        # negative PUBACK), so QoS 0.
        for i in range(2):
            d.publish(topic, b"bad!", qos=0).wait_for_publish(10)
        for i in range(3):
            d.publish(topic, b"q0msg", qos=0).wait_for_publish(10)
        # QoS 0 has no answer: wait until the gateway has counted all five.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = samples(self.gw.http("GET", "/metrics")[1])
            up = {"listener": "mqtt", "direction": "upstream"}
            if (value(s, "iotgw_messages_total", outcome="sent", **up) >= 3 and
                    value(s, "iotgw_messages_total", outcome="refused", **up) >= 2):
                break
            time.sleep(0.05)
        devices[2].loop_stop()
        devices[2].disconnect()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, text = self.gw.http("GET", "/metrics")
            s = samples(text)
            if value(s, "iotgw_connections_open", listener="mqtt") == 2:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200)
        L = {"listener": "mqtt"}
        up = dict(L, direction="upstream")
        self.assertEqual(value(s, "iotgw_connections_accepted_total", **L), 4)
        self.assertEqual(value(s, "iotgw_connections_open", **L), 2)
        self.assertEqual(value(s, "iotgw_device_logins_total", result="ok", **L), 3)
        self.assertEqual(value(s, "iotgw_device_logins_total", result="refused", **L), 1)
        self.assertEqual(value(s, "iotgw_auth_results_total", stage="door", result="accepted"), 3)
        self.assertEqual(value(s, "iotgw_auth_results_total", stage="door", result="refused"), 1)
        self.assertEqual(value(s, "iotgw_messages_total", outcome="accepted", **up), 5)
        self.assertEqual(value(s, "iotgw_messages_total", outcome="refused", **up), 2)
        self.assertEqual(value(s, "iotgw_messages_total", outcome="sent", **up), 3)
        self.assertEqual(value(s, "iotgw_stage_errors_total", stage="bang", direction="upstream"), 2)
        self.assertEqual(value(s, "iotgw_stage_drops_total", stage="bang", direction="upstream"), 0)
        # 5 accepted and 3 QoS 0 reached the bridge, 5 bytes each.
        self.assertEqual(value(s, "iotgw_message_bytes_total", **up), 40)
        self.assertEqual(value(s, "iotgw_upstream_latency_seconds_count", **L), 5)
        self.assertEqual(value(s, "iotgw_upstream_latency_seconds_bucket", le="+Inf", **L), 5)
        self.assertGreater(value(s, "iotgw_upstream_latency_seconds_sum", **L), 0)
        self.assertEqual(value(s, "iotgw_ready"), 1)
        self.assertEqual(value(s, "iotgw_build_info", version=s and next(
            dict(k[1])["version"] for k in s if k[0] == "iotgw_build_info"),
            abi=next(dict(k[1])["abi"] for k in s if k[0] == "iotgw_build_info")), 1)
        names = {dict(k[1]).get("name") for k in s if k[0] == "iotgw_plugin_info"}
        self.assertEqual(names, {"mqtt", "tag"})
        self.assertGreater(value(s, "process_resident_memory_bytes"), 0)
        for name, labels in s:
            self.assertNotIn("device", dict(labels), "%s has a device label" % name)
        for c in devices[:2]:
            c.loop_stop()
            c.disconnect()

    def test_probes_and_status(self):
        self.assertEqual(self.gw.http("GET", "/healthz"), (200, "ok\n"))
        self.assertEqual(self.gw.http("GET", "/readyz"), (200, "ready\n"))
        status, body = self.gw.http("GET", "/status")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["listeners"][0]["name"], "mqtt")
        self.assertEqual(doc["listeners"][0]["bind"], "127.0.0.1:%d" % self.port)
        self.assertEqual([s["name"] for s in doc["listeners"][0]["stages"]], ["door", "bang"])
        self.assertEqual(sorted(p["name"] for p in doc["plugins"]), ["mqtt", "tag"])
        self.assertEqual(doc["bridge"]["describe"], "loopback")
        self.assertEqual(self.gw.http("GET", "/nothing")[0], 404)
        self.assertEqual(self.gw.http("GET", "/reload")[0], 405)

    def test_reload_needs_the_token_and_a_broken_one_leaves_the_old_topology(self):
        status, body = self.gw.http("POST", "/reload")
        self.assertEqual(status, 401, body)
        status, body = self.gw.http("POST", "/reload", token="not-it")
        self.assertEqual(status, 401, body)
        status, body = self.gw.http("POST", "/reload", token=TOKEN)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["result"], "ok")
        with open(self.gw.config, "w") as f:
            f.write(self.topology.replace("plugin: tag, config: {secret",
                                          "plugin: tga, config: {secret")
                    .replace("auth: [door]", "auth: [door], colour: red"))
        status, body = self.gw.http("POST", "/reload", token=TOKEN)
        self.assertEqual(status, 422, body)
        doc = json.loads(body)
        self.assertEqual(doc["result"], "failed")
        text = "\n".join(doc["errors"])
        self.assertRegex(text, r"topology\.yaml:\d+:\d+: .*colour")
        self.assertRegex(text, r"topology\.yaml:\d+:\d+: .*tga")
        self.assertIn("previous topology keeps serving", doc["summary"])
        # Still serving the old one: the old password still lets a device in.
        c, rc = mqtt_device(self.port, "dev9", "letmein")
        self.assertEqual(rc, 0)
        c.publish("devices/dev9/messages/events/", b"after", qos=1).wait_for_publish(10)
        c.loop_stop()
        c.disconnect()
        s = samples(self.gw.http("GET", "/metrics")[1])
        self.assertEqual(value(s, "iotgw_reloads_total", result="ok"), 1)
        self.assertEqual(value(s, "iotgw_reloads_total", result="failed"), 1)


if __name__ == "__main__":
    unittest.main()
