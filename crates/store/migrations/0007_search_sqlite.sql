-- Riposte schema v7 (SQLite): free-text search over the timeline. Each event keeps its
-- searchable text (message and attribute values, lower-cased) in `search`, and an FTS5
-- trigram index over that column answers "contains this text" without scanning the
-- investigation: a term that matches a few events out of millions is found in
-- milliseconds. The index reads its text from the events table (external content) and
-- triggers keep it in step with inserts and deletes. The text is lower-cased before it is
-- stored, so the tokenizer keeps trigrams as they are.

ALTER TABLE events ADD COLUMN search TEXT NOT NULL DEFAULT '';
UPDATE events SET search = LOWER(message);

CREATE VIRTUAL TABLE events_search USING fts5 (
    search,
    content = 'events',
    content_rowid = 'rowid',
    tokenize = 'trigram case_sensitive 1',
    detail = 'none'
);
INSERT INTO events_search (events_search) VALUES ('rebuild');

CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_search (rowid, search) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_search (events_search, rowid, search) VALUES ('delete', old.rowid, old.search);
END;
