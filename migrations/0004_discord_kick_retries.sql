-- A kick Discord refuses (doorman lacks a permission) is retried with a growing wait kept
-- in lease_until, so a restart keeps it; the admin is told once and reminded only while
-- the refusal lasts.
ALTER TABLE discord_members ADD COLUMN kick_refusals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE discord_members ADD COLUMN refusal_reported_at {timestamp};
