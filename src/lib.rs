//! ContactBook: a server-rendered contact manager for support and sales teams.
//! `run` builds the whole web application around a database pool.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod export;
pub mod hashing;
pub mod import;
pub mod journey;
pub mod models;
pub mod redis;
pub mod routes;
pub mod schema;
pub mod security;
pub mod seed;

use std::{
    net::TcpListener,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use actix_session::{
    SessionMiddleware,
    config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy},
};
use actix_web::{
    App, Error, HttpServer,
    body::{BoxBody, MessageBody},
    cookie::{Key, SameSite},
    dev::{Server, ServiceRequest, ServiceResponse},
    middleware::{Logger, Next, from_fn},
    web,
};

use crate::{
    config::Config,
    db::{DbPool, session_store::SessionBackend},
    error::AppError,
    models::staff::Staff,
};

/// Shared by every handler.
pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    pub sessions: SessionBackend,
    /// What contact searches judge word frequency by.
    pub search_sample: cache::Cached<models::search_plan::Sample>,
    /// The labels and owners the contact list's filters offer.
    pub list_choices: cache::Cached<models::contact_list::ListChoices>,
    /// The unfiltered first pages of the contact list (by sort, order and page
    /// size) with their count: the page everyone lands on. Kept 2 s; contact
    /// writes in this instance clear it.
    pub first_pages: cache::CachedByKey<
        (models::contact_list::Sort, bool, i64),
        (models::contact_list::ListPage, models::contact_list::Count),
    >,
    /// The planner's estimate of live contacts, which the unfiltered list's
    /// count shows ("About 1,000,000"): kept 2 s like the first pages.
    pub contacts_estimate: cache::Cached<i64>,
    /// The number of Open enquiries the header's badge shows; enquiry
    /// changes in this instance clear it.
    pub open_enquiries: cache::Cached<i64>,
    /// Restricted members' set sizes, which scale their count estimates.
    pub set_sizes: models::contact_list::SetSizes,
    /// The web journey's queue of page views to write, and its rate limits.
    pub journey_writer: journey::Writer,
    pub journey_limits: journey::RateLimits,
    /// The website origins allowed to send page views.
    pub web_origins: cache::Cached<Vec<String>>,
    /// Wakes this instance's import runner when a job is queued.
    pub import_wake: std::sync::Arc<import::job::Wake>,
    /// Wakes this instance's bulk-job runner when a job is queued.
    pub bulk_wake: std::sync::Arc<import::job::Wake>,
    /// Cached once true: an administrator exists, so setup is never shown again.
    setup_done: AtomicBool,
    /// The address this instance really listens on (BIND may say port 0).
    pub listen_addr: std::net::SocketAddr,
}

impl AppState {
    /// Contacts were written through this instance: what the list keeps
    /// must be read afresh.
    pub fn contacts_changed(&self) {
        self.first_pages.clear();
        self.contacts_estimate.clear();
    }

    /// The sample that plans searches (see `search_plan`), taken afresh when
    /// it is older than its lifetime (a thin one's is short).
    pub fn search_sample(
        &self,
        conn: &mut diesel::PgConnection,
    ) -> diesel::QueryResult<std::sync::Arc<models::search_plan::Sample>> {
        self.search_sample
            .get_or_load_for(models::search_plan::Sample::lifetime, || {
                models::search_plan::Sample::load(conn)
            })
    }

    /// The labels and owners that filters and options offer, from the cache.
    pub fn choices(
        &self,
        conn: &mut diesel::PgConnection,
    ) -> diesel::QueryResult<std::sync::Arc<models::contact_list::ListChoices>> {
        self.list_choices
            .get_or_load(|| models::contact_list::ListChoices::load(conn))
    }

    pub async fn setup_done(&self) -> Result<bool, AppError> {
        if self.setup_done.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let done = db::run(&self.pool, |conn| Ok(Staff::setup_done(conn)?)).await?;
        if done {
            self.mark_setup_done();
        }
        Ok(done)
    }

