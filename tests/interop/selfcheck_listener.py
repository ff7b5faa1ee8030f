#!/usr/bin/env python3
"""Stand-in for the fake server, used only by selfcheck.sh.

Accepts one connection (TLS if --cert/--key are given), answers the WebSocket
upgrade, reads the client's first WebSocket message and reports, as one JSON
line on stdout, what arrived: TLS SNI, request path and Host, and the first
bytes of the payload (a WhatsApp client starts with the prologue 57 41 06 03).
Then it closes the connection, so the client's Noise handshake fails.
The listening port is printed first, alone on a line. Standard library only.
"""

import argparse
import base64
import hashlib
import json
import socket
import ssl
import sys

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def read_ws_message(conn) -> bytes:
    b0, b1 = read_exact(conn, 2)
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(read_exact(conn, 2), "big")
    elif length == 127:
        length = int.from_bytes(read_exact(conn, 8), "big")
    mask = read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = read_exact(conn, length)
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def serve_one(listener: socket.socket, tls: ssl.SSLContext | None) -> dict:
    report: dict = {"tls": tls is not None}
    raw, _ = listener.accept()
    raw.settimeout(30)
    conn = raw
    if tls:
        def on_sni(sock, server_name, ctx):
            report["sni"] = server_name

        tls.sni_callback = on_sni
        conn = tls.wrap_socket(raw, server_side=True)
        report["tls_version"] = conn.version()

    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the HTTP request ended")
        head += chunk
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    report["request"] = lines[0]
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    report["host"] = headers.get("host")
    report["origin"] = headers.get("origin")

    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + WS_GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    payload = read_ws_message(conn)
    report["first_bytes"] = payload[:8].hex()
    conn.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cert", help="server certificate chain (PEM); plain TCP without it")
    parser.add_argument("--key", help="server private key (PEM)")
    args = parser.parse_args()

    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)

    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    try:
        report = serve_one(listener, tls)
    except (OSError, ConnectionError, KeyError, ssl.SSLError) as err:
        report = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
