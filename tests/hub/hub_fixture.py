"""Helpers for the iotgw-hub conformance tests.

Starts a real `iotgw-hub` process on 127.0.0.1 with an ephemeral port, mints SAS tokens through
the hub's own CLI and independently in Python (so tests can forge bad ones), and wraps the Qpid
Proton blocking client for CBS put-token, telemetry sends and service receivers.

Contract: /work/shared/IOTHUB-PROTOCOL.md. Run with Debian's /usr/bin/python3 (python3-qpid-proton).
"""

import base64
import hashlib
import hmac
import os
import re
import shutil
import signal
import sys
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import proton
from proton import Delivery, Endpoint, Message
from proton.utils import BlockingConnection, LinkDetached, ConnectionClosed
from proton import ConnectionException, LinkException, Timeout

HUB_BINARY = os.environ.get("IOTGW_HUB", "/work/main/build/debug/tools/hub/iotgw-hub")
HOSTNAME = "localhub.azure-devices.net"
SAS_TYPE = "servicebus.windows.net:sastoken"
SAS_TYPE_CSHARP = "azure-devices.net:sastoken"
LISTEN_RE = re.compile(r"\] listening on 127\.0\.0\.1:(\d+)")

CLI_TIMEOUT = 15        # seconds for any one CLI invocation
START_TIMEOUT = 15      # seconds for the hub to print its listening line
STOP_TIMEOUT = 5        # seconds for the hub to exit after SIGTERM
STOP_TIMEOUT_AFTER_HANG = 1  # once one hub has ignored SIGTERM, wait less (keeps the suite short)
AMQP_TIMEOUT = 5        # seconds for any one AMQP wait
REFUSAL_GRACE = 2       # seconds to wait for a detach that follows an attach


# ---------------------------------------------------------------------------------------------
# Processes and files

def require_binary():
    if not (os.path.isfile(HUB_BINARY) and os.access(HUB_BINARY, os.X_OK)):
        raise AssertionError("iotgw-hub binary not found or not executable: %s (set IOTGW_HUB)"
                             % HUB_BINARY)


def make_temp_dir(prefix="iotgw-hub-test-"):
    return tempfile.mkdtemp(prefix=prefix)


def remove_temp_dir(path):
    shutil.rmtree(path, ignore_errors=True)


