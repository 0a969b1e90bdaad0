"""Live configuration and the service manager: with gateway.watch, a certificate rotated the way
Kubernetes updates a mounted Secret (the `..data` symlink swapped to a new folder) serves new
handshakes while open connections stay; and sd_notify's READY, RELOADING (with MONOTONIC_USEC),
STOPPING and watchdog pings reach the socket systemd would listen on."""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
import unittest

import paho.mqtt.client as mqtt

import admin_fixture as af


def make_cert(folder, cn):
    os.makedirs(folder)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                    "-keyout", os.path.join(folder, "key.pem"),
                    "-out", os.path.join(folder, "cert.pem")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(folder, "cert.pem")) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_cert(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


class WatchTest(unittest.TestCase):
    def test_secret_swapped_like_kubernetes_serves_new_handshakes_and_keeps_connections(self):
        folder = af.temp_folder(self)
        af.plugins_dir(folder, "mqtt")
        certs = os.path.join(folder, "certs")
        first = make_cert(os.path.join(certs, "..2026_12_01_a"), "first")
        second = make_cert(os.path.join(certs, "..2026_12_01_b"), "second")
        os.symlink("..2026_12_01_a", os.path.join(certs, "..data"))
        for name in ("cert.pem", "key.pem"):
            os.symlink(os.path.join("..data", name), os.path.join(certs, name))
        gw = af.Gateway(folder, """
gateway: {plugins_dir: plugins, threads: 2, watch: true}
bridge: {flavour: loopback, echo: false}
listeners:
  - name: mqtts
    adapter: mqtt
    transport: tls
    bind: 127.0.0.1:0
    tls: {cert_file: certs/cert.pem, key_file: certs/key.pem}
""")
        gw.start(wait_admin=False)
        self.addCleanup(gw.stop)
        port = gw.ports["mqtts"]
        self.assertEqual(served_cert(port), first)

        device = mqtt.Client(client_id="keeper", protocol=mqtt.MQTTv311)
        device.tls_set(cert_reqs=ssl.CERT_NONE)
        device.tls_insecure_set(True)
        connected = []
        device.on_connect = lambda c, u, f, rc: connected.append(rc)
        dropped = []
        device.on_disconnect = lambda c, u, rc: dropped.append(rc)
        device.connect("127.0.0.1", port)
        device.loop_start()
        self.addCleanup(device.loop_stop)
        deadline = time.monotonic() + 10
        while not connected and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(connected, [0])

        # Kubernetes' atomic update: a new timestamped folder, then ..data renamed over.
        tmp = os.path.join(certs, "..data_tmp")
        os.symlink("..2026_12_01_b", tmp)
        os.rename(tmp, os.path.join(certs, "..data"))
        deadline = time.monotonic() + 15
        while served_cert(port) != second and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(served_cert(port), second, "the new certificate is not served; log:\n"
                         + gw.log())
        self.assertRegex(gw.log(), r"reload #1 ok: .*\(a watched file changed\)")
        info = device.publish("devices/keeper/messages/events/", b"still here", qos=1)
        info.wait_for_publish(10)
        self.assertTrue(info.is_published())
        self.assertEqual(dropped, [], "the open connection was dropped")
        device.disconnect()


class SystemdNotifyTest(unittest.TestCase):
    def test_ready_reloading_stopping_and_watchdog(self):
        folder = af.temp_folder(self)
        af.plugins_dir(folder, "mqtt")
        path = os.path.join(folder, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        self.addCleanup(sock.close)
        sock.settimeout(0.2)
        gw = af.Gateway(folder, """
gateway: {plugins_dir: plugins, threads: 1}
bridge: {flavour: loopback}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:0}
""", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        gw.start(wait_admin=False)
        self.addCleanup(gw.kill)
        got = []

        def wait_for(pattern, timeout=10):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for g in got:
                    if re.search(pattern, g):
                        got.remove(g)
                        return g
                try:
                    got.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
            self.fail("no notification matching %r; got %r" % (pattern, got))

        wait_for(r"(?m)^READY=1$")
        wait_for(r"(?m)^WATCHDOG=1$")
        wait_for(r"(?m)^WATCHDOG=1$")
        gw.proc.send_signal(signal.SIGHUP)
        reloading = wait_for(r"(?m)^RELOADING=1$")
        usec = int(re.search(r"(?m)^MONOTONIC_USEC=(\d+)$", reloading).group(1))
        self.assertLess(abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)), 30)
        wait_for(r"(?m)^READY=1$")
        gw.proc.send_signal(signal.SIGTERM)
        wait_for(r"(?m)^STOPPING=1$")
        self.assertEqual(gw.proc.wait(20), 0)


if __name__ == "__main__":
    unittest.main()
