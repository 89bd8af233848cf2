-- Messages with an attachment (the notification templates so far), and the opt-in
-- requests behind one-time and recurring notifications with the tokens persons
-- grant by accepting them.
ALTER TABLE messages ADD COLUMN attachment TEXT;

CREATE TABLE optin_requests (
    mid TEXT PRIMARY KEY,
    -- 'one_time', or the recurring frequency: 'DAILY', 'WEEKLY', 'MONTHLY'
    kind TEXT NOT NULL,
    page_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    tapped_at INTEGER,
    -- SHA-256 of the token; the token itself is shown in webhooks only.
    token_digest TEXT UNIQUE,
    token_expires_at INTEGER,
    stopped_at INTEGER,
    -- The last message sent with the token (a one-time token sends once, ever).
    last_sent_at INTEGER
);
-- One outstanding one-time request per topic and person: a new one waits until the
-- last one's token is used.
CREATE UNIQUE INDEX optin_outstanding_one_time ON optin_requests (page_id, person_id, title)
    WHERE kind = 'one_time' AND last_sent_at IS NULL;
CREATE INDEX optin_requests_by_person ON optin_requests (page_id, person_id, created_at);
