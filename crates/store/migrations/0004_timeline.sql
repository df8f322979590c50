-- Riposte schema v4: the timeline at scale. Each event gets one sort key (its time in
-- microseconds, or after every timed event when it has none), and each filter of the
-- timeline API has an index that returns its rows already in timeline order, so a page
-- is a short index range scan however many millions of events the investigation holds.

ALTER TABLE events ADD COLUMN sort_us BIGINT NOT NULL DEFAULT 9223372036854775807;
UPDATE events SET sort_us = time_us WHERE time_us IS NOT NULL;

DROP INDEX events_time;
DROP INDEX events_entity_action;
DROP INDEX events_username;

CREATE INDEX events_timeline ON events (investigation_id, sort_us, seq);
CREATE INDEX events_entity_timeline ON events (investigation_id, entity, sort_us, seq);
CREATE INDEX events_action_timeline ON events (investigation_id, action, sort_us, seq);
CREATE INDEX events_host_timeline ON events (investigation_id, host, sort_us, seq);
CREATE INDEX events_username_timeline ON events (investigation_id, username, sort_us, seq);

-- How long each artifact took to parse.
ALTER TABLE parse_reports ADD COLUMN duration_ms BIGINT NOT NULL DEFAULT 0;
