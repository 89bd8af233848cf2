//! The Conversations API (reference §9.4): a Page's threads as Graph
//! `conversation` nodes (`t_<PSID>`), their messages as `message` nodes, with field
//! selection and cursor paging. Read-only; the Page token decides what is visible.

use crate::core::Core;
use crate::{AppResult, Caller};
use std::sync::Arc;
use base64::Engine as _;
use serde_json::{Map, Value};
use switchboard_wire::graph;
use switchboard_domain::clock::graph_time;
use switchboard_domain::params::{parse_field_selection, FieldSelection, Params};
use switchboard_domain::policy;
use switchboard_domain::*;
use switchboard_store::PageThread;

/// Items per page unless `limit` says otherwise, and the most a page may hold.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page of an edge: the items and the cursors around them. The HTTP face turns
/// the cursors into `paging` with a `next` URL.
#[derive(Debug, Clone)]
pub struct Paged {
    pub data: Vec<Value>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// More items follow `after`.
    pub more: bool,
}

impl Paged {
    /// The Graph shape, with `next` given by the caller (who knows URLs).
    pub fn graph(self, next: Option<String>) -> graph::Paged<Value> {
        let paging = match (self.before, self.after) {
            (Some(before), Some(after)) => Some(graph::Paging { cursors: graph::Cursors { before, after }, next: next.filter(|_| self.more) }),
            _ => None,
        };
        graph::Paged { data: self.data, paging }
    }
}

pub(crate) fn cursor(at: Millis, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}:{key}"))
}

