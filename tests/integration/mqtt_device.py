"""MQTT devices for the adapter's process tests, written against the spec with raw sockets where a
test needs what a library hides (a PUBACK withheld, a keep-alive left to expire), and with
Debian's python3-paho-mqtt where a real client library is the point.

  mqtt_device.py c2d-abandon PORT DEVICE PASSWORD   receive a C2D message, drop the connection
                                                    without PUBACK, reconnect, receive it again
  mqtt_device.py keepalive PORT DEVICE PASSWORD     keep-alive 1 s, then silence: how long until
                                                    the gateway closes
  mqtt_device.py takeover PORT DEVICE PASSWORD N    N connections as one device, one after the
                                                    other: each closes the one before it
  mqtt_device.py malformed PORT DEVICE OTHER PASSWORD  malformed packets, each on its own
                                                    connection, closing that one only while
                                                    OTHER's connection keeps answering
  mqtt_device.py will PORT DEVICE PASSWORD          connect with a will, then drop the
                                                    connection without DISCONNECT
  mqtt_device.py paho-c2d PORT DEVICE PASSWORD N [FILTER]
                                                    paho: subscribe (to the devicebound filter
                                                    or FILTER), print N C2D messages
  mqtt_device.py paho-stream PORT DEVICE PASSWORD N paho: publish N QoS 1 messages, one at a
                                                    time, reconnecting as needed; print each
                                                    one PUBACKed ("acked BODY")
  mqtt_device.py paho-window PORT DEVICE PASSWORD N [RATE]
                                                    paho: publish N QoS 1 messages (at most RATE
                                                    a second) with paho's own window of 20 in
                                                    flight; print each one PUBACKed ("acked BODY")
  mqtt_device.py paho-twin PORT DEVICE PASSWORD      paho, as Azure's SDKs begin: subscribe to
                                                    twin responses and method calls, GET the
                                                    twin; print the SUBACK codes and the
                                                    response's topic
  mqtt_device.py paho-session PORT DEVICE PASSWORD CONTROL
                                                    paho, driven by the test: does what each
                                                    JSON line appended to the file CONTROL says
                                                    (subscribe, unsubscribe, publish, drop,
                                                    disconnect, connect, exit); prints one JSON
                                                    line per event ("connected", "suback",
                                                    "unsuback", "puback", "disconnected", and
                                                    "message" with its $iothub topic's parts)
Each prints one line per event; exit status 0 when the scenario ran to its end.
"""
import json
import socket
import struct
import sys
import time

HOST = "localhub.azure-devices.net"
TIMEOUT = 20


def string(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    out, n = bytearray([first]), len(body)
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out) + body


def connect_packet(device, password, keep_alive=60, clean=True, will=None):
    flags = 0xC0 | (0x02 if clean else 0) | (0x04 if will else 0)
    body = string("MQTT") + bytes([4, flags]) + struct.pack("!H", keep_alive) + string(device)
    if will:
        body += string(will[0]) + string(will[1])
    body += string(HOST + "/" + device + "/?api-version=2021-04-12") + string(password)
    return packet(0x10, body)


