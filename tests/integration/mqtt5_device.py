"""MQTT 5 devices for the adapter's process tests: Debian's python3-paho-mqtt with protocol
MQTTv5 where a real client library is the point, and a raw socket where a test must read what
paho 1.6 does not hand its user (a PUBACK's reason code and reason string).

  mqtt5_device.py publish PORT DEVICE PASSWORD      paho: CONNECT (print CONNACK's properties),
                                                    one QoS 1 PUBLISH with every message property
  mqtt5_device.py c2d PORT DEVICE PASSWORD N        paho: SUBSCRIBE devicebound and a shared and
                                                    a foreign filter (print the SUBACK codes),
                                                    print N C2D messages with their properties
  mqtt5_device.py session PORT DEVICE PASSWORD PHASE   paho, session expiry 600 s: `subscribe`
                                                    (clean start, subscribe, disconnect), or
                                                    `resume` (no clean start, no subscribe; print
                                                    session present and the next C2D message)
  mqtt5_device.py takeover PORT DEVICE PASSWORD     paho: a second connection as the same device;
                                                    print the reason the first was disconnected
  mqtt5_device.py wait-disconnect PORT DEVICE PASSWORD   paho: connect, print "connected", then
                                                    the server's DISCONNECT reason and reference
  mqtt5_device.py refused PORT DEVICE PASSWORD SIZE raw: a QoS 1 PUBLISH of SIZE bytes, then one
                                                    of 5; print each PUBACK's code and reason
  mqtt5_device.py twin PORT DEVICE PASSWORD         paho: GET the twin over $iothub topics
  --ws PATH before the scenario: paho's clients speak MQTT over WebSockets on PATH.
Each prints one JSON line per event; exit status 0 when the scenario ran to its end.
"""
import json
import socket
import struct
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_device import packet, read_packet, string  # the 3.1.1 devices' raw wire helpers

HOST = "localhub.azure-devices.net"
TIMEOUT = 20
WS_PATH = None  # --ws: MQTT over WebSockets on this path


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def user(device):
    return HOST + "/" + device + "/?api-version=2021-04-12"


def props_dict(props):
    if props is None:
        return {}
    out = {}
    for name in ("ReceiveMaximum", "MaximumQoS", "RetainAvailable", "MaximumPacketSize",
                 "TopicAliasMaximum", "WildcardSubscriptionAvailable",
                 "SubscriptionIdentifierAvailable", "SharedSubscriptionAvailable",
                 "ServerKeepAlive", "SessionExpiryInterval", "ReasonString", "ServerReference",
                 "ContentType", "ResponseTopic", "MessageExpiryInterval",
                 "PayloadFormatIndicator"):
        if hasattr(props, name):
            out[name] = getattr(props, name)
    if hasattr(props, "CorrelationData"):
        out["CorrelationData"] = props.CorrelationData.decode(errors="replace")
    if hasattr(props, "UserProperty"):
        out["UserProperty"] = [list(p) for p in props.UserProperty]
    return out


class Device:
    """A paho MQTTv5 client whose callbacks land in events the scenario waits for."""

    def __init__(self, port, device, password, clean_start=True, expiry=None):
        self.events = []
        self.cond = threading.Condition()
        if WS_PATH is None:
            self.client = mqtt.Client(client_id=device, protocol=mqtt.MQTTv5)
        else:
            self.client = mqtt.Client(client_id=device, protocol=mqtt.MQTTv5,
                                      transport="websockets")
            self.client.ws_set_options(path=WS_PATH)
        self.client.username_pw_set(user(device), password)
        self.client.on_connect = lambda c, u, f, rc, p: self.add(
            "connected", reason=rc.value, session_present=bool(f["session present"]),
            props=props_dict(p))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.add(
            "suback", codes=[rc.value for rc in rcs])
        self.client.on_publish = lambda c, u, mid: self.add("puback", mid=mid)
        self.client.on_message = lambda c, u, m: self.add(
            "message", topic=m.topic, payload=m.payload.decode(errors="replace"), qos=m.qos,
            props=props_dict(getattr(m, "properties", None)))
        self.client.on_disconnect = lambda c, u, rc, p=None: self.add(
            "disconnected", reason=getattr(rc, "value", rc), props=props_dict(p))
        props = None
        if expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = expiry
        self.client.connect("127.0.0.1", port, keepalive=30, clean_start=clean_start,
                            properties=props)
        self.client.loop_start()
        self.connack = self.wait("connected")
        emit("connected", reason=self.connack["reason"],
             session_present=self.connack["session_present"], props=self.connack["props"])
        if self.connack["reason"] != 0:
            sys.exit("CONNACK refused")

    def add(self, event, **fields):
        with self.cond:
            self.events.append(dict(event=event, **fields))
            self.cond.notify_all()

    def wait(self, event):
        deadline = time.time() + TIMEOUT
        with self.cond:
            while True:
                for i, e in enumerate(self.events):
                    if e["event"] == event:
                        return self.events.pop(i)
                left = deadline - time.time()
                if left <= 0:
                    sys.exit("no %s within %d s" % (event, TIMEOUT))
                self.cond.wait(left)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def publish(port, device, password):
    d = Device(port, device, password)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("colour", "red"), ("colour", "blue"), ("unit", "C")]
    props.ContentType = "application/json"
    props.CorrelationData = b"corr-42"
    props.ResponseTopic = "devices/%s/replies" % device
    props.MessageExpiryInterval = 600
    props.PayloadFormatIndicator = 1
    d.client.publish("devices/%s/messages/events/" % device, '{"t":5}', qos=1, properties=props)
    d.wait("puback")
    emit("published")
    d.stop()


