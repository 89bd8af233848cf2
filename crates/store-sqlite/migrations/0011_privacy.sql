-- Privacy: where apps want their privacy callbacks, Pages persons blocked or whose
-- conversation they deleted, PSIDs of erased persons (by digest only), the callbacks
-- owed to apps, the audit trail, each Page's retention, and who sent an attachment.

CREATE TABLE app_privacy_urls (
    app_id TEXT PRIMARY KEY REFERENCES apps(id),
    deauthorize_callback_url TEXT,
    data_deletion_url TEXT
);

ALTER TABLE threads ADD COLUMN blocked_at INTEGER;      -- the person blocked the Page
ALTER TABLE threads ADD COLUMN hidden_before INTEGER;   -- the person deleted the conversation up to here
ALTER TABLE pages ADD COLUMN retention_days INTEGER;    -- NULL: the installation's
ALTER TABLE attachments ADD COLUMN sent_by INTEGER;     -- the person who sent it; NULL for a Page's media
CREATE INDEX attachments_by_sender ON attachments (sent_by) WHERE sent_by IS NOT NULL;
CREATE INDEX attachments_by_page ON attachments (page_id, created_at);
CREATE INDEX outbox_by_person ON outbox (person_id);
CREATE INDEX optin_requests_by_person_only ON optin_requests (person_id);

CREATE TABLE erased_psids (
    page_id TEXT NOT NULL,
    psid_digest TEXT NOT NULL,
    PRIMARY KEY (page_id, psid_digest)
);

CREATE TABLE privacy_callbacks (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,               -- 'data_deletion' | 'deauthorize'
    url TEXT,
    payload TEXT,                     -- dropped once settled
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    status_url TEXT,
    confirmation_code TEXT,
    settled_at INTEGER,
    outcome TEXT                      -- 'answered' | 'given_up'
);
CREATE INDEX privacy_callbacks_due ON privacy_callbacks (next_attempt_at) WHERE settled_at IS NULL;
CREATE INDEX privacy_callbacks_by_app ON privacy_callbacks (app_id, id);

CREATE TABLE privacy_audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
