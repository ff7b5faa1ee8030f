#!/usr/bin/env python3
"""whatsmeow (through PyPI neonize) as a JSON-lines client for the interop check.

Run with the interpreter of the venv made by setup.sh:

  whatsmeow_driver.py --root-key HEX --proxy http://127.0.0.1:PORT --state DIR [--ca-file PEM]

stdout: one JSON event per line (see README.md); stdin: one JSON command per line.
Logs (Python, whatsmeow, Go's own prints) go to stderr.

SSL_CERT_FILE must name the test CA before the Go library is loaded; Go reads
the environment once, at load. With --ca-file the driver re-executes itself
with SSL_CERT_FILE set, so a caller cannot get this wrong.
"""

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source folder clean
sys.path.insert(0, str(Path(__file__).resolve().parent))
from patch_root_key import build_patched_package, parse_key  # noqa: E402

log = logging.getLogger("whatsmeow_driver")


class EventOut:
    """JSON lines on the real stdout. fd 1 itself is pointed at stderr, because
    the Go library prints to fd 1 and would corrupt the event stream."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields) -> None:
        with self._lock:
            self._out.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="whatsmeow JSON-lines driver")
    p.add_argument("--root-key", required=True, help="fake server's Noise root public key (hex/base64)")
    p.add_argument("--proxy", required=True, help="HTTP CONNECT proxy URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--state", required=True, type=Path, help="folder for the session database")
    p.add_argument("--ca-file", help="test CA (PEM); sets SSL_CERT_FILE and re-executes")
    return p.parse_args()


def jid_str(jid) -> str:
    if not jid.User and not jid.Server:
        return ""
    device = f":{jid.Device}" if jid.Device else ""
    return f"{jid.User}{device}@{jid.Server}"


def message_text(msg) -> str | None:
    if msg.conversation:
        return msg.conversation
    if msg.HasField("extendedTextMessage"):
        return msg.extendedTextMessage.text
    return None


def subscribe(client, emit, first_qr: threading.Event) -> None:
    """Translate whatsmeow's events into driver events."""
    from neonize.events import (
        ConnectedEv,
        ConnectFailureEv,
        DisconnectedEv,
        HistorySyncEv,
        LoggedOutEv,
        MessageEv,
        PairStatusEv,
        StreamErrorEv,
        UndecryptableMessageEv,
    )

    def on_qr(_, code: bytes) -> None:
        first_qr.set()
        emit("qr", code=code.decode())

    def on_pair(ev) -> None:
        if ev.Status == PairStatusEv.SUCCESS:
            emit("paired", jid=jid_str(ev.ID))
        else:
            emit("error", detail=f"pairing failed: {ev.Error}")

    def on_logged_out(ev) -> None:
        reasons = LoggedOutEv.DESCRIPTOR.fields_by_name["Reason"].enum_type.values_by_number
        emit("logged_out", reason=reasons[ev.Reason].name if ev.Reason in reasons else str(ev.Reason))

    def on_message(ev) -> None:
        src = ev.Info.MessageSource
        text = message_text(ev.Message)
        if text is None:
            log.info("non-text message %s from %s", ev.Info.ID, jid_str(src.Sender))
            return
        emit("message", chat=jid_str(src.Chat), sender=jid_str(src.Sender), id=ev.Info.ID,
             text=text, from_me=src.IsFromMe, is_group=src.IsGroup)

    def on_history_sync(ev) -> None:
        conversations = ev.Data.conversations
        emit("history_sync", conversations=len(conversations),
             messages=sum(len(c.messages) for c in conversations), sync_type=ev.Data.syncType)

    handlers = {
        PairStatusEv: on_pair,
        ConnectedEv: lambda ev: emit("connected"),
        DisconnectedEv: lambda ev: emit("disconnected"),
        LoggedOutEv: on_logged_out,
        ConnectFailureEv: lambda ev: emit("error", detail=f"connect failure {ev.Reason}: {ev.Message}"),
        StreamErrorEv: lambda ev: emit("error", detail=f"stream error {ev.Code}"),
        UndecryptableMessageEv: lambda ev: emit(
            "error", detail=f"undecryptable message {ev.Info.ID} "
                            f"from {jid_str(ev.Info.MessageSource.Sender)}"),
        MessageEv: on_message,
        HistorySyncEv: on_history_sync,
    }
    client.event.qr(on_qr)
    for event_type, handler in handlers.items():
        client.event(event_type)(lambda _client, ev, handler=handler: handler(ev))


