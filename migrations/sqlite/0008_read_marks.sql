-- Which messages from others the portal's owner has told WhatsApp they read (from a
-- Matrix read receipt): each is named in one read receipt only.
ALTER TABLE message_map ADD COLUMN read_sent BOOLEAN NOT NULL DEFAULT FALSE;
