//! Why a use case did not happen: a refusal the client must see (Meta's codes), a
//! store failure, or another failure of the platform's own (a disk, a thread pool),
//! each keeping its cause. The refusals the store decides (a taken login, a quota,
//! the last admin) are worded here, the one place client texts about them live.

use switchboard_domain::Refusal;
use switchboard_store::{Conflict, Missing, Quota, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request was refused for a reason the client must see.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed; the cause is logged at the boundary, never shown.
    #[error(transparent)]
    Store(StoreError),
    /// A disk of the platform's own (the media directory) is full: nothing was
    /// stored; answered as a temporary failure, like the store's `StorageFull`.
    #[error("{context}")]
    StorageFull {
        context: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// Something else of the platform's own failed (a disk, a worker pool): logged at
    /// the boundary with its cause, answered as Meta's generic code 1.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal { context: context.into(), source: Some(Box::new(source)) }
    }
}

/// A store error as the client sees it: the refusals the store decided are worded
/// here; every failure stays a failure.
impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => match conflict {
                Conflict::LoginTaken(login) => Refusal::invalid_param(format!("the login {login} is taken")).into(),
                Conflict::UsernameTaken(username) => Refusal::invalid_param(format!("the username {username} is taken")).into(),
                Conflict::PhoneTaken => Refusal::invalid_param("this phone number belongs to another person").into(),
                Conflict::LastPageAdmin => Refusal::invalid_param("a Page keeps at least one admin: add another admin first").into(),
                Conflict::ThreadOwnedBy(_) => Refusal::thread_owned_by_another_app().into(),
                Conflict::Blocked => Refusal::person_unavailable().into(),
                Conflict::Constraint(_) => Self::Store(StoreError::Conflict(conflict)),
            },
            StoreError::QuotaExceeded(quota) => Refusal::quota_exceeded(match quota {
                Quota::AppsPerPerson(n) => format!("a person administers at most {n} apps"),
                Quota::PagesPerPerson(n) => format!("a person administers at most {n} Pages"),
                Quota::AppsPerPage(n) => format!("a Page has at most {n} apps"),
                Quota::LabelsPerPage(n) => format!("a Page has at most {n} custom labels"),
            })
            .into(),
            StoreError::NotFound(Missing::App(app)) => Refusal::unknown_object(app.as_str()).into(),
            StoreError::NotFound(Missing::Page(page)) => Refusal::unknown_object(page.as_str()).into(),
            StoreError::NotFound(Missing::FeatureApplication { page, feature }) => {
                Refusal::invalid_param(format!("no application for {} on Page {page}: a Page admin applies first", feature.as_str())).into()
            }
            StoreError::NotFound(Missing::Review { app, permission }) => {
                Refusal::invalid_param(format!("app {app} has not submitted {permission} for review")).into()
            }
            StoreError::NotFound(Missing::Business(id)) => Refusal::unknown_object(&id).into(),
            other => Self::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_refusals_are_worded_and_its_failures_stay_failures() {
        let refused = |error: StoreError| match AppError::from(error) {
            AppError::Refused(refusal) => refusal.message,
            other => panic!("not a refusal: {other:?}"),
        };
        assert!(refused(StoreError::Conflict(Conflict::LoginTaken("ann".into()))).contains("the login ann is taken"));
        assert!(refused(StoreError::QuotaExceeded(Quota::AppsPerPage(3))).contains("a Page has at most 3 apps"));
        assert!(matches!(AppError::from(StoreError::Conflict(Conflict::Constraint("UNIQUE".into()))), AppError::Store(_)));
        assert!(matches!(AppError::from(StoreError::unavailable("down")), AppError::Store(StoreError::Unavailable { .. })));
        assert!(matches!(AppError::from(StoreError::corrupt("mode", "retired")), AppError::Store(StoreError::Corrupt { .. })));
    }
}
