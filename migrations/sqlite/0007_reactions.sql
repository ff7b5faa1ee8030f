-- The reaction each person has on a message, as a Matrix event: WhatsApp replaces a
-- reaction (or removes it) by naming the message again, and Matrix needs the old event
-- to redact.
CREATE TABLE reaction_map (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat_jid TEXT NOT NULL,
    target_wa_id TEXT NOT NULL,
    wa_sender TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    PRIMARY KEY (device_id, chat_jid, target_wa_id, wa_sender)
);
CREATE UNIQUE INDEX reaction_map_event ON reaction_map (room_id, event_id);
