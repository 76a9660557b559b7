//! External contacts: create (quick and full), save and create new, edit with
//! optimistic locking, verified fields, delete/restore/purge, the change log,
//! validation, search and filters, labels and custom fields.

mod common;

use common::{Browser, Page, TestApp, spawn_app};
use diesel::{RunQueryDsl, sql_query};

/// The quick form's fields, with a token from the form page.
async fn quick_create(b: &Browser, fields: &[(&str, &str)]) -> Page {
    b.submit("/contacts/new", "/contacts/new", fields).await
}

fn id_from(location: &str) -> i64 {
    location
        .trim_start_matches("/contacts/")
        .split(['?', '/'])
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no contact id in {location}"))
}

async fn create_contact(b: &Browser, first: &str, last: &str, extra: &[(&str, &str)]) -> i64 {
    let mut fields = vec![
        ("layout", "full"),
        ("first_name", first),
        ("last_name", last),
        ("confirm_duplicates", "1"),
    ];
    fields.extend_from_slice(extra);
    let res = b
        .submit("/contacts/new/full", "/contacts/new", &fields)
        .await;
    assert_eq!(res.status, 303, "create {first} {last}: {}", res.body);
    id_from(&res.location().expect("location"))
}

fn sql(app: &TestApp, q: &str) {
    sql_query(q).execute(&mut app.conn()).expect(q);
}

#[actix_rt::test]
async fn quick_create_saves_a_lead_owned_by_its_creator_and_logs_it() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let form = b.get("/contacts/new").await;
    assert_eq!(form.status, 200);
    for label in [
        "Type",
        "Level",
        "First name",
        "Last name (required)",
        "Country code",
        "Mobile",
        "Email",
    ] {
        assert!(
            form.texts("label").iter().any(|l| l == label),
            "quick form has {label}"
        );
    }
    assert_eq!(
        form.attr("#f-contact_type option[selected]", "value")
            .as_deref(),
        Some("lead")
    );
    assert_eq!(
        form.attr("#f-level option[selected]", "value").as_deref(),
        Some("primary")
    );

    let res = b
        .post(
            "/contacts/new",
            &form.csrf(),
            &[
                ("contact_type", "lead"),
                ("level", "primary"),
                ("first_name", "Mei"),
                ("last_name", "Chan"),
                ("phone-0-kind", "mobile"),
                ("phone-0-country", "HK"),
                ("phone-0-number", "9123 4567"),
                ("email-0-kind", "work"),
                ("email-0-email", "Mei.Chan@Example.HK"),
                ("submit", "create"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let id = id_from(&res.location().expect("location"));
    let page = b.get(&format!("/contacts/{id}")).await;
    assert_eq!(page.text("h1"), "Mei Chan");
    assert!(
        page.text(".flash-success")
            .contains("Mei Chan has been created")
    );
    assert!(
        page.texts(".plain li")
            .iter()
            .any(|t| t.contains("+85291234567"))
    );
    assert!(
        page.texts(".plain li")
            .iter()
            .any(|t| t.contains("Mei.Chan@example.hk"))
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id} AND owner_id = {me} AND created_by = {me} AND contact_type = 'lead'")), 1);
    assert_eq!(app.count(&format!("SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = 'create' AND source = 'form' AND staff_id = {me}")), 1);
}

#[actix_rt::test]
async fn save_and_create_new_confirms_and_offers_an_empty_form() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let res = quick_create(
        &b,
        &[
            ("first_name", "Tom"),
            ("last_name", "Baker"),
            ("submit", "create_new"),
        ],
    )
    .await;
    assert_eq!(res.status, 303);
    let next = res.location().expect("location");
    assert!(next.starts_with("/contacts/new?saved="), "{next}");
    let page = b.get(&next).await;
    assert_eq!(page.status, 200);
    let confirmations = page.texts(".flash-success");
    assert_eq!(
        confirmations.len(),
        1,
        "one confirmation: {confirmations:?}"
    );
    assert!(confirmations[0].contains("Tom Baker has been saved"));
    assert!(
        page.exists("#f-first_name[autofocus]"),
        "the cursor is back in First name"
    );
    assert_eq!(
        page.attr("#f-first_name", "value").as_deref(),
        Some(""),
        "the form is empty"
    );
    assert_eq!(page.attr("#f-last_name", "value").as_deref(), Some(""));
    assert!(page.exists(&format!(
        "a[href='/contacts/{}']",
        id_from(&next.replace("/contacts/new?saved=", "/contacts/"))
    )));
}

#[actix_rt::test]
async fn more_details_opens_the_full_form_keeping_what_was_typed() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let res = quick_create(
        &b,
        &[
            ("first_name", "Yuki"),
            ("last_name", "Sato"),
            ("phone-0-kind", "mobile"),
            ("phone-0-country", "JP"),
            ("phone-0-number", "90 1234 5678"),
            ("email-0-kind", "work"),
            ("email-0-email", "yuki@example.jp"),
            ("submit", "more"),
        ],
    )
    .await;
    assert_eq!(res.status, 200);
    assert!(res.exists("#f-company"), "the full form");
    assert_eq!(res.attr("#f-first_name", "value").as_deref(), Some("Yuki"));
    assert_eq!(
        res.attr("#f-phone-0-number", "value").as_deref(),
        Some("90 1234 5678")
    );
    assert_eq!(
        res.attr("#f-phone-0-country option[selected]", "value")
            .as_deref(),
        Some("JP")
    );
    assert_eq!(
        res.attr("#f-email-0-email", "value").as_deref(),
        Some("yuki@example.jp")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        0,
        "nothing saved yet"
    );
}

