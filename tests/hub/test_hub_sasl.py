"""SASL PLAIN on iotgw-hub, in IoT Hub's two forms: {device}@sas.{hub} and
{policy}@sas.root.{hub}, with a SAS token as the password (one identity per connection)."""
import unittest

import proton
from proton import Message
from proton.utils import BlockingConnection

import hub_fixture as hf
from test_hub_conformance import HOSTNAME, HubTestCase

HUB_NAME = HOSTNAME.split(".")[0]


class SaslPlainTests(HubTestCase):

    def plain(self, user, password):
        conn = BlockingConnection(self.hub.url, allowed_mechs="PLAIN", user=user, password=password,
                                  timeout=hf.AMQP_TIMEOUT)
        self.addCleanup(hf.close_quietly, conn)
        return conn

    def assert_login_refused(self, user, password):
        with self.assertRaises(proton.ConnectionException) as caught:
            self.plain(user, password)
        self.assertIn("amqp:unauthorized-access", str(caught.exception))

    def test_device_login_sends_telemetry_without_cbs(self):
        conn = self.plain("dev1@sas." + HUB_NAME, self.device_token("dev1"))
        self.send_ok(conn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("plain"))

    def test_device_login_covers_that_device_only(self):
        conn = self.plain("dev1@sas." + HUB_NAME, self.device_token("dev1"))
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev3")), "dev3 as dev1")

    def test_policy_login_reads_telemetry(self):
        dconn = self.plain("dev1@sas." + HUB_NAME, self.device_token("dev1"))
        self.send_ok(dconn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("for-service"))
        sconn = self.plain("service@sas.root." + HUB_NAME, self.policy_token("service"))
        rx = sconn.create_receiver(hf.service_address(), credit=10)
        self.assertEqual(self.receive(rx, 1)[0].body, "for-service")

    def test_bad_logins_are_refused(self):
        self.assert_login_refused("dev1@sas." + HUB_NAME, self.device_token("dev1", expiry=1000))
        self.assert_login_refused("dev1@sas." + HUB_NAME, self.device_token("dev3"))
        self.assert_login_refused("dev1@sas.otherhub", self.device_token("dev1"))
        self.assert_login_refused("service@sas.root." + HUB_NAME, self.policy_token("registryonly"))
        self.assert_login_refused("nobody", "x")

    def test_gateway_login_with_a_device_policy_grants_devices_only_through_cbs(self):
        # How iotgw's bridge logs in with `sasl: plain`: the policy proves the gateway; each
        # device on the connection still puts its own token.
        conn = self.plain("deviceconnect@sas.root." + HUB_NAME, self.policy_token("deviceconnect"))
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev1")),
                            "dev1 before its token")
        conn = self.plain("deviceconnect@sas.root." + HUB_NAME, self.policy_token("deviceconnect"))
        self.authorize_device(conn, "dev1")
        self.send_ok(conn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("gw"))
        self.assert_login_refused("deviceconnect@sas.root." + HUB_NAME,
                                  self.policy_token("deviceconnect", expiry=1000))
        self.assert_login_refused("deviceconnect@sas.root." + HUB_NAME, self.policy_token("service"))

    def test_anonymous_still_works_beside_plain(self):
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        self.send_ok(conn.create_sender(hf.telemetry_address("dev1")), hf.telemetry_message("anon"))


if __name__ == "__main__":
    unittest.main()
