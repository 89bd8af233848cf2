//! Typed identifiers. Graph node IDs (Pages, apps, PSIDs, ASIDs) are decimal strings
//! of random digits, as on Meta's platform; persons keep an internal id that apps
//! never see.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! graph_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

graph_id!(
    /// A Page's node id.
    PageId
);
graph_id!(
    /// An app's node id (also the `client_id` of OAuth calls).
    AppId
);
graph_id!(
    /// Page-scoped ID: one per (person, Page), the only id of a person a Page sees.
    Psid
);
graph_id!(
    /// App-scoped ID: one per (person, app), what login hands an app as `/me`.
    Asid
);
graph_id!(
    /// A message id (`mid`), opaque to clients.
    Mid
);

/// A person's internal id. Never shown to apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub i64);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A random 16-digit decimal id with a non-zero first digit, like Meta's node ids.
/// Collisions are caught by the store's unique constraints and retried there.
pub fn random_node_id() -> String {
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(1..=9u8);
    let rest: u64 = rng.gen_range(0..1_000_000_000_000_000);
    format!("{first}{rest:015}")
}

/// A fresh message id: `m_`, the time it was made, and 24 random bytes.
pub fn new_mid() -> Mid {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
    mid_at(now, &random)
}

/// A message id made at `unix_ms` (wall-clock milliseconds): `m_`, the time as 12 hex
/// digits, then `random` in URL-safe base64. Ids made later sort after earlier ones,
/// so the stores' `mid` indexes grow at their end instead of at random places: a
/// large store then keeps only that end in its cache. Nothing else reads the time.
pub fn mid_at(unix_ms: u64, random: &[u8; 24]) -> Mid {
    use base64::Engine;
    Mid(format!("m_{unix_ms:012x}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)))
}

/// True when `s` looks like a node id (decimal digits only); anything else can never
/// name a Page, app or person.
pub fn is_node_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

/// How a request names a Page, parsed once where it arrives: `me` (the Page of the
/// caller's Page token), a node id, or a username (stored lowercase). A path
/// parameter deserializes straight into it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum PageRef {
    Me,
    Id(PageId),
    Username(String),
}

impl PageRef {
    pub fn parse(text: &str) -> Self {
        match text {
            "me" => Self::Me,
            id if is_node_id(id) => Self::Id(PageId(id.to_string())),
            username => Self::Username(username.to_ascii_lowercase()),
        }
    }
}

impl From<String> for PageRef {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

impl fmt::Display for PageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Me => f.write_str("me"),
            Self::Id(id) => f.write_str(id.as_str()),
            Self::Username(username) => f.write_str(username),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_sixteen_digits() {
        for _ in 0..100 {
            let id = random_node_id();
            assert_eq!(id.len(), 16);
            assert!(is_node_id(&id));
            assert_ne!(&id[..1], "0");
        }
    }

    #[test]
    fn page_references_are_parsed_once() {
        assert_eq!(PageRef::parse("me"), PageRef::Me);
        assert_eq!(PageRef::parse("1234"), PageRef::Id(PageId("1234".into())));
        assert_eq!(PageRef::parse("Shop"), PageRef::Username("shop".into()));
        assert_eq!(PageRef::parse("Shop").to_string(), "shop");
    }

    #[test]
    fn mids_are_distinct_and_sort_by_time() {
        assert_ne!(new_mid(), new_mid());
        assert!(new_mid().0.starts_with("m_"));
        let (earlier, later) = (mid_at(1_700_000_000_000, &[255; 24]), mid_at(1_700_000_000_001, &[0; 24]));
        assert!(earlier.0 < later.0, "{} sorts before {}", earlier.0, later.0);
        assert_eq!(earlier.0.len(), later.0.len());
    }
}
