"""The far side of the bridge's `amqp` flavour, with a client nobody here wrote (Debian's
python3-qpid-proton): reads what the gateway put on a broker's address, or puts a message there.

  amqp_peer.py receive URL ADDRESS COUNT   prints one JSON line per message, then exits 0
  amqp_peer.py send URL ADDRESS BODY       sends one message, waits for the broker's accept
"""
import json
import sys

from proton import Message
from proton.utils import BlockingConnection

TIMEOUT = 20


def connect(url):
    return BlockingConnection(url, timeout=TIMEOUT, user="guest", password="guest",
                              allowed_mechs="PLAIN", allow_insecure_mechs=True)


def receive(url, address, count):
    conn = connect(url)
    receiver = conn.create_receiver(address, credit=count)
    for _ in range(count):
        m = receiver.receive(timeout=TIMEOUT)
        body = m.body.decode() if isinstance(m.body, (bytes, memoryview)) else m.body
        annotations = {str(k): str(v) for k, v in (m.annotations or {}).items()}
        print(json.dumps({"body": body, "to": m.address, "properties": m.properties or {},
                          "device": annotations.get("iothub-connection-device-id")}),
              flush=True)
        receiver.accept()
    conn.close()


def send(url, address, body):
    conn = connect(url)
    conn.create_sender(address).send(Message(body=body))
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "receive":
        receive(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
