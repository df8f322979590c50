-- Riposte schema v1, for SQLite and Postgres alike (portable types only). Times are epoch milliseconds (UTC) unless the column says _us.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);

CREATE TABLE investigations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    host TEXT NOT NULL,
    target TEXT NOT NULL,
    verdict TEXT,
    score BIGINT,
    verdict_detail TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX investigations_created ON investigations (created_at);
CREATE INDEX investigations_host_status ON investigations (host, status);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL UNIQUE,
    vendor_event_id TEXT,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    investigation_id TEXT REFERENCES investigations (id),
    decision TEXT,
    body TEXT NOT NULL
);
CREATE INDEX alerts_received ON alerts (received_at);

CREATE TABLE investigation_alerts (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    PRIMARY KEY (investigation_id, alert_id)
);

CREATE TABLE evidence (
    id TEXT PRIMARY KEY,
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    original_path TEXT NOT NULL,
    provenance TEXT NOT NULL,
    collected_at BIGINT NOT NULL,
    UNIQUE (investigation_id, original_path)
);

CREATE TABLE events (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    seq BIGINT NOT NULL,
    time_us BIGINT,
    host TEXT NOT NULL,
    entity TEXT NOT NULL,
    action TEXT NOT NULL,
    username TEXT,
    remote_ip TEXT,
    message TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (investigation_id, seq)
);
CREATE INDEX events_time ON events (investigation_id, time_us);
CREATE INDEX events_entity_action ON events (investigation_id, entity, action);
CREATE INDEX events_username ON events (investigation_id, username);
CREATE INDEX events_remote_ip ON events (investigation_id, remote_ip);

CREATE TABLE alarms (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    seq BIGINT NOT NULL,
    detector TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (investigation_id, seq)
);

CREATE TABLE parse_reports (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    evidence_id TEXT NOT NULL,
    parser TEXT NOT NULL,
    events BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    first_error TEXT,
    PRIMARY KEY (investigation_id, evidence_id)
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    investigation_id TEXT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_investigation ON audit_log (investigation_id, at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    investigation_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at);
CREATE INDEX jobs_investigation ON jobs (investigation_id);
