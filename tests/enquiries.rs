//! Enquiries from the public support form: matching the visitor to a
//! contact, the visitor's private link, the rate limit and the honeypot, and
//! the staff side: take (two at once), reply, close and reopen, transfer,
//! missed after the timeout.

mod common;

use common::{Browser, spawn_app};
use contactbook::domain::staff::Role;

/// Sends the support form as an anonymous visitor; returns the response.
async fn send(b: &Browser, fields: &[(&str, &str)]) -> common::Page {
    b.submit("/support", "/support", fields).await
}

/// The visitor's private link from a successful submission.
fn private_link(res: &common::Page) -> String {
    assert_eq!(res.status, 303, "{}", res.body);
    let to = res.location().expect("redirect");
    assert!(to.starts_with("/support/e/"), "{to}");
    to
}

async fn contact_with(admin: &Browser, last: &str, email: &str, phone: &str) -> i64 {
    let res = admin
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", "Known"),
                ("last_name", last),
                ("email-0-kind", "work"),
                ("email-0-email", email),
                ("phone-0-kind", "mobile"),
                ("phone-0-country", ""),
                ("phone-0-number", phone),
                ("confirm_duplicates", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("id")
}

#[actix_rt::test]
async fn an_enquiry_is_linked_to_one_match_a_new_lead_or_the_latest_of_several() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let one = contact_with(&admin, "Single", "single@example.com", "+85291110001").await;

    // One match by email, typed in another case.
    let visitor = app.browser();
    let res = send(
        &visitor,
        &[
            ("first_name", "Sam"),
            ("email", "SINGLE@Example.com"),
            ("message", "Hello"),
        ],
    )
    .await;
    let link = private_link(&res);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enquiries WHERE contact_id = {one} AND status = 'open' AND possible_duplicates = '{{}}'"
        )),
        1
    );
    let page = visitor.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Hello"));
    assert!(page.body.contains("your enquiry has been sent"));

    // No match: a new Lead named as typed, "customer" for the missing last name.
    let before = app.count("SELECT count(*) FROM contacts");
    let res = send(
        &app.browser(),
        &[
            ("first_name", "Nina"),
            ("phone_country", "HK"),
            ("phone", "9222 3333"),
            ("message", "Call me"),
        ],
    )
    .await;
    private_link(&res);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), before + 1);
    let lead = app.count(
        "SELECT c.id FROM contacts c JOIN contact_phones p ON p.contact_id = c.id \
         WHERE p.number = '+85292223333' AND c.first_name = 'Nina' AND c.last_name = 'customer' \
         AND c.contact_type = 'lead' AND c.owner_id IS NULL",
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_changes WHERE contact_id = {lead} AND source = 'enquiry' AND action = 'create'"
        )),
        1
    );

    // Two contacts share the phone: the latest updated gets it, the other is listed.
    let a = contact_with(&admin, "Older", "older@example.com", "+85291110009").await;
    let b = contact_with(&admin, "Newer", "newer@example.com", "+85291110009").await;
    let trashed = contact_with(&admin, "Trashed", "gone@example.com", "+85291110009").await;
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        &format!(
            "UPDATE contacts SET updated_at = now() - interval '1 day' WHERE id = {a}; \
             UPDATE contacts SET deleted_at = now() WHERE id = {trashed};"
        ),
    )
    .expect("age");
    let res = send(
        &app.browser(),
        &[
            ("first_name", "Pat"),
            ("phone", "+852 9111 0009"),
            ("message", "Which one am I?"),
        ],
    )
    .await;
    private_link(&res);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enquiries WHERE contact_id = {b} AND possible_duplicates = ARRAY[{a}]::bigint[]"
        )),
        1,
        "linked to the newer, the older listed, the trashed one left out"
    );
}

