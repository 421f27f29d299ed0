"""A client that talks exactly as the seed messenger's client does: one json.dumps per
send(), one recv(1024) and json.loads per reply, the legacy HMAC-MD5 login, and time as a
numeric string. It runs a fixed script and prints one JSON line per reply it read, so the
test can check what a seed client would have seen.

usage: seed_client.py PORT USER PASSWORD PEER
"""
import hashlib
import hmac
import json
import socket
import sys
import time

port, user, password, peer = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
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
if challenge.get("response") != 401:
    sys.exit(1)

stored = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), SALT, 100000)
stored_hex = stored.hex()
digest = hmac.new(bytes.fromhex(stored_hex), bytes.fromhex(challenge["token"]), "md5").hexdigest()
send(sock, {"action": "authenticate", "time": now(),
            "user": {"account_name": user, "password": digest}})
auth = recv(sock)
report("authenticate", auth)
if auth.get("response") != 200:
    # Refused: show that the session is not logged in, then leave.
    send(sock, {"action": "get_contacts", "time": now()})
    report("after_refusal", recv(sock))
    sock.close()
    sys.exit(0)

send(sock, {"action": "add_contact", "user_id": peer, "time": now()})
report("add_contact", recv(sock))

send(sock, {"action": "msg", "time": now(), "to": peer, "from": "somebody-else",
            "encoding": "utf-8", "message": "Привет from the seed"})
report("msg", recv(sock))

# The peer answers once it has seen the "msg" line above: a seed client reads one object
# per recv() and would choke on the 200 and the answer arriving together.
report("incoming", recv(sock))

send(sock, {"action": "del_contact", "user_id": "nobody", "time": now()})
report("del_contact", recv(sock))

send(sock, {"action": "quit", "time": now()})
sock.close()
