-- A message WhatsApp delivered but the bridge could not decrypt: its row holds the place
-- (no payload) so the portal can say it is coming; the decrypted copy WhatsApp sends after
-- the retry request replaces the row and is bridged again, as a new arrival.
ALTER TABLE wa_inbox ADD COLUMN undecryptable BOOLEAN NOT NULL DEFAULT FALSE;
