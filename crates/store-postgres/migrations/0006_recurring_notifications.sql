-- Recurring notifications ("notification messages"): opt-in requests, the tokens
-- persons grant by accepting them, and each topic's stop state and last message.
CREATE TABLE rn_requests (
    mid TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    payload TEXT NOT NULL,
    frequency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    tapped_at BIGINT,
    -- SHA-256 of the token; the token itself is shown in the opt-in webhook only.
    token_digest TEXT UNIQUE,
    token_expires_at BIGINT,
    stopped_at BIGINT,
    last_sent_at BIGINT
);
CREATE INDEX rn_requests_by_person ON rn_requests (page_id, person_id, created_at);
