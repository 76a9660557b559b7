//! The security probe: hostile and malformed requests that once answered 500
//! or slipped through, each with the answer it must get. It prints a table
//! and fails on any row that is off, or on any 500.
//!
//! By default it starts its own instance. To probe a running one:
//!
//! ```sh
//! PROBE_URL=http://127.0.0.1:8080 PROBE_EMAIL=admin@example.com \
//!   PROBE_PASSWORD='…' cargo test --test probe -- --nocapture
//! ```
//!
//! (an administrator's account; the probe writes nothing that is kept).

mod common;

use common::{Browser, Page, spawn_app};

struct Probe {
    name: &'static str,
    expected: &'static [u16],
    got: u16,
    /// Something else that must hold, and did not.
    also: Option<String>,
}

async fn csrf(b: &Browser, page: &str) -> String {
    b.get(page).await.csrf()
}

fn wide_csv(columns: usize) -> Vec<u8> {
    let mut s = (0..columns)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    s.push_str("\nLee\n");
    s.into_bytes()
}

async fn upload(b: &Browser, fields: &[(&str, &str)], data: &[u8]) -> Page {
    let token = csrf(b, "/imports").await;
    b.upload_with(
        &format!("/imports?csrf_token={token}"),
        fields,
        ("file", "probe.csv", "text/csv", data),
    )
    .await
}

/// Sends every probe as `b` (an administrator) and `anon` (nobody).
async fn run_probes(b: &Browser, anon: &Browser, base: &str) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut check = |name, expected: &'static [u16], page: &Page, also: Option<String>| {
        out.push(Probe {
            name,
            expected,
            got: page.status,
            also,
        });
    };
    let no_script = |p: &Page| {
        p.body
            .contains("<script>alert")
            .then(|| "markup came back unescaped".to_string())
    };
    let headers = |p: &Page| match p.header("content-security-policy") {
        Some(_) => None,
        None => Some("no security headers".to_string()),
    };

    for (name, path) in [
        ("NUL in the contact search", "/contacts?q=a%00b"),
        ("NUL in the trash search", "/contacts/trash?q=a%00b"),
        ("NUL in the staff search", "/staff?q=%00"),
        ("NUL in an export's search", "/contacts/export.csv?q=a%00b"),
        ("NUL in a sort key", "/contacts?sort=%00"),
    ] {
        let p = b.get(path).await;
        let also = headers(&p);
        check(name, &[400], &p, also);
    }
    let p = b.get("/contacts?q=%3Cscript%3Ealert(1)%3C/script%3E").await;
    let also = no_script(&p);
    check("markup in the contact search", &[200], &p, also);
    let p = b.get("/contacts/999999999").await;
    check("a contact that does not exist", &[404], &p, None);
    let p = b.get("/contacts/%00").await;
    check("NUL in a path", &[404], &p, None);

    // Signing in needs no account: the most exposed form.
    let token = csrf(anon, "/login").await;
    let p = anon
        .post(
            "/login",
            &token,
            &[("email", "a\u{0}@example.com"), ("password", "x")],
        )
        .await;
    check("NUL in the sign-in email (anonymous)", &[400], &p, None);
    let p = anon
        .post_raw(
            "/login",
            &[("email", "x@example.com"), ("password", "x")],
            Some(base),
        )
        .await;
    check("sign-in without a CSRF token", &[403], &p, None);

    let token = csrf(b, "/admin/custom-fields").await;
    let p = b
        .post(
            "/admin/custom-fields",
            &token,
            &[
                ("label", "Probe"),
                ("kind", "dropdown"),
                ("options", "a\u{0}b"),
            ],
        )
        .await;
    check("NUL in custom-field options", &[400], &p, None);
    let token = csrf(b, "/contacts").await;
    let p = b
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("q", "a\u{0}"),
                ("scope", "all"),
                ("action", "set_type"),
                ("value", "lead"),
            ],
        )
        .await;
    check("NUL in a bulk action's search", &[400], &p, None);
    let p = b
        .post_raw(
            "/contacts/new",
            &[("last_name", "Forged")],
            Some("http://evil.example"),
        )
        .await;
    check("a form from another site", &[403], &p, None);
    let token = csrf(b, "/contacts/new").await;
    let p = b
        .post_raw(
            "/contacts/new",
            &[("csrf_token", token.as_str()), ("last_name", "Forged")],
            Some("http://evil.example"),
        )
        .await;
    check("another site's form with a stolen token", &[403], &p, None);
    let p = b
        .post_forwarded(
            "/contacts/new",
            &[("csrf_token", token.as_str()), ("last_name", "Forged")],
            "evil.example",
        )
        .await;
    check(
        "a form from a site named by X-Forwarded-Host",
        &[403],
        &p,
        None,
    );

    let p = upload(b, &[], &wide_csv(1_001)).await;
    check("an upload with 1,001 columns", &[422], &p, None);
    let mut cell = b"Last Name\n".to_vec();
    cell.extend(std::iter::repeat_n(b'x', 70 * 1024));
    cell.push(b'\n');
    let p = upload(b, &[], &cell).await;
    check("an upload with a 70 KB value", &[422], &p, None);
    let p = upload(b, &[("mode", "up\u{0}date")], b"Last Name\nLee\n").await;
    check("NUL in a multipart field", &[400], &p, None);
    let p = upload(b, &[], b"Last Name\nL\x00ee\n").await;
    check("NUL inside an uploaded file", &[422], &p, None);
    out
}

#[actix_rt::test]
async fn hostile_requests_get_clear_answers_and_never_a_500() {
    let (probes, _app) = match std::env::var("PROBE_URL") {
        Ok(url) => {
            let b = Browser::new(&url);
            let email = std::env::var("PROBE_EMAIL").expect("PROBE_EMAIL");
            let password = std::env::var("PROBE_PASSWORD").expect("PROBE_PASSWORD");
            b.sign_in(&email, &password).await;
            (run_probes(&b, &Browser::new(&url), &url).await, None)
        }
        Err(_) => {
            let app = spawn_app().await;
            let (_, b) = app.signed_in_admin().await;
            let probes = run_probes(&b, &app.browser(), &app.base).await;
            assert_eq!(
                app.count("SELECT count(*) FROM contacts WHERE last_name = 'Forged'"),
                0
            );
            (probes, Some(app))
        }
    };
    let width = probes.iter().map(|p| p.name.len()).max().unwrap_or(10);
    println!("{:width$}  expected  got  verdict", "probe");
    let mut bad = 0;
    for p in &probes {
        let ok = p.expected.contains(&p.got) && p.also.is_none() && p.got != 500;
        if !ok {
            bad += 1;
        }
        println!(
            "{:width$}  {:8}  {:3}  {}{}",
            p.name,
            p.expected
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("/"),
            p.got,
            if ok { "ok" } else { "WRONG" },
            p.also
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        );
    }
    println!("{} probes, {bad} wrong", probes.len());
    assert_eq!(bad, 0, "some probes were answered wrongly");
}
