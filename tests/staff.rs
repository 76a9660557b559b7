//! The staff directory, staff details, availability, profiles and the
//! administration of staff accounts.

mod common;

use common::{PASSWORD, PNG_1X1, spawn_app};
use contactbook::domain::staff::Role;

#[actix_rt::test]
async fn the_directory_lists_active_colleagues_by_name_with_extension_and_status() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    app.add_staff_with("zoë Zimmer", "zoe@example.com", Role::Agent, |s| {
        s.extension = Some("305");
        s.availability = "busy";
        s.department = "Billing";
    });
    app.add_staff_with("Bella Brown", "bella@example.com", Role::Agent, |s| {
        s.extension = Some("204");
        s.availability = "away";
        s.department = "Sales";
    });
    let gone = app.add_staff("Carl Gone", "carl@example.com", Role::Agent);
    contactbook::models::staff::Staff::set_active(&mut app.conn(), gone, false)
        .expect("deactivate");

    let page = b.get("/staff").await;
    assert_eq!(page.status, 200);
    let names = page.texts(".person-name");
    assert_eq!(
        names,
        ["Arthur Agent", "Bella Brown", "Olive Owner", "zoë Zimmer"],
        "sorted by name, case-insensitively; inactive hidden"
    );
    assert_eq!(page.text(".result-count"), "4 colleagues");
    let bella = page
        .texts(".person")
        .into_iter()
        .find(|t| t.contains("Bella"))
        .expect("Bella listed");
    assert!(bella.contains("Ext. 204"), "{bella}");
    assert!(bella.contains("Away"), "{bella}");
    assert!(
        page.exists(".person .status-away .dot"),
        "a coloured dot beside the word"
    );
    assert!(
        page.exists(".person .avatar.initials"),
        "initials when there is no picture"
    );
    assert_eq!(
        page.header("cache-control").as_deref(),
        Some("no-store"),
        "personal data is not cached"
    );
}

#[actix_rt::test]
async fn directory_search_matches_name_extension_or_department_literally() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    app.add_staff_with("Mei Ling Wong", "mei@example.com", Role::Agent, |s| {
        s.extension = Some("212");
        s.department = "Customer Support";
    });
    app.add_staff_with("Pedro Alves", "pedro@example.com", Role::Agent, |s| {
        s.extension = Some("316");
        s.department = "Billing 100%";
    });
    for (q, expected) in [
        ("ling w", vec!["Mei Ling Wong"]),
        ("ling", vec!["Mei Ling Wong", "Pedro Alves"]),
        ("MEI", vec!["Mei Ling Wong"]),
        ("212", vec!["Mei Ling Wong"]),
        ("support", vec!["Mei Ling Wong"]),
        ("billing", vec!["Pedro Alves"]),
        ("%", vec!["Pedro Alves"]),
        ("_", vec![]),
        ("nobody", vec![]),
    ] {
        let page = b
            .get(&format!(
                "/staff?q={}",
                contactbook::security::url_encode(q)
            ))
            .await;
        assert_eq!(page.status, 200, "{q}");
        assert_eq!(page.texts(".person-name"), expected, "search {q:?}");
        assert_eq!(
            page.attr("#f-q", "value").as_deref(),
            Some(q),
            "the search box keeps the term"
        );
        if expected.is_empty() {
            assert!(page.text(".empty").contains("Nobody matches"), "{q}");
        }
    }
}

