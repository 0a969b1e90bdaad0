"""iotgw-hub's transports: AMQP over TLS (5671), and bad input on the wire closing only the
connection that sent it."""
import os
import signal
import re
import socket
import subprocess
import time
import unittest

import proton
from proton import Message, SSLDomain
from proton.utils import BlockingConnection

import hub_fixture as hf
from test_hub_conformance import HOSTNAME, HubTestCase

TLS_RE = re.compile(r"TLS listening on 127\.0\.0\.1:(\d+)")


class TlsTests(HubTestCase):

    def setUp(self):
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        if not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                            "-out", self.cert, "-days", "2", "-subj", "/CN=" + HOSTNAME],
                           check=True, capture_output=True)
        log = os.path.join(self.dir, "hub-%s.log" % self.id().split(".")[-1])
        self.hub = hf.HubProcess(self.reg, log, ["--tls-listen", "127.0.0.1:0", "--cert", self.cert,
                                                 "--key", self.key]).start()
        self.addCleanup(self._stop_hub, self.hub)
        deadline = time.monotonic() + 10
        while not TLS_RE.search(self.hub.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.tls_port = int(TLS_RE.search(self.hub.log()).group(1))

    def tls_connect(self, **kw):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(self.cert)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER)
        conn = BlockingConnection("amqps://127.0.0.1:%d" % self.tls_port, ssl_domain=domain,
                                  timeout=hf.AMQP_TIMEOUT, **kw)
        self.addCleanup(hf.close_quietly, conn)
        return conn

    def test_device_over_tls_with_plain_login(self):
        conn = self.tls_connect(allowed_mechs="PLAIN", user="dev1@sas." + HOSTNAME.split(".")[0],
                                password=self.device_token("dev1"))
        self.send_ok(conn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("over tls"))
        _, events = self.service_receiver()
        self.assertEqual(self.receive(events, 1)[0].body, "over tls")

    def test_device_over_tls_with_cbs(self):
        conn = self.tls_connect(allowed_mechs="ANONYMOUS")
        self.authorize_device(conn, "dev1")
        self.send_ok(conn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("cbs over tls"))

    def test_a_client_that_does_not_trust_the_certificate_is_not_connected(self):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER)  # system CAs only
        with self.assertRaises(proton.ConnectionException):
            BlockingConnection("amqps://127.0.0.1:%d" % self.tls_port, ssl_domain=domain,
                               allowed_mechs="ANONYMOUS", timeout=hf.AMQP_TIMEOUT)


class BadInputTests(HubTestCase):

    def test_garbage_closes_that_connection_only(self):
        _, tx = self.device_sender("dev1")
        for junk in (b"GET / HTTP/1.1\r\n\r\n", b"AMQP\x00\x01\x00\x00" + b"\xff" * 64,
                     b"AMQP\x03\x01\x00\x00\x00\x00\x00\x10\x02\x01\x00\x00\x00\x53\x41", b"\x00" * 8):
            s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=5)
            s.sendall(junk)
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass  # the hub answers with its header or an error, then closes
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
        self.send_ok(tx, hf.telemetry_message("still fine"))
        conn = self.connect()
        self.authorize_device(conn, "dev3")
        self.send_ok(conn.create_sender(hf.telemetry_address("dev3")), hf.telemetry_message("new one too"))


if __name__ == "__main__":
    unittest.main()


