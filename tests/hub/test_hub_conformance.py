"""Conformance tests for iotgw-hub, the local AMQP 1.0 imitation of Azure IoT Hub.

Run from tests/hub:  /usr/bin/python3 -m unittest -v test_hub_conformance
The binary comes from $IOTGW_HUB (default /work/main/build/debug/tools/hub/iotgw-hub).
Contract: /work/shared/IOTHUB-PROTOCOL.md and the hub's first-cut spec (CBS, telemetry, service
telemetry receiver, 256 KB limit). Each test gets its own hub process on 127.0.0.1:0.
"""

import base64
import os
import re
import sys
import time
import unittest
import urllib.parse

import yaml
import proton

import hub_fixture as hf
from hub_fixture import HOSTNAME, device_audience

LIMIT = 262144
KEEP = os.environ.get("IOTGW_HUB_KEEP") == "1"


def b64_32(test, key, what):
    try:
        raw = base64.b64decode(key, validate=True)
    except Exception as e:  # noqa: BLE001
        test.fail("%s is not base64: %r (%s)" % (what, key, e))
    test.assertEqual(len(raw), 32, "%s should be 32 random bytes, got %d" % (what, len(raw)))


# =============================================================================================
# CLI: registry add-device, connection-string, token

class CliTests(unittest.TestCase):
    def setUp(self):
        hf.require_binary()
        self.dir = hf.make_temp_dir()
        if not KEEP:
            self.addCleanup(hf.remove_temp_dir, self.dir)
        self.reg = os.path.join(self.dir, "registry.yaml")

    def load(self):
        with open(self.reg) as f:
            return yaml.safe_load(f)

    def test_add_device_creates_missing_registry_with_defaults(self):
        self.assertFalse(os.path.exists(self.reg))
        hf.registry_add_device(self.reg, "dev1")
        self.assertTrue(os.path.isfile(self.reg), "add-device did not create the registry file")
        doc = self.load()
        self.assertEqual(doc.get("hostname"), HOSTNAME)
        devices = doc.get("devices")
        self.assertIsInstance(devices, list)
        self.assertEqual([d.get("id") for d in devices], ["dev1"])
        b64_32(self, devices[0].get("primary_key"), "dev1 primary_key")
        self.assertIn(devices[0].get("status", "enabled"), ("enabled",))
        policies = doc.get("policies")
        self.assertIsInstance(policies, list)
        self.assertEqual(len(policies), 1, "expected exactly one policy, got %r" % policies)
        self.assertEqual(policies[0].get("name"), "service")
        self.assertEqual(list(policies[0].get("rights")), ["service"])
        key = policies[0].get("key")
        self.assertTrue(key and base64.b64decode(key, validate=True), "policy key not base64")

    def test_add_device_to_existing_registry_keeps_other_devices(self):
        hf.registry_add_device(self.reg, "dev1")
        before = self.load()
        hf.registry_add_device(self.reg, "dev2")
        after = self.load()
        by_id = {d["id"]: d for d in after["devices"]}
        self.assertEqual(sorted(by_id), ["dev1", "dev2"])
        self.assertEqual(by_id["dev1"]["primary_key"], before["devices"][0]["primary_key"])
        self.assertNotEqual(by_id["dev1"]["primary_key"], by_id["dev2"]["primary_key"])
        self.assertEqual(after["hostname"], HOSTNAME)
        self.assertEqual([p["name"] for p in after["policies"]], ["service"])

    def test_connection_string(self):
        hf.registry_add_device(self.reg, "dev1")
        cs = hf.registry_connection_string(self.reg, "dev1")
        m = re.fullmatch(r"HostName=localhub\.azure-devices\.net;DeviceId=dev1;SharedAccessKey=(\S+)", cs)
        self.assertIsNotNone(m, "unexpected connection string %r" % cs)
        self.assertEqual(m.group(1), self.load()["devices"][0]["primary_key"])

    def test_device_token_default_ttl_format_and_signature(self):
        hf.registry_add_device(self.reg, "dev1")
        key = self.load()["devices"][0]["primary_key"]
        now = time.time()
        token = hf.cli_device_token(self.reg, "dev1")
        f = hf.parse_token(token)
        self.assertEqual(sorted(f), ["se", "sig", "sr"], "fields of %r" % token)
        self.assertEqual(urllib.parse.unquote(f["sr"]), device_audience("dev1"))
        self.assertEqual(f["sr"].lower(), hf.url_encode(device_audience("dev1")).lower(),
                         "sr is not URL-encoded: %r" % f["sr"])
        self.assertAlmostEqual(int(f["se"]), now + 3600, delta=10)
        self.assertTrue(hf.token_signature_valid(token, key),
                        "signature of %r does not verify with dev1's primary key" % token)

    def test_device_token_ttl(self):
        hf.registry_add_device(self.reg, "dev1")
        now = time.time()
        token = hf.cli_device_token(self.reg, "dev1", ttl=120)
        self.assertAlmostEqual(int(hf.parse_token(token)["se"]), now + 120, delta=10)
        self.assertTrue(hf.token_signature_valid(token, self.load()["devices"][0]["primary_key"]))

    def test_policy_token_format_and_signature(self):
        hf.registry_add_device(self.reg, "dev1")
        key = self.load()["policies"][0]["key"]
        now = time.time()
        token = hf.cli_policy_token(self.reg, "service")
        f = hf.parse_token(token)
        self.assertEqual(sorted(f), ["se", "sig", "skn", "sr"], "fields of %r" % token)
        self.assertEqual(urllib.parse.unquote(f["sr"]), HOSTNAME)
        self.assertEqual(f["skn"], "service")
        self.assertAlmostEqual(int(f["se"]), now + 3600, delta=10)
        self.assertTrue(hf.token_signature_valid(token, key),
                        "signature of %r does not verify with the service policy key" % token)


