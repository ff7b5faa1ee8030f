-- The device API's devices: named slots a dashboard creates for a Matrix user, each of
-- which holds at most one WhatsApp login. A logout empties the slot; deleting it is the
-- dashboard's call.
CREATE TABLE api_device (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    login_device INTEGER REFERENCES login (device_id) ON DELETE SET NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE UNIQUE INDEX api_device_login ON api_device (login_device);
