-- The admin UI's Discord page and overview.
--
-- A member verified from the admin UI gets their roles from whichever replica holds the
-- Discord connection: the grant waits here (claimed with lease_until, like a deadline)
-- until the bot has carried it out.
ALTER TABLE discord_members ADD COLUMN roles_due BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX discord_members_roles_due_idx ON discord_members (roles_due);

-- What the bot last found in each server's setup (roles, its own role's place,
-- permissions, the verification channel), as JSON, so any replica can show it.
CREATE TABLE discord_guild_setup (
    guild_id TEXT PRIMARY KEY,
    guild_name TEXT NOT NULL,
    report {json} NOT NULL,
    checked_at {timestamp} NOT NULL
);

-- Verifications per day, for the overview's chart.
CREATE INDEX invitees_verified_at_idx ON invitees (verified_at);
