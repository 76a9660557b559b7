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