#[actix_rt::test]
async fn the_full_form_adds_rows_without_javascript_and_saves_everything() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let page = b.get("/contacts/new/full").await;
    let token = page.csrf();
    let mut fields = vec![
        ("layout", "full"),
        ("first_name", "Marco"),
        ("last_name", "Bianchi"),
        ("phone-0-kind", "mobile"),
        ("phone-0-country", "IT"),
        ("phone-0-number", "02 1234 5678"),
        ("add", "phone"),
    ];
    let more = b.post("/contacts/new", &token, &fields).await;
    assert_eq!(more.status, 200);
    assert!(
        more.exists("#f-phone-1-number"),
        "a second phone row appeared"
    );
    assert_eq!(
        more.attr("#f-phone-0-number", "value").as_deref(),
        Some("02 1234 5678")
    );
    fields.retain(|(k, _)| *k != "add");
    fields.extend_from_slice(&[
        ("phone-1-kind", "work"),
        ("phone-1-number", "+39 06 9876 5432"),
        ("email-0-kind", "personal"),
        ("email-0-email", "marco@example.it"),
        ("social-0-kind", "whatsapp"),
        ("social-0-handle", "+39 333 123 4567"),
        ("social-1-kind", "line"),
        ("social-1-handle", "marco.b"),
        ("company", "Bianchi & Figli"),
        ("job_title", "Head of Marketing, Asia Division"),
        ("team", "Marketing"),
        ("birth_date", "1/5/1980"),
        ("language", "it"),
        ("contact_group", "Europe"),
        ("street", "Via Roma 1\nScala B"),
        ("city", "Milano"),
        ("zip_code", "20121"),
        ("country", "IT"),
        ("contact_type", "prospect"),
        ("level", "secondary"),
        ("submit", "create"),
    ]);
    let res = b.post("/contacts/new", &token, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let id = id_from(&res.location().expect("location"));
    let show = b.get(&format!("/contacts/{id}")).await;
    let text = show.texts("article").join(" ");
    for expected in [
        "+390212345678",
        "+390698765432",
        "marco@example.it",
        "+393331234567",
        "marco.b",
        "Head of Marketing, Asia Division",
        "01/05/1980",
        "Italian",
        "Milano",
        "Italy",
        "Prospect",
        "Secondary",
    ] {
        assert!(text.contains(expected), "profile shows {expected}: {text}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {id} AND street = E'Via Roma 1\\nScala B'"
        )),
        1,
        "the line break is kept"
    );
}

#[actix_rt::test]
async fn a_failed_submit_saves_nothing_and_keeps_everything_typed() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let long = "x".repeat(10_000);
    let res = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", "<script>alert('x')</script>"),
                ("last_name", ""),
                ("company", &long),
                ("birth_date", "02/30/1990"),
                ("language", "german"),
                ("phone-0-kind", "mobile"),
                ("phone-0-number", "98765 43210"),
                ("email-0-kind", "work"),
                ("email-0-email", "lena(at)example.de"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    for (key, needle) in [
        ("last_name", "required"),
        ("company", "at most 255"),
        ("birth_date", "not a real date"),
        ("phone-0-number", "needs a +"),
        ("email-0-email", "exactly one @"),
    ] {
        assert!(
            res.text(&format!("#e-{key}")).contains(needle),
            "{key}: {}",
            res.text(&format!("#e-{key}"))
        );
    }
    assert_eq!(
        res.attr("#f-first_name", "value").as_deref(),
        Some("<script>alert('x')</script>")
    );
    assert_eq!(
        res.attr("#f-company", "value").map(|v| v.len()),
        Some(10_000)
    );
    assert_eq!(
        res.attr("#f-phone-0-number", "value").as_deref(),
        Some("98765 43210")
    );
    assert!(!res.body.contains("<script>alert"), "escaped");
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);
    // The summary names every field in error and links to it.
    let summary: Vec<String> = res.texts(".error-summary li a");
    assert_eq!(summary.len(), 6, "{summary:?}");
    for (text, href) in [
        ("Last name: is required", "#f-last_name"),
        ("Email address 1: ", "#f-email-0-email"),
        ("Phone number 1: ", "#f-phone-0-number"),
    ] {
        assert!(
            res.html()
                .select(&scraper::Selector::parse(".error-summary a").expect("css"))
                .any(|a| a.text().collect::<String>().starts_with(text)
                    && a.value().attr("href") == Some(href)),
            "{text} → {href}: {summary:?}"
        );
    }
}

#[actix_rt::test]
async fn quick_create_can_always_finish_when_a_custom_field_is_required() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    sql(
        &app,
        "INSERT INTO custom_fields (label, kind, required, options) VALUES \
         ('Account number', 'text', true, '{}'), ('Region', 'dropdown', true, '{North,South}'), \
         ('Hobby', 'text', false, '{}')",
    );
    let form = b.get("/contacts/new").await;
    assert!(form.exists("#f-last_name"));
    let labels = form.texts("label");
    assert!(
        labels.contains(&"Account number (required)".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"Region (required)".to_string()),
        "{labels:?}"
    );
    assert!(
        !labels.iter().any(|l| l.starts_with("Hobby")),
        "optional custom fields stay on the full form"
    );
    let account = form
        .attr("label:not(.check)[for^='f-custom-']", "for")
        .expect("a custom field");
    let account = account.trim_start_matches("f-");
    let region = app.count("SELECT id FROM custom_fields WHERE label = 'Region'");
    let region_key = format!("custom-{region}");

    let res = quick_create(&b, &[("last_name", "Ng")]).await;
    assert_eq!(res.status, 422);
    let summary = res.texts(".error-summary li");
    assert_eq!(
        summary,
        vec![
            "Account number: is required".to_string(),
            "Region: is required".to_string()
        ],
        "the summary names every field in error"
    );
    assert!(res.exists(&format!("#e-{account}")));
    assert_eq!(res.attr("#f-last_name", "value").as_deref(), Some("Ng"));

    let res = quick_create(
        &b,
        &[
            ("last_name", "Ng"),
            (account, "A-1"),
            (&region_key, "South"),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count("SELECT count(*) FROM custom_field_values WHERE value IN ('A-1', 'South')"),
        2
    );
}

#[actix_rt::test]
async fn hostile_and_unusual_text_is_stored_and_shown_escaped() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    for (first, last, company) in [
        ("😀🎉", "Smile", "%_\\ LIKE chars"),
        ("مرحبا", "بالعالم", "Percent 100 Co"),
        ("Robert'); DROP TABLE contacts;--", "Tables", "a_b Co"),
        (
            "<img src=x onerror=alert(1)>",
            "\"Quoted\" & <b>bold</b>",
            "axb Co",
        ),
    ] {
        let id = create_contact(&b, first, last, &[("company", company)]).await;
        let page = b.get(&format!("/contacts/{id}")).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.text("h1"), format!("{first} {last}"));
        assert!(!page.body.contains("<img src=x"));
        assert!(!page.body.contains("<b>bold</b>"));
    }
    // Unescaped, `%_` would match every contact and `a_b` would match `axb`.
    let list = b.get("/contacts?q=%25_").await;
    assert_eq!(
        list.texts(".contact-name"),
        ["😀🎉 Smile"],
        "LIKE wildcards match literally"
    );
    let list = b.get("/contacts?q=a_b").await;
    assert_eq!(
        list.texts(".contact-name"),
        ["Robert'); DROP TABLE contacts;-- Tables"]
    );
    let list = b.get("/contacts?q=%5C").await;
    assert_eq!(list.texts(".contact-name"), ["😀🎉 Smile"]);
    let list = b.get("/contacts?q=DROP").await;
    assert_eq!(
        list.texts(".contact-name"),
        ["Robert'); DROP TABLE contacts;-- Tables"]
    );
    let bell = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[("layout", "full"), ("last_name", "Bell\u{7}Byte")],
        )
        .await;
    assert_eq!(
        bell.status, 422,
        "control characters are refused with a message"
    );
    assert!(bell.text("#e-last_name").contains("control characters"));
    assert_eq!(
        bell.attr("#f-last_name", "value").as_deref(),
        Some("Bell\u{7}Byte"),
        "what was typed is kept"
    );
    // PostgreSQL cannot store a NUL at all: refused before any handler.
    let nul = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[("layout", "full"), ("last_name", "Nul\u{0}Byte")],
        )
        .await;
    assert_eq!(nul.status, 400);
    assert!(nul.text("main").contains("NUL character"), "{}", nul.body);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 4);
}

