//! A small map whose entries expire after a fixed time: the token, PSID, Page and
//! subscription caches in front of the store. The TTL bounds how long a change made
//! elsewhere (another node, the CLI) can go unseen.
//!
//! Read through [`TtlCache::get_or_load`], a busy key never expires for everyone at
//! once, and no request waits for a key it finds in the cache. Measured on
//! PostgreSQL, every cached token and PSID expiring in the same instant sent every
//! request in flight to the database together, once a second: the Send API's
//! slowest answers were those herds. So a missing key is loaded by one caller at a
//! time while the others wait for its answer, and an entry past half its TTL is
//! reloaded in the background, started by the one caller that notices, while every
//! caller, that one included, is served the entry (still within its TTL, so the
//! bound holds). A token's reload is several queries in a row: when the caller that
//! noticed waited for it, those callers were the Send API's p99 (ANALYSIS.md).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries past this count are pruned of expired ones before inserting; if they
/// are all fresh, the cache starts over (memory stays bounded whatever the keys).
const PRUNE_AT: usize = 100_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    /// Shared with the background reloads.
    state: Arc<Mutex<State<K, V>>>,
}

struct State<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// One gate per key being loaded: later callers wait on it for the answer.
    loading: HashMap<K, Arc<tokio::sync::Mutex<()>>>,
    /// Moves on every removal: a load that began before one may hold what was
    /// removed, so it is not kept.
    generation: u64,
}

struct Entry<V> {
    stored: Instant,
    value: V,
    /// A background reload of it is under way.
    refreshing: bool,
}

/// What a lookup found for the caller.
enum Found<V> {
    Fresh(V),
    /// Valid, but old: this caller (alone) starts its reload.
    Refresh(V),
    Missing,
}

impl<K, V> State<K, V>
where
    K: Eq + Hash,
{
    /// Keeps a value loaded when the cache was at `generation`, unless something
    /// was removed since (the value may be what was removed).
    fn put_since(&mut self, ttl: Duration, key: K, value: V, generation: u64) {
        if ttl.is_zero() || self.generation != generation {
            return;
        }
        if self.entries.len() >= PRUNE_AT {
            self.entries.retain(|_, entry| entry.stored.elapsed() < ttl);
            if self.entries.len() >= PRUNE_AT {
                self.entries.clear();
            }
        }
        self.entries.insert(key, Entry { stored: Instant::now(), value, refreshing: false });
    }

    fn remove(&mut self, key: &K) {
        self.generation += 1;
        self.entries.remove(key);
    }
}

