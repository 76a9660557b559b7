//! Shared test helpers: a private PostgreSQL (or TEST_DATABASE_URL), a database
//! per test cloned from a migrated template, the real server on port 0, and a
//! cookie-keeping HTTP client that does not follow redirects.
#![allow(dead_code)]

pub mod webdriver;

use std::{
    cell::RefCell,
    collections::HashMap,
    net::TcpListener,
    path::PathBuf,
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::dev::ServerHandle;
use contactbook::{
    config::Config,
    db::{self, DbPool, embedded::EmbeddedPostgres},
    domain::{password::hash_password, staff::Role},
    models::staff::{NewStaff, Staff},
};
use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};
use scraper::{Html, Selector};

pub const PASSWORD: &str = "correct horse battery";

enum PgServer {
    Embedded(EmbeddedPostgres),
    External(String),
}

impl PgServer {
    fn url(&self, database: &str) -> String {
        match self {
            PgServer::Embedded(pg) => pg.url(database),
            PgServer::External(base) => format!("{}/{database}", base.trim_end_matches('/')),
        }
    }
}

/// The workspace's target directory, where test clusters and screenshots live.
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

fn pg_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => PgServer::External(url),
        _ => PgServer::Embedded(stable_embedded()),
    })
}

/// The test cluster, started or adopted. Test binaries run one after the
/// other, and the server the previous one started stops when that process
/// exits (its parent-death signal): a binary starting in that moment can
/// adopt a server that is about to go. So an adopted server must still
/// answer a moment later, else it is waited out and started afresh.
fn stable_embedded() -> EmbeddedPostgres {
    let dir = target_dir().join("test-pg");
    for _ in 0..20 {
        let pg = EmbeddedPostgres::start(&dir).expect("start the test PostgreSQL");
        std::thread::sleep(Duration::from_millis(300));
        if PgConnection::establish(&pg.url("postgres")).is_ok() {
            return pg;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the test PostgreSQL in {} never stayed up", dir.display());
}

/// A name for this test binary usable inside database names.
fn binary_tag() -> String {
    let exe = std::env::current_exe().expect("current exe");
    let stem = exe.file_stem().and_then(|s| s.to_str()).unwrap_or("tests");
    let name = stem.split('-').next().unwrap_or(stem);
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect::<String>()
        .to_lowercase()
}

fn admin_conn() -> PgConnection {
    PgConnection::establish(&pg_server().url("postgres")).expect("connect to the test server")
}

/// Creates (once per binary) a freshly migrated template database.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let tag = binary_tag();
        let name = format!("cbtpl_{tag}");
        let mut conn = admin_conn();
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        // Databases left by an earlier run of this same binary.
        let stale: Vec<Name> = sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind::<diesel::sql_types::Text, _>(format!("cbt\\_{tag}\\_%"))
            .load(&mut conn)
            .expect("list stale databases");
        for db in stale {
            sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                db.datname
            ))
            .execute(&mut conn)
            .expect("drop stale database");
        }
        sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .expect("drop old template");
        sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create template");
        let pool = db::build_pool(&pg_server().url(&name), 1, Duration::from_secs(10))
            .expect("template pool");
        db::run_migrations(&pool).expect("migrate template");
        drop(pool);
        name
    })
}

/// The URL of a new, migrated, empty database, for a test that runs the
/// binary itself.
pub fn test_database_url() -> String {
    pg_server().url(&create_test_db())
}

/// A new, migrated, empty database of its own for one test.
pub fn create_test_db() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static LOCK: Mutex<()> = Mutex::new(());
    let template = template();
    let name = format!(
        "cbt_{}_{}_{}",
        binary_tag(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    );
    // CREATE DATABASE copies the template and fails if two copies race.
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    sql_query(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
    ))
    .execute(&mut admin_conn())
    .expect("create test database");
    name
}

/// The name of the role that is not a superuser, as a managed PostgreSQL
/// gives an application.
pub const PLAIN_ROLE: &str = "cb_plain";

/// A new database owned by `PLAIN_ROLE` (created if missing), migrated by
/// that role itself; returns the URL that connects as it, and its name.
pub fn plain_role_database() -> (String, String) {
    let mut conn = admin_conn();
    sql_query(format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PLAIN_ROLE}') \
         THEN CREATE ROLE {PLAIN_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"
    ))
    .execute(&mut conn)
    .expect("create the plain role");
    let name = format!("cbt_{}_plain_{}", binary_tag(), std::process::id());
    sql_query(format!("CREATE DATABASE \"{name}\" OWNER {PLAIN_ROLE}"))
        .execute(&mut conn)
        .expect("create the plain role's database");
    let url = as_role(&pg_server().url(&name), PLAIN_ROLE);
    let pool = db::build_pool(&url, 1, Duration::from_secs(10)).expect("plain role pool");
    db::run_migrations(&pool).expect("migrate as the plain role");
    (url, name)
}

