//! Server-side session storage for actix-session: PostgreSQL by default, Redis
//! when `REDIS_URL` is set. Either way, deleting a row/key ends that session on
//! every app instance at once.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::Utc;
use diesel::prelude::*;
use rand::distr::{Alphanumeric, SampleString};

use crate::{db::DbPool, redis::RedisClient, schema::sessions};

type State = HashMap<String, String>;

/// The session key under which the signed-in staff id is kept.
pub const STAFF_ID_KEY: &str = "staff_id";

/// The signed-in member's row, read with the session and kept in memory for
/// this request only.
pub const LOADED_STAFF_KEY: &str = "__staff";

/// Present in a session whose state could not be loaded because no database
/// connection was free: the request is answered 503 (see
/// `security::session_guard`) and the placeholder is never written back.
pub const UNAVAILABLE_KEY: &str = "__store_unavailable";

fn is_pool_busy(e: &anyhow::Error) -> bool {
    e.to_string().contains(crate::error::POOL_BUSY)
}

fn is_placeholder(state: &State) -> bool {
    state.contains_key(UNAVAILABLE_KEY)
}

#[derive(Clone)]
pub enum SessionBackend {
    /// `idle` is how long a session lives without requests; loading a session
    /// extends it in the same statement, so a page costs one round trip here.
    Postgres {
        pool: DbPool,
        idle: std::time::Duration,
    },
    Redis(RedisClient),
}

fn new_key() -> SessionKey {
    // 64 alphanumerics: ~380 bits, what OWASP asks for and more.
    let key = Alphanumeric.sample_string(&mut rand::rng(), 64);
    SessionKey::try_from(key).unwrap_or_else(|_| unreachable!("64 characters fit a cookie"))
}

fn staff_id_of(state: &State) -> Option<i64> {
    state
        .get(STAFF_ID_KEY)
        .and_then(|v| v.trim_matches('"').parse().ok())
}

