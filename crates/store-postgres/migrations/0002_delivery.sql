-- The delivery engine: settled events (delivered or given up), the attempt log,
-- endpoint health and alerts.

-- An event is pending until settled: delivered, or dead (given up, kept for replay
-- until pruned). Every "pending" query reads settled_at IS NULL.
ALTER TABLE outbox RENAME COLUMN delivered_at TO settled_at;
ALTER TABLE outbox ADD COLUMN outcome TEXT;          -- 'delivered' | 'dead', set with settled_at
ALTER TABLE outbox ADD COLUMN replayed_at BIGINT;   -- a dead event queued again
CREATE INDEX outbox_settled_by_app ON outbox (app_id, created_at) WHERE settled_at IS NOT NULL;
CREATE INDEX outbox_by_app ON outbox (app_id, created_at);

-- Failed POSTs only: a success is a settled_at and the endpoint's last_success_at.
CREATE TABLE delivery_attempts (
    id BIGSERIAL PRIMARY KEY,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status INTEGER,
    error TEXT NOT NULL,
    excerpt TEXT NOT NULL,
    events INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_by_app ON delivery_attempts (app_id, attempted_at DESC, id DESC);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (attempted_at);
CREATE TABLE attempt_events (
    event_id BIGINT NOT NULL,
    attempt_id BIGINT NOT NULL,
    PRIMARY KEY (event_id, attempt_id)
);
CREATE INDEX attempt_events_by_attempt ON attempt_events (attempt_id);

CREATE TABLE webhook_health (
    app_id TEXT PRIMARY KEY,
    failing_since BIGINT,
    last_error_at BIGINT,
    last_error TEXT,
    last_success_at BIGINT,
    -- 0 healthy or failing briefly, 1 alerted, 2 disabled; back to 0 on a success.
    alert_stage INTEGER NOT NULL DEFAULT 0,
    disabled_at BIGINT
);

CREATE TABLE webhook_alerts (
    id BIGSERIAL PRIMARY KEY,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    message TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT ''   -- Page ids, comma-separated
);
CREATE INDEX webhook_alerts_by_app ON webhook_alerts (app_id, id DESC);
