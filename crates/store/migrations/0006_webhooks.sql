-- Riposte schema v6: outbound webhooks (Settings › Integrations › Webhooks), SIEM exports,
-- and the log of every delivery attempt to either.

-- A webhook: where to send which events, in which shape. Secrets are sealed with the
-- master key: the HMAC signing secret, and the Authorization credential (JSON).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    preset TEXT NOT NULL,
    events TEXT NOT NULL,
    template TEXT,
    settings TEXT NOT NULL,
    secret_sealed TEXT,
    auth_sealed TEXT,
    max_attempts BIGINT NOT NULL,
    base_delay_ms BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A SIEM export: alarms and verdicts pushed in batches to Splunk HEC or an
-- Elasticsearch/OpenSearch `_bulk` endpoint.
CREATE TABLE siem_exports (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    settings TEXT NOT NULL,
    auth_sealed TEXT,
    max_attempts BIGINT NOT NULL,
    base_delay_ms BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per attempt; the attempts of one delivery share `delivery_id`.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    ok BIGINT NOT NULL,
    error TEXT,
    response_excerpt TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX deliveries_target ON deliveries (target_kind, target_id, created_at);