def commands(client, emit, first_qr: threading.Event) -> dict:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
    from neonize.utils.jid import build_jid

    def pair_phone(cmd: dict) -> None:
        # whatsmeow asks for a code over a live, unpaired socket, i.e. after the first QR.
        if not first_qr.wait(timeout=60):
            raise RuntimeError("no QR within 60 s, socket not up")
        emit("pair_code", code=client.PairPhone(cmd["phone"], show_push_notification=True))

    def send_text(cmd: dict) -> None:
        # neonize wraps a bare string as a phone number; a group needs its server.
        user, _, server = cmd["to"].partition("@")
        resp = client.send_message(build_jid(user, server or "s.whatsapp.net"),
                                   Message(conversation=cmd["text"]))
        emit("sent", id=resp.ID, to=cmd["to"])

    def logout(cmd: dict) -> None:
        client.logout()
        emit("logged_out", reason="client logout")

    def disconnect(cmd: dict) -> None:
        client.disconnect()
        emit("disconnected")  # whatsmeow raises no event for a disconnect it was asked for

    return {"pair_phone": pair_phone, "send_text": send_text, "logout": logout,
            "disconnect": disconnect}


def run_command(handler, cmd: dict, emit) -> None:
    try:
        handler(cmd)
    except Exception as err:
        emit("error", detail=f"{cmd.get('cmd')}: {err}")


def main() -> None:
    args = parse_args()
    if args.ca_file and os.environ.get("SSL_CERT_FILE") != args.ca_file:
        env = dict(os.environ, SSL_CERT_FILE=args.ca_file)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    emit = EventOut()
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("WHATSMEOW_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s [%(name)s %(levelname)s] %(message)s",
    )
    args.state.mkdir(parents=True, exist_ok=True)

    # Load neonize from a per-run copy whose Go library trusts the fake root key.
    package_root = build_patched_package(parse_key(args.root_key), args.state / "neonize-patched")
    sys.path.insert(0, str(package_root))
    import neonize
    from neonize._binder import ProxySettings
    from neonize.client import NewClient

    log.info("neonize loaded from %s", Path(neonize.__file__).parent)
    client = NewClient(str(args.state / "whatsmeow.db"), uuid="interop")
    first_qr = threading.Event()
    subscribe(client, emit, first_qr)
    handlers = commands(client, emit, first_qr)

    def connection() -> None:
        # Blocks for the client's lifetime; returns early on dial/TLS/handshake errors.
        try:
            client.connect(ProxySettings(proxy_address=args.proxy))
        except Exception as err:
            emit("error", detail=f"connect: {err}")
        log.info("connection loop ended")

    threading.Thread(target=connection, name="whatsmeow", daemon=True).start()

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            name = cmd.get("cmd")
        except (ValueError, AttributeError) as err:
            emit("error", detail=f"bad command {line.strip()!r}: {err}")
            continue
        if name == "quit":
            break
        if name not in handlers:
            emit("error", detail=f"unknown command {line.strip()}")
            continue
        # Commands wait for the server; keep reading stdin meanwhile.
        threading.Thread(target=run_command, args=(handlers[name], cmd, emit), daemon=True).start()

    emit("quit")
    # A graceful close, but bounded: Disconnect blocks while a handshake is in flight.
    closer = threading.Thread(target=client.disconnect, daemon=True)
    closer.start()
    closer.join(timeout=3)
    sys.stderr.flush()
    os._exit(0)  # the Go runtime keeps threads of its own alive


if __name__ == "__main__":
    main()
