//! Credentials: random tokens and their digests, app secrets derived from the
//! installation's master key, app access tokens and `appsecret_proof`.
//!
//! Only digests of tokens are stored. App secrets are not stored at all: each is
//! HMAC(master key, app id, generation), so the store holds nothing that signs a
//! webhook or passes for an app. Every comparison of a secret is constant-time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// `n` random bytes as unpadded URL-safe base64.
pub fn random_urlsafe(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new opaque access token in Meta's style (`EAA…`) and the digest to store.
pub fn new_access_token() -> (String, String) {
    let token = format!("EAA{}", random_urlsafe(48));
    let digest = token_digest(&token);
    (token, digest)
}

/// The stored form of a token: lowercase hex SHA-256. Tokens carry 384 random bits,
/// so a fast digest is enough (no password stretching needed) and a lookup by
/// digest reveals nothing useful through timing.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two strings.
pub fn secure_eq(a: &str, b: &str) -> bool {
    secure_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// Constant-time equality of two byte strings (only their lengths may leak).
pub fn secure_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The installation's master key: the root of every app secret.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Key material of at least 32 bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, &'static str> {
        if bytes.len() < 32 {
            return Err("the master key must hold at least 32 bytes");
        }
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The recurring-notification token of the opt-in request `mid`: derived, so that
    /// it is never stored (only its digest is) yet can be shown again in the stop and
    /// resume events.
    pub fn notification_messages_token(&self, mid: &str) -> String {
        hmac_hex(&self.0, format!("switchboard notification messages token\0{mid}").as_bytes())
    }

    /// A signature of `message` for one `purpose` (32 hex characters), for URLs this
    /// installation hands out and must recognise later.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let full = hmac_hex(&self.0, format!("switchboard {purpose}\0{message}").as_bytes());
        full[..32].to_string()
    }

    /// The Page token of (Page, app, admin) at `epoch`: derived, so that asking again
    /// gives the same token; each revocation of the triple's tokens moves its epoch
    /// on, so a revoked token is never derived again. Epoch 0 derives as tokens did
    /// before epochs existed, so those stay valid.
    pub fn page_token(&self, page: &str, app: &str, admin: i64, epoch: u32) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(format!("switchboard page token\0{page}\0{app}\0{admin}").as_bytes());
        if epoch > 0 {
            mac.update(format!("\0{epoch}").as_bytes());
        }
        format!("EAA{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The app secret of `app_id` at `generation`: 32 lowercase hex characters, like Meta's.
    pub fn app_secret(&self, app_id: &str, generation: u32) -> String {
        let full = hmac_hex(&self.0, format!("switchboard app secret\0{app_id}\0{generation}").as_bytes());
        full[..32].to_string()
    }
}

/// The app access token handed out by `GET /oauth/access_token?grant_type=client_credentials`:
/// `<app_id>|<digest>`, derived from the secret so it changes when the secret is reset.
pub fn app_access_token(app_id: &str, secret: &str) -> String {
    let digest = hmac_hex(secret.as_bytes(), b"switchboard app access token");
    format!("{app_id}|{}", &digest[..27])
}

/// If `token` has the shape of an app token (`<app_id>|<secret or digest>`), its app id
/// and the part after the bar.
pub fn split_app_token(token: &str) -> Option<(&str, &str)> {
    let (app, rest) = token.split_once('|')?;
    crate::ids::is_node_id(app).then_some((app, rest))
}

/// True when `token` is an app token of this app: the literal `<app_id>|<app_secret>`
/// or the derived form.
pub fn is_app_token_of(token: &str, app_id: &str, secret: &str) -> bool {
    match split_app_token(token) {
        Some((id, _)) if id == app_id => {
            secure_eq(token, &format!("{app_id}|{secret}")) || secure_eq(token, &app_access_token(app_id, secret))
        }
        _ => false,
    }
}

/// `appsecret_proof`: lowercase hex HMAC-SHA256 of the token, keyed by the app secret.
pub fn appsecret_proof(secret: &str, token: &str) -> String {
    hmac_hex(secret.as_bytes(), token.as_bytes())
}

pub fn proof_matches(secret: &str, token: &str, proof: &str) -> bool {
    secure_eq(&appsecret_proof(secret, token), &proof.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_secrets_depend_on_app_and_generation() {
        let key = MasterKey::generate();
        let a0 = key.app_secret("1", 0);
        assert_eq!(a0.len(), 32);
        assert_eq!(a0, key.app_secret("1", 0));
        assert_ne!(a0, key.app_secret("1", 1));
        assert_ne!(a0, key.app_secret("2", 0));
        assert_ne!(a0, MasterKey::generate().app_secret("1", 0));
    }

    #[test]
    fn app_tokens_accept_both_forms_only_for_their_app() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(is_app_token_of(&format!("42|{secret}"), "42", secret));
        assert!(is_app_token_of(&app_access_token("42", secret), "42", secret));
        assert!(!is_app_token_of(&format!("43|{secret}"), "42", secret));
        assert!(!is_app_token_of("42|nope", "42", secret));
        assert!(!is_app_token_of("EAAxyz", "42", secret));
    }

    #[test]
    fn proof_is_hmac_sha256_of_token_keyed_by_secret() {
        // RFC 4231, test case 2.
        assert_eq!(
            appsecret_proof("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(proof_matches("secret", "token", &appsecret_proof("secret", "token").to_uppercase()));
        assert!(!proof_matches("secret", "token2", &appsecret_proof("secret", "token")));
    }

    #[test]
    fn access_tokens_are_stored_as_digests() {
        let (token, digest) = new_access_token();
        assert!(token.starts_with("EAA"));
        assert_eq!(digest, token_digest(&token));
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains(&token[3..10]));
    }
}
