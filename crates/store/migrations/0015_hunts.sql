-- Riposte schema v15: scheduled hunts and their runs. A run's row is inserted in the same
-- transaction that moves the hunt's next_run_at on (compare-and-set on the time seen), so
-- each firing of the schedule is recorded once however many workers see it due; the unique
-- index on (hunt_id, scheduled_for) holds the same line in the data itself.
CREATE TABLE hunts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    next_run_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hunts_due ON hunts (enabled, next_run_at);

CREATE TABLE hunt_runs (
    id TEXT PRIMARY KEY,
    hunt_id TEXT NOT NULL,
    trigger TEXT NOT NULL,
    scheduled_for BIGINT,
    status TEXT NOT NULL,
    reason TEXT,
    project_id TEXT,
    failed_targets TEXT NOT NULL,
    counts TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX hunt_runs_once ON hunt_runs (hunt_id, scheduled_for);
CREATE INDEX hunt_runs_status ON hunt_runs (status);
CREATE INDEX hunt_runs_hunt ON hunt_runs (hunt_id, created_at);
