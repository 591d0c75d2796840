-- Admin UI sessions, in the database so that they survive a restart and work on any
-- replica. The id is a hash of the token the browser holds: a copy of this table lets
-- nobody in.
CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    -- Every state-changing request of the session must carry it (a form field or header).
    csrf_token TEXT NOT NULL,
    created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL,
    last_seen_at {timestamp} NOT NULL,
    -- Where the session was opened from, for the organiser's own review.
    client_addr TEXT
);
-- Expired sessions are forgotten in bulk, by age.
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);
