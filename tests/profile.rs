//! The contact page's tabs: notes on the Profile tab, the Change Log tab,
//! Sharing, and ownership transfer, over real HTTP.

mod common;

use common::{Browser, Page, TestApp, spawn_app};
use contactbook::domain::staff::Role;

async fn new_contact(b: &Browser, last: &str) -> i64 {
    let res = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", "Mei"),
                ("last_name", last),
                ("confirm_duplicates", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("contact id")
}

async fn add_note(b: &Browser, contact: i64, body: &str) -> Page {
    b.submit(
        &format!("/contacts/{contact}"),
        &format!("/contacts/{contact}/notes"),
        &[("body", body)],
    )
    .await
}

fn note_ids(page: &Page) -> Vec<i64> {
    page.html()
        .select(&scraper::Selector::parse("li.note").expect("css"))
        .filter_map(|n| n.value().attr("id"))
        .filter_map(|id| id.trim_start_matches("note-").parse().ok())
        .collect()
}

/// A second agent, signed in.
async fn colleague(app: &TestApp, name: &str, email: &str) -> (i64, Browser) {
    let id = app.add_staff(name, email, Role::Agent);
    let b = app.browser();
    b.sign_in(email, common::PASSWORD).await;
    (id, b)
}

#[actix_rt::test]
async fn notes_are_added_pinned_edited_and_deleted_by_their_author_and_logged() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = new_contact(&b, "Chan").await;

    // Refused: empty, too long; what was typed comes back.
    let empty = add_note(&b, id, "   \n ").await;
    assert_eq!(empty.status, 422);
    assert!(empty.text("#e-note").contains("empty"));
    let long = "x".repeat(10_001);
    let too_long = add_note(&b, id, &long).await;
    assert_eq!(too_long.status, 422);
    assert_eq!(too_long.text("#f-note").len(), 10_001, "kept as typed");
    assert_eq!(app.count("SELECT count(*) FROM notes"), 0);

    let first = add_note(
        &b,
        id,
        "<script>alert(1)</script> called, see https://example.com/case?id=7&x=1\nمرحبا 😀",
    )
    .await;
    assert_eq!(first.status, 303);
    assert_eq!(add_note(&b, id, "Second note").await.status, 303);
    let exact = "y".repeat(10_000);
    assert_eq!(
        add_note(&b, id, &exact).await.status,
        303,
        "10,000 is allowed"
    );

    let page = b.get(&format!("/contacts/{id}")).await;
    assert!(!page.body.contains("<script>alert(1)</script>"), "escaped");
    let link = page
        .html()
        .select(&scraper::Selector::parse(".note-body a").expect("css"))
        .next()
        .map(|a| {
            (
                a.value().attr("href").unwrap_or("").to_string(),
                a.value().attr("rel").unwrap_or("").to_string(),
            )
        })
        .expect("a link");
    assert_eq!(link.0, "https://example.com/case?id=7&x=1");
    assert!(link.1.contains("noopener"));
    let ids = note_ids(&page);
    assert_eq!(ids.len(), 3);
    assert!(ids[0] > ids[1] && ids[1] > ids[2], "newest first: {ids:?}");
    let oldest = ids[2];

    // Pin the oldest: it comes first.
    let token = page.csrf();
    b.post(
        &format!("/contacts/{id}/notes/{oldest}/pin"),
        &token,
        &[("pinned", "1")],
    )
    .await;
    let page = b.get(&format!("/contacts/{id}")).await;
    assert_eq!(note_ids(&page)[0], oldest);
    assert!(page.exists(&format!("#note-{oldest}.pinned")));

    // Edit: the text changes and says so.
    let form = b.get(&format!("/contacts/{id}/notes/{oldest}/edit")).await;
    assert_eq!(form.status, 200);
    let refused = b
        .post(
            &format!("/contacts/{id}/notes/{oldest}/edit"),
            &form.csrf(),
            &[("body", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    let saved = b
        .post(
            &format!("/contacts/{id}/notes/{oldest}/edit"),
            &form.csrf(),
            &[("body", "Edited text")],
        )
        .await;
    assert_eq!(saved.status, 303);
    let page = b.get(&format!("/contacts/{id}")).await;
    assert!(
        page.text(&format!("#note-{oldest}"))
            .contains("Edited text")
    );
    assert!(
        page.text(&format!("#note-{oldest} .note-meta"))
            .contains("edited")
    );

    // Someone else may not, even by a crafted POST; an administrator may.
    let (_, other) = colleague(&app, "Olga Other", "olga@example.com").await;
    let theirs = other.get(&format!("/contacts/{id}")).await;
    assert!(!theirs.exists(&format!("a[href='/contacts/{id}/notes/{oldest}/edit']")));
    for (path, fields) in [
        (
            format!("/contacts/{id}/notes/{oldest}/edit"),
            vec![("body", "Hijacked")],
        ),
        (format!("/contacts/{id}/notes/{oldest}/delete"), vec![]),
        (
            format!("/contacts/{id}/notes/{oldest}/pin"),
            vec![("pinned", "0")],
        ),
    ] {
        let res = other.post(&path, &theirs.csrf(), &fields).await;
        assert_eq!(res.status, 403, "{path}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM notes WHERE id = {oldest} AND body = 'Edited text' AND pinned"
        )),
        1,
        "nothing changed"
    );
    // A note of another contact cannot be reached through this one.
    let elsewhere = new_contact(&b, "Elsewhere").await;
    assert_eq!(
        b.get(&format!("/contacts/{elsewhere}/notes/{oldest}/edit"))
            .await
            .status,
        404
    );

    // Delete asks first.
    let confirm = b
        .get(&format!("/contacts/{id}/notes/{oldest}/delete"))
        .await;
    assert_eq!(confirm.text("h1"), "Delete this note?");
    let deleted = b
        .post(
            &format!("/contacts/{id}/notes/{oldest}/delete"),
            &confirm.csrf(),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM notes"), 2);
    let (_, admin) = app.signed_in_admin().await;
    let page = admin.get(&format!("/contacts/{id}")).await;
    let any = note_ids(&page)[0];
    let res = admin
        .post(
            &format!("/contacts/{id}/notes/{any}/edit"),
            &page.csrf(),
            &[("body", "Corrected by an administrator")],
        )
        .await;
    assert_eq!(res.status, 303);

    for action in ["note", "note_edit", "note_delete"] {
        assert!(
            app.count(&format!(
                "SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = '{action}'"
            )) >= 1,
            "{action} is logged"
        );
    }
}

#[actix_rt::test]
async fn the_change_log_tab_pages_through_everything_and_filters() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let id = new_contact(&b, "Wong").await;
    // 130 field changes by hand and 20 by import, at distinct times.
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!(
            "INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version, changed_at) \
             SELECT {id}, {me}, CASE WHEN i % 7 = 0 THEN 'import' ELSE 'form' END, 'update', \
                    CASE WHEN i % 2 = 0 THEN 'Company' ELSE 'City' END, 'old ' || i, \
                    CASE WHEN i = 5 THEN repeat('long ', 100) ELSE 'new ' || i END, 1, \
                    now() - interval '1 hour' + i * interval '1 second' \
             FROM generate_series(1, 150) i"
        ),
    )
    .expect("history");
    let total = app.count(&format!(
        "SELECT count(*) FROM contact_changes WHERE contact_id = {id}"
    ));
    let tab = b.get(&format!("/contacts/{id}/changes")).await;
    assert_eq!(tab.status, 200);
    assert!(
        tab.text("nav.contact-tabs")
            .contains(&format!("Change Log ({total})"))
    );

    let mut seen = 0;
    let mut url = format!("/contacts/{id}/changes");
    let mut pages = 0;
    let mut first_texts = Vec::new();
    loop {
        let page = b.get(&url).await;
        let items = page.texts(".log > li");
        if pages == 0 {
            first_texts = items.clone();
        }
        seen += items.len() as i64;
        pages += 1;
        match page.attr("a[rel=next]", "href") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(seen, total, "every entry once");
    assert_eq!(pages, 4);
    assert!(
        first_texts[0].contains("created this contact"),
        "newest first: {}",
        first_texts[0]
    );
    assert!(
        first_texts[1].contains("“new 150”"),
        "then the latest edit: {}",
        first_texts[1]
    );
    assert!(first_texts[2].contains("“new 149”"), "{}", first_texts[2]);

    let imports = b
        .get(&format!("/contacts/{id}/changes?source=import"))
        .await;
    let lines = imports.texts(".log > li");
    assert_eq!(lines.len(), 21, "150 / 7 = 21 by import");
    assert!(lines.iter().all(|l| l.contains("import")));
    let city = b
        .get(&format!("/contacts/{id}/changes?field=City&source=form"))
        .await;
    assert!(city.texts(".log > li").iter().all(|l| l.contains("City")));
    assert!(!city.texts(".log > li").is_empty());
    // A long value is shortened, with all of it a click away.
    let all = b.get(&format!("/contacts/{id}/changes?field=City")).await;
    let mut long_found = false;
    let mut url = format!("/contacts/{id}/changes?field=City");
    let mut page = all;
    loop {
        if page.exists("details .pre-wrap") {
            long_found = true;
            break;
        }
        match page.attr("a[rel=next]", "href") {
            Some(next) => {
                url = next;
                page = b.get(&url).await;
            }
            None => break,
        }
    }
    assert!(long_found, "the 500-character value has a Show all");
    // The profile keeps the latest five and links here.
    let profile = b.get(&format!("/contacts/{id}")).await;
    assert_eq!(profile.texts(".latest-changes .log > li").len(), 5);
    assert!(profile.exists(&format!(".latest-changes a[href='/contacts/{id}/changes']")));
}

#[actix_rt::test]
async fn sharing_adds_and_stops_shares_refuses_inactive_colleagues_and_fills_shared_with_me() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = new_contact(&b, "Shared").await;
    let (bea, bea_browser) = colleague(&app, "Bea Buyer", "bea@example.com").await;
    let cy = app.add_staff("Cy Sales", "cy@example.com", Role::Agent);
    let gone = app.add_staff("Gone Person", "gone@example.com", Role::Agent);
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!("UPDATE staff SET active = false WHERE id = {gone}"),
    )
    .expect("deactivate");

    let tab = b.get(&format!("/contacts/{id}/sharing")).await;
    assert!(tab.text("nav.contact-tabs").contains("Sharing (0)"));
    let offered = tab.texts(".picker label");
    assert!(offered.contains(&"Bea Buyer".to_string()), "{offered:?}");
    assert!(
        !offered.iter().any(|o| o.contains("Gone")),
        "inactive not offered"
    );
    // The picker filters by name without JavaScript.
    let found = b.get(&format!("/contacts/{id}/sharing?q=bea")).await;
    assert_eq!(found.texts(".picker label"), vec!["Bea Buyer".to_string()]);

    // Crafted: a deactivated or unknown colleague; nothing is shared.
    for bad in [gone.to_string(), "999999".to_string(), "x".to_string()] {
        let res = b
            .post(
                &format!("/contacts/{id}/shares"),
                &tab.csrf(),
                &[("staff", &bea.to_string()), ("staff", &bad)],
            )
            .await;
        assert_eq!(res.status, 422, "{bad}");
    }
    assert_eq!(app.count("SELECT count(*) FROM contact_shares"), 0);

    let res = b
        .post(
            &format!("/contacts/{id}/shares"),
            &tab.csrf(),
            &[
                ("staff", &bea.to_string()),
                ("staff", &cy.to_string()),
                ("message", "Please follow up <b>today</b>"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let tab = b.get(&format!("/contacts/{id}/sharing")).await;
    assert!(tab.text("nav.contact-tabs").contains("Sharing (2)"));
    assert_eq!(tab.texts(".share-list li").len(), 2);
    assert!(
        tab.text(".share-list")
            .contains("Please follow up <b>today</b>")
    );
    assert!(tab.text(".share-list").contains("by Arthur Agent"));

    // Bea finds it under Shared with me; it is not among her own.
    let shared = bea_browser.get("/contacts?view=shared").await;
    assert_eq!(
        shared.texts(".contact-name"),
        vec!["Mei Shared".to_string()]
    );
    let mine = bea_browser.get("/contacts?view=mine").await;
    assert!(mine.texts(".contact-name").is_empty());

    // Stop sharing with Cy.
    let res = b
        .post(
            &format!("/contacts/{id}/shares/{cy}/delete"),
            &tab.csrf(),
            &[],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM contact_shares"), 1);
    for action in ["share", "unshare"] {
        assert!(
            app.count(&format!(
                "SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = '{action}'"
            )) >= 1,
            "{action} logged"
        );
    }
    let log = b.get(&format!("/contacts/{id}/changes")).await;
    assert!(log.text(".log").contains("shared this contact with"));
}

#[actix_rt::test]
async fn ownership_moves_to_an_active_colleague_who_then_finds_it_under_my_contacts() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let id = new_contact(&b, "Owned").await;
    assert_eq!(
        app.count(&format!("SELECT owner_id FROM contacts WHERE id = {id}")),
        me
    );
    let (bea, bea_browser) = colleague(&app, "Bea Buyer", "bea@example.com").await;
    let gone = app.add_staff("Gone Person", "gone@example.com", Role::Agent);
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!("UPDATE staff SET active = false WHERE id = {gone}"),
    )
    .expect("deactivate");

    let form = b.get(&format!("/contacts/{id}/transfer")).await;
    assert_eq!(form.status, 200);
    assert!(!form.text("#f-owner").contains("Gone Person"));
    let refused = b
        .post(
            &format!("/contacts/{id}/transfer"),
            &form.csrf(),
            &[("owner", &gone.to_string()), ("note", "keep me")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.text("#f-note"), "keep me");
    assert_eq!(
        app.count(&format!("SELECT owner_id FROM contacts WHERE id = {id}")),
        me,
        "nothing changed"
    );

    let res = b
        .post(
            &format!("/contacts/{id}/transfer"),
            &form.csrf(),
            &[("owner", &bea.to_string()), ("note", "She covers Asia now")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count(&format!("SELECT owner_id FROM contacts WHERE id = {id}")),
        bea
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_changes WHERE contact_id = {id} AND action = 'transfer' \
             AND old_value = 'Arthur Agent' AND new_value = 'Bea Buyer'"
        )),
        1
    );
    let profile = b.get(&format!("/contacts/{id}")).await;
    assert!(profile.text(".notes").contains("She covers Asia now"));
    assert!(profile.text(".details").contains("Bea Buyer"));
    let mine = bea_browser.get("/contacts?view=mine").await;
    assert_eq!(mine.texts(".contact-name"), vec!["Mei Owned".to_string()]);
    let my_old = b.get("/contacts?view=mine").await;
    assert!(my_old.texts(".contact-name").is_empty());
}

#[actix_rt::test]
async fn every_tab_has_its_address_and_a_trashed_contact_is_for_administrators() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let agent = app.browser();
    app.add_staff("Arthur Agent", "arthur@example.com", Role::Agent);
    agent.sign_in("arthur@example.com", common::PASSWORD).await;
    let id = new_contact(&agent, "Tabbed").await;
    for (path, current) in [
        (format!("/contacts/{id}"), "Profile"),
        (format!("/contacts/{id}/activity"), "Activity (0)"),
        (format!("/contacts/{id}/sharing"), "Sharing (0)"),
        (format!("/contacts/{id}/changes"), "Change Log (1)"),
    ] {
        let page = agent.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.text("nav.contact-tabs a[aria-current=page]"), current);
        assert_eq!(page.text("h1"), "Mei Tabbed", "the same header on {path}");
    }
    let activity = agent.get(&format!("/contacts/{id}/activity")).await;
    assert!(
        activity
            .text("#enquiries .empty-state")
            .contains("has not sent an enquiry")
    );
    assert!(activity.exists("#engagement"));
    assert!(activity.exists("#journey"));

    let confirm = agent.get(&format!("/contacts/{id}/delete")).await;
    agent
        .post(&format!("/contacts/{id}/delete"), &confirm.csrf(), &[])
        .await;
    for tab in ["", "/activity", "/sharing", "/changes", "/transfer"] {
        assert_eq!(
            agent.get(&format!("/contacts/{id}{tab}")).await.status,
            404,
            "agent, trashed, {tab}"
        );
    }
    assert_eq!(
        admin.get(&format!("/contacts/{id}/changes")).await.status,
        200
    );
    let page = admin.get(&format!("/contacts/{id}")).await;
    let res = admin
        .post(
            &format!("/contacts/{id}/notes"),
            &page.csrf(),
            &[("body", "on a trashed contact")],
        )
        .await;
    assert_eq!(res.status, 403, "a trashed contact's notes do not change");
}

