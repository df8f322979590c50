-- Riposte schema v7 (PostgreSQL): free-text search over the timeline. Each event keeps
-- its searchable text (message and attribute values, lower-cased) in `search`, and a
-- trigram GIN index (pg_trgm, shipped with PostgreSQL and trusted, so the schema owner
-- can enable it) lets `search LIKE '%term%'` find rare terms without scanning the
-- investigation; the planner still walks the timeline index for frequent ones.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE events ADD COLUMN search TEXT NOT NULL DEFAULT '';
UPDATE events SET search = LOWER(message);
CREATE INDEX events_search_trigram ON events USING gin (search gin_trgm_ops);
