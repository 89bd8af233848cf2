//! Custom labels (reference §9.6): the labels a Page puts on the people it talks
//! with, as apps manage them with the Page's token (`custom_labels`, `/{label-id}`,
//! `/{label-id}/label`) and as the console lists them. A label belongs to one Page:
//! another Page's token sees no such object, another Page's PSID is no user.

use crate::conversations::{cursor, page_size, read_cursor, refuse_before};
use crate::core::Core;
use crate::{Actor, AppResult, Caller, Paged};
use serde_json::{Map, Value};
use std::sync::Arc;
use switchboard_domain::labels::{parse_label_name, MAX_LABELS_PER_PAGE};
use switchboard_domain::params::Params;
use switchboard_domain::*;
use switchboard_store::{Label, LabelCount};

/// The fields a label shows; `page_label_name` is v12's name for `name`.
const LABEL_FIELDS: [&str; 3] = ["id", "name", "page_label_name"];
/// What a label shows without `fields=`.
const DEFAULT_FIELDS: [&str; 2] = ["name", "id"];

/// A Page's custom labels and who is under them.
#[derive(Clone)]
pub struct Labels {
    pub(crate) core: Arc<Core>,
}

impl Labels {
    /// `POST /{page-id}/custom_labels` `{"page_label_name"}` (or the older `name`) →
    /// the label's id. A name the Page already has answers that label's id rather
    /// than a second label or an error: Meta's Page Inbox keeps one label per name,
    /// and so SDK retries stay harmless (Meta's exact answer is unconfirmed).
    pub async fn create(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<String> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let name = parse_label_name(params)?;
        let label = Label { id: random_node_id(), page: page.id.clone(), name, created_at: self.core.now() };
        Ok(self.core.store.create_label(label, MAX_LABELS_PER_PAGE).await?.id)
    }

    /// `GET /{x}/custom_labels`: the Page's labels when `x` names a Page (`me`, an
    /// id or username: another Page's is refused as the Page edges refuse it), else
    /// the labels of the person whose PSID `x` is on the token's Page.
    pub async fn list(&self, caller: &Caller, node: &str, params: &Params) -> AppResult<Paged> {
        let (own, _) = self.core.own_page(caller, &PageRef::Me, Permission::PagesMessaging)?;
        let page_ref = PageRef::parse(node);
        let named = match page_ref {
            PageRef::Me => Some(PageRef::Me),
            // A username is resolved here: own_page compares ids.
            _ => self.core.find_page(&page_ref).await?.map(|page| PageRef::Id(page.id)),
        };
        let person = match named {
            Some(page_ref) => {
                self.core.own_page(caller, &page_ref, Permission::PagesMessaging)?;
                None
            }
            None if matches!(page_ref, PageRef::Username(_)) => return Err(Refusal::unknown_object(node).into()),
            None => Some(self.core.person_of_psid(&own.id, node).await?),
        };
        let fields = label_fields(params)?;
        refuse_before(params)?;
        let limit = page_size(params, None)?;
        let after = params.str("after")?.map(|text| read_cursor(&text)).transpose()?;
        let mut labels = self.core.store.labels(&own.id, person, after, limit + 1).await?;
        let more = labels.len() > limit as usize;
        labels.truncate(limit as usize);
        let cursor_of = |label: &Label| cursor(label.created_at, &label.id);
        let (before, after) = (labels.first().map(cursor_of), labels.last().map(cursor_of));
        Ok(Paged { data: labels.iter().map(|label| Value::Object(select(label, &fields))).collect(), before, after, more })
    }

    /// `GET /{label-id}`: the label's fields, or `None` when it is no label of the
    /// caller's Page.
    pub async fn node(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<Option<Map<String, Value>>> {
        let Some(label) = self.label_of(caller, id).await? else { return Ok(None) };
        Ok(Some(select(&label, &label_fields(params)?)))
    }

    /// A label of the caller's Page; `None` for anything else (another Page's label,
    /// a token that is not a Page's).
    async fn label_of(&self, caller: &Caller, id: &str) -> AppResult<Option<Label>> {
        let Caller::Page { page, .. } = caller else { return Ok(None) };
        if !is_node_id(id) {
            return Ok(None);
        }
        Ok(self.core.store.label(id).await?.filter(|label| label.page == page.id))
    }

    /// `DELETE /{label-id}`, with everyone under it; false when it is no label of the
    /// caller's Page.
    pub async fn delete(&self, caller: &Caller, id: &str) -> AppResult<bool> {
        if self.label_of(caller, id).await?.is_none() {
            return Ok(false);
        }
        Ok(self.core.store.delete_label(id).await?)
    }

    /// `POST /{label-id}/label` `{"user": "<PSID>"}`: puts the person under the label
    /// (again: no change).
    pub async fn add_person(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<()> {
        let (label, person) = self.label_and_person(caller, id, params).await?;
        if !self.core.store.add_to_label(&label.id, person, self.core.now()).await? {
            return Err(Refusal::unknown_object(id).into());
        }
        Ok(())
    }

    /// `DELETE /{label-id}/label?user=<PSID>`: takes the person from under the label
    /// (someone not under it: no change, as removing twice must not fail a retry).
    pub async fn remove_person(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<()> {
        let (label, person) = self.label_and_person(caller, id, params).await?;
        self.core.store.remove_from_label(&label.id, person).await?;
        Ok(())
    }

    /// The token is checked first (a Page token), then the label (the token's Page's),
    /// then the PSID (the same Page's).
    async fn label_and_person(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<(Label, PersonId)> {
        let (page, _) = self.core.own_page(caller, &PageRef::Me, Permission::PagesMessaging)?;
        let label = self.label_of(caller, id).await?.ok_or_else(|| Refusal::unknown_object(id))?;
        let psid = params.str("user")?.map(|user| user.trim().to_string()).filter(|user| !user.is_empty()).ok_or_else(|| Refusal::missing_param("user"))?;
        let person = self.core.person_of_psid(&page.id, &psid).await?;
        Ok((label, person))
    }

    /// The console's list: the Page's labels by name, each with how many persons it
    /// holds (a Page admin, or the operator).
    pub async fn page_labels(&self, actor: Actor, page: &PageId) -> AppResult<Vec<LabelCount>> {
        let page = self.core.page_for_admin(actor, page).await?;
        Ok(self.core.store.label_counts(&page.id).await?)
    }
}

/// `fields=`: the label's own fields only, else 100 as Graph words it.
fn label_fields(params: &Params) -> Result<Vec<String>, Refusal> {
    let wanted = params.list("fields")?.filter(|fields| !fields.is_empty()).unwrap_or_else(|| DEFAULT_FIELDS.map(String::from).to_vec());
    if let Some(unknown) = wanted.iter().find(|field| !LABEL_FIELDS.contains(&field.as_str())) {
        return Err(Refusal::invalid_param(format!("Tried accessing nonexisting field ({unknown}) on node type (PageUserMessageThreadLabel)")));
    }
    Ok(wanted)
}

/// The fields asked for, and always the id.
fn select(label: &Label, fields: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields {
        let value = if field == "id" { label.id.clone() } else { label.name.clone() };
        out.insert(field.clone(), Value::String(value));
    }
    out.entry("id").or_insert_with(|| Value::String(label.id.clone()));
    out
}
