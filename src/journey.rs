//! Page views in flight: the endpoint hands accepted views to a queue, and
//! one writer thread per instance stores them in batches (one INSERT of up to
//! `BATCH` rows, at least every `FLUSH_EVERY`), so that a busy website costs
//! a statement per batch rather than a transaction per view. A view still in
//! the queue when the process dies is lost: these are analytics, and the
//! window is a fraction of a second. Also the per-visitor and per-address
//! rate limits of the endpoint.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
    },
    time::{Duration, Instant},
};

use crate::{db::DbPool, models::journey::PageView};

const BATCH: usize = 500;
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Views waiting beyond this are refused (503) rather than held in memory.
const QUEUE: usize = 20_000;

/// Events a visitor id may send per minute, and an address.
pub const PER_VISITOR_PER_MINUTE: u32 = 60;
pub const PER_ADDRESS_PER_MINUTE: u32 = 600;

pub struct Writer {
    queue: SyncSender<PageView>,
}

pub enum Queued {
    Yes,
    /// The writer is behind: the view is refused, not kept.
    Full,
}

impl Writer {
    pub fn start(pool: DbPool) -> Writer {
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("journey-writer".into())
            .spawn(move || write_loop(&pool, &rx));
        if let Err(e) = spawned {
            log::error!("cannot start the journey writer: {e}");
        }
        Writer { queue }
    }

    pub fn push(&self, view: PageView) -> Queued {
        match self.queue.try_send(view) {
            Ok(()) => Queued::Yes,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Queued::Full,
        }
    }
}

fn write_loop(pool: &DbPool, rx: &Receiver<PageView>) {
    let mut batch: Vec<PageView> = Vec::with_capacity(BATCH);
    loop {
        let deadline = Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) => batch.push(v),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    flush(pool, &mut batch);
                    return;
                }
            }
        }
        flush(pool, &mut batch);
    }
}

fn flush(pool: &DbPool, batch: &mut Vec<PageView>) {
    if batch.is_empty() {
        return;
    }
    // A database that is away for a moment: try twice, then let these go
    // (they are logged) rather than grow without bound.
    for attempt in 0..2 {
        let written = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
            crate::models::journey::insert_batch(&mut c, batch).map_err(|e| e.to_string())
        });
        match written {
            Ok(_) => {
                batch.clear();
                return;
            }
            Err(e) if attempt == 0 => {
                log::warn!("journey writer: {e}; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => log::error!("journey writer: {} page views dropped: {e}", batch.len()),
        }
    }
    batch.clear();
}

/// Fixed one-minute windows of counts by key; old windows are dropped as
/// new ones start.
pub struct RateLimits {
    window: Mutex<(Instant, HashMap<String, u32>)>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            window: Mutex::new((Instant::now(), HashMap::new())),
        }
    }
}

impl RateLimits {
    /// Counts one event for each key; false (nothing counted) when any key
    /// has reached its limit this minute.
    pub fn allow(&self, keys: &[(&str, u32)]) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.0.elapsed() >= Duration::from_secs(60) {
            *w = (Instant::now(), HashMap::new());
        }
        if keys
            .iter()
            .any(|(k, limit)| w.1.get(*k).copied().unwrap_or(0) >= *limit)
        {
            return false;
        }
        for (k, _) in keys {
            *w.1.entry((*k).to_string()).or_insert(0) += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_at_its_limit_and_others_are_not() {
        let r = RateLimits::default();
        for _ in 0..3 {
            assert!(r.allow(&[("v:a", 3), ("ip:1", 10)]));
        }
        assert!(!r.allow(&[("v:a", 3), ("ip:1", 10)]));
        assert!(r.allow(&[("v:b", 3), ("ip:1", 10)]));
    }
}
