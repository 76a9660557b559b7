//! The web journey: the endpoint admits page views only from the origins
//! administrators list, checks and caps them, throttles floods, and links a
//! visitor's views to the contact their enquiry names.

mod common;

use std::time::Duration;

use common::{Browser, TestApp, spawn_app};

const SHOP: &str = "http://shop.test:8123";
const VISITOR: &str = "0123456789abcdef0123456789abcdef";

/// POSTs one event as the company's page would (no cookies); the status and
/// the Access-Control-Allow-Origin header.
async fn event(app: &TestApp, origin: Option<&str>, body: &str) -> (u16, Option<String>) {
    let mut req = awc::Client::default()
        .post(format!("{}/journey/events", app.base))
        .insert_header(("Content-Type", "text/plain"));
    if let Some(o) = origin {
        req = req.insert_header(("Origin", o));
    }
    let res = req.send_body(body.to_string()).await.expect("POST");
    let allow = res
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (res.status().as_u16(), allow)
}

fn view(visitor: &str, path: &str, title: &str) -> String {
    serde_json::json!({ "v": visitor, "u": format!("{SHOP}{path}"), "t": title, "r": "", "at": null })
        .to_string()
}

async fn allow_shop(admin: &Browser) {
    let page = admin.get("/admin/journey").await;
    let res = admin
        .post(
            "/admin/journey/origins",
            &page.csrf(),
            &[("origin", "HTTP://Shop.test:8123/")],
        )
        .await;
    assert_eq!(res.status, 303);
}

/// Waits for the writer's batch to land.
async fn settle(app: &TestApp, sql: &str, want: i64) {
    for _ in 0..50 {
        if app.count(sql) == want {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count(sql), want, "{sql}");
}

#[actix_rt::test]
async fn only_listed_origins_send_page_views_and_bad_ones_are_dropped() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    // Nothing listed: refused.
    assert_eq!(
        event(&app, Some(SHOP), &view(VISITOR, "/", "Home")).await.0,
        403
    );

    let page = admin.get("/admin/journey").await;
    assert!(page.body.contains("/journey.js"), "the snippet");
    let res = admin
        .post(
            "/admin/journey/origins",
            &page.csrf(),
            &[("origin", "shop.test/path")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("shop.test/path"), "kept, with the reason");
    allow_shop(&admin).await;
    assert_eq!(
        app.count("SELECT count(*) FROM web_origins WHERE origin = 'http://shop.test:8123'"),
        1
    );

    let (status, allow) = event(&app, Some(SHOP), &view(VISITOR, "/pricing", "Pricing")).await;
    assert_eq!((status, allow.as_deref()), (202, Some(SHOP)));
    assert_eq!(
        event(&app, Some("http://evil.test"), &view(VISITOR, "/", "x"))
            .await
            .0,
        403
    );
    assert_eq!(event(&app, None, &view(VISITOR, "/", "x")).await.0, 403);
    // A page of another site, a bad visitor id, junk, a script URL, a huge body.
    let other = serde_json::json!({ "v": VISITOR, "u": "http://evil.test/", "t": "x" }).to_string();
    assert_eq!(event(&app, Some(SHOP), &other).await.0, 400);
    assert_eq!(
        event(&app, Some(SHOP), &view("bad id!", "/", "x")).await.0,
        400
    );
    assert_eq!(event(&app, Some(SHOP), "not json").await.0, 400);
    let script = serde_json::json!({ "v": VISITOR, "u": "javascript:alert(1)" }).to_string();
    assert_eq!(event(&app, Some(SHOP), &script).await.0, 400);
    let huge = view(VISITOR, &format!("/{}", "x".repeat(9000)), "x");
    assert!(matches!(event(&app, Some(SHOP), &huge).await.0, 400 | 413));

    // The browser's preflight, for clients that send one.
    let res = awc::Client::default()
        .request(
            awc::http::Method::OPTIONS,
            format!("{}/journey/events", app.base),
        )
        .insert_header(("Origin", SHOP))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(res.status().as_u16(), 204);
    settle(&app, "SELECT count(*) FROM page_views", 1).await;
    assert_eq!(
        app.count("SELECT count(*) FROM page_views WHERE url = 'http://shop.test:8123/pricing' AND title = 'Pricing' AND contact_id IS NULL"),
        1
    );

    // Removed: refused again (after the few seconds the list is kept).
    let page = admin.get("/admin/journey").await;
    let id = app.count("SELECT id FROM web_origins");
    admin
        .post(
            &format!("/admin/journey/origins/{id}/delete"),
            &page.csrf(),
            &[],
        )
        .await;
    assert_eq!(
        event(&app, Some(SHOP), &view(VISITOR, "/", "Home")).await.0,
        403
    );
}

#[actix_rt::test]
async fn a_visitor_is_throttled_and_the_app_answers_meanwhile() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    allow_shop(&admin).await;
    let mut statuses = Vec::new();
    for i in 0..65 {
        statuses.push(
            event(&app, Some(SHOP), &view(VISITOR, &format!("/p{i}"), "p"))
                .await
                .0,
        );
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 60);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    // Another visitor is not held back by the first.
    let other = "fedcba9876543210fedcba9876543210";
    assert_eq!(
        event(&app, Some(SHOP), &view(other, "/", "Home")).await.0,
        202
    );
    assert_eq!(admin.get("/contacts").await.status, 200);
    settle(&app, "SELECT count(*) FROM page_views", 61).await;
}

