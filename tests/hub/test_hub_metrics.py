"""iotgw-hub's /metrics (--metrics-listen), read with Prometheus's own text-format parser
(python3-prometheus-client) after known traffic driven with python3-qpid-proton: the counters hold
exactly what the traffic did, and SIGUSR1's status line reads the same counters.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

import hub_fixture as hf
from test_hub_c2d import C2dTestCase
from test_hub_conformance import DEVICES, HOSTNAME
from hub_fixture import device_audience

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from prometheus_text import samples  # noqa: E402

METRICS_RE = re.compile(r"serving /metrics on 127\.0\.0\.1:(\d+)")
LIMIT = 256 * 1024


class HubMetricsTest(C2dTestCase):
    hub_args = ("--metrics-listen", "127.0.0.1:0")

    def setUp(self):
        super().setUp()
        m = METRICS_RE.search(self.hub.log())
        self.assertIsNotNone(m, "no 'serving /metrics on 127.0.0.1:PORT' in:\n" + self.hub.log())
        self.metrics_url = "http://127.0.0.1:%s/metrics" % m.group(1)

    def scrape(self):
        with urllib.request.urlopen(self.metrics_url, timeout=hf.AMQP_TIMEOUT) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                            r.headers["Content-Type"])
            return samples(r.read().decode("utf-8"))

    def assert_values(self, got, expected):
        """EXPECTED: [(name, {labels}, value)]; reports every mismatch at once."""
        wrong = {}
        for name, labels, want in expected:
            key = (name, frozenset(labels.items()))
            if got.get(key) != want:
                wrong["%s%s" % (name, labels)] = (got.get(key), want)
        self.assertEqual(wrong, {}, "metric: (got, expected)")

    # --- traffic -------------------------------------------------------------------------------

    def telemetry_traffic(self):
        """3 accepted (11 bytes), 1 too large; a bad token refused and its link with it; a
        put-token of a type the hub does not take; a consumer group reads the 3."""
        _, sender = self.device_sender("dev1")
        for body in (b"one", b"two", b"three"):
            self.assertEqual(hf.send(sender, hf.telemetry_message(body)).remote_state, hf.ACCEPTED)
        too_big = hf.send(sender, hf.telemetry_message(b"x" * (LIMIT + 1)))
        self.assertEqual(too_big.remote_state, hf.REJECTED)

        intruder = self.connect()
        cbs = hf.Cbs(intruder)
        forged = hf.make_token(device_audience("dev3"), DEVICES["dev1"]["primary_key"])
        self.put(cbs, forged, device_audience("dev3"), 401)
        self.put(cbs, self.device_token("dev3"), device_audience("dev3"), 400,
                 token_type="example.com:unknown-type")
        self.assert_refused(intruder, lambda: intruder.create_sender(hf.telemetry_address("dev3")),
                            "telemetry link with a forged token")

        _, rx = self.service_receiver()
        self.assertEqual([rx.receive(timeout=hf.AMQP_TIMEOUT).body for _ in range(3)],
                         [b"one", b"two", b"three"])

    def c2d_traffic(self):
        """3 queued (one to a device that does not exist refused): completed, rejected, and
        released once then completed; feedback for each of the 3."""
        sconn, tx = self.service()
        fb = self.feedback_receiver(sconn)
        for body in ("c1", "c2", "c3"):
            self.assertEqual(self.send_c2d(tx, body, ack="full").remote_state, hf.ACCEPTED)
        self.assertEqual(self.send_c2d(tx, "lost", device_id="ghost").remote_state, hf.REJECTED)
        _, rx = self.device_receiver()
        self.assertEqual(self.next_message(rx).body, "c1")
        rx.accept()
        self.assertEqual(self.next_message(rx).body, "c2")
        rx.reject()
        self.assertEqual(self.next_message(rx).body, "c3")
        rx.release(delivered=False)
        self.assertEqual(self.next_message(rx).body, "c3")
        rx.accept()
        self.assert_quiet(rx)  # lets the device's connection send its last disposition
        # Feedback goes out after each end is counted: once all 3 records are here, so are the counts.
        statuses = sorted(r["statusCode"] for r in self.feedback_records(fb, 3))
        self.assertEqual(statuses, ["Rejected", "Success", "Success"])

    # --- tests ---------------------------------------------------------------------------------

    def test_every_series_is_there_at_zero_before_any_traffic(self):
        got = self.scrape()
        zero = [
            ("iotgw_hub_connections", {}, 0),
            ("iotgw_hub_connections_accepted_total", {}, 0),
            ("iotgw_hub_cbs_put_tokens_total", {"result": "unauthorized"}, 0),
            ("iotgw_hub_telemetry_accepted_total", {}, 0),
            ("iotgw_hub_telemetry_rejected_total", {"reason": "too_large"}, 0),
            ("iotgw_hub_telemetry_retained_messages", {}, 0),
            ("iotgw_hub_c2d_ended_total", {"outcome": "expired"}, 0),
            ("iotgw_hub_method_calls_total", {"result": "timed_out"}, 0),
        ]
        self.assert_values(got, zero)
        self.assertGreater(got[("process_resident_memory_bytes", frozenset())], 0)
        self.assertGreater(got[("process_open_fds", frozenset())], 0)

    def test_counters_hold_exactly_what_the_traffic_did(self):
        self.telemetry_traffic()
        self.c2d_traffic()
        got = self.scrape()
        # Connections: dev1's sender, the intruder, the consumer, the C2D service and dev1's
        # receiver, all still open.
        self.assert_values(got, [
            ("iotgw_hub_connections", {}, 5),
            ("iotgw_hub_connections_accepted_total", {}, 5),
            ("iotgw_hub_connections_refused_total", {}, 0),
            ("iotgw_hub_cbs_put_tokens_total", {"result": "ok"}, 4),
            ("iotgw_hub_cbs_put_tokens_total", {"result": "unauthorized"}, 1),
            ("iotgw_hub_cbs_put_tokens_total", {"result": "bad_request"}, 1),
            ("iotgw_hub_cbs_put_tokens_total", {"result": "not_found"}, 0),
            ("iotgw_hub_links_refused_total", {"reason": "unauthorized"}, 1),
            ("iotgw_hub_links_refused_total", {"reason": "not_found"}, 0),
            ("iotgw_hub_telemetry_accepted_total", {}, 3),
            ("iotgw_hub_telemetry_accepted_bytes_total", {}, 11),
            ("iotgw_hub_telemetry_rejected_total", {"reason": "too_large"}, 1),
            ("iotgw_hub_telemetry_rejected_total", {"reason": "malformed"}, 0),
            ("iotgw_hub_telemetry_sent_total", {}, 3),
            ("iotgw_hub_telemetry_retained_messages", {}, 3),
            ("iotgw_hub_c2d_enqueued_total", {}, 3),
            ("iotgw_hub_c2d_refused_total", {"reason": "unknown_device"}, 1),
            ("iotgw_hub_c2d_refused_total", {"reason": "queue_full"}, 0),
            ("iotgw_hub_c2d_deliveries_total", {}, 4),
            ("iotgw_hub_c2d_abandoned_total", {}, 1),
            ("iotgw_hub_c2d_ended_total", {"outcome": "completed"}, 2),
            ("iotgw_hub_c2d_ended_total", {"outcome": "rejected"}, 1),
            ("iotgw_hub_c2d_ended_total", {"outcome": "expired"}, 0),
            ("iotgw_hub_c2d_ended_total", {"outcome": "delivery_count_exceeded"}, 0),
            ("iotgw_hub_c2d_feedback_records_total", {}, 3),
        ])
        self.assertGreaterEqual(got[("iotgw_hub_c2d_feedback_messages_total", frozenset())], 1)

    def test_a_closed_connection_leaves_the_open_gauge(self):
        first, second = self.connect(), self.connect()
        self.assertEqual(self.scrape()[("iotgw_hub_connections", frozenset())], 2)
        first.close()
        # The hub sees the close after the client does: wait for the gauge, not for a time.
        deadline = time.monotonic() + hf.AMQP_TIMEOUT
        while (self.scrape()[("iotgw_hub_connections", frozenset())] != 1
               and time.monotonic() < deadline):
            time.sleep(0.05)
        got = self.scrape()
        self.assertEqual(got[("iotgw_hub_connections", frozenset())], 1)
        self.assertEqual(got[("iotgw_hub_connections_accepted_total", frozenset())], 2)

    def test_sigusr1_reports_the_same_counts(self):
        self.telemetry_traffic()
        self.c2d_traffic()
        self.hub.proc.send_signal(signal.SIGUSR1)
        want = "status: telemetry accepted 3 rejected 1, C2D completed 2 not completed 1"
        deadline = time.monotonic() + hf.AMQP_TIMEOUT
        while want not in self.hub.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(want, self.hub.log())

    def test_other_paths_are_not_found(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.metrics_url.replace("/metrics", "/status"),
                                   timeout=hf.AMQP_TIMEOUT)
        self.assertEqual(e.exception.code, 404)


class MetricsListenOptionTest(unittest.TestCase):

    def test_an_address_it_cannot_bind_is_named(self):
        hf.require_binary()
        folder = hf.make_temp_dir()
        self.addCleanup(hf.remove_temp_dir, folder)
        reg = folder + "/registry.yaml"
        hf.write_registry(reg, [dict(id="d1", primary_key=hf.new_key())], [])
        proc = subprocess.run([hf.HUB_BINARY, "--registry", reg, "--listen", "127.0.0.1:0",
                               "--metrics-listen", "no-port-here"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=hf.CLI_TIMEOUT)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no-port-here", proc.stderr + proc.stdout)

    def test_usage_names_the_option(self):
        self.assertIn("--metrics-listen HOST:PORT", hf.run_cli("--help").stdout)


if __name__ == "__main__":
    unittest.main()