    pub fn mark_setup_done(&self) {
        self.setup_done.store(true, Ordering::Relaxed);
    }
}

/// The cookie-signing key: SESSION_KEY, else one kept in the data directory so
/// that sessions survive a restart.
pub fn session_key(config: &Config) -> Result<Key, String> {
    let material = match &config.session_key {
        Some(k) => k.clone().into_bytes(),
        None => {
            let path = config.data_dir.join("session.key");
            match std::fs::read(&path) {
                Ok(bytes) if bytes.len() >= 64 => bytes,
                _ => {
                    std::fs::create_dir_all(&config.data_dir)
                        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
                    let key = security::random_token(128);
                    write_private(&path, key.as_bytes())?;
                    key.into_bytes()
                }
            }
        }
    };
    Key::try_from(material.as_slice()).map_err(|e| format!("unusable session key: {e}"))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Creates the first administrator from CONTACTBOOK_ADMIN_* for unattended
/// installs; does nothing once any administrator can sign in.
pub fn bootstrap_admin(pool: &DbPool, config: &Config) -> Result<(), String> {
    let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) else {
        return Ok(());
    };
    let name = config
        .admin_name
        .clone()
        .unwrap_or_else(|| "Administrator".into());
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    if Staff::setup_done(&mut conn).map_err(|e| e.to_string())? {
        return Ok(());
    }
    let email = domain::Email::parse(email).map_err(|e| format!("CONTACTBOOK_ADMIN_EMAIL {e}"))?;
    let password = domain::password::NewPassword::parse(password, password)
        .map_err(|e| format!("CONTACTBOOK_ADMIN_PASSWORD {e}"))?;
    let hash = password.hash()?;
    Staff::insert(
        &mut conn,
        &models::staff::NewStaff {
            email: email.as_str(),
            display_name: &name,
            password_hash: Some(&hash),
            role: domain::staff::Role::Admin.as_str(),
            department: "",
            job_title: "",
            time_zone: "UTC",
            extension: None,
            phone: None,
            availability: domain::staff::Availability::Offline.as_str(),
        },
    )
    .map_err(|e| format!("cannot create the first administrator: {e}"))?;
    log::info!("first administrator {email} created from the environment");
    Ok(())
}

/// Until an administrator exists, every page leads to the setup form.
async fn setup_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path();
    let exempt = path == "/setup"
        || path == "/healthz"
        || path == "/favicon.ico"
        || path.starts_with("/static/");
    if !exempt && let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
        match state.setup_done().await {
            Ok(true) => {}
            Ok(false) => {
                let res = routes::see_other("/setup");
                return Ok(req.into_response(res));
            }
            Err(e) => return Ok(req.error_response(e)),
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Hands back to the system the memory that a long piece of background
/// work (a duplicate pass, an import, a bulk job) allocated and freed.
/// glibc keeps freed pages in each thread's arena, so after one pass over a
/// million contacts the process would otherwise stay that much larger for
/// as long as it runs.
#[allow(unsafe_code)]
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists and
    // takes its own locks; it touches no memory that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keeps the allocator from holding on to what large buffers leave behind.
///
/// glibc raises its mmap threshold to the size of the largest block freed
/// (up to 32 MiB) and its trim threshold to twice that. After one import
/// batch or export buffer, every later buffer of a few megabytes comes from
/// a thread's arena instead of its own mapping, and each arena keeps that
/// much free memory for good. An update import of a million rows peaked at
/// 107 MB resident with the sliding thresholds and 64 MB with these (by
/// hand, same binary, same data: BENCHMARKS.md, session 19). Fixed values
/// also stop the sliding.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's own parameters; called
    // before the server starts its threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 * 1024);
    }
}

