-- Riposte schema v3: environments, detection rules (versioned), projects, and what each alert decided.

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The current version of each rule; every version ever saved is in rule_versions.
CREATE TABLE rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enabled BIGINT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Kept when a rule is deleted: investigations name the version they started with.
CREATE TABLE rule_versions (
    rule_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (rule_id, version)
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

ALTER TABLE investigations ADD COLUMN project_id TEXT;
ALTER TABLE investigations ADD COLUMN rule_id TEXT;
ALTER TABLE investigations ADD COLUMN rule_version BIGINT;
ALTER TABLE investigations ADD COLUMN target_key TEXT;
ALTER TABLE investigations ADD COLUMN plan TEXT;
CREATE INDEX investigations_target_key ON investigations (target_key, created_at);
CREATE INDEX investigations_project ON investigations (project_id);

-- One row per acquired system; taking its row lock serializes "join or start" decisions.
CREATE TABLE target_locks (
    target_key TEXT PRIMARY KEY,
    locked_at BIGINT NOT NULL
);

-- Every rule's outcome for the alert (JSON), beside the one-line decision.
ALTER TABLE alerts ADD COLUMN decision_detail TEXT;
