//! Import and export at a million rows, side by side with `psql \copy`.
//!
//! Run: `cargo bench --bench bulk` (BENCH_CONTACTS=N for the contacts already
//! there, BENCH_IMPORT_ROWS=N for the file; both default to 1,000,000).
//! Copies the contacts bench's database (loaded on first use), writes a file in
//! the template format, times `psql \copy` of it into a plain table without
//! indexes, then runs the app's release binary as its own process, uploads
//! the file over HTTP, imports it while measuring list and search latency,
//! exports everything, and reads the app's peak memory from /proc.
//! Results go to stdout; BENCHMARKS.md records them.

use std::{
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use contactbook::db::embedded::EmbeddedPostgres;
use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};
use futures_util::StreamExt;

mod support;

use support::{count, memory, reset_peak, start_app};

/// CPU seconds used so far: by one process (`Some(pid)`) or by the whole
/// machine (all cores, idle and I/O wait excluded).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    // Clock ticks; 100 a second on Linux.
    const HZ: f64 = 100.0;
    let ticks: f64 = match pid {
        Some(pid) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .map(|rest| {
                // utime and stime are fields 14 and 15; `rest` starts at field 3.
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|v| v.parse::<f64>().ok())
                    .sum()
            })
            .unwrap_or(0.0),
        None => std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .next()
            .map(|cpu| {
                cpu.split_whitespace()
                    .skip(1)
                    .enumerate()
                    // user nice system (idle iowait) irq softirq steal
                    .filter(|(i, _)| !matches!(i, 3 | 4))
                    .take(6)
                    .filter_map(|(_, v)| v.parse::<f64>().ok())
                    .sum()
            })
            .unwrap_or(0.0),
    };
    ticks / HZ
}

fn main() {
    let n: i64 = std::env::var("BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rows: i64 = std::env::var("BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let data = target.join("bench-data");
    std::fs::create_dir_all(&data).expect("data dir");
    let pg = EmbeddedPostgres::start(&target.join("bench-pg")).expect("start PostgreSQL");
    support::base_database(&pg, n);

    // A fresh copy of the million contacts, indexes and all.
    let url = support::fresh_copy(&pg, n, "contactbook_bench_import");
    let mut conn = PgConnection::establish(&url).expect("connect");

    let file = data.join(format!("import-{rows}.csv"));
    support::template_file(&file, rows);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);

    // The yardstick: psql \copy into a plain table with the same columns.
    let cols: Vec<String> = (1..=32).map(|i| format!("c{i} text")).collect();
    sql_query(format!("CREATE TABLE plain_copy ({})", cols.join(", ")))
        .execute(&mut conn)
        .expect("plain table");
    let started = Instant::now();
    let status = Command::new("psql")
        .arg(&url)
        .arg("-q")
        .arg("-c")
        .arg(format!(
            "\\copy plain_copy FROM '{}' WITH (FORMAT csv, HEADER true)",
            file.display()
        ))
        .status()
        .expect("psql");
    assert!(status.success(), "psql \\copy failed");
    let copy_secs = started.elapsed().as_secs_f64();
    sql_query("DROP TABLE plain_copy")
        .execute(&mut conn)
        .expect("drop plain");
    sql_query("CHECKPOINT")
        .execute(&mut conn)
        .expect("checkpoint");
    println!(
        "psql \\copy of {rows} rows ({} MB) into a plain table: {copy_secs:.1} s",
        size >> 20
    );

    // The app as its own process.
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app_dir = data.join("app");
    let _ = std::fs::remove_dir_all(&app_dir);
    let mut app = start_app(&url, port, &app_dir);
    let pid = app.id();

    let system = actix_rt::System::new();
    let mut app = system.block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(600))
            .disable_redirects()
            .finish();
        support::wait_ready(&base).await;
        let cookie = support::sign_in(&base).await;
        let mut page = client
            .get(format!("{base}/imports"))
            .insert_header(("Cookie", cookie.clone()))
            .send()
            .await
            .expect("imports page");
        let html = String::from_utf8_lossy(&page.body().limit(1 << 20).await.expect("body")).into_owned();
        let token = support::csrf_token(&html);
        // The freshly started app's first duplicate pass is not the
        // export's or the import's.
        let mut db = PgConnection::establish(&url).expect("connect");
        support::wait_for_first_duplicate_pass(&mut db);
        // The million contacts as they are, from a freshly started app.
        export_all(&client, &base, &cookie, pid, n).await;
        reset_peak(pid);
        let (idle_peak, idle_rss) = memory(pid);
        println!("app memory before the upload: {idle_rss:.0} MB (peak so far {idle_peak:.0} MB)");

        // Upload, streamed from disk, and the preview's full checking pass.
        let boundary = "----contactbookbenchboundary";
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\ncreate\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"import.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let body_file = std::fs::File::open(&file).expect("open");
        let file_stream = file_chunks(body_file);
        let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(actix_web::web::Bytes::from(head)) })
            .chain(file_stream)
            .chain(futures_util::stream::once(async move { Ok(actix_web::web::Bytes::from(tail)) }));
        let started = Instant::now();
        let res = client
            .post(format!("{base}/imports"))
            .insert_header(("Cookie", cookie.clone()))
            .insert_header(("Origin", base.clone()))
            .insert_header(("Content-Type", format!("multipart/form-data; boundary={boundary}")))
            .send_stream(body)
            .await
            .expect("upload");
        assert_eq!(res.status().as_u16(), 303, "upload refused");
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("preview location")
            .to_string();
        let upload_secs = started.elapsed().as_secs_f64();
        let id: i64 = location.trim_start_matches("/imports/").parse().expect("id");
        let (peak, _) = memory(pid);
        println!("upload and preview check of {} MB: {upload_secs:.1} s; app peak memory so far {peak:.0} MB", size >> 20);

        // Start, and measure the list and search while it runs.
        let res = client
            .post(format!("{base}/imports/{id}/start"))
            .insert_header(("Cookie", cookie.clone()))
            .insert_header(("Origin", base.clone()))
            .send_form(&[("csrf_token", token.as_str()), ("mode", "create")])
            .await
            .expect("start");
        assert_eq!(res.status().as_u16(), 303);
        let started = Instant::now();
        let (app_cpu, all_cpu) = (cpu_seconds(Some(pid)), cpu_seconds(None));
        let running = Arc::new(AtomicBool::new(true));
        // A filtered list is never served from the first-page cache: each
        // probe reads the database while the import writes to it.
        let probes = support::spawn_probes(
            &base,
            &cookie,
            &["/contacts?type=customer", "/contacts?q=son", "/contacts?q=9050+0001"],
            &running,
        );
        let mut peak_rss = 0.0f64;
        loop {
            let (_, rss) = memory(pid);
            peak_rss = peak_rss.max(rss);
            let done = count(
                &mut db,
                &format!("SELECT count(*) AS n FROM imports WHERE id = {id} AND status IN ('done', 'failed')"),
            );
            if done == 1 {
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
        let wall = started.elapsed().as_secs_f64();
        let (app_cpu, all_cpu) = (cpu_seconds(Some(pid)) - app_cpu, cpu_seconds(None) - all_cpu);
        running.store(false, Ordering::Relaxed);
        println!(
            "CPU during the import: app {app_cpu:.1} s, whole machine {all_cpu:.1} s of {:.1} s available",
            wall * std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
        );
        let job_secs = count(
            &mut db,
            &format!("SELECT (extract(epoch FROM finished_at - started_at) * 1000)::bigint AS n FROM imports WHERE id = {id}"),
        ) as f64
            / 1000.0;
        let imported = count(&mut db, &format!("SELECT imported AS n FROM imports WHERE id = {id}"));
        let failed = count(&mut db, &format!("SELECT failed AS n FROM imports WHERE id = {id}"));
        let (peak, _) = memory(pid);
        println!(
            "import job: {job_secs:.1} s ({:.0} rows/s; {wall:.1} s from the click), {imported} imported, {failed} failed; {:.2}x the psql \\copy time",
            rows as f64 / job_secs,
            job_secs / copy_secs
        );
        println!("app memory: peak {peak:.0} MB over the whole run (upload included); highest resident sample during the job {peak_rss:.0} MB");
        support::report_probes(
            probes,
            &["list filtered by type (never cached)", "search 'son'", "search part of a phone"],
            "during the import",
        )
        .await;

        // Export everything, streamed, from a freshly started app so that its
        // peak memory is the export's own.
        sql_query("VACUUM ANALYZE").execute(&mut db).expect("analyze");
        let total = count(&mut db, "SELECT count(*) AS n FROM contacts WHERE deleted_at IS NULL");
        let _ = app.kill();
        let _ = app.wait();
        app = start_app(&url, port, &app_dir);
        let pid = app.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the app did not restart");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let cookie = support::sign_in(&base).await;
        // The pass over what the import wrote is not the export's.
        let waited = support::wait_for_quiet_scanner(&mut db);
        println!("(waited {waited:.0} s for the duplicate scanner's pass over the import before the export)");
        export_all(&client, &base, &cookie, pid, total).await;
        app
    });
    let _ = app.kill();
    let _ = app.wait();
    pg.stop();
}

