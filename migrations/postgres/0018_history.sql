-- History sync: every payload the phone sends after linking, kept as it came (still
-- compressed) before anything reads it, so a crash while reading loses nothing.
CREATE TABLE wa_history_blob (
    id BIGSERIAL PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    sync_type INTEGER NOT NULL,
    chunk_order INTEGER NOT NULL,
    progress INTEGER NOT NULL,
    received_at BIGINT NOT NULL,
    compressed BYTEA NOT NULL,
    decompressed_size BIGINT NOT NULL,
    parsed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX wa_history_blob_unparsed ON wa_history_blob (device_id, parsed);

-- The chats the phone described, by phone-number address where it is known. backfill:
-- 'stored' (only kept), 'queued' (chosen for a portal), 'done' (its portal was filled).
CREATE TABLE wa_history_chat (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat TEXT NOT NULL,
    name TEXT NOT NULL,
    unread_count INTEGER NOT NULL,
    pinned BOOLEAN NOT NULL,
    archived BOOLEAN NOT NULL,
    muted_until_ms BIGINT NOT NULL,
    last_message_ms BIGINT NOT NULL,
    backfill TEXT NOT NULL DEFAULT 'stored',
    PRIMARY KEY (device_id, chat)
);

-- Every message the history held, decoded; kept after backfill. Same columns as the
-- inbox, so both bridge the same way; a message in several payloads lands once.
CREATE TABLE wa_history_message (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_alt TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    push_name TEXT NOT NULL,
    from_me BOOLEAN NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (device_id, chat, sender, message_id)
);
CREATE INDEX wa_history_message_time ON wa_history_message (device_id, chat, sent_at_ms);

-- A portal whose chat was marked read on the phone: the owner's read receipt goes to
-- this event once they join the room.
ALTER TABLE portal ADD COLUMN read_on_join TEXT NOT NULL DEFAULT '';
