//! The connection pool, the blocking helper, migrations and the embedded server.

pub mod embedded;
pub mod prepared;
pub mod session_store;

use std::time::Duration;

use diesel::{
    PgConnection,
    r2d2::{ConnectionManager, Pool},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConn = diesel::r2d2::PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Set on every new connection.
#[derive(Debug)]
struct SessionSettings;

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::SimpleConnection;
        // Statements diesel caches, and those of `prepared::Prepared`, are
        // planned with their values for five runs, then once for all when
        // PostgreSQL finds the generic plan no costlier (its default): that
        // saves the planning of every page. A search's `LIKE` must never be
        // planned generically (the plan hangs on whether the word is rare):
        // searches go as unnamed statements, which are always planned with
        // their values.
        // Parallel workers cost more to start than a page of rows costs to read.
        // JIT compiling pays off for long analytical scans; ours are short
        // statements along indexes, where compiling costs more than it saves
        // (half of an update import batch's 5,000-row UPDATE, 0.8 s → 0.4 s).
        // A statement stuck on a lock or a runaway plan must not hold a
        // request (and its connection) for ever: the page answers "busy"
        // within seconds instead. Imports, exports and migrations lift these
        // for their own long statements (`without_timeouts`).
        conn.batch_execute(&format!(
            "SET max_parallel_workers_per_gather = 0; SET jit = off; \
             SET statement_timeout = '{STATEMENT_TIMEOUT_MS}ms'; SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The longest a pooled connection's statement may run.
pub const STATEMENT_TIMEOUT_MS: u64 = 5_000;
/// The longest a pooled connection's statement may wait for a lock.
pub const LOCK_TIMEOUT_MS: u64 = 2_000;

/// Runs `f` with no statement or lock timeout on this connection (a long
/// export, the migrations), then puts the pool's limits back.
pub fn without_timeouts<T, E: From<diesel::result::Error>>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")?;
    let result = f(conn);
    conn.batch_execute(&format!(
        "SET statement_timeout = '{STATEMENT_TIMEOUT_MS}ms'; SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'"
    ))?;
    result
}

/// A job that rewrote at least this share of the contacts (and
/// `TIDY_AT_LEAST` of them) has them vacuumed and analysed at once.
pub const TIDY_SHARE: f64 = 0.1;
pub const TIDY_AT_LEAST: i64 = 10_000;

/// The planner's idea of how many rows `contacts` holds (0 before the
/// first analysis).
pub fn contacts_estimate(conn: &mut PgConnection) -> f64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::Double)]
        rows: f64,
    }
    diesel::sql_query(
        "SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE oid = 'contacts'::regclass",
    )
    .get_result::<Size>(conn)
    .map(|s| s.rows)
    .unwrap_or(0.0)
}

/// Refreshes the statistics of `contacts` in the middle of a job that is
/// rewriting many of them. Statistics taken while (say) everything was in
/// the trash told the planner the list was empty while a restore brought a
/// million back, and it sorted every restored contact for each page instead
/// of reading the first ones off the name index (p95 2.0 s, the bench's
/// restore in session 17); autovacuum analyses only when it comes round.
pub fn analyze_contacts(conn: &mut PgConnection) {
    use diesel::connection::SimpleConnection;
    if let Err(e) = without_timeouts(conn, |c| c.batch_execute("ANALYZE contacts")) {
        log::warn!("could not analyse contacts during a large job: {e}");
    }
}

/// Vacuums and analyses `contacts`, on a thread of its own, after a job
/// that rewrote a large share of them (a bulk change, an update import).
/// Every rewritten contact leaves a dead entry in each list index until
/// vacuum: after a million went to the trash, an empty list walked them all
/// (1.6 s a page on the bench machine, the 5 s statement limit on a slower
/// one), and autovacuum, throttled, takes its time to come. Unthrottled,
/// the million's table and indexes take about 4 s (session 17), and the
/// fresh statistics keep the list's plans right for what the job left.
/// The runner does not wait: the next job may start meanwhile.
pub fn tidy_contacts_after(pool: &DbPool, changed: i64) {
    use diesel::connection::SimpleConnection;
    static RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // With two connections the runner holds one and the pages need the
    // other: autovacuum will do.
    if changed < TIDY_AT_LEAST || pool.max_size() < 3 {
        return;
    }
    let pool = pool.clone();
    let tidy = move || {
        let Ok(mut conn) = pool.get() else { return };
        if (changed as f64) < contacts_estimate(&mut conn) * TIDY_SHARE {
            return;
        }
        // One at a time: a second would wait for the first's lock; what
        // the first does not reach is left to autovacuum.
        if RUNNING.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let started = std::time::Instant::now();
        match without_timeouts(&mut conn, |c| c.batch_execute("VACUUM (ANALYZE) contacts")) {
            Ok(()) => log::info!(
                "vacuumed contacts after {changed} were rewritten, in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            Err(e) => log::warn!("could not vacuum contacts after a large job: {e}"),
        }
        RUNNING.store(false, std::sync::atomic::Ordering::SeqCst);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("tidy-contacts".into())
        .spawn(tidy)
    {
        log::warn!("cannot start vacuuming contacts: {e}");
    }
}

pub fn build_pool(url: &str, size: u32, timeout: Duration) -> Result<DbPool, String> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1.min(size)))
        .connection_timeout(timeout)
        // A `SELECT 1` before every checkout would double the round trips of a
        // page; a connection found broken is discarded when it fails instead.
        .test_on_check_out(false)
        .connection_customizer(Box::new(SessionSettings))
        .build(ConnectionManager::<PgConnection>::new(url))
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

pub fn run_migrations(pool: &DbPool) -> Result<(), String> {
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let applied = without_timeouts(&mut conn, |conn| {
        Ok::<_, diesel::result::Error>(
            conn.run_pending_migrations(MIGRATIONS)
                .map(|applied| applied.iter().map(ToString::to_string).collect::<Vec<_>>()),
        )
    })
    .map_err(|e| format!("migrations failed: {e}"))?;
    applied
        .map(|applied| {
            for m in applied {
                log::info!("applied migration {m}");
            }
        })
        .map_err(|e| format!("migrations failed: {e}"))
}

/// Runs `f` on a pooled connection on the blocking thread pool.
pub async fn run<F, T>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// Like [`run`], inside one transaction: every query commits together or not at all.
pub async fn transaction<F, T>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    use diesel::Connection;
    run(pool, move |conn| conn.transaction(f)).await
}
