//! Webhook signatures: HMAC-SHA1 and HMAC-SHA256 of the exact body bytes, keyed by
//! the app secret, as `X-Hub-Signature` and `X-Hub-Signature-256` carry them.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// Header values for one POST body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// `sha1=<40 hex>`, for `X-Hub-Signature` (many SDKs check only this one).
    pub sha1: String,
    /// `sha256=<64 hex>`, for `X-Hub-Signature-256`.
    pub sha256: String,
}

pub fn sign(secret: &str, body: &[u8]) -> Signatures {
    let mut sha1 = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    sha1.update(body);
    let mut sha256 = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    sha256.update(body);
    Signatures {
        sha1: format!("sha1={}", hex::encode(sha1.finalize().into_bytes())),
        sha256: format!("sha256={}", hex::encode(sha256.finalize().into_bytes())),
    }
}

/// Checks a header value (`sha1=…` or `sha256=…`) against the body, in constant time.
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let expected = sign(secret, body);
    let candidate = header.trim();
    if candidate.starts_with("sha256=") {
        crate::credentials::secure_eq(&expected.sha256, candidate)
    } else {
        crate::credentials::secure_eq(&expected.sha1, candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // HMAC of "The quick brown fox jumps over the lazy dog" keyed by "key".
        let signatures = sign("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(signatures.sha1, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
        assert_eq!(
            signatures.sha256,
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(verify("key", b"The quick brown fox jumps over the lazy dog", &signatures.sha1));
        assert!(verify("key", b"The quick brown fox jumps over the lazy dog", &signatures.sha256));
        assert!(!verify("key2", b"The quick brown fox jumps over the lazy dog", &signatures.sha256));
    }
}
