//! Versioned migrations, applied in order at open. Numbers match the PostgreSQL
//! engine's, so both describe the same schema version.

use crate::columns::{prepare, Query};
use crate::engine::sql_error;
use rusqlite::Connection;
use switchboard_store::codec::Columns;
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

pub fn apply(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(sql_error)?;
    for (version, sql) in MIGRATIONS {
        // IMMEDIATE: a second process opening the same file waits instead of racing.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_error)?;
        let applied = prepare(&tx, "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1) AS applied")?.one([version], |r| r.flag("applied"))?;
        if !applied {
            tx.execute_batch(sql).map_err(sql_error)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
                [version],
            )
            .map_err(sql_error)?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().map_err(sql_error)?;
    }
    Ok(())
}
