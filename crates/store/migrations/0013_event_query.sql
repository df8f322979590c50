-- Riposte schema v13: the event query across investigations (SECDO's URL semantics).
-- Every query names an entity and reads newest first, so one index in that order answers
-- "every network event, newest first" without visiting each investigation's timeline.
CREATE INDEX events_entity_newest ON events (entity, sort_us, investigation_id, seq);
