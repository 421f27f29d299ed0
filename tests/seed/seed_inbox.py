"""A seed-style client that logs in and reads what the server kept for it: the seed client's
own receive loop, one recv(1024) and json.loads per message, so two frames in one read would
fail. It prints one JSON line per reply or message it read.

usage: seed_inbox.py PORT USER PASSWORD COUNT
"""
import hashlib
import hmac
import json
import socket
import sys
import time

port, user, password, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
SALT = bytes([0xCA, 0xFE, 0xBE, 0xEF]) * 6


def now():
    return str(int(time.time()))


def send(sock, obj):
    sock.send(json.dumps(obj).encode("utf-8"))


def recv(sock):
    data = sock.recv(1024)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        sys.stderr.write("seed client could not parse one recv(): %r\n" % data)
        raise


def report(step, reply):
    print(json.dumps({"step": step, "reply": reply}), flush=True)


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect(("127.0.0.1", port))
send(sock, {"action": "presence", "time": now(), "type": "status",
            "user": {"account_name": user, "status": "Yep, I am here!"}})
challenge = recv(sock)
report("presence", challenge)
stored = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), SALT, 100000)
digest = hmac.new(stored, bytes.fromhex(challenge["token"]), "md5").hexdigest()
send(sock, {"action": "authenticate", "time": now(),
            "user": {"account_name": user, "password": digest}})
report("authenticate", recv(sock))
for i in range(count):
    report("stored_%d" % i, recv(sock))
send(sock, {"action": "quit", "time": now()})
report("quit", recv(sock))
sock.close()