fn expiry(ttl: &Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

fn redis_session_key(key: &str) -> String {
    format!("contactbook:session:{key}")
}

fn redis_staff_key(staff_id: i64) -> String {
    format!("contactbook:staff-sessions:{staff_id}")
}

impl SessionBackend {
    async fn pg<F, T>(pool: &DbPool, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = pool.clone();
        actix_web::web::block(move || -> anyhow::Result<T> {
            let mut conn = pool
                .get()
                .map_err(|e| anyhow::anyhow!("{}: {e}", crate::error::POOL_BUSY))?;
            Ok(f(&mut conn)?)
        })
        .await?
    }

    /// The stored state, and (PostgreSQL only) the signed-in member's row as JSON.
    async fn load_state(&self, key: &str) -> anyhow::Result<Option<(String, Option<String>)>> {
        match self {
            SessionBackend::Postgres { pool, idle } => {
                #[derive(QueryableByName)]
                struct Row {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    state: String,
                    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                    staff: Option<String>,
                }
                let key = key.to_string();
                let expires = Utc::now() + chrono::Duration::seconds(idle.as_secs() as i64);
                // Skip the write when it was extended moments ago: most requests
                // then cost a read only. "Moments" is a tenth of the idle
                // timeout (30 s at most), so that even a short timeout slides.
                let slack = (*idle / 10).min(std::time::Duration::from_secs(30));
                let fresh_enough =
                    expires - chrono::Duration::milliseconds(slack.as_millis() as i64);
                Self::pg(pool, move |conn| {
                    // The member's row comes along so that the page needs no second
                    // round trip to learn who is signed in (see `auth::CurrentStaff`).
                    use crate::db::prepared::{Prepared, Value};
                    Prepared::new(
                        "WITH touched AS (UPDATE sessions SET expires_at = $2 \
                           WHERE id = $1 AND expires_at > now() AND expires_at < $3 RETURNING state, staff_id), \
                         found AS (SELECT state, staff_id FROM touched \
                           UNION ALL SELECT state, staff_id FROM sessions WHERE id = $1 AND expires_at > now() \
                           LIMIT 1) \
                         SELECT found.state, (SELECT json_build_object('id', st.id, 'email', st.email, \
                             'display_name', st.display_name, \
                             'role', st.role, 'department', st.department, 'job_title', st.job_title, \
                             'time_zone', st.time_zone, 'extension', st.extension, 'phone', st.phone, \
                             'availability', st.availability, 'active', st.active, \
                             'avatar_version', st.avatar_version, 'created_at', st.created_at, \
                             'updated_at', st.updated_at)::text \
                           FROM staff st WHERE st.id = found.staff_id AND st.active) AS staff \
                         FROM found",
                        vec![
                            Value::Text(key),
                            Value::Time(expires),
                            Value::Time(fresh_enough),
                        ],
                    )
                    .get_result::<Row>(conn)
                    .optional()
                    .map(|row| row.map(|r| (r.state, r.staff)))
                })
                .await
            }
            SessionBackend::Redis(r) => {
                Ok(r.get(&redis_session_key(key)).await?.map(|s| (s, None)))
            }
        }
    }

    /// Writes `state` under `key`; with `only_existing`, does nothing and returns
    /// false when the session is gone (signed out elsewhere, expired).
    async fn store(
        &self,
        key: &str,
        state: &State,
        ttl: &Duration,
        only_existing: bool,
    ) -> anyhow::Result<bool> {
        // What load() added for this request only is never written back.
        let mut state = state.clone();
        state.remove(LOADED_STAFF_KEY);
        let json = serde_json::to_string(&state)?;
        let staff_id = staff_id_of(&state);
        match self {
            SessionBackend::Postgres { pool, .. } => {
                let key = key.to_string();
                let expires = expiry(ttl);
                Self::pg(pool, move |conn| {
                    if only_existing {
                        let n = diesel::update(
                            sessions::table
                                .filter(sessions::id.eq(&key))
                                .filter(sessions::expires_at.gt(Utc::now())),
                        )
                        .set((
                            sessions::state.eq(&json),
                            sessions::staff_id.eq(staff_id),
                            sessions::expires_at.eq(expires),
                        ))
                        .execute(conn)?;
                        Ok(n == 1)
                    } else {
                        diesel::insert_into(sessions::table)
                            .values((
                                sessions::id.eq(&key),
                                sessions::state.eq(&json),
                                sessions::staff_id.eq(staff_id),
                                sessions::expires_at.eq(expires),
                            ))
                            .execute(conn)?;
                        Ok(true)
                    }
                })
                .await
            }
            SessionBackend::Redis(r) => {
                let rkey = redis_session_key(key);
                if only_existing && r.get(&rkey).await?.is_none() {
                    return Ok(false);
                }
                r.set_ex(&rkey, &json, ttl.whole_seconds().max(1)).await?;
                if let Some(id) = staff_id {
                    r.sadd(&redis_staff_key(id), key).await?;
                }
                Ok(true)
            }
        }
    }

    /// Ends every session of one staff member (sign-out everywhere, deactivation).
    pub async fn delete_for_staff(&self, staff_id: i64) -> anyhow::Result<()> {
        match self {
            SessionBackend::Postgres { pool, .. } => {
                Self::pg(pool, move |conn| {
                    diesel::delete(sessions::table.filter(sessions::staff_id.eq(staff_id)))
                        .execute(conn)
                })
                .await?;
            }
            SessionBackend::Redis(r) => {
                let set = redis_staff_key(staff_id);
                for key in r.smembers(&set).await? {
                    r.del(&redis_session_key(&key)).await?;
                }
                r.del(&set).await?;
            }
        }
        Ok(())
    }

    /// Removes expired sessions (Redis expires keys by itself).
    pub async fn purge_expired(&self) -> anyhow::Result<usize> {
        match self {
            SessionBackend::Postgres { pool, .. } => {
                Self::pg(pool, |conn| {
                    diesel::delete(sessions::table.filter(sessions::expires_at.le(Utc::now())))
                        .execute(conn)
                })
                .await
            }
            SessionBackend::Redis(_) => Ok(0),
        }
    }
}

impl SessionStore for SessionBackend {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let (json, staff) = match self.load_state(session_key.as_ref()).await {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(None),
            Err(e) if is_pool_busy(&e) => {
                return Ok(Some(State::from([(
                    UNAVAILABLE_KEY.to_string(),
                    "true".to_string(),
                )])));
            }
            Err(e) => return Err(LoadError::Other(e)),
        };
        let mut state: State =
            serde_json::from_str(&json).map_err(|e| LoadError::Deserialization(e.into()))?;
        // A stored state can never carry this key (store() strips it), so
        // a value here is always the one just read from the database.
        state.remove(LOADED_STAFF_KEY);
        if let Some(staff) = staff {
            state.insert(LOADED_STAFF_KEY.to_string(), staff);
        }
        Ok(Some(state))
    }

    async fn save(&self, session_state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = new_key();
        if is_placeholder(&session_state) {
            return Ok(key);
        }
        self.store(key.as_ref(), &session_state, ttl, false)
            .await
            .map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        if is_placeholder(&session_state) {
            return Ok(session_key);
        }
        let updated = self
            .store(session_key.as_ref(), &session_state, ttl, true)
            .await
            .map_err(UpdateError::Other)?;
        if updated {
            return Ok(session_key);
        }
        // The old session is gone: never resurrect it under the same key.
        let key = new_key();
        self.store(key.as_ref(), &session_state, ttl, false)
            .await
            .map_err(UpdateError::Other)?;
        Ok(key)
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        match self {
            // Already extended when the session was loaded.
            SessionBackend::Postgres { .. } => Ok(()),
            SessionBackend::Redis(r) => {
                r.expire(
                    &redis_session_key(session_key.as_ref()),
                    ttl.whole_seconds().max(1),
                )
                .await
            }
        }
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        match self {
            SessionBackend::Postgres { pool, .. } => {
                let key = session_key.as_ref().to_string();
                Self::pg(pool, move |conn| {
                    diesel::delete(sessions::table.filter(sessions::id.eq(key))).execute(conn)
                })
                .await?;
                Ok(())
            }
            SessionBackend::Redis(r) => r.del(&redis_session_key(session_key.as_ref())).await,
        }
    }
}