class RegistryReloadTests(HubTestCase):

    def setUp(self):
        self.own_reg = os.path.join(self.dir, "reload-%s.yaml" % self.id().split(".")[-1])
        with open(self.reg) as src, open(self.own_reg, "w") as dst:
            dst.write(src.read())
        self.start_hub(self.own_reg)

    def put_for(self, device, token, expect):
        conn = self.connect()
        self.put(hf.Cbs(conn), token, hf.device_audience(device), expect)

    def wait_log(self, text, timeout=5):
        deadline = time.monotonic() + timeout
        while text not in self.hub.log():
            if time.monotonic() > deadline:
                self.fail("no %r in the hub's log:\n%s" % (text, self.hub.log()))
            time.sleep(0.05)

    def test_sighup_reads_a_new_device_and_a_broken_file_keeps_the_old_registry(self):
        hf.registry_add_device(self.own_reg, "newcomer")
        token = hf.cli_device_token(self.own_reg, "newcomer")
        self.put_for("newcomer", token, 404)  # not read yet
        self.hub.proc.send_signal(signal.SIGHUP)
        self.wait_log("registry reloaded")
        self.put_for("newcomer", token, 200)

        with open(self.own_reg, "a") as f:
            f.write("devices: [this is: not valid\n")
        self.hub.proc.send_signal(signal.SIGHUP)
        self.wait_log("registry reload failed, keeping the old one")
        self.put_for("newcomer", token, 200)

    def test_disabling_a_device_on_sighup_closes_its_links(self):
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        tx = conn.create_sender(hf.telemetry_address("dev1"))
        self.send_ok(tx, hf.telemetry_message("while enabled"))
        with open(self.own_reg) as f:
            text = f.read()
        start = text.index("id: dev1")
        end = text.index("status: enabled", start)
        with open(self.own_reg, "w") as f:
            f.write(text[:end] + "status: disabled" + text[end + len("status: enabled"):])
        self.hub.proc.send_signal(signal.SIGHUP)
        self.wait_log("registry reloaded")
        time.sleep(1.0)  # the hub's sweep runs every 250 ms
        with self.assertRaises(Exception) as caught:
            hf.send(tx, hf.telemetry_message("after disabling"))
        self.assertIn("disabled", str(caught.exception))


class OddMessageTests(HubTestCase):

    def test_a_property_of_an_unexpected_type_refuses_that_message_only(self):
        conn = self.connect()
        cbs_tx = conn.create_sender("$cbs")
        d = cbs_tx.send(Message(id="odd", reply_to="cbs", body="x",
                                properties={"operation": "put-token", "odd": [1, 2, {"deep": True}]}),
                        error_states=[])
        self.assertIn(d.remote_state, (hf.REJECTED, hf.ACCEPTED))
        self.authorize_device(self.connect(), "dev1")  # the hub is still there for everyone
        _, tx = self.device_sender("dev1")
        self.send_ok(tx, hf.telemetry_message("after the odd one"))
        d = tx.send(Message(body="x", properties={"list": [1, 2, 3]}), error_states=[])
        self.assertIn(d.remote_state, (hf.REJECTED, hf.ACCEPTED))
        self.send_ok(tx, hf.telemetry_message("and after another"))
        self.assertIn("message refused: expected scalar, found list", self.hub.log())


class TokenExpiryTests(HubTestCase):

    def test_links_close_when_the_token_runs_out_unless_it_was_renewed(self):
        short = self.connect()
        cbs_short = hf.Cbs(short)
        self.put(cbs_short, self.device_token("dev1", ttl=2), hf.device_audience("dev1"), 200)
        tx_short = short.create_sender(hf.telemetry_address("dev1"))
        renewed = self.connect()
        cbs = hf.Cbs(renewed)
        self.put(cbs, self.device_token("dev3", ttl=2), hf.device_audience("dev3"), 200)
        tx_renewed = renewed.create_sender(hf.telemetry_address("dev3"))
        self.put(cbs, self.device_token("dev3", ttl=600), hf.device_audience("dev3"), 200)  # refresh
        self.send_ok(tx_short, hf.telemetry_message("in time"))
        time.sleep(3.5)
        with self.assertRaises(Exception) as caught:
            hf.send(tx_short, hf.telemetry_message("too late"))
        self.assertIn("expired", str(caught.exception))
        self.send_ok(tx_renewed, hf.telemetry_message("renewed in time"))
        # A new token on the same connection lets it attach again.
        self.put(cbs_short, self.device_token("dev1"), hf.device_audience("dev1"), 200)
        self.send_ok(short.create_sender(hf.telemetry_address("dev1"), name="again"),
                     hf.telemetry_message("back"))