#[actix_rt::test]
async fn the_edit_form_shows_each_phones_country_and_removes_rows_without_javascript() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = create_contact(
        &b,
        "Mei",
        "Chan",
        &[
            ("phone-0-kind", "mobile"),
            ("phone-0-country", "HK"),
            ("phone-0-number", "9123 4567"),
            ("phone-1-kind", "work"),
            ("phone-1-number", "+44 20 7946 0000"),
            ("email-0-kind", "work"),
            ("email-0-email", "mei@harbour.example"),
            ("email-1-kind", "personal"),
            ("email-1-email", "mei@home.example"),
        ],
    )
    .await;
    let form = b.get(&format!("/contacts/{id}/edit")).await;
    let selected =
        |p: &common::Page, css: &str| p.attr(&format!("{css} option[selected]"), "value");
    assert_eq!(selected(&form, "#f-phone-0-country").as_deref(), Some("HK"));
    assert_eq!(
        form.attr("#f-phone-0-number", "value").as_deref(),
        Some("91234567")
    );
    assert_eq!(selected(&form, "#f-phone-1-country").as_deref(), Some("GB"));
    assert_eq!(
        form.attr("#f-phone-1-number", "value").as_deref(),
        Some("2079460000")
    );
    assert_eq!(form.text("button[value=phone-0]"), "Remove phone number 1");
    let fields = |remove: Option<&'static str>| {
        let mut f = vec![
            ("version", "1"),
            ("first_name", "Mei"),
            ("last_name", "Chan"),
            ("phone-0-kind", "mobile"),
            ("phone-0-country", "HK"),
            ("phone-0-number", "91234567"),
            ("phone-1-kind", "work"),
            ("phone-1-country", "GB"),
            ("phone-1-number", "2079460000"),
            ("email-0-kind", "work"),
            ("email-0-email", "mei@harbour.example"),
            ("email-1-kind", "personal"),
            ("email-1-email", "mei@home.example"),
        ];
        if let Some(r) = remove {
            f.push(("remove", r));
        }
        f
    };
    // Saved unchanged: the numbers come back as they were, nothing logged.
    let res = b
        .post(&format!("/contacts/{id}/edit"), &form.csrf(), &fields(None))
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = 'update'"
        )),
        0,
        "the split numbers are the same numbers"
    );
    // Remove redraws the form without the row; nothing is saved until Save.
    let f = fields(Some("email-0"));
    let redrawn = b
        .post(&format!("/contacts/{id}/edit"), &form.csrf(), &f)
        .await;
    assert_eq!(redrawn.status, 200);
    assert_eq!(
        redrawn.attr("#f-email-0-email", "value").as_deref(),
        Some("mei@home.example")
    );
    assert!(!redrawn.exists("#f-email-1-email"), "one email row left");
    assert_eq!(
        redrawn.attr("#f-phone-1-number", "value").as_deref(),
        Some("2079460000"),
        "the rest is kept"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {id}"
        )),
        2
    );
    let version = b
        .get(&format!("/contacts/{id}/edit"))
        .await
        .attr("input[name=version]", "value")
        .expect("version");
    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form.csrf(),
            &[
                ("version", version.as_str()),
                ("first_name", "Mei"),
                ("last_name", "Chan"),
                ("phone-0-kind", "mobile"),
                ("phone-0-country", "HK"),
                ("phone-0-number", "91234567"),
                ("email-0-kind", "personal"),
                ("email-0-email", "mei@home.example"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {id}"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_phones WHERE contact_id = {id}"
        )),
        1
    );
    // Enter in a text field saves: the form's first submit button is Save.
    let edit = b.get(&format!("/contacts/{id}/edit")).await;
    assert_eq!(
        edit.attr("form.contact-form button[type=submit]", "value")
            .as_deref(),
        Some("save")
    );
    // One name for one thing.
    assert!(edit.text("label[for=f-team]") == "Team");
}

