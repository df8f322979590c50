-- Claiming walks queued jobs in (run_at, created_at) order: with this index it reads the
-- first rows instead of sorting every queued job (a backlog of 50,000 made each claim scan
-- and sort them all while holding SQLite's write lock).
CREATE INDEX jobs_claim ON jobs (status, run_at, created_at);
DROP INDEX jobs_ready;
