//! Bulk actions on the contact list: ticked contacts or all that match.

mod common;

use common::{Browser, TestApp, spawn_app};

/// Five contacts through the importer: three leads, two customers.
async fn seed(app: &TestApp, b: &Browser) {
    let data = "First Name,Last Name,Email,Type,Labels\n\
        Ann,Lee,ann@example.com,Lead,Old\n\
        Bob,Ng,bob@example.com,Lead,\n\
        Cy,Po,cy@example.com,Lead,\n\
        Di,Wu,di@example.com,Customer,Old\n\
        Ed,Yu,ed@example.com,Customer,\n";
    let token = b.get("/imports").await.csrf();
    let page = b
        .upload(
            &format!("/imports?csrf_token={token}"),
            "file",
            "seed.csv",
            "text/csv",
            data.as_bytes(),
        )
        .await;
    let location = page.location().expect("preview");
    let preview = b.get(&location).await;
    b.post(&format!("{location}/start"), &preview.csrf(), &[])
        .await;
    for _ in 0..200 {
        if app.count("SELECT count(*) FROM imports WHERE status = 'done'") == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("seed import did not finish");
}

fn id_of(app: &TestApp, last: &str) -> String {
    app.count(&format!(
        "SELECT id FROM contacts WHERE last_name = '{last}'"
    ))
    .to_string()
}

#[actix_rt::test]
async fn ticked_contacts_get_a_type_level_owner_and_labels() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let olga = app.add_staff(
        "Olga Owner",
        "olga@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    seed(&app, &b).await;
    let list = b.get("/contacts").await;
    assert_eq!(
        list.html()
            .select(&scraper::Selector::parse("td.select-col input[name=id]").expect("css"))
            .count(),
        5
    );
    let token = list.csrf();
    let (ann, bob) = (id_of(&app, "Lee"), id_of(&app, "Ng"));

    let done = b
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("id", &ann),
                ("id", &bob),
                ("action", "type"),
                ("contact_type", "prospect"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location().as_deref(), Some("/contacts"));
    let page = b.get("/contacts").await;
    assert!(
        page.text(".flash")
            .contains("Type set to Prospect for 2 contacts."),
        "{}",
        page.text(".flash")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE contact_type = 'prospect'"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Type' AND old_value = 'Lead' AND new_value = 'Prospect'"),
        2
    );
    assert_eq!(
        app.count(&format!("SELECT version FROM contacts WHERE id = {ann}")),
        2
    );

    b.post(
        "/contacts/bulk",
        &token,
        &[("id", &ann), ("action", "level"), ("level", "tertiary")],
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE level = 'tertiary'"),
        1
    );

    b.post(
        "/contacts/bulk",
        &token,
        &[
            ("id", &ann),
            ("id", &bob),
            ("action", "owner"),
            ("owner", &olga.to_string()),
        ],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE owner_id = {olga}"
        )),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Owner' AND old_value = 'Arthur Agent' AND new_value = 'Olga Owner'"),
        2
    );

    let old = app
        .count("SELECT id FROM labels WHERE name = 'Old'")
        .to_string();
    b.post(
        "/contacts/bulk",
        &token,
        &[
            ("id", &ann),
            ("id", &bob),
            ("action", "add_label"),
            ("label", &old),
        ],
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contact_labels"),
        3,
        "Ann had it already"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Labels' AND old_value = '' AND new_value = 'Old'"),
        1
    );
    b.post(
        "/contacts/bulk",
        &token,
        &[("id", &ann), ("action", "remove_label"), ("label", &old)],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_labels WHERE contact_id = {ann}"
        )),
        0
    );

    // Nothing ticked: a message, nothing changed.
    let none = b
        .post(
            "/contacts/bulk",
            &token,
            &[("action", "type"), ("contact_type", "others")],
        )
        .await;
    assert_eq!(none.status, 303);
    assert!(
        b.get("/contacts")
            .await
            .text("main")
            .contains("Tick the contacts first")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE contact_type = 'others'"),
        0
    );
    // An unknown owner is refused, and nothing changes.
    let before = app.count(&format!(
        "SELECT coalesce(owner_id, 0) * 1000 + version FROM contacts WHERE id = {ann}"
    ));
    let changes = app.count("SELECT count(*) FROM contact_changes");
    b.post(
        "/contacts/bulk",
        &token,
        &[("id", &ann), ("action", "owner"), ("owner", "999999")],
    )
    .await;
    assert!(
        b.get("/contacts")
            .await
            .text("main")
            .contains("active staff member")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT coalesce(owner_id, 0) * 1000 + version FROM contacts WHERE id = {ann}"
        )),
        before,
        "owner and version as they were"
    );
    assert_eq!(app.count("SELECT count(*) FROM contact_changes"), changes);
}

