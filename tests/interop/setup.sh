#!/usr/bin/env bash
# Installs the real WhatsApp Web clients used by the interop check into a cache
# folder, once: whatsmeow (PyPI neonize, pinned) in a Python venv and Baileys
# (npm, pinned by package-lock.json) in a node_modules folder.
#
# Idempotent and safe to run concurrently (one lock per install).
# stdout: shell assignments, so a caller can `eval "$(./setup.sh)"`:
#   INTEROP_PYTHON=<venv python>   INTEROP_NODE_DIR=<folder holding node_modules>
# Everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/matrix-whatsapp"
python="${PYTHON:-python3}"
mkdir -p "$cache_root"

log() { echo "setup: $*" >&2; }

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- whatsmeow via neonize -------------------------------------------------
# Folder names carry a hash of the pins, so a changed pin gets a fresh folder
# instead of mutating one that another run may be using. Nothing uses a folder
# before its .complete marker exists; an interrupted install is redone.
py_key="$(hash_of "$here/requirements.txt")"
venv="$cache_root/interop-neonize-$py_key"
(
    flock 9
    if [[ ! -f "$venv/.complete" ]]; then
        log "creating $venv"
        started=$SECONDS
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$here/requirements.txt" >&2
        touch "$venv/.complete"
        log "venv ready in $((SECONDS - started)) s"
    fi
) 9>"$venv.lock"

# neonize downloads its Go library from GitHub when the shipped one is missing
# or reports another version; make sure the shipped one is there.
"$venv/bin/python" - <<'EOF' >&2
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("neonize")
so = pathlib.Path(spec.origin).parent / "neonize-linux-amd64.so"
if not so.is_file():
    sys.exit(f"setup: {so} is missing; neonize would try to download it")
EOF

# --- Baileys -----------------------------------------------------------------
node_key="$(hash_of "$here/package.json" "$here/package-lock.json")"
node_dir="$cache_root/interop-baileys-$node_key"
(
    flock 9
    if [[ ! -f "$node_dir/.complete" ]]; then
        log "installing Baileys into $node_dir"
        started=$SECONDS
        rm -rf "$node_dir"
        mkdir -p "$node_dir"
        cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
        # --ignore-scripts: Baileys' preinstall only checks the Node version
        # and protobufjs' postinstall only prints; neither is needed.
        (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
        touch "$node_dir/.complete"
        log "node_modules ready in $((SECONDS - started)) s"
    fi
) 9>"$node_dir.lock"

echo "INTEROP_PYTHON=$venv/bin/python"
echo "INTEROP_NODE_DIR=$node_dir"