def run_cli(*args, check=True):
    """Runs `iotgw-hub ARGS...`; returns CompletedProcess (text). Raises on nonzero exit if check."""
    proc = subprocess.run([HUB_BINARY] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=CLI_TIMEOUT)
    if check and proc.returncode != 0:
        raise AssertionError("iotgw-hub %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
    return proc


def registry_add_device(registry_file, device_id):
    return run_cli("registry", "add-device", registry_file, device_id)


def registry_connection_string(registry_file, device_id):
    return run_cli("registry", "connection-string", registry_file, device_id).stdout.strip()


def cli_device_token(registry_file, device_id, ttl=None):
    args = ["token", "--registry", registry_file, "--device", device_id]
    if ttl is not None:
        args += ["--ttl", ttl]
    return run_cli(*args).stdout.strip()


def cli_policy_token(registry_file, policy, ttl=None):
    args = ["token", "--registry", registry_file, "--policy", policy]
    if ttl is not None:
        args += ["--ttl", ttl]
    return run_cli(*args).stdout.strip()


def new_key():
    return base64.b64encode(os.urandom(32)).decode("ascii")


def write_registry(path, devices, policies, hostname=HOSTNAME):
    """devices: list of dicts id, primary_key, [secondary_key], [status];
    policies: list of dicts name, key, rights (list)."""
    lines = ["hostname: %s" % hostname, "devices:"]
    for d in devices:
        lines.append("  - id: %s" % d["id"])
        lines.append("    primary_key: %s" % d["primary_key"])
        if d.get("secondary_key"):
            lines.append("    secondary_key: %s" % d["secondary_key"])
        lines.append("    status: %s" % d.get("status", "enabled"))
    lines.append("policies:")
    for p in policies:
        lines.append("  - name: %s" % p["name"])
        lines.append("    key: %s" % p["key"])
        lines.append("    rights: [%s]" % ", ".join(p["rights"]))
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # a key file: the gateway's auth-sas refuses one others can read


def keep_log(log_file, registry_file, pid):
    """Copies a hub's log into $IOTGW_TEST_LOG_DIR, where the run's last test looks for secrets,
    with its registry: the keys made up for this test are among the secrets it looks for."""
    folder = os.environ.get("IOTGW_TEST_LOG_DIR")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    name = os.path.join(folder, "Hub.%s.iotgw-hub.%d" % (os.path.basename(sys.argv[-1]), pid))
    shutil.copyfile(log_file, name + ".log")
    if os.path.exists(registry_file):
        shutil.copyfile(registry_file, name + ".yaml")


class HubProcess:
    """A running `iotgw-hub --registry FILE --listen 127.0.0.1:0`; logs to LOGFILE."""

    hung_on_sigterm = False  # set once any hub failed to exit on SIGTERM in time

    def __init__(self, registry_file, log_file, extra_args=()):
        self.extra_args = list(extra_args)
        self.registry_file = registry_file
        self.log_file = log_file
        self.proc = None
        self.port = None

    def start(self):
        self._log = open(self.log_file, "wb")
        self.proc = subprocess.Popen(
            [HUB_BINARY, "--registry", self.registry_file, "--listen", "127.0.0.1:0"] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("iotgw-hub exited %d before listening; log:\n%s"
                                     % (self.proc.returncode, self.log()))
            time.sleep(0.05)
        self.kill()
        raise AssertionError("iotgw-hub printed no 'listening on 127.0.0.1:PORT' within %ds; log:\n%s"
                             % (START_TIMEOUT, self.log()))

    @property
    def url(self):
        return "amqp://127.0.0.1:%d" % self.port

    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            timeout = STOP_TIMEOUT_AFTER_HANG if HubProcess.hung_on_sigterm else STOP_TIMEOUT
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                HubProcess.hung_on_sigterm = True
                self.kill()
                return None
        finally:
            self._log.close()
            keep_log(self.log_file, self.registry_file, self.proc.pid)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)


# ---------------------------------------------------------------------------------------------
# SAS tokens in Python

def url_encode(s):
    return urllib.parse.quote(s, safe="")


def sign(key_b64, string_to_sign):
    digest = hmac.new(base64.b64decode(key_b64), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def make_token(resource_uri, key_b64, expiry=None, ttl=3600, policy=None, sign_raw=False,
               order=("sr", "sig", "se", "skn"), sig_override=None):
    """SharedAccessSignature for RESOURCE_URI (no scheme). Signs url_encode(uri) + "\\n" + se, or the
    raw uri if SIGN_RAW. SIG_OVERRIDE replaces the signature (to forge)."""
    se = int(expiry if expiry is not None else time.time() + ttl)
    encoded = url_encode(resource_uri)
    sig = sig_override if sig_override is not None else sign(
        key_b64, (resource_uri if sign_raw else encoded) + "\n" + str(se))
    fields = {"sr": encoded, "sig": url_encode(sig), "se": str(se)}
    if policy is not None:
        fields["skn"] = policy
    return "SharedAccessSignature " + "&".join("%s=%s" % (k, fields[k]) for k in order if k in fields)


def parse_token(token):
    """Returns dict of raw (still URL-encoded) fields; raises ValueError if not a SAS token."""
    prefix = "SharedAccessSignature "
    if not token.startswith(prefix):
        raise ValueError("not a SharedAccessSignature: %r" % token)
    fields = {}
    for part in token[len(prefix):].split("&"):
        k, sep, v = part.partition("=")
        if not sep:
            raise ValueError("field without '=': %r" % part)
        if k in fields:
            raise ValueError("duplicate field %r" % k)
        fields[k] = v
    return fields


def token_signature_valid(token, key_b64):
    """True if the token's sig is HMAC(key, sr + '\\n' + se) for sr as sent or URL-decoded."""
    f = parse_token(token)
    sig = urllib.parse.unquote(f["sig"])
    for sr in (f["sr"], urllib.parse.unquote(f["sr"]), url_encode(urllib.parse.unquote(f["sr"]))):
        if hmac.compare_digest(sign(key_b64, sr + "\n" + f["se"]), sig):
            return True
    return False


def device_audience(device_id, hostname=HOSTNAME):
    return "%s/devices/%s" % (hostname, device_id)


# ---------------------------------------------------------------------------------------------
# AMQP client helpers

def connect(url):
    return BlockingConnection(url, timeout=AMQP_TIMEOUT, allowed_mechs="ANONYMOUS")


def close_quietly(conn):
    try:
        conn.close()
    except Exception:
        pass


class Cbs:
    """The $cbs request/response pair on one connection."""

    def __init__(self, conn):
        self.conn = conn
        self.sender = conn.create_sender("$cbs")
        self.receiver = conn.create_receiver("$cbs", credit=10)

    def put_token(self, token, audience, token_type=SAS_TYPE):
        """Sends put-token; returns (status_code, status_description, reply_message, request_id)."""
        request_id = str(uuid.uuid4())
        msg = Message(id=request_id, reply_to="cbs", address="$cbs", body=token,
                      properties={"operation": "put-token", "type": token_type, "name": audience})
        self.sender.send(msg, error_states=[])
        reply = self.receiver.receive(timeout=AMQP_TIMEOUT)
        self.receiver.accept()
        props = reply.properties or {}
        return props.get("status-code"), props.get("status-description"), reply, request_id


def attach_refusal(conn, create):
    """Calls CREATE() (a create_sender/create_receiver call on CONN) and returns
    (refused, condition_name, condition_description, link_or_None).

    A refusal may surface as LinkDetached from the create call, or as an attach followed by a
    detach shortly after; both count. An attach that stays open for REFUSAL_GRACE seconds is not
    refused."""
    try:
        link = create()
    except LinkDetached as e:
        cond = e.link.remote_condition
        return True, cond and cond.name, cond and cond.description, None
    except LinkException as e:  # e.g. "target does not match" with no detach following
        return True, None, str(e), None
    try:
        conn.wait(lambda: link.link.state & Endpoint.REMOTE_CLOSED, timeout=REFUSAL_GRACE,
                  msg="waiting for a refusal")
    except LinkDetached as e:
        cond = e.link.remote_condition
        return True, cond and cond.name, cond and cond.description, link
    except Timeout:
        return False, None, None, link
    cond = link.link.remote_condition
    return True, cond and cond.name, cond and cond.description, link


def received_at_hub(url, service_key, idle=2, hostname=HOSTNAME, credit=500):
    """Every telemetry body waiting at the hub's service side (its $Default consumer group),
    each accepted, read until `idle` seconds pass with nothing new."""
    conn = connect(url)
    try:
        token = make_token(hostname, service_key, policy="service")
        code, _, _, _ = Cbs(conn).put_token(token, hostname)
        if code != 200:
            raise AssertionError("the service token was refused: %s" % code)
        receiver = conn.create_receiver(service_address(), credit=credit)
        bodies = []
        while True:
            try:
                m = receiver.receive(timeout=idle)
            except proton.Timeout:
                return bodies
            receiver.accept()
            body = m.body
            bodies.append(bytes(body) if not isinstance(body, str) else body.encode())
    finally:
        close_quietly(conn)


class OneDeviceHub:
    """A real iotgw-hub whose registry holds one device, dev1, and a service policy; a device
    publishes through a gateway with mosquitto_pub and its own SAS token, as Azure's SDKs log in."""

    def __init__(self, folder):
        self.key, self.service_key = new_key(), new_key()
        registry = os.path.join(folder, "registry.yaml")
        write_registry(registry, [{"id": "dev1", "primary_key": self.key}],
                       [{"name": "service", "key": self.service_key, "rights": ["service"]}])
        self.hub = HubProcess(registry, os.path.join(folder, "hub.log")).start()
        self.url = self.hub.url

    def publish(self, port, body):
        """mosquitto_pub at QoS 1 as dev1 to a gateway on 127.0.0.1:port: 0 once acknowledged."""
        return subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311", "-q", "1",
             "-i", "dev1", "-u", "%s/dev1/?api-version=2021-04-12" % HOSTNAME,
             "-P", make_token(device_audience("dev1"), self.key),
             "-t", "devices/dev1/messages/events/", "-m", body],
            capture_output=True, text=True, timeout=60)

    def received(self):
        return received_at_hub(self.url, self.service_key)

    def stop(self):
        return self.hub.stop()


def telemetry_address(device_id):
    return "/devices/%s/messages/events" % device_id


def service_address(group="$Default", partition=0):
    return "/messages/events/ConsumerGroups/%s/Partitions/%d" % (group, partition)


def telemetry_message(body, properties=None, message_id=None):
    """Binary bodies go in a data section (as the device SDKs send them)."""
    msg = Message(body=body, properties=properties, id=message_id)
    if isinstance(body, (bytes, bytearray)):
        msg.inferred = True
    return msg


def send(sender, msg):
    """Sends and waits for settlement; returns the delivery (no exception on REJECTED/RELEASED)."""
    return sender.send(msg, error_states=[])


def outcome_name(delivery):
    state = delivery.remote_state
    return str(state) if state is not None else "None"


ACCEPTED = Delivery.ACCEPTED
REJECTED = Delivery.REJECTED