#[actix_rt::test]
async fn an_enquiry_links_the_visitors_pages_before_and_after_to_the_contact() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    allow_shop(&admin).await;
    event(&app, Some(SHOP), &view(VISITOR, "/", "Home")).await;
    event(
        &app,
        Some(SHOP),
        &view(VISITOR, "/pricing", "Pricing <b>plans</b>"),
    )
    .await;
    event(&app, Some(SHOP), &view("someoneelse00000000", "/", "Home")).await;
    settle(&app, "SELECT count(*) FROM page_views", 3).await;

    let visitor = app.browser();
    let form = visitor.get(&format!("/support?visitor={VISITOR}")).await;
    assert_eq!(
        form.attr("input[name=visitor]", "value").as_deref(),
        Some(VISITOR)
    );
    let res = visitor
        .post(
            "/support",
            &form.csrf(),
            &[
                ("first_name", "Wendy"),
                ("email", "wendy@example.com"),
                ("message", "Which plan?"),
                ("visitor", VISITOR),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let contact = app.count("SELECT contact_id FROM enquiries");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM page_views WHERE contact_id = {contact}"
        )),
        2,
        "the pages before"
    );
    event(&app, Some(SHOP), &view(VISITOR, "/thanks", "Thanks")).await;
    settle(
        &app,
        &format!("SELECT count(*) FROM page_views WHERE contact_id = {contact}"),
        3,
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM page_views WHERE contact_id IS NULL"),
        1,
        "another visitor's"
    );

    let activity = admin.get(&format!("/contacts/{contact}/activity")).await;
    assert_eq!(
        activity.text("nav.contact-tabs a[aria-current=page]"),
        "Activity (4)"
    );
    let pages = activity.texts("#journey .visit-pages li");
    assert_eq!(pages.len(), 3);
    assert!(
        pages[0].contains("Thanks") && pages[2].contains("Home"),
        "newest first: {pages:?}"
    );
    assert!(pages[1].contains("Pricing <b>plans</b>"), "shown as text");
    assert!(!activity.body.contains("<b>plans"), "escaped");
    assert_eq!(
        activity.attr("#journey .visit-pages a", "href").as_deref(),
        Some("http://shop.test:8123/thanks")
    );
    // A made-up visitor id on the form is ignored.
    let form = app.browser().get("/support?visitor=%3Cscript%3E").await;
    assert!(!form.exists("input[name=visitor]"));
}
