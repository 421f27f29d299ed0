"""Test helper: a TCP proxy whose server side can stop reading, with a tiny receive buffer.

Deno cannot set SO_RCVBUF, and a socket that merely stops reading lets the kernel buffer
megabytes before the server sees it as slow. This proxy connects to the server with a 4 KiB
receive buffer and forwards both ways; after "stall" on stdin it never reads from the server
again, so the server's queue for that connection fills after a few kilobytes.

usage: stall_proxy.py SERVER_PORT
  prints the port to connect to, then reads commands from stdin, one a line:
    stall   stop reading from the server; prints "stalled"
    quit    close both sides and exit
"""
import socket
import sys
import threading


def main():
    server_port = int(sys.argv[1])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    client, _ = listener.accept()
    upstream = socket.socket()
    upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    upstream.connect(("127.0.0.1", server_port))
    upstream.settimeout(0.05)
    stalled = threading.Event()

    def to_server():
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                upstream.sendall(data)
        except OSError:
            pass

    def to_client():
        try:
            while not stalled.is_set():
                try:
                    data = upstream.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass

    threading.Thread(target=to_server, daemon=True).start()
    threading.Thread(target=to_client, daemon=True).start()
    for line in sys.stdin:
        command = line.strip()
        if command == "stall":
            stalled.set()
            print("stalled", flush=True)
        elif command == "quit":
            break
    for sock in (client, upstream, listener):
        try:
            sock.close()
        except OSError:
            pass


main()
