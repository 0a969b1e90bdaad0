"""A back end on the far side of iotgw-hub, written only with libraries nobody here wrote
(python3-qpid-proton, python3-cryptography, python3-zstandard), that reads and writes the
aes-gcm envelope as its documentation says (plugins/aes-gcm/envelope.hpp).

  service_peer.py receive URL HUB SERVICE_KEY KEY_FILE[,KEY_FILE...] COUNT
      reads COUNT telemetry messages; prints one JSON line each: device, text, properties,
      the key id that sealed it
  service_peer.py send URL HUB SERVICE_KEY KEY_FILE DEVICE TEXT
      compresses (zstd), encrypts (the envelope, bound to DEVICE) and sends TEXT as C2D
"""
import base64
import json
import os
import sys
import uuid

import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from proton import Message, symbol
from proton.utils import BlockingConnection

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hub"))
import hub_fixture as hf  # noqa: E402  (SAS tokens, made independently in Python)

SCHEME = "aes-256-gcm/1"


def read_key(path):
    raw = open(path, "rb").read().strip()
    key = raw if len(raw) == 32 else base64.b64decode(raw)
    key_id = os.path.splitext(os.path.basename(path))[0].encode()
    return key, key_id


def service_connection(url, hub, service_key):
    token = hf.make_token(hub, service_key, policy="service")
    return BlockingConnection(url, timeout=20, allowed_mechs="PLAIN",
                              user="service@sas.root." + hub.split(".")[0], password=token)


def open_envelope(key, envelope, device):
    if envelope[0] != 1:
        raise ValueError("envelope version %d" % envelope[0])
    n = envelope[1]
    head = envelope[:2 + n]
    nonce = envelope[2 + n:14 + n]
    return AESGCM(key).decrypt(nonce, envelope[14 + n:], head + device.encode())


def receive(url, hub, service_key, key_files, count):
    keys = {}
    for f in key_files.split(","):
        key, key_id = read_key(f)
        keys[key_id.decode()] = key
    conn = service_connection(url, hub, service_key)
    rx = conn.create_receiver(hf.service_address(), credit=count)
    for _ in range(count):
        m = rx.receive(timeout=20)
        rx.accept()
        device = str(m.annotations.get(symbol("iothub-connection-device-id")))
        props = dict(m.properties or {})
        data = bytes(m.body)
        key_id = None
        if props.get("iotgw-encryption") == SCHEME:
            key_id = data[2:2 + data[1]].decode()
            data = open_envelope(keys[key_id], data, device)
        if m.content_encoding == "zstd":
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 20)
        print(json.dumps({"device": device, "text": data.decode(), "properties": props,
                          "key_id": key_id, "wire_bytes": len(bytes(m.body))}), flush=True)
    conn.close()


def send(url, hub, service_key, key_file, device, text):
    key, key_id = read_key(key_file)
    compressed = zstandard.ZstdCompressor().compress(text.encode())
    head = bytes([1, len(key_id)]) + key_id
    nonce = os.urandom(12)
    envelope = head + nonce + AESGCM(key).encrypt(nonce, compressed, head + device.encode())
    conn = service_connection(url, hub, service_key)
    msg = Message(body=envelope, id=str(uuid.uuid4()),
                  address="/devices/%s/messages/devicebound" % device,
                  properties={"iotgw-encryption": SCHEME})
    msg.content_encoding = "zstd"
    msg.inferred = True
    conn.create_sender("/messages/devicebound").send(msg)
    conn.close()
    print("sent", flush=True)


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "receive" and len(a) == 5:
        receive(a[0], a[1], a[2], a[3], int(a[4]))
    elif cmd == "send" and len(a) == 6:
        send(*a)
    else:
        sys.exit(__doc__)
