#!/usr/bin/env python3
"""Make whatsmeow (as shipped in neonize) trust a fake WhatsApp root key.

whatsmeow pins WhatsApp's 32-byte Noise root public key (`WACertPubKey`) and has
no option to change it. This builds a per-run copy of the `neonize` package in
which the Go library is a patched copy and every other entry is a symlink to
the installed package. Putting that folder first on `sys.path` (or
PYTHONPATH) makes `import neonize` load the patched library; the installed
package is never modified, so concurrent runs with other keys do not interfere.

neonize finds its library next to its own `__file__`, and Python keeps the
unresolved (symlink) path in `__file__`, hence a real folder with symlinks.

CLI: patch_root_key.py --root-key HEX_OR_BASE64 --out DIR
     prints DIR's package root (to put on PYTHONPATH) on stdout.
"""

import argparse
import base64
import binascii
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

WHATSAPP_ROOT_KEY = bytes.fromhex(
    "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
)
LIBRARY_NAME = "neonize-linux-amd64.so"


def parse_key(text: str) -> bytes:
    """A 32-byte key given as 64 hex digits or as base64 (standard or URL-safe)."""
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            padded = text + "=" * (-len(text) % 4)
            key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"root key is neither hex nor base64: {err}") from None
    if len(key) != 32:
        raise ValueError(f"root key must be 32 bytes, got {len(key)}")
    return key


def installed_package_dir() -> Path:
    spec = importlib.util.find_spec("neonize")
    if spec is None or spec.origin is None:
        raise RuntimeError("neonize is not installed in this Python")
    return Path(spec.origin).parent


def patch_library(original: bytes, root_key: bytes) -> bytes:
    found = original.count(WHATSAPP_ROOT_KEY)
    if found != 1:
        raise RuntimeError(
            f"WhatsApp's root key occurs {found} times in {LIBRARY_NAME}, expected exactly 1; "
            "refusing to patch (another neonize build?)"
        )
    patched = original.replace(WHATSAPP_ROOT_KEY, root_key)
    if patched.count(root_key) != 1 or (
        root_key != WHATSAPP_ROOT_KEY and WHATSAPP_ROOT_KEY in patched
    ):
        raise RuntimeError("patched library does not hold the new key exactly once")
    return patched


def build_patched_package(root_key: bytes, out_dir: Path, source: Path | None = None) -> Path:
    """Create out_dir/neonize (a patched view of the installed package); return out_dir."""
    source = source or installed_package_dir()
    patched = patch_library((source / LIBRARY_NAME).read_bytes(), root_key)

    package = out_dir / "neonize"
    package.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name in (LIBRARY_NAME, "__pycache__"):
            continue
        link = package / entry.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(entry)

    # Write then rename, so a reader never sees a half-written library.
    fd, tmp = tempfile.mkstemp(dir=package, prefix=".lib-")
    with os.fdopen(fd, "wb") as f:
        f.write(patched)
    os.replace(tmp, package / LIBRARY_NAME)
    return out_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root-key", required=True, help="fake root public key, hex or base64")
    parser.add_argument("--out", required=True, type=Path, help="per-run folder to create")
    args = parser.parse_args()
    try:
        root = build_patched_package(parse_key(args.root_key), args.out.resolve())
    except (ValueError, RuntimeError, OSError) as err:
        print(f"patch_root_key: {err}", file=sys.stderr)
        return 1
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
