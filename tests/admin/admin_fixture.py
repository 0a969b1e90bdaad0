"""Helpers for the admin endpoint tests: a real `iotgw` process with its admin endpoint, a real
`iotgw-hub` where a test needs the hub, and HTTP through the standard library.

Run with Debian's /usr/bin/python3 (python3-paho-mqtt, python3-prometheus-client).
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

IOTGW = os.environ.get("IOTGW_BIN", "/work/main/build/debug/host/iotgw")
PLUGINS = os.environ.get("IOTGW_PLUGINS", "/work/main/build/debug/plugins")
TEST_PLUGINS = os.environ.get("IOTGW_TEST_PLUGINS", "/work/main/build/debug/test-plugins/good")
ADMIN_RE = re.compile(r"\[admin\] serving .* on 127\.0\.0\.1:(\d+)")
LISTEN_RE = re.compile(r"\[listener (\S+)\] listening on 127\.0\.0\.1:(\d+)")
START_TIMEOUT = 20


# Ports handed to a process that must be told its port (a restart keeps it, HAProxy names it) come
# from below the kernel's ephemeral range (32768 and up here): a port found by binding to 0 and
# closing can go to any outgoing connection before the process binds it, and the tests beside
# this one open hundreds of thousands (CI lost a run to an admin port taken that way). RabbitMQ's
# fixture takes 20000 and up, so these stay under it.
PORT_RANGE = (10000, 19999)


def free_port(kind=socket.SOCK_STREAM):
    for _ in range(100):
        port = random.randint(*PORT_RANGE)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in %d-%d" % PORT_RANGE)


def wait_for(what, cond, timeout, step=0.1):
    """Polls `cond` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s did not happen within %ds" % (what, timeout))
        time.sleep(step)


def plugins_dir(parent, *names):
    """A plugins folder holding copies of the named plugins (mqtt from the build, tag from the
    test plugins)."""
    d = os.path.join(parent, "plugins")
    os.makedirs(d, exist_ok=True)
    for name in names:
        src = os.path.join(TEST_PLUGINS if name == "tag" else PLUGINS, "iotgw-%s.so" % name)
        shutil.copy(src, d)
    return d


class Gateway:
    """A running `iotgw --config FILE`, its log in the test's folder."""

    def __init__(self, folder, topology, env=None, prefix=()):
        self.folder = folder
        self.prefix = list(prefix)  # a command iotgw runs under (prlimit ...)
        self.config = os.path.join(folder, "topology.yaml")
        with open(self.config, "w") as f:
            f.write(topology)
        self.log_file = os.path.join(folder, "iotgw.log")
        self.env = env
        self.proc = None
        self.admin_port = None
        self.ports = {}

    def start(self, wait_admin=True):
        self._log = open(self.log_file, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(self.prefix + [IOTGW, "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log()
            for name, port in LISTEN_RE.findall(text):
                self.ports[name] = int(port)
            m = ADMIN_RE.search(text)
            if m or (not wait_admin and "] serving " in text):
                if m:
                    self.admin_port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("iotgw exited %d before serving; log:\n%s"
                                     % (self.proc.returncode, text))
            time.sleep(0.05)
        self.kill()
        raise AssertionError("iotgw did not serve within %ds; log:\n%s" % (START_TIMEOUT, self.log()))

    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()[start:]):
                return
            time.sleep(0.05)
        raise AssertionError("no log line matching %r within %ds; log:\n%s"
                             % (pattern, timeout, self.log()))

    def http(self, method, path, token=None, timeout=10):
        """(status, body text) of one request to the admin endpoint."""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                     method=method, data=b"" if method == "POST" else None)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self, timeout=30):
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self._log.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def temp_folder(test):
    d = tempfile.mkdtemp(prefix="iotgw-admin-test-")
    test.addCleanup(shutil.rmtree, d, ignore_errors=True)
    return d
