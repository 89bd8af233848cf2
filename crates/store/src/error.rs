//! Why a store call failed, as data: a rule of the data refused the write (a typed
//! conflict, a quota, a missing row), or the database failed (unavailable, or
//! internal, with the engine's error kept as the source, or its disk full), or a
//! stored value is one the code does not know. No text here is meant for a client:
//! the app layer words the refusals.

use switchboard_domain::{AppId, PageFeature, PageId, Permission};

pub type StoreResult<T> = Result<T, StoreError>;

/// An engine's own error, kept as the cause of a failure.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or reference rule refused the write.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The row the write needs does not exist.
    #[error("not found: {0}")]
    NotFound(Missing),
    /// A quota would be exceeded; nothing was stored.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(Quota),
    /// A stored value the code does not know (a newer schema, or a corrupt row):
    /// never read as a guess.
    #[error("column {column} holds {value:?}, which this version does not know")]
    Corrupt { column: String, value: String },
    /// The database cannot be reached, is too slow or is shutting down; the caller
    /// may retry.
    #[error("store unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// The disk under the database is full: nothing was stored, and writes are
    /// refused until space returns (reads go on); the caller may retry later.
    #[error("storage full: {context}")]
    StorageFull {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// Anything else: a bug, or a database in a state it should not be in.
    #[error("store failure: {context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    pub fn unavailable(context: impl Into<String>) -> Self {
        Self::Unavailable { context: context.into(), source: None }
    }

    pub fn internal(context: impl Into<String>) -> Self {
        Self::Internal { context: context.into(), source: None }
    }

    /// A value read from `column` that the code does not know.
    pub fn corrupt(column: &str, value: impl Into<String>) -> Self {
        Self::Corrupt { column: column.to_string(), value: value.into() }
    }

    /// A generic conflict (the engine's constraint refused the write) named for what
    /// the caller was doing; every other error unchanged.
    pub fn conflict_as(self, conflict: Conflict) -> Self {
        match self {
            Self::Conflict(Conflict::Constraint(_)) => Self::Conflict(conflict),
            other => other,
        }
    }
}

/// What a uniqueness or reference rule refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("the login {0} is held by another person")]
    LoginTaken(String),
    #[error("the username {0} is held by another Page")]
    UsernameTaken(String),
    #[error("the phone number is held by another person")]
    PhoneTaken,
    /// Removing this admin would leave the Page without one.
    #[error("the Page's last admin cannot leave")]
    LastPageAdmin,
    /// The Handover Protocol: another app owns the thread the message is for.
    #[error("app {0} owns the thread")]
    ThreadOwnedBy(AppId),
    /// The person blocked the Page: the thread takes no message either way.
    #[error("the person blocked the Page")]
    Blocked,
    /// Another constraint of the schema (a duplicate key, a reference to a row that
    /// does not exist), with the engine's words, for the log.
    #[error("constraint: {0}")]
    Constraint(String),
}

/// Which quota a write would exceed, and its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Quota {
    #[error("apps one person administers: {0}")]
    AppsPerPerson(u32),
    #[error("Pages one person administers: {0}")]
    PagesPerPerson(u32),
    #[error("apps on one Page: {0}")]
    AppsPerPage(u32),
    #[error("custom labels of one Page: {0}")]
    LabelsPerPage(u32),
}

/// The row a write needed and did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("app {0}")]
    App(AppId),
    #[error("Page {0}")]
    Page(PageId),
    /// An approval without an application.
    #[error("no application for {} on Page {page}", feature.as_str())]
    FeatureApplication { page: PageId, feature: PageFeature },
    /// A decision on a permission the app did not submit.
    #[error("{permission} was not submitted for review by app {app}")]
    Review { app: AppId, permission: Permission },
    #[error("business {0}")]
    Business(String),
}

/// An error and its causes, `outer: inner: innermost`: for logs and attempt records,
/// where an outer message alone (an HTTP client's, a pool's) rarely says what failed.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
