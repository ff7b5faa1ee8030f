#!/usr/bin/env python3
"""HTTP CONNECT proxy that sends every tunnel to one fixed target.

whatsmeow has no server-URL option: it always dials web.whatsapp.com (and media
hosts under whatsapp.net) on port 443, but it honours an HTTP proxy. Pointing
it at this proxy makes every CONNECT, whatever host it names, land on the
fake server's TLS port; the fake server then ends TLS itself.

Usage: connect_proxy.py --target 127.0.0.1:TLSPORT [--port 0]
Prints the listening port as one line on stdout, then logs each CONNECT on
stderr as `connect_proxy: CONNECT host:port -> target`.
Python standard library only.
"""

import argparse
import asyncio
import sys

MAX_HEAD = 16 * 1024


def log(message: str) -> None:
    print(f"connect_proxy: {message}", file=sys.stderr, flush=True)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if writer.can_write_eof():
            try:
                writer.write_eof()
            except OSError:
                pass


async def handle(client_r, client_w, target_host: str, target_port: int) -> None:
    try:
        head = await client_r.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_w.close()
        return
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split()
    if len(parts) != 3 or parts[0].upper() != "CONNECT":
        log(f"refused {request_line!r}")
        client_w.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        await client_w.drain()
        client_w.close()
        return

    log(f"CONNECT {parts[1]} -> {target_host}:{target_port}")
    try:
        server_r, server_w = await asyncio.open_connection(target_host, target_port)
    except OSError as err:
        log(f"target unreachable: {err}")
        client_w.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await client_w.drain()
        client_w.close()
        return

    client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await client_w.drain()
    await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
    for w in (client_w, server_w):
        w.close()


async def serve(port: int, target: str) -> None:
    host, _, tport = target.rpartition(":")
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, int(tport)), "127.0.0.1", port, limit=MAX_HEAD
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="HOST:PORT every tunnel goes to")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.target))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
