//! A small map whose entries expire after a fixed time: the token, PSID, Page and
//! subscription caches in front of the store. The TTL bounds how long a change made
//! elsewhere (another node, the CLI) can go unseen.
//!
//! Read through [`TtlCache::get_or_load`], a busy key never expires for everyone at
//! once. Measured on PostgreSQL, every cached token and PSID expiring in the same
//! instant sent every request in flight to the database together, once a second:
//! the Send API's slowest answers were those herds. So a key is loaded by one
//! caller at a time while the others wait for its answer, and an entry past half
//! its TTL is reloaded by the one caller that notices while the others keep being
//! served the entry (still within its TTL, so the bound holds).

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
    state: Mutex<State<K, V>>,
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
    /// A caller is reloading it ahead of its expiry.
    refreshing: bool,
}

/// What a lookup found for the caller.
enum Found<V> {
    Fresh(V),
    /// Valid, but old: this caller (alone) reloads it.
    Refresh(V),
    Missing,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, state: Mutex::new(State { entries: HashMap::new(), loading: HashMap::new(), generation: 0 }) }
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
    /// caller at a time loads a key; see the module's comment.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        let (found, generation) = self.find(key);
        match found {
            Found::Fresh(value) => Ok(Some(value)),
            Found::Refresh(old) => match load().await {
                Ok(Some(value)) => {
                    self.put_since(key.clone(), value.clone(), generation);
                    Ok(Some(value))
                }
                Ok(None) => {
                    self.remove(key);
                    Ok(None)
                }
                // The old value is still within its TTL: a failed reload can wait
                // for the next caller.
                Err(_) => {
                    if let Some(entry) = self.state().entries.get_mut(key) {
                        entry.refreshing = false;
                    }
                    Ok(Some(old))
                }
            },
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
                    self.put_since(key.clone(), value.clone(), generation);
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
        let generation = self.state().generation;
        self.put_since(key, value, generation);
    }

    /// Keeps a value loaded when the cache was at `generation`, unless something
    /// was removed since (the value may be what was removed).
    fn put_since(&self, key: K, value: V, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= PRUNE_AT {
            let ttl = self.ttl;
            state.entries.retain(|_, entry| entry.stored.elapsed() < ttl);
            if state.entries.len() >= PRUNE_AT {
                state.entries.clear();
            }
        }
        state.entries.insert(key, Entry { stored: Instant::now(), value, refreshing: false });
    }

    pub fn remove(&self, key: &K) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.remove(key);
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

    async fn slow_load(loads: &AtomicUsize, value: u32) -> Result<Option<u32>, ()> {
        loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Some(value))
    }

    #[tokio::test]
    async fn a_missing_key_is_loaded_once_however_many_ask_at_once() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let asks = (0..50).map(|_| cache.get_or_load(&"token", || slow_load(&loads, 7)));
        let answers = futures_util::future::join_all(asks).await;
        assert!(answers.into_iter().all(|a| a == Ok(Some(7))));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_old_entry_is_reloaded_by_one_caller_while_the_others_are_served() {
        let cache = TtlCache::new(Duration::from_millis(200));
        cache.put("token", 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        let loads = AtomicUsize::new(0);
        let asks = (0..50).map(|_| cache.get_or_load(&"token", || slow_load(&loads, 2)));
        let answers = futures_util::future::join_all(asks).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one reload");
        assert_eq!(answers.iter().filter(|a| **a == Ok(Some(1))).count(), 49, "the others had the old value at once");
        assert_eq!(cache.get(&"token"), Some(2));
    }

    #[tokio::test]
    async fn a_load_that_raced_a_removal_is_not_kept() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let answer = cache
            .get_or_load(&"token", || async {
                cache.remove(&"token");
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
