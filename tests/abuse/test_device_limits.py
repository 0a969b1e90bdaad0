"""Per-device rate limits and the process's buffer budget through the real iotgw.

A device over its listener's device_message_rate or device_byte_rate is slowed, its connection
reading nothing until the rate allows (MQTT 3.1.1: its PUBACKs come later, the connection stays),
or, speaking MQTT 5, hears Quota exceeded (0x97) for what it sends while over. Half-sent messages
from many connections past gateway.max_buffered_bytes stop those connections reading, which holds what the process
buffers near the cap, while a device sending whole messages is served.

Run with Debian's /usr/bin/python3 (python3-paho-mqtt).
"""

import os
import socket
import struct
import sys
import threading
import time
import unittest

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, ".."))
import admin_fixture as af  # noqa: E402
from mqtt_device import connect_packet, packet, read_packet, string  # noqa: E402
from prometheus_text import samples, value  # noqa: E402

HUB = "localhub.azure-devices.net"


class Streamer:
    """A paho MQTT 3.1.1 device publishing `count` QoS 1 messages of `size` bytes as fast as its
    window of 20 in flight allows; records when each PUBACK came and whether it was dropped."""

    def __init__(self, port, device_id, count, size=16):
        self.count, self.acks, self.drops = count, [], 0
        self.connected = threading.Event()
        c = mqtt.Client(client_id=device_id, protocol=mqtt.MQTTv311)
        c.username_pw_set("%s/%s/?api-version=2021-04-12" % (HUB, device_id), "pw")
        c.max_inflight_messages_set(20)
        c.on_connect = lambda cl, u, flags, rc: rc == 0 and self.connected.set()
        c.on_disconnect = self.on_disconnect
        c.on_publish = lambda cl, u, mid: self.acks.append(time.monotonic())
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client, self.size = c, size
        if not self.connected.wait(10):
            raise AssertionError("%s did not connect" % device_id)

    def on_disconnect(self, client, userdata, rc):
        if rc != 0:
            self.drops += 1

    def publish(self, count=None):
        topic = "devices/%s/messages/events/" % self.client._client_id.decode()
        self.started = time.monotonic()
        for i in range(count or self.count):
            self.client.publish(topic, b"x" * self.size, qos=1)

    def wait_acked(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.acks) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.acks)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def raw_v5_session(port, device):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    body = string("MQTT") + bytes([5, 0xC2]) + struct.pack("!H", 60) + b"\x00" + string(device)
    body += string("%s/%s/?api-version=2021-04-12" % (HUB, device)) + string("pw")
    sock.sendall(packet(0x10, body))
    first, ack = read_packet(sock)
    assert first == 0x20 and ack[1] == 0, ack
    return sock


def v5_publish(sock, device, packet_id):
    pub = string("devices/%s/messages/events/" % device) + struct.pack("!H", packet_id)
    sock.sendall(packet(0x32, pub + b"\x00" + b"m%d" % packet_id))


