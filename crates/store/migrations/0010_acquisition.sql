-- Riposte schema v10: what an investigation's acquisition found (the OS layouts detected,
-- the triage profiles applied, counts of items, parsable items and skipped entries), JSON.
ALTER TABLE investigations ADD COLUMN acquisition TEXT;
