#!/usr/bin/env python3
"""Send Prometheus exposition text to exporter-proxy as Cap'n Proto messages.

Each message is an InboundMetrics (schema/metric_data.capnp) in standard
stream framing, optionally packed, exactly as the Rust exporter-proxy's apps
write them. Standard library only: the two Text fields are encoded by hand
(single segment). When pycapnp is importable it is used instead, loading
../schema/metric_data.capnp relative to this script (--no-pycapnp forces the
hand encoder).

Examples:
  send_capnp.py --tcp 127.0.0.1:9091 --app myapp metrics.txt
  some_exporter | send_capnp.py --unix /run/exporter-proxy.sock --app myapp --count 3 --packed
  send_capnp.py --out - --app myapp metrics.txt | xxd     # bytes only, no socket
"""

import argparse
import os
import socket
import struct
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema", "metric_data.capnp")
MAX_LIST_BYTES = (1 << 29) - 1  # list element count is a 29-bit field


def _text_bytes(name, value):
    raw = value.encode("utf-8") + b"\0"
    if len(raw) > MAX_LIST_BYTES:
        raise ValueError("%s is too long for a capnp Text (%d bytes)" % (name, len(raw)))
    return raw


def _pad(raw):
    return raw + b"\0" * (-len(raw) % 8)


def encode_by_hand(app, data):
    """One single-segment message: segment table, then the segment.

    Segment words: [0] root struct pointer (offset 0, 0 data words, 2 pointers),
    [1] appName and [2] data: list pointers to byte lists (element size 2)
    whose length includes the NUL terminator, then the two byte lists padded
    to whole words. The layout is what the C++ encoder produces.
    """
    a = _text_bytes("appName", app)
    d = _text_bytes("data", data)
    a_words = (len(a) + 7) // 8
    seg = b"".join(
        [
            struct.pack("<II", 0, 2 << 16),
            # from the end of word 1 to word 3: offset 1
            struct.pack("<II", (1 << 2) | 1, (len(a) << 3) | 2),
            # from the end of word 2 to word 3 + a_words: offset a_words
            struct.pack("<II", (a_words << 2) | 1, (len(d) << 3) | 2),
            _pad(a),
            _pad(d),
        ]
    )
    return struct.pack("<II", 0, len(seg) // 8) + seg


def pack_words(buf):
    """Cap'n Proto packing of one word-aligned buffer, with the C++ encoder's run heuristics."""
    out = bytearray()
    n = len(buf)
    i = 0
    while i < n:
        word = buf[i : i + 8]
        i += 8
        tag = 0
        nonzero = bytearray()
        for bit in range(8):
            if word[bit]:
                tag |= 1 << bit
                nonzero.append(word[bit])
        out.append(tag)
        out += nonzero
        if tag == 0:
            # count of further all-zero words (at most 255)
            run = 0
            while run < 255 and i < n and buf[i : i + 8] == b"\0" * 8:
                run += 1
                i += 8
            out.append(run)
        elif tag == 0xFF:
            # count of further words with at most one zero byte, sent verbatim
            start = i
            while i < n and (i - start) // 8 < 255 and buf[i : i + 8].count(0) < 2:
                i += 8
            out.append((i - start) // 8)
            out += buf[start:i]
    return bytes(out)


def pack_message(framed):
    """Pack segment table and segment separately, as capnp::writePackedMessage() does."""
    count = struct.unpack_from("<I", framed, 0)[0] + 1
    table = (4 + 4 * count + 7) // 8 * 8
    return pack_words(framed[:table]) + pack_words(framed[table:])


def make_encoder(use_pycapnp):
    if use_pycapnp:
        try:
            import capnp  # type: ignore

            schema = capnp.load(SCHEMA)

            def encode(app, data, packed):
                msg = schema.InboundMetrics.new_message(appName=app, data=data)
                return msg.to_bytes_packed() if packed else msg.to_bytes()

            return encode, "pycapnp"
        except ImportError:
            pass

    def encode(app, data, packed):
        framed = encode_by_hand(app, data)
        return pack_message(framed) if packed else framed

    return encode, "hand"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("--tcp", metavar="HOST:PORT", help="send over TCP")
    dest.add_argument("--unix", metavar="PATH", help="send over a unix stream socket")
    dest.add_argument("--out", metavar="FILE", help="write the bytes to FILE ('-' for stdout) instead of a socket")
    p.add_argument("--app", required=True, help="appName of every message")
    p.add_argument("file", nargs="?", default="-", help="exposition text file (default: stdin)")
    p.add_argument("--count", type=int, default=1, help="messages to send on one connection (default 1)")
    p.add_argument("--packed", action="store_true", help="use packed framing")
    p.add_argument("--no-pycapnp", action="store_true", help="always use the hand encoder")
    p.add_argument("--verbose", action="store_true", help="say which encoder was used, on stderr")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be at least 1")
    return args


def read_text(path):
    raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    return raw.decode("utf-8")  # strict: the receiver rejects invalid UTF-8 anyway


def connect(args):
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        return socket.create_connection((host.strip("[]"), int(port)))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(args.unix)
    return s


def main(argv=None):
    args = parse_args(argv)
    text = read_text(args.file)
    encode, which = make_encoder(not args.no_pycapnp)
    payload = encode(args.app, text, args.packed)
    if args.verbose:
        print("encoder: %s, %d bytes per message" % (which, len(payload)), file=sys.stderr)
    if args.out:
        out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
        for _ in range(args.count):
            out.write(payload)
        out.flush()
        return 0
    with connect(args) as s:
        for _ in range(args.count):
            s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        # Wait (bounded) for the proxy to close its side, so every byte was read.
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
