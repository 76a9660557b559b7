//! The create import as a superuser and as a role that is not one (what a
//! managed PostgreSQL gives an application), in the same run: each imports
//! the same file of BENCH_IMPORT_ROWS rows into its own fresh copy of the
//! million contacts, through the app's own process over HTTP.
//!
//! Run: `cargo bench --bench roles` (BENCH_CONTACTS=N for the contacts
//! already there, BENCH_IMPORT_ROWS=N for the file; both default to
//! 1,000,000; BENCH_ROLES=plain or super for one side alone). Results go
//! to stdout; BENCHMARKS.md records them.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl, connection::SimpleConnection, sql_query};

mod support;

use support::{count, import, outcome, reset_peak, start_app};

/// The application's role on a managed PostgreSQL: it owns its tables but
/// may not switch off triggers or read another role's rows.
const PLAIN: &str = "cb_bench_plain";

/// Hands database `url` over to `PLAIN`, as a managed PostgreSQL's
/// application role owns its schema.
fn hand_over(admin_url: &str, url: &str, name: &str) -> String {
    let mut admin = PgConnection::establish(admin_url).expect("connect");
    sql_query(format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PLAIN}') \
         THEN CREATE ROLE {PLAIN} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"
    ))
    .execute(&mut admin)
    .expect("role");
    sql_query(format!("ALTER DATABASE {name} OWNER TO {PLAIN}"))
        .execute(&mut admin)
        .expect("database owner");
    let mut db = PgConnection::establish(url).expect("connect");
    // Sequences that belong to a column follow their table.
    db.batch_execute(&format!(
        "DO $$ DECLARE r record; BEGIN \
           FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP \
             EXECUTE format('ALTER TABLE public.%I OWNER TO {PLAIN}', r.tablename); \
           END LOOP; \
           FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p \
                    JOIN pg_namespace n ON n.oid = p.pronamespace \
                    WHERE n.nspname = 'public' AND NOT EXISTS \
                      (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP \
             EXECUTE format('ALTER FUNCTION %s OWNER TO {PLAIN}', r.f); \
           END LOOP; \
         END $$; \
         ALTER SCHEMA public OWNER TO {PLAIN}"
    ))
    .expect("hand the tables over");
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{PLAIN}@{host}")
}

fn main() {
    let rows: i64 = std::env::var("BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (pg, n, data) = support::bench_pg();
    support::base_database(&pg, n);
    let file = data.join(format!("import-{rows}.csv"));
    support::template_file(&file, rows);

    let mut results = Vec::new();
    for (who, name) in [
        ("a superuser", "contactbook_bench_role_super"),
        (
            "a role that is not a superuser",
            "contactbook_bench_role_plain",
        ),
    ] {
        let url = support::fresh_copy(&pg, n, name);
        let url = if name.ends_with("plain") {
            hand_over(&pg.url("postgres"), &url, name)
        } else {
            url
        };
        let mut db = PgConnection::establish(&url).expect("connect");
        let superuser = count(
            &mut db,
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = current_user AND rolsuper",
        ) == 1;
        assert_eq!(superuser, !name.ends_with("plain"), "connected as {who}");
        // Only a superuser may.
        sql_query("CHECKPOINT")
            .execute(&mut PgConnection::establish(&pg.url(name)).expect("connect"))
            .expect("checkpoint");
        let port = support::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let app_dir = data.join(format!("{name}-app"));
        let _ = std::fs::remove_dir_all(&app_dir);
        let mut app = start_app(&url, port, &app_dir);
        let pid = app.id();
        let system = actix_rt::System::new();
        let file = file.clone();
        let secs = system.block_on(async move {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(3600))
                .disable_redirects()
                .finish();
            support::wait_ready(&base).await;
            support::wait_for_first_duplicate_pass(&mut db);
            let cookie = support::sign_in(&base).await;
            reset_peak(pid);
            let id = import(&client, &base, &cookie, &file, "create", &mut db, pid).await;
            let (secs, _, _, failed, imported) = outcome(&mut db, id);
            println!(
                "create import as {who}: {secs:.1} s ({:.0} rows/s), {imported} created, {failed} failed",
                rows as f64 / secs
            );
            assert_eq!(imported + failed, rows, "every row is accounted for");
            let orphans = count(
                &mut db,
                "SELECT (SELECT count(*) FROM contact_phones p WHERE NOT EXISTS \
                   (SELECT 1 FROM contacts c WHERE c.id = p.contact_id)) \
                 + (SELECT count(*) FROM contact_labels l WHERE NOT EXISTS \
                   (SELECT 1 FROM contacts c WHERE c.id = l.contact_id)) AS n",
            );
            assert_eq!(orphans, 0, "rows pointing at no contact");
            secs
        });
        let _ = app.kill();
        let _ = app.wait();
        results.push(secs);
    }
    if let [superuser, plain] = results[..] {
        println!(
            "the import as a role that is not a superuser took {:.2}x the superuser's time",
            plain / superuser
        );
    }
    pg.stop();
}
