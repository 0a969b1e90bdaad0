"""A back end on the far side of iotgw-hub, written only with libraries nobody here wrote
(python3-qpid-proton, python3-cryptography, python3-zstandard), that reads and writes the
aes-gcm envelope as its documentation says (plugins/aes-gcm/envelope.hpp).

  service_peer.py receive URL HUB SERVICE_KEY KEY_FILE[,KEY_FILE...]|- COUNT [--dict FILE]
      reads COUNT telemetry messages; prints one JSON line each: device, text, properties,
      the key id that sealed it, the zstd dictionary id of the frame
  service_peer.py send URL HUB SERVICE_KEY KEY_FILE|- DEVICE TEXT [--prop NAME=VALUE ...]
                  [--bomb BYTES]
      compresses (zstd), encrypts (the envelope, bound to DEVICE; not with -) and sends TEXT as
      C2D; --bomb sends BYTES zero bytes instead, compressed to a few hundred
  service_peer.py train OUT SAMPLE_TEXT
      trains a zstd dictionary from variations of SAMPLE_TEXT (its "N" replaced by numbers)
A KEY_FILE of - means no encryption.
"""
import argparse
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


def receive(url, hub, service_key, key_files, count, dict_file=None):
    keys = {}
    for f in key_files.split(",") if key_files != "-" else []:
        key, key_id = read_key(f)
        keys[key_id.decode()] = key
    zstd_dict = zstandard.ZstdCompressionDict(open(dict_file, "rb").read()) if dict_file else None
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
        dict_id = None
        if m.content_encoding == "zstd":
            dict_id = zstandard.get_frame_parameters(data).dict_id
            data = zstandard.ZstdDecompressor(dict_data=zstd_dict).decompress(
                data, max_output_size=1 << 20)
        print(json.dumps({"device": device, "text": data.decode(), "properties": props,
                          "key_id": key_id, "wire_bytes": len(bytes(m.body)),
                          "dict_id": dict_id}), flush=True)
    conn.close()


def send(url, hub, service_key, key_file, device, text, props=(), bomb=0):
    data = bytes(bomb) if bomb else text.encode()
    # A bomb declares no size in its frame: the gateway learns it only by decompressing.
    compressed = zstandard.ZstdCompressor(write_content_size=not bomb).compress(data)
    properties = dict(p.split("=", 1) for p in props)
    body = compressed
    if key_file != "-":
        key, key_id = read_key(key_file)
        head = bytes([1, len(key_id)]) + key_id
        nonce = os.urandom(12)
        body = head + nonce + AESGCM(key).encrypt(nonce, compressed, head + device.encode())
        properties["iotgw-encryption"] = SCHEME
    conn = service_connection(url, hub, service_key)
    msg = Message(body=body, id=str(uuid.uuid4()),
                  address="/devices/%s/messages/devicebound" % device, properties=properties)
    msg.content_encoding = "zstd"
    msg.inferred = True
    conn.create_sender("/messages/devicebound").send(msg)
    conn.close()
    print("sent %d bytes" % len(body), flush=True)


def train(out, sample):
    samples = [sample.replace("N", str(i * 7919 % 1000)).encode() for i in range(2000)]
    trained = zstandard.train_dictionary(4096, samples)
    open(out, "wb").write(trained.as_bytes())
    print("dictionary %d" % trained.dict_id(), flush=True)


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    rx = sub.add_parser("receive")
    for name in ("url", "hub", "service_key", "key_files"):
        rx.add_argument(name)
    rx.add_argument("count", type=int)
    rx.add_argument("--dict")
    tx = sub.add_parser("send")
    for name in ("url", "hub", "service_key", "key_file", "device", "text"):
        tx.add_argument(name)
    tx.add_argument("--prop", action="append", default=[])
    tx.add_argument("--bomb", type=int, default=0)
    tr = sub.add_parser("train")
    tr.add_argument("out")
    tr.add_argument("sample")
    a = parser.parse_args()
    if a.cmd == "receive":
        receive(a.url, a.hub, a.service_key, a.key_files, a.count, a.dict)
    elif a.cmd == "send":
        send(a.url, a.hub, a.service_key, a.key_file, a.device, a.text, a.prop, a.bomb)
    else:
        train(a.out, a.sample)


if __name__ == "__main__":
    main()
