-- A person's own settings on a Page (custom_user_settings: the persistent menu),
-- shown instead of the Page's; one row of JSON per setting.
CREATE TABLE custom_user_settings (
    page_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (page_id, person_id, field)
);
CREATE INDEX custom_user_settings_by_person ON custom_user_settings (person_id);

-- A Page's custom labels and the persons it put under each.
CREATE TABLE custom_labels (
    id TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- One label per name on a Page: creating it again answers the existing one.
CREATE UNIQUE INDEX custom_labels_by_name ON custom_labels (page_id, name);
CREATE INDEX custom_labels_by_page ON custom_labels (page_id, created_at, id);

CREATE TABLE custom_label_members (
    label_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    labeled_at INTEGER NOT NULL,
    PRIMARY KEY (label_id, person_id)
);
CREATE INDEX custom_label_members_by_person ON custom_label_members (person_id);
