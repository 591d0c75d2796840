-- One-click join: each trip to Discord's consent page and back carries a state that
-- doorman made. Only hashes are kept: of the state (the id) and of the cookie that binds
-- it to the browser that set off. Single-use: taking one deletes it.
CREATE TABLE join_states (
    id TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    invitee_id BIGINT NOT NULL,
    -- The invitation's token (its hash) when the trip began: a token refreshed meanwhile
    -- no longer verifies.
    token_hash TEXT NOT NULL,
    created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL
);
CREATE INDEX join_states_expires_idx ON join_states (expires_at);
-- The personal link finds its invitation by the token's keyed hash.
CREATE INDEX invitees_token_hash_idx ON invitees (token_hash);
