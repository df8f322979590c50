-- Riposte schema v5: response actions (stop instance, isolate role, isolate security group),
-- done, rehearsed (dry run), failed or released, with what each changed so it can be undone.

CREATE TABLE response_actions (
    id TEXT PRIMARY KEY,
    -- NULL for an action started by hand (`riposte respond`).
    investigation_id TEXT REFERENCES investigations (id),
    action TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    region TEXT NOT NULL,
    account_id TEXT,
    -- The whole target (instance, region, account, assumed role) as JSON.
    target TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    -- succeeded, failed, released or dry_run.
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    -- What the action found and changed (JSON): what release puts back.
    previous_state TEXT,
    error_code TEXT,
    error_message TEXT,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    released_at BIGINT,
    released_by TEXT,
    release_note TEXT
);
CREATE INDEX response_actions_created ON response_actions (created_at);
CREATE INDEX response_actions_investigation ON response_actions (investigation_id, created_at);
CREATE INDEX response_actions_instance ON response_actions (instance_id, created_at);
