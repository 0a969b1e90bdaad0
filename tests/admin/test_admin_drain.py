"""Readiness and drain against a real iotgw-hub: /readyz says 503 until the bridge has reached the
hub, 200 then, and 503 again once POST /drain began. The drain moves every device off at the
configured rate (never faster), MQTT 5 devices hear "server shutting down", and every message a
device was acknowledged is at the hub."""

import os
import subprocess
import sys
import threading
import time
import unittest

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hub"))
import hub_fixture as hf  # noqa: E402

import admin_fixture as af  # noqa: E402

DEVICES = 20
RATE = 10  # connections per second: one every 100 ms
HUBNAME = hf.HOSTNAME


class Device:
    """Publishes QoS 1 messages one after another until its connection ends; remembers which
    were acknowledged and when the connection ended, with the server's reason code."""

    def __init__(self, port, device_id, v5):
        self.id = device_id
        self.acked = []
        self.ended_at = None
        self.reason = None
        self.connected = threading.Event()
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(client_id=device_id, protocol=proto)
        self.c.username_pw_set("%s/%s/?api-version=2021-04-12" % (HUBNAME, device_id), "")
        self.c.on_connect = self.on_connect
        self.c.on_disconnect = self.on_disconnect
        self.port = port
        self.stop = threading.Event()

    def on_connect(self, client, userdata, flags, rc, properties=None):
        if rc == 0:
            self.connected.set()

    def on_disconnect(self, client, userdata, rc, properties=None):
        if self.ended_at is None:
            self.ended_at = time.monotonic()
            self.reason = rc
        self.stop.set()

    def run(self):
        self.c.connect("127.0.0.1", self.port)
        self.c.loop_start()
        if not self.connected.wait(10):
            return
        seq = 0
        while not self.stop.is_set():
            body = ("%s-%d" % (self.id, seq)).encode()
            info = self.c.publish("devices/%s/messages/events/" % self.id, body, qos=1)
            deadline = time.monotonic() + 10
            try:
                while (not info.is_published() and not self.stop.is_set() and
                       time.monotonic() < deadline):
                    time.sleep(0.005)
                if info.is_published():
                    self.acked.append(body)
            except RuntimeError:  # the connection went while it waited: not acknowledged
                break
            seq += 1
        self.c.loop_stop()


class DrainTest(unittest.TestCase):
    def setUp(self):
        self.folder = af.temp_folder(self)
        af.plugins_dir(self.folder, "mqtt")
        self.keys = {"dev%d" % i: hf.new_key() for i in range(DEVICES)}
        self.policy_key = hf.new_key()
        self.registry = os.path.join(self.folder, "registry.yaml")
        hf.write_registry(self.registry, [{"id": d, "primary_key": k} for d, k in self.keys.items()],
                          [{"name": "gateway", "key": self.policy_key, "rights": ["device"]},
                           {"name": "service", "key": hf.new_key(), "rights": ["service"]}])
        self.hub_port = af.free_port()

    def start_gateway(self):
        topology = """
gateway:
  plugins_dir: plugins
  threads: 2
  drain_rate: %d
  drain_timeout: 10s
  admin: {bind: 127.0.0.1:0}
bridge:
  flavour: iothub
  url: amqp://127.0.0.1:%d
  hostname: %s
  policy: gateway
  policy_key: %s
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0, options: {hostname: %s}}
""" % (RATE, self.hub_port, HUBNAME, self.policy_key, HUBNAME)
        gw = af.Gateway(self.folder, topology)
        gw.start()
        self.addCleanup(gw.kill)
        return gw

    def start_hub(self):
        hub = hf.HubProcess(self.registry, os.path.join(self.folder, "hub.log"))
        log = open(hub.log_file, "wb")
        self.addCleanup(log.close)
        hub.proc = subprocess.Popen([hf.HUB_BINARY, "--registry", self.registry, "--listen",
                                     "127.0.0.1:%d" % self.hub_port],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(hub.kill)
        hub.port = self.hub_port
        return hub

    def received_at_hub(self, hub):
        return hf.received_at_hub(hub.url, self.service_key(), hostname=HUBNAME)

    def service_key(self):
        with open(self.registry) as f:
            text = f.read()
        return text.split("name: service")[1].split("key: ")[1].split()[0]

    def test_ready_only_with_the_hub_and_drain_moves_devices_at_the_rate(self):
        gw = self.start_gateway()
        status, body = gw.http("GET", "/readyz")
        self.assertEqual(status, 503, body)
        self.assertIn("hub", body)
        hub = self.start_hub()
        deadline = time.monotonic() + 20
        while gw.http("GET", "/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(gw.http("GET", "/readyz"), (200, "ready\n"))

        devices = [Device(gw.ports["mqtt"], "dev%d" % i, v5=(i % 4 == 0)) for i in range(DEVICES)]
        threads = [threading.Thread(target=d.run) for d in devices]
        for t in threads:
            t.start()
        for d in devices:
            self.assertTrue(d.connected.wait(15), "%s did not connect" % d.id)
        time.sleep(1.0)  # streaming
        status, body = gw.http("POST", "/drain")
        self.assertEqual(status, 202, body)
        drained_at = time.monotonic()
        self.assertEqual(gw.http("GET", "/readyz"), (503, "draining\n"))
        for t in threads:
            t.join(30)
        for d in devices:
            self.assertIsNotNone(d.ended_at, "%s still connected after the drain" % d.id)
        # The listener no longer accepts.
        late = mqtt.Client(client_id="dev1", protocol=mqtt.MQTTv311)
        with self.assertRaises(OSError):
            late.connect("127.0.0.1", gw.ports["mqtt"])

        # Never faster than the rate: the k-th connection to go was asked at k/RATE seconds or
        # later (it then finishes what is in flight, which only adds).
        ends = sorted(d.ended_at - drained_at for d in devices)
        for k, t in enumerate(ends):
            self.assertGreaterEqual(t, k / RATE - 0.1 - 0.05,
                                    "connection %d of %d went %.3fs after the drain began" %
                                    (k + 1, len(ends), t))
        for d in devices:
            if d.id in ("dev0", "dev4", "dev8", "dev12", "dev16"):
                self.assertEqual(d.reason, 139, "%s (MQTT 5) heard reason %r, not 139 "
                                 "(server shutting down)" % (d.id, d.reason))

        at_hub = set(self.received_at_hub(hub))
        acked = [b for d in devices for b in d.acked]
        self.assertGreater(len(acked), DEVICES)
        lost = [b for b in acked if b not in at_hub]
        self.assertEqual(lost, [], "%d acknowledged message(s) missing at the hub" % len(lost))
        self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    unittest.main()
