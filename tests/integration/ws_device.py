"""WebSocket clients for the gateway's ws and wss listeners: Debian's python3-paho-mqtt for MQTT
over WebSockets, and raw sockets where a test must send what a library never would.

  ws_device.py paho PORT DEVICE PASSWORD PATH [--ca CA] [--cert CERT --key KEY] [--header K=V]
      paho over WebSockets (wss with --ca): subscribe to C2D, print "subscribed"; publish one
      QoS 1 message, print "acked"; print "message BODY" for the first C2D message. A refused
      login prints "connack N" and exits 1.
  ws_device.py upgrade PORT [--ca CA] [--path P] [--protocol X] [--origin O] [--pad N]
      one handmade upgrade request (--pad adds a header of N bytes); prints the response's
      status code and its body's first line: "status 404 path '/x' is not /$iothub/websocket"
  ws_device.py silent PORT [--ca CA]
      connect (and, with --ca, finish TLS), send nothing; print "closed" once the gateway closes
      the socket, or "open" after 30 s
  ws_device.py text PORT
      upgrade, send one masked text frame; print "close CODE" for the close frame that answers
Each exits 0 when the scenario ran to its end.
"""
import argparse
import os
import socket
import ssl
import struct
import sys
import time

HOST = "localhub.azure-devices.net"
TIMEOUT = 20


def connect(port, ca=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return sock


def request(port, path, protocol=None, origin=None, pad=0):
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    if protocol:
        lines.append("Sec-WebSocket-Protocol: " + protocol)
    if origin:
        lines.append("Origin: " + origin)
    if pad:
        lines.append("X-Pad: " + "a" * pad)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock):
    """The status code and the body's first line; ("closed", "") when nothing came."""
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and (b" 101 " in head.split(b"\r\n")[0] or body.endswith(b"\n")):
                break
    except (ConnectionError, ssl.SSLError):
        pass
    if not data:
        return "closed", ""
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].split(b" ")[1].decode()
    return status, body.decode(errors="replace").split("\n")[0]


def upgrade(args):
    sock = connect(args.port, args.ca)
    sock.sendall(request(args.port, args.path, args.protocol, args.origin, args.pad))
    status, body = read_response(sock)
    print("status %s %s" % (status, body), flush=True)


def silent(args):
    sock = connect(args.port, None)
    if args.ca:  # the handshake completes; then nothing
        sock = ssl.create_default_context(cafile=args.ca).wrap_socket(
            sock, server_hostname="localhost")
    sock.settimeout(30)
    try:
        closed = sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        closed = True
    except socket.timeout:
        closed = False
    print("closed" if closed else "open", flush=True)


def frame(opcode, payload):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def text(args):
    sock = connect(args.port)
    sock.sendall(request(args.port, "/$iothub/websocket", "mqtt"))
    status, _ = read_response(sock)
    if status != "101":
        sys.exit("upgrade answered %s" % status)
    sock.sendall(frame(0x1, b"not binary"))
    data = b""
    while len(data) < 4:
        chunk = sock.recv(64)
        if not chunk:
            break
        data += chunk
    if len(data) >= 4 and data[0] & 0x0F == 0x8:
        print("close %d" % struct.unpack("!H", data[2:4])[0], flush=True)
    else:
        print("no close frame: %r" % data, flush=True)


def paho(args):
    import paho.mqtt.client as mqtt
    client = mqtt.Client(client_id=args.device, clean_session=True, protocol=mqtt.MQTTv311,
                         transport="websockets")
    headers = dict(h.split("=", 1) for h in args.header)
    client.ws_set_options(path=args.path, headers=headers or None)
    if args.ca:
        client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)
    client.username_pw_set(HOST + "/" + args.device + "/?api-version=2021-04-12", args.password)
    state = {"connack": None, "acked": False, "c2d": None}

    def on_connect(c, u, f, rc):
        state["connack"] = rc
        if rc == 0:
            c.subscribe("devices/%s/messages/devicebound/#" % args.device, qos=1)

    def on_subscribe(c, u, mid, granted):
        print("subscribed %s" % list(granted), flush=True)
        c.publish("devices/%s/messages/events/" % args.device, "hello over websockets", qos=1)

    def on_publish(c, u, mid):
        state["acked"] = True
        print("acked", flush=True)

    def on_message(c, u, msg):
        state["c2d"] = msg.payload.decode()
        print("message %s" % state["c2d"], flush=True)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message
    client.connect("127.0.0.1", args.port, keepalive=30)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and state["c2d"] is None:
        if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS and state["connack"] is not None:
            break
        if state["connack"] not in (None, 0):
            break
    for _ in range(5):  # let the C2D PUBACK go out
        client.loop(timeout=0.1)
    client.disconnect()
    if state["connack"] != 0:
        print("connack %s" % state["connack"], flush=True)
        sys.exit(1)
    sys.exit(0 if state["acked"] and state["c2d"] is not None else 1)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("paho")
    p.add_argument("port", type=int)
    p.add_argument("device")
    p.add_argument("password")
    p.add_argument("path")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--header", action="append", default=[])
    p.set_defaults(run=paho)
    u = sub.add_parser("upgrade")
    u.add_argument("port", type=int)
    u.add_argument("--ca")
    u.add_argument("--path", default="/$iothub/websocket")
    u.add_argument("--protocol", default="mqtt")
    u.add_argument("--origin")
    u.add_argument("--pad", type=int, default=0)
    u.set_defaults(run=upgrade)
    s = sub.add_parser("silent")
    s.add_argument("port", type=int)
    s.add_argument("--ca")
    s.set_defaults(run=silent)
    t = sub.add_parser("text")
    t.add_argument("port", type=int)
    t.set_defaults(run=text)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
