-- Riposte schema v14: SSH credentials (the secret sealed with the master key, never read
-- back through the API) and the host keys trusted on first use, per address and port.
CREATE TABLE ssh_credentials (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    username TEXT,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ssh_host_keys (
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    investigation_id TEXT,
    PRIMARY KEY (address, port, fingerprint)
);