class DeviceLimitsTest(unittest.TestCase):
    def start(self, listener_keys="", gateway_keys=""):
        folder = af.temp_folder(self)
        af.plugins_dir(folder, "mqtt")
        self.gw = af.Gateway(folder, """
gateway: {plugins_dir: plugins, threads: 2, admin: {bind: 127.0.0.1:0}%s}
bridge: {flavour: loopback, echo: false}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0%s}
""" % (gateway_keys, listener_keys))
        self.gw.start()
        self.addCleanup(self.gw.stop)
        self.port = self.gw.ports["mqtt"]

    def metric(self, name, **labels):
        return value(samples(self.gw.http("GET", "/metrics")[1]), name, **labels)

    def test_a_311_device_over_its_message_rate_is_slowed_and_keeps_its_connection(self):
        self.start(", device_message_rate: 20")
        d = Streamer(self.port, "fast", 100)
        self.addCleanup(d.stop)
        d.publish()
        self.assertEqual(d.wait_acked(100), 100)
        took = d.acks[-1] - d.started
        # A burst of 20, then 20 a second: the last 80 cannot be acknowledged in under 4 s.
        self.assertGreaterEqual(took, 3.5, "100 messages at 20/s acknowledged in %.2f s" % took)
        self.assertEqual(d.drops, 0)
        self.assertGreater(self.metric("iotgw_device_throttled_total", listener="mqtt", action="slowed"), 0)
        self.assertEqual(self.metric("iotgw_device_throttled_total", listener="mqtt", action="refused"), 0)
        self.assertEqual(self.metric("iotgw_messages_total", listener="mqtt", direction="upstream",
                                     outcome="accepted"), 100)

    def test_a_device_over_its_byte_rate_is_slowed_and_another_is_not(self):
        self.start(", device_byte_rate: 8KB")
        big = Streamer(self.port, "big", 16, size=2048)
        small = Streamer(self.port, "small", 16, size=16)
        self.addCleanup(big.stop)
        self.addCleanup(small.stop)
        big.publish()
        small.publish()
        self.assertEqual(small.wait_acked(16), 16)
        self.assertEqual(big.wait_acked(16), 16)
        # 32 KiB at 8 KiB a second with a burst of 8 KiB: at least 3 s. The small device's
        # 256 bytes fit its own burst: the limit is each device's, not the listener's.
        self.assertGreaterEqual(big.acks[-1] - big.started, 2.5)
        self.assertLess(small.acks[-1] - small.started, big.acks[-1] - big.started)
        self.assertEqual(big.drops + small.drops, 0)

    def test_an_mqtt5_device_over_its_rate_hears_quota_exceeded_and_keeps_its_connection(self):
        self.start(", device_message_rate: 5")
        sock = raw_v5_session(self.port, "v5dev")
        self.addCleanup(sock.close)
        for packet_id in range(1, 13):
            v5_publish(sock, "v5dev", packet_id)
        codes = {}
        while len(codes) < 12:
            first, body = read_packet(sock)
            self.assertEqual(first, 0x40, "a PUBACK, not %#x" % first)
            codes[struct.unpack("!H", body[:2])[0]] = body[2] if len(body) > 2 else 0
        accepted = sorted(p for p, c in codes.items() if c == 0)
        quota = sorted(p for p, c in codes.items() if c == 0x97)
        # The burst (5, and the one that takes the bucket into debt) is accepted; the rest
        # are refused at once rather than queued.
        self.assertEqual(accepted, list(range(1, 7)), codes)
        self.assertEqual(quota, list(range(7, 13)), codes)
        time.sleep(1.5)  # the bucket refills; the connection is still there
        v5_publish(sock, "v5dev", 13)
        first, body = read_packet(sock)
        self.assertEqual((first, struct.unpack("!H", body[:2])[0]), (0x40, 13))
        self.assertEqual(body[2] if len(body) > 2 else 0, 0)
        self.assertEqual(self.metric("iotgw_device_throttled_total", listener="mqtt", action="refused"), 6)

    def test_half_sent_messages_past_the_buffer_cap_wait_and_whole_ones_are_served(self):
        cap, floods, declared, sent = 256 * 1024, 20, 200 * 1024, 100 * 1024
        self.start(gateway_keys=", max_buffered_bytes: 256KB")
        legit = Streamer(self.port, "legit", 1)
        self.addCleanup(legit.stop)
        socks = []
        for i in range(floods):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
            # A keep-alive of 5 s: what ends them once they have stopped sending (7.5 s).
            s.sendall(connect_packet("flood%d" % i, "pw", keep_alive=5))
            first, body = read_packet(s)
            self.assertEqual((first, body[1]), (0x20, 0))
            socks.append(s)
        # Each sends most of a PUBLISH declared at 200 KiB, and never the rest: the adapter can
        # use none of it. 2 MB offered against a 256 KiB cap; the sends that find nobody
        # reading wait in the kernel's socket buffers.
        header = packet(0x30, b"")[:1]
        remaining = bytearray()
        n = declared
        while True:
            digit, n = n % 128, n // 128
            remaining.append(digit | (0x80 if n else 0))
            if not n:
                break
        topic = string("devices/x/messages/events/")
        for s in socks:
            s.setblocking(False)
        pending = {s: header + bytes(remaining) + topic + b"y" * (sent - len(topic)) for s in socks}
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            for s in list(pending):
                try:
                    n = s.send(pending[s])
                except BlockingIOError:
                    continue
                pending[s] = pending[s][n:]
                if not pending[s]:
                    del pending[s]
            time.sleep(0.01)

        def held():
            return self.metric("iotgw_buffered_bytes")

        deadline = time.monotonic() + 10
        while self.metric("iotgw_connections_waiting_for_memory") == 0:
            self.assertLess(time.monotonic(), deadline, "nobody stopped reading: %d" % held())
            time.sleep(0.1)
        # Past the cap by at most one read per connection (each checks before it reads).
        self.assertGreater(held(), cap)
        self.assertLessEqual(held(), cap + (floods + 1) * 16 * 1024)
        self.assertGreater(self.metric("iotgw_memory_pauses_total"), 0)
        # A device sending whole messages holds nothing between them, and is served.
        legit.publish()
        self.assertEqual(legit.wait_acked(1, timeout=10), 1)
        self.assertLessEqual(held(), cap + (floods + 1) * 16 * 1024)
        # The half-sent messages wait until their connections' keep-alive ends them.
        deadline = time.monotonic() + 20
        while held() != 0 or self.metric("iotgw_connections_waiting_for_memory") != 0:
            self.assertLess(time.monotonic(), deadline, "still held: %d" % held())
            time.sleep(0.1)
        self.assertEqual(legit.drops, 0)
        for s in socks:
            s.close()


if __name__ == "__main__":
    unittest.main()
