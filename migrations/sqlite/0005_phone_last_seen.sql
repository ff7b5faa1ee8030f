-- When the account's phone (its primary device) was last heard from, in ms since the epoch:
-- WhatsApp unlinks companions of a phone that stays offline for about 14 days.
ALTER TABLE login ADD COLUMN phone_last_seen BIGINT;
