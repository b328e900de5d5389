#!/usr/bin/env python3
"""Send metrics to exporter-proxy as JSON over TCP or a unix socket.

Standard library only. Either send a JSON file as it is (the two shapes the
Rust proxy accepts: {"app": "text"} or {"app": ["line", ...]}), or build the
object from an app name and a file of exposition text.

  python3 send_json.py --tcp 127.0.0.1:6554 --file json_string.json
  python3 send_json.py --unix /tmp/exporter-proxy-receiver.sock --file json_array.json
  python3 send_json.py --tcp 127.0.0.1:6554 --app my_app --text 1025.html --as-array --count 3
"""
import argparse
import json
import socket
import sys


def build_payload(args):
    if args.file:
        with open(args.file, "rb") as f:
            return f.read()
    if not args.app:
        sys.exit("send_json.py: give --file, or --app with --text")
    text = open(args.text).read() if args.text and args.text != "-" else sys.stdin.read()
    value = text.rstrip("\n").split("\n") if args.as_array else text
    return json.dumps({args.app: value}).encode()


def connect(args):
    if args.unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args.unix)
        return s
    host, _, port = args.tcp.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", help="host:port of receiver_tcp_socket")
    where.add_argument("--unix", help="path of receiver_unix_socket")
    p.add_argument("--file", help="a JSON file to send as it is")
    p.add_argument("--app", help="app name (with --text)")
    p.add_argument("--text", help="file of exposition text, - for stdin")
    p.add_argument("--as-array", action="store_true", help="send the text as an array of lines")
    p.add_argument("--count", type=int, default=1, help="objects to send on one connection")
    args = p.parse_args()
    payload = build_payload(args)
    with connect(args) as s:
        for _ in range(args.count):
            s.sendall(payload + b"\n")
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # the proxy writes nothing; wait for its close
    return 0


if __name__ == "__main__":
    sys.exit(main())
