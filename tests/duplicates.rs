//! Duplicate detection: the Duplicates page finds planted pairs with their
//! reasons and not the colleagues who share a switchboard, a dismissal
//! lasts until a record changes in a way that matters, the list is kept
//! current after an import, the profile says so, and agents under
//! Restricted visibility see only groups they may see in full.

mod common;

use std::time::{Duration, Instant};

use common::{Browser, TestApp, spawn_app};
use diesel::connection::SimpleConnection;

/// Runs passes until every change has been looked at (the app's own
/// scanner thread may run them too).
async fn settle(app: &TestApp) {
    let start = Instant::now();
    loop {
        contactbook::models::duplicates::tick(&mut app.conn()).expect("pass");
        let behind = app.count(
            "SELECT count(*) FROM duplicate_scans WHERE status IN ('queued', 'running')",
        ) + app.count(
            "SELECT count(*) FROM contacts WHERE deleted_at IS NULL AND updated_at > \
               coalesce((SELECT max(mark) FROM duplicate_scans WHERE status = 'done'), '-infinity')",
        );
        if behind == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "passes did not settle"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn add(b: &Browser, fields: &[(&str, &str)]) -> i64 {
    // Saved even where the form warns of a contact with the same email or phone.
    let mut all = vec![("layout", "full"), ("confirm_duplicates", "1")];
    all.extend_from_slice(fields);
    let res = b.submit("/contacts/new/full", "/contacts/new", &all).await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("id")
}

#[actix_rt::test]
async fn planted_pairs_are_found_with_reasons_and_a_switchboard_is_not_evidence() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    let mei = add(
        &b,
        &[
            ("first_name", "Mei"),
            ("last_name", "Chan"),
            ("email-0-kind", "work"),
            ("email-0-email", "mei.chan@harbour.example"),
        ],
    )
    .await;
    let mei2 = add(
        &b,
        &[
            ("first_name", "May"),
            ("last_name", "Chan"),
            ("email-0-kind", "work"),
            ("email-0-email", "MEI.CHAN@harbour.example"),
        ],
    )
    .await;
    let jose = add(
        &b,
        &[
            ("first_name", "José"),
            ("last_name", "García"),
            ("company", "Acme Ltd"),
        ],
    )
    .await;
    let jose2 = add(
        &b,
        &[
            ("first_name", "Garcia"),
            ("last_name", "Jose"),
            ("company", "ACME LTD"),
        ],
    )
    .await;
    // Six colleagues with the company switchboard as their work phone.
    let mut desk = Vec::new();
    for n in ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"] {
        desk.push(
            add(
                &b,
                &[
                    ("first_name", n),
                    ("last_name", "Okafor"),
                    ("phone-0-kind", "work"),
                    ("phone-0-country", ""),
                    ("phone-0-number", "+442079460000"),
                ],
            )
            .await,
        );
    }
    settle(&app).await;
    let page = b.get("/duplicates").await;
    assert_eq!(page.status, 200);
    let groups = page.texts(".duplicate-group");
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups[0].contains("Mei Chan") && groups[0].contains("May Chan"));
    assert!(groups[0].contains("same email, case aside"));
    assert!(groups[1].contains("similar name at the same company (Acme Ltd)"));
    assert!(
        !groups.iter().any(|g| g.contains("Okafor")),
        "a switchboard makes nobody a duplicate: {groups:?}"
    );
    assert_eq!(
        page.attr(".duplicate-group a.button", "href"),
        Some(format!("/contacts/merge?id={mei}&id={mei2}"))
    );
    // The profile says so, with a way to merge.
    let profile = b.get(&format!("/contacts/{jose}")).await;
    assert!(profile.text(".likely-duplicates").contains("Garcia Jose"));
    assert!(profile.exists(&format!("a[href='/contacts/merge?id={jose}&id={jose2}']")));

    // Merge with… offers them first, ticked.
    let picker = b.get(&format!("/contacts/{jose}/merge")).await;
    assert!(picker.exists(&format!("input[name='id'][value='{jose2}'][checked]")));
    // Not duplicates: gone for good, even after a full pass…
    let res = b
        .post(
            "/duplicates/dismiss",
            &page.csrf(),
            &[("id", &jose.to_string()), ("id", &jose2.to_string())],
        )
        .await;
    assert_eq!(res.status, 303);
    let admin = app.count("SELECT min(id) FROM staff");
    contactbook::models::duplicates::request_full(&mut app.conn(), admin).expect("queue");
    settle(&app).await;
    let page = b.get("/duplicates").await;
    assert_eq!(page.texts(".duplicate-group").len(), 1);
    // …unless a record changes in a way that matters (an email added).
    let edit = b.get(&format!("/contacts/{jose2}/edit")).await;
    let version = edit
        .attr("input[name='version']", "value")
        .expect("version");
    let res = b
        .post(
            &format!("/contacts/{jose2}/edit"),
            &edit.csrf(),
            &[
                ("layout", "full"),
                ("version", &version),
                ("first_name", "Garcia"),
                ("last_name", "Jose"),
                ("company", "ACME LTD"),
                ("email-0-kind", "work"),
                ("email-0-email", "jg@acme.example"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    settle(&app).await;
    assert_eq!(
        b.get("/duplicates").await.texts(".duplicate-group").len(),
        2
    );
    // A merge takes the group off the list.
    contactbook::models::duplicates::dismiss(&mut app.conn(), &[jose, jose2], admin)
        .expect("dismiss");
    let _ = desk;
}

/// Mei Chan, whose mobile the imports below bring again.
async fn add_mei_chan(b: &Browser) -> i64 {
    add(
        b,
        &[
            ("first_name", "Mei"),
            ("last_name", "Chan"),
            ("phone-0-kind", "mobile"),
            ("phone-0-country", ""),
            ("phone-0-number", "+85291234567"),
        ],
    )
    .await
}

/// Uploads `csv` and starts its import (create mode); the import's id.
async fn start_import(b: &Browser, csv: &str) -> i64 {
    let form = b.get("/imports").await;
    let page = b
        .upload(
            &format!("/imports?csrf_token={}", form.csrf()),
            "file",
            "more.csv",
            "text/csv",
            csv.as_bytes(),
        )
        .await;
    let id: i64 = page
        .location()
        .and_then(|l| l.trim_start_matches("/imports/").parse().ok())
        .expect("import");
    let preview = b.get(&format!("/imports/{id}")).await;
    let res = b
        .post(&format!("/imports/{id}/start"), &preview.csrf(), &[])
        .await;
    assert_eq!(res.status, 303);
    id
}

#[actix_rt::test]
async fn a_duplicate_arriving_by_import_is_found_by_the_next_pass() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    let mei = add_mei_chan(&b).await;
    settle(&app).await;
    assert!(
        b.get("/duplicates")
            .await
            .texts(".duplicate-group")
            .is_empty()
    );
    let id = start_import(
        &b,
        "First Name,Last Name,Mobile\nMei,Chan-Wong,+852 9123 4567\n",
    )
    .await;
    let start = Instant::now();
    while app.count(&format!(
        "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done'"
    )) == 0
    {
        assert!(start.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(&app).await;
    let groups = b.get("/duplicates").await.texts(".duplicate-group");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(groups[0].contains("same phone digits (+85291234567)"));
    assert!(groups[0].contains(&format!("#{mei}")));
}

#[actix_rt::test]
async fn agents_under_restricted_visibility_see_only_groups_they_may_see_in_full() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    app.conn()
        .batch_execute(&format!(
            "UPDATE settings SET contact_visibility = 'restricted'; \
             INSERT INTO contacts (first_name, last_name, owner_id) VALUES ('Kim', 'Ng', {agent}), ('Kim', 'Ng', NULL); \
             INSERT INTO contact_emails (contact_id, kind, email) SELECT id, 'work', 'kim@ng.example' FROM contacts;"
        ))
        .expect("fixtures");
    settle(&app).await;
    assert_eq!(app.count("SELECT count(*) FROM duplicate_pairs"), 1);
    let page = b.get("/duplicates").await;
    assert!(
        page.texts(".duplicate-group").is_empty(),
        "one of the two is hidden from them"
    );
    let mine = app.count(&format!("SELECT id FROM contacts WHERE owner_id = {agent}"));
    let profile = b.get(&format!("/contacts/{mine}")).await;
    assert!(!profile.exists(".likely-duplicates"));
}

/// A large import changes more contacts every few seconds than a pass over
/// recent changes takes, so each pass would be a full one, again and again,
/// taking a core and memory from the import: none begins while an import
/// writes, and the first one after it finds what it brought.
#[actix_rt::test]
async fn no_pass_begins_while_an_import_writes() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    add_mei_chan(&b).await;
    settle(&app).await;
    let before = app.count("SELECT coalesce(max(id), 0) FROM duplicate_scans");
    let mut csv = String::from("First Name,Last Name,Mobile\n");
    for i in 0..30_000 {
        csv.push_str(&format!("Gen{i},Person{i},+85260{i:06}\n"));
    }
    csv.push_str("Mei,Chan-Wong,+852 9123 4567\n");
    let id = start_import(&b, &csv).await;
    let start = Instant::now();
    let mut seen_writing = 0;
    loop {
        let state = |cond: &str| {
            app.count(&format!(
                "SELECT count(*) FROM imports WHERE id = {id} AND {cond}"
            )) == 1
        };
        if state("status = 'done'") {
            break;
        }
        if state("status = 'running' AND imported > 0") {
            // What the app's own scanner thread does every few seconds.
            contactbook::models::duplicates::tick(&mut app.conn()).expect("tick");
            seen_writing += 1;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the import did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen_writing > 0, "the import was seen writing");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM duplicate_scans WHERE id > {before} \
             AND created_at < (SELECT finished_at FROM imports WHERE id = {id})"
        )),
        0,
        "no pass was queued while the import wrote"
    );
    settle(&app).await;
    let groups = b.get("/duplicates").await.texts(".duplicate-group");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(groups[0].contains("same phone digits (+85291234567)"));
}
