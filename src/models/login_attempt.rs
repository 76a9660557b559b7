//! The `login_attempts` table: the memory behind sign-in throttling.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::schema::login_attempts;

/// Failures that lock an account for sign-in.
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures from one client address, whatever the emails, that lock that
/// address out of signing in.
pub const MAX_CLIENT_FAILURES: i64 = 20;

pub struct LoginAttempt;

impl LoginAttempt {
    pub fn record(
        conn: &mut PgConnection,
        email_key: &str,
        client: &str,
        succeeded: bool,
    ) -> QueryResult<()> {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::email_key.eq(email_key),
                login_attempts::client.eq(client),
                login_attempts::succeeded.eq(succeeded),
            ))
            .execute(conn)
            .map(drop)
    }

    /// When `email_key` may try again, if it is locked now: failures since the
    /// last success within the window are counted, and the lock lifts when the
    /// oldest of the last five leaves the window.
    pub fn locked_until(
        conn: &mut PgConnection,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        let window_start = now - Duration::minutes(WINDOW_MINUTES);
        let recent: Vec<(bool, DateTime<Utc>)> = login_attempts::table
            .filter(login_attempts::email_key.eq(email_key))
            .filter(login_attempts::attempted_at.gt(window_start))
            .order(login_attempts::attempted_at.desc())
            .select((login_attempts::succeeded, login_attempts::attempted_at))
            .limit(50)
            .load(conn)?;
        let failures: Vec<DateTime<Utc>> = recent
            .iter()
            .take_while(|(ok, _)| !ok)
            .map(|(_, at)| *at)
            .collect();
        if failures.len() < MAX_FAILURES {
            return Ok(None);
        }
        let fifth_latest = failures[MAX_FAILURES - 1];
        Ok(Some(fifth_latest + Duration::minutes(WINDOW_MINUTES)))
    }

    /// When `client` may try again, if it failed `MAX_CLIENT_FAILURES` times
    /// within the window: the lock lifts as the oldest of them leaves it.
    pub fn client_locked_until(
        conn: &mut PgConnection,
        client: &str,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        let window_start = now - Duration::minutes(WINDOW_MINUTES);
        let failures: Vec<DateTime<Utc>> = login_attempts::table
            .filter(login_attempts::client.eq(client))
            .filter(login_attempts::succeeded.eq(false))
            .filter(login_attempts::attempted_at.gt(window_start))
            .order(login_attempts::attempted_at.desc())
            .select(login_attempts::attempted_at)
            .limit(MAX_CLIENT_FAILURES)
            .load(conn)?;
        if (failures.len() as i64) < MAX_CLIENT_FAILURES {
            return Ok(None);
        }
        Ok(failures
            .last()
            .map(|oldest| *oldest + Duration::minutes(WINDOW_MINUTES)))
    }

    /// Forgets attempts older than a day; run from the housekeeping task.
    pub fn purge_old(conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::delete(
            login_attempts::table
                .filter(login_attempts::attempted_at.lt(Utc::now() - Duration::days(1))),
        )
        .execute(conn)
    }
}