/// Builds the server on `listener`; the caller awaits (or spawns) it.
pub fn run(listener: TcpListener, config: Config, pool: DbPool) -> Result<Server, String> {
    let sessions = match &config.redis_url {
        Some(url) => {
            SessionBackend::Redis(redis::RedisClient::from_url(url).map_err(|e| e.to_string())?)
        }
        None => SessionBackend::Postgres {
            pool: pool.clone(),
            idle: config.idle_timeout,
        },
    };
    let key = session_key(&config)?;
    let workers = config.workers;
    let listen_addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let journey_writer = journey::Writer::start(pool.clone());
    let state = web::Data::new(AppState {
        pool,
        journey_writer,
        journey_limits: Default::default(),
        web_origins: cache::Cached::new(Duration::from_secs(5)),
        config,
        sessions,
        search_sample: cache::Cached::new(models::search_plan::SAMPLE_LIFETIME),
        list_choices: cache::Cached::new(Duration::from_secs(5)),
        first_pages: cache::CachedByKey::new(Duration::from_secs(2)),
        contacts_estimate: cache::Cached::new(Duration::from_secs(2)),
        set_sizes: cache::CachedByKey::new(models::contact_list::SIZES_LIFETIME),
        open_enquiries: cache::Cached::new(Duration::from_secs(5)),
        import_wake: Default::default(),
        bulk_wake: Default::default(),
        setup_done: AtomicBool::new(false),
        listen_addr,
    });

    import::job::spawn_runner(
        std::sync::Arc::downgrade(&state.clone().into_inner()),
        state.import_wake.clone(),
    );

    models::bulk_job::spawn_runner(
        std::sync::Arc::downgrade(&state.clone().into_inner()),
        state.bulk_wake.clone(),
    );

    models::duplicates::spawn_scanner(std::sync::Arc::downgrade(&state.clone().into_inner()));

    spawn_housekeeping(state.clone());

    let server = HttpServer::new(move || {
        let config = &state.config;
        let cookie_name = if config.secure_cookies() {
            "__Host-contactbook"
        } else {
            "contactbook"
        };
        let idle = actix_web::cookie::time::Duration::seconds(config.idle_timeout.as_secs() as i64);
        let session = SessionMiddleware::builder(state.sessions.clone(), key.clone())
            .cookie_name(cookie_name.into())
            .cookie_secure(config.secure_cookies())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".into())
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                BrowserSession::default()
                    .state_ttl(idle)
                    .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
            )
            .build();
        App::new()
            .app_data(state.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(256 * 1024)
                    .error_handler(|e, _| {
                        AppError::BadRequest(format!("The form could not be read: {e}")).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                AppError::BadRequest(format!("The address is not valid: {e}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .wrap(from_fn(error::within_layout))
            .wrap(from_fn(security::text_guard))
            .wrap(from_fn(setup_gate))
            .wrap(from_fn(security::csrf_guard))
            .wrap(from_fn(security::session_guard))
            .wrap(session)
            .wrap(from_fn(error::friendly_errors))
            .wrap(Logger::new("%{r}a \"%r\" %s %b %Dms"))
            .wrap(security::default_headers())
            .configure(routes::configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(10);
    let server = if workers > 0 {
        server.workers(workers)
    } else {
        server
    };
    Ok(server
        .listen(listener)
        .map_err(|e| format!("cannot listen: {e}"))?
        .run())
}

/// Forgets expired sessions, old sign-in attempts and unconfirmed uploads
/// every ten minutes.
fn spawn_housekeeping(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = state.sessions.purge_expired().await {
                log::warn!("session purge failed: {e}");
            }
            let purged = db::run(&state.pool, |conn| {
                Ok(models::login_attempt::LoginAttempt::purge_old(conn)?)
            })
            .await;
            if let Err(e) = purged {
                log::warn!("login attempt purge failed: {e}");
            }
            let stale = db::run(&state.pool, |conn| {
                Ok(models::import::Import::stale_previews(conn)?)
            })
            .await;
            match stale {
                Ok(list) => {
                    for (id, path) in list {
                        log::info!("import {id} was never confirmed; its upload is deleted");
                        let _ = std::fs::remove_file(path);
                    }
                }
                Err(e) => log::warn!("import clean-up failed: {e}"),
            }
        }
    });
}
