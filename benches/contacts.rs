//! The contact list and search at a million contacts, through real HTTP.
//!
//! Run: `cargo bench --bench contacts` (BENCH_CONTACTS=N to change the size).
//! Loads N generated contacts once into a private PostgreSQL under
//! target/bench-pg (reused by later runs), starts the app on a free port and
//! measures; `wrk` (apt-get install wrk) gives the throughput figures.
//! Results go to stdout; BENCHMARKS.md records them.

use std::{
    net::TcpListener,
    process::Command,
    time::{Duration, Instant},
};

use contactbook::{
    config::Config,
    db::{self, embedded::EmbeddedPostgres},
    domain::{password::hash_password, staff::Role},
    models::{
        contact_list::Cursor,
        staff::{NewStaff, Staff},
    },
};
use diesel::{
    Connection, PgConnection, QueryableByName, RunQueryDsl, sql_query, sql_types::BigInt,
};

const PASSWORD: &str = "benchmark password";

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sql_query(sql).get_result::<N>(conn).expect("count").n
}

/// Generated people: 200 first names × 250 last names, companies, one email
/// and one mobile each, a quarter of them labelled.
fn load(conn: &mut PgConnection, n: i64, owner: i64) {
    let started = Instant::now();
    let first = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Julia Bruce Judy Gabriel Sophia Logan Grace Albert Denise Willie Amber Alan Doris Juan Marilyn Wayne Danielle Elijah Beverly Randy Isabella Roy Theresa Vincent Diana Ralph Natalie Eugene Brittany Russell Charlotte Bobby Marie Mason Kayla Philip Alexis Louis Lori Mei Wei Hiroshi Yuki Priya Ravi Olu Amara Chen Lena";
    let last = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Chan Wong Sato Tanaka Kumar Vogel Bianchi Okafor Haddad Yilmaz";
    let array = |words: &str| {
        format!(
            "ARRAY['{}']",
            words.split_whitespace().collect::<Vec<_>>().join("','")
        )
    };
    sql_query(format!(
        "INSERT INTO contacts (first_name, last_name, contact_type, level, company, job_title, city, country, owner_id, created_at, updated_at, search_text) \
         SELECT f, l, (ARRAY['lead','prospect','customer','others'])[1 + i % 4], (ARRAY['primary','secondary','tertiary'])[1 + i % 3], \
                co, (ARRAY['Buyer','Manager','Director','Engineer','Analyst'])[1 + i % 5], (ARRAY['Hong Kong','London','Milano','Tokyo','Lagos'])[1 + i % 5], \
                (ARRAY['HK','GB','IT','JP','NG'])[1 + i % 5], {owner}, now() - (i || ' minutes')::interval, now() - (i || ' seconds')::interval, \
                lower(f || ' ' || l || ' ' || co || ' ' || lower(f) || '.' || lower(l) || i || '@example.com') || ' ' || (85290000000 + i)::text \
         FROM (SELECT i, ({first})[1 + (i * 7919) % {nf}] AS f, ({last})[1 + (i * 104729) % {nl}] AS l, \
                      'Company ' || (i % 50000) || ' Ltd' AS co FROM generate_series(1::bigint, {n}) i) g",
        first = array(first),
        last = array(last),
        nf = first.split_whitespace().count(),
        nl = last.split_whitespace().count(),
    ))
    .execute(conn)
    .expect("insert contacts");
    sql_query(
        "INSERT INTO contact_emails (contact_id, kind, email, position) \
         SELECT id, 'work', lower(first_name) || '.' || lower(last_name) || row_number() OVER (ORDER BY id) || '@example.com', 0 FROM contacts",
    )
    .execute(conn)
    .expect("emails");
    sql_query("INSERT INTO contact_phones (contact_id, kind, number, position) SELECT id, 'mobile', '+' || (85290000000 + row_number() OVER (ORDER BY id))::text, 0 FROM contacts")
        .execute(conn)
        .expect("phones");
    sql_query("INSERT INTO labels (name, colour) VALUES ('VIP', '#b91c1c'), ('Newsletter', '#15803d') ON CONFLICT DO NOTHING").execute(conn).expect("labels");
    sql_query("INSERT INTO contact_labels (contact_id, label_id) SELECT c.id, l.id FROM contacts c, labels l WHERE c.id % 4 = 0 AND l.name = 'VIP'")
        .execute(conn)
        .expect("contact labels");
    sql_query("VACUUM ANALYZE").execute(conn).expect("analyze");
    println!(
        "loaded {n} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `total` GETs of `path` from `clients` concurrent clients; (p50, p95, max) in ms.
async fn latency(
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
                let t = Instant::now();
                let mut res = client
                    .get(&url)
                    .insert_header(("Cookie", cookie.clone()))
                    .send()
                    .await
                    .expect("GET");
                let body = res.body().limit(8 << 20).await.expect("body");
                assert_eq!(
                    res.status().as_u16(),
                    200,
                    "{}",
                    String::from_utf8_lossy(&body)
                );
                times.push(t.elapsed());
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
    let dbname = format!("contactbook_bench_{n}");
    pg.ensure_database(&dbname).expect("database");
    let url = pg.url(&dbname);
    let pool = db::build_pool(&url, 10, Duration::from_secs(5)).expect("pool");
    db::run_migrations(&pool).expect("migrate");
    let mut conn = PgConnection::establish(&url).expect("connect");
    let admin = match Staff::find_by_email(&mut conn, "bench@example.com").expect("query") {
        Some(s) => s.id,
        None => {
            let hash = hash_password(PASSWORD).expect("hash");
            Staff::insert(
                &mut conn,
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
    };
    let have = count(&mut conn, "SELECT count(*) AS n FROM contacts");
    if have != n {
        sql_query("TRUNCATE contacts CASCADE")
            .execute(&mut conn)
            .expect("truncate");
        load(&mut conn, n, admin);
    } else {
        println!("reusing {n} contacts in {dbname}");
    }
    // The deepest page of the name order: its cursor is the 26th row from the end.
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sort_name: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let last: Last = sql_query("SELECT sort_name, id FROM contacts WHERE deleted_at IS NULL ORDER BY sort_name DESC, id DESC OFFSET 25 LIMIT 1")
        .get_result(&mut conn)
        .expect("last page cursor");
    let deepest = Cursor {
        key: last.sort_name,
        id: last.id,
    }
    .encode();
    let rare_email = count(&mut conn, "SELECT max(id) / 2 AS n FROM contacts");
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
        let token = body
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("token")
            .to_string();
        let res = client
            .post(format!("{base}/login"))
            .insert_header(("Cookie", cookie.clone()))
            .insert_header(("Origin", base.clone()))
            .send_form(&[
                ("csrf_token", token.as_str()),
                ("email", "bench@example.com"),
                ("password", PASSWORD),
            ])
            .await
            .expect("sign in");
        assert_eq!(res.status().as_u16(), 303, "signed in");
        let cookie = res
            .cookies()
            .expect("cookies")
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ");

        println!("\n{n} contacts; 'son' matches {common_matches} of them\n");
        println!(
            "{:<58} {:>8} {:>8} {:>8}",
            "scenario (4 concurrent clients, 200 requests)", "p50 ms", "p95 ms", "max ms"
        );
        let scenarios = [
            (
                "search, rare term (one email address)",
                format!("/contacts?q=example.com+{rare_email}"),
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
            ("list, first page by name", "/contacts".to_string()),
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
        for c in [8, 32] {
            match wrk(&base, &cookie, "/contacts", c) {
                Some(line) => println!("wrk, list first page, {c} connections, 10 s: {line}"),
                None => println!("wrk not found: apt-get install wrk for the throughput figures"),
            }
        }
        for c in [8, 32] {
            if let Some(line) = wrk(&base, &cookie, "/contacts?q=son", c) {
                println!("wrk, search 'son', {c} connections, 10 s: {line}");
            }
        }
    });
    pg.stop();
}