#[actix_rt::test]
async fn all_that_match_a_view_are_changed_deleted_after_confirmation_and_exported() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    seed(&app, &b).await;
    let token = b.get("/contacts?type=lead").await.csrf();
    let view = [("all", "1"), ("f_type", "lead"), ("q", "")];

    let mut fields = view.to_vec();
    fields.extend([("action", "level"), ("level", "secondary")]);
    let done = b.post("/contacts/bulk", &token, &fields).await;
    assert_eq!(
        done.location().as_deref(),
        Some("/contacts?type=lead"),
        "back to the same view"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE level = 'secondary'"),
        3
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contacts WHERE level = 'secondary' AND contact_type = 'lead'"
        ),
        3
    );

    let mut fields = view.to_vec();
    fields.push(("action", "export"));
    let csv = b.post("/contacts/bulk", &token, &fields).await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.body.trim_end().lines().count(),
        4,
        "header and three leads: {}",
        csv.body
    );

    let export_ticked = b
        .post(
            "/contacts/bulk",
            &token,
            &[("id", &id_of(&app, "Wu")), ("action", "export")],
        )
        .await;
    assert_eq!(export_ticked.body.trim_end().lines().count(), 2);
    assert!(export_ticked.body.contains("Di,Wu,"));
    assert!(
        app.count(
            "SELECT count(*) FROM exports WHERE scope = '1 contact selected' AND row_count = 1"
        ) == 1
    );

    // Delete asks first, stating the count, and writes nothing until confirmed.
    let mut fields = view.to_vec();
    fields.push(("action", "delete"));
    let confirm = b.post("/contacts/bulk", &token, &fields).await;
    assert_eq!(confirm.status, 200);
    assert_eq!(confirm.text("h1"), "Move 3 contacts to the trash?");
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL"),
        0
    );
    let mut fields = view.to_vec();
    fields.extend([("action", "delete"), ("confirmed", "1")]);
    b.post("/contacts/bulk", &confirm.csrf(), &fields).await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL AND contact_type = 'lead'"
        ),
        3
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NULL"),
        2
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND action = 'delete'"
        ),
        3
    );
    assert!(
        b.get("/contacts")
            .await
            .text("main")
            .contains("3 contacts moved to the trash.")
    );

    // Trashed contacts stay out of every export: all, a view, ticked ones.
    let trashed: Vec<String> = (0..3)
        .map(|n| {
            app.count(&format!(
                "SELECT id FROM contacts WHERE deleted_at IS NOT NULL ORDER BY id OFFSET {n} LIMIT 1"
            ))
            .to_string()
        })
        .collect();
    let live = app
        .count("SELECT min(id) FROM contacts WHERE deleted_at IS NULL")
        .to_string();
    let ids_in = |body: &str| -> Vec<String> {
        csv::ReaderBuilder::new()
            .from_reader(body.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| {
                r.expect("record")
                    .iter()
                    .next_back()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let all = b.get("/contacts/export.csv").await;
    assert_eq!(ids_in(&all.body).len(), 2, "{}", all.body);
    let view = b.get("/contacts/export.csv?type=lead").await;
    assert!(ids_in(&view.body).is_empty(), "{}", view.body);
    let token = b.get("/contacts").await.csrf();
    let ticked = b
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("id", &trashed[0]),
                ("id", &trashed[1]),
                ("id", &live),
                ("action", "export"),
            ],
        )
        .await;
    assert_eq!(ids_in(&ticked.body), vec![live.clone()], "{}", ticked.body);
    for body in [&all.body, &view.body, &ticked.body] {
        for id in &trashed {
            assert!(!ids_in(body).contains(id), "trashed {id} exported");
        }
    }
}

