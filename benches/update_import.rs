//! An update import at a million: export every contact, change one field
//! (Job Title) in the first BENCH_UPDATE_ROWS rows of the export, import that
//! file in update mode, then the same file in create mode, in the same run.
//! Reports each job's time and rate, the app's peak memory, and list and
//! search latency while the update import runs.
//!
//! Run: `cargo bench --bench update_import` (BENCH_CONTACTS=N for the
//! database, BENCH_UPDATE_ROWS=N for the file; a million each unless set).

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{Connection, PgConnection};
use futures_util::StreamExt;

mod support;

use support::{count, memory, reset_peak, start_app};

fn main() {
    let rows: i64 = std::env::var("BENCH_UPDATE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (pg, url, _n, data) = support::million_copy("contactbook_bench_update");
    let mut db = PgConnection::establish(&url).expect("connect");
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app_dir = data.join("update-app");
    let _ = std::fs::remove_dir_all(&app_dir);
    let app = start_app(&url, port, &app_dir);
    let pid = app.id();
    let export = data.join("update-export.csv");
    let file = data.join(format!("update-{rows}.csv"));
    let system = actix_rt::System::new();
    system.block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(3600))
            .disable_redirects()
            .finish();
        support::wait_ready(&base).await;
        support::wait_for_first_duplicate_pass(&mut db);
        let cookie = support::sign_in(&base).await;

        // The export, to disk.
        let mut res = client
            .get(format!("{base}/contacts/export.csv"))
            .insert_header(("Cookie", cookie.clone()))
            .send()
            .await
            .expect("export");
        assert_eq!(res.status().as_u16(), 200);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&export).expect("file"));
        while let Some(chunk) = res.next().await {
            out.write_all(&chunk.expect("chunk")).expect("write");
        }
        out.flush().expect("flush");
        drop(out);
        let changed = change_job_titles(&export, &file, rows);
        assert_eq!(changed, rows, "the export has fewer rows than asked for");
        println!("exported, and changed the Job Title of the first {rows} rows");

        reset_peak(pid);
        let running = Arc::new(AtomicBool::new(true));
        let probes = support::spawn_probes(
            &base,
            &cookie,
            &["/contacts?type=customer", "/contacts?q=son"],
            &running,
        );
        let id = import(&client, &base, &cookie, &file, "update", &mut db).await;
        running.store(false, Ordering::Relaxed);
        let (secs, updated, unchanged, failed, imported) = outcome(&mut db, id);
        let (peak, _) = memory(pid);
        println!(
            "update import of {rows} rows: {secs:.1} s ({:.0} rows/s), {updated} updated, {unchanged} unchanged, {imported} created, {failed} failed; app peak memory {peak:.0} MB",
            rows as f64 / secs
        );
        support::report_probes(
            probes,
            &["list filtered by type", "search 'son'"],
            "  meanwhile",
        )
        .await;
        let waited = support::wait_for_quiet_scanner(&mut db);
        println!("  (then waited {waited:.0} s for the duplicate scanner's pass)");

        // The same rows, created: the yardstick of the same run.
        reset_peak(pid);
        let id = import(&client, &base, &cookie, &file, "create", &mut db).await;
        let (create_secs, _, _, failed, imported) = outcome(&mut db, id);
        let (peak, _) = memory(pid);
        println!(
            "create import of the same {rows} rows: {create_secs:.1} s ({:.0} rows/s), {imported} created, {failed} failed; app peak memory {peak:.0} MB; the update import took {:.2}x as long",
            rows as f64 / create_secs,
            secs / create_secs
        );
    });
    drop(app);
    pg.stop();
}

/// Copies the header and the first `rows` records of `from` to `to`, with
/// " II" added to every Job Title; how many were written.
fn change_job_titles(from: &std::path::Path, to: &std::path::Path, rows: i64) -> i64 {
    let text = std::fs::read(from).expect("read export");
    let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&text);
    let mut reader = csv::Reader::from_reader(text);
    let header = reader.headers().expect("header").clone();
    let col = header
        .iter()
        .position(|h| h == "Job Title")
        .expect("a Job Title column");
    let mut writer = csv::Writer::from_path(to).expect("write file");
    writer.write_record(&header).expect("header");
    let mut n = 0;
    for record in reader.records() {
        if n == rows {
            break;
        }
        let record = record.expect("record");
        let changed: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i == col {
                    format!("{v} II")
                } else {
                    v.to_string()
                }
            })
            .collect();
        writer.write_record(&changed).expect("row");
        n += 1;
    }
    writer.flush().expect("flush");
    n
}

/// Uploads `file`, starts it in `mode` and waits for it to end; its id.
async fn import(
    client: &awc::Client,
    base: &str,
    cookie: &str,
    file: &std::path::Path,
    mode: &str,
    db: &mut PgConnection,
) -> i64 {
    let mut page = client
        .get(format!("{base}/imports"))
        .insert_header(("Cookie", cookie.to_string()))
        .send()
        .await
        .expect("imports page");
    let html =
        String::from_utf8_lossy(&page.body().limit(1 << 20).await.expect("body")).into_owned();
    let token = support::csrf_token(&html);
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
        "  {mode} upload and preview: {:.1} s",
        uploaded.elapsed().as_secs_f64()
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
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
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
fn outcome(db: &mut PgConnection, id: i64) -> (f64, i64, i64, i64, i64) {
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