#[actix_rt::test]
async fn bad_support_forms_keep_what_was_typed_and_bots_and_floods_are_turned_away() {
    let app = spawn_app().await;
    app.signed_in_admin().await;
    let visitor = app.browser();
    let res = send(
        &visitor,
        &[
            ("first_name", "No Way"),
            ("message", "<script>alert(1)</script>"),
        ],
    )
    .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("give an email address or a phone number"));
    assert!(res.body.contains("alert(1)"), "kept");
    assert!(!res.body.contains("<script>alert(1)"));
    let res = send(
        &visitor,
        &[("email", "x@example.com"), ("message", "a\u{0}b")],
    )
    .await;
    assert_eq!(res.status, 400, "NUL refused before the form is read");
    let long = "y".repeat(10_001);
    let res = send(&visitor, &[("email", "x@example.com"), ("message", &long)]).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("at most 10000"));
    assert_eq!(app.count("SELECT count(*) FROM enquiries"), 0);

    // Right-to-left text and emoji are kept as written.
    let rtl = "مرحبا، שלום 👋";
    let link =
        private_link(&send(&visitor, &[("email", "rtl@example.com"), ("message", rtl)]).await);
    assert!(visitor.get(&link).await.body.contains(rtl));
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        "DELETE FROM enquiries; DELETE FROM support_submissions;",
    )
    .expect("reset");
    // The hidden field filled in: thanked, nothing kept.
    let res = send(
        &visitor,
        &[
            ("email", "bot@example.com"),
            ("message", "spam"),
            ("website", "http://spam.example"),
        ],
    )
    .await;
    assert_eq!(res.location().as_deref(), Some("/support?sent=1"));
    assert_eq!(app.count("SELECT count(*) FROM enquiries"), 0);

    // Five from one address are accepted; the sixth is refused, text kept.
    for i in 0..5 {
        let msg = format!("message {i}");
        let res = send(
            &visitor,
            &[("email", "many@example.com"), ("message", &msg)],
        )
        .await;
        private_link(&res);
    }
    let res = send(
        &visitor,
        &[("email", "many@example.com"), ("message", "the sixth")],
    )
    .await;
    assert_eq!(res.status, 429);
    assert!(res.body.contains("Please wait a few minutes"));
    assert!(res.body.contains("the sixth"));
    assert_eq!(app.count("SELECT count(*) FROM enquiries"), 5);
    // The whole conversation page is never found by a made-up link.
    assert_eq!(
        visitor
            .get(&format!("/support/e/{}", "a".repeat(40)))
            .await
            .status,
        404
    );
    assert_eq!(visitor.get("/support/e/short").await.status, 404);
}

