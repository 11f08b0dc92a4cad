#!/usr/bin/env python3
"""A classic-style lab server, headless: registers with the broker, then answers each packet
with the SHA-1 of its payload, as the classic lab's servers do.

    python3 server.py -id 100 -pp 111 -listen 2201 -revproc 2100 [-host 127.0.0.1]

Unlike the public classic scripts it takes the broker's address as an option (-host, default
127.0.0.1) instead of a hard-coded name, sets SO_REUSEADDR so a rerun within a minute does not
fail with EADDRINUSE, and binds before it registers so the broker's first dial finds it.
Standard library only.
"""
import argparse
import hashlib
import json
import socket
import threading


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-id", type=int, required=True, help="server id")
    p.add_argument("-pp", type=int, required=True, help="privacy policy served")
    p.add_argument("-listen", type=int, required=True, help="port the broker dials")
    p.add_argument("-revproc", type=int, default=2100, help="the broker's packet port")
    p.add_argument("-host", default="127.0.0.1", help="the broker's address")
    p.add_argument("-bind", default="", help="address to listen on (default: all)")
    return p.parse_args()


def serve(conn, server_id):
    """One broker connection: one JSON object in, one out, until the broker closes it."""
    with conn:
        decoder = json.JSONDecoder()
        pending = ""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            pending += data.decode()
            # The broker ends each packet with a newline; a classic peer may not.
            while pending.strip():
                try:
                    packet, end = decoder.raw_decode(pending.lstrip())
                except ValueError:
                    break  # the rest of the object has not arrived yet
                pending = pending.lstrip()[end:]
                digest = hashlib.sha1(packet["payload"].encode()).hexdigest()
                reply = {"type": "2", "srcid": str(server_id), "destid": packet["srcid"],
                         "payloadsize": len(digest), "payload": digest}
                conn.sendall((json.dumps(reply) + "\n").encode())


def main():
    args = options()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Without this a rerun within a minute fails: the old connections sit in TIME_WAIT.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.listen))
    listener.listen(16)
    registration = {"type": "1", "id": str(args.id), "privPolyId": str(args.pp), "listenport": str(args.listen)}
    with socket.create_connection((args.host, args.revproc)) as broker:
        broker.sendall(json.dumps(registration).encode())
    print(f"server {args.id} (policy {args.pp}) listening on {args.listen}, registered with {args.host}:{args.revproc}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args.id), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