#[actix_rt::test]
async fn deactivating_a_member_hands_their_contacts_over_in_the_background() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let leaver = app.add_staff("Leo Leaver", "leo@example.com", Role::Agent);
    let (heir, heir_browser) = colleague(&app, "Hana Heir", "hana@example.com").await;
    let gone = app.add_staff("Gone Person", "gone@example.com", Role::Agent);
    diesel::connection::SimpleConnection::batch_execute(
        &mut *app.conn(),
        &format!(
            "UPDATE staff SET active = false WHERE id = {gone}; \
             INSERT INTO contacts (first_name, last_name, owner_id) \
             SELECT 'Owned', 'By Leo ' || i, {leaver} FROM generate_series(1, 4500) i"
        ),
    )
    .expect("contacts");

    let page = admin
        .get(&format!("/admin/staff/{leaver}/deactivate"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text("main").contains("Leo Leaver owns 4500 contacts"));
    assert!(!page.text("#f-to").contains("Gone Person"));
    // Not saying who takes them, or naming a deactivated member: refused.
    for to in ["", &gone.to_string(), &leaver.to_string()] {
        let res = admin
            .post(
                &format!("/admin/staff/{leaver}/deactivate"),
                &page.csrf(),
                &[("to", to)],
            )
            .await;
        assert_eq!(res.status, 422, "to {to:?}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM staff WHERE id = {leaver} AND active"
        )),
        1,
        "nothing changed"
    );

    let res = admin
        .post(
            &format!("/admin/staff/{leaver}/deactivate"),
            &page.csrf(),
            &[("to", &heir.to_string())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let started = std::time::Instant::now();
    loop {
        // Other work goes on meanwhile.
        assert_eq!(heir_browser.get("/contacts?q=leo").await.status, 200);
        if app.count(
            "SELECT count(*) FROM ownership_transfers WHERE status = 'done' AND moved = 4500",
        ) == 1
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "handed over in time"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE owner_id = {heir}"
        )),
        4500
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_changes WHERE action = 'transfer' AND field = 'Owner' \
             AND old_value = 'Leo Leaver' AND new_value = 'Hana Heir'"
        ),
        4500,
        "one change-log entry each"
    );
    let mine = heir_browser.get("/contacts?view=mine").await;
    let names = mine.texts(".contact-name");
    assert_eq!(names.len(), 25, "a full first page");
    assert!(
        names.iter().all(|n| n.starts_with("Owned By Leo")),
        "{names:?}"
    );
}
