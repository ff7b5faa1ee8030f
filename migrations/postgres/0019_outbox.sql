-- Matrix → WhatsApp: what a portal's owner sent, stored before the homeserver is told
-- the event was taken, and sent to WhatsApp by the device's outbox worker, in order,
-- once the account is connected. A row goes when its message is on WhatsApp (or could
-- never be sent, which the owner is told), or with its login.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES login (device_id) ON DELETE CASCADE,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    event TEXT NOT NULL,
    queued_at BIGINT NOT NULL
);
CREATE INDEX outbox_device ON outbox (device_id, seq);
