#!/usr/bin/env python3
"""Many whatsmeow clients (through PyPI neonize) in one process, as JSON lines.

For the memory benchmark (fakewa/benches/whatsmeow_memory.rs): how much an idle,
logged-in whatsmeow client costs. Run with the interpreter of the venv made by
setup.sh:

  whatsmeow_fleet.py --root-key HEX --proxy http://127.0.0.1:PORT --state DIR \
      --ca-file PEM --clients N [--parallel K]

Each client has its own session database (DIR/clients/<i>.db) and links by QR.
At most K clients wait for their pairing at a time; the next one starts when
one logs in, so no QR expires while the others are being paired.

stdout: one JSON event per line; stdin: one JSON command per line (the key is
`cmd`, as for whatsmeow_driver.py; `command` is accepted too).

Events:
  {"event":"baseline","bytes":B,"threads":T}  neonize and the Go runtime loaded,
                                              no client created yet
  {"event":"qr","client":I,"code":C}          the client's first QR code
  {"event":"paired","client":I,"jid":J}       the client accepted pair-success
  {"event":"connected","client":I}            the client logged in (again)
  {"event":"disconnected","client":I}
  {"event":"error","client":I,"detail":D}     (no "client" for a bad command)
  {"event":"rss","bytes":B,"threads":T}       answer to {"cmd":"rss"}
  {"event":"quit"}                            answer to {"cmd":"quit"}, then exit

B is the process's VmRSS in bytes, T its thread count (/proc/self/status).
Logs (Python, whatsmeow, Go's own prints) go to stderr; the level is
WHATSMEOW_LOG_LEVEL (default WARNING, which whatsmeow also applies at source).

SSL_CERT_FILE must name the test CA before the Go library is loaded, so with
--ca-file the script re-executes itself with it set (as the driver does).
"""

import argparse
import json
import logging
import os
import resource
import sys
import threading
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source folder clean
sys.path.insert(0, str(Path(__file__).resolve().parent))
from patch_root_key import build_patched_package, parse_key  # noqa: E402
from whatsmeow_driver import EventOut, jid_str  # noqa: E402

log = logging.getLogger("whatsmeow_fleet")

#: Clients waiting for their pairing at the same time, unless --parallel says otherwise.
DEFAULT_PARALLEL = 20


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="many whatsmeow clients in one process")
    p.add_argument("--root-key", required=True, help="fake server's Noise root public key (hex/base64)")
    p.add_argument("--proxy", required=True, help="HTTP CONNECT proxy URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--state", required=True, type=Path, help="folder for the session databases")
    p.add_argument("--ca-file", help="test CA (PEM); sets SSL_CERT_FILE and re-executes")
    p.add_argument("--clients", required=True, type=int, help="how many clients to link")
    p.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                   help=f"clients pairing at the same time (default {DEFAULT_PARALLEL})")
    args = p.parse_args()
    if args.clients < 0 or args.parallel < 1:
        p.error("--clients must be >= 0 and --parallel >= 1")
    return args


def reexec_with_ca(ca_file: str | None) -> None:
    """Go reads SSL_CERT_FILE once, when the library loads: set it, then start over."""
    if ca_file and os.environ.get("SSL_CERT_FILE") != ca_file:
        env = dict(os.environ, SSL_CERT_FILE=ca_file)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def raise_file_limit() -> None:
    """Each client holds a socket and its database files: allow as many as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as err:
            log.warning("cannot raise RLIMIT_NOFILE from %s to %s: %s", soft, hard, err)
    log.info("RLIMIT_NOFILE is %s", resource.getrlimit(resource.RLIMIT_NOFILE))


def process_status() -> dict:
    """This process's resident memory (bytes) and thread count, from /proc/self/status."""
    status = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.split()
    rss = status.get("VmRSS", [])
    if len(rss) != 2 or rss[1] != "kB":
        raise RuntimeError(f"unexpected VmRSS line in /proc/self/status: {rss}")
    threads = status.get("Threads", ["0"])
    return {"bytes": int(rss[0]) * 1024, "threads": int(threads[0])}


def load_neonize(root_key: bytes, state: Path):
    """Imports neonize from a copy whose Go library trusts `root_key`; loads the Go runtime."""
    package_root = build_patched_package(root_key, state / "neonize-patched")
    sys.path.insert(0, str(package_root))
    import neonize.client  # noqa: F401  (loads the Go library)

    # neonize hands this logger's level to whatsmeow, which then filters at source.
    logging.getLogger("neonize.utils.log").setLevel(logging.getLogger().level)
    log.info("neonize loaded from %s", Path(neonize.client.__file__).parent)


