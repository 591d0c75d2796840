-- The admin UI's imports, shared by every replica: a file is staged on one request,
-- started on another and followed on others, and any replica may answer each.
--
-- A staged file waits here for its import (the latest few, for an hour at most); starting
-- the import takes it (deletes it), so it is imported once.
CREATE TABLE staged_imports (
    id TEXT PRIMARY KEY,
    file {bytes} NOT NULL,
    size BIGINT NOT NULL,
    staged_at {timestamp} NOT NULL
);
CREATE INDEX staged_imports_staged_at_idx ON staged_imports (staged_at);
-- An import job runs on the replica that started it, which writes its progress here (the
-- heartbeat is updated_at); the latest few are kept.
CREATE TABLE import_jobs (
    id TEXT PRIMARY KEY,
    started_at {timestamp} NOT NULL,
    file_bytes BIGINT NOT NULL,
    bytes_read BIGINT NOT NULL,
    rows_read BIGINT NOT NULL,
    -- running, finished or failed (domain::ImportJobState).
    state TEXT NOT NULL,
    -- The finished import's report (service::ImportReport as JSON).
    report {json},
    -- Why a failed import stopped.
    failure TEXT,
    updated_at {timestamp} NOT NULL
);
CREATE INDEX import_jobs_started_at_idx ON import_jobs (started_at);
