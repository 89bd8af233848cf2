//! What a Page applies for and the operator approves (Meta's Advanced Messaging
//! settings), and the person's verified phone number that customer matching reaches.

use crate::{Actor, AppError, AppResult, Platform};
use switchboard_domain::send::normalize_phone;
use switchboard_domain::*;
use switchboard_store::{PageFeatureState, StoreError};

impl Platform {
    /// A Page admin applies for a feature, accepting its terms. Approved at once when
    /// the server approves automatically; else it waits for the operator.
    pub async fn apply_page_feature(&self, actor: Actor, page_id: &PageId, feature: PageFeature, accept_terms: bool) -> AppResult<Vec<PageFeatureState>> {
        self.page_for_admin(actor, page_id).await?;
        if !accept_terms {
            return Err(Refusal::invalid_param("accept_terms must be true to apply").into());
        }
        let by = match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        };
        self.inner.store.apply_page_feature(page_id, feature, by, self.now(), self.inner.settings.auto_approve_page_features).await?;
        Ok(self.inner.store.page_features(page_id).await?)
    }

    /// The operator approves a Page's application.
    pub async fn approve_page_feature(&self, actor: Actor, page_id: &PageId, feature: PageFeature) -> AppResult<Vec<PageFeatureState>> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator approves Page features").into());
        }
        self.page_for_admin(actor, page_id).await?;
        self.inner.store.approve_page_feature(page_id, feature, self.now()).await.map_err(|error| match error {
            StoreError::NotFound(detail) => AppError::from(Refusal::invalid_param(format!("{detail}: a Page admin applies first"))),
            other => other.into(),
        })?;
        Ok(self.inner.store.page_features(page_id).await?)
    }

    pub async fn page_features(&self, actor: Actor, page_id: &PageId) -> AppResult<Vec<PageFeatureState>> {
        self.page_for_admin(actor, page_id).await?;
        Ok(self.inner.store.page_features(page_id).await?)
    }

    pub(crate) async fn page_feature_approved(&self, page_id: &PageId, feature: PageFeature) -> AppResult<bool> {
        Ok(self.inner.store.page_features(page_id).await?.iter().any(|f| f.feature == feature && f.approved))
    }

    /// The person confirms their phone number through their own session (there is no
    /// SMS gateway); `None` removes it. Answers the number as stored and when.
    pub async fn set_phone(&self, person: PersonId, phone: Option<&str>) -> AppResult<Option<(String, Millis)>> {
        let normalized = match phone {
            None => None,
            Some(raw) => Some(normalize_phone(raw).ok_or_else(|| Refusal::invalid_param("phone_number must have 7 to 15 digits"))?),
        };
        self.inner.store.set_phone(person, normalized.as_deref(), self.now()).await.map_err(|error| match error {
            StoreError::Conflict(detail) => AppError::from(Refusal::invalid_param(detail)),
            other => other.into(),
        })?;
        Ok(self.inner.store.phone_of(person).await?)
    }

    pub async fn phone(&self, person: PersonId) -> AppResult<Option<(String, Millis)>> {
        Ok(self.inner.store.phone_of(person).await?)
    }
}
