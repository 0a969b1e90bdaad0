"""Cloud-to-device conformance for iotgw-hub, with python3-qpid-proton as the only client.

The service sends on /messages/devicebound, the device receives on its devicebound link and
settles: accepted completes, released abandons (delivery count + 1, redelivered), rejected and
too many deliveries dead-letter; an unsettled lock runs out; feedback reports the end of each
message that asked for it (iothub-ack).
"""
import json
import os
import sys
import time
import unittest

import proton
from proton import Message

import hub_fixture as hf
from test_hub_conformance import DEVICES, HOSTNAME, POLICIES, HubTestCase

C2D_SERVICE = "/messages/devicebound"
FEEDBACK = "/messages/serviceBound/feedback"


def c2d_address(device_id):
    return "/devices/%s/messages/devicebound" % device_id


class C2dTestCase(HubTestCase):
    hub_args = ()

    def setUp(self):  # one hub per test, with the class's C2D settings
        log = os.path.join(self.dir, "hub-%s.log" % self.id().split(".")[-1])
        self.hub = hf.HubProcess(self.reg, log, self.hub_args).start()
        self.addCleanup(self._stop_hub, self.hub)

    def service(self):
        conn = self.connect()
        cbs = hf.Cbs(conn)
        self.put(cbs, self.policy_token("service"), HOSTNAME, 200)
        return conn, conn.create_sender(C2D_SERVICE)

    def feedback_receiver(self, conn):
        return conn.create_receiver(FEEDBACK, credit=10)

    def device_receiver(self, device_id="dev1", credit=1):
        conn = self.connect()
        self.authorize_device(conn, device_id)
        return conn, conn.create_receiver(c2d_address(device_id), credit=credit)

    def send_c2d(self, sender, body, device_id="dev1", ack=None, msg_id=None, ttl=None):
        props = {"colour": "blue"}
        if ack:
            props["iothub-ack"] = ack
        msg = Message(id=msg_id or ("m-%s" % body), address=c2d_address(device_id), body=body,
                      properties=props)
        if ttl is not None:
            msg.ttl = ttl
        return hf.send(sender, msg)

    def next_message(self, receiver, timeout=hf.AMQP_TIMEOUT):
        try:
            return receiver.receive(timeout=timeout)
        except proton.Timeout:
            self.fail("no C2D message within %ss" % timeout)

    def assert_quiet(self, receiver, wait=1.0):
        """Nothing more arrives. A blocking client does its connection's I/O only while it waits
        on it, so this is also what flushes a settlement to the hub."""
        try:
            m = receiver.receive(timeout=wait)
        except proton.Timeout:
            return
        self.fail("unexpected message: %r" % m.body)

    def feedback_records(self, receiver, count):
        records = []
        deadline = time.monotonic() + hf.AMQP_TIMEOUT
        while len(records) < count and time.monotonic() < deadline:
            try:
                m = receiver.receive(timeout=max(0.1, deadline - time.monotonic()))
            except proton.Timeout:
                break
            receiver.accept()
            self.assertEqual(m.content_type, "application/vnd.microsoft.iothub.feedback.json")
            # In a data section, as IoT Hub sends it: Azure's Node service SDK reads only a data
            # section's content and handed its feedback receiver no records from an amqp-value.
            self.assertTrue(m.inferred, "feedback body is not a data section: %r" % (m.body,))
            body = m.body.decode() if isinstance(m.body, (bytes, memoryview)) else m.body
            records.extend(json.loads(body))
        self.assertEqual(len(records), count, "feedback records: %r" % records)
        return records


class C2dSettlementTests(C2dTestCase):

    def test_complete_removes_and_reports_success(self):
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        self.assertEqual(self.send_c2d(tx, "hello", ack="full").remote_state, hf.ACCEPTED)
        _, rx = self.device_receiver()
        m = self.next_message(rx)
        self.assertEqual(m.body, "hello")
        self.assertEqual(m.id, "m-hello")
        self.assertEqual(m.properties.get("colour"), "blue")
        ann = m.annotations
        self.assertEqual(ann[proton.symbol("iothub-deliverycount")], 0)
        self.assertTrue(ann[proton.symbol("x-opt-lock-token")])
        self.assertIn(proton.symbol("x-opt-sequence-number"), ann)
        self.assertIn(proton.symbol("iothub-enqueuedtime"), ann)
        rx.accept()
        self.assert_quiet(rx)  # also lets the device's connection send its disposition
        rec = self.feedback_records(fb, 1)[0]
        self.assertEqual((rec["originalMessageId"], rec["statusCode"], rec["deviceId"]),
                         ("m-hello", "Success", "dev1"))
        self.assertIn("enqueuedTimeUtc", rec)

    def test_abandon_redelivers_with_the_count_raised(self):
        _, tx = self.service()
        self.send_c2d(tx, "again")
        _, rx = self.device_receiver()
        first = self.next_message(rx)
        rx.release(delivered=False)  # AMQP released = IoT Hub abandon
        second = self.next_message(rx)
        self.assertEqual(second.body, "again")
        self.assertEqual(first.annotations[proton.symbol("iothub-deliverycount")], 0)
        self.assertEqual(second.annotations[proton.symbol("iothub-deliverycount")], 1)
        self.assertNotEqual(first.annotations[proton.symbol("x-opt-lock-token")],
                            second.annotations[proton.symbol("x-opt-lock-token")])
        rx.accept()

    def test_reject_dead_letters_and_reports_it(self):
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        self.send_c2d(tx, "bad", ack="negative")
        self.send_c2d(tx, "next")
        _, rx = self.device_receiver()
        self.assertEqual(self.next_message(rx).body, "bad")
        rx.reject()
        self.assertEqual(self.next_message(rx).body, "next")  # the rejected one never returns
        rx.accept()
        rec = self.feedback_records(fb, 1)[0]
        self.assertEqual((rec["originalMessageId"], rec["statusCode"]), ("m-bad", "Rejected"))

    def test_positive_ack_reports_no_rejection(self):
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        self.send_c2d(tx, "nope", ack="positive")
        self.send_c2d(tx, "yes", ack="positive")
        _, rx = self.device_receiver()
        self.next_message(rx)
        rx.reject()
        self.next_message(rx)
        rx.accept()
        self.assert_quiet(rx)
        recs = self.feedback_records(fb, 1)
        self.assertEqual(recs[0]["originalMessageId"], "m-yes")


