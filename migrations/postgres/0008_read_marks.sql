-- How far the portal's owner has read the chat from Matrix (the WhatsApp time of the last
-- message they marked read): the next read receipt covers only what came after.
ALTER TABLE portal ADD COLUMN read_until_ms BIGINT NOT NULL DEFAULT 0;
