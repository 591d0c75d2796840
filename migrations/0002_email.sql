-- Invitation emails: a durable queue (which is also the local outbox), and the SendGrid
-- webhook events already applied. Rendered per backend like 0001.

ALTER TABLE invitees ADD COLUMN email_error TEXT;
-- When an email was last queued for the invitee (the resend cooldown counts from here).
ALTER TABLE invitees ADD COLUMN email_queued_at {timestamp};
-- When the latest invitation was queued (reminders count their days from here).
ALTER TABLE invitees ADD COLUMN invited_at {timestamp};
-- Counts the invitee's invitations, so each reminder is keyed to the invitation it
-- follows (an integer reads the same on every connection, whatever its time zone).
ALTER TABLE invitees ADD COLUMN invitation_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE emails (
    id {id},
    -- Not a foreign key: the record of what was sent outlives the invitee. NULL for tests.
    invitee_id BIGINT,
    -- invitation, reminder or test.
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    -- queued, sent, failed, cancelled; then delivered, bounced, dropped, deferred from
    -- the provider's webhook.
    status TEXT NOT NULL,
    route TEXT NOT NULL,
    -- The emails queued together by one request or command.
    batch_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {timestamp} NOT NULL,
    -- Set while a worker holds the email; once past, another worker may take it.
    lease_until {timestamp},
    -- Which claim holds the email: a worker records its result only under its own claim.
    lease_token TEXT,
    last_error TEXT,
    provider_message_id TEXT,
    -- Outbox emails only: the email as the invitee would have received it.
    subject TEXT,
    html_body TEXT,
    text_body TEXT,
    -- A reminder's identity (invitee, day, invitation), so it is queued at most once
    -- however many replicas look for due reminders. NULL for everything else.
    dedupe_key TEXT,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    sent_at {timestamp}
);
CREATE INDEX emails_due_idx ON emails (status, next_attempt_at);
CREATE INDEX emails_invitee_idx ON emails (invitee_id, id);
CREATE INDEX emails_batch_idx ON emails (batch_id);
CREATE UNIQUE INDEX emails_dedupe_key ON emails (dedupe_key);

CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY,
    received_at {timestamp} NOT NULL
);
