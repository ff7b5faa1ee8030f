-- Messages WhatsApp delivered, written before the library acknowledges them: the bridge's
-- durable queue from WhatsApp to Matrix. (chat, sender, message_id) makes redeliveries
-- land once; seq keeps arrival order per device.
CREATE TABLE wa_inbox (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    chat TEXT NOT NULL,
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    push_name TEXT NOT NULL,
    from_me BOOLEAN NOT NULL,
    payload BYTEA NOT NULL,
    bridged BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (device_id, chat, sender, message_id)
);
CREATE UNIQUE INDEX wa_inbox_order ON wa_inbox (device_id, seq);
