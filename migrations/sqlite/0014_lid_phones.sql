-- Who a LID is, by phone number, as the bridge learned it from WhatsApp: one person, one
-- ghost and one direct chat, whichever address a message came by.
CREATE TABLE lid_phone (
    lid TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    learned_at BIGINT NOT NULL
);