/// A view's export writes each contact exactly as the export of
/// everything does, whichever way it is read: in one stream (a third of
/// the contacts or more), by id range (a small view whose ids lie close
/// together) or contact by contact (a small, scattered one).
#[actix_rt::test]
async fn a_dense_and_a_sparse_view_export_each_contact_as_the_full_export_does() {
    use diesel::connection::SimpleConnection;
    let app = common::spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    app.conn()
        .batch_execute(
            "INSERT INTO labels (name) VALUES ('VIP'), ('Newsletter'); \
             INSERT INTO custom_fields (label, kind) VALUES ('Account', 'text'); \
             INSERT INTO contacts (first_name, last_name, contact_type, company) \
               SELECT 'P' || i, 'Q' || i, CASE WHEN i IN (1, 40) THEN 'others' WHEN i BETWEEN 10 AND 14 THEN 'prospect' WHEN i % 2 = 0 THEN 'lead' ELSE 'customer' END, 'Co ' || i \
               FROM generate_series(1, 40) i; \
             INSERT INTO contact_phones (contact_id, kind, number, position) \
               SELECT id, 'mobile', '+8529' || lpad(id::text, 7, '0'), 0 FROM contacts; \
             INSERT INTO contact_phones (contact_id, kind, number, position) \
               SELECT id, 'work', '+8523' || lpad(id::text, 7, '0'), 1 FROM contacts WHERE id % 3 = 0; \
             INSERT INTO contact_emails (contact_id, kind, email) SELECT id, 'work', 'p' || id || '@x.example' FROM contacts; \
             INSERT INTO contact_socials (contact_id, kind, handle) SELECT id, 'line', 'line' || id FROM contacts WHERE id % 4 = 0; \
             INSERT INTO contact_labels SELECT c.id, l.id FROM contacts c, labels l WHERE (c.id + l.id) % 3 = 0; \
             INSERT INTO custom_field_values SELECT c.id, f.id, 'A-' || c.id FROM contacts c, custom_fields f WHERE c.id % 5 = 0; \
             UPDATE contacts SET deleted_at = now() WHERE first_name = 'P8';",
        )
        .expect("fixtures");
    let records = |body: &str| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .from_reader(body.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.expect("record").iter().map(str::to_string).collect())
            .collect()
    };
    let all = records(&b.get("/contacts/export.csv").await.body);
    assert_eq!(all.len(), 39);
    let type_col = {
        let head = b.get("/contacts/export.csv").await.body;
        let header = csv::ReaderBuilder::new()
            .from_reader(head.trim_start_matches('\u{feff}').as_bytes())
            .headers()
            .expect("header")
            .clone();
        header
            .iter()
            .position(|h| h == "Type")
            .expect("Type column")
    };
    for (path, kind, n) in [
        ("/contacts/export.csv?type=lead", "Lead", 15),
        ("/contacts/export.csv?type=prospect", "Prospect", 5),
        ("/contacts/export.csv?type=others", "Others", 2),
    ] {
        let view = records(&b.get(path).await.body);
        let expected: Vec<Vec<String>> = all
            .iter()
            .filter(|r| r[type_col] == kind)
            .cloned()
            .collect();
        assert_eq!(view.len(), n, "{path}");
        assert_eq!(view, expected, "{path}");
    }
}

