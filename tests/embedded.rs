//! The binary as a new user starts it: no DATABASE_URL, the embedded default.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn target_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

#[actix_rt::test]
async fn the_binary_runs_on_its_own_private_postgres_and_stops_it_on_sigterm() {
    let data_dir = target_dir().join("embedded-test-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_contactbook"))
        .env_remove("DATABASE_URL")
        .env("CONTACTBOOK_DATA_DIR", &data_dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("CONTACTBOOK_ADMIN_EMAIL", "first@example.com")
        .env("CONTACTBOOK_ADMIN_PASSWORD", "correct horse battery")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start contactbook");
    let client = awc::Client::builder().disable_redirects().finish();
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        if let Ok(mut res) = client
            .get(format!("http://127.0.0.1:{port}/login"))
            .send()
            .await
        {
            let body = res.body().await.expect("body");
            break (
                res.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            );
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("contactbook exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "contactbook did not answer within 60 s"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(page.0, 200);
    let html = scraper::Html::parse_document(&page.1);
    let h1 = scraper::Selector::parse("h1").expect("selector");
    assert_eq!(
        html.select(&h1)
            .next()
            .map(|e| e.text().collect::<String>()),
        Some("Sign in to ContactBook".to_string())
    );

    // Where the cluster lives: beside the data, or (as root) under /var/lib.
    let location = std::fs::read_to_string(data_dir.join("postgres-location.txt")).ok();
    let pgdata = match &location {
        Some(text) => {
            std::path::PathBuf::from(text.lines().nth(1).expect("path line")).join("postgres")
        }
        None => data_dir.join("postgres"),
    };
    assert!(
        pgdata.join("postmaster.pid").exists(),
        "server running in {}",
        pgdata.display()
    );

    let pid = child.id() as i32;
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "clean exit: {status}");
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "the private server was stopped"
    );
}

#[test]
fn without_postgresql_it_says_what_to_install_in_one_line() {
    let data_dir = target_dir().join("embedded-test-nopg");
    let out = Command::new(env!("CARGO_BIN_EXE_contactbook"))
        .env_remove("DATABASE_URL")
        .env("CONTACTBOOK_DATA_DIR", &data_dir)
        .env("CONTACTBOOK_PG_BIN", "/nonexistent/postgresql/bin")
        .env("RUST_LOG", "off")
        .env("BIND", "127.0.0.1:0")
        .output()
        .expect("run contactbook");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("apt-get install postgresql"), "{stderr}");
}
