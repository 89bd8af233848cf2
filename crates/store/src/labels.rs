//! A Page's custom labels and the persons it put under them (reference §9.6).

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// A custom label of one Page.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub id: String,
    pub page: PageId,
    /// Unique within the Page.
    pub name: String,
    pub created_at: Millis,
}

/// A label with how many persons it holds (the console's list).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelCount {
    pub label: Label,
    pub members: u64,
}

#[async_trait]
pub trait LabelStore: Send + Sync + 'static {
    /// Stores the label, unless its Page has one of that name already: that one is
    /// answered instead. A Page holding `max_per_page` labels refuses a new one
    /// (`Quota::LabelsPerPage`), decided in the transaction so that races cannot pass it.
    async fn create_label(&self, label: Label, max_per_page: u32) -> StoreResult<Label>;
    async fn label(&self, id: &str) -> StoreResult<Option<Label>>;
    /// The Page's labels oldest first (by creation, then id), after the cursor
    /// `(created_at, id)`; with `person`, only those the person is under.
    async fn labels(&self, page: &PageId, person: Option<PersonId>, after: Option<(Millis, String)>, limit: u32) -> StoreResult<Vec<Label>>;
    /// The label and every membership of it; false when there was no such label.
    async fn delete_label(&self, id: &str) -> StoreResult<bool>;
    /// Puts the person under the label (once, however often asked); false when the
    /// label is gone.
    async fn add_to_label(&self, label: &str, person: PersonId, at: Millis) -> StoreResult<bool>;
    /// Takes the person from under the label; false when they were not under it.
    async fn remove_from_label(&self, label: &str, person: PersonId) -> StoreResult<bool>;
    /// Every label of the Page with its member count, by name.
    async fn label_counts(&self, page: &PageId) -> StoreResult<Vec<LabelCount>>;
}