class C2dLimitTests(C2dTestCase):
    hub_args = ("--c2d-max-delivery-count", "2", "--c2d-lock", "500ms")

    def test_max_delivery_count_dead_letters(self):
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        self.send_c2d(tx, "flaky", ack="full")
        _, rx = self.device_receiver()
        self.next_message(rx)
        rx.release(delivered=False)
        self.next_message(rx)
        rx.release(delivered=False)
        rec = self.feedback_records(fb, 1)[0]
        self.assertEqual(rec["statusCode"], "DeliveryCountExceeded")
        try:
            m = rx.receive(timeout=1)
            self.fail("dead-lettered message delivered again: %r" % m.body)
        except proton.Timeout:
            pass

    def test_an_unsettled_lock_runs_out_and_the_message_comes_again(self):
        _, tx = self.service()
        self.send_c2d(tx, "slow")
        _, rx = self.device_receiver(credit=2)
        first = self.next_message(rx)  # not settled: the lock (500 ms) runs out
        second = self.next_message(rx, timeout=5)
        self.assertEqual(second.body, "slow")
        self.assertEqual(second.annotations[proton.symbol("iothub-deliverycount")], 1)
        self.assertEqual(first.annotations[proton.symbol("iothub-deliverycount")], 0)

    def test_fifty_pending_then_the_queue_is_full(self):
        _, tx = self.service()
        for i in range(50):
            self.assertEqual(self.send_c2d(tx, "n%d" % i).remote_state, hf.ACCEPTED, i)
        d = self.send_c2d(tx, "one-too-many")
        self.assertEqual(d.remote_state, hf.REJECTED)
        self.assertEqual(d.remote.condition.name, "amqp:resource-limit-exceeded")
        self.assertIn("50", d.remote.condition.description)


class C2dTtlTests(C2dTestCase):
    hub_args = ("--c2d-ttl", "300ms")

    def test_expired_message_is_never_delivered_and_reported(self):
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        self.send_c2d(tx, "stale", ack="full")
        time.sleep(1.0)
        rec = self.feedback_records(fb, 1)[0]
        self.assertEqual(rec["statusCode"], "Expired")
        _, rx = self.device_receiver()
        try:
            m = rx.receive(timeout=1)
            self.fail("expired message delivered: %r" % m.body)
        except proton.Timeout:
            pass


class C2dAccessTests(C2dTestCase):

    def test_unknown_device_is_rejected(self):
        _, tx = self.service()
        d = self.send_c2d(tx, "x", device_id="ghost")
        self.assertEqual(d.remote_state, hf.REJECTED)
        self.assertEqual(d.remote.condition.name, "amqp:not-found")

    def test_device_link_needs_the_devices_token(self):
        conn = self.connect()
        self.assert_refused(conn, lambda: conn.create_receiver(c2d_address("dev1")), "c2d without token")
        conn2 = self.connect()
        self.authorize_device(conn2, "dev3")
        self.assert_refused(conn2, lambda: conn2.create_receiver(c2d_address("dev1")), "c2d with dev3's token")

    def test_service_sender_needs_a_service_token(self):
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        self.assert_refused(conn, lambda: conn.create_sender(C2D_SERVICE), "service sender with a device token")

    def test_a_second_connection_takes_the_device_over(self):
        _, tx = self.service()
        _, old = self.device_receiver()
        _, new = self.device_receiver()
        self.send_c2d(tx, "for-the-new-one")
        self.assertEqual(self.next_message(new).body, "for-the-new-one")
        new.accept()
        with self.assertRaises(Exception) as caught:
            old.receive(timeout=2)
        self.assertIn("stolen", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
