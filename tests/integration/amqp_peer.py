"""The far side of the bridge's `amqp` flavour, with a client nobody here wrote (Debian's
python3-qpid-proton): reads what the gateway put on a broker's address, or puts a message there.

  amqp_peer.py receive URL ADDRESS COUNT   prints one JSON line per message, then exits 0
  amqp_peer.py drain URL ADDRESS           prints each message's body, one a line, until none
                                           has come for two seconds; then "drained N"
  amqp_peer.py declare URL ADDRESS         makes the durable queue behind ADDRESS (/queue/NAME)
  amqp_peer.py send URL ADDRESS BODY       sends one durable message, waits for the broker's accept

Links attach with durable termini, as the gateway's do: RabbitMQ declares the queue behind a
/queue/ address with the terminus's durability, and refuses an attach that disagrees with the
queue it already has.
"""
import json
import sys

from proton import Message, Terminus, Timeout
from proton.utils import BlockingConnection
from proton.reactor import LinkOption

TIMEOUT = 20


class DurableQueue(LinkOption):
    def apply(self, link):
        terminus = link.source if link.is_receiver else link.target
        terminus.durability = Terminus.CONFIGURATION


def connect(url):
    return BlockingConnection(url, timeout=TIMEOUT, user="guest", password="guest",
                              allowed_mechs="PLAIN", allow_insecure_mechs=True)


def text(body):
    return body.decode() if isinstance(body, (bytes, memoryview)) else body


def receive(url, address, count):
    conn = connect(url)
    receiver = conn.create_receiver(address, credit=count, options=DurableQueue())
    for _ in range(count):
        m = receiver.receive(timeout=TIMEOUT)
        annotations = {str(k): str(v) for k, v in (m.annotations or {}).items()}
        print(json.dumps({"body": text(m.body), "to": m.address, "properties": m.properties or {},
                          "device": annotations.get("iothub-connection-device-id"),
                          "durable": m.durable}),
              flush=True)
        receiver.accept()
    conn.close()


def drain(url, address):
    conn = connect(url)
    receiver = conn.create_receiver(address, credit=500, options=DurableQueue())
    n = 0
    while True:
        try:
            m = receiver.receive(timeout=2)
        except Timeout:
            break
        print(text(m.body))
        receiver.accept()
        n += 1
    print("drained %d" % n, flush=True)
    conn.close()


def declare(url, address):
    """RabbitMQ declares the queue behind the attach without waiting (queue.declare nowait), and
    a connection closed at once may take the declaration with it: attach again by the queue's
    own name (/amq/queue/, which declares nothing) until that works."""
    import time
    conn = connect(url)
    conn.create_receiver(address, credit=0, options=DurableQueue())
    name = address.rsplit("/", 1)[-1]
    deadline = time.monotonic() + TIMEOUT
    while True:
        probe = BlockingConnection(url, timeout=1, user="guest", password="guest",
                                   allowed_mechs="PLAIN", allow_insecure_mechs=True)
        try:
            probe.create_receiver("/amq/queue/" + name, credit=0)
            probe.close()
            break
        except Exception:  # the queue is not there yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    conn.close()


def send(url, address, body):
    conn = connect(url)
    conn.create_sender(address, options=DurableQueue()).send(Message(body=body, durable=True))
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "receive":
        receive(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "drain":
        drain(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "declare":
        declare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