def read_packet(sock):
    """Returns (first byte, body), or None once the peer closed."""
    head = sock.recv(1)
    if not head:
        return None
    n, shift = 0, 0
    while True:
        b = sock.recv(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return head[0], body


def session(port, device, password, keep_alive=60, will=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(connect_packet(device, password, keep_alive, will=will))
    first, body = read_packet(sock)
    if first != 0x20 or body[1] != 0:
        sys.exit("CONNACK refused: %r" % body)
    return sock


def subscribe_c2d(sock, device):
    sock.sendall(packet(0x82, struct.pack("!H", 1) +
                        string("devices/%s/messages/devicebound/#" % device) + bytes([1])))
    first, body = read_packet(sock)
    if first != 0x90 or body[2] != 1:
        sys.exit("SUBACK refused: %r" % body)


def next_publish(sock):
    first, body = read_packet(sock)
    if first >> 4 != 3:
        sys.exit("expected PUBLISH, got type %d" % (first >> 4))
    topic_len = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + topic_len].decode()
    packet_id = struct.unpack("!H", body[2 + topic_len:4 + topic_len])[0]
    return topic, body[4 + topic_len:].decode(), bool(first & 0x08), packet_id


def c2d_abandon(port, device, password):
    sock = session(port, device, password)
    subscribe_c2d(sock, device)
    print("subscribed", flush=True)
    topic, payload, dup, _ = next_publish(sock)
    print("first dup=%d %s %s" % (dup, payload, topic), flush=True)
    sock.close()  # no PUBACK: the message is abandoned
    sock = session(port, device, password)
    subscribe_c2d(sock, device)
    topic, payload, dup, packet_id = next_publish(sock)
    print("again dup=%d %s" % (dup, payload), flush=True)
    sock.sendall(packet(0x40, struct.pack("!H", packet_id)))
    sock.sendall(packet(0xE0, b""))
    sock.close()


def keepalive(port, device, password):
    sock = session(port, device, password, keep_alive=1)
    start = time.monotonic()
    if read_packet(sock) is not None:
        sys.exit("expected the gateway to close the connection")
    print("closed after %.1f s" % (time.monotonic() - start), flush=True)


def takeover(port, device, password, count):
    older = session(port, device, password)
    for i in range(1, count):
        newer = session(port, device, password)
        if read_packet(older) is not None:
            sys.exit("connection %d was not closed by connection %d" % (i, i + 1))
        print("connection %d closed by connection %d" % (i, i + 1), flush=True)
        older = newer
    older.sendall(packet(0xC0, b""))
    first, _ = read_packet(older)
    if first != 0xD0:
        sys.exit("the newest connection does not answer PINGREQ")
    print("the newest connection answers", flush=True)


MALFORMED = {  # after a good CONNECT; the gateway must close that connection
    "reserved packet type 0": b"\x00\x00",
    "reserved packet type 15": b"\xf0\x00",
    "remaining length of five bytes": b"\x30\xff\xff\xff\xff\x01",
    "oversize packet": b"\x30\xff\xff\x7f",
    "PUBLISH QoS 3": b"\x36\x03\x00\x01t",
    "wildcard in a PUBLISH topic": b"\x30\x05\x00\x03a/#",
    "invalid UTF-8 in a topic": b"\x30\x04\x00\x02\xc3\x28",
    "truncated topic": b"\x30\x03\x00\x09t",
    "SUBSCRIBE without its 0010 flags": b"\x80\x06\x00\x01\x00\x01a\x00",
    "SUBSCRIBE QoS 3": b"\x82\x06\x00\x01\x00\x01a\x03",
    "PUBACK too long": b"\x40\x03\x00\x01\x00",
    "PINGREQ with a body": b"\xc0\x01\x00",
    "a second CONNECT": connect_packet("x", "y"),
    "QoS 2 PUBLISH": b"\x34\x1f\x00\x1bdevices/%s/messages/events/\x00\x01",
}


def malformed(port, device, other, password):
    keeper = session(port, other, password)
    for name, data in MALFORMED.items():
        if b"%s" in data:
            data = data.replace(b"%s", device.encode())
        sock = session(port, device, password)
        sock.sendall(data)
        if read_packet(sock) is not None:
            sys.exit("not closed after %s" % name)
        keeper.sendall(packet(0xC0, b""))
        first, _ = read_packet(keeper)
        if first != 0xD0:
            sys.exit("the other connection stopped answering after %s" % name)
        print("closed after %s; the other connection answers" % name, flush=True)


def will(port, device, password):
    sock = session(port, device, password,
                   will=("devices/%s/messages/events/state=offline" % device, "gone"))
    sock.close()
    print("dropped", flush=True)


def paho_c2d(port, device, password, count, topic_filter=None):
    import paho.mqtt.client as mqtt
    topic_filter = topic_filter or "devices/%s/messages/devicebound/#" % device
    got = []
    client = mqtt.Client(client_id=device, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(HOST + "/" + device + "/?api-version=2021-04-12", password)
    client.on_connect = lambda c, u, f, rc: (
        c.subscribe(topic_filter, qos=1))
    client.on_subscribe = lambda c, u, mid, granted: print("subscribed %s" % list(granted),
                                                           flush=True)
    def on_message(c, u, msg):
        got.append(msg)
        print("message %s %s" % (msg.payload.decode(), msg.topic), flush=True)
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=30)
    deadline = time.monotonic() + TIMEOUT
    while len(got) < count and time.monotonic() < deadline:
        client.loop(timeout=0.2)
    for _ in range(5):  # let the PUBACKs go out
        client.loop(timeout=0.1)
    client.disconnect()
    if len(got) < count:
        sys.exit("only %d of %d messages" % (len(got), count))


def paho_twin(port, device, password):
    import paho.mqtt.client as mqtt
    got = []
    client = mqtt.Client(client_id=device, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(HOST + "/" + device + "/?api-version=2021-04-12", password)
    client.on_connect = lambda c, u, f, rc: c.subscribe(
        [("$iothub/twin/res/#", 1), ("$iothub/methods/POST/#", 1)])
    def on_subscribe(c, u, mid, granted):
        print("subscribed %s" % list(granted), flush=True)
        c.publish("$iothub/twin/GET/?$rid=7", b"", qos=1)
    def on_message(c, u, msg):
        got.append(msg)
        print("response %s" % msg.topic, flush=True)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=30)
    deadline = time.monotonic() + TIMEOUT
    while not got and time.monotonic() < deadline:
        client.loop(timeout=0.2)
    client.disconnect()
    if not got:
        sys.exit("no twin response")


def paho_stream(port, device, password, count):
    """One QoS 1 message in flight at a time: a message is ACKed exactly when its PUBACK came.
    When the gateway closes the connection (the hub went away), reconnect and send the
    unacknowledged one again, as device SDKs do."""
    import paho.mqtt.client as mqtt
    state = {"acked": None}
    client = mqtt.Client(client_id=device, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(HOST + "/" + device + "/?api-version=2021-04-12", password)
    client.on_publish = lambda c, u, mid: state.update(acked=mid)
    deadline = time.monotonic() + 120
    i = 0
    while i < count and time.monotonic() < deadline:
        try:
            if not client.is_connected():
                client.reconnect() if i else client.connect("127.0.0.1", port, keepalive=30)
                for _ in range(20):
                    client.loop(timeout=0.05)
                    if client.is_connected():
                        break
            body = "m-%d" % i
            info = client.publish("devices/%s/messages/events/" % device, body, qos=1)
            state["acked"] = None
            until = time.monotonic() + 10
            while state["acked"] != info.mid and client.is_connected() and time.monotonic() < until:
                client.loop(timeout=0.05)
            if state["acked"] == info.mid:
                print("acked " + body, flush=True)
                i += 1
            else:
                client.disconnect()
                time.sleep(0.2)
        except (OSError, ConnectionError):
            time.sleep(0.2)
    if i < count:
        sys.exit("only %d of %d acknowledged" % (i, count))


def paho_window(port, device, password, count, rate=0):
    """A stream as fast as the gateway answers: paho keeps 20 messages in flight and queues the
    rest. paho reconnects by itself and sends unacknowledged messages again."""
    import queue
    import threading
    import paho.mqtt.client as mqtt
    client = mqtt.Client(client_id=device, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(HOST + "/" + device + "/?api-version=2021-04-12", password)
    client.max_inflight_messages_set(20)
    # paho calls on_publish holding the lock its publish() takes: hand the PUBACK to this
    # thread rather than take a lock of ours there.
    pubacks = queue.Queue()
    client.on_publish = lambda c, u, mid: pubacks.put(mid)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc: rc == 0 and connected.set()
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not connected.wait(TIMEOUT):
        sys.exit("no CONNACK 0")
    topic = "devices/%s/messages/events/" % device
    body_of, acked = {}, set()
    start = time.monotonic()
    deadline = start + 100

    def take_pubacks(wait):
        try:
            while True:
                body = body_of.get(pubacks.get(timeout=wait))
                wait = 0
                if body is not None and body not in acked:
                    acked.add(body)
                    print("acked " + body, flush=True)
        except queue.Empty:
            pass

    for i in range(count):  # queued by paho; sent as the window allows
        body_of[client.publish(topic, "m-%d" % i, qos=1).mid] = "m-%d" % i
        if rate and i % 50 == 49:  # paced: the stream lasts count / rate seconds
            take_pubacks(max(0.0, start + (i + 1) / rate - time.monotonic()))
    while len(acked) < count and time.monotonic() < deadline:
        take_pubacks(1)
    client.disconnect()
    client.loop_stop()
    if len(acked) < count:
        sys.exit("only %d of %d acknowledged" % (len(acked), count))


def topic_parts(topic):
    """What a test asserts on in a topic the hub's side sends: for `$iothub/twin/res/{status}/`,
    `$iothub/methods/POST/{method}/` and `$iothub/twin/PATCH/properties/desired/`, the kind, the
    status or method, and the property bag's values exactly as written (the rid is echoed
    undecoded, so it is compared undecoded)."""
    path, _, bag = topic.partition("?")
    parts = {}
    for item in bag.split("&") if bag else []:
        key, _, value = item.partition("=")
        parts[key] = value
    out = {}
    if "$rid" in parts:
        out["rid"] = parts["$rid"]
    if "$version" in parts:
        out["version"] = int(parts["$version"])
    levels = path.rstrip("/").split("/")
    if path.startswith("$iothub/twin/res/"):
        out.update(kind="twin_response", status=int(levels[3]))
    elif path.startswith("$iothub/twin/PATCH/properties/desired"):
        out["kind"] = "desired_patch"
    elif path.startswith("$iothub/methods/POST/"):
        out.update(kind="method_call", method=levels[3])
    else:
        out["kind"] = "other"
    return out


def paho_session(port, device, password, control, time_limit=120):
    """One paho client on one thread, so events print in the order paho saw them. Nothing is
    subscribed or sent unless CONTROL asks; a connection the gateway closes stays closed (no
    automatic reconnect) so a test sees it as a "disconnected" event."""
    import paho.mqtt.client as mqtt

    def emit(event, **fields):
        print(json.dumps(dict(event=event, **fields), sort_keys=True), flush=True)

    client = mqtt.Client(client_id=device, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(HOST + "/" + device + "/?api-version=2021-04-12", password)
    state = {"asked": False, "up": False}
    topic_of = {}
    client.on_connect = lambda c, u, f, rc: (state.update(up=rc == 0), emit("connected", rc=rc))
    client.on_subscribe = lambda c, u, mid, granted: emit("suback", granted=list(granted))
    client.on_unsubscribe = lambda c, u, mid: emit("unsuback")
    # paho says QoS 0 went out, from within publish(), before topic_of could know it: "sent".
    client.on_publish = lambda c, u, mid: (
        emit("puback", topic=topic_of.pop(mid)) if mid in topic_of else emit("sent"))

    def on_disconnect(c, u, rc):
        state["up"] = False
        emit("disconnected", rc=rc, asked=state["asked"])
    client.on_disconnect = on_disconnect

    def on_message(c, u, msg):
        emit("message", topic=msg.topic, payload=msg.payload.decode("utf-8", "replace"),
             qos=msg.qos, **topic_parts(msg.topic))
    client.on_message = on_message

    def do(cmd):
        what = cmd["do"]
        if what == "subscribe":
            client.subscribe([(f, cmd.get("qos", 1)) for f in cmd["filters"]])
        elif what == "unsubscribe":
            client.unsubscribe(cmd["filters"])
        elif what == "publish":
            qos = cmd.get("qos", 1)
            info = client.publish(cmd["topic"], cmd.get("payload", "").encode(), qos=qos)
            if qos:
                topic_of[info.mid] = cmd["topic"]
        elif what == "drop":  # the network goes: no DISCONNECT, the socket just closes
            state["asked"] = True
            client.socket().shutdown(socket.SHUT_RDWR)
        elif what == "disconnect":
            state["asked"] = True
            client.disconnect()
        elif what == "connect":
            state["asked"] = False
            client.reconnect()
        elif what == "exit":
            state["asked"] = True
            if state["up"]:
                client.disconnect()
            return False
        return True

    client.connect("127.0.0.1", port, keepalive=30)
    deadline = time.monotonic() + time_limit
    pending = ""
    with open(control) as commands:
        while time.monotonic() < deadline:
            if client.loop(timeout=0.02) != mqtt.MQTT_ERR_SUCCESS:
                time.sleep(0.02)
            pending += commands.read()
            while "\n" in pending:
                line, pending = pending.split("\n", 1)
                if line.strip() and not do(json.loads(line)):
                    for _ in range(5):  # the DISCONNECT goes out
                        client.loop(timeout=0.02)
                    return
    sys.exit("no exit command within %d s" % time_limit)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "c2d-abandon":
        c2d_abandon(int(args[0]), args[1], args[2])
    elif cmd == "malformed":
        malformed(int(args[0]), args[1], args[2], args[3])
    elif cmd == "will":
        will(int(args[0]), args[1], args[2])
    elif cmd == "takeover":
        takeover(int(args[0]), args[1], args[2], int(args[3]))
    elif cmd == "keepalive":
        keepalive(int(args[0]), args[1], args[2])
    elif cmd == "paho-c2d":
        paho_c2d(int(args[0]), args[1], args[2], int(args[3]), *args[4:5])
    elif cmd == "paho-twin":
        paho_twin(int(args[0]), args[1], args[2])
    elif cmd == "paho-stream":
        paho_stream(int(args[0]), args[1], args[2], int(args[3]))
    elif cmd == "paho-window":
        paho_window(int(args[0]), args[1], args[2], int(args[3]), *map(int, args[4:5]))
    elif cmd == "paho-session":
        paho_session(int(args[0]), args[1], args[2], args[3])
    else:
        sys.exit(__doc__)
