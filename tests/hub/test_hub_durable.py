"""--data-dir: a hub killed with SIGKILL and started again on the same folder has lost no
telemetry and no queued C2D message that it accepted."""
import os
import unittest

import proton
from proton import Message

import hub_fixture as hf
from test_hub_conformance import HOSTNAME, HubTestCase
from test_hub_c2d import C2D_SERVICE, c2d_address
from test_hub_twin import TwinClient


class DataDirTests(HubTestCase):

    def setUp(self):
        self.data = os.path.join(self.dir, "data-%s" % self.id().split(".")[-1])
        self.start()

    def start(self):
        log = os.path.join(self.dir, "hub-%s-%d.log" % (self.id().split(".")[-1], id(object())))
        self.hub = hf.HubProcess(self.reg, log, ["--data-dir", self.data]).start()
        self.addCleanup(self._stop_hub, self.hub)

    def kill(self):
        self.hub.kill()  # SIGKILL: no chance to flush or say goodbye
        self.hub.stop()  # closes its log file
        self.hub.killed = True

    def _stop_hub(self, hub):
        if not getattr(hub, "killed", False):  # a killed hub has no clean exit to check
            super()._stop_hub(hub)

    def kill_and_restart(self):
        self.kill()
        self.start()

    def service_sender(self):
        conn = self.connect()
        self.put(hf.Cbs(conn), self.policy_token("service"), HOSTNAME, 200)
        return conn.create_sender(C2D_SERVICE)

    def test_accepted_telemetry_and_c2d_survive_sigkill(self):
        _, tx = self.device_sender("dev1")
        for i in range(50):
            self.send_ok(tx, hf.telemetry_message("t%d" % i, properties={"n": str(i)}))
        c2d = self.service_sender()
        for body in ("done-before", "kept-1", "kept-2"):
            d = hf.send(c2d, Message(id=body, address=c2d_address("dev1"), body=body))
            self.assertEqual(d.remote_state, hf.ACCEPTED)
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        rx = conn.create_receiver(c2d_address("dev1"), credit=1)
        self.assertEqual(rx.receive(timeout=hf.AMQP_TIMEOUT).body, "done-before")
        rx.accept()
        self.assertEqual(rx.receive(timeout=hf.AMQP_TIMEOUT).body, "kept-1")  # locked, not settled
        hf.close_quietly(conn)

        self.kill_and_restart()
        self.assertIn("50 telemetry and 2 queued C2D message(s) restored", self.hub.log())

        _, events = self.service_receiver()
        got = self.receive(events, 50)
        self.assertEqual([m.body for m in got], ["t%d" % i for i in range(50)])
        self.assertEqual([m.properties["n"] for m in got], [str(i) for i in range(50)])
        seqs = [m.annotations[proton.symbol("x-opt-sequence-number")] for m in got]
        self.assertEqual(seqs, sorted(seqs))
        # New telemetry continues the numbering rather than reusing it.
        _, tx2 = self.device_sender("dev1")
        self.send_ok(tx2, hf.telemetry_message("after"))
        after = self.receive(events, 1)[0]
        self.assertEqual(after.body, "after")
        self.assertGreater(after.annotations[proton.symbol("x-opt-sequence-number")], seqs[-1])

        conn = self.connect()
        self.authorize_device(conn, "dev1")
        rx = conn.create_receiver(c2d_address("dev1"), credit=5)
        bodies = []
        for _ in range(2):
            bodies.append(rx.receive(timeout=hf.AMQP_TIMEOUT).body)
            rx.accept()
        self.assertEqual(sorted(bodies), ["kept-1", "kept-2"])  # the completed one is gone

    def test_a_reported_twin_patch_survives_sigkill_and_a_compaction(self):
        def twin():
            conn = self.connect()
            self.authorize_device(conn, "dev1")
            return TwinClient(conn, "dev1")
        twin().request("PATCH", "/properties/reported", '{"temp": 30}')
        for _ in range(2):  # the second start compacts the log the first replayed
            self.kill_and_restart()
        self.assertEqual(twin().get()["reported"], {"temp": 30, "$version": 2})

    def test_a_torn_last_record_is_dropped_and_the_rest_restored(self):
        _, tx = self.device_sender("dev1")
        for i in range(5):
            self.send_ok(tx, hf.telemetry_message("ok%d" % i))
        self.kill()
        with open(os.path.join(self.data, "hub.log"), "ab") as f:
            f.write(b"\x40\x00\x00\x00Thalf a record")  # what a crash mid-write leaves
        self.start()
        self.assertIn("5 telemetry and 0 queued C2D message(s) restored", self.hub.log())
        _, events = self.service_receiver()
        self.assertEqual([m.body for m in self.receive(events, 5)], ["ok%d" % i for i in range(5)])
        _, tx2 = self.device_sender("dev1")
        self.send_ok(tx2, hf.telemetry_message("appended after the cut"))
        self.assertEqual(self.receive(events, 1)[0].body, "appended after the cut")


    def test_restarts_compact_the_log_and_never_reuse_a_sequence_number(self):
        _, tx = self.device_sender("dev1")
        for i in range(20):
            self.send_ok(tx, hf.telemetry_message("a%d" % i))
        c2d = self.service_sender()
        self.assertEqual(hf.send(c2d, Message(id="gone", address=c2d_address("dev1"), body="gone")).remote_state,
                         hf.ACCEPTED)
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        rx = conn.create_receiver(c2d_address("dev1"), credit=1)
        first = rx.receive(timeout=hf.AMQP_TIMEOUT)
        rx.accept()
        self.assertRaises(proton.Timeout, rx.receive, timeout=0.5)  # flushes the settlement
        first_seq = first.annotations[proton.symbol("x-opt-sequence-number")]
        hf.close_quietly(conn)
        size_before = os.path.getsize(os.path.join(self.data, "hub.log"))

        self.kill_and_restart()
        self.kill_and_restart()  # twice: the compacted file must itself replay
        self.assertIn("20 telemetry and 0 queued C2D message(s) restored", self.hub.log())
        self.assertLess(os.path.getsize(os.path.join(self.data, "hub.log")), size_before)

        c2d = self.service_sender()
        hf.send(c2d, Message(id="new", address=c2d_address("dev1"), body="new"))
        conn = self.connect()
        self.authorize_device(conn, "dev1")
        rx = conn.create_receiver(c2d_address("dev1"), credit=1)
        second = rx.receive(timeout=hf.AMQP_TIMEOUT)
        rx.accept()
        self.assertGreater(second.annotations[proton.symbol("x-opt-sequence-number")], first_seq)


if __name__ == "__main__":
    unittest.main()
