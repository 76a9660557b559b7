//! Settings, all read from environment variables; `.env.example` lists every one.

use std::{env, net::SocketAddr, path::PathBuf, time::Duration};

/// Everything the app can be told from outside. Every field has a default so that
/// `cargo run` works with no environment at all.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    /// `None` means: run the embedded PostgreSQL under `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// 64 bytes or more; signs the session cookie. Generated and kept in the data
    /// directory when not given, so sessions survive a restart.
    pub session_key: Option<String>,
    pub redis_url: Option<String>,
    /// Public origin, e.g. `https://contacts.example.com`; makes cookies `Secure`
    /// with the `__Host-` prefix when it is https, and is the origin forms must come from.
    pub public_url: Option<String>,
    /// A proxy in front sets `X-Forwarded-For`, `-Host` and `-Proto`: only
    /// then are they believed (client address, origin).
    pub trust_proxy: bool,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub db_pool_size: u32,
    pub db_timeout: Duration,
    pub upload_limit: usize,
    pub avatar_limit: usize,
    pub workers: usize,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub admin_name: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("var"),
            session_key: None,
            redis_url: None,
            public_url: None,
            trust_proxy: false,
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            db_pool_size: 10,
            db_timeout: Duration::from_secs(5),
            upload_limit: 512 * 1024 * 1024,
            avatar_limit: 2 * 1024 * 1024,
            workers: 0,
            admin_email: None,
            admin_password: None,
            admin_name: None,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `lookup`, so tests can feed values without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(v) = lookup("BIND") {
            c.bind = v
                .parse()
                .map_err(|_| format!("BIND={v} is not an address such as 127.0.0.1:8080"))?;
        }
        c.database_url = lookup("DATABASE_URL");
        if let Some(v) = lookup("CONTACTBOOK_DATA_DIR") {
            c.data_dir = PathBuf::from(v);
        }
        c.session_key = lookup("SESSION_KEY");
        if let Some(k) = &c.session_key
            && k.len() < 64
        {
            return Err("SESSION_KEY must be at least 64 characters long".into());
        }
        c.redis_url = lookup("REDIS_URL");
        c.public_url = lookup("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        c.trust_proxy = match lookup("TRUST_PROXY").as_deref().map(str::trim) {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(v) => return Err(format!("TRUST_PROXY={v} should be true or false")),
        };
        let secs = |name: &str, default: Duration| -> Result<Duration, String> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| format!("{name}={v} is not a whole number of seconds")),
            }
        };
        c.idle_timeout = secs("SESSION_IDLE_TIMEOUT_SECS", c.idle_timeout)?;
        c.absolute_timeout = secs("SESSION_ABSOLUTE_TIMEOUT_SECS", c.absolute_timeout)?;
        c.db_timeout = secs("DB_TIMEOUT_SECS", c.db_timeout)?;
        let num = |name: &str, default: usize| -> Result<usize, String> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| format!("{name}={v} is not a whole number")),
            }
        };
        // A running import holds one connection for as long as it runs;
        // with fewer than two the pages would wait for it to end.
        c.db_pool_size = num("DB_POOL_SIZE", c.db_pool_size as usize)?.clamp(2, 1000) as u32;
        c.upload_limit = num("UPLOAD_LIMIT_BYTES", c.upload_limit)?;
        c.avatar_limit = num("AVATAR_LIMIT_BYTES", c.avatar_limit)?;
        c.workers = num("WORKERS", c.workers)?;
        c.admin_email = lookup("CONTACTBOOK_ADMIN_EMAIL");
        c.admin_password = lookup("CONTACTBOOK_ADMIN_PASSWORD");
        c.admin_name = lookup("CONTACTBOOK_ADMIN_NAME");
        Ok(c)
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let c = Config::from_lookup(|_| None).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.is_none());
        assert_eq!(c.idle_timeout, Duration::from_secs(1800));
        assert!(!c.secure_cookies());
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let err = Config::from_lookup(|n| (n == "BIND").then(|| "nowhere".to_string()))
            .expect_err("bad bind");
        assert!(err.contains("BIND=nowhere"));
        let err = Config::from_lookup(|n| (n == "SESSION_KEY").then(|| "short".to_string()))
            .expect_err("short key");
        assert!(err.contains("64"));
    }

    #[test]
    fn https_public_url_means_secure_cookies() {
        let c = Config::from_lookup(|n| {
            (n == "PUBLIC_URL").then(|| "https://contacts.example.com/".to_string())
        })
        .expect("valid");
        assert!(c.secure_cookies());
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://contacts.example.com")
        );
    }
}