/// An export of more than 20,000 contacts is read in two halves at once,
/// the second on a connection of its own in the same snapshot and written
/// to a file until the first is sent. The file must still hold every
/// contact once, in id order, each as SQL says it is (phones in their
/// page order, label names sorted, custom fields), for everything and for
/// a filtered view, and the export is recorded with its count.
#[actix_rt::test]
async fn a_large_export_read_in_two_halves_holds_every_contact_once_in_order() {
    use diesel::connection::SimpleConnection;
    use std::collections::BTreeMap;
    let app = common::spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    app.conn()
        .batch_execute(
            "INSERT INTO labels (name) VALUES ('vip'), ('Newsletter'); \
             INSERT INTO custom_fields (label, kind) VALUES ('Account', 'text'); \
             INSERT INTO contacts (first_name, last_name, company) \
               SELECT 'P' || i, 'Q' || i, 'Co ' || i FROM generate_series(1, 25000) i; \
             INSERT INTO contact_phones (contact_id, kind, number, position) \
               SELECT id, 'mobile', '+8529' || lpad(id::text, 7, '0'), 1 FROM contacts; \
             INSERT INTO contact_phones (contact_id, kind, number, position) \
               SELECT id, 'mobile', '+8526' || lpad(id::text, 7, '0'), 0 FROM contacts WHERE id % 3 = 0; \
             INSERT INTO contact_emails (contact_id, kind, email) SELECT id, 'work', 'p' || id || '@x.example' FROM contacts; \
             INSERT INTO contact_labels SELECT c.id, l.id FROM contacts c, labels l \
               WHERE (l.name = 'vip' AND c.id % 10 <> 0) OR (l.name = 'Newsletter' AND c.id % 5 = 0); \
             INSERT INTO custom_field_values SELECT c.id, f.id, 'A-' || c.id FROM contacts c, custom_fields f WHERE c.id % 7 = 0; \
             UPDATE contacts SET deleted_at = now() WHERE id % 1000 = 0;",
        )
        .expect("fixtures");
    // What each live contact should read, computed by SQL on its own.
    #[derive(diesel::QueryableByName)]
    struct Expected {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let expected_of = |view: &str| -> BTreeMap<i64, String> {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT c.id, concat_ws('|', c.first_name, \
               (SELECT string_agg(p.number, ';' ORDER BY p.position, p.id) FROM contact_phones p WHERE p.contact_id = c.id), \
               (SELECT string_agg(e.email, ';') FROM contact_emails e WHERE e.contact_id = c.id), \
               coalesce((SELECT string_agg(l.name, ';' ORDER BY lower(l.name)) FROM contact_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.contact_id = c.id), ''), \
               coalesce((SELECT v.value FROM custom_field_values v WHERE v.contact_id = c.id), '')) AS line \
             FROM contacts c WHERE c.deleted_at IS NULL {view} ORDER BY c.id"
        ))
        .load::<Expected>(&mut app.conn())
        .expect("expected")
        .into_iter()
        .map(|e| (e.id, e.line))
        .collect()
    };
    let vip = app.count("SELECT id AS n FROM labels WHERE name = 'vip'");
    for (path, view, n) in [
        ("/contacts/export.csv".to_string(), String::new(), 24_975),
        (
            format!("/contacts/export.csv?label={vip}"),
            "AND c.id % 10 <> 0".to_string(),
            22_500,
        ),
    ] {
        let body = b.get(&path).await.body;
        let mut reader =
            csv::ReaderBuilder::new().from_reader(body.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_string)
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name).expect(name);
        let (first, mobile, email, labels, account, id) = (
            col("First Name"),
            col("Mobile"),
            col("Email"),
            col("Contact Label"),
            col("Account"),
            col("ContactBook ID"),
        );
        let mut ids = Vec::new();
        let mut got = BTreeMap::new();
        for record in reader.records() {
            let r = record.expect("record");
            let contact: i64 = r[id].parse().expect("id");
            ids.push(contact);
            got.insert(
                contact,
                [&r[first], &r[mobile], &r[email], &r[labels], &r[account]].join("|"),
            );
        }
        assert_eq!(ids.len(), n, "{path}: one record per contact");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{path}: in id order, none twice"
        );
        let expected = expected_of(&view);
        assert_eq!(got.len(), expected.len(), "{path}");
        for (contact, line) in &expected {
            assert_eq!(got.get(contact), Some(line), "{path}: contact {contact}");
        }
        assert_eq!(
            app.count("SELECT row_count AS n FROM exports ORDER BY id DESC LIMIT 1"),
            n as i64,
            "{path}: recorded"
        );
    }
}

