//! A value kept for a few seconds, for lookups that every page repeats and
//! that change rarely (the labels and staff a filter offers). Writes in this
//! instance clear it at once; other instances catch up within the lifetime.

use std::{
    sync::{Arc, Mutex},
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
        if let Some((at, value)) = self.slot.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < self.lifetime
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

/// Several [`Cached`] values by key, for a handful of keys.
pub struct CachedByKey<K, T> {
    lifetime: Duration,
    slots: Mutex<Vec<(K, Instant, Arc<T>)>>,
}

impl<K: PartialEq + Clone, T> CachedByKey<K, T> {
    pub fn new(lifetime: Duration) -> CachedByKey<K, T> {
        CachedByKey {
            lifetime,
            slots: Mutex::new(Vec::new()),
        }
    }

    pub fn get_or_load<E>(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, at, value)) = slots.iter().find(|(k, _, _)| k == key)
                && at.elapsed() < self.lifetime
            {
                return Ok(value.clone());
            }
        }
        let value = Arc::new(load()?);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|(k, at, _)| k != key && at.elapsed() < self.lifetime);
        slots.push((key.clone(), Instant::now(), value.clone()));
        Ok(value)
    }

    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
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
    }
}
