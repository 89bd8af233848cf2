//! What Pages and persons tell about themselves: the Messenger Profile, a person's
//! own settings on a Page, personas, and the person's profile (locale, timezone, gender).

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// A Page's persona: a name and picture its messages may carry instead of the Page's.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    pub id: String,
    pub page: PageId,
    pub name: String,
    pub profile_picture_url: String,
    pub created_at: Millis,
}

/// What a person tells Pages beyond their name (User Profile API).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonProfile {
    /// As Meta spells it, e.g. `en_US`.
    pub locale: String,
    /// Hours from UTC.
    pub timezone: f64,
    /// `male`, `female`, or unsaid.
    pub gender: Option<String>,
}

impl Default for PersonProfile {
    fn default() -> Self {
        Self { locale: "en_US".into(), timezone: 0.0, gender: None }
    }
}

#[async_trait]
pub trait ProfileStore: Send + Sync + 'static {
    /// The Page's Messenger Profile: (property, value), by property name.
    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// Sets the properties given and removes those named in `remove`, in one transaction.
    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()>;
    async fn create_persona(&self, persona: Persona) -> StoreResult<()>;
    /// A persona that was not deleted.
    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>>;
    /// The Page's personas, oldest first.
    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>>;
    /// False when there was no such persona left to delete.
    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool>;
    /// The person's own settings on the Page (`custom_user_settings`): (setting, value).
    async fn custom_user_settings(&self, page: &PageId, person: PersonId) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// Sets the settings given and removes those named in `remove`, in one transaction.
    async fn update_custom_user_settings(&self, page: &PageId, person: PersonId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()>;
    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>>;
    async fn set_person_profile(&self, person: PersonId, profile: PersonProfile) -> StoreResult<()>;
}
