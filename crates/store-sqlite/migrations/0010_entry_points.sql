-- Entry points and account linking: the persons the checkbox plugin made known to a
-- Page by the site's user_ref (one message each), account-linking tokens (digests
-- only, spent once) and the threads whose person linked an account.

CREATE TABLE user_refs (
    page_id TEXT NOT NULL REFERENCES pages(id),
    user_ref TEXT NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    ref TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_mid TEXT,
    PRIMARY KEY (page_id, user_ref)
);

CREATE TABLE account_linking_tokens (
    digest TEXT PRIMARY KEY,
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    expires_at INTEGER NOT NULL,
    spent_at INTEGER
);

CREATE TABLE account_links (
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (page_id, person_id)
);
