-- Riposte schema v16: web console sessions. The browser holds a random token in an
-- HttpOnly cookie; only its SHA-256 is stored. A session acts with its API key's role and
-- ends when the key is revoked, when it expires, or at sign-out. The CSRF token is sent back
-- by the console in a header on every state-changing request.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_key ON console_sessions (api_key_id);
