-- Riposte schema v2: push integrations, pull connections, ingestion errors, webhook replay guard.

-- A push integration: one URL (/hooks/{id}) and one secret per sender.
CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

-- HMAC signatures accepted recently: the same signed request is refused a second time.
CREATE TABLE webhook_replays (
    integration_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (integration_id, signature)
);
CREATE INDEX webhook_replays_expiry ON webhook_replays (expires_at);

-- A pull connection to a vendor API (XDR or cloud), with its polling state.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vendor TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret_sealed TEXT,
    enabled BIGINT NOT NULL,
    poll_interval_s BIGINT NOT NULL,
    overlap_s BIGINT NOT NULL,
    lookback_s BIGINT NOT NULL,
    cursor_ms BIGINT,
    next_poll_at BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_polled_at BIGINT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    alerts_ingested BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX connections_due ON connections (enabled, next_poll_at);

-- Payloads a source could not turn into alerts (pulled ones; pushed ones get a 4xx instead).
CREATE TABLE ingest_errors (
    id TEXT PRIMARY KEY,
    connection_id TEXT,
    source TEXT NOT NULL,
    error TEXT NOT NULL,
    payload TEXT NOT NULL,
    digest TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX ingest_errors_received ON ingest_errors (received_at);
-- Overlapping poll windows re-read a bad payload; it is recorded once per source.
CREATE UNIQUE INDEX ingest_errors_digest ON ingest_errors (source, digest);

-- How often the same alert arrived again, and when last.
ALTER TABLE alerts ADD COLUMN seen_count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_received_at BIGINT;
