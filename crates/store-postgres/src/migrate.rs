//! Versioned migrations, applied at connect under an advisory lock so that nodes
//! starting together do not race. Numbers match the SQLite engine's.

use crate::errors::pg;
use switchboard_store::StoreResult;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_delivery.sql")),
    (3, include_str!("../migrations/0003_app_audit.sql")),
    (4, include_str!("../migrations/0004_phones_and_page_features.sql")),
    (5, include_str!("../migrations/0005_notifications.sql")),
    (6, include_str!("../migrations/0006_rich_messages.sql")),
    (7, include_str!("../migrations/0007_revocations.sql")),
    (8, include_str!("../migrations/0008_handover.sql")),
    (9, include_str!("../migrations/0009_consent.sql")),
    (10, include_str!("../migrations/0010_entry_points.sql")),
    (11, include_str!("../migrations/0011_privacy.sql")),
    (12, include_str!("../migrations/0012_pickup.sql")),
    (13, include_str!("../migrations/0013_labels_and_user_settings.sql")),
    (14, include_str!("../migrations/0014_edits_and_feedback.sql")),
    (15, include_str!("../migrations/0015_folders_and_insights.sql")),
    (16, include_str!("../migrations/0016_policy.sql")),
    (17, include_str!("../migrations/0017_thread_recency.sql")),
    (18, include_str!("../migrations/0018_thread_minute.sql")),
    (19, include_str!("../migrations/0019_pull_index_apart.sql")),
];

/// The schema version this build expects.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// An arbitrary constant naming Switchboard's migration lock.
const LOCK: i64 = 0x5357_4954_4348;

pub async fn apply(client: &mut deadpool_postgres::Object) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await.map_err(pg)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .await
        .map_err(pg)?;
    for (version, sql) in MIGRATIONS {
        let applied = tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version]).await.map_err(pg)?.is_some();
        if !applied {
            tx.batch_execute(sql).await.map_err(pg)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, extract(epoch from now())::bigint)", &[version])
                .await
                .map_err(pg)?;
            tracing::info!(version, "applied migration");
        }
    }
    tx.commit().await.map_err(pg)
}
