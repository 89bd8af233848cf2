-- Messages with an attachment (the one_time_notif_req template so far), and the
-- one-time notification requests with the tokens persons grant by tapping them.
ALTER TABLE messages ADD COLUMN attachment TEXT;

CREATE TABLE otn_requests (
    mid TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    tapped_at BIGINT,
    -- SHA-256 of the token; the token itself is shown once, in the opt-in webhook.
    token_digest TEXT UNIQUE,
    token_expires_at BIGINT,
    used_at BIGINT
);
-- One outstanding request per topic and person: a new one waits until the last is used.
CREATE UNIQUE INDEX otn_outstanding_topic ON otn_requests (page_id, person_id, title) WHERE used_at IS NULL;
