-- The verified name of a business sender, when WhatsApp gave one with the message.
ALTER TABLE wa_inbox ADD COLUMN business_name TEXT NOT NULL DEFAULT '';