#[actix_rt::test]
async fn editing_logs_each_changed_field_and_refuses_a_lost_update() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let id = create_contact(
        &b,
        "Lena",
        "Vogel",
        &[
            ("company", "Vogel GmbH"),
            ("email-0-kind", "work"),
            ("email-0-email", "lena@example.de"),
        ],
    )
    .await;
    let form_a = b.get(&format!("/contacts/{id}/edit")).await;
    assert_eq!(
        form_a.attr("input[name=version]", "value").as_deref(),
        Some("1")
    );
    let (_, other) = app.signed_in_admin().await;
    let form_b = other.get(&format!("/contacts/{id}/edit")).await;

    // B saves first.
    let res = other
        .post(
            &format!("/contacts/{id}/edit"),
            &form_b.csrf(),
            &[
                ("version", "1"),
                ("first_name", "Lena"),
                ("last_name", "Vogel-Schmidt"),
                ("company", "Vogel GmbH"),
                ("email-0-kind", "work"),
                ("email-0-email", "lena@example.de"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // A, with the form opened at version 1, is refused and shown what B changed.
    let stale = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form_a.csrf(),
            &[
                ("version", "1"),
                ("first_name", "Lena"),
                ("last_name", "Vogel"),
                ("company", "Vogel AG"),
                ("email-0-kind", "work"),
                ("email-0-email", "lena@example.de"),
            ],
        )
        .await;
    assert_eq!(stale.status, 409);
    let message = stale.text(".flash-error");
    assert!(
        message.contains("Someone else saved this contact"),
        "{message}"
    );
    assert!(
        message.contains("Last name: “Vogel” → “Vogel-Schmidt”"),
        "{message}"
    );
    assert_eq!(
        stale.attr("#f-company", "value").as_deref(),
        Some("Vogel AG"),
        "A's typing is kept"
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id} AND last_name = 'Vogel-Schmidt' AND company = 'Vogel GmbH'")), 1, "nothing overwritten");
    // Having seen it, A may save deliberately.
    assert_eq!(
        stale.attr("input[name=version]", "value").as_deref(),
        Some("2")
    );

    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form_a.csrf(),
            &[
                ("version", "2"),
                ("first_name", "Lena"),
                ("last_name", "Vogel-Schmidt"),
                ("company", "Vogel AG"),
                ("email-0-kind", "work"),
                ("email-0-email", "lena@example.de"),
                ("email-1-kind", "personal"),
                ("email-1-email", "lena@home.example"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count(&format!("SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = 'update' AND staff_id = {me}")), 2, "company and emails");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND field = 'Company' AND old_value = 'Vogel GmbH' AND new_value = 'Vogel AG' AND version = 3")),
        1
    );
    let show = b.get(&format!("/contacts/{id}")).await;
    let latest = show.texts(".latest-changes .log li");
    assert!(
        latest
            .iter()
            .any(|t| t.contains("Arthur Agent changed Company from “Vogel GmbH” to “Vogel AG”.")),
        "{latest:?}"
    );
}

#[actix_rt::test]
async fn verified_phones_and_emails_cannot_be_changed_even_by_a_crafted_post() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = create_contact(
        &b,
        "Ravi",
        "Kumar",
        &[
            ("phone-0-kind", "mobile"),
            ("phone-0-number", "+91 98765 43210"),
            ("email-0-kind", "work"),
            ("email-0-email", "ravi@example.in"),
        ],
    )
    .await;
    sql(
        &app,
        &format!("UPDATE contact_phones SET verified = true WHERE contact_id = {id}"),
    );
    let phone_id = app.count(&format!(
        "SELECT id FROM contact_phones WHERE contact_id = {id}"
    ));
    let form = b.get(&format!("/contacts/{id}/edit")).await;
    assert!(
        form.text(".locked-row").contains("+919876543210"),
        "shown locked"
    );
    assert!(!form.exists("input[value='+919876543210']"), "not editable");
    // A crafted POST that claims the verified row and changes its number, and one that drops it.
    let pid = phone_id.to_string();
    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form.csrf(),
            &[
                ("version", "1"),
                ("last_name", "Kumar"),
                ("phone-0-id", &pid),
                ("phone-0-kind", "mobile"),
                ("phone-0-number", "+1 555 000 0000"),
                ("email-0-kind", "work"),
                ("email-0-email", "ravi@example.in"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count(&format!("SELECT count(*) FROM contact_phones WHERE contact_id = {id} AND number = '+919876543210' AND verified")), 1, "kept as it was");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_phones WHERE contact_id = {id}"
        )),
        1,
        "the crafted row was ignored"
    );
    let form = b.get(&format!("/contacts/{id}/edit")).await;
    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form.csrf(),
            &[("version", "2"), ("last_name", "Kumar")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_phones WHERE contact_id = {id} AND verified"
        )),
        1,
        "not removable either"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {id}"
        )),
        0,
        "unverified ones can be removed"
    );
}

#[actix_rt::test]
async fn verified_emails_and_social_ids_cannot_be_changed_or_removed_either() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = create_contact(
        &b,
        "Mei",
        "Chan",
        &[
            ("email-0-kind", "work"),
            ("email-0-email", "mei@example.hk"),
            ("social-0-kind", "line"),
            ("social-0-handle", "mei.line"),
        ],
    )
    .await;
    sql(
        &app,
        &format!("UPDATE contact_emails SET verified = true WHERE contact_id = {id}"),
    );
    sql(
        &app,
        &format!("UPDATE contact_socials SET verified = true WHERE contact_id = {id}"),
    );
    let email_id = app
        .count(&format!(
            "SELECT id FROM contact_emails WHERE contact_id = {id}"
        ))
        .to_string();
    let social_id = app
        .count(&format!(
            "SELECT id FROM contact_socials WHERE contact_id = {id}"
        ))
        .to_string();
    let form = b.get(&format!("/contacts/{id}/edit")).await;
    let locked = form.texts(".locked-row").join(" | ");
    assert!(
        locked.contains("mei@example.hk") && locked.contains("mei.line"),
        "{locked}"
    );
    assert!(
        !form.exists("input[value='mei@example.hk']"),
        "not editable"
    );
    assert!(!form.exists("input[value='mei.line']"), "not editable");
    // Crafted: claim both rows and change their values.
    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form.csrf(),
            &[
                ("version", "1"),
                ("last_name", "Chan"),
                ("email-0-id", &email_id),
                ("email-0-kind", "personal"),
                ("email-0-email", "attacker@example.com"),
                ("social-0-id", &social_id),
                ("social-0-kind", "line"),
                ("social-0-handle", "attacker"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // Crafted: leave them out altogether.
    let form = b.get(&format!("/contacts/{id}/edit")).await;
    let res = b
        .post(
            &format!("/contacts/{id}/edit"),
            &form.csrf(),
            &[("version", "2"), ("last_name", "Chan")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {id} \
             AND email = 'mei@example.hk' AND kind = 'work' AND verified"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_socials WHERE contact_id = {id} \
             AND handle = 'mei.line' AND verified"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT (SELECT count(*) FROM contact_emails WHERE contact_id = {id}) \
             + (SELECT count(*) FROM contact_socials WHERE contact_id = {id})"
        )),
        2,
        "nothing crafted was added"
    );
}