/// `url` with its user replaced by `role`.
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a database URL");
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{scheme}://{role}@{host}")
}

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub pool: DbPool,
    pub config: Config,
    pub handle: ServerHandle,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the real server on 127.0.0.1:0 against a fresh database; `tweak`
/// adjusts the configuration first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db_name = create_test_db();
    let url = pg_server().url(&db_name);
    spawn_app_on(url, &db_name, tweak).await
}

/// Starts the real server on the database at `url` (named `db_name`).
pub async fn spawn_app_on(url: String, db_name: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config {
        database_url: Some(url.clone()),
        session_key: Some(contactbook::security::random_token(64)),
        workers: 2,
        data_dir: target_dir().join("test-data").join(db_name),
        ..Config::default()
    };
    tweak(&mut config);
    let pool = db::build_pool(&url, config.db_pool_size, config.db_timeout).expect("pool");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = contactbook::run(listener, config.clone(), pool.clone()).expect("server");
    let handle = server.handle();
    actix_rt::spawn(server);
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        pool,
        config,
        handle,
    }
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub fn conn(
        &self,
    ) -> diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<PgConnection>> {
        self.pool.get().expect("connection")
    }

    /// Inserts an account directly, as fixtures do; returns its id.
    pub fn add_staff(&self, name: &str, email: &str, role: Role) -> i64 {
        self.add_staff_with(name, email, role, |_| {})
    }

    pub fn add_staff_with(
        &self,
        name: &str,
        email: &str,
        role: Role,
        tweak: impl FnOnce(&mut NewStaff),
    ) -> i64 {
        let hash = hash_password(PASSWORD).expect("hash");
        let mut new = NewStaff {
            email,
            display_name: name,
            password_hash: Some(&hash),
            role: role.as_str(),
            department: "",
            job_title: "",
            time_zone: "UTC",
            extension: None,
            phone: None,
            availability: "available",
        };
        tweak(&mut new);
        Staff::insert(&mut self.conn(), &new)
            .expect("insert staff")
            .id
    }

    /// An administrator and a browser signed in as them.
    pub async fn signed_in_admin(&self) -> (i64, Browser) {
        let id = self.add_staff("Ada Admin", "ada@example.com", Role::Admin);
        let b = self.browser();
        b.sign_in("ada@example.com", PASSWORD).await;
        (id, b)
    }

    pub async fn signed_in_agent(&self) -> (i64, Browser) {
        // Until an administrator exists, every page is the setup page.
        if self.count("SELECT count(*) FROM staff WHERE role = 'admin'") == 0 {
            self.add_staff("Olive Owner", "owner@example.com", Role::Admin);
        }
        let id = self.add_staff("Arthur Agent", "arthur@example.com", Role::Agent);
        let b = self.browser();
        b.sign_in("arthur@example.com", PASSWORD).await;
        (id, b)
    }

    pub fn staff(&self, id: i64) -> Staff {
        Staff::find(&mut self.conn(), id).expect("staff")
    }

    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result::<Count>(&mut self.conn())
            .expect("count")
            .n
    }
}

/// Every test that leaves its database readable also checks that each
/// contact's copies on its row (`contacts.label_ids`, `first_phone` and
/// `first_email`, kept by triggers for the list) equal the child rows they
/// copy, whichever path wrote them.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Ok(mut conn) = self.pool.get() else {
            return;
        };
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let checks = [
            (
                "label_ids",
                "c.label_ids IS DISTINCT FROM ARRAY(SELECT cl.label_id FROM contact_labels cl \
                 WHERE cl.contact_id = c.id ORDER BY cl.label_id)",
            ),
            (
                "first_phone",
                "c.first_phone IS DISTINCT FROM (SELECT p.number FROM contact_phones p \
                 WHERE p.contact_id = c.id ORDER BY p.position, p.id LIMIT 1)",
            ),
            (
                "first_email",
                "c.first_email IS DISTINCT FROM (SELECT e.email FROM contact_emails e \
                 WHERE e.contact_id = c.id ORDER BY e.position, e.id LIMIT 1)",
            ),
        ];
        for (copy, differs) in checks {
            let stale = sql_query(format!(
                "SELECT count(*) AS n FROM contacts c WHERE {differs}"
            ))
            .get_result::<Count>(&mut conn);
            if let Ok(Count { n }) = stale {
                assert_eq!(
                    n, 0,
                    "contacts whose {copy} differs from the rows it copies"
                );
            }
        }
    }
}

