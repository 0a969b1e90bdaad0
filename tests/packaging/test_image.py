"""The container image (packaging/image/build-image): built from this build's .deb files with no
registry pull, started under podman with a mounted topology, it serves one MQTT message to a real
iotgw-hub and drains on stop. The .deb files installing into a clean Debian root is part of the
build. On these machines podman runs containers with runc and the cgroupfs manager, and no
process may raise its limits (no CAP_SYS_RESOURCE): the run sets them below the machine's.

Environment: IOTGW_BUILD_DIR, IOTGW_HUB. Run with Debian's /usr/bin/python3.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("IOTGW_BUILD_DIR", os.path.join(ROOT, "build", "debug"))
sys.path.insert(0, os.path.join(HERE, "..", "hub"))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
import admin_fixture as af  # noqa: E402
import hub_fixture as hf  # noqa: E402

IMAGE = "localhost/iotgw:test-%d" % os.getpid()
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]


def run(cmd, timeout=900, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("podman", "mmdebstrap", "runc"):
            if not shutil.which(tool):
                raise AssertionError("%s is not installed (packaging/install-deps.sh all)" % tool)
        cls.work = tempfile.mkdtemp(prefix="iotgw-image-test-")
        debs = os.path.join(cls.work, "debs")
        r = run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", debs])
        if r.returncode != 0:
            raise AssertionError("cpack failed:\n" + r.stdout + r.stderr)
        r = run([os.path.join(ROOT, "packaging", "image", "build-image"), debs, IMAGE])
        if r.returncode != 0:
            raise AssertionError("build-image failed:\n" + r.stdout[-4000:] + r.stderr[-4000:])
        print(r.stdout.strip().splitlines()[-1], file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        run(PODMAN + ["rmi", "-f", IMAGE], timeout=120)
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_runs_as_its_own_user_on_a_mounted_topology_and_serves_a_message(self):
        folder = tempfile.mkdtemp(prefix="iotgw-image-run-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        hub = hf.OneDeviceHub(folder)
        self.addCleanup(hub.stop)
        mqtt_port = af.free_port()
        topology = os.path.join(folder, "topology")
        os.makedirs(topology)
        with open(os.path.join(topology, "iotgw.yaml"), "w") as f:
            f.write("""
gateway: {threads: 1, drain_timeout: 5s}
bridge: {flavour: iothub, url: %s, hostname: %s}
stages:
  - {name: sas, plugin: auth-sas, config: {mode: passthrough, hostname: %s}}
listeners:
  - {name: mqtt, adapter: mqtt, bind: 127.0.0.1:%d, auth: [sas], options: {hostname: %s}}
""" % (hub.url, hf.HOSTNAME, hf.HOSTNAME, mqtt_port, hf.HOSTNAME))
        os.chmod(topology, 0o755)
        os.chmod(os.path.join(topology, "iotgw.yaml"), 0o644)
        name = "iotgw-test-%d" % os.getpid()
        log = open(os.path.join(folder, "container.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            PODMAN + ["run", "--rm", "--name", name, "--network", "host",
                      "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096",
                      "-v", "%s:/etc/iotgw/topology:ro" % topology, IMAGE],
            stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.addCleanup(run, PODMAN + ["rm", "-f", name], 60)

        def container_log():
            with open(os.path.join(folder, "container.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        deadline = time.monotonic() + 60
        while "listening on 127.0.0.1:%d" % mqtt_port not in container_log():
            self.assertIsNone(proc.poll(), container_log())
            self.assertLess(time.monotonic(), deadline, container_log())
            time.sleep(0.2)
        user = run(PODMAN + ["exec", name, "id", "-un"], 60).stdout.strip()
        self.assertEqual(user, "iotgw")

        r = hub.publish(mqtt_port, "from the image")
        self.assertEqual(r.returncode, 0, r.stderr + container_log())
        self.assertIn(b"from the image", hub.received())

        # podman stop sends SIGTERM: iotgw drains and exits 0 well before podman's own timeout.
        r = run(PODMAN + ["stop", "--time", "20", name], 60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(proc.wait(30), 0, container_log())
        self.assertIn("drain", container_log())


if __name__ == "__main__":
    unittest.main()
