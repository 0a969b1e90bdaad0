"""Floods for tools/faults/run, each in a process of its own (so the legitimate devices' paho
threads do not share an interpreter lock with it), from a source address of its own in 127/8.
Each runs until `stop` is set and leaves what it did in `stats` (a multiprocessing dict).

  idle          sockets that connect and never speak, kept at `count` open
  half-connect  sockets that send the first bytes of a CONNECT, then nothing
  hello         full TLS handshakes in a loop (`openssl s_time -new`), two clients, for the
                flood's whole length
  bad-password  MQTT CONNECTs with a forged SAS token, each read to its CONNACK, in a loop
"""

import os
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
from mqtt_device import HOST, connect_packet  # noqa: E402  the tests' MQTT 3.1.1 wire helpers

HALF_CONNECT = b"\x10\x2a\x00\x04MQTT\x04"  # a CONNECT's fixed header and first bytes


def _held_sockets(port, source, count, first_bytes, stop, stats):
    """Keeps `count` sockets open (each sending `first_bytes`), opening a new one for each the
    gateway closes; counts how many it opened and how many the gateway closed."""
    sel = selectors.DefaultSelector()
    opened = closed = failed = 0
    while not stop.is_set():
        while len(sel.get_map()) < count and not stop.is_set():
            s = socket.socket()
            try:
                s.bind((source, 0))
                s.settimeout(2)
                s.connect(("127.0.0.1", port))
                if first_bytes:
                    s.sendall(first_bytes)
                s.setblocking(False)
            except OSError:
                s.close()
                failed += 1
                time.sleep(0.01)
                break
            sel.register(s, selectors.EVENT_READ)
            opened += 1
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed by the gateway
                sel.unregister(key.fileobj)
                key.fileobj.close()
                closed += 1
        stats.update(opened=opened, closed=closed, failed=failed, held=len(sel.get_map()))
    for key in list(sel.get_map().values()):
        key.fileobj.close()


def _tls_hellos(port, seconds, stats):
    procs = [subprocess.Popen(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
                               "-time", str(int(seconds))], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    done = 0
    for p in procs:
        try:
            out, _ = p.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            out = ""
        for line in out.splitlines():
            if "connections in" in line and "real seconds" in line:
                done += int(line.split()[0])
    stats.update(handshakes=done)


def _bad_passwords(port, source, stop, stats):
    counts = {"refused": 0, "other": 0}
    lock = threading.Lock()

    def one_thread(n):
        i = 0
        while not stop.is_set():
            device = "intruder%d-%d" % (n, i % 50)
            i += 1
            token = ("SharedAccessSignature sr=%s%%2Fdevices%%2F%s&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                     "AAAAAAAAAAAAA%%3D&se=%d" % (HOST, device, int(time.time()) + 3600))
            packet = connect_packet(device, token, keep_alive=30)
            outcome = "other"
            try:
                with socket.socket() as s:
                    s.bind((source, 0))
                    s.settimeout(5)
                    s.connect(("127.0.0.1", port))
                    s.sendall(packet)
                    ack = s.recv(4)
                    if len(ack) == 4 and ack[0] == 0x20 and ack[3] in (4, 5):
                        outcome = "refused"
            except OSError:
                pass
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=one_thread, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.5)
        with lock:
            stats.update(counts)
    for t in threads:
        t.join()
    stats.update(counts)


def run(kind, port, tls_port, seconds, stop, stats, source="127.0.0.2", count=2000):
    """`seconds`: how long the flood lasts at most (the hello flood runs exactly that long)."""
    if kind == "idle":
        _held_sockets(port, source, count, b"", stop, stats)
    elif kind == "half-connect":
        _held_sockets(port, source, count, HALF_CONNECT, stop, stats)
    elif kind == "hello":
        _tls_hellos(tls_port, seconds, stats)
    elif kind == "bad-password":
        _bad_passwords(port, source, stop, stats)
    else:
        raise ValueError(kind)
