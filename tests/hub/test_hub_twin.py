"""Device twin over AMQP against the real iotgw-hub, as Azure's device SDKs use it: a link pair on
/devices/{id}/twin, requests with `operation`/`resource` annotations and a correlation id, answers
with `status` and `version` annotations. Contract: IOTHUB-PROTOCOL.md ("device twin")."""
import json
import unittest

import proton
from proton import Message, symbol

import hub_fixture as hf
from test_hub_conformance import HubTestCase

DESIRED = "/notifications/twin/properties/desired"


def twin_address(device_id):
    return "/devices/%s/twin" % device_id


class TwinClient:
    """One device's twin link pair, answering requests by correlation id."""

    def __init__(self, conn, device_id):
        self.receiver = conn.create_receiver(twin_address(device_id), credit=10)
        self.sender = conn.create_sender(twin_address(device_id))
        self.next = 1

    def request(self, operation, resource=None, body=" "):
        rid = "rid-%d" % self.next
        self.next += 1
        annotations = {symbol("operation"): operation}
        if resource is not None:
            annotations[symbol("resource")] = resource
        self.sender.send(Message(body=body.encode(), correlation_id=rid, annotations=annotations,
                                 inferred=True))
        answer = self.receiver.receive(timeout=hf.AMQP_TIMEOUT)  # pre-settled: nothing to accept
        assert answer.correlation_id == rid, (answer.correlation_id, rid)
        status = answer.annotations.get(symbol("status"), answer.annotations.get("status"))
        version = answer.annotations.get(symbol("version"), answer.annotations.get("version"))
        body = answer.body.decode() if isinstance(answer.body, (bytes, memoryview)) else answer.body
        return status, version, body

    def get(self):
        status, _, body = self.request("GET")
        assert status == 200, (status, body)
        return json.loads(body)


class TwinTests(HubTestCase):

    def twin(self, device_id="dev1"):
        conn = self.connect()
        self.authorize_device(conn, device_id)
        return TwinClient(conn, device_id)

    def test_a_new_twin_is_empty_at_version_one(self):
        self.assertEqual(self.twin().get(),
                         {"desired": {"$version": 1}, "reported": {"$version": 1}})

    def test_a_reported_patch_merges_and_raises_the_version(self):
        t = self.twin()
        status, version, _ = t.request("PATCH", "/properties/reported",
                                       json.dumps({"temp": 21, "fw": {"v": "1.0", "old": 1}}))
        self.assertEqual((status, version), (204, 2))
        status, version, _ = t.request("PATCH", "/properties/reported",
                                       json.dumps({"fw": {"old": None}, "mode": "eco"}))
        self.assertEqual((status, version), (204, 3))
        self.assertEqual(t.get()["reported"],
                         {"temp": 21, "fw": {"v": "1.0"}, "mode": "eco", "$version": 3})

    def test_bad_patches_are_answered_with_the_hubs_error_and_change_nothing(self):
        t = self.twin()
        too_big = json.dumps({"blob": "x" * (33 * 1024)})
        for body, want in [(too_big, 413), ("not json", 400), (json.dumps({"$bad": 1}), 400),
                           (json.dumps({"a.b": 1}), 400), (json.dumps([1, 2]), 400)]:
            status, version, answer = t.request("PATCH", "/properties/reported", body)
            self.assertEqual(status, want, "%s: %s" % (body[:40], answer))
            self.assertIn("message", json.loads(answer))
        self.assertEqual(t.get()["reported"], {"$version": 1})

    def test_an_unknown_operation_is_a_400_with_the_request_id(self):
        status, _, body = self.twin().request("POST", "/properties/reported", "{}")
        self.assertEqual(status, 400)
        self.assertIn("not a twin request", body)

    def test_watching_desired_properties_is_answered(self):
        t = self.twin()
        self.assertEqual(t.request("PUT", DESIRED)[0], 200)
        self.assertEqual(t.request("DELETE", DESIRED)[0], 200)

    def test_twins_are_per_device(self):
        a, b = self.twin("dev1"), self.twin("dev3")
        a.request("PATCH", "/properties/reported", json.dumps({"who": "dev1"}))
        self.assertEqual(b.get()["reported"], {"$version": 1})

    def test_the_twin_link_needs_the_devices_token(self):
        conn = self.connect()
        self.authorize_device(conn, "dev3")
        self.assert_refused(conn, lambda: conn.create_receiver(twin_address("dev1")),
                            "twin with dev3's token")


if __name__ == "__main__":
    unittest.main()
