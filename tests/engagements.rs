//! Calls and SMS logged with a contact from beside its phones, listed on the
//! Activity tab, corrected by their author for 24 hours.

mod common;

use common::{Browser, TestApp, spawn_app};
use contactbook::domain::staff::Role;

async fn contact(b: &Browser) -> i64 {
    let res = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", "Carla"),
                ("last_name", "Caller"),
                ("phone-0-kind", "mobile"),
                ("phone-0-country", ""),
                ("phone-0-number", "+85291112222"),
                ("phone-1-kind", "work"),
                ("phone-1-country", ""),
                ("phone-1-number", "+85231113333"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("id")
}

async fn agents(app: &TestApp) -> (Browser, Browser) {
    app.add_staff("Ann Agent", "ann@example.com", Role::Agent);
    app.add_staff("Bob Agent", "bob@example.com", Role::Agent);
    let ann = app.browser();
    ann.sign_in("ann@example.com", common::PASSWORD).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", common::PASSWORD).await;
    (ann, bob)
}

#[actix_rt::test]
async fn calls_and_sms_are_logged_from_beside_a_phone_and_listed_on_the_activity_tab() {
    let app = spawn_app().await;
    app.signed_in_admin().await;
    let (ann, _) = agents(&app).await;
    let id = contact(&ann).await;
    let profile = ann.get(&format!("/contacts/{id}")).await;
    let log_call = profile
        .attr("a[aria-label='Log a call to +85231113333']", "href")
        .expect("a Log call link beside the phone");
    assert!(profile.exists("a[href='tel:+85231113333']"));
    let form = ann.get(&log_call).await;
    assert_eq!(form.status, 200);
    assert_eq!(
        form.attr("#f-number option[selected]", "value").as_deref(),
        Some("+85231113333"),
        "the phone it came from is chosen"
    );

    // A bad duration keeps what was typed; a number not the contact's is refused.
    let action = format!("/contacts/{id}/engagements");
    let res = ann
        .post(
            &action,
            &form.csrf(),
            &[
                ("kind", "call"),
                ("number", "+85231113333"),
                ("outcome", "answered"),
                ("duration", "ten"),
                ("note", "Talked <b>pricing</b>"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("ten is not a duration"));
    assert!(res.body.contains("pricing"));
    let res = ann
        .post(
            &action,
            &form.csrf(),
            &[
                ("kind", "call"),
                ("number", "+85299999999"),
                ("outcome", "answered"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(app.count("SELECT count(*) FROM engagements"), 0);

    let res = ann
        .post(
            &action,
            &form.csrf(),
            &[
                ("kind", "call"),
                ("number", "+85231113333"),
                ("outcome", "answered"),
                ("duration", "4:30"),
                ("note", "Talked <b>pricing</b>"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM engagements WHERE kind = 'call' AND duration_seconds = 270 AND outcome = 'answered'"),
        1
    );
    // An SMS needs its text.
    let res = ann
        .post(
            &action,
            &form.csrf(),
            &[
                ("kind", "sms"),
                ("number", "+85291112222"),
                ("outcome", "sent"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("write the text you sent"));
    let res = ann
        .post(
            &action,
            &form.csrf(),
            &[
                ("kind", "sms"),
                ("number", "+85291112222"),
                ("outcome", "sent"),
                ("body", "See you at 3 ✓"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);

    let activity = ann.get(&format!("/contacts/{id}/activity")).await;
    assert_eq!(
        activity.text("nav.contact-tabs a[aria-current=page]"),
        "Activity (2)"
    );
    let rows = activity.texts("#engagement .engagement-row");
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("SMS") && rows[0].contains("See you at 3 ✓"),
        "newest first: {}",
        rows[0]
    );
    assert!(
        rows[1].contains("Call")
            && rows[1].contains("4:30")
            && rows[1].contains("Talked <b>pricing</b>")
    );
    assert!(!activity.body.contains("<b>pricing</b>"), "escaped");
}

#[actix_rt::test]
async fn only_the_author_corrects_an_entry_and_only_for_a_day() {
    let app = spawn_app().await;
    app.signed_in_admin().await;
    let (ann, bob) = agents(&app).await;
    let id = contact(&ann).await;
    let form = ann
        .get(&format!("/contacts/{id}/engagements/new?kind=call"))
        .await;
    ann.post(
        &format!("/contacts/{id}/engagements"),
        &form.csrf(),
        &[
            ("kind", "call"),
            ("number", "+85291112222"),
            ("outcome", "no_answer"),
        ],
    )
    .await;
    let eid = app.count("SELECT id FROM engagements");
    let edit = format!("/contacts/{id}/engagements/{eid}/edit");

    // Another member: no link, no page, and a crafted POST changes nothing.
    assert!(
        !bob.get(&format!("/contacts/{id}/activity"))
            .await
            .body
            .contains(&edit)
    );
    assert_eq!(bob.get(&edit).await.status, 403);
    let page = bob.get(&format!("/contacts/{id}/activity")).await;
    let res = bob
        .post(
            &edit,
            &page.csrf(),
            &[("number", "+85291112222"), ("outcome", "busy")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM engagements WHERE outcome = 'no_answer'"),
        1
    );

    // The author corrects it; the kind stays a call whatever the form says.
    let page = ann.get(&edit).await;
    assert_eq!(page.status, 200);
    let res = ann
        .post(
            &edit,
            &page.csrf(),
            &[
                ("kind", "sms"),
                ("number", "+85291112222"),
                ("outcome", "voicemail"),
                ("duration", "0:20"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM engagements WHERE kind = 'call' AND outcome = 'voicemail' AND duration_seconds = 20"),
        1
    );
    assert!(
        ann.get(&format!("/contacts/{id}/activity"))
            .await
            .body
            .contains("corrected")
    );

    // A day later it stands as the record.
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        "UPDATE engagements SET created_at = now() - interval '25 hours'",
    )
    .expect("age");
    assert_eq!(ann.get(&edit).await.status, 403);
    let res = ann
        .post(
            &edit,
            &page.csrf(),
            &[("number", "+85291112222"), ("outcome", "answered")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM engagements WHERE outcome = 'voicemail'"),
        1
    );
}

#[actix_rt::test]
async fn a_contact_hidden_by_restricted_visibility_cannot_be_logged_against() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let (ann, _) = agents(&app).await;
    let id = contact(&admin).await;
    let page = admin.get("/admin/settings").await;
    admin
        .post(
            "/admin/settings",
            &page.csrf(),
            &[("visibility", "restricted")],
        )
        .await;
    assert_eq!(
        ann.get(&format!("/contacts/{id}/engagements/new"))
            .await
            .status,
        404
    );
    let page = ann.get("/contacts").await;
    let res = ann
        .post(
            &format!("/contacts/{id}/engagements"),
            &page.csrf(),
            &[
                ("kind", "call"),
                ("number", "+85291112222"),
                ("outcome", "answered"),
            ],
        )
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(app.count("SELECT count(*) FROM engagements"), 0);
}
