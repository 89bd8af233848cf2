-- Changes to an app that stand in for Meta's App Review (going live and back),
-- with who made them.
CREATE TABLE app_audit (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    change TEXT NOT NULL
);
CREATE INDEX app_audit_by_app ON app_audit (app_id, id);
