-- A Matrix user's linked WhatsApp account: which device holds its keys, and its number.
CREATE TABLE login (
    device_id INTEGER PRIMARY KEY REFERENCES wa_device (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_user ON login (user_id);
