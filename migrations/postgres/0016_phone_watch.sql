-- When the phone-silence watchdog last warned the owner and last pinged the phone (ms), so
-- a restart keeps its once-a-day rhythm; cleared when the phone is seen again.
ALTER TABLE login ADD COLUMN phone_warned_at BIGINT;
ALTER TABLE login ADD COLUMN phone_pinged_at BIGINT;
