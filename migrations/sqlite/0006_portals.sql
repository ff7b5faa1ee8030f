-- Who sent a message by the other address form (the phone number of a LID sender, or the
-- LID of a phone-number sender), when WhatsApp said: one person, one ghost.
ALTER TABLE wa_inbox ADD COLUMN sender_alt TEXT NOT NULL DEFAULT '';

-- A WhatsApp chat of one linked device and the Matrix room that mirrors it.
CREATE TABLE portal (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat_jid TEXT NOT NULL,
    room_id TEXT NOT NULL UNIQUE,
    is_group BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, chat_jid)
);

-- The Matrix users that stand for WhatsApp contacts, and what their profiles were set to.
CREATE TABLE ghost (
    identifier TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every bridged message part, both ways: replies, reactions, edits and revokes find their
-- targets through it, after restarts too.
CREATE TABLE message_map (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat_jid TEXT NOT NULL,
    wa_message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    wa_sender TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, chat_jid, wa_message_id, part)
);
CREATE UNIQUE INDEX message_map_event ON message_map (room_id, event_id);
