//! Permissions: what a person grants an app in the login dialog, what App Review
//! approves, and which of them a token may use (reference §2.1–2.3).
//!
//! A token carries the permissions its person granted. Who they work for depends on
//! the app: a role holder's grants always work (Meta's Standard Access); for anyone
//! else a live app needs the permission approved by review (Advanced Access), and
//! messaging follows the same rule on the recipient's side (200/2018028).

use crate::{AppMode, Refusal};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A permission Messenger apps ask for, by Meta's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    PublicProfile,
    PagesMessaging,
    PagesShowList,
    PagesManageMetadata,
    PagesReadEngagement,
    BusinessManagement,
    /// The HUMAN_AGENT tag: a feature of the app that review approves, never asked
    /// of a person.
    HumanAgent,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Self::PublicProfile,
        Self::PagesMessaging,
        Self::PagesShowList,
        Self::PagesManageMetadata,
        Self::PagesReadEngagement,
        Self::BusinessManagement,
        Self::HumanAgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublicProfile => "public_profile",
            Self::PagesMessaging => "pages_messaging",
            Self::PagesShowList => "pages_show_list",
            Self::PagesManageMetadata => "pages_manage_metadata",
            Self::PagesReadEngagement => "pages_read_engagement",
            Self::BusinessManagement => "business_management",
            Self::HumanAgent => "human_agent",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// What the login dialog tells the person the app may do with it.
    pub fn description(self) -> &'static str {
        match self {
            Self::PublicProfile => "See your name and profile picture",
            Self::PagesMessaging => "Manage and reply to the messages of the Pages you choose",
            Self::PagesShowList => "Show a list of the Pages you manage",
            Self::PagesManageMetadata => "Manage the settings and webhooks of the Pages you choose",
            Self::PagesReadEngagement => "Read the content and conversations of the Pages you choose",
            Self::BusinessManagement => "Manage your business",
            Self::HumanAgent => "Reply as a human agent for seven days",
        }
    }

    /// Whether a person grants it in the login dialog (`human_agent` is the app's).
    pub fn asked_of_persons(self) -> bool {
        self != Self::HumanAgent
    }

    /// Whether App Review decides on it (`public_profile` every app has).
    pub fn reviewable(self) -> bool {
        self != Self::PublicProfile
    }

    /// Whether it is granted for chosen Pages (`granular_scopes` name them).
    pub fn per_page(self) -> bool {
        matches!(self, Self::PagesMessaging | Self::PagesShowList | Self::PagesManageMetadata | Self::PagesReadEngagement)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(u16);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    /// What granting a Page in the console means: everything a Messenger bot needs,
    /// as the login dialog would ask for it.
    pub fn messenger() -> Self {
        [
            Permission::PublicProfile,
            Permission::PagesMessaging,
            Permission::PagesShowList,
            Permission::PagesManageMetadata,
            Permission::PagesReadEngagement,
        ]
        .into_iter()
        .collect()
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn insert(&mut self, permission: Permission) {
        self.0 |= permission.bit();
    }

    pub fn intersection(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }

    pub fn without(self, other: Scopes) -> Scopes {
        Scopes(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }

    /// Parses stored names; unknown ones (from a newer version) are skipped.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names.into_iter().filter_map(|name| Permission::parse(name.trim())).collect()
    }
}

impl FromIterator<Permission> for Scopes {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut scopes = Scopes::NONE;
        for permission in iter {
            scopes.insert(permission);
        }
        scopes
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Ok(Scopes::from_names(names.iter().map(String::as_str)))
    }
}

/// A dialog's `scope` longer than this names no real set of permissions.
pub const MAX_SCOPE_CHARS: usize = 1000;

/// The `scope` of a login dialog (comma or space separated, as Meta accepts it):
/// the permissions asked of the person, `public_profile` always among them. An
/// unknown name is refused, as Meta's dialog shows "Invalid Scopes".
pub fn parse_scope(scope: &str) -> Result<Scopes, Refusal> {
    if scope.len() > MAX_SCOPE_CHARS {
        return Err(Refusal::invalid_param(format!("scope must have at most {MAX_SCOPE_CHARS} characters")));
    }
    let mut scopes: Scopes = [Permission::PublicProfile].into_iter().collect();
    let mut invalid = Vec::new();
    for name in scope.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()) {
        match Permission::parse(name).filter(|p| p.asked_of_persons()) {
            Some(permission) => scopes.insert(permission),
            None => invalid.push(name.to_string()),
        }
    }
    if !invalid.is_empty() {
        return Err(Refusal::invalid_param(format!("Invalid Scopes: {}", invalid.join(", "))));
    }
    Ok(scopes)
}

