//! PostgreSQL's errors as the store's, by SQLSTATE class: a uniqueness or reference
//! rule refused is a generic conflict (the aggregate names it), a database that is
//! away, too slow or shutting down is unavailable, the rest internal. The engine's
//! error is kept as the source; no text here is meant for a client.

use switchboard_store::{Conflict, StoreError};

/// A statement's or connection's failure.
pub(crate) fn pg(error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        // No answer from the server at all: closed connection, I/O, timeout.
        return StoreError::Unavailable { context: "no answer from the database".into(), source: Some(Box::new(error)) };
    };
    let code = db.code().code().to_string();
    match code.as_str() {
        // Unique and foreign key violations: the engine's words, for the log.
        "23505" | "23503" => StoreError::Conflict(Conflict::Constraint(db.message().to_string())),
        // Statement timeout, admin shutdown, cannot connect now, connection exceptions,
        // insufficient resources.
        "57014" | "57P01" | "57P02" | "57P03" => unavailable(&code, error),
        _ if code.starts_with("08") || code.starts_with("53") => unavailable(&code, error),
        _ => StoreError::Internal { context: format!("database error (SQLSTATE {code})"), source: Some(Box::new(error)) },
    }
}

fn unavailable(code: &str, error: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable { context: format!("database unavailable (SQLSTATE {code})"), source: Some(Box::new(error)) }
}

/// Waiting for a pooled connection failed.
pub(crate) fn pool(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => pg(error),
        other => StoreError::Unavailable { context: "no database connection".into(), source: Some(Box::new(other)) },
    }
}

/// A failure of setting things up (a malformed URL, a pool that cannot be built),
/// with its cause.
pub(crate) fn internal(context: &str, source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Internal { context: context.into(), source: Some(Box::new(source)) }
}