#[actix_rt::test]
async fn staff_take_reply_transfer_and_close_and_the_visitor_reopens() {
    let app = spawn_app().await;
    app.signed_in_admin().await;
    app.add_staff("Ann Agent", "ann@example.com", Role::Agent);
    let bob_id = app.add_staff("Bob Agent", "bob@example.com", Role::Agent);
    let ann = app.browser();
    ann.sign_in("ann@example.com", common::PASSWORD).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", common::PASSWORD).await;

    let visitor = app.browser();
    let link = private_link(
        &send(
            &visitor,
            &[
                ("first_name", "Vera"),
                ("email", "vera@example.com"),
                ("message", "My order is late"),
            ],
        )
        .await,
    );
    let id = app.count("SELECT id FROM enquiries");
    let open = ann.get("/enquiries").await;
    assert!(open.body.contains("Vera"));
    assert!(open.body.contains("Open (1)"));
    let badge = |p: &common::Page| p.text(".mainnav .nav-badge");
    assert_eq!(badge(&open), "(1 open)", "the header's badge");

    // Ann and Bob take it at once: exactly one wins, the other is told who.
    let page = ann.get("/enquiries").await;
    let (ta, tb) = (page.csrf(), bob.get("/enquiries").await.csrf());
    let path = format!("/enquiries/{id}/take");
    let (ra, rb) =
        futures_util::future::join(ann.post(&path, &ta, &[]), bob.post(&path, &tb, &[])).await;
    assert_eq!((ra.status, rb.status), (303, 303));
    let handler = app.count(&format!("SELECT handler_id FROM enquiries WHERE id = {id}"));
    let (winner, loser, winner_name) = if handler == bob_id {
        (&bob, &ann, "Bob Agent")
    } else {
        (&ann, &bob, "Ann Agent")
    };
    let told = loser.get(&format!("/enquiries/{id}")).await;
    assert!(
        told.body
            .contains(&format!("{winner_name} took this enquiry first")),
        "the loser is told who won"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM enquiry_events WHERE kind = 'taken'"),
        1
    );
    assert!(
        !winner.get("/contacts").await.body.contains("nav-badge"),
        "nothing open: no badge"
    );

    // Only the handler replies; a forged reply from the other changes nothing.
    let room = loser.get(&format!("/enquiries/{id}")).await;
    let res = loser
        .post(
            &format!("/enquiries/{id}/messages"),
            &room.csrf(),
            &[("body", "forged")],
        )
        .await;
    assert_eq!(res.status, 403);
    let room = winner.get(&format!("/enquiries/{id}")).await;
    let res = winner
        .post(
            &format!("/enquiries/{id}/messages"),
            &room.csrf(),
            &[("body", "We are on it <b>now</b>")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM enquiry_messages WHERE body = 'forged'"),
        0
    );
    let seen = visitor.get(&link).await;
    assert!(seen.body.contains("We are on it "));
    assert!(!seen.body.contains("<b>now"), "escaped");
    assert!(!seen.body.contains("ann@example.com") && !seen.body.contains("bob@example.com"));

    // The visitor answers from their link.
    let res = visitor
        .post(&link, &seen.csrf(), &[("body", "Thanks!")])
        .await;
    assert_eq!(res.status, 303);
    assert!(
        winner
            .get(&format!("/enquiries/{id}"))
            .await
            .body
            .contains("Thanks!")
    );

    // Handed to the other member, who closes it with a note.
    let loser_id = if handler == bob_id {
        app.count("SELECT id FROM staff WHERE email = 'ann@example.com'")
    } else {
        bob_id
    };
    let room = winner.get(&format!("/enquiries/{id}")).await;
    let res = winner
        .post(
            &format!("/enquiries/{id}/transfer"),
            &room.csrf(),
            &[("to", &loser_id.to_string())],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count(&format!("SELECT handler_id FROM enquiries WHERE id = {id}")),
        loser_id
    );
    let room = loser.get(&format!("/enquiries/{id}")).await;
    loser
        .post(
            &format!("/enquiries/{id}/close"),
            &room.csrf(),
            &[("resolution", "Sent a new one")],
        )
        .await;
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM enquiries WHERE id = {id} AND status = 'closed' AND handler_id IS NULL")),
        1
    );
    // Taking a closed enquiry: refused, nothing changed.
    let own = winner.get(&format!("/enquiries/{id}")).await;
    assert!(
        !own.body.contains("Take it"),
        "a closed enquiry offers no Take"
    );
    let res = winner
        .post(&format!("/enquiries/{id}/take"), &own.csrf(), &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enquiries WHERE id = {id} AND status = 'closed'"
        )),
        1
    );

    let contact = app.count(&format!("SELECT contact_id FROM enquiries WHERE id = {id}"));
    let history = winner.get(&format!("/contacts/{contact}/activity")).await;
    assert!(
        history
            .text("#enquiries .enquiry-row")
            .contains("closed by"),
        "who closed it stays on the history"
    );
    // Writing to a closed enquiry reopens it as Open.
    let seen = visitor.get(&link).await;
    visitor
        .post(&link, &seen.csrf(), &[("body", "It broke again")])
        .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enquiries WHERE id = {id} AND status = 'open'"
        )),
        1
    );
}

#[actix_rt::test]
async fn an_open_enquiry_nobody_takes_in_time_is_missed_once() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    private_link(
        &send(
            &app.browser(),
            &[("email", "late@example.com"), ("message", "Anyone?")],
        )
        .await,
    );
    private_link(
        &send(
            &app.browser(),
            &[("email", "fresh@example.com"), ("message", "Hi")],
        )
        .await,
    );
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        "UPDATE settings SET missed_after_minutes = 15; \
         UPDATE enquiries SET opened_at = now() - interval '16 minutes' WHERE visitor_email = 'late@example.com';",
    )
    .expect("age");
    // Two requests at once both look; the enquiry is marked once.
    let (a, b) =
        futures_util::future::join(admin.get("/enquiries?tab=missed"), admin.get("/enquiries"))
            .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(
        app.count("SELECT count(*) FROM enquiries WHERE status = 'missed'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM enquiry_events WHERE kind = 'missed'"),
        1
    );
    let missed = admin.get("/enquiries?tab=missed").await;
    assert!(missed.body.contains("late@example.com") || missed.body.contains("customer"));
    // A missed enquiry can still be taken.
    let id = app.count("SELECT id FROM enquiries WHERE status = 'missed'");
    let res = admin
        .post(&format!("/enquiries/{id}/take"), &missed.csrf(), &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enquiries WHERE id = {id} AND status = 'handling'"
        )),
        1
    );
}