/// A response, read in full.
pub struct Page {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.header("location")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The trimmed text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let sel = Selector::parse(css).expect("selector");
        self.html()
            .select(&sel)
            .map(|e| {
                e.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    pub fn text(&self, css: &str) -> String {
        self.texts(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {css}"))
    }

    pub fn attr(&self, css: &str, attr: &str) -> Option<String> {
        let sel = Selector::parse(css).expect("selector");
        self.html()
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr(attr))
            .map(str::to_string)
    }

    pub fn exists(&self, css: &str) -> bool {
        let sel = Selector::parse(css).expect("selector");
        self.html().select(&sel).next().is_some()
    }

    pub fn csrf(&self) -> String {
        self.attr("input[name=csrf_token]", "value")
            .expect("page has a CSRF token")
    }
}

/// Like a browser: keeps cookies, sends Origin on POST, never follows redirects.
pub struct Browser {
    client: awc::Client,
    pub base: String,
    cookies: RefCell<HashMap<String, String>>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(30))
                // Under the server's 5 s keep-alive: a connection left idle
                // longer (a slow fixture between two requests on a loaded
                // machine) was closed by the server as it was reused, and
                // the request failed with Connect(Disconnected).
                .connector(awc::Connector::new().conn_keep_alive(Duration::from_secs(2)))
                .finish(),
            base: base.to_string(),
            cookies: RefCell::new(HashMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    pub fn clear_cookies(&self) {
        self.cookies.borrow_mut().clear();
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(
        &self,
        mut res: awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
        >,
    ) -> Page {
        if let Ok(cookies) = res.cookies() {
            let mut jar = self.cookies.borrow_mut();
            for c in cookies.iter() {
                let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative())
                    || c.expires_datetime()
                        .is_some_and(|t| t < actix_web::cookie::time::OffsetDateTime::now_utc())
                    || c.value().is_empty();
                if expired {
                    jar.remove(c.name());
                } else {
                    jar.insert(c.name().to_string(), c.value().to_string());
                }
            }
        }
        let body = res.body().limit(64 * 1024 * 1024).await.expect("body");
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .insert_header(("Cookie", self.cookie_header()))
            .send()
            .await
            .expect("GET");
        self.finish(res).await
    }

    /// POSTs `fields` as a url-encoded form, exactly as given (no token added).
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("Cookie", self.cookie_header()));
        if let Some(o) = origin {
            req = req.insert_header(("Origin", o));
        }
        let res = req.send_form(&fields).await.expect("POST");
        self.finish(res).await
    }

    /// POSTs as a page of `host` would through a proxy that names it in
    /// `X-Forwarded-Host`.
    pub async fn post_forwarded(&self, path: &str, fields: &[(&str, &str)], host: &str) -> Page {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("Origin", format!("http://{host}")))
            .insert_header(("X-Forwarded-Host", host))
            .send_form(&fields)
            .await
            .expect("POST");
        self.finish(res).await
    }

    /// POSTs with this site's Origin and the given CSRF token.
    pub async fn post(&self, path: &str, token: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token)];
        all.extend_from_slice(fields);
        let origin = self.base.clone();
        self.post_raw(path, &all, Some(&origin)).await
    }

    /// Loads `form_page`, takes its CSRF token and POSTs `fields` to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page).await;
        assert_eq!(page.status, 200, "form page {form_page} should load");
        self.post(action, &page.csrf(), fields).await
    }

    /// Uploads one file as multipart form field `field` to `action` (whose URL
    /// carries the token, as the app's upload forms do).
    pub async fn upload(
        &self,
        action: &str,
        field: &str,
        filename: &str,
        content_type: &str,
        data: &[u8],
    ) -> Page {
        self.upload_with(action, &[], (field, filename, content_type, data))
            .await
    }

    /// Uploads a multipart form of text `fields` and one file (field name,
    /// file name, content type, bytes), as a browser sends it.
    pub async fn upload_with(
        &self,
        action: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Page {
        // A token written into the action travels as the form's first field,
        // where the browser sends it (a token in the URL is refused).
        let (action, token) = match action.split_once("?csrf_token=") {
            Some((path, token)) => (path, Some(token)),
            None => (action, None),
        };
        let mut fields = fields.to_vec();
        if let Some(token) = token {
            fields.insert(0, ("csrf_token", token));
        }
        self.upload_as_is(action, &fields, file).await
    }

    /// Uploads exactly these fields, in this order, to exactly this URL.
    pub async fn upload_as_is(
        &self,
        action: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Page {
        let boundary = "----contactbooktestboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (field, filename, content_type, data) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .client
            .post(format!("{}{action}", self.base))
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("Origin", self.base.as_str()))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .send_body(body)
            .await
            .expect("upload");
        self.finish(res).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert_eq!(
            page.status, 303,
            "sign-in of {email} should succeed: {}",
            page.body
        );
        page
    }
}

/// A tiny valid PNG (1x1, transparent).
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];
