//! Which callback addresses Switchboard may call. A multi-tenant deployment refuses
//! private, loopback and link-local ranges (so that an app cannot make the platform
//! probe its own network); local bot development allows them, the default.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundRules {
    pub allow_private: bool,
}

impl OutboundRules {
    /// Checks the URL's scheme and, unless private addresses are allowed, every address
    /// its host resolves to. The answer is the reason for a refusal.
    pub async fn check(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("the callback URL is not valid ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the callback URL must be http or https".into());
        }
        if self.allow_private {
            return Ok(());
        }
        let host = parsed.host_str().ok_or("the callback URL has no host")?;
        let port = parsed.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve the callback host ({e})"))?
            .map(|a| a.ip())
            .collect();
        match addresses.iter().find(|ip| !is_public(ip)) {
            Some(ip) => Err(format!("the callback address {ip} is in a private or reserved range, which this server does not call")),
            None => Ok(()),
        }
    }
}

/// Globally routable: not loopback, private, link-local, shared (CGNAT), unique-local,
/// multicast, unspecified or documentation space.
fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(&IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_ranges_are_refused_only_when_asked() {
        let strict = OutboundRules { allow_private: false };
        for url in ["http://127.0.0.1:9/hook", "http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]:8080/", "http://169.254.169.254/", "http://100.64.0.1/"] {
            assert!(strict.check(url).await.is_err(), "{url}");
        }
        assert!(strict.check("http://93.184.216.34/hook").await.is_ok());
        assert!(strict.check("ftp://93.184.216.34/").await.is_err(), "only http and https");
        assert!(OutboundRules { allow_private: true }.check("http://127.0.0.1:9/hook").await.is_ok());
    }
}
