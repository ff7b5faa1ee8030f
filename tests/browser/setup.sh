#!/usr/bin/env bash
# Installs what the login page test drives: Debian's Chromium (when missing) and
# playwright-core (npm, pinned by package-lock.json) in a cache folder, once.
# Idempotent and safe to run concurrently.
# stdout: shell assignments, `eval "$(./setup.sh)"`:
#   BROWSER_NODE_DIR=<folder holding node_modules>   CHROMIUM=<chromium binary>
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/matrix-whatsapp"
mkdir -p "$cache_root"
log() { echo "browser setup: $*" >&2; }

chromium="$(command -v chromium || true)"
if [[ -z "$chromium" ]]; then
    (
        flock 9
        if ! command -v chromium >/dev/null 2>&1; then
            log "installing Debian's chromium"
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
        fi
    ) 9>"$cache_root/chromium-install.lock"
    chromium="$(command -v chromium)"
fi

key="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
node_dir="$cache_root/browser-playwright-$key"
(
    flock 9
    if [[ ! -f "$node_dir/.complete" ]]; then
        log "installing playwright-core into $node_dir"
        rm -rf "$node_dir"
        mkdir -p "$node_dir"
        cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
        # No browser download: the test uses Debian's Chromium.
        (cd "$node_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
        touch "$node_dir/.complete"
    fi
) 9>"$node_dir.lock"

echo "BROWSER_NODE_DIR=$node_dir"
echo "CHROMIUM=$chromium"
