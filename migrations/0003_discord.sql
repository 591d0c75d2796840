-- The Discord bot's durable state: which servers it knows since when, and every member's
-- verification (pending with a deadline, held for an admin, verified, kicked).
-- Deadlines live here, not in memory, so restarts neither forget nor double-kick anyone.

CREATE TABLE discord_guilds (
    guild_id TEXT PRIMARY KEY,
    -- Members who joined before this are never prompted or kicked automatically.
    first_connected_at {timestamp} NOT NULL,
    -- Set by /set_timeout; VERIFICATION_TIMEOUT applies while NULL.
    timeout_seconds BIGINT
);

CREATE TABLE discord_members (
    guild_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- pending | held | verified | kicked | lapsed
    state TEXT NOT NULL,
    deadline {timestamp},
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    -- An admin confirmed held kicks (/confirm_kicks): the burst limit no longer applies.
    kick_confirmed BOOLEAN NOT NULL DEFAULT FALSE,
    -- A replica working on this member's deadline; others leave it alone until it lapses.
    lease_until {timestamp},
    kicked_at {timestamp},
    updated_at {timestamp} NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX discord_members_due_idx ON discord_members (state, deadline);
CREATE INDEX discord_members_kicked_idx ON discord_members (kicked_at);
