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

use support::{count, import, memory, outcome, reset_peak, start_app};

fn main() {
    let rows: i64 = std::env::var("BENCH_UPDATE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (pg, url, n, data) = support::million_copy("contactbook_bench_update");
    // The floors are measured in fresh copies of the same million: no row
    // versions left by the bench's own jobs, which can only make them lower.
    let update_floor_db = support::fresh_copy(&pg, n, "contactbook_bench_floor_update");
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
    let (floor_url, floor_dir) = (url.clone(), data.clone());
    let outcome = system.block_on(async move {
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
        let (_, resident) = memory(pid);
        println!("  app resident before the update import: {resident:.0} MB");
        let running = Arc::new(AtomicBool::new(true));
        let probes = support::spawn_probes(
            &base,
            &cookie,
            &["/contacts?type=customer", "/contacts?q=son"],
            &running,
        );
        let id = import(&client, &base, &cookie, &file, "update", &mut db, pid).await;
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
        let settled = settle(&url);
        println!("  (then waited {settled:.0} s for PostgreSQL to be idle: autovacuum)");
        let floor = update_floor(&url, &update_floor_db, &data, id);
        println!(
            "  floor: PostgreSQL writing the same contact rows, change-log rows and row records itself (COPY to a stage, one UPDATE, COPY; two connections): {floor:.1} s; the update import took {:.2}x its floor",
            secs / floor
        );
        let first = count(&mut db, "SELECT max(id) AS n FROM contacts");

        // The same rows, created: the yardstick of the same run.
        reset_peak(pid);
        let (_, resident) = memory(pid);
        println!("  app resident before the create import: {resident:.0} MB");
        let id = import(&client, &base, &cookie, &file, "create", &mut db, pid).await;
        let (create_secs, _, _, failed, imported) = outcome(&mut db, id);
        let (peak, _) = memory(pid);
        println!(
            "create import of the same {rows} rows: {create_secs:.1} s ({:.0} rows/s), {imported} created, {failed} failed; app peak memory {peak:.0} MB; the update import took {:.2}x as long",
            rows as f64 / create_secs,
            secs / create_secs
        );
        (first, create_secs)
    });
    // Nothing may write while the floor is measured.
    drop(app);
    let (first, create_secs) = outcome;
    let create_floor_db = support::fresh_copy(&pg, n, "contactbook_bench_floor_create");
    let settled = settle(&floor_url);
    println!("  (waited {settled:.0} s for PostgreSQL to be idle before the floor)");
    let floor = create_floor(&floor_url, &create_floor_db, &floor_dir, first);
    println!(
        "  floor: PostgreSQL's COPY of exactly the rows the create import wrote, into the same tables with every index, over two connections: {floor:.1} s; the create import took {:.2}x its floor",
        create_secs / floor
    );
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

/// Waits until PostgreSQL does nothing else (no other statement running, no
/// autovacuum at work, e.g. after a million updates) so that a floor is
/// measured alone; ends the statements of an app that was stopped. How long
/// it waited.
fn settle(url: &str) -> f64 {
    let mut db = PgConnection::establish(url).expect("connect");
    let _ = diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle' \
             AND application_name <> 'psql'",
        ),
        &mut db,
    );
    let started = Instant::now();
    let mut quiet = 0;
    while quiet < 3 && started.elapsed() < Duration::from_secs(900) {
        let busy = count(
            &mut db,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND (backend_type = 'autovacuum worker' OR (backend_type = 'client backend' AND state <> 'idle'))",
        );
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_secs(1));
    }
    started.elapsed().as_secs_f64()
}

/// Runs each script on a connection of its own, all at once, as the job's
/// writers run; how long until the last one ended.
fn side_by_side(url: &str, scripts: &[std::path::PathBuf]) -> f64 {
    let started = Instant::now();
    let running: Vec<_> = scripts
        .iter()
        .map(|path| {
            std::process::Command::new("psql")
                .arg(url)
                .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(path)
                .spawn()
                .expect("psql")
        })
        .collect();
    for (mut p, path) in running.into_iter().zip(scripts) {
        assert!(
            p.wait().expect("psql").success(),
            "{} failed",
            path.display()
        );
    }
    started.elapsed().as_secs_f64()
}

/// What a create import writes, table by table: the columns its COPYs fill
/// (the rest take their defaults, as in the job) and the column that ties a
/// row to its contact.
const CREATED: [(&str, &str, &str); 7] = [
    (
        "contacts",
        "id, first_name, last_name, contact_type, level, company, job_title, team, contact_group, \
         birth_date, language, street, city, state, zip_code, country, owner_id, created_by, \
         updated_by, search_text, label_ids, first_phone, first_email",
        "id",
    ),
    (
        "contact_phones",
        "contact_id, kind, number, position",
        "contact_id",
    ),
    (
        "contact_emails",
        "contact_id, kind, email, position",
        "contact_id",
    ),
    (
        "contact_socials",
        "contact_id, kind, handle, position",
        "contact_id",
    ),
    ("contact_labels", "contact_id, label_id", "contact_id"),
    (
        "custom_field_values",
        "contact_id, field_id, value",
        "contact_id",
    ),
    (
        "contact_changes",
        "contact_id, staff_id, source, action, new_value, version",
        "contact_id",
    ),
];

fn psql(url: &str, script: &str) {
    let status = std::process::Command::new("psql")
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", script])
        .status()
        .expect("psql");
    assert!(status.success(), "psql failed: {script}");
}

