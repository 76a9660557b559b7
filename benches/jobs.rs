//! Bulk changes of every contact at a million, as background jobs: set the
//! type of all, move all to the trash, restore them all. Each is asked for
//! over HTTP as a member would ("all that match", then the trash's "Restore
//! everything"), and timed from the click to the job's end while three
//! probes read the list and a search; the app's peak memory per job.
//!
//! Run: `cargo bench --bench jobs` (BENCH_CONTACTS=N; a million unless set).
//! Results go to stdout; BENCHMARKS.md records them.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{Connection, PgConnection};

mod support;

use support::{count, memory, reset_peak, start_app};

/// Probes that read the database while a job writes: a filtered list (never
/// cached), a search, and the landing page (whose cache every batch clears).
const PROBES: [(&str, &str); 3] = [
    ("/contacts?type=customer", "list filtered by type"),
    ("/contacts?q=son", "search 'son'"),
    ("/contacts", "first page of the list"),
];

fn main() {
    let (pg, url, n, data) = support::million_copy("contactbook_bench_jobs");
    let mut db = PgConnection::establish(&url).expect("connect");
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app_dir = data.join("jobs-app");
    let _ = std::fs::remove_dir_all(&app_dir);
    let app = start_app(&url, port, &app_dir);
    let pid = app.id();
    let system = actix_rt::System::new();
    system.block_on(async move {
        support::wait_ready(&base).await;
        support::wait_for_first_duplicate_pass(&mut db);
        let cookie = support::sign_in(&base).await;
        let job = |path: &'static str,
                   form: Vec<(&'static str, &'static str)>,
                   what: &'static str| { Job { path, form, what } };
        for step in [
            job(
                "/contacts/bulk",
                vec![
                    ("all", "1"),
                    ("action", "type"),
                    ("contact_type", "customer"),
                ],
                "set the type of every contact",
            ),
            job(
                "/contacts/bulk",
                vec![("all", "1"), ("action", "delete"), ("confirmed", "1")],
                "move every contact to the trash",
            ),
            job(
                "/contacts/trash/restore",
                vec![],
                "restore everything in the trash",
            ),
        ] {
            run(&base, &cookie, &mut db, pid, n, step).await;
        }
    });
    drop(app);
    pg.stop();
}

struct Job {
    path: &'static str,
    form: Vec<(&'static str, &'static str)>,
    what: &'static str,
}

async fn run(base: &str, cookie: &str, db: &mut PgConnection, pid: u32, n: i64, job: Job) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .disable_redirects()
        .finish();
    let mut page = client
        .get(format!("{base}/contacts"))
        .insert_header(("Cookie", cookie.to_string()))
        .send()
        .await
        .expect("contacts page");
    let html =
        String::from_utf8_lossy(&page.body().limit(8 << 20).await.expect("body")).into_owned();
    let token = support::csrf_token(&html);
    reset_peak(pid);

    let running = Arc::new(AtomicBool::new(true));
    let paths: Vec<&str> = PROBES.iter().map(|(p, _)| *p).collect();
    let probes = support::spawn_probes(base, cookie, &paths, &running);

    let started = Instant::now();
    let mut form = job.form.clone();
    form.push(("csrf_token", token.as_str()));
    let res = client
        .post(format!("{base}{}", job.path))
        .insert_header(("Cookie", cookie.to_string()))
        .insert_header(("Origin", base.to_string()))
        .send_form(&form)
        .await
        .expect("ask for the job");
    assert_eq!(res.status().as_u16(), 303, "{}", job.what);
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let answered = started.elapsed().as_secs_f64();
    let id = count(db, "SELECT max(id) AS n FROM bulk_jobs");
    assert_eq!(
        location,
        format!("/bulk-changes/{id}"),
        "a million contacts go to the job's page"
    );
    let mut peak_rss = 0.0f64;
    loop {
        peak_rss = peak_rss.max(memory(pid).1);
        let ended = count(
            db,
            &format!(
                "SELECT count(*) AS n FROM bulk_jobs WHERE id = {id} AND status IN ('done', 'failed', 'cancelled')"
            ),
        );
        if ended == 1 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let status = count(
        db,
        &format!("SELECT count(*) AS n FROM bulk_jobs WHERE id = {id} AND status = 'done'"),
    );
    assert_eq!(status, 1, "{} ended otherwise", job.what);
    let changed = count(
        db,
        &format!("SELECT changed AS n FROM bulk_jobs WHERE id = {id}"),
    );
    let walked = count(
        db,
        &format!("SELECT walked AS n FROM bulk_jobs WHERE id = {id}"),
    );
    assert_eq!(walked, n, "{}: every contact gone through", job.what);
    let job_secs = count(
        db,
        &format!(
            "SELECT (extract(epoch FROM finished_at - started_at) * 1000)::bigint AS n FROM bulk_jobs WHERE id = {id}"
        ),
    ) as f64
        / 1000.0;
    let (peak, _) = memory(pid);
    println!(
        "{}: {walked} contacts gone through, {changed} changed (the others had it already); job {job_secs:.1} s ({:.0} contacts/s), {wall:.1} s from the click (answered in {:.0} ms); app peak memory {peak:.0} MB (highest sample {peak_rss:.0} MB)",
        job.what,
        walked as f64 / job_secs,
        answered * 1000.0
    );
    let names: Vec<&str> = PROBES.iter().map(|(_, n)| *n).collect();
    support::report_probes(probes, &names, "  meanwhile").await;
    // The duplicate pass that follows a large change is not the next job's.
    let waited = support::wait_for_quiet_scanner(db);
    println!("  (then waited {waited:.0} s for the duplicate scanner's pass)");
}