#[actix_rt::test]
async fn duplicates_are_flagged_with_a_link_and_may_be_saved_anyway() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let first = create_contact(
        &b,
        "Mei",
        "Chan",
        &[
            ("email-0-kind", "work"),
            ("email-0-email", "mei@example.hk"),
        ],
    )
    .await;
    let res = quick_create(
        &b,
        &[
            ("first_name", "Mei"),
            ("last_name", "Chan"),
            ("email-0-kind", "work"),
            ("email-0-email", "MEI@example.hk"),
            ("submit", "create"),
        ],
    )
    .await;
    assert_eq!(res.status, 409);
    assert!(res.text(".flash-warning").contains("may be a duplicate"));
    assert!(res.exists(&format!(".flash-warning a[href='/contacts/{first}']")));
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 1);
    assert_eq!(
        res.text("button[value='create']"),
        "Save anyway",
        "the button says what it does now"
    );
    let again = b
        .post(
            "/contacts/new",
            &res.csrf(),
            &[
                ("first_name", "Mei"),
                ("last_name", "Chan"),
                ("email-0-kind", "work"),
                ("email-0-email", "MEI@example.hk"),
                ("confirm_duplicates", "1"),
                ("submit", "create"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);
}

#[actix_rt::test]
async fn delete_goes_to_the_trash_and_only_admins_restore_or_purge() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    let id = create_contact(&b, "Tom", "Baker", &[]).await;
    let confirm = b.get(&format!("/contacts/{id}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.text("h1").contains("Delete Tom Baker?"));
    let res = b
        .post(&format!("/contacts/{id}/delete"), &confirm.csrf(), &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id} AND deleted_at IS NOT NULL AND deleted_by = {agent}")), 1);
    assert!(
        b.get("/contacts").await.texts(".contact-name").is_empty(),
        "gone from the list"
    );
    assert_eq!(
        b.get(&format!("/contacts/{id}")).await.status,
        404,
        "agents do not see the trash"
    );
    let token = b.get("/contacts").await.csrf();
    assert_eq!(b.get("/contacts/trash").await.status, 403);
    assert_eq!(
        b.post(&format!("/contacts/{id}/restore"), &token, &[])
            .await
            .status,
        403
    );
    assert_eq!(
        b.post(&format!("/contacts/{id}/purge"), &token, &[])
            .await
            .status,
        403
    );

    let (_, admin) = app.signed_in_admin().await;
    let trash = admin.get("/contacts/trash").await;
    assert_eq!(trash.texts("tbody td:first-child a"), ["Tom Baker"]);
    assert_eq!(
        trash.attr("a.button.danger", "href"),
        Some(format!("/contacts/{id}/purge")),
        "Delete for good leads to a confirmation page, not a pop-up"
    );
    let res = admin
        .post(&format!("/contacts/{id}/restore"), &trash.csrf(), &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        b.get("/contacts").await.texts(".contact-name"),
        ["Tom Baker"]
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action IN ('delete', 'restore')")), 2);
    // Purge only works from the trash.
    assert_eq!(
        admin
            .post(&format!("/contacts/{id}/purge"), &trash.csrf(), &[])
            .await
            .status,
        303
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id}")),
        1,
        "a live contact is not purged"
    );
    assert_eq!(
        admin.get(&format!("/contacts/{id}/purge")).await.status,
        404,
        "a live contact has no purge page"
    );
    admin
        .post(&format!("/contacts/{id}/delete"), &trash.csrf(), &[])
        .await;
    assert_eq!(b.get(&format!("/contacts/{id}/purge")).await.status, 403);
    let confirm = admin.get(&format!("/contacts/{id}/purge")).await;
    assert_eq!(confirm.text("h1"), "Delete Tom Baker for good?");
    assert!(confirm.text("main form").contains("Delete for good"));
    admin
        .post(&format!("/contacts/{id}/purge"), &confirm.csrf(), &[])
        .await;
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id}")),
        0,
        "gone for good"
    );
}

#[actix_rt::test]
async fn blank_companies_sort_last_both_ways_and_pages_cross_over_to_them() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    // 20 named companies (co-00 … co-19) and 10 blank ones.
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (first_name, last_name, company) \
             SELECT 'P', 'Named ' || n, 'co-' || lpad(n::text, 2, '0') FROM generate_series(0, 19) n; \
             INSERT INTO contacts (first_name, last_name, company) \
             SELECT 'P', 'Blank ' || n, '' FROM generate_series(0, 9) n;",
        )
        .expect("fixtures");
    let companies = |p: &common::Page| p.texts("td.company-col");
    for dir in ["asc", "desc"] {
        let first = b.get(&format!("/contacts?sort=company&dir={dir}")).await;
        let got = companies(&first);
        assert_eq!(got.len(), 25, "{dir}");
        let mut named: Vec<String> = (0..20).map(|n| format!("co-{n:02}")).collect();
        if dir == "desc" {
            named.reverse();
        }
        assert_eq!(got[..20], named[..], "{dir}: the named ones in order");
        assert!(got[20..].iter().all(String::is_empty), "{dir}: then blanks");
        assert_eq!(first.text(".pager .position"), "1–25 of 30");
        let next = first.attr("a[rel=next]", "href").expect("next");
        let second = b.get(&next).await;
        assert_eq!(companies(&second).len(), 5, "{dir}: the other blanks");
        assert!(companies(&second).iter().all(String::is_empty));
        assert_eq!(second.text(".pager .position"), "26–30 of 30");
        assert!(second.attr("a[rel=next]", "href").is_none());
        // And back: the page before the second is the first again.
        let prev = second.attr("a[rel=prev]", "href").expect("prev");
        let back = b.get(&prev).await;
        assert_eq!(companies(&back), companies(&first), "{dir}: back again");
        assert_eq!(back.text(".pager .position"), "1–25 of 30");
    }
    // The column headers sort, and say how.
    let list = b.get("/contacts?sort=company").await;
    assert_eq!(
        list.attr("th[aria-sort]", "aria-sort").as_deref(),
        Some("ascending")
    );
    assert_eq!(
        list.attr("th[aria-sort] a", "href").as_deref(),
        Some("/contacts?sort=company&dir=desc"),
        "a second click reverses"
    );
    assert_eq!(
        list.attr("th.name-col a", "href").as_deref(),
        Some("/contacts")
    );
}

#[actix_rt::test]
async fn search_matches_name_company_email_and_phone_and_combines_with_filters() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_admin().await;
    let owner2 = app.add_staff(
        "Bella Brown",
        "bella@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    let vip = admin_label(&app, "VIP");
    let mei = create_contact(
        &b,
        "Mei",
        "Chan",
        &[
            ("company", "Harbour Foods, Ltd."),
            ("phone-0-kind", "mobile"),
            ("phone-0-number", "+852 9123 4567"),
            ("contact_type", "customer"),
            ("label", &vip.to_string()),
        ],
    )
    .await;
    let _tom = create_contact(
        &b,
        "Tom",
        "Baker",
        &[
            ("email-0-kind", "work"),
            ("email-0-email", "tom@example.co.uk"),
            ("contact_type", "lead"),
        ],
    )
    .await;
    let chen = create_contact(
        &b,
        "Chen",
        "Wei",
        &[
            ("company", "Harbour Logistics"),
            ("contact_type", "customer"),
            ("level", "secondary"),
            ("owner", &owner2.to_string()),
        ],
    )
    .await;
    let names = |p: &Page| p.texts(".contact-name");
    assert_eq!(
        names(&b.get("/contacts").await),
        ["Chen Wei", "Mei Chan", "Tom Baker"]
    );
    assert_eq!(
        names(&b.get("/contacts?q=harbour").await),
        ["Chen Wei", "Mei Chan"]
    );
    assert_eq!(
        names(&b.get("/contacts?q=9123+4567").await),
        ["Mei Chan"],
        "phone search ignores formatting"
    );
    assert_eq!(names(&b.get("/contacts?q=%2B852-9123").await), ["Mei Chan"]);
    assert_eq!(
        names(&b.get("/contacts?q=example.co.uk").await),
        ["Tom Baker"]
    );
    assert_eq!(
        names(&b.get("/contacts?q=CHAN+mei").await),
        ["Mei Chan"],
        "words in any order"
    );
    assert_eq!(
        names(&b.get("/contacts?q=harbour&level=secondary").await),
        ["Chen Wei"]
    );
    assert_eq!(
        names(&b.get(&format!("/contacts?q=harbour&label={vip}")).await),
        ["Mei Chan"]
    );
    assert_eq!(
        names(&b.get("/contacts?type=customer").await),
        ["Chen Wei", "Mei Chan"]
    );
    assert_eq!(
        names(&b.get(&format!("/contacts?owner={owner2}")).await),
        ["Chen Wei"]
    );
    assert_eq!(
        names(&b.get(&format!("/contacts?owner={me}&type=customer")).await),
        ["Mei Chan"]
    );
    assert_eq!(
        names(&b.get("/contacts?q=harbour&sort=company").await),
        ["Mei Chan", "Chen Wei"],
        "Foods before Logistics"
    );
    let page = b
        .get("/contacts?q=harbour&type=customer&sort=company&dir=desc")
        .await;
    assert_eq!(names(&page), ["Chen Wei", "Mei Chan"]);
    assert_eq!(page.text(".result-count"), "2 contacts");
    assert_eq!(
        page.attr("#f-q", "value").as_deref(),
        Some("harbour"),
        "the view is in the URL and the form"
    );
    assert_eq!(
        page.attr("#f-type option[selected]", "value").as_deref(),
        Some("customer")
    );
    let none = b.get("/contacts?q=nobody+here").await;
    assert!(none.text(".empty").contains("No contact matches"));
    let _ = (mei, chen);
}