/// A change to all that match is a job: recorded (who, what, how many),
/// followed on its own page, seen by its member and administrators only.
#[actix_rt::test]
async fn a_change_to_all_that_match_is_a_recorded_job() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    seed(&app, &b).await;
    let token = b.get("/contacts?type=lead").await.csrf();
    let done = b
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("all", "1"),
                ("f_type", "lead"),
                ("action", "type"),
                ("contact_type", "prospect"),
            ],
        )
        .await;
    assert_eq!(done.location().as_deref(), Some("/contacts?type=lead"));
    assert!(
        b.get("/contacts")
            .await
            .text("main")
            .contains("Type set to Prospect for 3 contacts.")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM bulk_jobs WHERE staff_id = {agent} AND status = 'done' \
             AND action = 'type' AND value = 'prospect' AND what = 'Set the type to Prospect' \
             AND total = 3 AND walked = 3 AND changed = 3 AND view_query = 'type=lead'"
        )),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Type' \
             AND old_value = 'Lead' AND new_value = 'Prospect'"
        ),
        3
    );
    let id = app.count("SELECT max(id) FROM bulk_jobs");

    let record = b.get("/bulk-changes").await;
    assert_eq!(record.status, 200);
    assert!(record.text("tbody").contains("Set the type to Prospect"));
    assert!(record.text("tbody").contains("Arthur Agent"));
    assert!(record.text("tbody").contains("3 of 3"));
    let page = b.get(&format!("/bulk-changes/{id}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text("h1"), "Set the type to Prospect");
    assert_eq!(page.text("#job-summary"), "3 of 3 contacts changed.");
    assert!(!page.exists("form[action$='/stop']"), "nothing to stop");
    let progress = b.get(&format!("/bulk-changes/{id}/progress")).await;
    assert!(
        progress.body.contains("\"finished\":true"),
        "{}",
        progress.body
    );

    // The same change again changes nothing, and says so.
    let again = b
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("all", "1"),
                ("action", "type"),
                ("contact_type", "prospect"),
                ("f_type", "prospect"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    assert!(
        b.get("/contacts")
            .await
            .text("main")
            .contains("Nothing changed")
    );

    // Another agent neither sees the job nor may stop it; an administrator may.
    app.add_staff(
        "Other Agent",
        "other@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    let other = app.browser();
    other.sign_in("other@example.com", common::PASSWORD).await;
    assert_eq!(other.get(&format!("/bulk-changes/{id}")).await.status, 404);
    assert!(
        !other
            .get("/bulk-changes")
            .await
            .body
            .contains("Set the type to Prospect")
    );
    let token = other.get("/bulk-changes").await.csrf();
    assert_eq!(
        other
            .post(&format!("/bulk-changes/{id}/stop"), &token, &[])
            .await
            .status,
        404
    );
    let admin = app.browser();
    admin.sign_in("owner@example.com", common::PASSWORD).await;
    assert!(
        admin
            .get("/bulk-changes")
            .await
            .text("tbody")
            .contains("Arthur Agent")
    );
}

/// A running job stops after the batch it is writing; what it changed stays,
/// and the record says who stopped it.
#[actix_rt::test]
async fn a_bulk_job_is_stopped_where_it_is() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    seed(&app, &b).await;
    let mut conn = app.conn();
    // This connection plays the instance running the job: it holds the
    // job's lock, so no runner of the app takes it.
    diesel::sql_query(format!(
        "INSERT INTO bulk_jobs (id, staff_id, action, value, what, status, total, walked, changed, started_at, heartbeat_at) \
         VALUES (9001, {agent}, 'level', 'secondary', 'Set the level to Secondary', 'running', 5, 2, 2, now(), now())"
    ))
    .execute(&mut conn)
    .expect("job");
    diesel::sql_query("SELECT pg_advisory_lock(x'434242'::int, 9001)")
        .execute(&mut conn)
        .expect("lock");
    let page = b.get("/bulk-changes/9001").await;
    assert_eq!(page.text("#job-status"), "Changing the contacts");
    assert_eq!(page.attr("progress", "value").as_deref(), Some("2"));
    assert_eq!(page.attr("progress", "max").as_deref(), Some("5"));
    let stopped = b.post("/bulk-changes/9001/stop", &page.csrf(), &[]).await;
    assert_eq!(stopped.location().as_deref(), Some("/bulk-changes/9001"));
    let after = b.get("/bulk-changes/9001").await;
    assert!(
        after.text("main").contains("Stopped."),
        "{}",
        after.text("main")
    );
    assert!(
        after
            .texts("h2")
            .contains(&"Stopped by Arthur Agent".to_string()),
        "{:?}",
        after.texts("h2")
    );
    assert!(!after.exists("form[action$='/stop']"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM bulk_jobs WHERE id = 9001 AND status = 'cancelled' AND stopped_by = {agent} AND finished_at IS NOT NULL"
        )),
        1
    );
    diesel::sql_query("SELECT pg_advisory_unlock(x'434242'::int, 9001)")
        .execute(&mut conn)
        .expect("unlock");
    // A stopped job is never taken up again.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE level = 'secondary'"),
        0
    );
}

