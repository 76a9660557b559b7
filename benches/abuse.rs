//! Memory under abuse: the app's peak resident memory while it is flooded
//! with failed sign-ins and sent hostile CSV files.
//!
//! Run: `cargo bench --bench abuse`. Starts the release binary as its own
//! process on a small database in the benches' private PostgreSQL
//! (`target/bench-pg`), with `TRUST_PROXY=true` so that every sign-in can
//! come from its own client address (otherwise the per-address throttle
//! would turn most of them away before they cost a hash), and reads the
//! process's peak memory (VmHWM) from /proc around each step. Results go to
//! stdout; BENCHMARKS.md records them.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use contactbook::db::embedded::EmbeddedPostgres;

mod support;

use support::{memory, reset_peak, start_app_with};

/// N sign-ins with wrong passwords at once, each from its own address.
async fn sign_in_flood(base: &str, n: usize, first: usize, pid: u32) {
    reset_peak(pid);
    let started = Instant::now();
    let attempts = (first..first + n).map(|i| {
        let base = base.to_string();
        async move {
            let client = awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(60))
                .finish();
            let forwarded = format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256);
            let mut page = client
                .get(format!("{base}/login"))
                .insert_header(("X-Forwarded-For", forwarded.clone()))
                .send()
                .await
                .expect("login page");
            let cookie = page
                .cookies()
                .expect("cookies")
                .iter()
                .map(|c| format!("{}={}", c.name(), c.value()))
                .collect::<Vec<_>>()
                .join("; ");
            let html = String::from_utf8_lossy(&page.body().await.expect("body")).into_owned();
            let token = support::csrf_token(&html);
            let res = client
                .post(format!("{base}/login"))
                .insert_header(("Cookie", cookie))
                .insert_header(("Origin", base.clone()))
                .insert_header(("X-Forwarded-For", forwarded))
                .send_form(&[
                    ("csrf_token", token.as_str()),
                    ("email", &format!("nobody{i}@example.com")),
                    ("password", "wrong password"),
                ])
                .await
                .expect("sign in");
            res.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let secs = started.elapsed().as_secs_f64();
    let (peak, rss) = memory(pid);
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:").map(|t| t.trim().to_string()))
        .unwrap_or_default();
    println!(
        "{n} concurrent failed sign-ins (each from its own address): {} refused (401), {} busy (503), {} throttled (429), {} other, in {secs:.1} s; app peak {peak:.0} MB, resident after {rss:.0} MB, {threads} threads",
        count(401),
        count(503),
        count(429),
        n - count(401) - count(503) - count(429)
    );
}

/// Uploads `data` and reports the answer and the app's peak memory.
async fn upload(base: &str, cookie: &str, token: &str, name: &str, data: Vec<u8>, pid: u32) {
    reset_peak(pid);
    let (_, before) = memory(pid);
    let boundary = "----contactbookabuseboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    let size = data.len();
    body.extend(data);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(300))
        .finish();
    let started = Instant::now();
    let mut res = client
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
    let status = res.status().as_u16();
    let page =
        String::from_utf8_lossy(&res.body().limit(1 << 24).await.expect("body")).into_owned();
    let secs = started.elapsed().as_secs_f64();
    let (peak, _) = memory(pid);
    let message = page
        .split("class=\"flash flash-error\"")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
        .trim()
        .chars()
        .take(90)
        .collect::<String>();
    println!(
        "upload {name} ({} MB): {status} in {secs:.1} s; app peak {peak:.0} MB (resident before {before:.0} MB) {message}",
        size >> 20
    );
}

fn main() {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let data = target.join("bench-data");
    std::fs::create_dir_all(&data).expect("data dir");
    let pg = EmbeddedPostgres::start(&target.join("bench-pg")).expect("start PostgreSQL");
    let url = support::base_database(&pg, 1_000);
    // Earlier runs' failures would throttle these addresses from the start.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM login_attempts"),
        &mut <diesel::PgConnection as diesel::Connection>::establish(&url).expect("connect"),
    )
    .expect("forget earlier sign-ins");
    let port = support::free_port();
    let dir = data.join("abuse-app");
    let mut app = start_app_with(&url, port, &dir, &[("TRUST_PROXY", "true")]);
    let pid = app.id();
    let base = format!("http://127.0.0.1:{port}");
    actix_rt::System::new().block_on(async {
        let client = awc::Client::default();
        support::wait_ready(&base).await;
        let (_, rss) = memory(pid);
        println!("app resident after start: {rss:.0} MB");
        sign_in_flood(&base, 100, 0, pid).await;
        sign_in_flood(&base, 300, 100, pid).await;

        let cookie = support::sign_in(&base).await;
        let mut page = client
            .get(format!("{base}/imports"))
            .insert_header(("Cookie", cookie.clone()))
            .send()
            .await
            .expect("imports page");
        let html =
            String::from_utf8_lossy(&page.body().limit(1 << 20).await.expect("body")).into_owned();
        let token = support::csrf_token(&html);
        let mb = 50 << 20;

        let mut one_line = b"First Name,Last Name\n".to_vec();
        one_line.extend(std::iter::repeat_n(b'x', mb));
        upload(&base, &cookie, &token, "one-50-MB-line", one_line, pid).await;

        let mut wide: Vec<u8> = (0..1_000_000)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        wide.extend(b"\nLee\n");
        upload(&base, &cookie, &token, "1000000-columns", wide, pid).await;

        let mut cell = b"First Name,Last Name\nAnn,\"".to_vec();
        cell.extend(std::iter::repeat_n(b'y', mb));
        cell.extend(b"\"\n");
        upload(&base, &cookie, &token, "one-50-MB-cell", cell, pid).await;

        let mut many = String::from("First Name,Last Name,Email,Mobile,Company,Contact Label\n");
        let mut i = 0;
        while many.len() < mb {
            many.push_str(&format!(
                "Person{i},Family{},p{i}@example.com,+8529{:07},Company {},VIP;Newsletter\n",
                i % 997,
                i % 10_000_000,
                i % 5_000
            ));
            i += 1;
        }
        println!("(a valid file of {i} rows)");
        upload(
            &base,
            &cookie,
            &token,
            "valid-50-MB",
            many.into_bytes(),
            pid,
        )
        .await;
    });
    let _ = app.kill();
    let _ = app.wait();
    pg.stop();
}