fn admin_label(app: &TestApp, name: &str) -> i64 {
    contactbook::models::label::Label::insert(&mut app.conn(), name, "#aa0000")
        .expect("label")
        .id
}

/// The contact ids of a list page, in order.
fn page_ids(page: &Page) -> Vec<i64> {
    page.html()
        .select(&scraper::Selector::parse("a.cell-person").expect("css"))
        .filter_map(|a| a.value().attr("href"))
        .map(id_from)
        .collect()
}

#[actix_rt::test]
async fn keyset_pages_walk_forward_and_back_without_gaps() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    // Ties everywhere: 20 names three times each, 4 companies and a blank
    // one, and one timestamp shared by half the rows, so that the id
    // tie-breaker decides much of the order.
    sql(
        &app,
        &format!(
            "INSERT INTO contacts (first_name, last_name, company, owner_id, created_at, updated_at) \
             SELECT 'P', 'Person ' || lpad((i % 20)::text, 3, '0'), \
                    (ARRAY['', 'Acme', 'beta', 'Beta', 'Zed'])[1 + i % 5], {me}, \
                    CASE WHEN i % 2 = 0 THEN timestamptz '2026-01-01' ELSE timestamptz '2026-01-01' + i * interval '1 minute' END, \
                    CASE WHEN i % 3 = 0 THEN timestamptz '2026-02-01' ELSE timestamptz '2026-02-01' + i * interval '1 minute' END \
             FROM generate_series(1, 60) i"
        ),
    );
    sql(
        &app,
        "UPDATE contacts SET search_text = lower(first_name || ' ' || last_name || ' ' || company)",
    );
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    for sort in ["name", "company", "created", "updated"] {
        for dir in ["asc", "desc"] {
            let key = match sort {
                "name" => "sort_name",
                // Blank companies last, whichever the direction.
                "company" => "company = '', lower(company)",
                "created" => "created_at",
                _ => "updated_at",
            };
            let order = if dir == "asc" { "ASC" } else { "DESC" };
            // What the database says the whole order is.
            let expected: Vec<i64> = sql_query(format!(
                "SELECT id FROM contacts ORDER BY {key} {order}, id {order}"
            ))
            .load::<Id>(&mut app.conn())
            .expect("order")
            .into_iter()
            .map(|r| r.id)
            .collect();
            let mut seen = Vec::new();
            let mut url = format!("/contacts?per=25&sort={sort}&dir={dir}");
            let mut visited = Vec::new();
            loop {
                let page = b.get(&url).await;
                assert_eq!(page.status, 200, "{url}");
                seen.extend(page_ids(&page));
                visited.push(url.clone());
                match page.attr("a[rel=next]", "href") {
                    Some(next) => url = next,
                    None => break,
                }
            }
            assert_eq!(visited.len(), 3, "{sort} {dir}");
            assert_eq!(seen, expected, "{sort} {dir}: exactly the database's order");
            // Back from the last page gives the middle page again.
            let last = b.get(&url).await;
            let prev = b
                .get(&last.attr("a[rel=prev]", "href").expect("prev"))
                .await;
            assert_eq!(page_ids(&prev), seen[25..50].to_vec(), "{sort} {dir} back");
            assert_eq!(last.text(".result-count"), "60 contacts");
        }
    }
}

