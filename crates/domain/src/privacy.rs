//! Privacy: what leaving looks like. Meta's `signed_request` (the data deletion and
//! deauthorize callbacks), what an app's answer to a deletion request may hold, the
//! digest that remembers an erased PSID without keeping it, how long an installation
//! or a Page keeps messages, and how callbacks are retried.

use crate::retry::RetrySchedule;
use crate::Millis;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Which callback an app registered and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// A person who knew the app deleted their account: the app must forget them and
    /// answers where the person can follow that.
    DataDeletion,
    /// A person or a Page removed the app.
    Deauthorize,
}

impl CallbackKind {
    pub const ALL: [CallbackKind; 2] = [Self::DataDeletion, Self::Deauthorize];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataDeletion => "data_deletion",
            Self::Deauthorize => "deauthorize",
        }
    }
}

/// `<base64url(signature)>.<base64url(payload)>`, the signature being HMAC-SHA256 of
/// the encoded payload keyed by the app secret, as Meta POSTs it in the form field
/// `signed_request`. `payload` gets `"algorithm":"HMAC-SHA256"`.
pub fn signed_request(secret: &str, payload: &Value) -> String {
    let mut payload = payload.clone();
    if let Value::Object(fields) = &mut payload {
        fields.insert("algorithm".into(), Value::String("HMAC-SHA256".into()));
    }
    let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("JSON values serialize"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(encoded.as_bytes());
    format!("{}.{encoded}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The payload of a `signed_request` whose signature matches the secret (checked in
/// constant time), as an app would parse it; `None` for anything else.
pub fn parse_signed_request(secret: &str, signed: &str) -> Option<Value> {
    let (signature, encoded) = signed.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(encoded.as_bytes());
    mac.verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

/// The longest status URL and confirmation code kept from an app's answer.
pub const MAX_ANSWER_FIELD: usize = 2_000;
/// How much of an app's answer is read.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// What an app answers to a data deletion request: `{"url": …, "confirmation_code": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionAnswer {
    pub url: String,
    pub confirmation_code: String,
}

/// Reads an app's answer to a data deletion request, or says what is wrong with it.
pub fn parse_deletion_answer(body: &[u8]) -> Result<DeletionAnswer, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "the answer is not JSON: expected {\"url\", \"confirmation_code\"}".to_string())?;
    let field = |name: &str| -> Result<String, String> {
        let text = match value.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => return Err(format!("the answer has no {name}")),
        };
        if text.is_empty() || text.len() > MAX_ANSWER_FIELD {
            return Err(format!("the answer's {name} must have 1 to {MAX_ANSWER_FIELD} bytes"));
        }
        Ok(text)
    };
    Ok(DeletionAnswer { url: field("url")?, confirmation_code: field("confirmation_code")? })
}

/// What remembers that a PSID was erased (so that sends to it answer 551) without
/// keeping the PSID: its SHA-256 with the Page's id.
pub fn erased_psid_digest(page: &str, psid: &str) -> String {
    hex::encode(Sha256::digest(format!("{page}\0{psid}").as_bytes()))
}

/// How long messages may be kept, in days: at least a day, at most a century.
pub const MIN_RETENTION_DAYS: u32 = 1;
pub const MAX_RETENTION_DAYS: u32 = 36_500;
pub const DAY_MS: Millis = 86_400_000;

/// A retention in days as the console or the settings give it.
pub fn check_retention_days(days: u32) -> Result<u32, String> {
    if (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(format!("retention must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days"))
    }
}

/// Messages created before this are pruned, for a retention of `days` at `now`.
pub fn retention_cutoff(days: u32, now: Millis) -> Millis {
    now - days as Millis * DAY_MS
}

/// Callbacks are retried like webhooks but more patiently: from a minute, doubling to
/// six hours, for a week, then given up (the console shows them either way).
pub const CALLBACK_RETRY: RetrySchedule = RetrySchedule { initial_ms: 60_000, max_ms: 6 * 3_600_000, give_up_after_ms: 7 * 86_400_000 };
/// How long a callback POST may take (Meta's webhook timeout).
pub const CALLBACK_TIMEOUT_MS: Millis = 20_000;
/// A signed request stays valid this long after it is issued (`expires`).
pub const SIGNED_REQUEST_TTL_MS: Millis = 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signed_request_verifies_with_its_secret_only() {
        let signed = signed_request("secret", &json!({"user_id": "123", "issued_at": 1}));
        let payload = parse_signed_request("secret", &signed).unwrap();
        assert_eq!(payload, json!({"algorithm": "HMAC-SHA256", "user_id": "123", "issued_at": 1}));
        assert!(parse_signed_request("another", &signed).is_none());
        let (signature, _) = signed.split_once('.').unwrap();
        let forged = format!("{signature}.{}", URL_SAFE_NO_PAD.encode(br#"{"user_id":"999"}"#));
        assert!(parse_signed_request("secret", &forged).is_none());
        assert!(!signed.contains('=') && !signed.contains('+') && !signed.contains('/'));
    }

    #[test]
    fn a_signature_is_hmac_sha256_of_the_encoded_payload() {
        // As an app checks it by hand: HMAC-SHA256(secret, payload part) == signature part.
        let signed = signed_request("s3cret", &json!({"user_id": "42"}));
        let (signature, encoded) = signed.split_once('.').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(encoded.as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap(), mac.finalize().into_bytes().to_vec());
    }

    #[test]
    fn deletion_answers_need_both_fields_within_bounds() {
        let answer = parse_deletion_answer(br#"{"url":"https://bot.example/deletion?id=7","confirmation_code":"abc"}"#).unwrap();
        assert_eq!(answer.confirmation_code, "abc");
        assert_eq!(parse_deletion_answer(br#"{"url":"u","confirmation_code":77}"#).unwrap().confirmation_code, "77");
        assert!(parse_deletion_answer(br#"{"url":"u"}"#).unwrap_err().contains("confirmation_code"));
        assert!(parse_deletion_answer(b"ok").is_err());
        let long = format!(r#"{{"url":"{}","confirmation_code":"c"}}"#, "u".repeat(MAX_ANSWER_FIELD + 1));
        assert!(parse_deletion_answer(long.as_bytes()).is_err());
    }

    #[test]
    fn retention_is_bounded_and_cuts_whole_days() {
        assert!(check_retention_days(0).is_err());
        assert!(check_retention_days(MAX_RETENTION_DAYS + 1).is_err());
        assert_eq!(retention_cutoff(2, 5 * DAY_MS), 3 * DAY_MS);
        assert_ne!(erased_psid_digest("1", "23"), erased_psid_digest("12", "3"));
    }
}