def c2d(port, device, password, count):
    d = Device(port, device, password)
    d.client.subscribe([("devices/%s/messages/devicebound/#" % device, 1),
                        ("$share/g/devices/%s/messages/devicebound/#" % device, 1),
                        ("sensors/#", 1)])
    emit("suback", codes=d.wait("suback")["codes"])
    for _ in range(count):
        m = d.wait("message")
        emit("message", topic=m["topic"], payload=m["payload"], qos=m["qos"], props=m["props"])
    d.stop()


def session(port, device, password, phase):
    if phase == "subscribe":
        d = Device(port, device, password, clean_start=True, expiry=600)
        d.client.subscribe("devices/%s/messages/devicebound/#" % device, 1)
        emit("suback", codes=d.wait("suback")["codes"])
        d.stop()
        return
    d = Device(port, device, password, clean_start=False, expiry=600)
    m = d.wait("message")
    emit("message", payload=m["payload"])
    d.stop()


def takeover(port, device, password):
    first = Device(port, device, password)
    first.client.reconnect_delay_set(60, 60)  # the first must not come back and take over again
    Device(port, device, password)
    gone = first.wait("disconnected")
    emit("first disconnected", reason=gone["reason"], props=gone["props"])


def wait_disconnect(port, device, password):
    d = Device(port, device, password)
    d.client.reconnect_delay_set(60, 60)
    gone = d.wait("disconnected")
    emit("disconnected", reason=gone["reason"], props=gone["props"])


def twin(port, device, password):
    d = Device(port, device, password)
    d.client.subscribe("$iothub/twin/res/#", 0)
    d.wait("suback")
    d.client.publish("$iothub/twin/GET/?$rid=1", b"", qos=0)
    m = d.wait("message")
    emit("message", topic=m["topic"], payload=m["payload"])
    d.stop()


# Raw MQTT 5, for what paho 1.6 keeps to itself.
def reason_string(props):
    """The reason string (0x1F) of a property block, skipping what comes before it."""
    at = 0
    while at < len(props):
        pid = props[at]
        at += 1
        if pid == 0x1F:
            n = struct.unpack("!H", props[at:at + 2])[0]
            return props[at + 2:at + 2 + n].decode()
        if pid == 0x26:
            for _ in range(2):
                at += 2 + struct.unpack("!H", props[at:at + 2])[0]
        else:
            return None
    return None


def refused(port, device, password, size):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    body = string("MQTT") + bytes([5, 0xC2]) + struct.pack("!H", 60) + b"\x00" + string(device)
    body += string(user(device)) + string(password)
    sock.sendall(packet(0x10, body))
    first, ack = read_packet(sock)
    if first != 0x20 or ack[1] != 0:
        sys.exit("CONNACK refused: %r" % ack)
    for packet_id, payload in ((1, b"x" * size), (2, b"small")):
        pub = string("devices/%s/messages/events/" % device) + struct.pack("!H", packet_id)
        sock.sendall(packet(0x32, pub + b"\x00" + payload))
        got = read_packet(sock)
        if got is None or got[0] != 0x40:
            sys.exit("expected PUBACK, got %r" % (got,))
        code = got[1][2] if len(got[1]) > 2 else 0
        why = reason_string(got[1][4:]) if len(got[1]) > 4 else None
        emit("puback", packet_id=packet_id, reason=code, reason_string=why)
    sock.sendall(packet(0xE0, b""))
    sock.close()


def main(argv):
    global WS_PATH
    if argv[1] == "--ws":
        WS_PATH, argv = argv[2], argv[:1] + argv[3:]
    cmd, args = argv[1], argv[2:]
    port, device, password = int(args[0]), args[1], args[2]
    if cmd == "publish":
        publish(port, device, password)
    elif cmd == "c2d":
        c2d(port, device, password, int(args[3]))
    elif cmd == "session":
        session(port, device, password, args[3])
    elif cmd == "takeover":
        takeover(port, device, password)
    elif cmd == "wait-disconnect":
        wait_disconnect(port, device, password)
    elif cmd == "refused":
        refused(port, device, password, int(args[3]))
    elif cmd == "twin":
        twin(port, device, password)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
