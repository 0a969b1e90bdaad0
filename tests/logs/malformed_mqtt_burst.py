"""Opens N connections to an MQTT listener at once, sends each a packet of the reserved type 0
(malformed from its first byte), and waits until the gateway has closed every one of them."""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"\x00\x00")
    conns.append(s)
closed = 0
for s in conns:
    try:
        while s.recv(256):
            pass
        closed += 1
    except OSError:
        closed += 1  # a reset is a close too
    finally:
        s.close()
print(closed)
