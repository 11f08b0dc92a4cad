#!/usr/bin/env python3
"""A classic-style lab client, headless: sends packets for a policy through the broker and
checks each answer is the SHA-1 of its payload.

    python3 client.py -id 1 -pp 111 -revproc 2100 [-host 127.0.0.1] [-n 10]

Prints one line per answer (which server answered) and exits 1 if any answer is an error or
does not verify. Standard library only.
"""
import argparse
import hashlib
import json
import socket
import sys


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-id", type=int, required=True, help="client id (srcid)")
    p.add_argument("-pp", type=int, required=True, help="privacy policy of the packets")
    p.add_argument("-revproc", type=int, default=2100, help="the broker's packet port")
    p.add_argument("-host", default="127.0.0.1", help="the broker's address")
    p.add_argument("-n", type=int, default=10, help="packets to send, one at a time")
    return p.parse_args()


def main():
    args = options()
    failed = 0
    with socket.create_connection((args.host, args.revproc)) as broker:
        answers = broker.makefile("r")  # the broker ends every answer with a newline
        for i in range(args.n):
            payload = f"packet {i} from client {args.id}"
            packet = {"type": "0", "srcid": str(args.id), "privPoliId": str(args.pp),
                      "payloadsize": str(len(payload)), "payload": payload}
            broker.sendall(json.dumps(packet).encode())
            answer = json.loads(answers.readline())
            ok = answer.get("type") == 2 and answer.get("payload") == hashlib.sha1(payload.encode()).hexdigest()
            failed += 0 if ok else 1
            who = f"server {answer['srcid']}" if answer.get("type") == 2 else f"error {answer.get('code')}"
            print(f"packet {i}: {who}{'' if ok else '  <- FAILED'}", flush=True)
    print(f"{args.n - failed} of {args.n} answered and verified")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