/// Everything in the trash, or all that a trash search finds, comes back
/// in one go (administrators only), each with its change-log line.
#[actix_rt::test]
async fn the_trash_is_restored_in_bulk() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    seed(&app, &b).await;
    let token = b.get("/contacts").await.csrf();
    b.post(
        "/contacts/bulk",
        &token,
        &[("all", "1"), ("action", "delete"), ("confirmed", "1")],
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL"),
        5
    );
    // Agents have no trash.
    assert_eq!(
        b.post("/contacts/trash/restore", &token, &[]).await.status,
        403
    );

    let admin = app.browser();
    admin.sign_in("owner@example.com", common::PASSWORD).await;
    let trash = admin.get("/contacts/trash?q=wu").await;
    assert_eq!(
        trash.text("form[action='/contacts/trash/restore'] button"),
        "Restore all that match this search"
    );
    let back = admin
        .post("/contacts/trash/restore", &trash.csrf(), &[("q", "wu")])
        .await;
    assert_eq!(back.location().as_deref(), Some("/contacts/trash?q=wu"));
    assert!(
        admin
            .get("/contacts/trash")
            .await
            .text("main")
            .contains("1 contact restored from the trash.")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NULL AND last_name = 'Wu'"),
        1
    );
    let trash = admin.get("/contacts/trash").await;
    assert_eq!(
        trash.text("form[action='/contacts/trash/restore'] button"),
        "Restore everything in the trash"
    );
    admin
        .post("/contacts/trash/restore", &trash.csrf(), &[])
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NULL"),
        5
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND action = 'restore'"
        ),
        5
    );
    assert!(
        admin
            .get("/contacts/trash")
            .await
            .text("main")
            .contains("The trash is empty.")
    );
}