pub(crate) fn read_cursor(text: &str) -> Result<(Millis, String), Refusal> {
    let bad = || Refusal::invalid_param("Param after is not a valid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, key) = text.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, key.to_string()))
}

/// Only forward paging is offered; a `before` cursor is refused rather than ignored
/// (ignoring it would answer the first page as if it were the one asked for).
pub(crate) fn refuse_before(params: &Params) -> Result<(), Refusal> {
    match params.contains("before") {
        true => Err(Refusal::invalid_param("Paging backwards (before) is not supported: follow paging.next from the first page")),
        false => Ok(()),
    }
}

pub(crate) fn page_size(params: &Params, nested: Option<u32>) -> Result<u32, Refusal> {
    let limit = match (nested, params.str("limit")?) {
        (Some(limit), _) => limit,
        (None, Some(text)) => text.trim().parse().map_err(|_| Refusal::invalid_param("Param limit must be a number"))?,
        (None, None) => DEFAULT_PAGE_SIZE,
    };
    Ok(limit.clamp(1, MAX_PAGE_SIZE))
}

fn selection(params: &Params, defaults: &str) -> Result<Vec<FieldSelection>, Refusal> {
    let text = params.str("fields")?.filter(|f| !f.trim().is_empty()).unwrap_or_else(|| defaults.to_string());
    parse_field_selection(&text)
}

fn nonexisting(field: &str, node_type: &str) -> Refusal {
    Refusal::invalid_param(format!("Tried accessing nonexisting field ({field}) on node type ({node_type})"))
}

fn party(name: &str, id: &str) -> graph::Participant {
    graph::Participant { name: name.to_string(), email: format!("{id}@facebook.com"), id: id.to_string() }
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("Graph shapes are JSON")
}

/// The Conversations API, read-only, for a Page token.
#[derive(Clone)]
pub struct Conversations {
    pub(crate) core: Arc<Core>,
}

impl Conversations {
    /// `GET /{page-id}/conversations?platform=messenger[&user_id=<PSID>][&folder=]`.
    pub async fn conversations(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<Paged> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        match params.str("platform")?.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("messenger") => {}
            Some(other) => return Err(Refusal::invalid_param(format!("Param platform must be messenger on this server, got {other}")).into()),
        }
        refuse_before(params)?;
        let folder = params.str("folder")?.map(|name| FolderFilter::parse(&name)).transpose()?;
        let fields = selection(params, "id,updated_time")?;
        let limit = page_size(params, None)?;
        let threads = match params.str("user_id")? {
            Some(psid) => {
                let person = self.core.person_of_psid(&page.id, &psid).await?;
                let thread = self.core.store.page_thread(&page.id, person).await?;
                thread.into_iter().filter(|t| folder.is_none_or(|f| f.admits(t.folder, t.answered))).collect()
            }
            None => {
                let after = match params.str("after")? {
                    Some(text) => {
                        let (at, key) = read_cursor(&text)?;
                        let person = self.core.person_of_psid(&page.id, &key).await.map_err(|_| Refusal::invalid_param("Param after is not a valid cursor"))?;
                        Some((at, person))
                    }
                    None => None,
                };
                self.core.store.page_threads(&page.id, folder, after, limit + 1).await?
            }
        };
        let more = threads.len() > limit as usize;
        let mut data = Vec::new();
        let mut cursors = Vec::new();
        for thread in threads.into_iter().take(limit as usize) {
            let psid = self.core.psid(thread.person, &page.id).await?;
            cursors.push(cursor(thread.last_message_at, psid.as_str()));
            data.push(self.conversation_fields(page, &thread, &psid, &fields).await?);
        }
        Ok(Paged { before: cursors.first().cloned(), after: cursors.last().cloned(), more, data })
    }

    /// `GET /{conversation-id}`: `None` unless it is a thread of the caller's Page.
    pub async fn conversation(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<Option<Value>> {
        let Some((page, person, psid)) = self.conversation_of(caller, id).await? else { return Ok(None) };
        let fields = selection(params, "id,updated_time")?;
        let Some(thread) = self.core.store.page_thread(&page.id, person).await? else { return Ok(None) };
        Ok(Some(self.conversation_fields(&page, &thread, &psid, &fields).await?))
    }

    /// `GET /{conversation-id}/messages`: newest first.
    pub async fn conversation_messages(&self, caller: &Caller, id: &str, params: &Params) -> AppResult<Option<Paged>> {
        let Some((page, person, _)) = self.conversation_of(caller, id).await? else { return Ok(None) };
        refuse_before(params)?;
        let fields = selection(params, "id,created_time")?;
        let after = params.str("after")?.map(|text| read_cursor(&text)).transpose()?;
        Ok(Some(self.message_page(&page, person, &fields, page_size(params, None)?, after).await?))
    }

    /// `GET /{message-id}`: `None` unless the message is in a thread of the caller's Page.
    pub async fn graph_message(&self, caller: &Caller, mid: &str, params: &Params) -> AppResult<Option<Value>> {
        let Caller::Page { page, .. } = caller else { return Ok(None) };
        let Some(message) = self.core.store.message(&Mid(mid.to_string())).await?.filter(|m| m.page == page.id) else { return Ok(None) };
        let fields = selection(params, "id,created_time")?;
        let psid = self.core.psid(message.person, &page.id).await?;
        Ok(Some(self.message_fields(page, &psid, &message, &fields).await?))
    }

    async fn conversation_of(&self, caller: &Caller, id: &str) -> AppResult<Option<(Page, PersonId, Psid)>> {
        let (Caller::Page { page, .. }, Some(psid)) = (caller, id.strip_prefix("t_")) else { return Ok(None) };
        match self.core.person_of_psid(&page.id, psid).await {
            Ok(person) => Ok(Some((page.clone(), person, Psid(psid.to_string())))),
            Err(crate::AppError::Refused(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn conversation_fields(&self, page: &Page, thread: &PageThread, psid: &Psid, fields: &[FieldSelection]) -> AppResult<Value> {
        let person = thread.person;
        let mut out = Map::new();
        out.insert("id".into(), format!("t_{psid}").into());
        for field in fields {
            let value = match field.name.as_str() {
                "id" => continue,
                "updated_time" => graph_time(thread.last_message_at).into(),
                "message_count" => thread.message_count.into(),
                "unread_count" => thread.unread_count.into(),
                "snippet" => {
                    let latest = self.core.store.thread_messages(&page.id, person, None, 1).await?.pop();
                    latest.and_then(|m| m.text).map(|t| t.chars().take(100).collect::<String>()).unwrap_or_default().into()
                }
                "participants" | "senders" => {
                    let name = self.core.person(person).await?.name;
                    to_value(graph::Data { data: vec![party(&name, psid.as_str()), party(&page.name, page.id.as_str())] })
                }
                "can_reply" => {
                    let last_person_at = self.core.store.thread_state(&page.id, person).await?.and_then(|s| s.last_person_at);
                    policy::can_reply(thread.blocked, last_person_at, self.core.now()).into()
                }
                "link" => format!("/{}/inbox/t_{psid}", page.username).into(),
                "messages" => {
                    let nested = field.fields.clone().unwrap_or_else(|| parse_field_selection("id,created_time").unwrap_or_default());
                    let limit = field.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
                    to_value(self.message_page(page, person, &nested, limit, None).await?.graph(None))
                }
                other => return Err(nonexisting(other, "Conversation").into()),
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// The thread's messages newest first, after the cursor (the last message of the
    /// previous page, by its `mid`: the store orders a thread's messages uniquely).
    async fn message_page(&self, page: &Page, person: PersonId, fields: &[FieldSelection], limit: u32, after: Option<(Millis, String)>) -> AppResult<Paged> {
        let after = match after {
            None => None,
            Some((_, mid)) => {
                let mid = Mid(mid);
                if !self.core.in_thread(&page.id, person, &mid).await? {
                    return Err(Refusal::invalid_param("Param after is not a valid cursor").into());
                }
                Some(mid)
            }
        };
        let mut newest_first = self.core.store.thread_messages(&page.id, person, after.as_ref(), limit + 1).await?;
        newest_first.reverse();
        let more = newest_first.len() > limit as usize;
        newest_first.truncate(limit as usize);
        let psid = self.core.psid(person, &page.id).await?;
        let mut data = Vec::with_capacity(newest_first.len());
        for message in &newest_first {
            data.push(self.message_fields(page, &psid, message, fields).await?);
        }
        let cursor_of = |m: &Message| cursor(m.created_at, m.mid.as_str());
        Ok(Paged { before: newest_first.first().map(cursor_of), after: newest_first.last().map(cursor_of), more, data })
    }

    async fn message_fields(&self, page: &Page, psid: &Psid, message: &Message, fields: &[FieldSelection]) -> AppResult<Value> {
        let name = self.core.person(message.person).await?.name;
        let person = party(&name, psid.as_str());
        let page_party = party(&page.name, page.id.as_str());
        let (from, to) = match message.direction {
            Direction::Inbound => (person, page_party),
            Direction::Outbound => (page_party, person),
        };
        let mut out = Map::new();
        out.insert("id".into(), message.mid.as_str().into());
        for field in fields {
            let value = match field.name.as_str() {
                "id" => continue,
                "created_time" => graph_time(message.created_at).into(),
                "from" => to_value(&from),
                "to" => to_value(graph::Data { data: vec![to.clone()] }),
                "message" => message.text.clone().unwrap_or_default().into(),
                "attachments" => to_value(graph::Data { data: self.graph_attachments(message) }),
                // Graph's `sticker`: the image's URL, on a sticker message only.
                "sticker" => match message.attachment.as_ref().filter(|a| a.kind == AttachmentType::Sticker) {
                    Some(sticker) => sticker.payload.get("url").cloned().unwrap_or_default(),
                    None => continue,
                },
                other => return Err(nonexisting(other, "Message").into()),
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Media attachments as Graph lists them on a message (templates and stickers
    /// have none: a sticker is the message's `sticker` field).
    fn graph_attachments(&self, message: &Message) -> Vec<graph::MessageAttachment> {
        let Some(attachment) = &message.attachment else { return Vec::new() };
        let Some(url) = attachment.payload.get("url").and_then(Value::as_str) else { return Vec::new() };
        let media = || Some(graph::MediaData { url: url.to_string(), preview_url: url.to_string() });
        let mut item = graph::MessageAttachment { id: format!("{}_0", message.mid), ..Default::default() };
        match attachment.kind {
            AttachmentType::Image => item.image_data = media(),
            AttachmentType::Video => item.video_data = media(),
            AttachmentType::Audio | AttachmentType::File => item.file_url = Some(url.to_string()),
            AttachmentType::Template | AttachmentType::Sticker | AttachmentType::Location => return Vec::new(),
        }
        vec![item]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let text = cursor(1_700_000_000_000, "m_abc");
        assert_eq!(read_cursor(&text).unwrap(), (1_700_000_000_000, "m_abc".to_string()));
        assert!(read_cursor("not a cursor!").is_err());
    }
}
