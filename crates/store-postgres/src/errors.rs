//! PostgreSQL's errors as the store's: uniqueness and references refused are
//! conflicts, a database that is away or too slow is unavailable, the rest internal.

use switchboard_store::StoreError;

pub fn pg(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        return match code {
            "23505" | "23503" => StoreError::Conflict(db.message().to_string()),
            // Statement timeout, admin shutdown, cannot connect now, connection exceptions.
            "57014" | "57P01" | "57P02" | "57P03" => StoreError::Unavailable(db.message().to_string()),
            _ if code.starts_with("08") || code.starts_with("53") => StoreError::Unavailable(db.message().to_string()),
            _ => StoreError::Internal(format!("{code}: {}", db.message())),
        };
    }
    // No answer from the server at all: closed connection, I/O, timeout.
    StoreError::Unavailable(error.to_string())
}

pub fn pool(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => pg(error),
        other => StoreError::Unavailable(format!("no database connection: {other}")),
    }
}

/// A conflict with a clearer message for the caller; other errors unchanged.
pub fn conflict_as(error: StoreError, message: String) -> StoreError {
    match error {
        StoreError::Conflict(_) => StoreError::Conflict(message),
        other => other,
    }
}
