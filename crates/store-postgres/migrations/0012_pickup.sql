-- Events an app picks up itself: how its webhook delivers (POSTs or the pull API),
-- and the listeners and pollers taking events now, each until it expires.

ALTER TABLE app_subscriptions ADD COLUMN delivery TEXT NOT NULL DEFAULT 'webhook';

CREATE TABLE app_pickups (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,             -- listener | poller
    since BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX app_pickups_by_app ON app_pickups (app_id, expires_at);
-- One poller of an app at a time.
CREATE UNIQUE INDEX app_pickups_one_poller ON app_pickups (app_id) WHERE kind = 'poller';
-- The pull API: an app's pending events by id.
CREATE INDEX outbox_pending_by_app ON outbox (app_id, id) WHERE settled_at IS NULL;
