"""What a tls listener of the real iotgw will not speak, asked with `openssl s_client`: TLS 1.0
and 1.1, and TLS 1.2 suites without forward secrecy or with SHA-1 (3DES and RC4 are not in
Debian's OpenSSL 3 at all, so no client here can offer them). Each refusal has a
control: the same client, with the same options, completes that handshake with `openssl
s_server`, so a refusal is the gateway's and not the client's own policy (OpenSSL 3's client
refuses old versions at its default security level; the options lower it to 0).
"""

import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "admin"))
import admin_fixture as af  # noqa: E402

WEAK = [
    ("TLS 1.0", ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ("TLS 1.1", ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ("RSA key exchange", ["-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0"]),
    ("SHA-1 suite", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"]),
]


def handshake(port, options):
    """True when s_client completed a handshake (a cipher was agreed)."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + options,
                       input=b"", capture_output=True, timeout=20)
    out = r.stdout.decode(errors="replace")
    return r.returncode == 0 and "Cipher is (NONE)" not in out and "Cipher is" in out


class TlsPolicyTest(unittest.TestCase):
    def setUp(self):
        self.folder = af.temp_folder(self)
        af.plugins_dir(self.folder, "mqtt")
        self.cert = os.path.join(self.folder, "cert.pem")
        self.key = os.path.join(self.folder, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=gw", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)

    def control_server(self, options):
        """openssl s_server willing to speak what `options` ask for."""
        port = af.free_port()
        cipher = [o for o in options if ":" in o] or ["DEFAULT:@SECLEVEL=0"]
        versions = [o for o in options if o.startswith("-tls")]
        server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", self.cert,
                                   "-key", self.key, "-cipher", cipher[0], "-naccept", "1",
                                   "-quiet"] + versions,
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.addCleanup(server.kill)
        time.sleep(0.3)
        return port

    def test_old_versions_and_weak_suites_are_refused(self):
        gw = af.Gateway(self.folder, """
gateway: {plugins_dir: plugins, threads: 1, admin: {bind: 127.0.0.1:0}}
bridge: {flavour: loopback, echo: false}
listeners:
  - {name: mqtts, adapter: mqtt, transport: tls, bind: 127.0.0.1:0,
     tls: {cert_file: cert.pem, key_file: key.pem}}
""")
        gw.start()
        self.addCleanup(gw.stop)
        port = gw.ports["mqtts"]
        self.assertTrue(handshake(port, ["-tls1_2"]), "TLS 1.2 with a strong suite works")
        self.assertTrue(handshake(port, ["-tls1_3"]), "TLS 1.3 works")
        for what, options in WEAK:
            with self.subTest(what):
                self.assertTrue(handshake(self.control_server(options), options),
                                "control: this client speaks %s" % what)
                self.assertFalse(handshake(port, options), "iotgw refuses %s" % what)

    def test_key_files_others_can_read_are_refused(self):
        with open(os.path.join(self.folder, "token"), "w") as f:
            f.write("admin-secret\n")
        for mode in (0o644, 0o600):
            os.chmod(self.key, mode)
            os.chmod(os.path.join(self.folder, "token"), mode)
            gw = af.Gateway(self.folder, """
gateway: {plugins_dir: plugins, threads: 1, admin: {bind: 127.0.0.1:0, token_file: token}}
bridge: {flavour: loopback, echo: false}
listeners:
  - {name: mqtts, adapter: mqtt, transport: tls, bind: 127.0.0.1:0,
     tls: {cert_file: cert.pem, key_file: key.pem}}
""")
            if mode == 0o600:
                gw.start()
                gw.stop()
                continue
            r = subprocess.run([af.IOTGW, "--config", gw.config], capture_output=True, timeout=30)
            err = r.stdout.decode() + r.stderr.decode()
            self.assertNotEqual(r.returncode, 0, err)
            self.assertRegex(err, r"key\.pem: readable by others", err)
            os.chmod(self.key, 0o600)
            r = subprocess.run([af.IOTGW, "--config", gw.config], capture_output=True, timeout=30)
            err = r.stdout.decode() + r.stderr.decode()
            self.assertNotEqual(r.returncode, 0, err)
            self.assertRegex(err, r"token_file .*token: readable by others", err)


if __name__ == "__main__":
    unittest.main()
