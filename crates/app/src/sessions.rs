//! Signing in and out. A password is checked on the hashing pool ([`Passwords`]),
//! never on the async workers; guessing is slowed down by counting failures per
//! login and per client address, and a login that fails too often is refused
//! before any hashing happens (so a flood of guesses costs the node no Argon2
//! memory or time). A session ends when its person signs out.
//!
//! Failures are counted in this node's memory, like the rate limits: several nodes
//! each count their own. The counters are bounded in number.

use crate::core::Core;
use crate::passwords::Passwords;
use crate::{AppError, AppResult};
use std::sync::Arc;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use switchboard_domain::*;

/// How many logins and addresses one counter remembers at most.
const MAX_TRACKED: usize = 50_000;
/// Longest password accepted (a longer one is no password of ours).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Limits on failed sign-ins.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    /// Failures of one login within the window before it is refused (0: no limit).
    pub failures_per_login: u32,
    /// Failures from one client address within the window before it is refused.
    pub failures_per_address: u32,
    pub window_ms: Millis,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self { failures_per_login: 10, failures_per_address: 50, window_ms: 15 * 60_000 }
    }
}

/// Failures per key in fixed windows that start at a key's first failure.
pub(crate) struct FailureCounter {
    limit: u32,
    window_ms: Millis,
    /// Key → (window start, failures in it).
    entries: Mutex<HashMap<String, (Millis, u32)>>,
}

impl FailureCounter {
    pub(crate) fn new(limit: u32, window_ms: Millis) -> Self {
        Self { limit, window_ms, entries: Mutex::new(HashMap::new()) }
    }

    /// When the key may try again, if it is refused now.
    fn refused_until(&self, key: &str, now: Millis) -> Option<Millis> {
        if self.limit == 0 {
            return None;
        }
        let entries = self.entries.lock().expect("failure counter poisoned");
        let (start, count) = *entries.get(key)?;
        let until = start.saturating_add(self.window_ms);
        (count >= self.limit && now < until).then_some(until)
    }

    fn record(&self, key: String, now: Millis) {
        if self.limit == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("failure counter poisoned");
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&key) {
            let window = self.window_ms;
            entries.retain(|_, (start, _)| now < start.saturating_add(window));
            if entries.len() >= MAX_TRACKED {
                // Still full of live windows: forget the ones with the fewest failures,
                // which are the least likely to be an attack in progress.
                let mut counts: Vec<u32> = entries.values().map(|(_, count)| *count).collect();
                counts.sort_unstable();
                let cut = counts[counts.len() / 10];
                entries.retain(|_, (_, count)| *count > cut);
            }
        }
        let entry = entries.entry(key).or_insert((now, 0));
        if now >= entry.0.saturating_add(self.window_ms) {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    fn clear(&self, key: &str) {
        self.entries.lock().expect("failure counter poisoned").remove(key);
    }
}

/// The key an address is counted under: one IPv6 /64 is one client (a host gets a
/// whole /64), an IPv4-mapped address is its IPv4 address.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Signing in and out, and hashing new passwords.
#[derive(Clone)]
pub struct Sessions {
    core: Arc<Core>,
    passwords: Arc<Passwords>,
    failures: Arc<SignInFailures>,
}

impl Sessions {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        let settings = &core.settings;
        let passwords = Arc::new(Passwords::start(settings.hashing_threads, settings.hashing_queue));
        let failures = Arc::new(SignInFailures::new(settings.sign_in_limits));
        Self { core, passwords, failures }
    }

    /// Signs a person in from `address` (the client's, when known); answers a
    /// session token for the person and console APIs.
    pub async fn sign_in(&self, login: &str, password: &str, address: Option<IpAddr>) -> AppResult<(Person, String)> {
        let wrong = || AppError::from(Refusal::invalid_param("Wrong login or password"));
        let now = self.core.now();
        // A login no person can have is wrong at once: it is not hashed, and not
        // counted either (a counter keyed by megabyte-long logins would grow with them).
        // Test users sign in with the e-mail the Graph API gave them too.
        let login = login.trim().strip_suffix(&format!("@{}", crate::TEST_USER_DOMAIN)).unwrap_or(login);
        let Ok(login) = crate::directory::check_handle("login", login) else { return Err(wrong()) };
        let address = address.map(address_key);
        let guard = &self.failures;
        let refused = [guard.logins.refused_until(&login, now), address.as_deref().and_then(|a| guard.addresses.refused_until(a, now))];
        if let Some(until) = refused.into_iter().flatten().max() {
            return Err(Refusal::sign_in_throttled((until - now + 999) / 1000).into());
        }
        let credentials = self.core.store.person_credentials(&login).await?;
        let matches = if password.chars().count() > MAX_PASSWORD_CHARS {
            false
        } else {
            self.passwords.verify(password, credentials.as_ref().map(|(_, hash)| hash.as_str())).await.map_err(hashing)?
        };
        let person = match (matches, credentials) {
            (true, Some((person, _))) => person,
            _ => {
                // An unknown login is counted as a known one, so that being refused
                // tells nothing about which logins exist.
                guard.logins.record(login, now);
                if let Some(address) = address {
                    guard.addresses.record(address, now);
                }
                return Err(wrong());
            }
        };
        guard.logins.clear(&login);
        let token = self.core.issue_token(TokenGrant::Session { person: person.id }, Some(self.core.settings.session_ttl_ms)).await?;
        Ok((person, token))
    }

