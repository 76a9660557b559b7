//! An import, then a bulk change of all its contacts, that lose their
//! database connection and then their whole process midway resume where
//! their last committed batch ended: nothing lost, nothing doubled. Runs the
//! real binary, kills it with SIGKILL and starts it again.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Browser, test_database_url};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, sql_types::BigInt};

const ROWS: i64 = 60_000;
const ADMIN: &str = "crash@example.com";
const PASSWORD: &str = "correct horse battery";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start(url: &str, port: u16, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_contactbook"))
        .env("DATABASE_URL", url)
        .env("CONTACTBOOK_DATA_DIR", data_dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("CONTACTBOOK_ADMIN_EMAIL", ADMIN)
        .env("CONTACTBOOK_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start contactbook")
}

async fn wait_up(base: &str) {
    let client = awc::Client::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "contactbook did not start");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn number(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(conn)
        .expect("query")
        .n
}

async fn wait_until(conn: &mut PgConnection, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while number(conn, sql) == 0 {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn a_killed_import_and_a_killed_bulk_change_resume_without_losing_or_doubling_a_row() {
    let url = test_database_url();
    let mut db = PgConnection::establish(&url).expect("connect");
    let data_dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/import-crash-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut app = start(&url, port, &data_dir);
    wait_up(&base).await;

    let b = Browser::new(&base);
    b.sign_in(ADMIN, PASSWORD).await;
    let mut file = String::from("First Name,Last Name,Mobile,Email,Birthdate,Contact Label\n");
    for i in 0..ROWS {
        let birth = if i % 1000 == 999 {
            "13/01/1990"
        } else {
            "04/23/1982"
        };
        file.push_str(&format!(
            "P{i},Person {i},+8529{i:07},p{i}@example.com,{birth},Batch\n"
        ));
    }
    let token = b.get("/imports").await.csrf();
    let page = b
        .upload(
            &format!("/imports?csrf_token={token}"),
            "file",
            "big.csv",
            "text/csv",
            file.as_bytes(),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location().expect("preview");
    let id: i64 = location
        .trim_start_matches("/imports/")
        .parse()
        .expect("id");
    let preview = b.get(&location).await;
    assert!(preview.text("main").contains(&format!(
        "{} rows read",
        contactbook::routes::contacts::list::group_digits(ROWS)
    )));
    let started = b
        .post(&format!("/imports/{id}/start"), &preview.csrf(), &[])
        .await;
    assert_eq!(started.status, 303);

    // PostgreSQL drops the job's connection midway: the runner resumes.
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM imports WHERE id = {id} AND rows_read >= 5000"),
        "the first batches",
    )
    .await;
    number(
        &mut db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    let before = number(
        &mut db,
        &format!("SELECT rows_read FROM imports WHERE id = {id}"),
    );
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM imports WHERE id = {id} AND rows_read > {before} + 5000"),
        "the job to resume after losing its connection",
    )
    .await;

    // Then the whole process dies, between two batches or in the middle of one.
    app.kill().expect("SIGKILL");
    app.wait().expect("reaped");
    let read = number(
        &mut db,
        &format!("SELECT rows_read FROM imports WHERE id = {id}"),
    );
    assert!(
        read < ROWS,
        "killed midway, not after the end ({read} rows read)"
    );
    assert_eq!(
        number(&mut db, "SELECT count(*) FROM contacts"),
        number(
            &mut db,
            &format!("SELECT imported FROM imports WHERE id = {id}")
        ),
        "what was committed and what the job recorded agree"
    );

    let mut app = start(&url, port, &data_dir);
    wait_up(&base).await;
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM imports WHERE id = {id} AND status = 'done'"),
        "the resumed job to finish",
    )
    .await;
    let failed = ROWS / 1000;
    let valid = ROWS - failed;
    assert_eq!(number(&mut db, "SELECT count(*) FROM contacts"), valid);
    assert_eq!(
        number(
            &mut db,
            "SELECT count(DISTINCT lower(email)) FROM contact_emails"
        ),
        valid,
        "no row twice"
    );
    assert_eq!(
        number(&mut db, "SELECT count(*) FROM contact_emails"),
        valid
    );
    assert_eq!(
        number(&mut db, "SELECT count(*) FROM contact_phones"),
        valid
    );
    assert_eq!(
        number(&mut db, "SELECT count(*) FROM contact_labels"),
        valid
    );
    assert_eq!(
        number(
            &mut db,
            "SELECT count(*) FROM contact_changes WHERE source = 'import'"
        ),
        valid
    );
    assert_eq!(
        number(&mut db, "SELECT count(*) FROM labels WHERE name = 'Batch'"),
        1
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT imported FROM imports WHERE id = {id}")
        ),
        valid
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT failed FROM imports WHERE id = {id}")
        ),
        failed
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT rows_read FROM imports WHERE id = {id}")
        ),
        ROWS
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT count(*) FROM import_errors WHERE import_id = {id}")
        ),
        failed
    );
    assert!(
        number(
            &mut db,
            &format!("SELECT attempts FROM imports WHERE id = {id}")
        ) >= 3,
        "claimed again after each failure"
    );

    // A bulk change of every contact, as "all that match" queues it.
    diesel::sql_query(format!(
        "INSERT INTO bulk_jobs (staff_id, action, value, what) \
         SELECT id, 'type', 'customer', 'Set the type to Customer' FROM staff WHERE email = '{ADMIN}'"
    ))
    .execute(&mut db)
    .expect("queue the bulk job");
    let job = number(&mut db, "SELECT max(id) FROM bulk_jobs");
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM bulk_jobs WHERE id = {job} AND walked >= 5000"),
        "the first bulk batches",
    )
    .await;
    number(
        &mut db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    let before = number(
        &mut db,
        &format!("SELECT walked FROM bulk_jobs WHERE id = {job}"),
    );
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM bulk_jobs WHERE id = {job} AND walked > {before} + 5000"),
        "the bulk job to resume after losing its connection",
    )
    .await;
    app.kill().expect("SIGKILL");
    app.wait().expect("reaped");
    let walked = number(
        &mut db,
        &format!("SELECT walked FROM bulk_jobs WHERE id = {job}"),
    );
    assert!(
        walked < valid,
        "killed midway, not after the end ({walked} walked)"
    );
    let changed = number(
        &mut db,
        &format!("SELECT changed FROM bulk_jobs WHERE id = {job}"),
    );
    assert_eq!(changed, walked);
    assert_eq!(
        number(
            &mut db,
            "SELECT count(*) FROM contacts WHERE contact_type = 'customer'"
        ),
        changed,
        "what was committed and what the job recorded agree"
    );

    let mut app = start(&url, port, &data_dir);
    wait_up(&base).await;
    wait_until(
        &mut db,
        &format!("SELECT count(*) FROM bulk_jobs WHERE id = {job} AND status = 'done'"),
        "the resumed bulk job to finish",
    )
    .await;
    app.kill().expect("stop");
    let _ = app.wait();
    assert_eq!(
        number(
            &mut db,
            "SELECT count(*) FROM contacts WHERE contact_type = 'customer'"
        ),
        valid
    );
    assert_eq!(
        number(
            &mut db,
            "SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Type'"
        ),
        valid,
        "one change-log row a contact"
    );
    assert_eq!(
        number(
            &mut db,
            "SELECT count(DISTINCT contact_id) FROM contact_changes WHERE source = 'bulk'"
        ),
        valid
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT changed FROM bulk_jobs WHERE id = {job}")
        ),
        valid
    );
    assert_eq!(
        number(
            &mut db,
            &format!("SELECT walked FROM bulk_jobs WHERE id = {job}")
        ),
        valid
    );
    assert!(
        number(
            &mut db,
            &format!("SELECT attempts FROM bulk_jobs WHERE id = {job}")
        ) >= 3,
        "claimed again after each failure"
    );
}