#[actix_rt::test]
async fn administrators_manage_labels_and_custom_fields_that_forms_then_use() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let page = admin.get("/admin/labels").await;
    let res = admin
        .post(
            "/admin/labels",
            &page.csrf(),
            &[("name", "Newsletter"), ("colour", "#22aa55")],
        )
        .await;
    assert_eq!(res.status, 303);
    let dup = admin
        .post(
            "/admin/labels",
            &page.csrf(),
            &[("name", "newsletter"), ("colour", "#22aa55")],
        )
        .await;
    assert_eq!(dup.status, 422);
    assert!(dup.text("#e-name").contains("already exists"));
    let bad = admin
        .post(
            "/admin/labels",
            &page.csrf(),
            &[("name", "X"), ("colour", "red; } body { display:none")],
        )
        .await;
    assert_eq!(bad.status, 422);
    let css = admin.get("/labels.css").await;
    assert!(css.body.contains("background: #22aa55"), "{}", css.body);

    let res = admin
        .post(
            "/admin/custom-fields",
            &page.csrf(),
            &[
                ("label", "Tier"),
                ("kind", "dropdown"),
                ("options", "Gold\nSilver\n"),
                ("required", "on"),
                ("position", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let no_options = admin
        .post(
            "/admin/custom-fields",
            &page.csrf(),
            &[("label", "Other"), ("kind", "dropdown"), ("options", "")],
        )
        .await;
    assert_eq!(no_options.status, 422);
    admin
        .post(
            "/admin/custom-fields",
            &page.csrf(),
            &[("label", "Renewal"), ("kind", "date")],
        )
        .await;

    let (_, agent) = app.signed_in_agent().await;
    assert_eq!(agent.get("/admin/labels").await.status, 403);
    assert_eq!(agent.get("/admin/custom-fields").await.status, 403);
    let form = agent.get("/contacts/new/full").await;
    assert!(form.exists("label.check span.label-chip"), "labels offered");
    let tier = form
        .attr("select[name^=custom-]", "name")
        .expect("custom dropdown");
    let renewal = form
        .attr("input[name^=custom-]", "name")
        .expect("custom date");
    let missing = agent
        .post(
            "/contacts/new",
            &form.csrf(),
            &[
                ("layout", "full"),
                ("last_name", "Kim"),
                (&renewal, "13/45/2030"),
            ],
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(missing.text(&format!("#e-{tier}")).contains("required"));
    assert!(
        missing
            .text(&format!("#e-{renewal}"))
            .contains("no month 13")
    );
    let label_id = app
        .count("SELECT id FROM labels WHERE name = 'Newsletter'")
        .to_string();
    let ok = agent
        .post(
            "/contacts/new",
            &form.csrf(),
            &[
                ("layout", "full"),
                ("last_name", "Kim"),
                (&tier, "gold"),
                (&renewal, "12/31/2030"),
                ("label", &label_id),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let show = agent.get(&ok.location().expect("location")).await;
    let details = show.texts(".details dd").join("|");
    assert!(details.contains("Gold"), "{details}");
    assert!(details.contains("2030-12-31"), "{details}");
    assert_eq!(show.texts(".profile-head .label-chip"), ["Newsletter"]);

    // Deleting a label or a field asks on a page of its own, saying what goes.
    let labels = admin.get("/admin/labels").await;
    let ask = labels
        .attr("a[href$='/delete']", "href")
        .expect("a Delete link");
    assert_eq!(agent.get(&ask).await.status, 403);
    let confirm = admin.get(&ask).await;
    assert_eq!(confirm.text("h1"), "Delete the label Newsletter?");
    assert!(
        confirm
            .text("main")
            .contains("the 1 contact that carries it")
    );
    assert_eq!(app.count("SELECT count(*) FROM labels"), 1, "nothing yet");
    let res = admin.post(&ask, &confirm.csrf(), &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM labels"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        1,
        "the contact stays"
    );
    let fields = admin.get("/admin/custom-fields").await;
    let ask = fields
        .attr("a[href$='/delete']", "href")
        .expect("a Delete link");
    let confirm = admin.get(&ask).await;
    assert!(confirm.text("h1").starts_with("Delete the field"));
    assert!(
        confirm
            .text("main")
            .contains("with the 1 value contacts hold in it")
    );
    assert_eq!(admin.post(&ask, &confirm.csrf(), &[]).await.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM custom_fields"), 1);
}

#[actix_rt::test]
async fn the_cached_first_page_shows_this_instances_writes_at_once() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = create_contact(&b, "Ann", "Lee", &[]).await;
    assert!(b.get("/contacts").await.text("main").contains("Ann Lee"));
    // Created, renamed, deleted: each shows on the very next list page.
    create_contact(&b, "Bob", "Ng", &[]).await;
    assert!(b.get("/contacts").await.text("main").contains("Bob Ng"));
    let edit = b.get(&format!("/contacts/{id}/edit")).await;
    let version = edit.attr("input[name=version]", "value").expect("version");
    let saved = b
        .post(
            &format!("/contacts/{id}/edit"),
            &edit.csrf(),
            &[
                ("first_name", "Anna"),
                ("last_name", "Lee"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let list = b.get("/contacts").await.text("main");
    assert!(
        list.contains("Anna Lee") && !list.contains("Ann Lee"),
        "{list}"
    );
    let confirm = b.get(&format!("/contacts/{id}/delete")).await;
    b.post(&format!("/contacts/{id}/delete"), &confirm.csrf(), &[])
        .await;
    let after = b.get("/contacts").await;
    assert!(after.text("main").contains("moved to the trash"));
    assert!(
        !after.text("table").contains("Anna Lee"),
        "{}",
        after.text("table")
    );
}

/// The references from a contact's rows are checked once per statement by
/// triggers, not by foreign keys: they must hold against a writer in
/// another transaction as a foreign key does. A phone added while the
/// contact is being deleted either goes with it or is refused, whichever
/// transaction comes first; none is left pointing at nothing.
#[test]
fn a_contacts_rows_follow_it_when_two_transactions_race() {
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    use std::time::Duration;

    let url = common::test_database_url();
    let connect = || PgConnection::establish(&url).expect("connect");
    let mut setup = connect();
    setup
        .batch_execute(
            "INSERT INTO staff (email, display_name) VALUES ('race@example.com', 'Race');
             INSERT INTO contacts (id, last_name, owner_id)
                 SELECT g, 'Racer', (SELECT id FROM staff) FROM generate_series(1, 2) g;",
        )
        .expect("a staff member and two contacts");

    // The phone's transaction first: the delete waits for it, then takes
    // the phone along.
    let mut adder = connect();
    adder
        .batch_execute(
            "BEGIN; INSERT INTO contact_phones (contact_id, kind, number) \
             VALUES (1, 'work', '+85291234567');",
        )
        .expect("add a phone");
    let deleter = std::thread::spawn({
        let mut c = connect();
        move || c.batch_execute("DELETE FROM contacts WHERE id = 1")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !deleter.is_finished(),
        "the delete waits for the phone's commit"
    );
    adder.batch_execute("COMMIT").expect("commit the phone");
    deleter
        .join()
        .expect("the deleting thread")
        .expect("the delete goes through");

    // The delete's transaction first: the phone waits for it, then is
    // refused.
    let mut remover = connect();
    remover
        .batch_execute("BEGIN; DELETE FROM contacts WHERE id = 2;")
        .expect("delete");
    let adder = std::thread::spawn({
        let mut c = connect();
        move || {
            c.batch_execute(
                "INSERT INTO contact_phones (contact_id, kind, number) \
                 VALUES (2, 'work', '+85291234568')",
            )
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !adder.is_finished(),
        "the phone waits for the delete's commit"
    );
    remover.batch_execute("COMMIT").expect("commit the delete");
    let refused = adder.join().expect("the adding thread");
    assert!(
        matches!(
            refused,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        ),
        "a phone for a deleted contact is refused: {refused:?}"
    );

    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left = sql_query("SELECT count(*) AS n FROM contact_phones")
        .get_result::<N>(&mut setup)
        .expect("count")
        .n;
    assert_eq!(left, 0, "no phone points at a deleted contact");
}

/// Each contact carries a copy of its labels for the list's filters, kept by
/// a trigger on `contact_labels`: two transactions labelling one contact at
/// once must both end up in it, and a label removed or deleted leaves it.
#[test]
fn a_contacts_copy_of_its_labels_keeps_both_when_two_transactions_label_it() {
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    use std::time::Duration;

    let url = common::test_database_url();
    let connect = || PgConnection::establish(&url).expect("connect");
    let mut setup = connect();
    setup
        .batch_execute(
            "INSERT INTO staff (email, display_name) VALUES ('labels@example.com', 'Labels');
             INSERT INTO contacts (id, last_name, owner_id) VALUES (1, 'Labelled', (SELECT id FROM staff));
             INSERT INTO labels (id, name, colour) VALUES (1, 'VIP', '#b91c1c'), (2, 'Press', '#15803d'), (3, 'Old', '#000000');",
        )
        .expect("a contact and three labels");
    #[derive(diesel::QueryableByName)]
    struct Copy {
        #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
        label_ids: Vec<i64>,
    }
    let copy = |c: &mut PgConnection| {
        sql_query("SELECT label_ids FROM contacts WHERE id = 1")
            .get_result::<Copy>(c)
            .expect("the copy")
            .label_ids
    };

    let mut first = connect();
    first
        .batch_execute("BEGIN; INSERT INTO contact_labels (contact_id, label_id) VALUES (1, 2);")
        .expect("the first label");
    let second = std::thread::spawn({
        let mut c = connect();
        move || {
            c.batch_execute(
                "INSERT INTO contact_labels (contact_id, label_id) VALUES (1, 1), (1, 3)",
            )
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !second.is_finished(),
        "the second writer waits for the first's commit before it copies the labels"
    );
    first.batch_execute("COMMIT").expect("commit the first");
    second
        .join()
        .expect("the second thread")
        .expect("the second labels go in");
    assert_eq!(copy(&mut setup), [1, 2, 3], "both writers' labels, sorted");

    setup
        .batch_execute("DELETE FROM contact_labels WHERE contact_id = 1 AND label_id = 2")
        .expect("remove a label");
    assert_eq!(copy(&mut setup), [1, 3]);
    setup
        .batch_execute("DELETE FROM labels WHERE id = 1")
        .expect("delete a label");
    assert_eq!(copy(&mut setup), [3], "a deleted label leaves its contacts");
}

/// Each contact carries a copy of its first phone and first email for the
/// list, kept by triggers on `contact_phones` and `contact_emails`: it
/// follows a reorder, a delete and a move to another contact (as a merge
/// moves them), and two transactions adding phones at once leave the one
/// that sorts first.
#[test]
fn a_contacts_copy_of_its_first_phone_and_email_follows_every_change() {
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    use std::time::Duration;

    let url = common::test_database_url();
    let connect = || PgConnection::establish(&url).expect("connect");
    let mut setup = connect();
    setup
        .batch_execute(
            "INSERT INTO staff (email, display_name) VALUES ('first@example.com', 'First');
             INSERT INTO contacts (id, last_name, owner_id) VALUES
                 (1, 'One', (SELECT id FROM staff)), (2, 'Two', (SELECT id FROM staff));
             INSERT INTO contact_phones (contact_id, kind, number, position) VALUES
                 (1, 'work', '+85220000001', 1), (1, 'mobile', '+85290000001', 0);
             INSERT INTO contact_emails (contact_id, kind, email, position) VALUES
                 (1, 'work', 'b@example.com', 1), (1, 'personal', 'a@example.com', 0);",
        )
        .expect("two contacts, one with two phones and two emails");
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Copy {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        first_phone: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        first_email: Option<String>,
    }
    let copy = |c: &mut PgConnection, id: i64| {
        let row = sql_query(format!(
            "SELECT first_phone, first_email FROM contacts WHERE id = {id}"
        ))
        .get_result::<Copy>(c)
        .expect("the copy");
        (row.first_phone, row.first_email)
    };
    let some = |p: &str, e: &str| (Some(p.to_string()), Some(e.to_string()));
    assert_eq!(
        copy(&mut setup, 1),
        some("+85290000001", "a@example.com"),
        "position 0 first, whatever the insert order"
    );
    assert_eq!(copy(&mut setup, 2), (None, None));

    setup
        .batch_execute(
            "UPDATE contact_phones SET position = 1 - position WHERE contact_id = 1;
             UPDATE contact_emails SET position = 1 - position WHERE contact_id = 1;",
        )
        .expect("reorder");
    assert_eq!(copy(&mut setup, 1), some("+85220000001", "b@example.com"));

    setup
        .batch_execute(
            "DELETE FROM contact_phones WHERE number = '+85220000001';
             DELETE FROM contact_emails WHERE email = 'b@example.com';",
        )
        .expect("delete the first ones");
    assert_eq!(copy(&mut setup, 1), some("+85290000001", "a@example.com"));

    setup
        .batch_execute(
            "UPDATE contact_phones SET contact_id = 2 WHERE contact_id = 1;
             UPDATE contact_emails SET contact_id = 2 WHERE contact_id = 1;",
        )
        .expect("move them to the other contact");
    assert_eq!(
        copy(&mut setup, 1),
        (None, None),
        "the old contact has none left"
    );
    assert_eq!(copy(&mut setup, 2), some("+85290000001", "a@example.com"));

    let mut first = connect();
    first
        .batch_execute(
            "BEGIN; INSERT INTO contact_phones (contact_id, kind, number, position) \
             VALUES (1, 'work', '+85220000009', 0);",
        )
        .expect("the first writer's phone");
    let second = std::thread::spawn({
        let mut c = connect();
        move || {
            c.batch_execute(
                "INSERT INTO contact_phones (contact_id, kind, number, position) \
                 VALUES (1, 'home', '+85230000009', 1)",
            )
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !second.is_finished(),
        "the second writer waits for the first's commit before it copies the phone"
    );
    first.batch_execute("COMMIT").expect("commit the first");
    second
        .join()
        .expect("the second thread")
        .expect("the second phone goes in");
    assert_eq!(
        copy(&mut setup, 1).0.as_deref(),
        Some("+85220000009"),
        "the phone at position 0, though the other writer committed last"
    );
}

/// A filter the data sample finds in tens of thousands of contacts shows
/// "More than 1,000" without counting them; a small one is counted exactly.
#[actix_web::test]
async fn large_filtered_views_are_not_counted_and_small_ones_are() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_admin().await;
    sql(
        &app,
        &format!(
            "INSERT INTO contacts (first_name, last_name, contact_type, owner_id) \
             SELECT 'P', 'Person ' || i, CASE WHEN i <= 900 THEN 'prospect' ELSE 'customer' END, {me} \
             FROM generate_series(1, 25900) i"
        ),
    );
    // The sample scales its shares by the planner's estimate of the table.
    sql(&app, "ANALYZE contacts");
    let large = b.get("/contacts?type=customer").await;
    assert_eq!(large.status, 200);
    assert!(
        large.body.contains(">More than 1,000 contacts<"),
        "{}",
        large.body
    );
    let small = b.get("/contacts?type=prospect").await;
    assert!(small.body.contains(">900 contacts<"), "{}", small.body);
}
