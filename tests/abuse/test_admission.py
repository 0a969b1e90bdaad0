"""Listener abuse bounds through the real iotgw: connections per source address, new connections
per second, and connections not yet logged in (idle scanners, half-sent CONNECTs). Each refusal
is a closed socket and a count in /metrics, and devices within the bounds are served.

Devices connect from addresses of their own in 127/8. Run with Debian's /usr/bin/python3
(python3-paho-mqtt, python3-prometheus-client).
"""

import os
import socket
import sys
import time
import unittest

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
sys.path.insert(0, os.path.join(HERE, ".."))
import admin_fixture as af  # noqa: E402
from prometheus_text import samples, value  # noqa: E402


def device(port, client_id, source="127.0.0.1"):
    """(client, CONNACK code or None when the connection was closed without one)."""
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    c.username_pw_set("hub/%s" % client_id, "pw")
    result = {}
    c.on_connect = lambda cl, u, flags, rc: result.setdefault("rc", rc)
    c.on_disconnect = lambda cl, u, rc: result.setdefault("closed", rc)
    try:
        c.connect("127.0.0.1", port, bind_address=source)
    except OSError:
        return c, None
    c.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in result and "closed" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return c, result.get("rc")


def closed_at_once(sock, wait=2.0):
    """True when the server closed the socket (EOF or reset) within `wait` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def raw(port, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


class AdmissionTest(unittest.TestCase):
    def start(self, listener_keys, adapter_options=""):
        folder = af.temp_folder(self)
        af.plugins_dir(folder, "mqtt")
        self.gw = af.Gateway(folder, """
gateway: {plugins_dir: plugins, threads: 2, admin: {bind: 127.0.0.1:0}}
bridge: {flavour: loopback, echo: false}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0, %s%s}
""" % (listener_keys, (", options: {%s}" % adapter_options) if adapter_options else ""))
        self.gw.start()
        self.addCleanup(self.gw.stop)
        self.port = self.gw.ports["mqtt"]
        self.clients = []
        self.addCleanup(self.disconnect_all)

    def disconnect_all(self):
        for c in self.clients:
            c.disconnect()
            c.loop_stop()

    def metric(self, name, **labels):
        status, text = self.gw.http("GET", "/metrics")
        self.assertEqual(status, 200)
        return value(samples(text), name, listener="mqtt", **labels)

    def refused(self, reason):
        return self.metric("iotgw_connections_refused_total", reason=reason)

    def test_one_address_holds_at_most_its_share(self):
        self.start("max_connections_per_address: 3")
        for i in range(3):
            c, rc = device(self.port, "a%d" % i, source="127.0.0.3")
            self.clients.append(c)
            self.assertEqual(rc, 0, "device a%d within the bound" % i)
        c, rc = device(self.port, "a3", source="127.0.0.3")
        self.clients.append(c)
        self.assertIsNone(rc, "a fourth connection from 127.0.0.3 is closed without a CONNACK")
        self.assertEqual(self.refused("max_connections_per_address"), 1)
        self.gw.wait_log(r"max_connections_per_address \(3\) reached by 127\.0\.0\.3")
        # Another address is not affected, and a place freed is a place again.
        c, rc = device(self.port, "b0", source="127.0.0.4")
        self.clients.append(c)
        self.assertEqual(rc, 0)
        first = self.clients[0]
        first.disconnect()
        first.loop_stop()
        deadline = time.monotonic() + 10
        rc = None
        while rc != 0 and time.monotonic() < deadline:
            c, rc = device(self.port, "a4", source="127.0.0.3")
            self.clients.append(c)
            time.sleep(0.1)
        self.assertEqual(rc, 0, "a place freed on 127.0.0.3 takes a new connection")

    def test_sockets_that_never_log_in_are_bounded(self):
        # Scanners: sockets that open and send nothing, or half a CONNECT. Each holds a pending
        # place until connect_timeout closes it; past the bound new sockets are closed at once.
        self.start("max_pending_handshakes: 5", "connect_timeout: 2s")
        idle = [raw(self.port, "127.0.0.5") for _ in range(4)]
        half = raw(self.port, "127.0.0.5")
        half.sendall(bytes([0x10, 40, 0, 4]) + b"MQ")  # a CONNECT cut short
        time.sleep(0.3)
        self.assertEqual(self.metric("iotgw_connections_pending"), 5)
        extra = raw(self.port, "127.0.0.6")
        self.assertTrue(closed_at_once(extra), "a sixth unfinished connection is closed")
        self.assertGreaterEqual(self.refused("max_pending_handshakes"), 1)
        for s in idle + [half]:
            self.assertTrue(closed_at_once(s, wait=5), "connect_timeout ends a scanner's socket")
        # The places are free again: a device logs in, and is pending no more once it has.
        c, rc = device(self.port, "d0", source="127.0.0.7")
        self.clients.append(c)
        self.assertEqual(rc, 0)
        self.assertEqual(self.metric("iotgw_connections_pending"), 0)
        for s in idle + [half, extra]:
            s.close()

    def test_new_connections_per_second_are_bounded(self):
        self.start("max_connection_rate: 5")
        burst = [raw(self.port, "127.0.0.8") for _ in range(20)]
        closed = sum(closed_at_once(s, wait=0.5) for s in burst)
        # A bucket of one second's worth: about five taken at once (a sixth may have refilled).
        self.assertGreaterEqual(closed, 12, "most of a burst of 20 is refused")
        self.assertLessEqual(closed, 15)
        self.assertEqual(self.refused("max_connection_rate"), closed)
        for s in burst:
            s.close()
        time.sleep(1.2)  # the bucket refills
        c, rc = device(self.port, "r0", source="127.0.0.9")
        self.clients.append(c)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
