-- The WhatsApp picture ID a group portal's avatar was last set from ('' for none).
ALTER TABLE portal ADD COLUMN avatar_id TEXT NOT NULL DEFAULT '';
