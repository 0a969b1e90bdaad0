"""PROXY protocol v2 from a real HAProxy (TCP mode, `send-proxy-v2`) in front of iotgw's tcp and
tls listeners: the device's own address, not HAProxy's, reaches the log and the auth stages; a
connection that does not start with the header is refused and counted in /metrics.

Devices connect from 127.0.0.2 (all of 127/8 is loopback) so that their address differs from
HAProxy's. Run with Debian's /usr/bin/python3 (python3-paho-mqtt, python3-prometheus-client).
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
sys.path.insert(0, os.path.join(HERE, ".."))
import admin_fixture as af  # noqa: E402
from prometheus_text import samples, value  # noqa: E402

DEVICE_ADDRESS = "127.0.0.2"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def device(port, client_id, tls=False, source=DEVICE_ADDRESS):
    """(client, CONNACK code, the device's own source port)."""
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    c.username_pw_set("hub/%s" % client_id, "pw")
    if tls:
        c.tls_set(cert_reqs=ssl.CERT_NONE)
        c.tls_insecure_set(True)
    result = {}
    c.on_connect = lambda cl, u, flags, rc: result.setdefault("rc", rc)
    c.connect("127.0.0.1", port, bind_address=source)
    own_port = c.socket().getsockname()[1]
    c.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return c, result.get("rc"), own_port


class ProxyProtocolTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(HAPROXY):
            self.fail("haproxy is not installed (packaging/install-deps.sh all installs it)")
        self.folder = af.temp_folder(self)
        af.plugins_dir(self.folder, "mqtt", "tag")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=gw",
                        "-keyout", os.path.join(self.folder, "key.pem"),
                        "-out", os.path.join(self.folder, "cert.pem")],
                       check=True, capture_output=True)
        self.gw = af.Gateway(self.folder, """
gateway: {plugins_dir: plugins, threads: 2, log_level: debug, admin: {bind: 127.0.0.1:0}}
bridge: {flavour: loopback, echo: false}
stages:
  - {name: from-devices, plugin: tag, config: {peer_prefix: "%s:"}}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0, proxy_protocol: v2, auth: [from-devices]}
  - name: mqtts
    adapter: mqtt
    transport: tls
    bind: 127.0.0.1:0
    proxy_protocol: v2
    tls: {cert_file: cert.pem, key_file: key.pem}
    auth: [from-devices]
""" % DEVICE_ADDRESS)
        self.gw.start()
        self.addCleanup(self.gw.stop)
        self.front = {"mqtt": af.free_port(), "mqtts": af.free_port()}
        config = os.path.join(self.folder, "haproxy.cfg")
        with open(config, "w") as f:
            f.write("""
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
""")
            for name in ("mqtt", "mqtts"):
                f.write("""
listen %s
  bind 127.0.0.1:%d
  server gw 127.0.0.1:%d send-proxy-v2
""" % (name, self.front[name], self.gw.ports[name]))
        self.haproxy_log = open(os.path.join(self.folder, "haproxy.log"), "wb")
        self.addCleanup(self.haproxy_log.close)
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", config], stdout=self.haproxy_log,
                                        stderr=subprocess.STDOUT)
        self.addCleanup(self.haproxy.kill)
        for port in self.front.values():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)

    def publish_through(self, listener, client_id, tls=False):
        c, rc, own_port = device(self.front[listener], client_id, tls=tls)
        self.addCleanup(c.loop_stop)
        self.addCleanup(c.disconnect)
        self.assertEqual(rc, 0, self.gw.log())
        info = c.publish("devices/%s/messages/events/" % client_id, b"hello", qos=1)
        info.wait_for_publish(10)
        self.assertTrue(info.is_published(), self.gw.log())
        return own_port

    def test_the_devices_own_address_reaches_the_log_and_the_auth_stage(self):
        own_port = self.publish_through("mqtt", "dev1")
        self.gw.wait_log(r"connection from %s:%d\b" % (DEVICE_ADDRESS.replace(".", r"\."), own_port))
        # From HAProxy's own address (127.0.0.1) the authenticator refuses: it sees the device's.
        c, rc, _ = device(self.front["mqtt"], "dev2", source="127.0.0.1")
        c.loop_stop()
        self.assertNotEqual(rc, 0)
        self.gw.wait_log(r"peer address '127\.0\.0\.1:\d+' is not 127\.0\.0\.2:\*")

    def test_over_tls_the_header_comes_before_the_handshake(self):
        own_port = self.publish_through("mqtts", "dev3", tls=True)
        self.gw.wait_log(r"connection from %s:%d\b" % (DEVICE_ADDRESS.replace(".", r"\."), own_port))

    def test_a_connection_without_the_header_is_refused_and_counted(self):
        # An MQTT CONNECT straight to iotgw, no HAProxy: closed unanswered.
        with socket.create_connection(("127.0.0.1", self.gw.ports["mqtt"]), timeout=10) as s:
            s.sendall(bytes([0x10, 0x14, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C,
                                                                         0x00, 0x08]) + b"dev4-raw")
            try:
                self.assertEqual(s.recv(16), b"")
            except ConnectionResetError:
                pass  # closed with the CONNECT unread: a reset, which is a close too
        self.gw.wait_log(r"connection refused: no PROXY protocol v2 signature")
        s = samples(self.gw.http("GET", "/metrics")[1])
        self.assertEqual(value(s, "iotgw_connections_refused_total", listener="mqtt",
                               reason="proxy_protocol"), 1.0)
        # A peer that connects and never speaks holds its slot no longer than the bound; the
        # listener serves the next device meanwhile.
        idle = socket.create_connection(("127.0.0.1", self.gw.ports["mqtt"]))
        self.addCleanup(idle.close)
        self.publish_through("mqtt", "dev5")


if __name__ == "__main__":
    unittest.main()