/// With Restricted visibility, handling an enquiry lets the member see its
/// contact (list, profile, room panel); when it is closed they no longer do.
#[actix_rt::test]
async fn handling_an_enquiry_shows_its_contact_under_restricted_visibility() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let page = admin.get("/admin/settings").await;
    let res = admin
        .post(
            "/admin/settings",
            &page.csrf(),
            &[("visibility", "restricted")],
        )
        .await;
    assert_eq!(res.status, 303);
    app.add_staff("Ann Agent", "ann@example.com", Role::Agent);
    let ann = app.browser();
    ann.sign_in("ann@example.com", common::PASSWORD).await;
    let hidden = contact_with(&admin, "Hidden", "hidden@example.com", "+85291110077").await;
    private_link(
        &send(
            &app.browser(),
            &[("email", "hidden@example.com"), ("message", "Help")],
        )
        .await,
    );
    let id = app.count("SELECT id FROM enquiries");
    assert_eq!(ann.get(&format!("/contacts/{hidden}")).await.status, 404);
    assert!(!ann.get("/contacts").await.body.contains("Known Hidden"));
    let room = ann.get(&format!("/enquiries/{id}")).await;
    assert!(
        !room.body.contains(&format!("/contacts/{hidden}")),
        "no profile link before taking"
    );
    ann.post(&format!("/enquiries/{id}/take"), &room.csrf(), &[])
        .await;
    assert_eq!(ann.get(&format!("/contacts/{hidden}")).await.status, 200);
    assert!(ann.get("/contacts").await.body.contains("Known Hidden"));
    assert!(
        ann.get("/contacts?q=hidden")
            .await
            .body
            .contains("Known Hidden")
    );
    let room = ann.get(&format!("/enquiries/{id}")).await;
    assert!(room.body.contains(&format!("/contacts/{hidden}")));
    ann.post(
        &format!("/enquiries/{id}/close"),
        &room.csrf(),
        &[("resolution", "")],
    )
    .await;
    assert_eq!(ann.get(&format!("/contacts/{hidden}")).await.status, 404);
}

/// The contact's Activity tab lists their enquiries newest first, paged,
/// each opening its conversation; the tab shows how many.
#[actix_rt::test]
async fn the_activity_tab_lists_a_contacts_enquiries_newest_first() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let id = contact_with(&admin, "Busy", "busy@example.com", "+85291110055").await;
    let sql = format!(
        "INSERT INTO enquiries (contact_id, visitor_name, token_hash, created_at, status, closed_at) \
         SELECT {id}, 'Busy', sha256(('t' || i)::bytea), now() - i * interval '1 hour', 'closed', now() \
         FROM generate_series(1, 21) i; \
         INSERT INTO enquiry_messages (enquiry_id, body) SELECT id, 'Question ' || id FROM enquiries;"
    );
    diesel::connection::SimpleConnection::batch_execute(&mut app.conn(), &sql).expect("seed");
    private_link(
        &send(
            &app.browser(),
            &[
                ("email", "busy@example.com"),
                ("message", "The newest <question>"),
            ],
        )
        .await,
    );
    let newest = app.count("SELECT max(id) FROM enquiries");
    let page = admin.get(&format!("/contacts/{id}/activity")).await;
    assert_eq!(
        page.text("nav.contact-tabs a[aria-current=page]"),
        "Activity (22)"
    );
    let rows = page.texts("#enquiries .enquiry-row");
    assert_eq!(rows.len(), 20);
    assert!(
        rows[0].contains("Open") && rows[0].contains("The newest <question>"),
        "{}",
        rows[0]
    );
    assert_eq!(
        page.attr("#enquiries .enquiry-row a", "href").as_deref(),
        Some(format!("/enquiries/{newest}").as_str())
    );
    let older = page
        .attr("#enquiries a[rel=next]", "href")
        .expect("older page");
    let rest = admin.get(&older).await.texts("#enquiries .enquiry-row");
    assert_eq!(rest.len(), 2);
    assert!(rest.iter().all(|r| r.contains("Closed")));
}

