"""Test helper: JIM peers that end their connection with a real TCP reset.

Deno cannot set SO_LINGER, so it cannot reset a connection on purpose; this script does:
SO_LINGER with a zero timeout, then close(), makes the kernel send RST instead of FIN.

usage:
  reset_peer.py flood PORT COUNT
      COUNT connections, each reset right after it is established; prints "done COUNT".
  reset_peer.py session PORT USER PASSWORD
      logs in with SCRAM-SHA-256 and prints the final reply as one JSON line, then reads
      commands from stdin, one a line, printing "ok" after each:
        send JSON   send one JIM object (e.g. requests whose replies stay unread)
        reset       reset the connection and exit
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

LINGER_ZERO = struct.pack("ii", 1, 0)


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
    return sock


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
    sock.close()


def flood(port, count):
    for _ in range(count):
        reset(connect(port))
    print("done %d" % count, flush=True)


class Frames:
    """Reads the server's frames: compact JSON objects, each followed by a newline."""

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def next(self):
        line = self.file.readline()
        if not line:
            raise EOFError("server closed the connection")
        return json.loads(line)


def send(sock, obj):
    sock.sendall(json.dumps(obj).encode("utf-8") + b"\n")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def scram_login(sock, frames, user, password):
    send(sock, {"action": "presence", "time": int(time.time()), "user": {"account_name": user}})
    frames.next()
    nonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user, nonce)

    def step(message):
        send(sock, {"action": "authenticate", "time": int(time.time()),
                    "mechanism": "SCRAM-SHA-256", "user": {"account_name": user},
                    "data": b64(message.encode("utf-8"))})
        return frames.next()

    challenge = step("n,," + first_bare)
    if challenge.get("response") != 401:
        return challenge
    server_first = base64.b64decode(challenge["data"]).decode("utf-8")
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                                 base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_message = ",".join([first_bare, server_first, without_proof]).encode("utf-8")
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    return step(without_proof + ",p=" + b64(proof))


def session(port, user, password):
    sock = socket.create_connection(("127.0.0.1", port))
    frames = Frames(sock)
    print(json.dumps(scram_login(sock, frames, user, password)), flush=True)
    for line in sys.stdin:
        command, _, rest = line.strip().partition(" ")
        if command == "send":
            send(sock, json.loads(rest))
            print("ok", flush=True)
        elif command == "reset":
            reset(sock)
            print("ok", flush=True)
            return


def main(argv):
    if len(argv) == 3 and argv[0] == "flood":
        flood(int(argv[1]), int(argv[2]))
    elif len(argv) == 4 and argv[0] == "session":
        session(int(argv[1]), argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


main(sys.argv[1:])
