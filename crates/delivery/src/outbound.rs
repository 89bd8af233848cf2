//! Where the node's own requests may go: webhook callbacks, handshakes and
//! attachment fetches. By default only public addresses: an app must not make the
//! platform reach loopback, private, link-local or other special ranges (its own
//! network, a cloud metadata service), however the address is spelled: decimal, hex
//! or short IPv4 forms (the URL parser turns them into plain IPv4), IPv4 inside IPv6
//! (mapped, compatible, NAT64, 6to4), or a host name that resolves to one.
//!
//! The address checked is the address connected to: host names are resolved by
//! [`PublicResolver`], which the HTTP clients use for every connection and which
//! answers only public addresses, so a name that resolves once to a public address
//! and then to a private one (DNS rebinding) is still refused. IP literals, which
//! the clients never resolve, are checked by [`OutboundRules::check_url`].
//!
//! Refusals say that the address is not public, never which address or port
//! answered, so that they cannot map what is listening inside.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use url::Host;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundRules {
    /// Let requests reach non-public addresses (local development only).
    pub allow_private: bool,
}

/// Why an outbound request was refused before it was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the URL is not valid")]
    Invalid,
    #[error("the URL must be http or https")]
    Scheme,
    #[error("the URL's host is not a public address, which this server does not call")]
    NotPublic,
}

impl OutboundRules {
    /// Checks the URL's scheme and, unless private addresses are allowed, a host that
    /// is an IP address. Host names are checked as they are resolved, by the client.
    pub fn check_url(&self, url: &str) -> Result<(), Refused> {
        let parsed = url::Url::parse(url).map_err(|_| Refused::Invalid)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Refused::Scheme);
        }
        let public = match parsed.host() {
            None => return Err(Refused::Invalid),
            Some(_) if self.allow_private => true,
            Some(Host::Ipv4(v4)) => is_public(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => is_public(IpAddr::V6(v6)),
            Some(Host::Domain(_)) => true,
        };
        if public {
            Ok(())
        } else {
            Err(Refused::NotPublic)
        }
    }

    /// Applies the rules to an HTTP client: its host names resolve through
    /// [`PublicResolver`] (unless private addresses are allowed), and it never goes
    /// through a proxy (a proxy would resolve names itself, past the check).
    pub fn client(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let builder = builder.no_proxy();
        if self.allow_private {
            builder
        } else {
            builder.dns_resolver(Arc::new(PublicResolver))
        }
    }
}

/// Resolves host names with the system resolver and answers only the public
/// addresses among them; a name with none fails with [`Refused::NotPublic`].
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if addresses.is_empty() {
                return Err(Box::new(Refused::NotPublic) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The refusal as a sentence for a client ("The URL must be http or https.").
pub fn sentence(refused: &Refused) -> String {
    let text = refused.to_string();
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().collect::<String>() + chars.as_str() + ".").unwrap_or_default()
}

/// Whether a request error was the rules' refusal (a name with no public address).
pub fn was_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<Refused>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Globally routable unicast: none of the special-purpose ranges of IANA's
/// registries, and for IPv6 forms that carry an IPv4 address, that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    // Forms that carry an IPv4 address: judged by that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated), and :: and ::1 themselves.
        return !(ip.is_unspecified() || ip.is_loopback()) && is_public_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2])); // 6to4
    }
    // Only global unicast (2000::/3) is public, minus its special blocks.
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let special = (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments: Teredo, ORCHID, benchmarking
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000); // documentation (2024)
    global_unicast && !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public_however_they_are_written() {
        let strict = OutboundRules { allow_private: false };
        for url in [
            "http://127.0.0.1:9/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://0/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://198.18.0.1/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]:8080/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[2002:c0a8:1::1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[2001:db8::1]/",
        ] {
            assert_eq!(strict.check_url(url), Err(Refused::NotPublic), "{url}");
        }
        for url in ["http://93.184.216.34/hook", "https://[2606:4700::1111]/", "http://[::ffff:93.184.216.34]/", "http://[2002:5db8:d822::1]/", "https://example.com/x"] {
            assert_eq!(strict.check_url(url), Ok(()), "{url}");
        }
        assert_eq!(strict.check_url("ftp://93.184.216.34/"), Err(Refused::Scheme));
        assert_eq!(strict.check_url("not a url"), Err(Refused::Invalid));
        assert_eq!(OutboundRules { allow_private: true }.check_url("http://127.0.0.1:9/hook"), Ok(()));
    }

    #[tokio::test]
    async fn names_resolve_to_public_addresses_only() {
        let resolved = PublicResolver.resolve("localhost".parse().unwrap()).await;
        let error = resolved.err().expect("localhost has no public address");
        assert!(was_refused(error.as_ref()), "{error}");
    }
}
