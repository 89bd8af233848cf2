//! Profiles: the Page's Messenger Profile (Get Started, greeting, persistent menu,
//! ice breakers, whitelisted domains...) as apps set it and as the person's client
//! shows it; a person's own persistent menu (`custom_user_settings`); the Page's personas; and what the User Profile API tells a Page about a
//! person (with what the person tells about themselves).

use crate::core::Core;
use crate::views::{PersonDetails, Welcome};
use crate::{AppResult, Caller};
use std::sync::Arc;
use serde_json::{Map, Value};
use switchboard_domain::content::validate_url;
use switchboard_domain::params::Params;
use switchboard_domain::profile::{for_locale, parse_profile_update, parse_user_setting_params, personalize_greeting, validate_persistent_menu, ProfileField};
use switchboard_domain::*;
use switchboard_wire::graph::Data;
use switchboard_store::{Persona, PersonProfile};

/// Longest persona name, in characters.
pub const MAX_PERSONA_NAME_CHARS: usize = 100;

/// What Pages and persons tell about themselves: the Messenger Profile, personas,
/// the User Profile API and the person's own profile.
#[derive(Clone)]
pub struct Profiles {
    pub(crate) core: Arc<Core>,
}

impl Profiles {
    /// `GET /{page-id}/messenger_profile?fields=`: `{"data": [{...}]}`, or
    /// `{"data": []}` when nothing asked for is set.
    pub async fn messenger_profile(&self, caller: &Caller, page_ref: &PageRef, fields: Option<Vec<ProfileField>>) -> AppResult<Data<Map<String, Value>>> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let stored = self.core.store.messenger_profile(&page.id).await?;
        let mut profile = Map::new();
        for (field, value) in stored {
            let wanted = fields.as_ref().is_none_or(|fields| fields.iter().any(|f| f.as_str() == field));
            if wanted {
                profile.insert(field, value);
            }
        }
        let data = if profile.is_empty() { vec![] } else { vec![profile] };
        Ok(Data { data })
    }

    /// `POST /{page-id}/messenger_profile`: sets the properties given, leaving the rest.
    pub async fn set_messenger_profile(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<()> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let update = parse_profile_update(params)?;
        let setting = |field: ProfileField| update.iter().any(|(f, _)| *f == field);
        if setting(ProfileField::PersistentMenu) && !setting(ProfileField::GetStarted) && !self.profile_has(&page.id, ProfileField::GetStarted).await? {
            return Err(Refusal::menu_needs_get_started().into());
        }
        let set = update.into_iter().map(|(field, value)| (field.as_str().to_string(), value)).collect();
        self.core.store.update_messenger_profile(&page.id, set, Vec::new(), self.core.now()).await?;
        Ok(())
    }

    /// `DELETE /{page-id}/messenger_profile` with `fields`.
    pub async fn delete_messenger_profile(&self, caller: &Caller, page_ref: &PageRef, fields: Vec<ProfileField>) -> AppResult<()> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let removing = |field: ProfileField| fields.contains(&field);
        if removing(ProfileField::GetStarted) && !removing(ProfileField::PersistentMenu) && self.profile_has(&page.id, ProfileField::PersistentMenu).await? {
            return Err(Refusal::invalid_param("The persistent menu needs the Get Started button: delete persistent_menu with it").into());
        }
        let remove = fields.iter().map(|f| f.as_str().to_string()).collect();
        self.core.store.update_messenger_profile(&page.id, Vec::new(), remove, self.core.now()).await?;
        Ok(())
    }

    /// `POST /{page-id}/custom_user_settings` `{"psid", "persistent_menu"}`: the
    /// person's own menu, shown instead of the Page's. As the Page's menu, it needs
    /// the Page's Get Started button.
    pub async fn set_user_settings(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<()> {
        let (page, person) = self.user_of(caller, page_ref, params).await?;
        let raw = params.0.get("persistent_menu").filter(|raw| !raw.is_null()).ok_or_else(|| Refusal::missing_param("persistent_menu"))?;
        let menu = validate_persistent_menu(raw)?;
        if !self.profile_has(&page, ProfileField::GetStarted).await? {
            return Err(Refusal::menu_needs_get_started().into());
        }
        let set = vec![(ProfileField::PersistentMenu.as_str().to_string(), menu)];
        self.core.store.update_custom_user_settings(&page, person, set, Vec::new(), self.core.now()).await?;
        Ok(())
    }

    /// `GET /{page-id}/custom_user_settings?psid=`: the person's menu and the Page's,
    /// each when set (`{"data": []}` when neither is).
    pub async fn user_settings(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<Data<Map<String, Value>>> {
        let (page, person) = self.user_of(caller, page_ref, params).await?;
        let mut settings = Map::new();
        if let Some(menu) = self.user_menu(&page, person).await? {
            settings.insert("user_level_persistent_menu".into(), menu);
        }
        if let Some(menu) = self.profile_value(&page, ProfileField::PersistentMenu).await? {
            settings.insert("page_level_persistent_menu".into(), menu);
        }
        Ok(Data { data: if settings.is_empty() { vec![] } else { vec![settings] } })
    }

    /// `DELETE /{page-id}/custom_user_settings?psid=&params=["persistent_menu"]`.
    pub async fn delete_user_settings(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<()> {
        let (page, person) = self.user_of(caller, page_ref, params).await?;
        let remove = parse_user_setting_params(params)?.into_iter().map(|field| field.as_str().to_string()).collect();
        self.core.store.update_custom_user_settings(&page, person, Vec::new(), remove, self.core.now()).await?;
        Ok(())
    }

    /// The caller's Page and the person its `psid` names there (the Send API's
    /// refusals for a PSID that is not the Page's).
    async fn user_of(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<(PageId, PersonId)> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let psid = params.str("psid")?.map(|psid| psid.trim().to_string()).filter(|psid| !psid.is_empty()).ok_or_else(|| Refusal::missing_param("psid"))?;
        let person = self.core.person_of_psid(&page.id, &psid).await?;
        Ok((page.id.clone(), person))
    }

    async fn user_menu(&self, page: &PageId, person: PersonId) -> AppResult<Option<Value>> {
        let settings = self.core.store.custom_user_settings(page, person).await?;
        Ok(settings.into_iter().find(|(field, _)| field == ProfileField::PersistentMenu.as_str()).map(|(_, menu)| menu))
    }

    async fn profile_has(&self, page: &PageId, field: ProfileField) -> AppResult<bool> {
        Ok(self.profile_value(page, field).await?.is_some())
    }

    pub(crate) async fn profile_value(&self, page: &PageId, field: ProfileField) -> AppResult<Option<Value>> {
        let stored = self.core.store.messenger_profile(page).await?;
        Ok(stored.into_iter().find(|(f, _)| f == field.as_str()).map(|(_, value)| value))
    }

    /// The menu the person sees: their own when the Page gave them one, else the Page's.
    pub(crate) async fn persistent_menu(&self, page: &PageId, person: PersonId, locale: &str) -> AppResult<Option<Value>> {
        let menu = match self.user_menu(page, person).await? {
            Some(menu) => Some(menu),
            None => self.profile_value(page, ProfileField::PersistentMenu).await?,
        };
        Ok(menu.as_ref().and_then(|menu| for_locale(menu, locale)).cloned())
    }

    /// The ice breakers for the locale, in either of Meta's two forms.
    pub(crate) async fn ice_breakers(&self, page: &PageId, locale: &str) -> AppResult<Vec<Value>> {
        let Some(breakers) = self.profile_value(page, ProfileField::IceBreakers).await? else { return Ok(Vec::new()) };
        let per_locale = breakers.as_array().is_some_and(|items| items.iter().any(|item| item.get("call_to_actions").is_some()));
        let questions = if per_locale { for_locale(&breakers, locale).and_then(|entry| entry.get("call_to_actions")).cloned() } else { Some(breakers) };
        Ok(questions.and_then(|q| q.as_array().cloned()).unwrap_or_default())
    }

    /// What the person's client shows on the Page's thread.
    pub async fn welcome(&self, person: PersonId, page_ref: &PageRef) -> AppResult<Welcome> {
        let page = self.core.page_for_person(page_ref).await?;
        let profile = self.person_profile(person).await?;
        let me = self.core.person(person).await?;
        let (first, last) = me.first_and_last();
        let greeting = self.profile_value(&page.id, ProfileField::Greeting).await?;
        let greeting = greeting.as_ref().and_then(|g| for_locale(g, &profile.locale)).and_then(|g| g.get("text")).and_then(Value::as_str);
        let new_thread = self.core.store.thread_messages(&page.id, person, None, 1).await?.is_empty();
        Ok(Welcome {
            new_thread,
            greeting: greeting.map(|text| personalize_greeting(text, first, last)),
            get_started: self.profile_has(&page.id, ProfileField::GetStarted).await?,
            persistent_menu: self.persistent_menu(&page.id, person, &profile.locale).await?,
            ice_breakers: self.ice_breakers(&page.id, &profile.locale).await?,
            page,
        })
    }

    /// `POST /{page-id}/personas` `{"name","profile_picture_url"}` → the persona's id.
    pub async fn create_persona(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<String> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let name = params.str("name")?.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).ok_or_else(|| Refusal::missing_param("name"))?;
        if name.chars().count() > MAX_PERSONA_NAME_CHARS {
            return Err(Refusal::invalid_param(format!("Param name must be at most {MAX_PERSONA_NAME_CHARS} characters")).into());
        }
        let picture = params.0.get("profile_picture_url").cloned().ok_or_else(|| Refusal::missing_param("profile_picture_url"))?;
        let picture = validate_url(&picture, "profile_picture_url", false)?;
        let persona = Persona { id: random_node_id(), page: page.id.clone(), name, profile_picture_url: picture, created_at: self.core.now() };
        let id = persona.id.clone();
        self.core.store.create_persona(persona).await?;
        Ok(id)
    }

    /// `GET /{page-id}/personas`.
    pub async fn personas(&self, caller: &Caller, page_ref: &PageRef) -> AppResult<Vec<Persona>> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        Ok(self.core.store.personas_of(&page.id).await?)
    }

    /// A persona of the caller's Page (`GET /{persona-id}`); `None` for anything else.
    pub async fn persona_of(&self, caller: &Caller, id: &str) -> AppResult<Option<Persona>> {
        let Caller::Page { page, .. } = caller else { return Ok(None) };
        Ok(self.core.store.persona(id).await?.filter(|p| p.page == page.id))
    }

    /// `DELETE /{persona-id}`; false when it is not a persona of the caller's Page.
    pub async fn delete_persona(&self, caller: &Caller, id: &str) -> AppResult<bool> {
        if self.persona_of(caller, id).await?.is_none() {
            return Ok(false);
        }
        Ok(self.core.store.delete_persona(id, self.core.now()).await?)
    }

    /// What the person tells Pages about themselves (defaults until they say).
    pub async fn person_profile(&self, person: PersonId) -> AppResult<PersonProfile> {
        Ok(self.core.store.person_profile(person).await?.unwrap_or_default())
    }

    pub async fn set_person_profile(&self, person: PersonId, details: PersonDetails) -> AppResult<PersonDetails> {
        let valid_locale = details.locale.len() == 5 && details.locale.as_bytes()[2] == b'_';
        if !valid_locale {
            return Err(Refusal::invalid_param("locale must look like en_US").into());
        }
        if !(-12.0..=14.0).contains(&details.timezone) {
            return Err(Refusal::invalid_param("timezone must be hours from UTC, between -12 and 14").into());
        }
        if details.gender.as_deref().is_some_and(|g| !matches!(g, "male" | "female")) {
            return Err(Refusal::invalid_param("gender must be male, female or null").into());
        }
        let profile = PersonProfile { locale: details.locale.clone(), timezone: details.timezone, gender: details.gender.clone() };
        self.core.store.set_person_profile(person, profile).await?;
        Ok(details)
    }

    /// `GET /{psid}` with a Page token: the person's profile fields. `None` when the id
    /// is no PSID of the Page. A person who never wrote to the Page (reached by phone
    /// number only) has no profile for it yet (2018218).
    pub async fn user_profile(&self, page: &PageId, psid: &str) -> AppResult<Option<Map<String, Value>>> {
        let person = match self.core.person_of_psid(page, psid).await {
            Ok(person) => person,
            Err(crate::AppError::Refused(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        let started = self.core.store.thread_state(page, person).await?.and_then(|s| s.last_person_at).is_some();
        if !started {
            return Err(Refusal::no_profile().into());
        }
        let me = self.core.person(person).await?;
        let profile = self.person_profile(person).await?;
        let (first, last) = me.first_and_last();
        let mut fields = Map::new();
        fields.insert("id".into(), psid.into());
        fields.insert("name".into(), me.name.clone().into());
        fields.insert("first_name".into(), first.into());
        fields.insert("last_name".into(), last.into());
        fields.insert("profile_pic".into(), self.core.profile_picture_url(page, psid).into());
        fields.insert("locale".into(), profile.locale.into());
        fields.insert("timezone".into(), timezone_json(profile.timezone));
        if let Some(gender) = profile.gender {
            fields.insert("gender".into(), gender.into());
        }
        Ok(Some(fields))
    }

    /// The picture behind a profile picture URL: an SVG of the person's initials, or
    /// `None` when the URL was not signed by this installation or names no person.
    pub async fn profile_picture(&self, page: &str, psid: &str, signature: &str) -> AppResult<Option<String>> {
        let expected = self.core.key.sign("profile picture", &format!("{page}\0{psid}"));
        if !switchboard_domain::credentials::secure_eq(&expected, signature) {
            return Ok(None);
        }
        let page = PageId(page.to_string());
        let Ok(person) = self.core.person_of_psid(&page, psid).await else { return Ok(None) };
        let name = self.core.person(person).await?.name;
        Ok(Some(initials_svg(&name)))
    }
}

/// Hours from UTC as Meta prints them: whole hours as integers (`-7`), the rest as
/// decimals (`5.5`), never `0.0`.
fn timezone_json(hours: f64) -> Value {
    if hours.fract() == 0.0 && hours.abs() <= 24.0 {
        Value::from(hours as i64)
    } else {
        serde_json::json!(hours)
    }
}

/// A round picture with the person's initials; the colour follows the name.
fn initials_svg(name: &str) -> String {
    let initials: String = name.split_whitespace().filter_map(|word| word.chars().next()).take(2).flat_map(char::to_uppercase).collect();
    let initials: String = initials.chars().filter(|c| c.is_alphanumeric()).collect();
    let hue = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)) % 360;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128"><circle cx="64" cy="64" r="64" fill="hsl({hue},45%,40%)"/><text x="64" y="80" font-family="sans-serif" font-size="48" fill="#fff" text-anchor="middle">{initials}</text></svg>"##
    )
}