# =============================================================================================
# Hub-backed tests

DEVICES = {
    "dev1": dict(primary_key=hf.new_key(), secondary_key=hf.new_key(), status="enabled"),
    "dev3": dict(primary_key=hf.new_key(), status="enabled"),
    "dev10": dict(primary_key=hf.new_key(), status="enabled"),
    "devoff": dict(primary_key=hf.new_key(), status="disabled"),
}
POLICIES = {
    "service": dict(key=hf.new_key(), rights=["service"]),
    "registryonly": dict(key=hf.new_key(), rights=["registry"]),
    "deviceconnect": dict(key=hf.new_key(), rights=["device"]),
}


class HubTestCase(unittest.TestCase):
    """Writes the registry above and starts one hub per test; stops it with SIGTERM (exit 0)."""

    @classmethod
    def setUpClass(cls):
        hf.require_binary()
        cls.dir = hf.make_temp_dir()
        cls.reg = os.path.join(cls.dir, "registry.yaml")
        hf.write_registry(cls.reg,
                          [dict(id=k, **v) for k, v in DEVICES.items()],
                          [dict(name=k, **v) for k, v in POLICIES.items()])

    @classmethod
    def tearDownClass(cls):
        if not KEEP:
            hf.remove_temp_dir(cls.dir)

    def setUp(self):
        self.start_hub(self.reg)

    def start_hub(self, registry):
        log = os.path.join(os.path.dirname(registry), "hub-%s.log" % self.id().split(".")[-1])
        self.hub = hf.HubProcess(registry, log).start()
        self.addCleanup(self._stop_hub, self.hub)
        return self.hub

    def _stop_hub(self, hub):
        code = hub.stop()
        if code != 0:
            sys.stderr.write("\n--- hub log (%s) ---\n%s\n" % (hub.log_file, hub.log()[-4000:]))
        self.assertEqual(code, 0, "iotgw-hub did not exit 0 on SIGTERM (None = had to be killed)")

    # --- helpers -----------------------------------------------------------------------------

    def connect(self):
        conn = hf.connect(self.hub.url)
        self.addCleanup(hf.close_quietly, conn)
        return conn

    def device_token(self, device_id, **kw):
        return hf.make_token(device_audience(device_id), DEVICES[device_id]["primary_key"], **kw)

    def policy_token(self, policy, resource=HOSTNAME, **kw):
        return hf.make_token(resource, POLICIES[policy]["key"], policy=policy, **kw)

    def put(self, cbs, token, audience, expect, token_type=hf.SAS_TYPE):
        code, desc, reply, request_id = cbs.put_token(token, audience, token_type)
        self.assertEqual(reply.correlation_id, request_id, "CBS reply correlation-id")
        self.assertEqual(code, expect, "put-token for %s answered %r %r" % (audience, code, desc))
        return code, desc

    def authorize_device(self, conn, device_id, cbs=None):
        cbs = cbs or hf.Cbs(conn)
        self.put(cbs, self.device_token(device_id), device_audience(device_id), 200)
        return cbs

    def device_sender(self, device_id):
        conn = self.connect()
        self.authorize_device(conn, device_id)
        return conn, conn.create_sender(hf.telemetry_address(device_id))

    def service_receiver(self, group="$Default", credit=50):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, self.policy_token("service"), HOSTNAME, 200)
        return conn, conn.create_receiver(hf.service_address(group), credit=credit)

    def assert_refused(self, conn, create, what):
        refused, name, desc, _ = hf.attach_refusal(conn, create)
        self.assertTrue(refused, "%s: attach was not refused" % what)
        self.assertEqual(name, "amqp:unauthorized-access",
                         "%s: refused with condition %r (%r)" % (what, name, desc))

    def send_ok(self, sender, msg):
        d = hf.send(sender, msg)
        self.assertEqual(d.remote_state, hf.ACCEPTED,
                         "outcome %s, condition %r" % (hf.outcome_name(d), d.remote.condition))
        return d

    def receive(self, receiver, n):
        out = []
        for i in range(n):
            try:
                out.append(receiver.receive(timeout=hf.AMQP_TIMEOUT))
            except proton.Timeout:
                self.fail("received %d of %d messages before timing out" % (i, n))
            receiver.accept()
        return out

    def assert_no_more(self, receiver, wait=1.0):
        try:
            m = receiver.receive(timeout=wait)
        except proton.Timeout:
            return
        self.fail("unexpected extra message: body=%r properties=%r" % (m.body, m.properties))


