-- Apps join Pages with consent: the same tables and meaning as SQLite's 0009_consent.sql.

CREATE TABLE app_redirect_uris (
    app_id TEXT NOT NULL REFERENCES apps(id),
    uri TEXT NOT NULL,
    PRIMARY KEY (app_id, uri)
);

-- Only digests of codes are stored; a code is spent once.
CREATE TABLE login_codes (
    digest TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE user_permissions (
    person_id BIGINT NOT NULL REFERENCES persons(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    permission TEXT NOT NULL,
    status TEXT NOT NULL,            -- 'granted' | 'declined'
    at BIGINT NOT NULL,
    PRIMARY KEY (person_id, app_id, permission)
);

CREATE TABLE permission_reviews (
    app_id TEXT NOT NULL REFERENCES apps(id),
    permission TEXT NOT NULL,
    status TEXT NOT NULL,            -- 'pending' | 'approved' | 'declined'
    note TEXT NOT NULL,
    reason TEXT,
    submitted_at BIGINT NOT NULL,
    decided_at BIGINT,
    PRIMARY KEY (app_id, permission)
);

CREATE TABLE businesses (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin_id BIGINT REFERENCES persons(id)   -- NULL: made by the operator
);
ALTER TABLE apps ADD COLUMN business_id TEXT REFERENCES businesses(id);
ALTER TABLE pages ADD COLUMN business_id TEXT REFERENCES businesses(id);

-- The app a test user was made for; a deleted test user keeps its row, signed out
-- for good, until persons can be erased.
ALTER TABLE persons ADD COLUMN test_user_of TEXT;
ALTER TABLE persons ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;

-- Grants and user tokens from before consent existed carry what a Messenger bot
-- needs, as the console's grant does now.
INSERT INTO user_permissions (person_id, app_id, permission, status, at)
    SELECT g.person_id, g.app_id, p.name, 'granted', 0
    FROM (SELECT granted_by AS person_id, app_id FROM page_grants
          UNION SELECT person_id, app_id FROM tokens WHERE kind = 'user' AND NOT revoked) g,
         (SELECT 'public_profile' AS name UNION ALL SELECT 'pages_messaging' UNION ALL SELECT 'pages_show_list'
          UNION ALL SELECT 'pages_manage_metadata' UNION ALL SELECT 'pages_read_engagement') p
    WHERE true
    ON CONFLICT (person_id, app_id, permission) DO NOTHING;

-- Apps that were live before review existed keep reaching everyone.
INSERT INTO permission_reviews (app_id, permission, status, note, submitted_at, decided_at)
    SELECT a.id, p.name, 'approved', 'live before App Review existed', 0, 0
    FROM apps a, (SELECT 'pages_messaging' AS name UNION ALL SELECT 'pages_show_list'
                  UNION ALL SELECT 'pages_manage_metadata' UNION ALL SELECT 'pages_read_engagement') p
    WHERE a.mode = 'live'
    ON CONFLICT (app_id, permission) DO NOTHING;