fn panel_fields(company: &'static str, version: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("version", version),
        ("first_name", "Known"),
        ("last_name", "Panel"),
        ("company", company),
        ("email-0-kind", "work"),
        ("email-0-email", "panel@example.com"),
        ("phone-0-kind", "mobile"),
        ("phone-0-country", ""),
        ("phone-0-number", "+85291110088"),
    ]
}

/// Opens the panel's form and posts to it; the two statuses.
async fn try_edit(b: &Browser, id: i64, company: &'static str) -> (u16, u16) {
    let edit = format!("/enquiries/{id}/contact");
    let page = b.get(&format!("/enquiries/{id}")).await;
    let get = b.get(&edit).await.status;
    let post = b
        .post(&edit, &page.csrf(), &panel_fields(company, "1"))
        .await
        .status;
    (get, post)
}

/// The side panel follows the status table: Open, Missed and Closed let
/// staff view the contact; Handling lets the handler (and administrators)
/// edit it, with the contact form's rules and locking, logged as `enquiry`.
#[actix_rt::test]
async fn the_side_panel_edits_the_contact_only_while_handling_and_only_by_the_handler() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    app.add_staff("Ann Agent", "ann@example.com", Role::Agent);
    app.add_staff("Bob Agent", "bob@example.com", Role::Agent);
    let ann = app.browser();
    ann.sign_in("ann@example.com", common::PASSWORD).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", common::PASSWORD).await;
    let contact = contact_with(&admin, "Panel", "panel@example.com", "+85291110088").await;
    private_link(
        &send(
            &app.browser(),
            &[
                ("email", "panel@example.com"),
                ("message", "Please update my company"),
            ],
        )
        .await,
    );
    let id = app.count("SELECT id FROM enquiries");
    let edit = format!("/enquiries/{id}/contact");
    let fields = panel_fields;
    let company = |app: &common::TestApp| {
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {contact} AND company = ''"
        ))
    };
    // Open: view only, for everyone.
    let room = ann.get(&format!("/enquiries/{id}")).await;
    assert!(room.body.contains("View only while the enquiry is Open"));
    assert!(!room.exists(&format!("a[href='{edit}']")));
    assert_eq!(try_edit(&ann, id, "Open Co").await, (403, 403));
    assert_eq!(try_edit(&admin, id, "Open Co").await, (403, 403));
    assert_eq!(company(&app), 1, "nothing changed");

    // Handling by Ann: Bob views; Ann edits.
    let page = ann.get(&format!("/enquiries/{id}")).await;
    ann.post(&format!("/enquiries/{id}/take"), &page.csrf(), &[])
        .await;
    assert_eq!(try_edit(&bob, id, "Bob Co").await, (403, 403));
    assert_eq!(company(&app), 1);
    let room = ann.get(&format!("/enquiries/{id}")).await;
    assert!(room.exists(&format!("a[href='{edit}']")));
    let form = ann.get(&edit).await;
    assert_eq!(form.status, 200);
    assert!(
        form.exists(&format!("main form[action='{edit}']")),
        "the form posts back to the room's edit"
    );
    let res = ann.post(&edit, &form.csrf(), &fields("Ann Co", "1")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location().as_deref(),
        Some(format!("/enquiries/{id}").as_str())
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_changes WHERE contact_id = {contact} AND source = 'enquiry' \
             AND field = 'Company' AND new_value = 'Ann Co'"
        )),
        1
    );
    // A stale form is refused, as on the contact's own page.
    let stale = ann
        .post(&edit, &form.csrf(), &fields("Stale Co", "1"))
        .await;
    assert_eq!(stale.status, 409);
    // An administrator may edit a handled enquiry's contact too.
    let page = admin.get(&edit).await;
    assert_eq!(page.status, 200);

    // Closed, and Missed: view only again.
    let room = ann.get(&format!("/enquiries/{id}")).await;
    ann.post(
        &format!("/enquiries/{id}/close"),
        &room.csrf(),
        &[("resolution", "")],
    )
    .await;
    assert_eq!(try_edit(&ann, id, "Closed Co").await, (403, 403));
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        &format!("UPDATE enquiries SET status = 'missed' WHERE id = {id}"),
    )
    .expect("missed");
    assert_eq!(try_edit(&ann, id, "Missed Co").await, (403, 403));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {contact} AND company = 'Ann Co'"
        )),
        1
    );
}

