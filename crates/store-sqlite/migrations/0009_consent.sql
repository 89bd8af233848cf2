-- Apps join Pages with consent: the redirect URIs an app registered for the login
-- dialog, the dialog's one-time codes, what each person granted or declined to each
-- app, App Review's decisions, test users, and the businesses that own apps and
-- Pages (ID matching).

CREATE TABLE app_redirect_uris (
    app_id TEXT NOT NULL REFERENCES apps(id),
    uri TEXT NOT NULL,
    PRIMARY KEY (app_id, uri)
);

-- Only digests of codes are stored; a code is spent once.
CREATE TABLE login_codes (
    digest TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE user_permissions (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    app_id TEXT NOT NULL REFERENCES apps(id),
    permission TEXT NOT NULL,
    status TEXT NOT NULL,            -- 'granted' | 'declined'
    at INTEGER NOT NULL,
    PRIMARY KEY (person_id, app_id, permission)
);

CREATE TABLE permission_reviews (
    app_id TEXT NOT NULL REFERENCES apps(id),
    permission TEXT NOT NULL,
    status TEXT NOT NULL,            -- 'pending' | 'approved' | 'declined'
    note TEXT NOT NULL,
    reason TEXT,
    submitted_at INTEGER NOT NULL,
    decided_at INTEGER,
    PRIMARY KEY (app_id, permission)
);

CREATE TABLE businesses (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin_id INTEGER REFERENCES persons(id)   -- NULL: made by the operator
);
ALTER TABLE apps ADD COLUMN business_id TEXT REFERENCES businesses(id);
ALTER TABLE pages ADD COLUMN business_id TEXT REFERENCES businesses(id);

-- The app a test user was made for; a deleted test user keeps its row, signed out
-- for good, until persons can be erased.
ALTER TABLE persons ADD COLUMN test_user_of TEXT;
ALTER TABLE persons ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- Grants and user tokens from before consent existed carry what a Messenger bot
-- needs, as the console's grant does now.
INSERT INTO user_permissions (person_id, app_id, permission, status, at)
    SELECT g.person_id, g.app_id, p.name, 'granted', 0
    FROM (SELECT granted_by AS person_id, app_id FROM page_grants
          UNION SELECT person_id, app_id FROM tokens WHERE kind = 'user' AND revoked = 0) g,
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
