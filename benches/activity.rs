//! Enquiries and activity at scale.
//!
//! Run: `cargo bench --bench activity` (BENCH_CONTACTS=N for another size).
//! Copies the contacts bench's million-contact database, gives one contact
//! 500 enquiries, 2,000 logged calls and SMS and 20,000 page views, opens
//! 10,000 enquiries across other contacts, then runs the release binary
//! (with TRUST_PROXY=true, so that events can come from many addresses) and
//! measures, over full HTTP with 4 concurrent clients: the Activity tab, the
//! Open enquiries list, and the journey endpoint's throughput for 10 s side by
//! side with the contact list's. Results go to stdout; BENCHMARKS.md records
//! them.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{Connection, PgConnection, connection::SimpleConnection};

mod support;

use support::{count, latency, start_app_with};

const SHOP: &str = "http://shop.bench";

fn main() {
    let (pg, url, n, data) = support::million_copy("contactbook_bench_activity");
    let mut conn = PgConnection::establish(&url).expect("connect");
    let admin = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'bench@example.com'",
    );
    let busy = count(&mut conn, "SELECT min(id) AS n FROM contacts");
    let started = Instant::now();
    // The app's own migrations run when it starts; these tables come from
    // them, so the base database is migrated first by starting it once.
    let port = support::free_port();
    let mut app = start_app_with(
        &url,
        port,
        &data.join("activity-app"),
        &[("TRUST_PROXY", "true")],
    );
    let base = format!("http://127.0.0.1:{port}");
    actix_rt::System::new().block_on(support::wait_ready(&base));
    let _ = app.kill();
    let _ = app.wait();
    conn.batch_execute(&format!(
        "INSERT INTO enquiries (contact_id, visitor_name, token_hash, status, created_at, opened_at, closed_at, resolution) \
         SELECT {busy}, 'Busy Contact', sha256(('busy' || i)::bytea), 'closed', now() - i * interval '1 hour', \
                now() - i * interval '1 hour', now() - i * interval '1 hour' + interval '20 minutes', 'Answered' \
         FROM generate_series(1, 500) i; \
         INSERT INTO enquiries (contact_id, visitor_name, token_hash, status, created_at, opened_at) \
         SELECT 1000 + i * 97, 'Visitor ' || i, sha256(('open' || i)::bytea), 'open', now() - i * interval '1 second', \
                now() - i * interval '1 second' \
         FROM generate_series(1, 10000) i; \
         INSERT INTO enquiry_messages (enquiry_id, body, created_at) \
         SELECT q.id, 'Hello, I have a question about order ' || q.id || '. Could someone call me back today?', q.created_at \
         FROM enquiries q; \
         INSERT INTO enquiry_messages (enquiry_id, staff_id, body, created_at) \
         SELECT q.id, {admin}, 'Thanks, we are on it.', q.created_at + interval '5 minutes' FROM enquiries q WHERE q.contact_id = {busy}; \
         UPDATE settings SET missed_after_minutes = 1440; \
         INSERT INTO engagements (contact_id, staff_id, kind, number, outcome, duration_seconds, body, note, created_at, updated_at) \
         SELECT {busy}, {admin}, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'call' END, '+85291234567', \
                CASE WHEN i % 3 = 0 THEN 'sent' ELSE 'answered' END, CASE WHEN i % 3 = 0 THEN NULL ELSE 60 + i % 600 END, \
                CASE WHEN i % 3 = 0 THEN 'Reminder ' || i ELSE '' END, 'Logged ' || i, \
                now() - i * interval '17 minutes', now() - i * interval '17 minutes' \
         FROM generate_series(1, 2000) i; \
         INSERT INTO web_visitors (visitor_id, contact_id) VALUES ('busyvisitor000000000000000000000', {busy}); \
         INSERT INTO page_views (visitor_id, contact_id, origin, url, title, referrer, viewed_at) \
         SELECT 'busyvisitor000000000000000000000', {busy}, '{SHOP}', '{SHOP}/page/' || (i % 40), 'Page ' || (i % 40), '', \
                now() - i * interval '3 minutes' \
         FROM generate_series(1, 20000) i; \
         INSERT INTO web_origins (origin) VALUES ('{SHOP}');"
    ))
    .expect("seed the activity");
    // Alone: a multi-statement batch runs as one transaction.
    conn.batch_execute("VACUUM ANALYZE").expect("vacuum");
    println!(
        "{n} contacts; seeded 500 + 10,000 enquiries, 2,000 engagements, 20,000 page views in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(conn);

    let mut app = start_app_with(
        &url,
        port,
        &data.join("activity-app"),
        &[("TRUST_PROXY", "true")],
    );
    actix_rt::System::new().block_on(async {
        support::wait_ready(&base).await;
        let cookie = support::sign_in(&base).await;
        println!("| scenario (4 clients, 200 requests) | p50 ms | p95 ms | max ms |");
        println!("|---|---:|---:|---:|");
        for (name, path) in [
            ("Activity tab (500 enquiries, 2,000 calls/SMS, 20,000 page views)", format!("/contacts/{busy}/activity")),
            ("Open enquiries list (10,000 open)", "/enquiries".to_string()),
            ("Closed enquiries list", "/enquiries?tab=closed".to_string()),
            ("Profile tab of the busy contact", format!("/contacts/{busy}")),
        ] {
            latency(&base, &cookie, &path, 4, 40).await;
            let (p50, p95, max) = latency(&base, &cookie, &path, 4, 200).await;
            println!("| {name} | {p50:.1} | {p95:.1} | {max:.1} |");
        }

        // The contact list alone, then beside a flood of page views.
        let list_alone = list_throughput(&base, &cookie, Duration::from_secs(5)).await;
        let sent = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let before = {
            let mut c = PgConnection::establish(&url).expect("connect");
            count(&mut c, "SELECT count(*) AS n FROM page_views")
        };
        let run_for = Duration::from_secs(10);
        let mut senders = Vec::new();
        for client in 0..4 {
            let base = base.clone();
            let sent = sent.clone();
            let accepted = accepted.clone();
            senders.push(actix_rt::spawn(async move {
                let http = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
                let start = Instant::now();
                let mut i = client;
                while start.elapsed() < run_for {
                    // 20,000 visitors and 2,000 addresses: each stays far
                    // below its per-minute limit, as real traffic would.
                    let visitor = format!("benchvisitor{:020}", i % 20_000);
                    let address = format!("10.9.{}.{}", i / 256 % 8, i % 256);
                    let body = format!(
                        "{{\"v\":\"{visitor}\",\"u\":\"{SHOP}/products/{}\",\"t\":\"Product {}\",\"r\":\"\",\"at\":null}}",
                        i % 500,
                        i % 500
                    );
                    let res = http
                        .post(format!("{base}/journey/events"))
                        .insert_header(("Origin", SHOP))
                        .insert_header(("Content-Type", "text/plain"))
                        .insert_header(("X-Forwarded-For", address))
                        .send_body(body)
                        .await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if res.is_ok_and(|r| r.status().as_u16() == 202) {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 4;
                }
            }));
        }
        let list_beside = list_throughput(&base, &cookie, run_for).await;
        for s in senders {
            s.await.expect("sender");
        }
        let sent = sent.load(Ordering::Relaxed);
        let accepted = accepted.load(Ordering::Relaxed);
        // The writer flushes at least every 200 ms.
        actix_rt::time::sleep(Duration::from_secs(2)).await;
        let written = {
            let mut c = PgConnection::establish(&url).expect("connect");
            count(&mut c, "SELECT count(*) AS n FROM page_views") - before
        };
        println!(
            "\njourney endpoint, 4 clients for {} s: {sent} sent, {accepted} accepted ({:.0} events/s), {written} written",
            run_for.as_secs(),
            accepted as f64 / run_for.as_secs_f64()
        );
        println!(
            "contact list, 1 client: alone {:.0} pages/s (p95 {:.1} ms); beside the journey load {:.0} pages/s (p95 {:.1} ms)",
            list_alone.0, list_alone.1, list_beside.0, list_beside.1
        );
    });
    let _ = app.kill();
    let _ = app.wait();
    pg.stop();
}

/// Pages of the contact list one client loads in `for_`: (pages/s, p95 ms).
async fn list_throughput(base: &str, cookie: &str, for_: Duration) -> (f64, f64) {
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let url = format!("{base}/contacts?q=son");
    let start = Instant::now();
    let mut times = Vec::new();
    while start.elapsed() < for_ {
        times.push(support::timed_get(&http, &url, cookie).await);
    }
    times.sort();
    (
        times.len() as f64 / start.elapsed().as_secs_f64(),
        support::percentile(&times, 0.95),
    )
}
