"""iotgw-hub's service API over HTTPS, as Azure's service SDKs call it: twins (GET, PATCH, PUT with
If-Match), direct methods (POST /twins/{id}/methods) and the registry (/devices), each authorised by
a SAS token with IoT Hub's rights; and the CLI built on it (`twin get|update`, `invoke`).
Contract: IOTHUB-PROTOCOL.md ("service REST")."""
import base64
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
import unittest

import proton
from proton import Message, symbol

import hub_fixture as hf
from test_hub_conformance import HOSTNAME, POLICIES, HubTestCase
from test_hub_twin import TwinClient, DESIRED

HTTPS_RE = re.compile(r"https listening on 127\.0\.0\.1:(\d+)")


class ServiceApiTests(HubTestCase):

    def setUp(self):
        self.cert = os.path.join(self.dir, "https-cert.pem")
        self.key = os.path.join(self.dir, "https-key.pem")
        if not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=" + HOSTNAME],
                           check=True, capture_output=True)
        # Registry writes go to the file: each test gets its own copy.
        self.registry = os.path.join(self.dir, "registry-%s.yaml" % self.id().split(".")[-1])
        shutil.copy(self.reg, self.registry)
        log = os.path.join(self.dir, "hub-%s.log" % self.id().split(".")[-1])
        self.hub = hf.HubProcess(self.registry, log, ["--https-listen", "127.0.0.1:0", "--cert",
                                                      self.cert, "--key", self.key]).start()
        self.addCleanup(self._stop_hub, self.hub)
        deadline = time.monotonic() + 10
        while not HTTPS_RE.search(self.hub.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.port = int(HTTPS_RE.search(self.hub.log()).group(1))

    def call(self, method, path, body=None, policy="service", headers=None, token=None):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False  # the certificate names the hub; we reach it as 127.0.0.1
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=60)
        h = {"Authorization": token if token is not None else self.policy_token(policy),
             "Content-Type": "application/json"}
        h.update(headers or {})
        conn.request(method, path + "?api-version=2021-04-12",
                     body=json.dumps(body) if body is not None else None, headers=h)
        res = conn.getresponse()
        text = res.read().decode()
        conn.close()
        return res.status, (json.loads(text) if text else None), res.getheader("ETag")

    def cli(self, *args, policy="service"):
        return hf.run_cli(*args, "--registry", self.registry, "--url",
                          "https://127.0.0.1:%d" % self.port, "--ca", self.cert, "--policy", policy,
                          check=False)

    def twin_client(self, device="dev1"):
        conn = self.connect()
        self.authorize_device(conn, device)
        return TwinClient(conn, device)

    # --- twins ---------------------------------------------------------------------------------

    def test_get_twin_needs_registry_read_and_returns_iot_hubs_shape(self):
        status, body, _ = self.call("GET", "/twins/dev1", policy="service")
        self.assertEqual(status, 401)
        self.assertIn("registryRead", body["Message"])
        status, twin, etag = self.call("GET", "/twins/dev1", policy="registryonly")
        self.assertEqual(status, 200)
        self.assertEqual(twin["deviceId"], "dev1")
        self.assertEqual(etag, '"%s"' % twin["etag"])
        self.assertEqual(twin["properties"]["desired"]["$version"], 1)
        self.assertIn("$metadata", twin["properties"]["reported"])

    def test_a_desired_patch_reaches_a_watching_device_with_its_version(self):
        device = self.twin_client()
        self.assertEqual(device.request("PUT", DESIRED)[0], 200)
        status, twin, _ = self.call("PATCH", "/twins/dev1",
                                    {"tags": {"site": "north"},
                                     "properties": {"desired": {"fan": {"speed": 3}}}},
                                    headers={"If-Match": "*"})
        self.assertEqual(status, 200, twin)
        self.assertEqual(twin["tags"], {"site": "north"})
        self.assertEqual(twin["properties"]["desired"]["fan"], {"speed": 3})
        self.assertIn("$lastUpdated", twin["properties"]["desired"]["$metadata"]["fan"]["speed"])
        patch = device.receiver.receive(timeout=hf.AMQP_TIMEOUT)
        self.assertIsNone(patch.correlation_id)
        self.assertTrue(patch.inferred)  # a data section, as IoT Hub sends it
        self.assertEqual(json.loads(bytes(patch.body).decode()), {"fan": {"speed": 3}, "$version": 2})
        self.assertEqual(device.get()["desired"], {"fan": {"speed": 3}, "$version": 2})

    def test_a_stale_etag_is_refused_and_put_replaces(self):
        _, twin, etag = self.call("GET", "/twins/dev1", policy="registryonly")
        status, _, _ = self.call("PATCH", "/twins/dev1", {"properties": {"desired": {"a": 1}}},
                                 headers={"If-Match": etag})
        self.assertEqual(status, 200)
        status, body, _ = self.call("PATCH", "/twins/dev1", {"properties": {"desired": {"a": 2}}},
                                    headers={"If-Match": etag})
        self.assertEqual(status, 412, body)
        status, twin, _ = self.call("PUT", "/twins/dev1",
                                    {"tags": {"t": 1}, "properties": {"desired": {"b": 2}}})
        self.assertEqual(status, 200, twin)
        desired = {k: v for k, v in twin["properties"]["desired"].items() if not k.startswith("$")}
        self.assertEqual(desired, {"b": 2})
        self.assertEqual(twin["tags"], {"t": 1})

    def test_a_quoted_star_matches_any_etag(self):
        # Azure's Node service SDK quotes every If-Match it sends, '*' too.
        for method, body in (("PATCH", {"properties": {"desired": {"a": 1}}}),
                             ("PUT", {"properties": {"desired": {"b": 2}}})):
            status, twin, _ = self.call(method, "/twins/dev1", body, headers={"If-Match": '"*"'})
            self.assertEqual(status, 200, (method, twin))
        self.assertEqual(twin["properties"]["desired"]["b"], 2)

    def test_an_unknown_device_and_a_bad_token_are_refused(self):
        self.assertEqual(self.call("GET", "/twins/nobody", policy="registryonly")[0], 404)
        self.assertEqual(self.call("GET", "/twins/dev1", token="")[0], 401)
        self.assertEqual(self.call("GET", "/twins/dev1", token=self.device_token("dev1"))[0], 401)
        self.assertEqual(self.call("GET", "/nothing/here", policy="registryonly")[0], 404)

    # --- direct methods --------------------------------------------------------------------------

    def methods_device(self, device="dev1"):
        conn = self.connect()
        self.authorize_device(conn, device)
        address = "/devices/%s/methods/devicebound" % device
        return conn.create_receiver(address, credit=10), conn.create_sender(address)

    def invoke_in_background(self, body, device="dev1"):
        result = {}
        def run():
            result["answer"] = self.call("POST", "/twins/%s/methods" % device, body)
        t = threading.Thread(target=run)
        t.start()
        return t, result

    def test_a_method_call_is_answered_with_the_devices_status_and_payload(self):
        calls, answers = self.methods_device()
        t, result = self.invoke_in_background({"methodName": "reboot", "payload": {"delay": 2},
                                               "responseTimeoutInSeconds": 10})
        call = calls.receive(timeout=hf.AMQP_TIMEOUT)
        self.assertEqual(call.properties["IoThub-methodname"], "reboot")
        self.assertEqual(json.loads(bytes(call.body).decode()), {"delay": 2})
        answers.send(Message(body=b'{"done":true}', correlation_id=call.correlation_id,
                             properties={"IoThub-status": 201}, inferred=True))
        t.join(15)
        status, body, _ = result["answer"]
        self.assertEqual((status, body), (200, {"status": 201, "payload": {"done": True}}))

    def test_a_device_offline_is_404103_and_a_silent_one_504(self):
        status, body, _ = self.call("POST", "/twins/dev1/methods", {"methodName": "ping"})
        self.assertEqual(status, 404)
        self.assertEqual(body["errorCode"], 404103)
        calls, _ = self.methods_device()
        status, body, _ = self.call("POST", "/twins/dev1/methods",
                                    {"methodName": "ping", "responseTimeoutInSeconds": 5})
        self.assertEqual(status, 504)
        self.assertEqual(body["errorCode"], 504101)

    def test_a_device_that_goes_away_mid_call_is_404103_before_the_timeout(self):
        calls, answers = self.methods_device()
        t, result = self.invoke_in_background({"methodName": "reboot",
                                               "responseTimeoutInSeconds": 60})
        calls.receive(timeout=hf.AMQP_TIMEOUT)
        calls.close()  # the device leaves without answering: the caller must not wait 60 s
        answers.close()
        t.join(15)
        self.assertFalse(t.is_alive(), "the caller still waits after the methods link closed")
        status, body, _ = result["answer"]
        self.assertEqual((status, body["errorCode"]), (404, 404103))

    def test_bytes_that_are_not_utf8_are_answered_not_fatal(self):
        # A device id in the URL and a device's answer that are not UTF-8: the hub answers (the
        # bytes replaced) and goes on serving.
        self.assertEqual(self.call("GET", "/twins/%FFdev", policy="registryonly")[0], 404)
        calls, answers = self.methods_device()
        t, result = self.invoke_in_background({"methodName": "raw", "responseTimeoutInSeconds": 10})
        call = calls.receive(timeout=hf.AMQP_TIMEOUT)
        answers.send(Message(body=b'\xff\xfe not text', correlation_id=call.correlation_id,
                             properties={"IoThub-status": 200}, inferred=True))
        t.join(15)
        status, body, _ = result["answer"]
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], 200)
        self.assertIn("not text", body["payload"])
        self.assertEqual(self.call("GET", "/twins/dev1", policy="registryonly")[0], 200)

    def test_a_bad_method_request_is_400(self):
        self.assertEqual(self.call("POST", "/twins/dev1/methods", {"payload": 1})[0], 400)
        self.assertEqual(self.call("POST", "/twins/dev1/methods",
                                   {"methodName": "x", "responseTimeoutInSeconds": 1})[0], 400)
        self.assertEqual(self.call("POST", "/twins/dev1/methods", {"methodName": "x"},
                                   policy="registryonly")[0], 401)

    # --- the registry ------------------------------------------------------------------------------

    def test_devices_are_created_read_listed_and_deleted_and_persist(self):
        status, dev, etag = self.call("PUT", "/devices/newdev", {"deviceId": "newdev"},
                                      policy="registryonly")
        self.assertEqual(status, 200, dev)
        key = dev["authentication"]["symmetricKey"]["primaryKey"]
        self.assertTrue(key)
        self.assertEqual(self.call("PUT", "/devices/newdev", {"deviceId": "newdev"},
                                   policy="registryonly")[0], 409)
        status, listed, _ = self.call("GET", "/devices", policy="registryonly")
        self.assertIn("newdev", [d["deviceId"] for d in listed])
        with open(self.registry) as f:
            self.assertIn("newdev", f.read())
        # The new device can log in with the key the hub made for it.
        conn = self.connect()
        token = hf.make_token(hf.device_audience("newdev"), key)
        self.put(hf.Cbs(conn), token, hf.device_audience("newdev"), 200)
        self.assertEqual(self.call("DELETE", "/devices/newdev", policy="registryonly",
                                   headers={"If-Match": '"stale"'})[0], 412)
        self.assertEqual(self.call("DELETE", "/devices/newdev", policy="registryonly",
                                   headers={"If-Match": etag})[0], 204)
        self.assertEqual(self.call("GET", "/devices/newdev", policy="registryonly")[0], 404)

    def test_empty_keys_are_filled_in(self):
        # What Azure's Node service SDK sends for registry.create({deviceId}): empty keys, which
        # IoT Hub fills in.
        status, dev, _ = self.call(
            "PUT", "/devices/sdkdev",
            {"deviceId": "sdkdev", "authentication": {
                "type": "sas", "symmetricKey": {"primaryKey": "", "secondaryKey": ""}}},
            policy="registryonly")
        self.assertEqual(status, 200, dev)
        keys = dev["authentication"]["symmetricKey"]
        for name in ("primaryKey", "secondaryKey"):
            self.assertGreaterEqual(len(base64.b64decode(keys[name], validate=True)), 16, keys)
        self.assertNotEqual(keys["primaryKey"], keys["secondaryKey"])

    def test_registry_writes_need_registry_write(self):
        status, body, _ = self.call("PUT", "/devices/x", {"deviceId": "x"}, policy="service")
        self.assertEqual(status, 401)
        self.assertIn("registryWrite", body["Message"])

    # --- the CLI -----------------------------------------------------------------------------------

    def test_the_cli_reads_and_updates_twins_and_invokes_methods(self):
        r = self.cli("twin", "update", "dev1", '{"properties":{"desired":{"mode":"eco"}}}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["properties"]["desired"]["mode"], "eco")
        r = self.cli("twin", "get", "dev1", policy="registryonly")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["properties"]["desired"]["mode"], "eco")
        r = self.cli("invoke", "dev1", "ping")
        self.assertEqual(r.returncode, 1)
        self.assertIn("404103", r.stderr)
        calls, answers = self.methods_device()
        def answer():
            call = calls.receive(timeout=hf.AMQP_TIMEOUT)
            answers.send(Message(body=b'"pong"', correlation_id=call.correlation_id,
                                 properties={"IoThub-status": 200}, inferred=True))
        t = threading.Thread(target=answer)
        t.start()
        r = self.cli("invoke", "dev1", "ping", '{"n":1}', "--timeout", "10")
        t.join(10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"status": 200, "payload": "pong"})


if __name__ == "__main__":
    unittest.main()