class Fleet:
    """N clients, started at most `parallel` unpaired at a time."""

    def __init__(self, args: argparse.Namespace, emit) -> None:
        self.args = args
        self.emit = emit
        self.databases = args.state / "clients"
        self.databases.mkdir(parents=True, exist_ok=True)
        self.pairing_slots = threading.BoundedSemaphore(args.parallel)
        self.clients = []  # kept referenced: neonize stops a client it garbage-collects

    def start(self) -> None:
        threading.Thread(target=self._start_all, name="fleet", daemon=True).start()

    def _start_all(self) -> None:
        for index in range(self.args.clients):
            self.pairing_slots.acquire()
            try:
                self._start_client(index)
            except Exception as err:
                self.emit("error", client=index, detail=f"start: {err}")
                self.pairing_slots.release()

    def _start_client(self, index: int) -> None:
        from neonize._binder import ProxySettings
        from neonize.client import NewClient

        client = NewClient(str(self.databases / f"{index}.db"), uuid=f"fleet-{index}")
        self._subscribe(client, index)
        self.clients.append(client)

        def connection() -> None:
            # Blocks for the client's lifetime; returns early on dial/TLS/handshake errors.
            try:
                client.connect(ProxySettings(proxy_address=self.args.proxy))
            except Exception as err:
                self.emit("error", client=index, detail=f"connect: {err}")
            log.info("client %d: connection loop ended", index)

        threading.Thread(target=connection, name=f"client-{index}", daemon=True).start()

    def _subscribe(self, client, index: int) -> None:
        """Forwards the events the benchmark follows, tagged with the client's index."""
        from neonize.events import (
            ConnectedEv,
            ConnectFailureEv,
            DisconnectedEv,
            PairStatusEv,
            StreamErrorEv,
        )

        emit = self.emit
        first_qr = threading.Event()
        logged_in = threading.Event()

        def on_qr(_client, code: bytes) -> None:
            if not first_qr.is_set():
                first_qr.set()
                emit("qr", client=index, code=code.decode())

        def on_pair(_client, ev) -> None:
            if ev.Status == PairStatusEv.SUCCESS:
                emit("paired", client=index, jid=jid_str(ev.ID))
            else:
                emit("error", client=index, detail=f"pairing failed: {ev.Error}")

        def on_connected(_client, _ev) -> None:
            if not logged_in.is_set():
                logged_in.set()
                self.pairing_slots.release()  # the next client may start pairing
            emit("connected", client=index)

        client.event.qr(on_qr)
        client.event(PairStatusEv)(on_pair)
        client.event(ConnectedEv)(on_connected)
        client.event(DisconnectedEv)(lambda _c, _ev: emit("disconnected", client=index))
        client.event(ConnectFailureEv)(lambda _c, ev: emit(
            "error", client=index, detail=f"connect failure {ev.Reason}: {ev.Message}"))
        client.event(StreamErrorEv)(lambda _c, ev: emit(
            "error", client=index, detail=f"stream error {ev.Code}"))


def serve_commands(emit) -> None:
    """Answers `rss` until `quit` or the end of stdin."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            name = cmd.get("cmd", cmd.get("command"))
        except (ValueError, AttributeError) as err:
            emit("error", detail=f"bad command {line.strip()!r}: {err}")
            continue
        if name == "quit":
            return
        if name == "rss":
            try:
                emit("rss", **process_status())
            except (OSError, RuntimeError, ValueError) as err:
                emit("error", detail=f"rss: {err}")
        else:
            emit("error", detail=f"unknown command {line.strip()}")


def main() -> None:
    args = parse_args()
    reexec_with_ca(args.ca_file)

    emit = EventOut()
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("WHATSMEOW_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s [%(name)s %(levelname)s] %(message)s",
    )
    try:
        root_key = parse_key(args.root_key)
    except ValueError as err:
        sys.exit(f"whatsmeow_fleet: --root-key: {err}")
    raise_file_limit()
    args.state.mkdir(parents=True, exist_ok=True)
    load_neonize(root_key, args.state)
    emit("baseline", **process_status())

    Fleet(args, emit).start()
    serve_commands(emit)

    emit("quit")
    sys.stderr.flush()
    os._exit(0)  # the Go runtime keeps threads of its own alive; the clients just drop


if __name__ == "__main__":
    main()
