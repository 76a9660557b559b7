//! The connection pool, the blocking helper, migrations and the embedded server.

pub mod embedded;
pub mod session_store;

use std::time::Duration;

use diesel::{
    PgConnection,
    r2d2::{ConnectionManager, Pool},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub fn build_pool(url: &str, size: u32, timeout: Duration) -> Result<DbPool, String> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1.min(size)))
        .connection_timeout(timeout)
        .build(ConnectionManager::<PgConnection>::new(url))
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

pub fn run_migrations(pool: &DbPool) -> Result<(), String> {
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    conn.run_pending_migrations(MIGRATIONS)
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
