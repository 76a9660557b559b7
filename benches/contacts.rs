//! The contact list and search at a million contacts, through real HTTP.
//!
//! Run: `cargo bench --bench contacts` (BENCH_CONTACTS=N to change the size).
//! Loads N generated contacts once into a private PostgreSQL under
//! target/bench-pg (reused by later runs), starts the app on a free port and
//! measures; `wrk` (apt-get install wrk) gives the throughput figures.
//! Results go to stdout; BENCHMARKS.md records them.

use std::{net::TcpListener, process::Command, time::Duration};

use contactbook::{
    config::Config,
    db::{self, embedded::EmbeddedPostgres},
    models::contact_list::Cursor,
};
use diesel::{
    Connection, PgConnection, QueryableByName, RunQueryDsl, sql_query, sql_types::BigInt,
};

mod support;

use support::{count, latency};

fn wrk(base: &str, cookie: &str, path: &str, connections: u32) -> Option<String> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            "-d10s",
            "--latency",
            "-H",
            &format!("Cookie: {cookie}"),
        ])
        .arg(format!("{base}{path}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec"))?
        .to_string();
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .unwrap_or("")
        .trim()
        .to_string();
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .unwrap_or("")
        .trim()
        .to_string();
    Some(format!("{rps}  (latency {p99}) {errors}"))
}

fn main() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    let n: i64 = std::env::var("BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let target = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let pg = EmbeddedPostgres::start(&target.join("bench-pg")).expect("start PostgreSQL");
    let url = support::base_database(&pg, n);
    let pool = db::build_pool(&url, 10, Duration::from_secs(5)).expect("pool");
    let mut conn = PgConnection::establish(&url).expect("connect");
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sort_name: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    // The cursor of the page after the row at `offset` in the name order
    // (`desc`: counted from the end).
    let cursor_at = |conn: &mut PgConnection, desc: &str, offset: i64| {
        let key: Key = sql_query(format!(
            "SELECT sort_name, id FROM contacts WHERE deleted_at IS NULL \
             ORDER BY sort_name {desc}, id {desc} OFFSET {offset} LIMIT 1"
        ))
        .get_result(conn)
        .expect("page cursor");
        Cursor {
            key: key.sort_name,
            id: key.id,
        }
        .encode()
    };
    // The deepest page: its cursor is the 26th row from the end.
    let deepest = cursor_at(&mut conn, "DESC", 25);
    // The second page: the first one never served from the first-page cache.
    let second = cursor_at(&mut conn, "ASC", 24);
    // A whole address, `@` and all, as people paste it: the search takes
    // the email index for it.
    let rare_email: String = {
        #[derive(diesel::QueryableByName)]
        struct E {
            #[diesel(sql_type = diesel::sql_types::Text)]
            email: String,
        }
        diesel::sql_query(
            "SELECT email FROM contact_emails WHERE contact_id = (SELECT max(id) / 2 FROM contacts)",
        )
        .get_result::<E>(&mut conn)
        .expect("an email")
        .email
    };
    let common_matches = count(
        &mut conn,
        "SELECT count(*) AS n FROM contacts WHERE search_text LIKE '%son%'",
    );
    drop(conn);

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    let config = Config {
        database_url: Some(url),
        session_key: Some("b".repeat(64)),
        data_dir: target.join("bench-data"),
        ..Config::default()
    };
    let system = actix_rt::System::new();
    system.block_on(async move {
        let server = contactbook::run(listener, config, pool).expect("server");
        actix_rt::spawn(server);
        let cookie = support::sign_in(&base).await;

        println!("\n{n} contacts; 'son' matches {common_matches} of them\n");
        println!(
            "{:<58} {:>8} {:>8} {:>8}",
            "scenario (4 concurrent clients, 200 requests)", "p50 ms", "p95 ms", "max ms"
        );
        let scenarios = [
            (
                "search, rare term (one whole email address)",
                format!(
                    "/contacts?q={}",
                    contactbook::security::url_encode(&rare_email)
                ),
            ),
            (
                "search, rare term (unknown word 'zyxwv')",
                "/contacts?q=zyxwv".to_string(),
            ),
            (
                "search, rare term (part of a phone '9050 0001')",
                "/contacts?q=9050+0001".to_string(),
            ),
            (
                "search, common term 'son', sorted by name",
                "/contacts?q=son".to_string(),
            ),
            (
                "search, very common term 'company', sorted by name",
                "/contacts?q=company".to_string(),
            ),
            (
                "search, common term + type filter",
                "/contacts?q=son&type=customer".to_string(),
            ),
            (
                "search, common term + type + label never together",
                "/contacts?q=son&type=customer&label=1".to_string(),
            ),
            (
                "list, first page by name (cached up to 2 s)",
                "/contacts".to_string(),
            ),
            (
                "list, second page by name (never cached)",
                format!("/contacts?after={second}"),
            ),
            (
                "list, deepest page by name",
                format!("/contacts?after={deepest}"),
            ),
            (
                "list, first page by last updated",
                "/contacts?sort=updated&dir=desc".to_string(),
            ),
        ];
        for (name, path) in &scenarios {
            // Warm the caches first, as a working server's are: every pooled
            // connection plans its first queries slowly.
            latency(&base, &cookie, path, 4, 40).await;
            let (p50, p95, max) = latency(&base, &cookie, path, 4, 200).await;
            println!("{name:<58} {p50:>8.1} {p95:>8.1} {max:>8.1}");
        }
        println!();
        // The floors the list pages stand on, in the same run: the health
        // check (the server, a pooled connection's round trip and wrk), and
        // a signed-in page whose only query is the session (with the
        // member's row), rendered in the same layout.
        for (name, path) in [
            ("health check (no session; one `SELECT 1`)", "/healthz"),
            ("signed-in page reading only the session", "/me/password"),
        ] {
            for c in [8, 32] {
                if let Some(line) = wrk(&base, &cookie, path, c) {
                    println!("wrk, floor: {name}, {c} connections, 10 s: {line}");
                }
            }
        }
        for c in [8, 32] {
            match wrk(&base, &cookie, "/contacts", c) {
                Some(line) => println!("wrk, list first page, {c} connections, 10 s: {line}"),
                None => println!("wrk not found: apt-get install wrk for the throughput figures"),
            }
        }
        for c in [8, 32] {
            if let Some(line) = wrk(&base, &cookie, &format!("/contacts?after={second}"), c) {
                println!("wrk, list second page (never cached), {c} connections, 10 s: {line}");
            }
        }
        for c in [8, 32] {
            if let Some(line) = wrk(&base, &cookie, "/contacts?q=son", c) {
                println!("wrk, search 'son', {c} connections, 10 s: {line}");
            }
        }
        // Filtered pages are never cached: a type (planned once per
        // connection) and a label (planned each time: label sizes differ).
        for (name, path) in [
            ("type Customer", "/contacts?type=customer"),
            ("label VIP", "/contacts?label=1"),
        ] {
            for c in [8, 32] {
                if let Some(line) = wrk(&base, &cookie, path, c) {
                    println!("wrk, list filtered by {name}, {c} connections, 10 s: {line}");
                }
            }
        }
    });
    pg.stop();
}
