//! The Redis session store's client: the `redis` crate's connection manager
//! (one multiplexed connection per app, re-established by the crate when it
//! drops), behind the handful of commands the store uses.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, anyhow};
use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::sync::OnceCell;

/// How long a command may take before the request that needs it fails:
/// a session lookup must not hang a page on a stuck Redis.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct RedisClient {
    client: redis::Client,
    /// Opened by the first command, not at start: the app starts (and
    /// answers its health check) while Redis is still coming up.
    conn: Arc<OnceCell<ConnectionManager>>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("server", &self.client.get_connection_info().addr())
            .finish()
    }
}

impl RedisClient {
    /// Accepts `redis://[[user]:password@]host[:port][/db]`.
    pub fn from_url(url: &str) -> anyhow::Result<RedisClient> {
        if !url.starts_with("redis://") {
            return Err(anyhow!("REDIS_URL must start with redis://"));
        }
        Ok(RedisClient {
            client: redis::Client::open(url).context("REDIS_URL is not a Redis address")?,
            conn: Arc::new(OnceCell::new()),
        })
    }

    async fn conn(&self) -> anyhow::Result<ConnectionManager> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(IO_TIMEOUT, ConnectionManager::new(self.client.clone()))
                    .await
                    .map_err(|_| anyhow!("Redis did not answer within 5 s"))?
                    .context("cannot connect to Redis")
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs one command with the timeout.
    async fn run<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> anyhow::Result<T> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(IO_TIMEOUT, f(&mut conn))
            .await
            .map_err(|_| anyhow!("Redis did not answer {what} within 5 s"))?
            .with_context(|| format!("Redis {what}"))
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let pong: String = self
            .run("PING", async |c| redis::cmd("PING").query_async(c).await)
            .await?;
        match pong.as_str() {
            "PONG" => Ok(()),
            other => Err(anyhow!("unexpected PING reply {other:?}")),
        }
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        self.run("GET", async |c| c.get(key).await).await
    }

    pub async fn set_ex(&self, key: &str, value: &str, secs: i64) -> anyhow::Result<()> {
        // Redis refuses a lifetime under a second; a session that has
        // (almost) run out is kept for one rather than failing the request.
        let secs = u64::try_from(secs.max(1)).unwrap_or(1);
        self.run("SET", async |c| c.set_ex(key, value, secs).await)
            .await
    }

    pub async fn expire(&self, key: &str, secs: i64) -> anyhow::Result<()> {
        self.run("EXPIRE", async |c| c.expire::<_, ()>(key, secs).await)
            .await
    }

    pub async fn del(&self, key: &str) -> anyhow::Result<()> {
        self.run("DEL", async |c| c.del::<_, ()>(key).await).await
    }

    pub async fn sadd(&self, set: &str, member: &str) -> anyhow::Result<()> {
        self.run("SADD", async |c| c.sadd::<_, _, ()>(set, member).await)
            .await
    }

    pub async fn smembers(&self, set: &str) -> anyhow::Result<Vec<String>> {
        self.run("SMEMBERS", async |c| {
            c.smembers::<_, Vec<String>>(set).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_with_password_and_database() {
        let c = RedisClient::from_url("redis://:s3cret@cache.internal:6380/2").expect("url");
        let info = c.client.get_connection_info();
        assert_eq!(info.addr().to_string(), "cache.internal:6380");
        assert_eq!(info.redis_settings().db(), 2);
        assert_eq!(info.redis_settings().password(), Some("s3cret"));
        assert!(RedisClient::from_url("http://cache.internal").is_err());
        let c = RedisClient::from_url("redis://127.0.0.1").expect("url");
        assert_eq!(
            c.client.get_connection_info().addr().to_string(),
            "127.0.0.1:6379"
        );
    }
}
