#!/bin/sh
# The container's first starts walk an admin through the setup, one step per start:
#   1. no /data/config.yaml: write the example config, say what to edit, stop;
#   2. no /data/registration.yaml: generate it (tokens go into the config too), say how
#      to give it to the homeserver, stop;
#   3. then run the bridge.
# Arguments, if any, go to the binary instead (for example `-e` or `--health-check`).
set -eu
cd /data
config=/data/config.yaml
registration=/data/registration.yaml

if [ "$#" -gt 0 ]; then
    exec matrix-whatsapp -c "$config" -r "$registration" "$@"
fi

if [ ! -f "$config" ]; then
    matrix-whatsapp -e > "$config"
    # For a container: listen on every address, keep the database in /data.
    sed -i -e 's/^  hostname: 127.0.0.1$/  hostname: 0.0.0.0/' "$config"
    chmod 600 "$config"
    cat <<'TEXT'
Wrote /data/config.yaml (every key, with its default and what it means).
Next: edit it. At least set
  homeserver.address   how the bridge reaches your homeserver (e.g. http://synapse:8008)
  homeserver.domain    your server name (the part after ':' in user IDs)
  appservice.address   how the homeserver reaches the bridge (e.g. http://matrix-whatsapp:29318)
  database             sqlite (the default, in /data) or postgres with its URI
  bridge.permissions   who may use the bridge
then start this container again: it writes the registration for your homeserver.
TEXT
    exit 0
fi

if [ ! -f "$registration" ]; then
    matrix-whatsapp -c "$config" -r "$registration" -g
    cat <<'TEXT'
Next: give /data/registration.yaml to your homeserver. For Synapse, copy it where Synapse
can read it, list it under app_service_config_files in homeserver.yaml, and restart
Synapse. Then start this container again: the bridge runs from then on.
TEXT
    exit 0
fi

exec matrix-whatsapp -c "$config" -r "$registration"
