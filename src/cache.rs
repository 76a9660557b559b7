//! A value kept for a few seconds, for lookups that every page repeats and
//! that change rarely (the labels and staff a filter offers). Writes in this
//! instance clear it at once; other instances catch up within the lifetime.

use std::{
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

pub struct Cached<T> {
    lifetime: Duration,
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    pub fn new(lifetime: Duration) -> Cached<T> {
        Cached {
            lifetime,
            slot: Mutex::new(None),
        }
    }

    /// The kept value while it is within its lifetime.
    pub fn fresh(&self) -> Option<Arc<T>> {
        self.slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.lifetime)
            .map(|(_, v)| v.clone())
    }

    /// The kept value, or a fresh one from `load` when it is older than its lifetime.
    pub fn get_or_load<E>(&self, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        self.get_or_load_for(|_| self.lifetime, load)
    }

    /// As `get_or_load`, for values that may ask for a shorter life than the
    /// cache's: the kept value serves while it is younger than both.
    pub fn get_or_load_for<E>(
        &self,
        lifetime_of: impl Fn(&T) -> Duration,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some((at, value)) = self.slot.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < self.lifetime.min(lifetime_of(value))
        {
            return Ok(value.clone());
        }
        let value = Arc::new(load()?);
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), value.clone()));
        Ok(value)
    }

    pub fn clear(&self) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Several [`Cached`] values by key, for a handful of keys. A value is
/// loaded by one request at a time: when it has expired, the others keep
/// getting the old copy meanwhile; when there is none (never loaded, or
/// cleared by a write), they wait for the one load instead of all asking
/// the database the same thing at once.
pub struct CachedByKey<K, T> {
    lifetime: Duration,
    slots: Mutex<Slots<K, T>>,
    loaded: Condvar,
}

struct Slots<K, T> {
    entries: Vec<Slot<K, T>>,
    /// Bumped by `clear`: a load that began before it is not kept.
    generation: u64,
}

struct Slot<K, T> {
    key: K,
    value: Option<(Instant, Arc<T>)>,
    loading: bool,
}

/// Marks the end of a load, however it ends (a panicking load included),
/// and wakes those waiting for it.
struct Loading<'a, K: PartialEq, T> {
    cache: &'a CachedByKey<K, T>,
    key: &'a K,
}

impl<K: PartialEq, T> Drop for Loading<'_, K, T> {
    fn drop(&mut self) {
        let mut slots = self.cache.lock();
        if let Some(s) = slots.entries.iter_mut().find(|s| s.key == *self.key) {
            s.loading = false;
        }
        drop(slots);
        self.cache.loaded.notify_all();
    }
}

impl<K, T> CachedByKey<K, T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slots<K, T>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long a request waits for another's load before loading itself.
const WAIT_FOR_LOAD: Duration = Duration::from_secs(5);

impl<K: PartialEq + Clone, T> CachedByKey<K, T> {
    pub fn new(lifetime: Duration) -> CachedByKey<K, T> {
        CachedByKey {
            lifetime,
            slots: Mutex::new(Slots {
                entries: Vec::new(),
                generation: 0,
            }),
            loaded: Condvar::new(),
        }
    }