#[actix_rt::test]
async fn administrators_set_when_an_open_enquiry_is_missed_and_private_links_are_not_a_flood() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let page = admin.get("/admin/settings").await;
    assert_eq!(page.attr("#f-missed_after", "value").as_deref(), Some("15"));
    let res = admin
        .post(
            "/admin/settings/enquiries",
            &page.csrf(),
            &[("missed_after", "0")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(
        res.attr("#f-missed_after", "value").as_deref(),
        Some("0"),
        "kept"
    );
    assert!(res.body.contains("from 1 to 1440"));
    let res = admin
        .post(
            "/admin/settings/enquiries",
            &page.csrf(),
            &[("missed_after", "30")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.count("SELECT missed_after_minutes FROM settings"), 30);
    // An agent may not change it.
    app.add_staff("Ann Agent", "ann@example.com", Role::Agent);
    let ann = app.browser();
    ann.sign_in("ann@example.com", common::PASSWORD).await;
    let page = ann.get("/contacts").await;
    let res = ann
        .post(
            "/admin/settings/enquiries",
            &page.csrf(),
            &[("missed_after", "1")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(app.count("SELECT missed_after_minutes FROM settings"), 30);

    // Thirty messages on a private link in ten minutes; the next is refused, kept.
    let visitor = app.browser();
    let link = private_link(
        &send(
            &visitor,
            &[("email", "chatty@example.com"), ("message", "Hi")],
        )
        .await,
    );
    let page = visitor.get(&link).await;
    for i in 0..30 {
        let body = format!("message {i}");
        assert_eq!(
            visitor
                .post(&link, &page.csrf(), &[("body", &body)])
                .await
                .status,
            303
        );
    }
    let res = visitor
        .post(&link, &page.csrf(), &[("body", "one too many")])
        .await;
    assert_eq!(res.status, 429);
    assert!(res.body.contains("one too many"));
    assert_eq!(app.count("SELECT count(*) FROM enquiry_messages"), 31);
}

/// A contact with enquiries, calls and page views can still be deleted for
/// good from the trash; its activity goes with it.
#[actix_rt::test]
async fn purging_a_contact_takes_its_activity_with_it() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let id = contact_with(&admin, "Gone", "gone@example.com", "+85291110099").await;
    private_link(
        &send(
            &app.browser(),
            &[("email", "gone@example.com"), ("message", "Delete me")],
        )
        .await,
    );
    let form = admin.get(&format!("/contacts/{id}/engagements/new")).await;
    admin
        .post(
            &format!("/contacts/{id}/engagements"),
            &form.csrf(),
            &[
                ("kind", "call"),
                ("number", "+85291110099"),
                ("outcome", "answered"),
            ],
        )
        .await;
    let confirm = admin.get(&format!("/contacts/{id}/delete")).await;
    admin
        .post(&format!("/contacts/{id}/delete"), &confirm.csrf(), &[])
        .await;
    let res = admin
        .post(&format!("/contacts/{id}/purge"), &confirm.csrf(), &[])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM contacts WHERE id = {id}")),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM enquiries"), 0);
    assert_eq!(app.count("SELECT count(*) FROM enquiry_messages"), 0);
    assert_eq!(app.count("SELECT count(*) FROM engagements"), 0);
}