/// The floor of a create import in our own schema: PostgreSQL's own COPY of
/// exactly the rows the import wrote in `from` (the contacts above `first`),
/// into the same tables with every index in `into`, a fresh copy of the
/// million, over the job's two connections, each taking every other batch
/// of 5,000 contacts as the job's writers do, with the reference checks told
/// that the batch holds what it points at, as the job tells them.
fn create_floor(from: &str, into: &str, dir: &std::path::Path, first: i64) -> f64 {
    let file = |table: &str, half: i64| dir.join(format!("floor-{table}-{half}.copy"));
    for (table, columns, key) in CREATED {
        for half in 0..2 {
            psql(
                from,
                &format!(
                    "\\copy (SELECT {columns} FROM {table} WHERE {key} > {first} \
                     AND (({key} - {first} - 1) / 5000) % 2 = {half} ORDER BY {key}) TO '{}'",
                    file(table, half).display()
                ),
            );
        }
    }
    let scripts: Vec<std::path::PathBuf> = (0..2)
        .map(|half| {
            let mut script = String::from(
                "BEGIN;\nSET LOCAL contactbook.references_locked = on;\nSET LOCAL synchronous_commit = off;\n",
            );
            for (table, columns, _) in CREATED {
                script.push_str(&format!(
                    "\\copy {table} ({columns}) FROM '{}'\n",
                    file(table, half).display()
                ));
            }
            script.push_str("COMMIT;\n");
            let path = dir.join(format!("floor-{half}.sql"));
            std::fs::write(&path, script).expect("script");
            path
        })
        .collect();
    psql(into, "CHECKPOINT");
    side_by_side(into, &scripts)
}

/// The floor of update import `id` in our own schema: PostgreSQL applying
/// exactly what the import wrote, over the job's two connections (each
/// taking every other batch of 2,500 rows of the file, as the job's writers
/// do), with the reference checks skipped as the job has them: the updated
/// contacts' new rows staged with COPY and written with one UPDATE, and the
/// import's change-log rows and row-to-contact records COPYed, into `into`,
/// a fresh copy of the million as it was before the import.
fn update_floor(url: &str, into: &str, dir: &std::path::Path, id: i64) -> f64 {
    let fields = "first_name, last_name, contact_type, level, company, job_title, team, \
         contact_group, birth_date, language, street, city, state, zip_code, country, owner_id, \
         updated_by, version, search_text";
    let changed = "contact_id, staff_id, source, action, field, old_value, new_value, version";
    // The job drops its row-to-contact records when it ends; the file's
    // rows are the export's first ones, in id order.
    let half_of = |half: i64| {
        format!(
            "SELECT contact_id, row_no FROM (SELECT contact_id, row_number() OVER (ORDER BY contact_id) AS row_no \
               FROM (SELECT DISTINCT contact_id FROM contact_changes WHERE source = 'import' \
                     AND action = 'update' AND changed_at >= (SELECT started_at FROM imports WHERE id = {id})) d) r \
             WHERE ((row_no - 1) / 2500) % 2 = {half}"
        )
    };
    let file = |what: &str, half: i64| dir.join(format!("floor-update-{what}-{half}.copy"));
    for half in 0..2 {
        let mine = half_of(half);
        let c_fields: Vec<String> = fields.split(", ").map(|f| format!("c.{f}")).collect();
        psql(
            url,
            &format!(
                "\\copy (SELECT c.id, {} FROM contacts c JOIN ({mine}) m ON m.contact_id = c.id \
                 WHERE c.updated_at >= (SELECT started_at FROM imports WHERE id = {id}) ORDER BY c.id) TO '{}'",
                c_fields.join(", "),
                file("stage", half).display()
            ),
        );
        let x_changed: Vec<String> = changed.split(", ").map(|f| format!("x.{f}")).collect();
        psql(
            url,
            &format!(
                "\\copy (SELECT {} FROM contact_changes x JOIN ({mine}) m ON m.contact_id = x.contact_id \
                 WHERE x.source = 'import' AND x.action = 'update' \
                 AND x.changed_at >= (SELECT started_at FROM imports WHERE id = {id}) ORDER BY x.id) TO '{}'",
                x_changed.join(", "),
                file("changes", half).display()
            ),
        );
        psql(
            url,
            &format!(
                "\\copy (SELECT {id} + 1000000, contact_id, row_no FROM ({mine}) m) TO '{}'",
                file("matches", half).display()
            ),
        );
    }
    let set: Vec<String> = fields.split(", ").map(|f| format!("{f} = s.{f}")).collect();
    let scripts: Vec<std::path::PathBuf> = (0..2)
        .map(|half| {
            let script = format!(
                "BEGIN;\nSET LOCAL contactbook.references_locked = on;\nSET LOCAL synchronous_commit = off;\n\
                 CREATE TEMP TABLE stage AS SELECT id, {fields} FROM contacts LIMIT 0;\n\
                 \\copy stage FROM '{}'\n\
                 UPDATE contacts c SET {}, updated_at = now() FROM stage s WHERE c.id = s.id;\n\
                 \\copy contact_changes ({changed}) FROM '{}'\n\
                 \\copy import_matches (import_id, contact_id, row_no) FROM '{}'\n\
                 COMMIT;\n",
                file("stage", half).display(),
                set.join(", "),
                file("changes", half).display(),
                file("matches", half).display()
            );
            let path = dir.join(format!("floor-update-{half}.sql"));
            std::fs::write(&path, script).expect("script");
            path
        })
        .collect();
    side_by_side(into, &scripts)
}
