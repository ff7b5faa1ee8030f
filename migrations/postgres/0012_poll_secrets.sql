-- The secret of every poll the bridge saw or sent: votes are encrypted with a key derived
-- from it, so a vote can only be read with the poll's secret.
CREATE TABLE poll_secret (
    device_id INTEGER NOT NULL REFERENCES wa_device (id) ON DELETE CASCADE,
    chat_jid TEXT NOT NULL,
    message_id TEXT NOT NULL,
    secret BYTEA NOT NULL,
    PRIMARY KEY (device_id, chat_jid, message_id)
);