/// Exports every contact and reports rate, first byte and peak memory.
async fn export_all(client: &awc::Client, base: &str, cookie: &str, pid: u32, total: i64) {
    reset_peak(pid);
    let (before, _) = memory(pid);
    let started = Instant::now();
    let mut res = client
        .get(format!("{base}/contacts/export.csv"))
        .insert_header(("Cookie", cookie.to_string()))
        .send()
        .await
        .expect("export");
    assert_eq!(res.status().as_u16(), 200);
    let mut first_byte = None;
    let mut first_row = None;
    let mut bytes = 0usize;
    let mut lines = 0usize;
    while let Some(chunk) = res.next().await {
        let chunk = chunk.expect("chunk");
        first_byte.get_or_insert_with(|| started.elapsed());
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        if lines > 1 {
            first_row.get_or_insert_with(|| started.elapsed());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let (peak, _) = memory(pid);
    println!(
        "export of {total} contacts: {} lines ({}), {} MB in {secs:.1} s = {:.0} rows/s; first byte after {:.0} ms, first contact after {:.0} ms; app peak memory during it {peak:.0} MB (resident before {before:.0} MB)",
        lines,
        if lines.saturating_sub(1) as i64 == total {
            "every contact written"
        } else {
            "NOT every contact written"
        },
        bytes >> 20,
        (lines.saturating_sub(1)) as f64 / secs,
        first_byte.unwrap_or_default().as_secs_f64() * 1000.0,
        first_row.unwrap_or_default().as_secs_f64() * 1000.0
    );
}

/// The file as a stream of 256 KB chunks, so the client never holds it whole
/// (a blocking read is fine in this single-purpose client).
fn file_chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> {
    use std::io::Read;
    futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(actix_web::web::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}