/// A label on thousands of contacts is deleted by a bulk job (each contact
/// it leaves is rewritten, too many for one request): taken off the live
/// contacts batch by batch with their change-log lines, then deleted with
/// what the trash still holds. A small label goes at once, without a job.
#[actix_rt::test]
async fn a_label_on_thousands_of_contacts_is_deleted_in_the_background() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let (me, b) = app.signed_in_admin().await;
    let run = |q: &str| {
        diesel::sql_query(q).execute(&mut app.conn()).expect(q);
    };
    run("INSERT INTO labels (name, colour) VALUES ('Everyone', '#112233'), ('Few', '#445566')");
    let everyone = app.count("SELECT id FROM labels WHERE name = 'Everyone'");
    let few = app.count("SELECT id FROM labels WHERE name = 'Few'");
    run(&format!(
        "INSERT INTO contacts (first_name, last_name, owner_id) \
         SELECT 'P', 'Person ' || i, {me} FROM generate_series(1, 2500) i"
    ));
    run(&format!(
        "INSERT INTO contact_labels (contact_id, label_id) SELECT id, {everyone} FROM contacts"
    ));
    run(&format!(
        "INSERT INTO contact_labels (contact_id, label_id) \
         SELECT id, {few} FROM contacts ORDER BY id LIMIT 3"
    ));
    run("UPDATE contacts SET deleted_at = now() WHERE last_name = 'Person 7'");

    let confirm = b.get(&format!("/admin/labels/{everyone}/delete")).await;
    assert_eq!(confirm.status, 200);
    let said = confirm.text("main");
    assert!(said.contains("the 2,500 contacts"), "{said}");
    assert!(said.contains("in the background"), "{said}");
    let asked = b
        .post(
            &format!("/admin/labels/{everyone}/delete"),
            &confirm.csrf(),
            &[],
        )
        .await;
    assert_eq!(asked.status, 303);
    let job = app.count("SELECT max(id) FROM bulk_jobs");
    let went_to = asked.location().unwrap_or_default();
    assert!(
        went_to == "/admin/labels" || went_to == format!("/bulk-changes/{job}"),
        "{went_to}"
    );
    for _ in 0..600 {
        if app.count(&format!(
            "SELECT count(*) FROM bulk_jobs WHERE id = {job} AND status = 'done'"
        )) == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM bulk_jobs WHERE id = {job} AND status = 'done' \
             AND then_delete_label AND action = 'remove_label' AND value = '{everyone}' \
             AND what = 'Delete the label Everyone (taken off its 2,500 contacts first)' \
             AND walked = 2499 AND changed = 2499"
        )),
        1,
        "the job took it off the 2,499 live contacts"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM labels WHERE id = {everyone}"
        )),
        0,
        "then deleted the label"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_labels WHERE label_id = {everyone}"
        )),
        0,
        "the trashed contact's row went with it"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE {everyone} = ANY (label_ids)"
        )),
        0
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE source = 'bulk' AND field = 'Labels' \
             AND old_value LIKE '%Everyone%' AND new_value NOT LIKE '%Everyone%'"
        ),
        2499
    );
    let record = b.get(&format!("/bulk-changes/{job}")).await;
    assert_eq!(record.status, 200);
    assert_eq!(
        record.text("h1"),
        "Delete the label Everyone (taken off its 2,500 contacts first)"
    );
    let progress = record.text(".job-progress p");
    assert!(
        progress.starts_with("2,499 of 2,499 contacts (100%)"),
        "counts are grouped as everywhere else: {progress}"
    );
    assert_eq!(
        record.text("#job-summary"),
        "2,499 of 2,499 contacts changed."
    );
    assert!(
        b.get("/bulk-changes")
            .await
            .text("main")
            .contains("2,499 of 2,499"),
        "the record of bulk changes groups them too"
    );

    // While a deletion runs, the labels page links to it instead of
    // offering to delete, and asking again goes to it (this job is held by
    // a lock of the test's, as a running instance would hold it).
    let mut holder = app.conn();
    {
        use diesel::connection::SimpleConnection;
        // Locked before the runner can see the job.
        holder
            .batch_execute(&format!(
                "BEGIN; \
                 INSERT INTO bulk_jobs (staff_id, action, value, what, view_query, status, then_delete_label) \
                 VALUES ({me}, 'remove_label', '{few}', 'Delete the label Few', 'label={few}', 'running', true); \
                 SELECT pg_advisory_lock({}, currval('bulk_jobs_id_seq')::int4); \
                 COMMIT;",
                0x0043_4242
            ))
            .expect("a held job");
    }
    let running = app.count("SELECT max(id) FROM bulk_jobs");
    let labels = b.get("/admin/labels").await;
    assert!(
        labels
            .body
            .contains(&format!("href=\"/bulk-changes/{running}\">Being deleted")),
        "{}",
        labels.text("main")
    );
    assert!(labels.text("main").contains("3 contacts"));
    let again = b
        .post(&format!("/admin/labels/{few}/delete"), &labels.csrf(), &[])
        .await;
    assert_eq!(again.location(), Some(format!("/bulk-changes/{running}")));
    run(&format!(
        "UPDATE bulk_jobs SET status = 'cancelled' WHERE id = {running}"
    ));
    drop(holder);

    // Three contacts: at once, no job.
    let jobs = app.count("SELECT count(*) FROM bulk_jobs");
    let confirm = b.get(&format!("/admin/labels/{few}/delete")).await;
    assert!(!confirm.text("main").contains("background"));
    let done = b
        .post(&format!("/admin/labels/{few}/delete"), &confirm.csrf(), &[])
        .await;
    assert_eq!(done.location().as_deref(), Some("/admin/labels"));
    assert!(
        b.get("/admin/labels")
            .await
            .text("main")
            .contains("Label Few has been deleted")
    );
    assert_eq!(app.count("SELECT count(*) FROM bulk_jobs"), jobs);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM labels WHERE id = {few}")),
        0
    );
}

