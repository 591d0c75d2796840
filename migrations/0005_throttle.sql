-- Failed verification attempts are counted per source too (a Discord account or a client
-- address), so that one person's mistakes, or an attacker's, throttle only themselves.
-- Rows from before have no known source.
ALTER TABLE verification_failures ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX verification_failures_source_idx ON verification_failures (source, failed_at);

-- Wrong admin keys, one counter per client address and fixed window; the row names the
-- event that reports the window, so the log holds one entry per address and window.
CREATE TABLE api_key_rejections (
    address TEXT NOT NULL,
    window_start {timestamp} NOT NULL,
    rejected BIGINT NOT NULL,
    event_id BIGINT,
    PRIMARY KEY (address, window_start)
);
CREATE INDEX api_key_rejections_age_idx ON api_key_rejections (window_start);