    /// Checks the person's own password again before something that cannot be undone.
    /// Wrong answers count against the login as failed sign-ins do, so that a stolen
    /// session cannot be used to guess the password.
    pub(crate) async fn confirm_password(&self, person: &Person, password: &str) -> AppResult<()> {
        let now = self.core.now();
        if let Some(until) = self.failures.logins.refused_until(&person.login, now) {
            return Err(Refusal::sign_in_throttled((until - now + 999) / 1000).into());
        }
        let credentials = self.core.store.person_credentials(&person.login).await?;
        let hash = credentials.as_ref().filter(|(found, _)| found.id == person.id).map(|(_, hash)| hash.as_str());
        let matches = password.chars().count() <= MAX_PASSWORD_CHARS && self.passwords.verify(password, hash).await.map_err(hashing)?;
        if !matches {
            self.failures.logins.record(person.login.clone(), now);
            return Err(Refusal::invalid_param("Wrong password").into());
        }
        Ok(())
    }

    /// Ends the session whose token this is (`POST /person/v1/logout`). The operator
    /// credential is not a session: it is never ended this way.
    pub async fn sign_out(&self, token: &str) -> AppResult<()> {
        match self.core.authenticate(Some(token), None).await? {
            crate::Caller::Session { .. } => self.core.revoke_token(token).await,
            _ => Err(Refusal::wrong_token_kind("a person's session token").into()),
        }
    }

    /// An Argon2id hash of a new password, on the hashing pool.
    pub(crate) async fn hash_password(&self, password: &str) -> AppResult<String> {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(Refusal::invalid_param(format!("password must have at most {MAX_PASSWORD_CHARS} characters")).into());
        }
        self.passwords.hash(password).await.map_err(hashing)
    }
}

/// The failure counters of a node.
pub(crate) struct SignInFailures {
    logins: FailureCounter,
    addresses: FailureCounter,
}

impl SignInFailures {
    pub(crate) fn new(limits: SignInLimits) -> Self {
        Self { logins: FailureCounter::new(limits.failures_per_login, limits.window_ms), addresses: FailureCounter::new(limits.failures_per_address, limits.window_ms) }
    }
}

fn hashing(error: crate::passwords::HashingError) -> AppError {
    match error {
        crate::passwords::HashingError::Busy => Refusal::unavailable().into(),
        failed @ crate::passwords::HashingError::Failed(_) => AppError::internal("cannot hash a password", failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_refuse_within_their_window_only() {
        let counter = FailureCounter::new(3, 1_000);
        for at in [0, 10, 20] {
            assert_eq!(counter.refused_until("ann", at), None);
            counter.record("ann".into(), at);
        }
        assert_eq!(counter.refused_until("ann", 30), Some(1_000));
        assert_eq!(counter.refused_until("bob", 30), None, "per key");
        assert_eq!(counter.refused_until("ann", 1_000), None, "the window passed");
        counter.record("ann".into(), 1_000);
        assert_eq!(counter.refused_until("ann", 1_001), None, "a new window starts from zero");
        counter.clear("ann");
        assert_eq!(FailureCounter::new(0, 1_000).refused_until("ann", 0), None);
    }

    #[test]
    fn the_counter_stays_bounded() {
        let counter = FailureCounter::new(5, 1_000_000);
        for n in 0..(MAX_TRACKED + 5_000) {
            counter.record(format!("login{n}"), 1);
        }
        assert!(counter.entries.lock().unwrap().len() <= MAX_TRACKED);
    }

    #[test]
    fn addresses_group_an_ipv6_host_by_its_64() {
        assert_eq!(address_key("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(address_key("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