impl<K, V> TtlCache<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, state: Arc::new(Mutex::new(State { entries: HashMap::new(), loading: HashMap::new(), generation: 0 })) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<K, V>> {
        self.state.lock().expect("cache poisoned")
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let state = self.state();
        state.entries.get(key).filter(|e| e.stored.elapsed() < self.ttl).map(|e| e.value.clone())
    }

    /// The entry, and whether this caller should reload it; marks it as reloading.
    fn find(&self, key: &K) -> (Found<V>, u64) {
        let mut state = self.state();
        let generation = state.generation;
        let found = match state.entries.get_mut(key) {
            Some(entry) if entry.stored.elapsed() < self.ttl / 2 || (entry.refreshing && entry.stored.elapsed() < self.ttl) => Found::Fresh(entry.value.clone()),
            Some(entry) if entry.stored.elapsed() < self.ttl => {
                entry.refreshing = true;
                Found::Refresh(entry.value.clone())
            }
            _ => Found::Missing,
        };
        (found, generation)
    }

    /// The cached value, else what `load` finds (kept when it is `Some`). Only one
    /// caller at a time loads a missing key, and an old entry is reloaded in a task
    /// of its own; see the module's comment. `load` owns what it reads with (an
    /// `Arc` of the core), since a reload may outlive the request that started it.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: Send + 'static,
    {
        let (found, generation) = self.find(key);
        match found {
            Found::Fresh(value) => Ok(Some(value)),
            Found::Refresh(old) => {
                let (state, ttl, key, reload) = (self.state.clone(), self.ttl, key.clone(), load());
                tokio::spawn(async move {
                    let loaded = reload.await;
                    let mut state = state.lock().expect("cache poisoned");
                    match loaded {
                        Ok(Some(value)) => state.put_since(ttl, key, value, generation),
                        Ok(None) => state.remove(&key),
                        // The old value is still within its TTL: a failed reload can
                        // wait for the next caller.
                        Err(_) => {
                            if let Some(entry) = state.entries.get_mut(&key) {
                                entry.refreshing = false;
                            }
                        }
                    }
                });
                Ok(Some(old))
            }
            Found::Missing => {
                let gate = self.state().loading.entry(key.clone()).or_default().clone();
                let held = gate.lock().await;
                // Whoever held the gate before may have loaded it.
                if let Some(value) = self.get(key) {
                    return Ok(Some(value));
                }
                let generation = self.state().generation;
                let loaded = load().await;
                if let Ok(Some(value)) = &loaded {
                    self.state().put_since(self.ttl, key.clone(), value.clone(), generation);
                }
                drop(held);
                let mut state = self.state();
                if state.loading.get(key).is_some_and(|current| Arc::ptr_eq(current, &gate)) {
                    state.loading.remove(key);
                }
                loaded
            }
        }
    }

    pub fn put(&self, key: K, value: V) {
        let mut state = self.state();
        let generation = state.generation;
        state.put_since(self.ttl, key, value, generation);
    }

    pub fn remove(&self, key: &K) {
        self.state().remove(key);
    }

    pub fn clear(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn entries_expire() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.put("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.put("a", 1);
        assert_eq!(cache.get(&"a"), None);
    }

    async fn slow_load(loads: Arc<AtomicUsize>, value: u32) -> Result<Option<u32>, ()> {
        loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Some(value))
    }

    #[tokio::test]
    async fn a_missing_key_is_loaded_once_however_many_ask_at_once() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let loads = Arc::new(AtomicUsize::new(0));
        let asks = (0..50).map(|_| cache.get_or_load(&"token", || slow_load(loads.clone(), 7)));
        let answers = futures_util::future::join_all(asks).await;
        assert!(answers.into_iter().all(|a| a == Ok(Some(7))));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    /// A reload that finishes only when `release` is notified.
    fn held_load(loads: &Arc<AtomicUsize>, release: &Arc<tokio::sync::Notify>, value: Result<Option<u32>, ()>) -> impl Future<Output = Result<Option<u32>, ()>> + Send + 'static {
        let (loads, release) = (loads.clone(), release.clone());
        async move {
            loads.fetch_add(1, Ordering::SeqCst);
            release.notified().await;
            value
        }
    }

    /// Puts `value` under "token" and lets it grow past half the TTL.
    async fn old_entry(ttl_ms: u64, value: u32) -> TtlCache<&'static str, u32> {
        let cache = TtlCache::new(Duration::from_millis(ttl_ms));
        cache.put("token", value);
        tokio::time::sleep(Duration::from_millis(ttl_ms * 6 / 10)).await;
        cache
    }

    /// Waits (a second at most) for what a background reload does.
    async fn eventually(what: &str, done: impl Fn() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{what} never happened");
    }

    async fn until_loaded(cache: &TtlCache<&'static str, u32>, value: u32) {
        eventually("the reload landing", || cache.get(&"token") == Some(value)).await;
    }

    #[tokio::test]
    async fn an_old_entry_is_reloaded_once_in_the_background_while_every_caller_is_served() {
        let cache = old_entry(400, 1).await;
        let (loads, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
        let asks = (0..50).map(|_| cache.get_or_load(&"token", || held_load(&loads, &release, Ok(Some(2)))));
        // The reload is held until released: had any caller waited for it, this
        // would time out.
        let answers = tokio::time::timeout(Duration::from_secs(5), futures_util::future::join_all(asks)).await.expect("no caller waits for the reload");
        assert!(answers.iter().all(|a| *a == Ok(Some(1))), "every caller, the one that started the reload too, had the old value: {answers:?}");
        eventually("the reload starting", || loads.load(Ordering::SeqCst) == 1).await;
        release.notify_one();
        until_loaded(&cache, 2).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one reload");
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_old_value_for_the_next_caller_to_retry() {
        let cache = old_entry(400, 1).await;
        let (loads, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
        assert_eq!(cache.get_or_load(&"token", || held_load(&loads, &release, Err(()))).await, Ok(Some(1)));
        eventually("the reload starting", || loads.load(Ordering::SeqCst) == 1).await;
        release.notify_one();
        eventually("the failed reload settling", || !cache.state().entries[&"token"].refreshing).await;
        assert_eq!(cache.get(&"token"), Some(1), "still within its TTL");
        assert_eq!(cache.get_or_load(&"token", || held_load(&loads, &release, Ok(Some(3)))).await, Ok(Some(1)));
        eventually("the next caller starting another reload", || loads.load(Ordering::SeqCst) == 2).await;
        release.notify_one();
        until_loaded(&cache, 3).await;
    }

    #[tokio::test]
    async fn a_reload_that_raced_a_removal_is_not_kept() {
        let cache = old_entry(400, 1).await;
        let (loads, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
        assert_eq!(cache.get_or_load(&"token", || held_load(&loads, &release, Ok(Some(2)))).await, Ok(Some(1)));
        eventually("the reload starting", || loads.load(Ordering::SeqCst) == 1).await;
        cache.remove(&"token");
        release.notify_one();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(cache.get(&"token"), None, "what the reload read may be what the removal removed");
    }

    #[tokio::test]
    async fn a_load_that_raced_a_removal_is_not_kept() {
        let cache = Arc::new(TtlCache::new(Duration::from_secs(60)));
        let racing = cache.clone();
        let answer = cache
            .get_or_load(&"token", move || async move {
                racing.remove(&"token");
                Ok::<_, ()>(Some(1))
            })
            .await;
        assert_eq!(answer, Ok(Some(1)));
        assert_eq!(cache.get(&"token"), None, "what was loaded before the removal may be what it removed");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for n in 0..(PRUNE_AT + 10) {
            cache.put(n, n);
        }
        assert!(cache.state().entries.len() <= PRUNE_AT);
    }
}
