-- Switchboard schema, version 1. PostgreSQL's migrations carry the same numbers.

CREATE TABLE operators (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_digest TEXT NOT NULL
);

CREATE TABLE persons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE pages (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE
);

CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    mode TEXT NOT NULL,
    secret_generation INTEGER NOT NULL,
    require_proof INTEGER NOT NULL
);

CREATE TABLE app_roles (
    app_id TEXT NOT NULL REFERENCES apps(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    PRIMARY KEY (app_id, person_id)
);

CREATE TABLE page_roles (
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    PRIMARY KEY (page_id, person_id)
);

CREATE TABLE page_grants (
    page_id TEXT NOT NULL REFERENCES pages(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    granted_by INTEGER NOT NULL REFERENCES persons(id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (page_id, app_id)
);

-- Only digests of tokens are stored.
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    person_id INTEGER,
    page_id TEXT,
    app_id TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE app_subscriptions (
    app_id TEXT NOT NULL REFERENCES apps(id),
    object TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    verify_token TEXT NOT NULL,
    fields TEXT NOT NULL,
    version TEXT NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (app_id, object)
);

CREATE TABLE page_subscriptions (
    page_id TEXT NOT NULL REFERENCES pages(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    fields TEXT NOT NULL,
    PRIMARY KEY (page_id, app_id)
);

CREATE TABLE psids (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    page_id TEXT NOT NULL REFERENCES pages(id),
    psid TEXT NOT NULL,
    PRIMARY KEY (person_id, page_id),
    UNIQUE (page_id, psid)
);

CREATE TABLE asids (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    asid TEXT NOT NULL,
    PRIMARY KEY (person_id, app_id),
    UNIQUE (app_id, asid)
);

CREATE TABLE threads (
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    last_person_at INTEGER,
    delivered_watermark INTEGER NOT NULL DEFAULT 0,
    read_watermark INTEGER NOT NULL DEFAULT 0,
    last_message_at INTEGER NOT NULL,
    PRIMARY KEY (page_id, person_id)
);
CREATE INDEX threads_by_person ON threads (person_id, last_message_at DESC);

CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mid TEXT NOT NULL UNIQUE,
    page_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    direction TEXT NOT NULL,
    app_id TEXT,
    text TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_thread ON messages (page_id, person_id, created_at);

-- The transactional outbox: webhook events stored with the facts that cause them.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    page_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER,
    last_error TEXT,
    delivered_at INTEGER,
    -- 1 on a thread's oldest pending event: the only one that may be claimed. Claims
    -- scan heads only, so a long backlog in one thread costs them nothing.
    is_head INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending_by_thread ON outbox (app_id, page_id, person_id, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_heads_by_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND is_head = 1;
