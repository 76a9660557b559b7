//! What the benchmarks share: the generated million contacts, signing in like
//! a browser, and latency measurement.

#![allow(dead_code)]

use std::{
    io::{BufWriter, Write},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use contactbook::{
    db::{self, embedded::EmbeddedPostgres},
    domain::{password::hash_password, staff::Role},
    models::staff::{NewStaff, Staff},
};
use diesel::{
    Connection, PgConnection, QueryableByName, RunQueryDsl, sql_query, sql_types::BigInt,
};

pub const PASSWORD: &str = "benchmark password";

/// Contacts and their own tables, for a TRUNCATE: they are tied by
/// triggers, which TRUNCATE does not fire (migration 2026-12-01-090000), so
/// each is named.
pub const CONTACT_TABLES: &str = "contacts, contact_phones, contact_emails, contact_socials, \
     contact_labels, custom_field_values, contact_changes";

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sql_query(sql).get_result::<N>(conn).expect("count").n
}

/// Generated people: 200 first names × 250 last names, companies, one email
/// and one mobile each, a quarter of them labelled.
pub fn load(conn: &mut PgConnection, n: i64, owner: i64) {
    let started = Instant::now();
    let first = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Julia Bruce Judy Gabriel Sophia Logan Grace Albert Denise Willie Amber Alan Doris Juan Marilyn Wayne Danielle Elijah Beverly Randy Isabella Roy Theresa Vincent Diana Ralph Natalie Eugene Brittany Russell Charlotte Bobby Marie Mason Kayla Philip Alexis Louis Lori Mei Wei Hiroshi Yuki Priya Ravi Olu Amara Chen Lena";
    let last = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Chan Wong Sato Tanaka Kumar Vogel Bianchi Okafor Haddad Yilmaz";
    let array = |words: &str| {
        format!(
            "ARRAY['{}']",
            words.split_whitespace().collect::<Vec<_>>().join("','")
        )
    };
    // The labels first: a contact's row carries its labels' ids, written
    // with it as an import does (the trigger on contact_labels then finds
    // nothing to rewrite).
    sql_query("INSERT INTO labels (name, colour) VALUES ('VIP', '#b91c1c'), ('Newsletter', '#15803d') ON CONFLICT DO NOTHING").execute(conn).expect("labels");
    sql_query(format!(
        "INSERT INTO contacts (id, first_name, last_name, contact_type, level, company, job_title, city, country, owner_id, created_at, updated_at, search_text, label_ids, first_phone, first_email) \
         SELECT base + i, f, l, (ARRAY['lead','prospect','customer','others'])[1 + i % 4], (ARRAY['primary','secondary','tertiary'])[1 + i % 3], \
                co, (ARRAY['Buyer','Manager','Director','Engineer','Analyst'])[1 + i % 5], (ARRAY['Hong Kong','London','Milano','Tokyo','Lagos'])[1 + i % 5], \
                (ARRAY['HK','GB','IT','JP','NG'])[1 + i % 5], {owner}, now() - (i || ' minutes')::interval, now() - (i || ' seconds')::interval, \
                lower(f || ' ' || l || ' ' || co || ' ' || lower(f) || '.' || lower(l) || i || '@example.com') || ' ' || (85290000000 + i)::text, \
                CASE WHEN (base + i) % 4 = 0 THEN ARRAY[vip] ELSE '{{}}' END, \
                '+' || (85290000000 + i)::text, lower(f) || '.' || lower(l) || i || '@example.com' \
         FROM (SELECT i, ({first})[1 + (i * 7919) % {nf}] AS f, ({last})[1 + (i * 104729) % {nl}] AS l, \
                      'Company ' || (i % 50000) || ' Ltd' AS co FROM generate_series(1::bigint, {n}) i) g, \
              (SELECT coalesce(max(id), 0) AS base FROM contacts) b, (SELECT id AS vip FROM labels WHERE name = 'VIP') v",
        first = array(first),
        last = array(last),
        nf = first.split_whitespace().count(),
        nl = last.split_whitespace().count(),
    ))
    .execute(conn)
    .expect("insert contacts");
    sql_query("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")
        .execute(conn)
        .expect("contact ids");
    sql_query(
        "INSERT INTO contact_emails (contact_id, kind, email, position) \
         SELECT id, 'work', lower(first_name) || '.' || lower(last_name) || row_number() OVER (ORDER BY id) || '@example.com', 0 FROM contacts",
    )
    .execute(conn)
    .expect("emails");
    sql_query("INSERT INTO contact_phones (contact_id, kind, number, position) SELECT id, 'mobile', '+' || (85290000000 + row_number() OVER (ORDER BY id))::text, 0 FROM contacts")
        .execute(conn)
        .expect("phones");
    sql_query("INSERT INTO contact_labels (contact_id, label_id) SELECT c.id, l.id FROM contacts c, labels l WHERE c.id % 4 = 0 AND l.name = 'VIP'")
        .execute(conn)
        .expect("contact labels");
    sql_query("VACUUM ANALYZE").execute(conn).expect("analyze");
    println!(
        "loaded {n} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `total` GETs of `path` from `clients` concurrent clients; (p50, p95, max) in ms.
pub async fn latency(
    base: &str,
    cookie: &str,
    path: &str,
    clients: usize,
    total: usize,
) -> (f64, f64, f64) {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = format!("{base}{path}");
        let cookie = cookie.to_string();
        tasks.push(actix_rt::spawn(async move {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish();
            let mut times = Vec::new();
            for _ in 0..total / clients {
                times.push(timed_get(&client, &url, &cookie).await);
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort();
    (
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 1.0),
    )
}

/// One full page load (the whole body read), which must answer 200; how long it took.
pub async fn timed_get(client: &awc::Client, url: &str, cookie: &str) -> Duration {
    let (took, status, body) = timed_try(client, url, cookie).await;
    assert_eq!(status, 200, "{body}");
    took
}

/// A GET's time, status and body, whatever the status.
async fn timed_try(client: &awc::Client, url: &str, cookie: &str) -> (Duration, u16, String) {
    let t = Instant::now();
    let mut res = client
        .get(url)
        .insert_header(("Cookie", cookie.to_string()))
        .send()
        .await
        .expect("GET");
    let body = res.body().limit(8 << 20).await.expect("body");
    (
        t.elapsed(),
        res.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The bench administrator, created on first use; their id.
pub fn ensure_admin(conn: &mut PgConnection) -> i64 {
    match Staff::find_by_email(conn, "bench@example.com").expect("query") {
        Some(s) => s.id,
        None => {
            let hash = hash_password(PASSWORD).expect("hash");
            Staff::insert(
                conn,
                &NewStaff {
                    email: "bench@example.com",
                    display_name: "Bench Admin",
                    password_hash: Some(&hash),
                    role: Role::Admin.as_str(),
                    department: "",
                    job_title: "",
                    time_zone: "UTC",
                    extension: None,
                    phone: None,
                    availability: "available",
                },
            )
            .expect("admin")
            .id
        }
    }
}

/// The database holding `n` generated contacts and the bench administrator,
/// loaded on first use and reused by later runs; its URL.
pub fn base_database(pg: &EmbeddedPostgres, n: i64) -> String {
    let dbname = format!("contactbook_bench_{n}");
    pg.ensure_database(&dbname).expect("database");
    let url = pg.url(&dbname);
    let pool = db::build_pool(&url, 2, Duration::from_secs(5)).expect("pool");
    db::run_migrations(&pool).expect("migrate");
    drop(pool);
    let mut conn = PgConnection::establish(&url).expect("connect");
    let admin = ensure_admin(&mut conn);
    let have = count(&mut conn, "SELECT count(*) AS n FROM contacts");
    if have != n {
        sql_query(format!("TRUNCATE {CONTACT_TABLES} CASCADE"))
            .execute(&mut conn)
            .expect("truncate");
        load(&mut conn, n, admin);
    } else {
        println!("reusing {n} contacts in {dbname}");
    }
    url
}

/// The CSRF token of the first form on a page.
pub fn csrf_token(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("token")
        .to_string()
}

/// Signs in as the bench administrator; the session cookie.
pub async fn sign_in(base: &str) -> String {
    sign_in_as(base, "bench@example.com").await
}

/// Signs in as `email` (with the benches' password); the session cookie.
pub async fn sign_in_as(base: &str, email: &str) -> String {
    let base = base.to_string();
    // Sign in like a browser.
    let client = awc::Client::builder().disable_redirects().finish();
    let mut res = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = res
        .cookies()
        .expect("cookies")
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let body = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    let token = csrf_token(&body);
    let res = client
        .post(format!("{base}/login"))
        .insert_header(("Cookie", cookie.clone()))
        .insert_header(("Origin", base.clone()))
        .send_form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .await
        .expect("sign in");
    assert_eq!(res.status().as_u16(), 303, "signed in");
    res.cookies()
        .expect("cookies")
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Peak and current resident memory of a process, in MB.
pub fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Zeroes the process's recorded peak memory (VmHWM), so the next reading
/// is the peak of what comes after.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The app's process, stopped when dropped: a bench that panics half way
/// must not leave it running.
pub struct App(pub std::process::Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for App {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for App {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Runs the app's release binary against `url` on `port`, with `env` on top.
pub fn start_app(url: &str, port: u16, dir: &Path) -> App {
    start_app_with(url, port, dir, &[])
}

/// `BENCH_APP_WRAPPER` (say `heaptrack`) runs the app under that program,
/// to see where its memory goes.
pub fn start_app_with(url: &str, port: u16, dir: &Path, env: &[(&str, &str)]) -> App {
    let bin = env!("CARGO_BIN_EXE_contactbook");
    let mut command = match std::env::var("BENCH_APP_WRAPPER") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut c = Command::new(wrapper.trim());
            c.arg(bin);
            c
        }
        _ => Command::new(bin),
    };
    App(command
        .env("DATABASE_URL", url)
        .env("CONTACTBOOK_DATA_DIR", dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the app"))
}

/// The private PostgreSQL of the benches, the number of contacts to use
/// (BENCH_CONTACTS, a million unless set) and the directory for the app's
/// data.
pub fn bench_pg() -> (EmbeddedPostgres, i64, std::path::PathBuf) {
    let n: i64 = std::env::var("BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let target = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let data = target.join("bench-data");
    std::fs::create_dir_all(&data).expect("data dir");
    let pg = EmbeddedPostgres::start(&target.join("bench-pg")).expect("start PostgreSQL");
    (pg, n, data)
}

/// The benches' common start: the private PostgreSQL, the base database of
/// BENCH_CONTACTS contacts (a million unless set), and a fresh copy of it
/// named `copy`. Returns the server (keep it), the copy's URL, the contact
/// count and the directory for the app's data.
pub fn million_copy(copy: &str) -> (EmbeddedPostgres, String, i64, std::path::PathBuf) {
    let (pg, n, data) = bench_pg();
    base_database(&pg, n);
    let url = fresh_copy(&pg, n, copy);
    (pg, url, n, data)
}

/// A fresh copy of the `n`-contact database named `name` (indexes and all,
/// in a few seconds); its URL.
pub fn fresh_copy(pg: &EmbeddedPostgres, n: i64, name: &str) -> String {
    let mut admin = PgConnection::establish(&pg.url("postgres")).expect("connect");
    let started = Instant::now();
    sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .expect("drop");
    sql_query(format!(
        "CREATE DATABASE {name} TEMPLATE contactbook_bench_{n}"
    ))
    .execute(&mut admin)
    .expect("copy database");
    println!(
        "copied the {n}-contact database in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    pg.url(name)
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Waits until the app at `base` answers.
pub async fn wait_ready(base: &str) {
    let client = awc::Client::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the app did not start");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Gives `agent` 10,000 of the contacts: one in 100, picked by a hash of the
/// id so that they spread over every name (the generated names repeat with
/// the id), half owned and half shared with them by `admin`.
pub fn give_agent_their_contacts(conn: &mut PgConnection, agent: i64, admin: i64) {
    for sql in [
        format!("UPDATE contacts SET owner_id = {agent} WHERE (id * 2654435761) % 200 = 7"),
        format!(
            "INSERT INTO contact_shares (contact_id, staff_id, shared_by) \
             SELECT id, {agent}, {admin} FROM contacts WHERE (id * 2654435761) % 200 = 107"
        ),
    ] {
        exec(conn, &sql);
    }
}

/// Runs `sql`, which must succeed.
pub fn exec(conn: &mut PgConnection, sql: &str) {
    sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// The app's first duplicate pass runs at start and keeps a core busy for a
/// while: waits for it to end, so that what is measured has the machine to
/// itself.
pub fn wait_for_first_duplicate_pass(conn: &mut PgConnection) {
    let started = Instant::now();
    while count(
        conn,
        "SELECT count(*) AS n FROM duplicate_scans WHERE status = 'done'",
    ) == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no pass ended"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until no duplicate pass is queued or running, twice in a row a few
/// seconds apart (the scanner queues its next pass every 3 s), so that a
/// pass following a large change is not timed with what comes next; the
/// seconds waited.
pub fn wait_for_quiet_scanner(conn: &mut PgConnection) -> f64 {
    let started = Instant::now();
    let mut quiet = 0;
    while quiet < 2 {
        let busy = count(
            conn,
            "SELECT count(*) AS n FROM duplicate_scans WHERE status IN ('queued', 'running')",
        );
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the duplicate scanner never went quiet"
        );
        std::thread::sleep(Duration::from_secs(4));
    }
    started.elapsed().as_secs_f64()
}

/// Reads each of `paths` in a loop, 50 ms apart, until `running` turns
/// false: the pages' latency while a job writes. Each probe's times, sorted.
pub fn spawn_probes(
    base: &str,
    cookie: &str,
    paths: &[&str],
    running: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<actix_rt::task::JoinHandle<Probed>> {
    paths
        .iter()
        .map(|path| {
            let running = running.clone();
            let url = format!("{base}{path}");
            let cookie = cookie.to_string();
            actix_rt::spawn(async move {
                let client = awc::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .finish();
                let mut probed = Probed::default();
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    // A failed page is counted, not fatal: the run goes on
                    // to say how often and for how long pages failed.
                    let (took, status, _) = timed_try(&client, &url, &cookie).await;
                    if status == 200 {
                        probed.times.push(took);
                    } else {
                        probed.failed.push((status, took));
                    }
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
                probed.times.sort();
                probed
            })
        })
        .collect()
}

/// What one probe saw: the times of its pages, and the status and time of
/// each page that failed.
#[derive(Default)]
pub struct Probed {
    pub times: Vec<Duration>,
    pub failed: Vec<(u16, Duration)>,
}

/// Prints each probe's count, p50, p95 and max under its name, and its
/// failed pages if any.
pub async fn report_probes(
    probes: Vec<actix_rt::task::JoinHandle<Probed>>,
    names: &[&str],
    during: &str,
) {
    for (probe, name) in probes.into_iter().zip(names) {
        let Probed { times, failed } = probe.await.expect("probe");
        if !times.is_empty() {
            println!(
                "{during}, {name}: {} requests, p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                percentile(&times, 1.0)
            );
        }
        if !failed.is_empty() {
            let statuses: Vec<String> = failed
                .iter()
                .map(|(s, t)| format!("{s} after {:.1} s", t.as_secs_f64()))
                .collect();
            println!(
                "{during}, {name}: {} FAILED: {}",
                failed.len(),
                statuses.join(", ")
            );
        }
    }
}

/// Uploads `file`, starts it in `mode` and waits for it to end; its id.
pub async fn import(
    client: &awc::Client,
    base: &str,
    cookie: &str,
    file: &std::path::Path,
    mode: &str,
    db: &mut PgConnection,
    pid: u32,
) -> i64 {
    let mut page = client
        .get(format!("{base}/imports"))
        .insert_header(("Cookie", cookie.to_string()))
        .send()
        .await
        .expect("imports page");
    let html =
        String::from_utf8_lossy(&page.body().limit(1 << 20).await.expect("body")).into_owned();
    let token = csrf_token(&html);
    let boundary = "----contactbookbenchboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\n{mode}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"update.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    );
    let mut body = head.into_bytes();
    body.extend(std::fs::read(file).expect("read file"));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let uploaded = Instant::now();
    let res = client
        .post(format!("{base}/imports"))
        .insert_header(("Cookie", cookie.to_string()))
        .insert_header(("Origin", base.to_string()))
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .send_body(body)
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 303, "upload refused");
    // The upload's answer waits for the preview, which checks and plans
    // every row as the job will.
    println!(
        "  {mode} upload and preview: {:.1} s; app resident after it {:.0} MB",
        uploaded.elapsed().as_secs_f64(),
        memory(pid).1
    );
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("preview location")
        .to_string();
    let id: i64 = location
        .trim_start_matches("/imports/")
        .parse()
        .expect("id");
    let res = client
        .post(format!("{base}/imports/{id}/start"))
        .insert_header(("Cookie", cookie.to_string()))
        .insert_header(("Origin", base.to_string()))
        .send_form(&[("csrf_token", token.as_str()), ("mode", mode)])
        .await
        .expect("start");
    assert_eq!(res.status().as_u16(), 303);
    let started = Instant::now();
    let mut highest = 0.0f64;
    while count(
        db,
        &format!(
            "SELECT count(*) AS n FROM imports WHERE id = {id} AND status IN ('done', 'failed', 'cancelled')"
        ),
    ) == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(7200),
            "the import never ended"
        );
        highest = highest.max(memory(pid).1);
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  app resident memory, highest sample while the {mode} job ran: {highest:.0} MB");
    assert_eq!(
        count(
            db,
            &format!("SELECT count(*) AS n FROM imports WHERE id = {id} AND status = 'done'")
        ),
        1,
        "the {mode} import ended otherwise"
    );
    id
}

/// (seconds, updated, unchanged, failed, created) of import `id`.
pub fn outcome(db: &mut PgConnection, id: i64) -> (f64, i64, i64, i64, i64) {
    let n = |db: &mut PgConnection, what: &str| {
        count(
            db,
            &format!("SELECT ({what})::bigint AS n FROM imports WHERE id = {id}"),
        )
    };
    (
        n(db, "extract(epoch FROM finished_at - started_at) * 1000") as f64 / 1000.0,
        n(db, "updated"),
        n(db, "unchanged"),
        n(db, "failed"),
        n(db, "imported"),
    )
}

const COLUMNS: &str = "First Name,Last Name,Mobile,Work Phone,Home Phone,Other Phone,Email,Personal Email,Other Email,Facebook,WhatsApp,WeChat,LINE,Twitter,LinkedIn,WOZTELL (WhatsApp),WOZTELL (Facebook),WOZTELL (Instagram),Company,Job Title,Team,Birthdate,Language,Address,City,State,ZipCode,Country,Type,Group,Level,Contact Label";

/// A file in the template format; one row in 1,000 has a bad birth date.
pub fn template_file(path: &Path, rows: i64) {
    if path.exists() {
        return;
    }
    let started = Instant::now();
    let file = std::fs::File::create(path).expect("create file");
    let mut w = BufWriter::with_capacity(1 << 20, file);
    writeln!(w, "{COLUMNS}").expect("write");
    let firsts = [
        "Mei", "Tom", "Yuki", "Ravi", "Lena", "Marco", "Amara", "Olu", "Priya", "Chen",
    ];
    let lasts = [
        "Chan", "Baker", "Sato", "Kumar", "Vogel", "Bianchi", "Okafor", "Haddad", "Silva", "Wong",
    ];
    let cities = [
        ("Hong Kong", "HK"),
        ("London", "GB"),
        ("Tokyo", "JP"),
        ("Milano", "IT"),
        ("Lagos", "NG"),
    ];
    let types = ["Lead", "Prospect", "Customer", "Others"];
    let levels = ["Primary", "Secondary", "Tertiary"];
    for i in 0..rows {
        let first = firsts[(i % 10) as usize];
        let last = lasts[((i / 10) % 10) as usize];
        let (city, country) = cities[(i % 5) as usize];
        let birth = if i % 1000 == 999 {
            "02/30/1990".to_string()
        } else {
            format!("{:02}/{:02}/{}", 1 + i % 12, 1 + i % 28, 1950 + i % 50)
        };
        writeln!(
            w,
            "{first},{last} {i},+8529{m:07},+852 2{m:07},,,{f}.{l}{i}@example.org,{f}{i}@mail.example.net,,fb.{f}{i},+8526{m:07},,,@{f}{i},linkedin.com/in/{f}-{l}-{i},,,,\"{last} Trading {c}, Ltd.\",Account Manager,Sales {t},{birth},en,\"{n} Queen's Road\",{city},Central,{zip},{country},{ty},Group {g},{lv},Imported;Batch {b}",
            m = i % 10_000_000,
            f = first.to_lowercase(),
            l = last.to_lowercase(),
            c = i % 5000,
            t = i % 20,
            n = 1 + i % 300,
            zip = 10000 + i % 90000,
            ty = types[(i % 4) as usize],
            g = i % 50,
            lv = levels[(i % 3) as usize],
            b = i % 10,
        )
        .expect("write");
    }
    w.flush().expect("flush");
    println!(
        "wrote {rows} rows ({} MB) in {:.1} s",
        std::fs::metadata(path).map(|m| m.len() >> 20).unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}
