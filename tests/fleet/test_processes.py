"""Past one process: several iotgw processes on one port serve more devices than one process may
hold. Each listener binds with SO_REUSEPORT, so a second process on the same address joins the
kernel's group and new connections are spread across both, as across one process's event loops.
Here each process may hold 256 descriptors (prlimit) and 360 devices connect: one process could
not hold them, the two do, each a share.

Run with Debian's /usr/bin/python3 (python3-prometheus-client).
"""

import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
sys.path.insert(0, os.path.join(HERE, ".."))
import admin_fixture as af  # noqa: E402
from prometheus_text import samples, value  # noqa: E402

LIMIT = 256
DEVICES = 360


class ProcessesTest(unittest.TestCase):
    def test_two_processes_on_one_port_hold_more_than_one_may(self):
        folder = af.temp_folder(self)
        port = af.free_port()
        gateways = []
        for name in ("p1", "p2"):
            sub = os.path.join(folder, name)
            os.makedirs(sub)
            af.plugins_dir(sub, "line")
            gw = af.Gateway(sub, """
gateway: {plugins_dir: plugins, threads: 1, admin: {bind: 127.0.0.1:0}}
bridge: {flavour: loopback, echo: false}
listeners:
  - {name: lines, adapter: line, bind: 127.0.0.1:%d}
""" % port, prefix=["prlimit", "--nofile=%d:%d" % (LIMIT, LIMIT)])
            gw.start()
            self.addCleanup(gw.stop)
            gateways.append(gw)

        devices = []
        for i in range(DEVICES):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.addCleanup(s.close)
            s.sendall(b"HELLO dev%d\n" % i)
            devices.append((s, s.makefile("rb")))
        for i, (s, f) in enumerate(devices):
            while True:
                line = f.readline()
                self.assertTrue(line, "dev%d: closed before WELCOME" % i)
                if line.startswith(b"WELCOME"):
                    self.assertEqual(line.strip(), b"WELCOME dev%d" % i)
                    break

        held = [value(samples(gw.http("GET", "/metrics")[1]), "iotgw_connections_open",
                      listener="lines") for gw in gateways]
        self.assertEqual(sum(held), DEVICES, held)
        for h in held:
            self.assertGreater(h, 0, held)
            self.assertLess(h, LIMIT, held)  # each under its own limit; together past it
        for gw in gateways:
            self.assertNotIn("Too many open files", gw.log())


if __name__ == "__main__":
    unittest.main()
