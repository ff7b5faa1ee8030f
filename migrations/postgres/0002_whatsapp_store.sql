-- The WhatsApp protocol state of each linked device (one row-set per device): its keys,
-- Signal sessions, app-state sync and protocol caches. The device row is created by the
-- bridge before the library opens the store.
CREATE TABLE wa_device (
    id INTEGER PRIMARY KEY,
    data BYTEA,
    updated_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE wa_identity (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    identity_key BYTEA NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_session (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_prekey (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    key_id BIGINT NOT NULL,
    record BYTEA NOT NULL,
    uploaded BOOLEAN NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

CREATE TABLE wa_signed_prekey (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    key_id BIGINT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

CREATE TABLE wa_sender_key (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_app_sync_key (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    key_id BYTEA NOT NULL,
    key_data BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL,
    key_timestamp BIGINT NOT NULL,
    stored_seq BIGINT NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

CREATE TABLE wa_app_state_version (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    state BYTEA NOT NULL,
    PRIMARY KEY (device_id, name)
);

CREATE TABLE wa_mutation_mac (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    index_mac BYTEA NOT NULL,
    version BIGINT NOT NULL,
    value_mac BYTEA NOT NULL,
    PRIMARY KEY (device_id, name, index_mac)
);

CREATE TABLE wa_sender_key_device (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    group_jid TEXT NOT NULL,
    device_jid TEXT NOT NULL,
    has_key BOOLEAN NOT NULL,
    PRIMARY KEY (device_id, group_jid, device_jid)
);
CREATE INDEX wa_sender_key_device_jid ON wa_sender_key_device (device_id, device_jid);

CREATE TABLE wa_lid_mapping (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    lid TEXT NOT NULL,
    phone_number TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    learning_source TEXT NOT NULL,
    PRIMARY KEY (device_id, lid)
);
CREATE INDEX wa_lid_mapping_phone ON wa_lid_mapping (device_id, phone_number);

CREATE TABLE wa_base_key (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    message_id TEXT NOT NULL,
    base_key BYTEA NOT NULL,
    PRIMARY KEY (device_id, address, message_id)
);

CREATE TABLE wa_device_list (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    user_part TEXT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (device_id, user_part)
);

CREATE TABLE wa_group_metadata (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    group_jid TEXT NOT NULL,
    metadata BYTEA NOT NULL,
    PRIMARY KEY (device_id, group_jid)
);

CREATE TABLE wa_tc_token (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    token BYTEA NOT NULL,
    token_timestamp BIGINT NOT NULL,
    sender_timestamp BIGINT,
    PRIMARY KEY (device_id, jid)
);

CREATE TABLE wa_sent_message (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat_jid TEXT NOT NULL,
    message_id TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, chat_jid, message_id)
);

CREATE TABLE wa_pending_inbound (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat TEXT NOT NULL,
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    message BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, chat, sender, message_id)
);

CREATE TABLE wa_msg_secret (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat TEXT NOT NULL,
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    secret BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    message_ts BIGINT NOT NULL,
    PRIMARY KEY (device_id, chat, sender, message_id)
);
