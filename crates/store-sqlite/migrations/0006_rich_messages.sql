-- Rich messages (quick replies, replies, personas, reactions), media attachments,
-- the Messenger Profile, personas and what the User Profile API tells about a person.
ALTER TABLE messages ADD COLUMN quick_replies TEXT;
ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN persona_id TEXT;
-- The emoji each side of the thread reacted with, if any.
ALTER TABLE messages ADD COLUMN person_reaction TEXT;
ALTER TABLE messages ADD COLUMN page_reaction TEXT;

-- How far the Page has seen the person's messages (`mark_seen`).
ALTER TABLE threads ADD COLUMN page_seen_watermark INTEGER NOT NULL DEFAULT 0;

-- The Page's conversations, most recent first (Conversations API).
CREATE INDEX threads_by_page ON threads (page_id, last_message_at DESC);

-- Media a Page uploaded or sent, or a person sent. The bytes live on disk under their
-- SHA-256 (`digest`); many attachments may share one file.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    -- image, audio, video or file
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_name TEXT,
    -- Only reusable attachments may be sent again by id.
    reusable INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_by_digest ON attachments (digest);

-- One row per Messenger Profile property a Page set; `value` is its JSON.
CREATE TABLE messenger_profiles (
    page_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (page_id, field)
);

CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    name TEXT NOT NULL,
    profile_picture_url TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX personas_by_page ON personas (page_id, created_at);

-- What a person tells Pages about themselves beyond their name.
CREATE TABLE person_profiles (
    person_id INTEGER PRIMARY KEY,
    locale TEXT NOT NULL,
    -- hours from UTC (may be fractional, as Meta's)
    timezone REAL NOT NULL,
    gender TEXT
);