    pub fn get_or_load<E>(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let waited_since = Instant::now();
        let mut slots = self.lock();
        let generation = loop {
            let lifetime = self.lifetime;
            match slots.entries.iter_mut().find(|s| s.key == *key) {
                Some(Slot {
                    value: Some((at, value)),
                    ..
                }) if at.elapsed() < lifetime => return Ok(value.clone()),
                // Someone is loading: the old copy meanwhile, or wait for
                // theirs (not for ever: a stuck load must not hold a page).
                Some(Slot {
                    loading: true,
                    value,
                    ..
                }) if waited_since.elapsed() < WAIT_FOR_LOAD => {
                    if let Some((_, old)) = value {
                        return Ok(old.clone());
                    }
                    slots = self
                        .loaded
                        .wait_timeout(slots, WAIT_FOR_LOAD)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                Some(slot) => {
                    slot.loading = true;
                    break slots.generation;
                }
                None => {
                    slots.entries.retain(|s| {
                        s.loading
                            || s.value
                                .as_ref()
                                .is_some_and(|(at, _)| at.elapsed() < lifetime)
                    });
                    slots.entries.push(Slot {
                        key: key.clone(),
                        value: None,
                        loading: true,
                    });
                    break slots.generation;
                }
            }
        };
        drop(slots);
        let guard = Loading { cache: self, key };
        let value = Arc::new(load()?);
        {
            let mut slots = self.lock();
            // Loaded from before a write that cleared the cache: answer
            // this request with it, but keep nothing stale.
            if slots.generation == generation
                && let Some(s) = slots.entries.iter_mut().find(|s| s.key == *key)
            {
                s.value = Some((Instant::now(), value.clone()));
            }
        }
        drop(guard);
        Ok(value)
    }

    pub fn clear(&self) {
        let mut slots = self.lock();
        slots.generation += 1;
        for s in &mut slots.entries {
            s.value = None;
        }
    }
}

/// 64-bit FNV-1a: a stable hash for names and cache validators (std's hasher
/// may change between Rust releases, and these values outlive a build).
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_stable() {
        assert_eq!(fnv1a(*b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(*b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(*b"/root/app/var"), fnv1a(*b"/root/app/var"));
        assert_ne!(fnv1a(*b"/root/app/var"), fnv1a(*b"/root/other/var"));
    }

    #[test]
    fn keeps_a_value_until_cleared_or_expired() {
        let cache = Cached::new(Duration::from_secs(60));
        let mut loads = 0;
        for _ in 0..3 {
            let v = cache.get_or_load(|| -> Result<i32, ()> {
                loads += 1;
                Ok(7)
            });
            assert_eq!(v.map(|v| *v), Ok(7));
        }
        assert_eq!(loads, 1);
        cache.clear();
        let _ = cache.get_or_load(|| -> Result<i32, ()> {
            loads += 1;
            Ok(8)
        });
        assert_eq!(loads, 2);
        let short = Cached::new(Duration::ZERO);
        let _ = short.get_or_load(|| -> Result<i32, ()> { Ok(1) });
        assert_eq!(
            short
                .get_or_load(|| -> Result<i32, ()> { Ok(2) })
                .map(|v| *v),
            Ok(2),
            "expired"
        );
    }

    #[test]
    fn a_value_may_ask_for_a_shorter_life_than_the_cache() {
        let cache = Cached::new(Duration::from_secs(60));
        // Odd values live no time at all, even ones the cache's minute.
        let life = |v: &i32| {
            if v % 2 == 1 {
                Duration::ZERO
            } else {
                Duration::from_secs(3600)
            }
        };
        let _ = cache.get_or_load_for(life, || -> Result<i32, ()> { Ok(1) });
        let v = cache.get_or_load_for(life, || -> Result<i32, ()> { Ok(2) });
        assert_eq!(v.map(|v| *v), Ok(2), "the short-lived one was loaded again");
        let v = cache.get_or_load_for(life, || -> Result<i32, ()> { Ok(4) });
        assert_eq!(v.map(|v| *v), Ok(2), "the other one is kept");
    }

    #[test]
    fn keyed_values_are_kept_apart_and_cleared_together() {
        let cache: CachedByKey<&str, i32> = CachedByKey::new(Duration::from_secs(60));
        let mut loads = 0;
        for key in ["a", "b", "a", "b"] {
            let v = cache.get_or_load(&key, || -> Result<i32, ()> {
                loads += 1;
                Ok(if key == "a" { 1 } else { 2 })
            });
            assert_eq!(v.map(|v| *v), Ok(if key == "a" { 1 } else { 2 }));
        }
        assert_eq!(loads, 2);
        cache.clear();
        let _ = cache.get_or_load(&"a", || -> Result<i32, ()> {
            loads += 1;
            Ok(3)
        });
        assert_eq!(loads, 3);
        let failed = cache.get_or_load(&"c", || Err("db down"));
        assert_eq!(failed, Err("db down"), "errors are not kept");
        assert_eq!(
            cache.get_or_load(&"c", || -> Result<i32, &str> { Ok(4) }),
            Ok(Arc::new(4)),
            "and the next request loads again"
        );
    }

    #[test]
    fn many_requests_at_once_load_a_value_once() {
        let cache: CachedByKey<u8, u32> = CachedByKey::new(Duration::from_secs(60));
        let loads = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let v = cache.get_or_load(&1, || -> Result<u32, ()> {
                        std::thread::sleep(Duration::from_millis(50));
                        Ok(loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1)
                    });
                    assert_eq!(v.map(|v| *v), Ok(1));
                });
            }
        });
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn an_expired_value_is_served_while_one_request_reloads_it() {
        let cache: CachedByKey<u8, u32> = CachedByKey::new(Duration::from_millis(20));
        let _ = cache.get_or_load(&1, || -> Result<u32, ()> { Ok(1) });
        std::thread::sleep(Duration::from_millis(30));
        let started = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let reload = s.spawn(|| {
                cache.get_or_load(&1, || -> Result<u32, ()> {
                    started.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    Ok(2)
                })
            });
            started.wait();
            // While the reload runs, the old copy, at once.
            let t = Instant::now();
            let old = cache.get_or_load(&1, || -> Result<u32, ()> { Ok(99) });
            assert_eq!(old.map(|v| *v), Ok(1));
            assert!(t.elapsed() < Duration::from_millis(50));
            assert_eq!(reload.join().map(|r| r.map(|v| *v)).ok(), Some(Ok(2)));
        });
    }

    #[test]
    fn a_load_begun_before_a_clear_is_not_kept() {
        let cache: CachedByKey<u8, u32> = CachedByKey::new(Duration::from_secs(60));
        let v = cache.get_or_load(&1, || -> Result<u32, ()> {
            cache_clear_during_load(&cache);
            Ok(1)
        });
        assert_eq!(v.map(|v| *v), Ok(1));
        let again = cache.get_or_load(&1, || -> Result<u32, ()> { Ok(2) });
        assert_eq!(again.map(|v| *v), Ok(2), "loaded afresh after the clear");
    }

    fn cache_clear_during_load(cache: &CachedByKey<u8, u32>) {
        cache.clear();
    }
}
