"""packaging/kubernetes rendered by `kubectl kustomize` and held to its invariants: the probes and
the preStop drain name paths the real admin endpoint serves, container ports are the topology's,
the Services reach named ports, the grace period outlasts the drain, Secrets are mounted without
the others' read bit (iotgw refuses such keys), the budget and autoscaler select the Deployment,
and the topology passes `iotgw --check` with its files where the volumes put them.

Environment: IOTGW_BIN, IOTGW_PLUGINS. Run with Debian's /usr/bin/python3 (python3-yaml).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFESTS = os.path.join(HERE, "..", "..", "packaging", "kubernetes")
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
import admin_fixture as af  # noqa: E402


def render():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise unittest.SkipTest("kubectl is not installed (packaging/install-deps.sh all installs it)")
    r = subprocess.run([kubectl, "kustomize", MANIFESTS], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError("kubectl kustomize failed:\n" + r.stderr)
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    n, unit = int(m.group(1)), m.group(2)
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = render()
        cls.by_kind = {}
        for d in cls.docs:
            cls.by_kind.setdefault(d["kind"], []).append(d)
        cls.deployment = cls.by_kind["Deployment"][0]
        cls.pod = cls.deployment["spec"]["template"]
        cls.container = cls.pod["spec"]["containers"][0]
        cls.topology_text = cls.by_kind["ConfigMap"][0]["data"]["iotgw.yaml"]
        cls.topology = yaml.safe_load(cls.topology_text)

    def test_every_kind_is_there(self):
        for kind in ["Deployment", "Service", "ConfigMap", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler"]:
            self.assertIn(kind, self.by_kind)
        services = {s["metadata"]["name"]: s for s in self.by_kind["Service"]}
        self.assertEqual(services["iotgw"]["spec"]["type"], "LoadBalancer")
        self.assertEqual(services["iotgw-metrics"]["spec"]["clusterIP"], "None")
        self.assertEqual(services["iotgw-metrics"]["metadata"]["annotations"]["prometheus.io/scrape"],
                         "true")

    def test_container_ports_are_the_topologys(self):
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        for listener in self.topology["listeners"]:
            self.assertEqual(ports[listener["name"]], int(listener["bind"].rsplit(":", 1)[1]),
                             listener["name"])
        admin = int(self.topology["gateway"]["admin"]["bind"].rsplit(":", 1)[1])
        self.assertEqual(ports["admin"], admin)
        self.assertEqual(self.pod["metadata"]["annotations"]["prometheus.io/port"], str(admin))
        # Every Service port reaches a named container port.
        for service in self.by_kind["Service"]:
            for p in service["spec"]["ports"]:
                self.assertIn(p["targetPort"], ports, service["metadata"]["name"])
            self.assertEqual(service["spec"]["selector"], self.pod["metadata"]["labels"])

    def test_the_grace_period_outlasts_the_drain(self):
        drain = seconds(self.topology["gateway"]["drain_timeout"])
        grace = self.pod["spec"]["terminationGracePeriodSeconds"]
        pre_stop = " ".join(self.container["lifecycle"]["preStop"]["exec"]["command"])
        waited = int(re.search(r"sleep (\d+)", pre_stop).group(1))
        self.assertGreaterEqual(waited, drain)
        self.assertGreater(grace, waited)
        admin = self.topology["gateway"]["admin"]["bind"].rsplit(":", 1)[1]
        self.assertIn("/dev/tcp/127.0.0.1/%s" % admin, pre_stop)
        self.assertIn("POST /drain", pre_stop)
        self.assertIn(self.topology["gateway"]["admin"]["token_file"], pre_stop)
        strategy = self.deployment["spec"]["strategy"]["rollingUpdate"]
        self.assertEqual(strategy["maxUnavailable"], 0)

    def test_secrets_are_not_readable_by_others_and_hold_what_the_topology_names(self):
        volumes = {v["name"]: v for v in self.pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in self.container["volumeMounts"]}
        for v in volumes.values():
            if "secret" in v:
                self.assertEqual(v["secret"].get("defaultMode", 0o644) & 0o007, 0, v["name"])
        uncommented = "\n".join(line.split("#", 1)[0] for line in self.topology_text.splitlines())
        files = re.findall(r"(/etc/iotgw/[\w./-]+)", uncommented)
        self.assertTrue(files)
        for f in files:
            self.assertTrue(any(f.startswith(m + "/") for m in mounts), f)
        self.assertIn("/etc/iotgw/topology", mounts)
        self.assertIn("/etc/iotgw/topology/iotgw.yaml", self.container["args"])
        self.assertTrue(self.topology["gateway"]["watch"])

    def test_budget_and_autoscaler_select_the_deployment(self):
        labels = self.pod["metadata"]["labels"]
        pdb = self.by_kind["PodDisruptionBudget"][0]["spec"]
        self.assertEqual(pdb["selector"]["matchLabels"], labels)
        self.assertEqual(pdb["maxUnavailable"], 1)
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]["spec"]
        self.assertEqual(hpa["scaleTargetRef"]["name"], self.deployment["metadata"]["name"])
        self.assertGreaterEqual(hpa["minReplicas"], 2)
        self.assertIn("resources", self.container)  # CPU requests, which the autoscaler needs

    def test_probe_paths_are_served_by_the_real_admin_endpoint(self):
        folder = af.temp_folder(self)
        gw = af.Gateway(folder, """
gateway: {plugins_dir: %s, admin: {bind: 127.0.0.1:0}}
listeners:
  - {name: l, adapter: line, bind: 127.0.0.1:0}
""" % af.PLUGINS)
        gw.start()
        self.addCleanup(gw.stop)
        probes = [self.container["readinessProbe"]["httpGet"]["path"],
                  self.container["livenessProbe"]["httpGet"]["path"],
                  self.pod["metadata"]["annotations"]["prometheus.io/path"]]
        for path in probes:
            status, _ = gw.http("GET", path)
            self.assertIn(status, (200, 503), path)  # served: ready or not, never 404

    def test_the_topology_passes_check_with_its_files_in_place(self):
        folder = tempfile.mkdtemp(prefix="iotgw-k8s-test-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        text = self.topology_text.replace("/etc/iotgw/", folder + "/")
        os.makedirs(os.path.join(folder, "tls"))
        os.makedirs(os.path.join(folder, "admin"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=gw",
                        "-keyout", os.path.join(folder, "tls", "tls.key"),
                        "-out", os.path.join(folder, "tls", "tls.crt")],
                       check=True, capture_output=True)
        with open(os.path.join(folder, "admin", "token"), "w") as f:
            f.write("t0ken\n")
        for f in ["tls/tls.key", "admin/token"]:
            os.chmod(os.path.join(folder, f), 0o440)
        config = os.path.join(folder, "iotgw.yaml")
        with open(config, "w") as f:
            f.write(text)
        r = subprocess.run([af.IOTGW, "--check", "--config", config, "--plugins-dir", af.PLUGINS],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
