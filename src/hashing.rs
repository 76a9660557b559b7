//! Password hashing off the request threads, bounded. Each argon2 hash takes
//! 19 MiB: run on any of the blocking pool's hundreds of threads, a burst of
//! sign-ins kept that much per thread (2.2 GB for 100 at once, measured).
//! Here hashes run on two threads of their own, at most two at a time; a
//! request that cannot get a turn within a few seconds is told the server is
//! busy.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

use crate::error::AppError;

/// Hashes in flight: one per core on the machines we run on.
const WORKERS: usize = 2;
/// How long a request waits for a turn before it is told to try again.
const WAIT: Duration = Duration::from_secs(3);
/// How long a hashing thread keeps its memory after its last hash.
const KEEP_MEMORY: Duration = Duration::from_secs(30);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    turns: Semaphore,
    jobs: SyncSender<Job>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The semaphore admits WORKERS jobs at a time, so the queue never
        // holds more than that.
        let (jobs, rx) = sync_channel::<Job>(WORKERS);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..WORKERS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || work(&rx, KEEP_MEMORY, give_back_memory));
            if let Err(e) = spawned {
                log::error!("cannot start a password hashing thread: {e}");
            }
        }
        Pool {
            turns: Semaphore::new(WORKERS),
            jobs,
        }
    })
}

fn work(rx: &Mutex<Receiver<Job>>, idle: Duration, on_idle: fn()) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv_timeout(idle),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            // Sign-ins come in bursts (a shift starting); between them the
            // memory goes back to the system rather than sitting in this
            // thread's arena for as long as the app runs.
            Err(RecvTimeoutError::Timeout) => on_idle(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn give_back_memory() {
    if crate::domain::password::release_memory() {
        crate::trim_heap();
    }
}

/// Runs `hash` (a password hash or verification) on the hashing threads.
/// `AppError::Unavailable` when no turn came within `WAIT`.
pub async fn run<T: Send + 'static>(
    hash: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let pool = pool();
    let busy = || AppError::Unavailable("password hashing is saturated".into());
    let _turn = tokio::time::timeout(WAIT, pool.turns.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(hash());
    });
    pool.jobs
        .send(job)
        .map_err(|_| AppError::internal("the password hashing threads are gone"))?;
    rx.await
        .map_err(|_| AppError::internal("a password hash was dropped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn at_most_two_hashes_run_at_once_and_the_rest_wait_their_turn() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let jobs = (0..6).map(|i| {
            run(move || {
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                PEAK.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
                i * 2
            })
        });
        let results = futures_util::future::join_all(jobs).await;
        let values: Vec<usize> = results.into_iter().map(|r| r.expect("ran")).collect();
        assert_eq!(values, vec![0, 2, 4, 6, 8, 10]);
        assert_eq!(PEAK.load(Ordering::SeqCst), WORKERS);
    }

    #[test]
    fn a_hashing_thread_gives_memory_back_once_nobody_signs_in() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static IDLE: AtomicUsize = AtomicUsize::new(0);
        fn on_idle() {
            IDLE.fetch_add(1, Ordering::SeqCst);
        }
        let (jobs, rx) = sync_channel::<Job>(1);
        let rx = Arc::new(Mutex::new(rx));
        let worker = std::thread::spawn(move || work(&rx, Duration::from_millis(300), on_idle));
        for _ in 0..5 {
            jobs.send(Box::new(|| std::thread::sleep(Duration::from_millis(100))))
                .expect("sent");
        }
        assert_eq!(IDLE.load(Ordering::SeqCst), 0, "kept while hashes come");
        std::thread::sleep(Duration::from_millis(1000));
        assert!(IDLE.load(Ordering::SeqCst) >= 1, "given back when idle");
        drop(jobs);
        worker.join().expect("worker ended");
    }
}
