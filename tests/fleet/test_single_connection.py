"""One connection per device across a fleet of gateways, as IoT Hub enforces it: two real iotgw
processes in front of one real iotgw-hub; a device that connects through the second takes its
links over at the hub, and the first closes its stale connection with the reason (an MQTT 5
device hears DISCONNECT 0x8E, session taken over). Nothing the device sent through the second is
lost, and the first does not take the device back.

Run with Debian's /usr/bin/python3 (python3-paho-mqtt, python3-qpid-proton).
"""

import os
import sys
import threading
import time
import unittest

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
sys.path.insert(0, os.path.join(HERE, "..", "hub"))
import admin_fixture as af  # noqa: E402
import hub_fixture as hf  # noqa: E402

HUBNAME = hf.HOSTNAME


class Device:
    """A paho device logging in with its own SAS token, as Azure's SDKs do."""

    def __init__(self, port, device_id, key, v5=False):
        self.id = device_id
        self.v5 = v5
        self.c = mqtt.Client(client_id=device_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.c.username_pw_set("%s/%s/?api-version=2021-04-12" % (HUBNAME, device_id),
                               hf.make_token(hf.device_audience(device_id), key))
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.rc = None
        self.disconnect_reason = None
        if v5:
            self.c.on_connect = lambda cl, u, flags, rc, props=None: self._connected(rc)
            self.c.on_disconnect = lambda cl, u, rc, props=None: self._gone(rc)
        else:
            self.c.on_connect = lambda cl, u, flags, rc: self._connected(rc)
            self.c.on_disconnect = lambda cl, u, rc: self._gone(rc)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _connected(self, rc):
        self.rc = rc
        self.connected.set()

    def _gone(self, rc):
        self.disconnect_reason = rc
        self.gone.set()

    def publish(self, body):
        info = self.c.publish("devices/%s/messages/events/" % self.id, body, qos=1)
        info.wait_for_publish(10)
        return info.is_published()

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


class SingleConnectionTest(unittest.TestCase):
    def setUp(self):
        self.folder = af.temp_folder(self)
        self.key, self.service_key = hf.new_key(), hf.new_key()
        registry = os.path.join(self.folder, "registry.yaml")
        hf.write_registry(registry, [{"id": "dev1", "primary_key": self.key},
                                     {"id": "dev2", "primary_key": hf.new_key()}],
                          [{"name": "service", "key": self.service_key, "rights": ["service"]}])
        self.hub = hf.HubProcess(registry, os.path.join(self.folder, "hub.log")).start()
        self.addCleanup(self.hub.stop)
        self.gateways = []
        for name in ("a", "b"):
            folder = os.path.join(self.folder, name)
            os.makedirs(folder)
            af.plugins_dir(folder, "mqtt", "auth-sas")
            gw = af.Gateway(folder, """
gateway: {plugins_dir: plugins, threads: 1, log_level: debug, admin: {bind: 127.0.0.1:0}}
bridge: {flavour: iothub, url: %s, hostname: %s}
stages:
  - {name: sas, plugin: auth-sas, config: {mode: passthrough, hostname: %s}}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0, auth: [sas], options: {hostname: %s}}
""" % (self.hub.url, HUBNAME, HUBNAME, HUBNAME))
            gw.start()
            self.addCleanup(gw.stop)
            self.gateways.append(gw)

    def connect(self, gw, **kw):
        d = Device(gw.ports["mqtt"], "dev1", self.key, **kw)
        self.addCleanup(d.stop)
        self.assertTrue(d.connected.wait(10), gw.log())
        self.assertEqual(d.rc, 0, gw.log())
        return d

    def check_take_over(self, v5):
        a, b = self.gateways
        first = self.connect(a, v5=v5)
        self.assertTrue(first.publish(b"through a"), a.log())
        second = self.connect(b, v5=v5)
        # Its first message through b attaches its telemetry link there (links open with a
        # device's first message): the hub detaches a's links for the device, and a closes the
        # stale connection, with why.
        self.assertTrue(second.publish(b"through b"), b.log())
        self.assertTrue(first.gone.wait(10), "the device's old connection stayed open:\n" + a.log() + "\n--- hub ---\n" + self.hub.log())
        a.wait_log(r"dev1: taken over: the device connected again elsewhere")
        if v5:
            self.assertEqual(first.disconnect_reason, 0x8E)  # session taken over
        for i in range(5):
            self.assertTrue(second.publish(b"through b %d" % i), b.log())
        bodies = hf.received_at_hub(self.hub.url, self.service_key)
        self.assertIn(b"through a", bodies)
        self.assertIn(b"through b", bodies)
        for i in range(5):
            self.assertIn(b"through b %d" % i, bodies)
        # b keeps the device: nothing took it back, and it still publishes.
        time.sleep(0.5)
        self.assertFalse(second.gone.is_set(), b.log())
        self.assertTrue(second.publish(b"still b"), b.log())

    def test_an_mqtt_311_device_moves_to_the_other_gateway(self):
        self.check_take_over(v5=False)

    def test_an_mqtt_5_device_hears_session_taken_over(self):
        self.check_take_over(v5=True)


if __name__ == "__main__":
    unittest.main()
