-- Riposte schema v9: the story of an investigation (events correlated with its alert,
-- causality chains of its alarms, incident scope), written with its alarms.
CREATE TABLE investigation_stories (
    investigation_id TEXT PRIMARY KEY REFERENCES investigations(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
