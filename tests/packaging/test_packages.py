"""The Debian packages, made by CPack from this build's install (cmake/Packaging.cmake): what each
holds, its control data, its unit accepted by `systemd-analyze verify`, lintian with nothing left
unexplained, and the installed iotgw serving a message from its installed paths and plugins.

Environment: IOTGW_BUILD_DIR (the CMake build to package). Run with Debian's /usr/bin/python3.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("IOTGW_BUILD_DIR", os.path.join(HERE, "..", "..", "build", "debug"))
SHIPPED = ["aes-gcm", "auth-file", "auth-sas", "coap", "line", "map", "mqtt", "zstd"]
LINTIAN_EXPLAINED = os.path.join(HERE, "..", "..", "packaging", "debian", "lintian-explained")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def setUpModule():
    global OUT, ROOT, DEBS
    OUT = tempfile.mkdtemp(prefix="iotgw-debs-")
    r = run("cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", OUT)
    if r.returncode != 0:
        raise AssertionError("cpack failed:\n" + r.stdout + r.stderr)
    DEBS = {control(d, "Package"): d for d in glob.glob(os.path.join(OUT, "*.deb"))}
    # The three packages unpacked into one root, as dpkg would lay them out.
    ROOT = os.path.join(OUT, "root")
    for deb in DEBS.values():
        subprocess.run(["dpkg-deb", "-x", deb, ROOT], check=True)


def tearDownModule():
    shutil.rmtree(OUT, ignore_errors=True)


def control(deb, field):
    return run("dpkg-deb", "-f", deb, field).stdout.strip()


def contents(deb):
    listing = run("dpkg-deb", "-c", deb).stdout.splitlines()
    return [line.split()[-1].lstrip(".") for line in listing]


def multiarch():
    return run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").stdout.strip() or "x86_64-linux-gnu"


class Packages(unittest.TestCase):

    def test_three_packages(self):
        self.assertEqual(sorted(DEBS), ["iotgw", "iotgw-dev", "iotgw-hub"])
        for name, deb in DEBS.items():
            self.assertRegex(control(deb, "Version"), r"^\d+\.\d+\.\d+")
            self.assertTrue(control(deb, "Description"), name)

    def test_the_gateway_package_holds_host_plugins_unit_and_topology(self):
        files = contents(DEBS["iotgw"])
        plugin_dir = "/usr/lib/%s/iotgw/plugins/" % multiarch()
        for name in SHIPPED:
            self.assertIn(plugin_dir + "iotgw-%s.so" % name, files)
        for path in ["/usr/bin/iotgw", "/usr/lib/systemd/system/iotgw.service",
                     "/etc/iotgw/iotgw.yaml", "/etc/iotgw/plugins/",
                     "/usr/share/doc/iotgw/copyright"]:
            self.assertIn(path, files)
        self.assertNotIn("/usr/bin/iotgw-hub", files)
        info = run("dpkg-deb", "-I", DEBS["iotgw"]).stdout
        self.assertIn("conffiles", info)
        depends = control(DEBS["iotgw"], "Depends")
        for lib in ["libqpid-proton-cpp12", "libyaml-cpp0.7", "libssl3", "adduser"]:
            self.assertIn(lib, depends)
        # Nothing the debug build links for tests only (GoogleTest) is asked for.
        self.assertNotIn("gtest", depends)

    def test_the_hub_and_dev_packages(self):
        self.assertIn("/usr/bin/iotgw-hub", contents(DEBS["iotgw-hub"]))
        dev = contents(DEBS["iotgw-dev"])
        self.assertIn("/usr/include/iotgw/abi.h", dev)
        self.assertTrue(any(f.endswith("/cmake/iotgw/iotgwConfig.cmake") for f in dev), dev)
        self.assertTrue(any("/share/iotgw/plugin-template/" in f for f in dev), dev)
        self.assertEqual(control(DEBS["iotgw-dev"], "Architecture"), "all")

    def test_binaries_are_stripped(self):
        out = run("file", os.path.join(ROOT, "usr/bin/iotgw")).stdout
        self.assertIn("stripped", out)
        self.assertNotIn("not stripped", out)

    def test_the_unit_passes_systemd_analyze_verify(self):
        # The unpacked root with the system's own units beside (targets the unit names) and the
        # kill its ExecReload runs.
        units = os.path.join(ROOT, "usr/lib/systemd/system")
        for src in ["/lib/systemd/system", "/usr/lib/systemd/system"]:
            if os.path.isdir(src):
                for f in os.listdir(src):
                    if f != "iotgw.service" and not os.path.exists(os.path.join(units, f)):
                        p = os.path.join(src, f)
                        if os.path.isfile(p) and not os.path.islink(p):
                            shutil.copy(p, units)
        os.makedirs(os.path.join(ROOT, "bin"), exist_ok=True)
        shutil.copy("/bin/kill", os.path.join(ROOT, "bin", "kill"))
        r = run("systemd-analyze", "verify", "--root=" + ROOT, os.path.join(units, "iotgw.service"))
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        with open(os.path.join(units, "iotgw.service")) as f:
            unit = f.read()
        for line in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=iotgw",
                     "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                     "Restart=on-failure"]:
            self.assertIn(line, unit)
        # A stop drains first: systemd must wait longer than the shipped drain_timeout.
        stop = int(re.search(r"TimeoutStopSec=(\d+)s", unit).group(1))
        with open(os.path.join(ROOT, "etc/iotgw/iotgw.yaml")) as f:
            drain = int(re.search(r"drain_timeout: (\d+)s", f.read()).group(1))
        self.assertGreater(stop, drain)
        self.assertIn("LimitNOFILE=", unit)

    def test_lintian_has_nothing_unexplained(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed (packaging/install-deps.sh all installs it)")
        explained = set()
        with open(LINTIAN_EXPLAINED) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    explained.add(line)
        r = run("lintian", "--no-tag-display-limit", *DEBS.values())
        tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIP]: ", line)]
        unexplained = [t for t in tags if not any(e in t for e in explained)]
        self.assertEqual(unexplained, [], "lintian tags with no reason in %s" % LINTIAN_EXPLAINED)


class Installed(unittest.TestCase):
    """The installed iotgw, from the unpacked packages: its default plugins folder is the installed
    one, found relative to the binary, and the shipped topology serves one message to the
    installed iotgw-hub."""

    def test_lists_the_installed_plugins_by_default(self):
        r = run(os.path.join(ROOT, "usr/bin/iotgw"), "--list-plugins")
        self.assertEqual(r.returncode, 0, r.stderr)
        plugin_dir = os.path.join(ROOT, "usr/lib", multiarch(), "iotgw/plugins")
        for name in SHIPPED:
            self.assertRegex(r.stdout, r"(?m)^%s +\S+ .* %s/iotgw-%s\.so$"
                             % (re.escape(name), re.escape(plugin_dir), re.escape(name)))

    def test_the_shipped_topology_serves_a_message_to_the_installed_hub(self):
        os.environ["IOTGW_BIN"] = os.path.join(ROOT, "usr/bin/iotgw")
        os.environ["IOTGW_HUB"] = os.path.join(ROOT, "usr/bin/iotgw-hub")
        sys.path.insert(0, os.path.join(HERE, "..", "hub"))
        sys.path.insert(0, os.path.join(HERE, "..", "admin"))
        import hub_fixture as hf
        import admin_fixture as af
        folder = af.temp_folder(self)
        hub = hf.OneDeviceHub(folder)
        self.addCleanup(hub.stop)
        with open(os.path.join(ROOT, "etc/iotgw/iotgw.yaml")) as f:
            shipped = f.read()
        topology = (shipped.replace("amqp://127.0.0.1:5672", hub.url)
                    .replace("127.0.0.1:1883", "127.0.0.1:0")
                    .replace("127.0.0.1:9400", "127.0.0.1:0"))
        self.assertNotEqual(topology, shipped)
        gw = af.Gateway(folder, topology)  # no plugins folder beside it: the installed plugins
        gw.start()
        self.addCleanup(gw.kill)
        self.assertNotIn("plugins", os.listdir(folder))
        r = hub.publish(gw.ports["mqtt"], "from the package")
        self.assertEqual(r.returncode, 0, r.stderr + gw.log())
        self.assertIn(b"from the package", hub.received())
        self.assertEqual(gw.stop(), 0, gw.log())


if __name__ == "__main__":
    unittest.main()