/// The permissions a person's grant lets the app use: all of them for the app's
/// role holders (and in development mode, where only role holders can log in, for
/// anyone the operator granted for); for anyone else a live app's approved ones.
pub fn effective(granted: Scopes, approved: Scopes, mode: AppMode, holds_role: bool) -> Scopes {
    if holds_role || mode == AppMode::Development {
        return granted;
    }
    let always: Scopes = [Permission::PublicProfile].into_iter().collect();
    granted.intersection(approved.union(always))
}

/// Whether the app may write to a person: any role holder; anyone else only when the
/// app is live and `pages_messaging` passed review (200/2018028 otherwise).
pub fn may_message(mode: AppMode, approved: Scopes, recipient_holds_role: bool) -> Result<(), Refusal> {
    if recipient_holds_role || (mode == AppMode::Live && approved.contains(Permission::PagesMessaging)) {
        return Ok(());
    }
    Err(Refusal::development_mode_recipient())
}

/// A call that needs a permission the token does not carry.
pub fn require(scopes: Scopes, permission: Permission) -> Result<(), Refusal> {
    if scopes.contains(permission) {
        Ok(())
    } else {
        Err(Refusal::missing_permission(permission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &[Permission]) -> Scopes {
        list.iter().copied().collect()
    }

    #[test]
    fn names_round_trip() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Some(permission));
        }
        let scopes = set(&[Permission::PagesMessaging, Permission::HumanAgent]);
        assert_eq!(Scopes::from_names(scopes.names()), scopes);
        assert_eq!(serde_json::to_string(&scopes).unwrap(), r#"["pages_messaging","human_agent"]"#);
    }

    #[test]
    fn a_dialog_scope_always_holds_public_profile_and_refuses_unknown_names() {
        let scopes = parse_scope("pages_messaging, pages_show_list pages_manage_metadata").unwrap();
        assert_eq!(
            scopes,
            set(&[Permission::PublicProfile, Permission::PagesMessaging, Permission::PagesShowList, Permission::PagesManageMetadata])
        );
        assert_eq!(parse_scope("").unwrap(), set(&[Permission::PublicProfile]));
        let refusal = parse_scope("pages_messaging,read_mailbox,human_agent").unwrap_err();
        assert!(refusal.message.contains("read_mailbox, human_agent"), "{}", refusal.message);
        assert!(parse_scope(&"x,".repeat(MAX_SCOPE_CHARS)).unwrap_err().message.contains("at most"));
    }

    #[test]
    fn live_apps_need_review_for_persons_without_a_role() {
        let granted = set(&[Permission::PublicProfile, Permission::PagesMessaging, Permission::PagesShowList]);
        let approved = set(&[Permission::PagesMessaging]);
        assert_eq!(effective(granted, Scopes::NONE, AppMode::Live, true), granted, "role holders have standard access");
        assert_eq!(effective(granted, Scopes::NONE, AppMode::Development, false), granted);
        assert_eq!(effective(granted, approved, AppMode::Live, false), set(&[Permission::PublicProfile, Permission::PagesMessaging]));
    }

    #[test]
    fn messaging_a_person_without_a_role_needs_a_live_reviewed_app() {
        let approved = set(&[Permission::PagesMessaging]);
        assert!(may_message(AppMode::Development, approved, true).is_ok());
        assert!(may_message(AppMode::Live, approved, false).is_ok());
        for (mode, approved) in [(AppMode::Development, approved), (AppMode::Live, Scopes::NONE)] {
            let refusal = may_message(mode, approved, false).unwrap_err();
            assert_eq!((refusal.code, refusal.subcode), (200, Some(2018028)));
        }
    }

    #[test]
    fn a_missing_permission_is_refused_with_its_name() {
        let refusal = require(Scopes::NONE, Permission::PagesManageMetadata).unwrap_err();
        assert_eq!(refusal.code, 200);
        assert!(refusal.message.contains("pages_manage_metadata"));
        assert_eq!(require(Scopes::NONE, Permission::PagesMessaging).unwrap_err().code, 230);
        assert!(require(set(&[Permission::PagesMessaging]), Permission::PagesMessaging).is_ok());
    }
}
