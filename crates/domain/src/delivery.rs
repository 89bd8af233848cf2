//! How a webhook attempt can fail, named the same in the attempt log, the console
//! and the metrics.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The receiver answered with a status other than 2xx.
    HttpStatus,
    /// No answer within the timeout (Meta: 20 s).
    Timeout,
    /// The connection was refused, or the host could not be reached or resolved.
    Connect,
    /// The connection was reset or closed under the request, before an answer.
    Reset,
    /// The TLS handshake or the certificate failed.
    Tls,
    /// The receiver answered with a redirect, which is not followed.
    Redirect,
    /// The callback address is not allowed by the outbound rules.
    Blocked,
    /// The app has no active `object=page` webhook.
    NoWebhook,
    /// Anything else.
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 9] = [
        Self::HttpStatus,
        Self::Timeout,
        Self::Connect,
        Self::Reset,
        Self::Tls,
        Self::Redirect,
        Self::Blocked,
        Self::NoWebhook,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpStatus => "http_status",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Reset => "reset",
            Self::Tls => "tls",
            Self::Redirect => "redirect",
            Self::Blocked => "blocked",
            Self::NoWebhook => "no_webhook",
            Self::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FailureKind::parse("nope"), None);
    }
}