/// A job that rewrote a large share of the contacts has the table vacuumed
/// and analysed at once (their dead row versions would otherwise slow every
/// list page until autovacuum came), and analysed along the way; a small
/// one leaves it to autovacuum.
#[actix_rt::test]
async fn a_job_that_rewrote_most_contacts_has_them_vacuumed_at_once() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let (me, b) = app.signed_in_admin().await;
    let run = |q: &str| {
        diesel::sql_query(q).execute(&mut app.conn()).expect(q);
    };
    run(&format!(
        "INSERT INTO contacts (first_name, last_name, owner_id, search_text) \
         SELECT 'Few', 'Small ' || i, {me}, 'few small ' || i FROM generate_series(1, 100) i"
    ));
    run(&format!(
        "INSERT INTO contacts (first_name, last_name, owner_id, search_text) \
         SELECT 'Many', 'Person ' || i, {me}, 'many person ' || i FROM generate_series(1, 12000) i"
    ));
    run("ANALYZE contacts");
    let vacuumed = || {
        app.count(
            "SELECT count(*) FROM pg_stat_user_tables \
             WHERE relname = 'contacts' AND last_vacuum IS NOT NULL",
        )
    };
    let trash_all_matching = |q: &'static str| {
        let b = &b;
        let app = &app;
        async move {
            let token = b.get(&format!("/contacts?q={q}")).await.csrf();
            let asked = b
                .post(
                    "/contacts/bulk",
                    &token,
                    &[
                        ("all", "1"),
                        ("q", q),
                        ("action", "delete"),
                        ("confirmed", "1"),
                    ],
                )
                .await;
            assert_eq!(asked.status, 303, "{}", asked.body);
            let job = app.count("SELECT max(id) FROM bulk_jobs");
            for _ in 0..1200 {
                if app.count(&format!(
                    "SELECT count(*) FROM bulk_jobs WHERE id = {job} AND status = 'done'"
                )) == 1
                {
                    return job;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("bulk job {job} did not finish");
        }
    };

    let small = trash_all_matching("small").await;
    assert_eq!(
        app.count(&format!("SELECT changed FROM bulk_jobs WHERE id = {small}")),
        100
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(vacuumed(), 0, "100 contacts are left to autovacuum");

    let analysed_at = || {
        app.count(
            "SELECT coalesce((extract(epoch FROM last_analyze) * 1000)::bigint, 0) \
             FROM pg_stat_user_tables WHERE relname = 'contacts'",
        )
    };
    let analyses =
        || app.count("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'contacts'");
    let analysed_before = analysed_at();
    let analyses_before = analyses();
    let many = trash_all_matching("many").await;
    assert_eq!(
        app.count(&format!("SELECT changed FROM bulk_jobs WHERE id = {many}")),
        12000
    );
    for _ in 0..600 {
        if vacuumed() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        vacuumed(),
        1,
        "12,000 of 12,100 rewritten: vacuumed at once"
    );
    // `VACUUM (ANALYZE)` records its vacuum before it starts analysing: on a
    // busy machine the test can see the one a while before the other.
    for _ in 0..200 {
        if analyses() >= analyses_before + 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(analysed_at() > analysed_before, "and analysed again");
    assert!(
        analyses() >= analyses_before + 2,
        "analysed once in the middle (after 10,000 of the 12,000), once at the end: {} then {}",
        analyses_before,
        analyses()
    );
}
