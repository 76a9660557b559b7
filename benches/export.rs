//! Exports of a filtered view at a million contacts.
//!
//! Run: `cargo bench --bench export` (BENCH_CONTACTS=N for another size).
//! Copies the contacts bench's million-contact database, starts the release
//! binary and exports views of different sizes over HTTP, checking that
//! every matching contact was written (the rows counted against SQL's
//! count) and reading the app's peak memory from /proc. Results go to
//! stdout; BENCHMARKS.md records them.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection};
use futures_util::StreamExt;

mod support;

use support::{count, memory};

fn main() {
    let (_pg, url, n, data) = support::million_copy("contactbook_bench_export");
    let mut conn = PgConnection::establish(&url).expect("connect");
    // Half of the contacts under one label: the view of 500,000.
    {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(
            "INSERT INTO labels (name) VALUES ('Half') ON CONFLICT DO NOTHING; \
             INSERT INTO contact_labels (contact_id, label_id) \
             SELECT c.id, l.id FROM contacts c, labels l WHERE l.name = 'Half' AND c.id % 2 = 0 ON CONFLICT DO NOTHING; \
             ANALYZE contact_labels;",
        )
        .expect("half");
    }
    let half = count(&mut conn, "SELECT id AS n FROM labels WHERE name = 'Half'");
    let port = support::free_port();
    let app = support::start_app(&url, port, &data.join("export-app"));
    let pid = app.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let sys = actix_rt::System::new();
    sys.block_on(support::wait_ready(&base));
    let cookie = sys.block_on(support::sign_in(&base));
    support::wait_for_first_duplicate_pass(&mut conn);
    println!("{n} contacts");
    let half_view = format!("label={half}");
    let half_sql = format!(
        "SELECT count(*) AS n FROM contacts c JOIN contact_labels cl ON cl.contact_id = c.id \
         WHERE c.deleted_at IS NULL AND cl.label_id = {half}"
    );
    for (view, sql) in [
        (half_view.as_str(), half_sql.as_str()),
        (
            "type=lead",
            "SELECT count(*) AS n FROM contacts WHERE deleted_at IS NULL AND contact_type = 'lead'",
        ),
        (
            "level=primary",
            "SELECT count(*) AS n FROM contacts WHERE deleted_at IS NULL AND level = 'primary'",
        ),
        (
            "q=ltd",
            "SELECT count(*) AS n FROM contacts WHERE deleted_at IS NULL AND search_text LIKE '%ltd%'",
        ),
        (
            "q=london",
            "SELECT count(*) AS n FROM contacts WHERE deleted_at IS NULL AND search_text LIKE '%london%'",
        ),
    ] {
        let expected = count(&mut conn, sql);
        support::reset_peak(pid);
        let (_, rss_before) = memory(pid);
        let started = Instant::now();
        let lines = sys.block_on(async {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(600))
                .finish();
            let mut res = client
                .get(format!("{base}/contacts/export.csv?{view}"))
                .insert_header(("Cookie", cookie.clone()))
                .send()
                .await
                .expect("export");
            assert_eq!(res.status().as_u16(), 200);
            let mut lines = 0usize;
            while let Some(chunk) = res.next().await {
                lines += chunk
                    .expect("chunk")
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
            }
            lines
        });
        let secs = started.elapsed().as_secs_f64();
        let rows = lines.saturating_sub(1);
        let (peak, _) = memory(pid);
        println!(
            "export ?{view}: {rows} rows (SQL counts {expected}{}) in {secs:.2} s = {:.0} rows/s; app resident before {rss_before:.0} MB, peak during it {peak:.0} MB",
            if rows as i64 == expected {
                ", all written"
            } else {
                ", MISMATCH"
            },
            rows as f64 / secs
        );
    }
    drop(app);
}
