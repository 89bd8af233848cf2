-- Switchboard schema, version 1: the same tables and meaning as SQLite's 0001_init.sql.

CREATE TABLE operators (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_digest TEXT NOT NULL
);

CREATE TABLE persons (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
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
    require_proof BOOLEAN NOT NULL
);

CREATE TABLE app_roles (
    app_id TEXT NOT NULL REFERENCES apps(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    PRIMARY KEY (app_id, person_id)
);

CREATE TABLE page_roles (
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    PRIMARY KEY (page_id, person_id)
);

CREATE TABLE page_grants (
    page_id TEXT NOT NULL REFERENCES pages(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    granted_by BIGINT NOT NULL REFERENCES persons(id),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (page_id, app_id)
);

-- Only digests of tokens are stored.
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    person_id BIGINT,
    page_id TEXT,
    app_id TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE app_subscriptions (
    app_id TEXT NOT NULL REFERENCES apps(id),
    object TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    verify_token TEXT NOT NULL,
    fields TEXT NOT NULL,
    version TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (app_id, object)
);

CREATE TABLE page_subscriptions (
    page_id TEXT NOT NULL REFERENCES pages(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    fields TEXT NOT NULL,
    PRIMARY KEY (page_id, app_id)
);

CREATE TABLE psids (
    person_id BIGINT NOT NULL REFERENCES persons(id),
    page_id TEXT NOT NULL REFERENCES pages(id),
    psid TEXT NOT NULL,
    PRIMARY KEY (person_id, page_id),
    UNIQUE (page_id, psid)
);

CREATE TABLE asids (
    person_id BIGINT NOT NULL REFERENCES persons(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    asid TEXT NOT NULL,
    PRIMARY KEY (person_id, app_id),
    UNIQUE (app_id, asid)
);

CREATE TABLE threads (
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    last_person_at BIGINT,
    delivered_watermark BIGINT NOT NULL DEFAULT 0,
    read_watermark BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT NOT NULL,
    PRIMARY KEY (page_id, person_id)
);
CREATE INDEX threads_by_person ON threads (person_id, last_message_at DESC);

CREATE TABLE messages (
    seq BIGSERIAL PRIMARY KEY,
    mid TEXT NOT NULL UNIQUE,
    page_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    direction TEXT NOT NULL,
    app_id TEXT,
    text TEXT,
    metadata TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_by_thread ON messages (page_id, person_id, created_at);

-- The transactional outbox: webhook events stored with the facts that cause them.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    app_id TEXT NOT NULL,
    page_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    field TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    first_failure_at BIGINT,
    last_error TEXT,
    delivered_at BIGINT,
    -- TRUE on a thread's oldest pending event: the only one that may be claimed.
    -- Claims scan heads only, so a long backlog in one thread costs them nothing.
    -- Writers of a thread's events serialize on its `threads` row, so that a head
    -- is never missed (see the engine).
    is_head BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_pending_by_thread ON outbox (app_id, page_id, person_id, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_heads_by_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND is_head;
