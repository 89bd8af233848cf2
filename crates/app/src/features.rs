//! What a Page applies for and the operator approves (Meta's Advanced Messaging
//! settings), and the person's verified phone number that customer matching reaches.

use crate::core::Core;
use crate::{Actor, AppResult, Caller};
use std::sync::Arc;
use switchboard_domain::send::normalize_phone;
use switchboard_domain::*;
use switchboard_store::{PageFeatureState, ReviewStatus};
use switchboard_wire::graph::FeatureReview;

/// Page features (applied for by a Page admin, approved by the operator) and the
/// person's verified phone number.
#[derive(Clone)]
pub struct Features {
    pub(crate) core: Arc<Core>,
}

impl Features {
    /// A Page admin applies for a feature, accepting its terms. Approved at once when
    /// the server approves automatically; else it waits for the operator.
    pub async fn apply_page_feature(&self, actor: Actor, page_id: &PageId, feature: PageFeature, accept_terms: bool) -> AppResult<Vec<PageFeatureState>> {
        self.core.page_for_admin(actor, page_id).await?;
        if !accept_terms {
            return Err(Refusal::invalid_param("accept_terms must be true to apply").into());
        }
        let by = match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        };
        self.core.store.apply_page_feature(page_id, feature, by, self.core.now(), self.core.settings.auto_approve_page_features).await?;
        Ok(self.core.store.page_features(page_id).await?)
    }

    /// The operator approves a Page's application.
    pub async fn approve_page_feature(&self, actor: Actor, page_id: &PageId, feature: PageFeature) -> AppResult<Vec<PageFeatureState>> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator approves Page features").into());
        }
        self.core.page_for_admin(actor, page_id).await?;
        self.core.store.approve_page_feature(page_id, feature, self.core.now()).await?;
        Ok(self.core.store.page_features(page_id).await?)
    }

    /// `GET /{page-id}/messaging_feature_review` (Page token): what the console
    /// decided, in Meta's words: the Page's features (applied for: `pending`) and the
    /// calling app's reviewed messaging features (`human_agent`; declined: `rejected`).
    /// While the operator blocks the app for policy, what was approved reads
    /// `limited` (Meta: access revoked by the policy enforcement team).
    pub async fn feature_review(&self, caller: &Caller, page_ref: &PageRef) -> AppResult<Vec<FeatureReview>> {
        let (page, app) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let approved = if app.policy == PolicyState::Blocked { "limited" } else { "approved" };
        let mut data: Vec<FeatureReview> = self
            .core
            .store
            .page_features(&page.id)
            .await?
            .into_iter()
            .map(|f| FeatureReview { feature: f.feature.review_name(), status: if f.approved { approved } else { "pending" } })
            .collect();
        for review in self.core.store.reviews(&app.id).await?.into_iter().filter(|r| r.permission == Permission::HumanAgent) {
            let status = match review.status {
                ReviewStatus::Pending => "pending",
                ReviewStatus::Approved => approved,
                ReviewStatus::Declined => "rejected",
            };
            data.push(FeatureReview { feature: review.permission.as_str(), status });
        }
        Ok(data)
    }

    pub async fn page_features(&self, actor: Actor, page_id: &PageId) -> AppResult<Vec<PageFeatureState>> {
        self.core.page_for_admin(actor, page_id).await?;
        Ok(self.core.store.page_features(page_id).await?)
    }

    /// The person confirms their phone number through their own session (there is no
    /// SMS gateway); `None` removes it. Answers the number as stored and when.
    pub async fn set_phone(&self, person: PersonId, phone: Option<&str>) -> AppResult<Option<(String, Millis)>> {
        let normalized = match phone {
            None => None,
            Some(raw) => Some(normalize_phone(raw).ok_or_else(|| Refusal::invalid_param("phone_number must have 7 to 15 digits"))?),
        };
        self.core.store.set_phone(person, normalized.as_deref(), self.core.now()).await?;
        Ok(self.core.store.phone_of(person).await?)
    }

    pub async fn phone(&self, person: PersonId) -> AppResult<Option<(String, Millis)>> {
        Ok(self.core.store.phone_of(person).await?)
    }
}
