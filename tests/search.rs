//! The header's search box: staff and external contacts at once, and the
//! pages that keep the header when something is missing or not allowed.

mod common;

use common::spawn_app;
use contactbook::domain::staff::Role;
use diesel::connection::SimpleConnection;

/// What the app keeps for the search box, for rows written here in SQL.
const REFRESH: &str = "UPDATE contacts c SET search_text = lower(concat_ws(' ', c.first_name, c.last_name, c.company, \
    (SELECT string_agg(e.email, ' ') FROM contact_emails e WHERE e.contact_id = c.id))) \
    || ' ' || coalesce((SELECT string_agg(substr(p.number, 2), ' ') FROM contact_phones p WHERE p.contact_id = c.id), '');";

#[actix_rt::test]
async fn one_box_finds_staff_by_name_and_contacts_by_name_company_email_and_phone() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let chan = app.add_staff("Wendy Chan", "wendy@example.com", Role::Agent);
    app.add_staff("Gone Chan", "gone@example.com", Role::Agent);
    app.conn()
        .batch_execute(&format!(
            "UPDATE staff SET active = false WHERE email = 'gone@example.com'; \
             INSERT INTO contacts (first_name, last_name, company, owner_id) VALUES \
               ('Mei', 'Chan', 'Harbour Foods', {me}), ('Tom', 'Baker', 'Chanel Ltd', {me}), \
               ('Ann', 'Other', '', {me}), ('Del', 'Eted', 'Chan & Co', {me}), \
               ('Ada', 'Mei', '', {me}), ('Zed', 'Meier', '', {me}); \
             UPDATE contacts SET deleted_at = now() WHERE first_name = 'Del'; \
             INSERT INTO contact_emails (contact_id, kind, email) \
               SELECT id, 'work', 'ann@chan.example' FROM contacts WHERE first_name = 'Ann'; \
             INSERT INTO contact_phones (contact_id, kind, number) \
               SELECT id, 'mobile', '+85291234567' FROM contacts WHERE first_name = 'Tom'; {REFRESH}"
        ))
        .expect("fixtures");

    let page = b.get("/search?q=chan").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text("h1"), "Results for “chan”");
    assert_eq!(
        page.attr("#global-q", "value").as_deref(),
        Some("chan"),
        "the header's box keeps the words"
    );
    let staff = page.texts("section[aria-labelledby=staff-hits] .person-name");
    assert_eq!(staff, ["Wendy Chan"], "active colleagues only");
    assert_eq!(
        page.attr("section[aria-labelledby=staff-hits] a", "href"),
        Some(format!("/staff/{chan}"))
    );
    let contacts = page.texts("section[aria-labelledby=contact-hits] .person-name");
    assert_eq!(
        contacts,
        ["Ann Other", "Mei Chan", "Tom Baker"],
        "by email, name and company, in name order; not the trash"
    );
    assert!(page.text("#contact-hits").contains("3 contacts"));
    // Names that start with what was typed come first.
    assert_eq!(
        b.get("/search?q=mei")
            .await
            .texts("section[aria-labelledby=contact-hits] .person-name"),
        ["Mei Chan", "Ada Mei", "Zed Meier"]
    );
    // A phone number typed the way people say it.
    let by_phone = b.get("/search?q=9123+4567").await;
    assert_eq!(
        by_phone.texts("section[aria-labelledby=contact-hits] .person-name"),
        ["Tom Baker"]
    );
    assert!(
        by_phone
            .text("section[aria-labelledby=staff-hits]")
            .contains("No colleague")
    );

    // The suggestions as you type: the same, fewer, with the first one an
    // Enter away and the full results last.
    let suggest = b.get("/search/suggest?q=chan").await;
    assert_eq!(suggest.status, 200);
    let options = suggest.texts("[role=option]");
    assert_eq!(options.len(), 5, "{options:?}");
    assert!(options[0].contains("Wendy Chan"));
    assert_eq!(
        suggest.attr("[role=option]", "data-href"),
        Some(format!("/staff/{chan}"))
    );
    assert!(options[4].contains("All results for “chan”"));
    assert_eq!(
        suggest.attr("#suggest-all", "data-href").as_deref(),
        Some("/search?q=chan")
    );
    let nothing = b.get("/search/suggest?q=zzzz").await;
    assert_eq!(nothing.texts("[role=option]").len(), 1);
    assert!(nothing.text("#suggest-all").contains("Nothing matches"));
    // Signed out, there is nothing to search.
    assert_eq!(app.browser().get("/search?q=chan").await.status, 303);
}

#[actix_rt::test]
async fn the_search_box_shows_only_contacts_the_member_may_see() {
    let app = spawn_app().await;
    let (me, b) = app.signed_in_agent().await;
    let other = app.add_staff("Oscar Other", "oscar@example.com", Role::Agent);
    app.conn()
        .batch_execute(&format!(
            "UPDATE settings SET contact_visibility = 'restricted'; \
             INSERT INTO contacts (first_name, last_name, owner_id) VALUES \
               ('Mine', 'Lee', {me}), ('Hidden', 'Lee', {other}), ('Lent', 'Lee', {other}); \
             INSERT INTO contact_shares (contact_id, staff_id, shared_by, sort_name) \
               SELECT id, {me}, {other}, sort_name FROM contacts WHERE first_name = 'Lent'; {REFRESH}"
        ))
        .expect("fixtures");
    let names = |p: &common::Page| p.texts("section[aria-labelledby=contact-hits] .person-name");
    assert_eq!(
        names(&b.get("/search?q=lee").await),
        ["Lent Lee", "Mine Lee"]
    );
    // By the start of the name: their own and those shared with them.
    assert_eq!(names(&b.get("/search?q=mine").await), ["Mine Lee"]);
    assert_eq!(names(&b.get("/search?q=lent+lee").await), ["Lent Lee"]);
    assert!(names(&b.get("/search?q=hidden").await).is_empty());
    assert!(!b.get("/search/suggest?q=lee").await.body.contains("Hidden"));
}

#[actix_rt::test]
async fn missing_and_forbidden_pages_keep_the_header_for_a_signed_in_member() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    for (path, status, title) in [
        ("/contacts/999999999", 404, "Page not found"),
        ("/no/such/page", 404, "Page not found"),
        ("/admin/staff", 403, "Not allowed"),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert_eq!(page.text("h1"), title, "{path}");
        assert!(page.exists("header .mainnav"), "{path} has the navigation");
        assert!(page.exists("#global-q"), "{path} has the search box");
    }
    // Signed out, the same address gives the plain page (and no names).
    let anonymous = app.browser().get("/no/such/page").await;
    assert_eq!(anonymous.status, 404);
    assert!(!anonymous.exists("header .mainnav"));
    assert_eq!(
        app.browser().get("/favicon.ico").await.status,
        200,
        "the icon answers"
    );
}
