-- Invitees, the event log and failed verification attempts.
-- Written once for both databases: {id}, {timestamp} and {json} are filled in per backend
-- by the migration runner; everything else is SQL both SQLite and PostgreSQL accept.

CREATE TABLE invitees (
    id {id},
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    college TEXT NOT NULL,
    branch TEXT NOT NULL,
    year TEXT NOT NULL,
    is_verified BOOLEAN NOT NULL DEFAULT FALSE,
    verified_at {timestamp},
    discord_user_id TEXT,
    token_hash TEXT,
    token_sealed TEXT,
    token_created_at {timestamp},
    token_expires_at {timestamp},
    email_status TEXT NOT NULL DEFAULT 'not_sent',
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    -- Emails are stored normalised, so a plain unique index makes them unique
    -- case-insensitively on both databases.
    CONSTRAINT invitees_email_lowercase CHECK (email = lower(email))
);
CREATE UNIQUE INDEX invitees_email_key ON invitees (email);
-- One Discord account links to at most one invitee. Partial, so the many invitees not
-- yet linked cost the index nothing (an import writes no entries to it).
CREATE UNIQUE INDEX invitees_discord_user_id_key ON invitees (discord_user_id)
    WHERE discord_user_id IS NOT NULL;

CREATE TABLE events (
    id {id},
    kind TEXT NOT NULL,
    -- Not a foreign key: the log outlives the invitees it mentions.
    invitee_id BIGINT,
    actor TEXT NOT NULL,
    channel TEXT,
    detail {json} NOT NULL,
    created_at {timestamp} NOT NULL
);
CREATE INDEX events_kind_idx ON events (kind, id);
CREATE INDEX events_invitee_idx ON events (invitee_id, id);

CREATE TABLE verification_failures (
    id {id},
    email TEXT NOT NULL,
    failed_at {timestamp} NOT NULL
);
CREATE INDEX verification_failures_email_idx ON verification_failures (email, failed_at);
-- Old failures are forgotten in bulk, by age.
CREATE INDEX verification_failures_age_idx ON verification_failures (failed_at);