# ---------------------------------------------------------------------------------------------

class CbsTests(HubTestCase):

    def test_cli_device_token_put_token_200_with_reply_shape(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        token = hf.cli_device_token(self.reg, "dev1")
        code, desc, reply, request_id = cbs.put_token(token, device_audience("dev1"))
        self.assertEqual(reply.correlation_id, request_id)
        self.assertEqual(code, 200, "status-description %r" % desc)
        self.assertIsInstance(code, int)
        self.assertNotIsInstance(code, bool)
        self.assertIsInstance(desc, str)

    def test_python_device_token_200(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1"), device_audience("dev1"), 200)

    def test_csharp_token_type_accepted(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1"), device_audience("dev1"), 200,
                 token_type=hf.SAS_TYPE_CSHARP)

    def test_token_signed_over_raw_uri_accepted(self):
        # IOTHUB-PROTOCOL.md: some SDKs sign the raw URI, some the encoded one: verify both ways.
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1", sign_raw=True), device_audience("dev1"), 200)

    def test_node_sdk_put_token_names_the_url_encoded_sr(self):
        # Azure's Node SDKs (azure-iot-amqp-base) put-token with name = the token's sr field as it
        # stands in the token, still URL-encoded ("host%2Fdevices%2Fdev1"), a string message-id,
        # reply-to "cbs" and string properties. IoT Hub takes it; the hub once answered 404 "not
        # this hub", reading everything before the first '/' as the host.
        conn = self.connect()
        cbs = hf.Cbs(conn)
        token = self.device_token("dev1")
        sr = hf.parse_token(token)["sr"]
        self.assertEqual(sr, hf.url_encode(device_audience("dev1")))
        self.put(cbs, token, sr, 200)
        # The grant is dev1's: its telemetry link attaches and the message is accepted.
        sender = conn.create_sender(hf.telemetry_address("dev1"))
        self.send_ok(sender, hf.telemetry_message(b"from the node sdk"))
        # Decoded once, the encoded name is checked as the plain one.
        self.put(cbs, token, hf.url_encode(device_audience("dev3")), 401)
        self.put(cbs, token, hf.url_encode(device_audience("dev1", "otherhub.azure-devices.net")),
                 404)
        service = self.policy_token("service")
        self.put(cbs, service, hf.parse_token(service)["sr"], 200)

    def test_token_fields_in_any_order_accepted(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1", order=("se", "sig", "sr")), device_audience("dev1"), 200)
        self.put(cbs, self.policy_token("service", order=("skn", "se", "sr", "sig")), HOSTNAME, 200)

    def test_bad_signature_401(self):
        cbs = hf.Cbs(self.connect())
        aud = device_audience("dev1")
        wrong_key = hf.make_token(aud, hf.new_key())
        self.put(cbs, wrong_key, aud, 401)
        # signature made for one expiry, presented with another
        good = hf.parse_token(self.device_token("dev1"))
        tampered = "SharedAccessSignature sr=%s&sig=%s&se=%d" % (good["sr"], good["sig"], int(good["se"]) + 60)
        self.put(cbs, tampered, aud, 401)
        # another device's key does not sign for dev1
        self.put(cbs, hf.make_token(aud, DEVICES["dev3"]["primary_key"]), aud, 401)

    def test_expired_token_401(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1", expiry=time.time() - 60), device_audience("dev1"), 401)
        self.put(cbs, self.policy_token("service", expiry=time.time() - 60), HOSTNAME, 401)

    def test_token_for_other_device_401(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1"), device_audience("dev3"), 401)

    def test_audience_matched_by_whole_segments_not_prefix(self):
        cbs = hf.Cbs(self.connect())
        # sr host/devices/dev1 is a string prefix of host/devices/dev10 but not a segment prefix
        self.put(cbs, self.device_token("dev1"), device_audience("dev10"), 401)
        # a device-rights policy token for host/devices/dev covers neither dev1 nor dev10
        partial = self.policy_token("deviceconnect", resource=HOSTNAME + "/devices/dev")
        self.put(cbs, partial, device_audience("dev1"), 401)
        self.put(cbs, partial, device_audience("dev10"), 401)

    def test_policy_with_device_right_covers_devices_by_segments(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.policy_token("deviceconnect", resource=HOSTNAME + "/devices"),
                 device_audience("dev1"), 200)
        self.put(cbs, self.policy_token("deviceconnect", resource=HOSTNAME),
                 device_audience("dev3"), 200)

    def test_policy_lacking_right_401(self):
        cbs = hf.Cbs(self.connect())
        # [service] only: no device right
        self.put(cbs, self.policy_token("service"), device_audience("dev1"), 401)
        # [registry] only and [device] only: no service right
        self.put(cbs, self.policy_token("registryonly"), HOSTNAME, 401)
        self.put(cbs, self.policy_token("deviceconnect"), HOSTNAME, 401)

    def test_service_policy_token_200(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.policy_token("service"), HOSTNAME, 200)
        self.put(cbs, hf.cli_policy_token(self.reg, "service"), HOSTNAME, 200)

    def test_device_token_for_service_audience_401(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("dev1"), HOSTNAME, 401)

    def test_unknown_device_404(self):
        cbs = hf.Cbs(self.connect())
        aud = device_audience("nosuchdevice")
        self.put(cbs, hf.make_token(aud, hf.new_key()), aud, 404)

    def test_disabled_device_401(self):
        cbs = hf.Cbs(self.connect())
        self.put(cbs, self.device_token("devoff"), device_audience("devoff"), 401)

    def test_connection_survives_failed_put_token(self):
        cbs = hf.Cbs(self.connect())
        aud = device_audience("dev1")
        self.put(cbs, hf.make_token(aud, hf.new_key()), aud, 401)
        self.put(cbs, self.device_token("dev1"), aud, 200)


# ---------------------------------------------------------------------------------------------

class TelemetryTests(HubTestCase):

    def test_attach_without_put_token_refused(self):
        conn = self.connect()
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev1")),
                            "telemetry sender without put-token")

    def test_attach_with_token_for_other_device_refused(self):
        conn = self.connect()
        self.authorize_device(conn, "dev3")
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev1")),
                            "dev1 telemetry sender after put-token for dev3 only")

    def test_attach_after_failed_put_token_refused(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        aud = device_audience("dev1")
        self.put(cbs, hf.make_token(aud, hf.new_key()), aud, 401)
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev1")),
                            "telemetry sender after a 401 put-token")

    def test_attach_after_disabled_device_put_token_refused(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, self.device_token("devoff"), device_audience("devoff"), 401)
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("devoff")),
                            "disabled device telemetry sender")

    def test_put_token_on_another_connection_does_not_authorize(self):
        other = self.connect()
        self.authorize_device(other, "dev1")
        conn = self.connect()
        self.assert_refused(conn, lambda: conn.create_sender(hf.telemetry_address("dev1")),
                            "telemetry sender on a connection without put-token")

    def test_attach_after_put_token_accepts_messages(self):
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        refused, name, desc, sender = hf.attach_refusal(
            conn, lambda: conn.create_sender(hf.telemetry_address("dev1")))
        self.assertFalse(refused, "authorized attach refused: %r %r" % (name, desc))
        for i in range(3):
            self.send_ok(sender, hf.telemetry_message(b"reading %d" % i, {"i": i}, "m%d" % i))
        self.send_ok(sender, hf.telemetry_message("a string body", {"kind": "text"}))

    def test_many_devices_on_one_connection(self):
        # IOTHUB-PROTOCOL.md: many devices may put tokens on one connection.
        conn = self.connect()
        cbs = self.authorize_device(conn, "dev1")
        self.authorize_device(conn, "dev3", cbs)
        s1 = conn.create_sender(hf.telemetry_address("dev1"))
        s3 = conn.create_sender(hf.telemetry_address("dev3"))
        self.send_ok(s1, hf.telemetry_message(b"from dev1"))
        self.send_ok(s3, hf.telemetry_message(b"from dev3"))

    def test_device_policy_token_authorizes_telemetry(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, self.policy_token("deviceconnect", resource=HOSTNAME + "/devices"),
                 device_audience("dev1"), 200)
        sender = conn.create_sender(hf.telemetry_address("dev1"))
        self.send_ok(sender, hf.telemetry_message(b"via policy"))

    def assert_rejected_for_size(self, d):
        self.assertEqual(d.remote_state, hf.REJECTED,
                         "oversized message outcome %s (expected REJECTED)" % hf.outcome_name(d))
        cond = d.remote.condition
        self.assertIsNotNone(cond, "REJECTED without an error condition")
        desc = cond.description or ""
        self.assertRegex(desc, r"(?i)262\s*,?144|256\s*(k|kb|kib)\b",
                         "rejection description does not mention the size limit: %r (%s)" % (desc, cond.name))

    def test_oversized_message_rejected_then_small_accepted(self):
        conn, sender = self.device_sender("dev1")
        d = hf.send(sender, hf.telemetry_message(b"x" * (LIMIT + 1)))
        self.assert_rejected_for_size(d)
        self.send_ok(sender, hf.telemetry_message(b"small after big", {"n": 1}))

    def test_property_values_count_towards_limit(self):
        conn, sender = self.device_sender("dev1")
        body = b"b" * 200000
        d = hf.send(sender, hf.telemetry_message(body, {"pad": "p" * 70000}))
        self.assert_rejected_for_size(d)
        self.send_ok(sender, hf.telemetry_message(body, {"pad": "p" * 100}))

    def test_message_of_exactly_the_limit_accepted(self):
        # "exceeds 256 KB (262144 bytes)": a body of exactly 262144 bytes with no properties does not.
        conn, sender = self.device_sender("dev1")
        self.send_ok(sender, hf.telemetry_message(b"y" * LIMIT))


# ---------------------------------------------------------------------------------------------

class ServiceReceiverTests(HubTestCase):

    def test_receiver_without_token_refused(self):
        conn = self.connect()
        self.assert_refused(conn, lambda: conn.create_receiver(hf.service_address(), credit=10),
                            "service receiver without put-token")

    def test_receiver_with_only_device_token_refused(self):
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        self.assert_refused(conn, lambda: conn.create_receiver(hf.service_address(), credit=10),
                            "service receiver after a device put-token only")

    def test_receiver_after_failed_service_token_refused(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, self.policy_token("registryonly"), HOSTNAME, 401)
        self.assert_refused(conn, lambda: conn.create_receiver(hf.service_address(), credit=10),
                            "service receiver after a 401 service put-token")

    def test_retained_and_live_messages_in_order_with_annotations(self):
        _, sender = self.device_sender("dev1")
        sent = []
        t0 = time.time()
        for i in range(3):
            props = {"i": i, "unit": "C", "phase": "before"}
            body = b"before-%d" % i
            self.send_ok(sender, hf.telemetry_message(body, props, "b%d" % i))
            sent.append((body, props))
        _, receiver = self.service_receiver()
        for i in range(2):
            props = {"i": 3 + i, "unit": "C", "phase": "after"}
            body = b"after-%d" % i
            self.send_ok(sender, hf.telemetry_message(body, props, "a%d" % i))
            sent.append((body, props))
        t1 = time.time()
        got = self.receive(receiver, 5)
        self.assert_no_more(receiver)
        last_seq = None
        for (body, props), m in zip(sent, got):
            self.assertEqual(m.body, body, "body changed")
            self.assertEqual(dict(m.properties or {}), props, "application properties changed")
            ann = m.annotations or {}
            self.assertEqual(ann.get("iothub-connection-device-id"), "dev1", "annotations %r" % ann)
            enq = ann.get("iothub-enqueuedtime")
            self.assertIsInstance(enq, proton.timestamp, "iothub-enqueuedtime %r (%s)" % (enq, type(enq)))
            self.assertGreaterEqual(enq, int(t0 * 1000) - 60000)
            self.assertLessEqual(enq, int(t1 * 1000) + 60000)
            seq = ann.get("x-opt-sequence-number")
            self.assertIsInstance(seq, int, "x-opt-sequence-number %r" % (seq,))
            self.assertNotIsInstance(seq, bool)
            if last_seq is not None:
                self.assertGreater(seq, last_seq, "sequence numbers not increasing")
            last_seq = seq

    def test_body_kinds_and_properties_unchanged_and_device_id_per_sender(self):
        conn = self.connect()
        cbs = self.authorize_device(conn, "dev1")
        self.authorize_device(conn, "dev3", cbs)
        s1 = conn.create_sender(hf.telemetry_address("dev1"))
        s3 = conn.create_sender(hf.telemetry_address("dev3"))
        props = {"temp": 21, "unit": "C", "alert": True, "ratio": 0.5,
                 "iothub-creation-time-utc": "2024-01-01T00:00:00Z"}
        msgs = [
            (s1, "dev1", hf.telemetry_message(bytes(range(256)) * 4, props, "bin")),
            (s3, "dev3", hf.telemetry_message("text body \u00e9", {"k": "v"}, "str")),
            (s1, "dev1", hf.telemetry_message(b"", None, "empty")),
        ]
        for s, _, m in msgs:
            self.send_ok(s, m)
        _, receiver = self.service_receiver()
        got = self.receive(receiver, len(msgs))
        for (_, dev, sent), m in zip(msgs, got):
            self.assertEqual(m.annotations.get("iothub-connection-device-id"), dev)
            self.assertEqual(m.body, sent.body)
            self.assertEqual(type(m.body), type(sent.body))
            self.assertEqual(dict(m.properties or {}), dict(sent.properties or {}))
            self.assertEqual(m.id, sent.id, "message-id changed")

    def test_two_consumer_groups_each_see_every_message(self):
        _, sender = self.device_sender("dev1")
        bodies = [b"m%d" % i for i in range(4)]
        _, r_default = self.service_receiver("$Default")
        _, r_other = self.service_receiver("analytics")
        for b in bodies:
            self.send_ok(sender, hf.telemetry_message(b))
        for r in (r_default, r_other):
            self.assertEqual([m.body for m in self.receive(r, len(bodies))], bodies)
        self.assert_no_more(r_default, wait=0.5)
        self.assert_no_more(r_other, wait=0.5)
        # a third group, attached after the fact, still sees all of them from retention
        _, r_late = self.service_receiver("late-group")
        self.assertEqual([m.body for m in self.receive(r_late, len(bodies))], bodies)

    def test_rejected_message_is_not_delivered(self):
        _, sender = self.device_sender("dev1")
        self.send_ok(sender, hf.telemetry_message(b"A"))
        d = hf.send(sender, hf.telemetry_message(b"z" * (LIMIT + 1)))
        self.assertEqual(d.remote_state, hf.REJECTED)
        self.send_ok(sender, hf.telemetry_message(b"B"))
        _, receiver = self.service_receiver()
        self.assertEqual([m.body for m in self.receive(receiver, 2)], [b"A", b"B"])
        self.assert_no_more(receiver)


# ---------------------------------------------------------------------------------------------

class CliRegistryEndToEndTests(HubTestCase):
    """A hub started on a registry made only by `registry add-device`, with CLI-minted tokens."""

    def setUp(self):
        self.own = hf.make_temp_dir()
        if not KEEP:
            self.addCleanup(hf.remove_temp_dir, self.own)
        self.cli_reg = os.path.join(self.own, "registry.yaml")
        hf.registry_add_device(self.cli_reg, "dev1")
        self.start_hub(self.cli_reg)

    def test_cli_tokens_end_to_end(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, hf.cli_device_token(self.cli_reg, "dev1", ttl=300), device_audience("dev1"), 200)
        sender = conn.create_sender(hf.telemetry_address("dev1"))
        self.send_ok(sender, hf.telemetry_message(b"hello", {"a": "b"}))
        sconn = self.connect()
        scbs = hf.Cbs(sconn)
        self.put(scbs, hf.cli_policy_token(self.cli_reg, "service"), HOSTNAME, 200)
        receiver = sconn.create_receiver(hf.service_address(), credit=10)
        m = self.receive(receiver, 1)[0]
        self.assertEqual(m.body, b"hello")
        self.assertEqual(m.annotations.get("iothub-connection-device-id"), "dev1")


if __name__ == "__main__":
    unittest.main()