#[actix_rt::test]
async fn staff_detail_shows_every_field_with_call_and_mail_links() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let id = app.add_staff_with("Mei Ling Wong", "mei@example.com", Role::Admin, |s| {
        s.extension = Some("212");
        s.department = "Customer Support";
        s.job_title = "Support Team Lead";
        s.time_zone = "Asia/Hong_Kong";
        s.phone = Some("+85291234567");
        s.availability = "busy";
    });
    let page = b.get(&format!("/staff/{id}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text("h1"), "Mei Ling Wong");
    let details: Vec<(String, String)> = page
        .texts(".details dt")
        .into_iter()
        .zip(page.texts(".details dd"))
        .collect();
    let get = |k: &str| {
        details
            .iter()
            .find(|(dt, _)| dt == k)
            .map(|(_, dd)| dd.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("Email"), "mei@example.com");
    assert_eq!(get("Phone"), "+85291234567");
    assert_eq!(get("Extension"), "212");
    assert_eq!(get("Role"), "Administrator");
    assert_eq!(get("Department"), "Customer Support");
    assert_eq!(get("Job title"), "Support Team Lead");
    assert!(
        get("Time zone").starts_with("Asia/Hong_Kong · local time "),
        "{}",
        get("Time zone")
    );
    assert!(
        get("Time zone").ends_with("(UTC+08:00)"),
        "{}",
        get("Time zone")
    );
    assert_eq!(
        page.attr("a[href^='tel:+']", "href").as_deref(),
        Some("tel:+85291234567")
    );
    assert_eq!(
        page.attr("a[href^='mailto:']", "href").as_deref(),
        Some("mailto:mei@example.com")
    );
    assert_eq!(page.text(".profile-head .status"), "Busy");
    assert!(!page.exists("a[href$='/edit']"), "agents get no edit link");
}

#[actix_rt::test]
async fn everyone_changes_their_own_availability_from_the_header_in_one_click() {
    let app = spawn_app().await;
    let (id, b) = app.signed_in_agent().await;
    let page = b.get("/staff?q=a").await;
    assert_eq!(
        page.attr(".availability-switch button[aria-pressed=true]", "value")
            .as_deref(),
        Some("available")
    );
    assert_eq!(page.texts(".availability-switch button").len(), 4);
    let next = page
        .attr(".availability-switch input[name=next]", "value")
        .expect("next");
    assert_eq!(next, "/staff?q=a", "comes back to the same page");
    let res = b
        .post(
            "/me/availability",
            &page.csrf(),
            &[("availability", "away"), ("next", &next)],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location().as_deref(), Some("/staff?q=a"));
    assert_eq!(app.staff(id).availability, "away");
    let page = b.get("/staff").await;
    assert_eq!(
        page.attr(".availability-switch button[aria-pressed=true]", "value")
            .as_deref(),
        Some("away")
    );
    let bad = b
        .post(
            "/me/availability",
            &page.csrf(),
            &[("availability", "asleep")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(app.staff(id).availability, "away");
}

#[actix_rt::test]
async fn an_agent_is_refused_every_administrator_page_and_action() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    let other = app.add_staff("Bella Brown", "bella@example.com", Role::Agent);
    for path in [
        "/admin".to_string(),
        "/admin/staff".into(),
        "/admin/staff/new".into(),
        format!("/admin/staff/{other}/edit"),
        format!("/admin/staff/{other}/password"),
    ] {
        assert_eq!(b.get(&path).await.status, 403, "GET {path}");
    }
    let token = b.get("/staff").await.csrf();
    for (path, fields) in [
        (
            "/admin/staff/new".to_string(),
            vec![
                ("display_name", "X"),
                ("email", "x@example.com"),
                ("role", "admin"),
                ("time_zone", "UTC"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        ),
        (
            format!("/admin/staff/{other}/edit"),
            vec![
                ("display_name", "Hacked"),
                ("email", "bella@example.com"),
                ("role", "admin"),
                ("time_zone", "UTC"),
            ],
        ),
        (
            format!("/admin/staff/{agent}/edit"),
            vec![
                ("display_name", "Me"),
                ("email", "arthur@example.com"),
                ("role", "admin"),
                ("time_zone", "UTC"),
            ],
        ),
        (format!("/admin/staff/{other}/deactivate"), vec![]),
        (
            format!("/admin/staff/{other}/password"),
            vec![
                ("password", "new password 1"),
                ("password_confirm", "new password 1"),
            ],
        ),
        (format!("/admin/staff/{other}/avatar/remove"), vec![]),
    ] {
        assert_eq!(
            b.post(&path, &token, &fields).await.status,
            403,
            "POST {path}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM staff WHERE role = 'admin'"),
        1,
        "nobody was promoted"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM staff"),
        3,
        "nobody was created"
    );
    assert!(app.staff(other).active);
    assert_eq!(app.staff(other).display_name, "Bella Brown");
    let page = b.get("/staff").await;
    assert!(!page.exists("a[href='/admin']"), "no Admin link for agents");
}

#[actix_rt::test]
async fn an_admin_adds_a_colleague_and_bad_input_keeps_what_was_typed() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    app.add_staff_with("Taken Ext", "taken@example.com", Role::Agent, |s| {
        s.extension = Some("204")
    });
    let form = b.get("/admin/staff/new").await;
    assert_eq!(form.status, 200);
    assert!(
        form.exists("label[for=f-display_name]"),
        "every input has a visible label"
    );

    let bad = b
        .post(
            "/admin/staff/new",
            &form.csrf(),
            &[
                ("display_name", "<script>alert(1)</script>"),
                ("email", "taken@EXAMPLE.com"),
                ("role", "agent"),
                ("department", "Sales"),
                ("job_title", "Account Executive"),
                ("time_zone", "Mars/Olympus"),
                ("extension", "20x"),
                ("phone", "98765 43210"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for (field, needle) in [
        ("time_zone", "not a time zone"),
        ("extension", "2 to 8 digits"),
        ("phone", "needs a +"),
        ("password", "at least 10"),
    ] {
        assert!(
            bad.text(&format!("#e-{field}")).contains(needle),
            "{field}: {}",
            bad.text(&format!("#e-{field}"))
        );
    }
    assert_eq!(
        bad.attr("#f-display_name", "value").as_deref(),
        Some("<script>alert(1)</script>")
    );
    assert_eq!(bad.attr("#f-department", "value").as_deref(), Some("Sales"));
    assert_eq!(
        bad.attr("#f-phone", "value").as_deref(),
        Some("98765 43210")
    );
    assert!(!bad.body.contains("<script>alert(1)</script>"), "escaped");
    assert!(bad.text(".flash-error").contains("correct these 4 fields"));
    // Each field in error is named in the summary and linked to.
    let links: Vec<String> = bad
        .html()
        .select(&scraper::Selector::parse(".error-summary a").expect("css"))
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for href in &links {
        assert!(bad.exists(href), "{href} points at a field");
    }

    // Fixing those, the email clash is reported on its field.
    let dup = b
        .post(
            "/admin/staff/new",
            &form.csrf(),
            &[
                ("display_name", "Sam Sales"),
                ("email", "TAKEN@example.com"),
                ("role", "agent"),
                ("time_zone", "Europe/London"),
                ("extension", "205"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(dup.status, 422);
    assert!(
        dup.text("#e-email").contains("already used"),
        "{}",
        dup.text("#e-email")
    );
    let dup_ext = b
        .post(
            "/admin/staff/new",
            &form.csrf(),
            &[
                ("display_name", "Sam Sales"),
                ("email", "sam@example.com"),
                ("role", "agent"),
                ("time_zone", "Europe/London"),
                ("extension", "204"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert!(dup_ext.text("#e-extension").contains("already assigned"));

    let ok = b
        .post(
            "/admin/staff/new",
            &form.csrf(),
            &[
                ("display_name", "Sam Sales"),
                ("email", "sam@Example.com"),
                ("role", "agent"),
                ("department", "Sales"),
                ("job_title", "Account Executive"),
                ("time_zone", "Europe/London"),
                ("extension", "205"),
                ("phone", "+44 20 7946 0958"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let location = ok.location().expect("location");
    let detail = b.get(&location).await;
    assert_eq!(detail.text("h1"), "Sam Sales");
    assert!(detail.text(".flash-success").contains("can now sign in"));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM staff WHERE email = 'sam@example.com' AND phone = '+442079460958'"
        ),
        1
    );
    // The new colleague can sign in.
    app.browser().sign_in("SAM@example.com", PASSWORD).await;
}

#[actix_rt::test]
async fn an_admin_edits_a_colleague_and_the_last_admin_is_protected() {
    let app = spawn_app().await;
    let (admin, b) = app.signed_in_admin().await;
    let id = app.add_staff("Bella Brown", "bella@example.com", Role::Agent);
    let form = b.get(&format!("/admin/staff/{id}/edit")).await;
    assert_eq!(
        form.attr("#f-email", "value").as_deref(),
        Some("bella@example.com")
    );
    let res = b
        .post(
            &format!("/admin/staff/{id}/edit"),
            &form.csrf(),
            &[
                ("display_name", "Bella Brown-Smith"),
                ("email", "bella@example.com"),
                ("role", "admin"),
                ("department", "Sales"),
                ("job_title", "Sales Manager"),
                ("time_zone", "America/New_York"),
                ("extension", "240"),
                ("phone", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let bella = app.staff(id);
    assert_eq!(
        (
            bella.display_name.as_str(),
            bella.role.as_str(),
            bella.time_zone.as_str()
        ),
        ("Bella Brown-Smith", "admin", "America/New_York")
    );
    assert_eq!(bella.extension.as_deref(), Some("240"));

    // Demote Bella again, then try to demote the only remaining admin (ourselves).
    let form = b.get(&format!("/admin/staff/{id}/edit")).await;
    let fields = |role: &'static str, email: &'static str, name: &'static str| {
        vec![
            ("display_name", name),
            ("email", email),
            ("role", role),
            ("time_zone", "UTC"),
        ]
    };
    b.post(
        &format!("/admin/staff/{id}/edit"),
        &form.csrf(),
        &fields("agent", "bella@example.com", "Bella"),
    )
    .await;
    let refused = b
        .post(
            &format!("/admin/staff/{admin}/edit"),
            &form.csrf(),
            &fields("agent", "ada@example.com", "Ada"),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .text("#e-role")
            .contains("last active administrator")
    );
    assert_eq!(app.staff(admin).role, "admin");
    let self_deactivate = b
        .post(
            &format!("/admin/staff/{admin}/deactivate"),
            &form.csrf(),
            &[],
        )
        .await;
    assert_eq!(self_deactivate.status, 303);
    assert!(app.staff(admin).active, "you cannot deactivate yourself");
    let list = b.get("/admin/staff").await;
    assert!(list.text(".flash-error").contains("your own account"));
}

#[actix_rt::test]
async fn reset_password_signs_the_colleague_out_and_the_new_one_works() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let (agent_id, agent) = app.signed_in_agent().await;
    let form = admin
        .get(&format!("/admin/staff/{agent_id}/password"))
        .await;
    assert_eq!(form.status, 200);
    let bad = admin
        .post(
            &format!("/admin/staff/{agent_id}/password"),
            &form.csrf(),
            &[
                ("password", "a long password"),
                ("password_confirm", "another one!"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.text("#e-password").contains("does not match"));
    let ok = admin
        .post(
            &format!("/admin/staff/{agent_id}/password"),
            &form.csrf(),
            &[
                ("password", "a new secret 42"),
                ("password_confirm", "a new secret 42"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(agent.get("/staff").await.status, 303, "signed out");
    let fresh = app.browser();
    let login = fresh.get("/login").await;
    assert_eq!(
        fresh
            .post(
                "/login",
                &login.csrf(),
                &[("email", "arthur@example.com"), ("password", PASSWORD)]
            )
            .await
            .status,
        401
    );
    fresh.sign_in("arthur@example.com", "a new secret 42").await;
}

#[actix_rt::test]
async fn members_edit_their_own_profile_and_password() {
    let app = spawn_app().await;
    let (id, b) = app.signed_in_agent().await;
    let form = b.get("/me/profile").await;
    assert_eq!(form.status, 200);
    let bad = b
        .post(
            "/me/profile",
            &form.csrf(),
            &[
                ("display_name", ""),
                ("time_zone", "Asia/Tokyo"),
                ("phone", "+81 90 12"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.exists("#e-display_name"));
    assert!(bad.text("#e-phone").contains("digits"));
    assert_eq!(
        bad.attr("#f-time_zone option[selected]", "value")
            .or_else(|| Some(bad.text("#f-time_zone option[selected]")))
            .as_deref(),
        Some("Asia/Tokyo")
    );
    let ok = b
        .post(
            "/me/profile",
            &form.csrf(),
            &[
                ("display_name", "Arthur 🚀 Agent"),
                ("time_zone", "Asia/Tokyo"),
                ("phone", "+81 90 1234 5678"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    let me = app.staff(id);
    assert_eq!(
        (
            me.display_name.as_str(),
            me.time_zone.as_str(),
            me.phone.as_deref()
        ),
        ("Arthur 🚀 Agent", "Asia/Tokyo", Some("+819012345678"))
    );
    assert_eq!(me.role, "agent", "no way to promote oneself here");

    // Changing the password needs the current one and ends other sessions.
    let other_device = app.browser();
    other_device.sign_in("arthur@example.com", PASSWORD).await;
    let pw = b.get("/me/password").await;
    let wrong = b
        .post(
            "/me/password",
            &pw.csrf(),
            &[
                ("current_password", "nope"),
                ("password", "brand new pass"),
                ("password_confirm", "brand new pass"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.exists("#e-current_password"));
    let ok = b
        .post(
            "/me/password",
            &pw.csrf(),
            &[
                ("current_password", PASSWORD),
                ("password", "brand new pass"),
                ("password_confirm", "brand new pass"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(
        b.get("/me/profile").await.status,
        200,
        "this session goes on"
    );
    assert_eq!(
        other_device.get("/staff").await.status,
        303,
        "the other one is signed out"
    );
    app.browser()
        .sign_in("arthur@example.com", "brand new pass")
        .await;
}

#[actix_rt::test]
async fn avatars_are_checked_by_content_and_size_then_served_to_signed_in_staff() {
    let app = spawn_app().await;
    let (id, b) = app.signed_in_agent().await;
    let token = b.get("/me/profile").await.csrf();
    let svg = b
        .upload(
            &format!("/me/avatar?csrf_token={token}"),
            "avatar",
            "x.png",
            "image/png",
            b"<svg onload=alert(1)>",
        )
        .await;
    assert_eq!(svg.status, 422);
    assert!(svg.text("[role=alert]").contains("PNG, JPEG, GIF or WebP"));
    let mut big = PNG_1X1.to_vec();
    big.resize(3 * 1024 * 1024, 0);
    let too_big = b
        .upload(
            &format!("/me/avatar?csrf_token={token}"),
            "avatar",
            "big.png",
            "image/png",
            &big,
        )
        .await;
    assert_eq!(too_big.status, 422);
    assert!(too_big.text("[role=alert]").contains("larger than"));
    let no_token = b
        .upload("/me/avatar", "avatar", "a.png", "image/png", PNG_1X1)
        .await;
    assert_eq!(no_token.status, 403);
    assert_eq!(app.count("SELECT count(*) FROM staff_avatars"), 0);

    let ok = b
        .upload(
            &format!("/me/avatar?csrf_token={token}"),
            "avatar",
            "a.png",
            "image/png",
            PNG_1X1,
        )
        .await;
    assert_eq!(ok.status, 303);
    let page = b.get("/staff").await;
    let src = page
        .attr(&format!("a[href='/staff/{id}'] img.avatar"), "src")
        .expect("avatar img in directory");
    let img = b.get(&src).await;
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        app.browser().get(&src).await.status,
        303,
        "not for anonymous visitors"
    );

    let removed = b.post("/me/avatar/remove", &token, &[]).await;
    assert_eq!(removed.status, 303);
    let page = b.get("/staff").await;
    assert!(!page.exists(&format!("a[href='/staff/{id}'] img.avatar")));
    assert_eq!(b.get(&src).await.status, 404);
}
