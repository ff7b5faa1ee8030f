-- The WhatsApp picture ID a ghost's avatar was last set from ('' for none), so a picture
-- is uploaded again only when the contact changed it.
ALTER TABLE ghost ADD COLUMN avatar_id TEXT NOT NULL DEFAULT '';
