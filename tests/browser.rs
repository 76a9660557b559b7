//! A person's first visit, in headless Chromium: first-run setup, sign-in, the
//! directory, a colleague's details and an availability change. Screenshots go
//! to target/screenshots/.

mod common;

use common::{PASSWORD, spawn_app, webdriver::Driver};

#[actix_rt::test]
async fn first_visit_setup_sign_in_directory_detail_and_availability() {
    let app = spawn_app().await;
    let added = contactbook::seed::seed_demo_staff(&mut app.conn()).expect("seed");
    assert_eq!(added, 24);
    let d = Driver::start().await;

    // First run: every address leads to setup.
    d.goto(&format!("{}/staff", app.base)).await;
    assert!(d.current_url().await.ends_with("/setup"));
    d.type_into(&d.field("Your name").await, "Grace Hopper")
        .await;
    d.type_into(&d.field("Email").await, "grace@example.com")
        .await;
    d.type_into(&d.field("Password").await, "short").await;
    d.type_into(&d.field("Repeat the password").await, "short")
        .await;
    d.click(&d.button("Create administrator").await).await;
    d.wait_for_text("at least 10 characters").await;
    assert_eq!(
        d.attribute(&d.field("Your name").await, "value")
            .await
            .as_deref(),
        Some("Grace Hopper"),
        "kept what was typed"
    );
    d.screenshot("setup-error").await;
    d.type_into(&d.field("Password").await, PASSWORD).await;
    d.type_into(&d.field("Repeat the password").await, PASSWORD)
        .await;
    d.click(&d.button("Create administrator").await).await;
    d.wait_for_text("Your administrator account is ready").await;
    assert!(d.current_url().await.ends_with("/contacts"));
    d.wait_for_text("There are no contacts yet.").await;

    // Sign out (from the menu under my name) and back in.
    d.click(&d.find(".me-menu summary").await).await;
    d.click(&d.button("Sign out").await).await;
    d.wait_for_text("You have signed out.").await;
    d.type_into(&d.field("Email").await, "grace@example.com")
        .await;
    d.type_into(&d.field("Password").await, "wrong password")
        .await;
    d.click(&d.button("Sign in").await).await;
    d.wait_for_text("do not match an active account").await;
    d.type_into(&d.field("Password").await, PASSWORD).await;
    d.screenshot("sign-in").await;
    d.click(&d.button("Sign in").await).await;
    d.wait_for_text("Contacts").await;
    d.click(&d.link("Staff").await).await;
    d.wait_for_text("25 colleagues").await;
    d.screenshot("directory").await;

    // Search the directory, open a colleague.
    d.type_into(
        &d.field("Search by name, extension or department").await,
        "billing",
    )
    .await;
    d.click(&d.button("Search").await).await;
    d.wait_for_text("2 matches for “billing”").await;
    d.click(&d.link("Pedro Alves").await).await;
    d.wait_for_text("Billing Team Lead").await;
    let text = d.page_text().await;
    for expected in [
        "pedro.alves@demo.contactbook.test",
        "+351912345678",
        "Europe/Lisbon",
        "local time",
        "Agent",
    ] {
        assert!(text.contains(expected), "detail shows {expected}:\n{text}");
    }
    d.screenshot("staff-detail").await;

    // The header's status menu changes my availability.
    d.click(&d.find(".status-menu summary").await).await;
    let busy = d.find(".availability-switch button[value=busy]").await;
    assert_eq!(
        d.attribute(&busy, "aria-pressed").await.as_deref(),
        Some("false")
    );
    d.click(&busy).await;
    let busy = d
        .find(".availability-switch button[value=busy][aria-pressed=true]")
        .await;
    assert!(
        d.current_url().await.contains("/staff/"),
        "stayed on the same page"
    );
    d.screenshot("availability-busy").await;
    drop(busy);
    let grace =
        contactbook::models::staff::Staff::find_by_email(&mut app.conn(), "grace@example.com")
            .expect("query")
            .expect("grace");
    assert_eq!(grace.availability, "busy");

    // The directory shows it too, and works on a phone-sized screen.
    d.set_window_size(375, 800).await;
    d.goto(&format!("{}/staff?q=Grace", app.base)).await;
    d.wait_for_text("1 match for “Grace”").await;
    assert!(d.page_text().await.contains("Busy"));
    d.screenshot("directory-mobile").await;
    d.quit().await;
}

#[actix_rt::test]
async fn a_contact_with_two_phones_is_created_in_the_full_form_and_found_by_part_of_a_number() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    contactbook::models::label::Label::insert(&mut app.conn(), "VIP", "#b91c1c").expect("label");
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    // Reuse the signed-in session: the browser test is about the contact form.
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;

    d.goto(&format!("{}/contacts", app.base)).await;
    d.wait_for_text("There are no contacts yet.").await;
    d.click(&d.link("Add contact").await).await;
    d.wait_for_text("How to reach them").await;
    d.type_into(&d.field("First name").await, "Mei").await;
    d.type_into(&d.field("Last name (required)").await, "Chan")
        .await;
    d.screenshot("contact-quick-form").await;
    d.click(&d.button("More details").await).await;
    d.wait_for_text("Phone numbers").await;
    assert_eq!(
        d.attribute(&d.field("First name").await, "value")
            .await
            .as_deref(),
        Some("Mei"),
        "kept"
    );

    d.type_into(&d.field("Company").await, "Harbour Foods, Ltd.")
        .await;
    d.type_into(&d.find("#f-phone-0-number").await, "+852 9123 4567")
        .await;
    // With JavaScript, the second row appears in place.
    d.click(&d.button("Add another phone number").await).await;
    let second = d.find("#f-phone-1-number").await;
    d.type_into(&second, "+44 20 7946 0958").await;
    d.click(&d.find("#f-phone-1-kind option[value=work]").await)
        .await;
    d.type_into(&d.find("#f-email-0-email").await, "mei.chan@example.hk")
        .await;
    let vip = d.find("label.check input[name=label]").await;
    d.scroll_to(&vip).await;
    d.click(&vip).await;
    d.screenshot("contact-full-form").await;
    d.click(&d.button("Create").await).await;
    d.wait_for_text("Mei Chan has been created.").await;
    let text = d.page_text().await;
    assert!(
        text.contains("+85291234567") && text.contains("+442079460958"),
        "{text}"
    );
    d.screenshot("contact-profile").await;

    // Another contact, so that the search has something to leave out.
    let other = b
        .submit(
            "/contacts/new",
            "/contacts/new",
            &[
                ("first_name", "Tom"),
                ("last_name", "Baker"),
                ("phone-0-kind", "mobile"),
                ("phone-0-number", "+44 20 7946 0000"),
            ],
        )
        .await;
    assert_eq!(other.status, 303, "{}", other.body);

    // Find it by typing part of a phone number, formatted differently.
    d.click(&d.link("Contacts").await).await;
    d.wait_for_text("2 contacts").await;
    assert!(d.page_text().await.contains("Tom Baker"));
    d.type_into(
        &d.field("Search by name, company, email or phone").await,
        "7946 0958",
    )
    .await;
    d.click(&d.button("Apply").await).await;
    d.wait_for_text("1 contact").await;
    let found = d.page_text().await;
    assert!(found.contains("Mei Chan"), "{found}");
    assert!(!found.contains("Tom Baker"), "{found}");
    d.screenshot("contact-search").await;
    d.quit().await;
}

#[actix_rt::test]
async fn the_sample_file_is_uploaded_previewed_imported_and_its_error_log_downloaded() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;

    d.goto(&format!("{}/contacts", app.base)).await;
    d.click(&d.link("Import & Export").await).await;
    d.wait_for_text("Download the CSV template").await;
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/contacts-sample.csv");
    d.choose_file(&d.field("CSV file").await, &sample).await;
    d.screenshot("import-upload").await;
    d.click(&d.button("Upload and preview").await).await;
    d.wait_for_text("Check the import of contacts-sample.csv")
        .await;
    let text = d.page_text().await;
    assert!(text.contains("2 will fail"), "{text}");
    assert!(text.contains("Row 4: Mobile: 98765 43210"), "{text}");
    d.screenshot("import-preview").await;
    let go = d.button("Import 4 contacts").await;
    d.scroll_to(&go).await;
    d.click(&go).await;

    // The page polls until the job is done, then shows the result.
    d.wait_for_text("6 rows read, 4 imported, 2 failed.").await;
    let bar = d.find("#import-bar").await;
    assert_eq!(d.attribute(&bar, "value").await.as_deref(), Some("6"));
    assert_eq!(d.attribute(&bar, "max").await.as_deref(), Some("6"));
    assert!(
        d.page_text()
            .await
            .contains("2 records failed to import. Download the file with the error log.")
    );
    d.screenshot("import-result").await;

    d.click(&d.link("Download the file with the error log.").await)
        .await;
    let log = d.downloaded("contacts-sample-errors.csv").await;
    let text = String::from_utf8(log).expect("utf-8");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("Row,Errors,First Name,Last Name"),
        "{text}"
    );
    assert!(lines[1].starts_with("4,\"Mobile: 98765 43210"), "{text}");
    assert!(
        lines[2].starts_with("5,Email: lena(at)example.de"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "{text}");

    // Tick two of the imported contacts and give them a level in bulk.
    d.goto(&format!("{}/contacts", app.base)).await;
    d.wait_for_text("4 contacts").await;
    d.click(&d.find("details.bulk-actions summary").await).await;
    d.click(&d.find("th.select-col input").await).await;
    d.click(&d.find("#b-level option[value=tertiary]").await)
        .await;
    d.screenshot("contacts-bulk").await;
    d.click(&d.button("Set level").await).await;
    d.wait_for_text("Level set to Tertiary for 4 contacts.")
        .await;
    d.quit().await;
}

#[actix_rt::test]
async fn a_contact_is_noted_pinned_shared_found_by_the_colleague_and_transferred() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_agent().await;
    app.add_staff(
        "Bea Buyer",
        "bea@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    let created = b
        .submit(
            "/contacts/new",
            "/contacts/new",
            &[
                ("first_name", "Mei"),
                ("last_name", "Chan"),
                ("phone-0-kind", "mobile"),
                ("phone-0-number", "+852 9123 4567"),
            ],
        )
        .await;
    let id: i64 = created
        .location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("id");
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;

    d.goto(&format!("{}/contacts/{id}", app.base)).await;
    d.wait_for_text("Mei Chan").await;
    d.type_into(
        &d.field("Add note").await,
        "Called about the order.\nSee https://example.com/o/1",
    )
    .await;
    d.click(&d.button("Add note").await).await;
    d.wait_for_text("Your note has been added.").await;
    d.type_into(&d.field("Add note").await, "A newer note")
        .await;
    d.click(&d.button("Add note").await).await;
    d.wait_for_text("Your note has been added.").await;
    // Pin the older one: it moves above the newer.
    let pins = d.find("li.note:nth-child(2) button").await;
    d.click(&pins).await;
    d.wait_for_text("The note is pinned to the top.").await;
    let first = d
        .text(&d.find("li.note:first-child .note-body").await)
        .await;
    assert!(first.starts_with("Called about the order."), "{first}");
    for width in [1280, 375] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("contact-profile-tab-{width}")).await;
    }
    d.set_window_size(1280, 900).await;

    d.click(&d.link("Sharing (0)").await).await;
    d.wait_for_text("Share with…").await;
    d.type_into(&d.field("Find colleagues by name").await, "bea")
        .await;
    d.click(&d.button("Find").await).await;
    d.wait_for_text("matching “bea”").await;
    d.click(&d.find(".picker input[type=checkbox]").await).await;
    d.type_into(&d.field("Message (optional)").await, "Yours from Monday")
        .await;
    d.click(&d.button("Share").await).await;
    d.wait_for_text("now shared with 1 colleague").await;
    for width in [1280, 375] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("contact-sharing-tab-{width}")).await;
    }
    d.set_window_size(1280, 900).await;

    d.click(&d.link("Activity (0)").await).await;
    d.wait_for_text("has not sent an enquiry").await;
    for width in [1280, 375] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("contact-activity-tab-{width}")).await;
    }
    d.set_window_size(1280, 900).await;

    // Transfer ownership to Bea.
    d.click(&d.link("Transfer ownership").await).await;
    d.wait_for_text("New owner").await;
    d.click(&d.find("#f-owner option:not([value=''])").await)
        .await;
    d.type_into(&d.field("Note (optional)").await, "She covers Asia")
        .await;
    d.click(&d.button("Transfer ownership").await).await;
    d.wait_for_text("The contact now belongs to").await;

    d.click(&d.link("Change Log (7)").await).await;
    d.wait_for_text("transferred ownership").await;
    for width in [1280, 375] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("contact-changelog-tab-{width}"))
            .await;
    }
    d.quit().await;

    // Bea signs in and finds it under Shared with me, and under My contacts.
    let bea = app.browser();
    bea.sign_in("bea@example.com", PASSWORD).await;
    let cookie = bea.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;
    d.goto(&format!("{}/contacts", app.base)).await;
    d.click(&d.link("Shared with me").await).await;
    d.wait_for_text("Mei Chan").await;
    d.click(&d.link("My contacts").await).await;
    d.wait_for_text("Mei Chan").await;
    d.screenshot("contacts-my-contacts").await;
    d.quit().await;
}

/// A company's website carrying the journey script, on a port of its own:
/// a home page, a pricing page, and a link to ContactBook's support form.
async fn test_website(contactbook: &str) -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let cb = contactbook.to_string();
    let page = move |title: &'static str, body: &'static str| {
        let cb = cb.clone();
        move || {
            let html = format!(
                "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head>\
                 <body><h1>{title}</h1><p>{body}</p>\
                 <p><a href=\"/pricing\">Pricing</a> · <a href=\"{cb}/support\">Contact support</a></p>\
                 <script src=\"{cb}/journey.js\" async></script></body></html>"
            );
            async move { HttpResponse::Ok().content_type("text/html").body(html) }
        }
    };
    let server = HttpServer::new(move || {
        App::new()
            .route(
                "/",
                web::get().to(page("Shop home", "Welcome to the shop.")),
            )
            .route(
                "/pricing",
                web::get().to(page("Shop pricing", "Plans and prices.")),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind the test website");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

#[actix_rt::test]
async fn a_visitor_browses_the_website_sends_an_enquiry_and_an_agent_answers_it() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let (site, site_handle) = test_website(&app.base).await;
    let page = admin.get("/admin/journey").await;
    let res = admin
        .post("/admin/journey/origins", &page.csrf(), &[("origin", &site)])
        .await;
    assert_eq!(res.status, 303);
    app.add_staff(
        "Ann Agent",
        "ann@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    let ann = app.browser();
    ann.sign_in("ann@example.com", PASSWORD).await;
    let ann_cookie = ann.cookie("contactbook").expect("session");

    // The visitor: two pages of the shop, then its link to the support form.
    let visitor = Driver::start().await;
    visitor.goto(&format!("{site}/")).await;
    visitor.wait_for_text("Welcome to the shop").await;
    visitor.click(&visitor.link("Pricing").await).await;
    visitor.wait_for_text("Plans and prices").await;
    // The script has tagged the support link with the visitor's id.
    let mut tagged = None;
    for _ in 0..50 {
        let href = visitor
            .attribute(&visitor.link("Contact support").await, "href")
            .await
            .unwrap_or_default();
        if href.contains("visitor=") {
            tagged = Some(href);
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        tagged.is_some(),
        "the script adds the visitor id to the link"
    );
    visitor.click(&visitor.link("Contact support").await).await;
    visitor.wait_for_text("Tell us how we can help").await;
    visitor.set_window_size(360, 900).await;
    visitor.screenshot("support-form-360").await;
    visitor.set_window_size(1280, 900).await;
    visitor
        .type_into(&visitor.field("First name").await, "Vera")
        .await;
    visitor
        .type_into(&visitor.field("Email").await, "vera@example.com")
        .await;
    visitor
        .type_into(
            &visitor.field("Message").await,
            "Is the yearly plan cheaper?",
        )
        .await;
    visitor.click(&visitor.button("Send").await).await;
    visitor.wait_for_text("your enquiry has been sent").await;
    let private = visitor.current_url().await;
    assert!(private.contains("/support/e/"));

    // The agent: Open, take, reply.
    let agent = Driver::start().await;
    agent
        .goto(&format!("{}/static/favicon.svg", app.base))
        .await;
    agent.add_cookie("contactbook", &ann_cookie).await;
    agent.goto(&format!("{}/enquiries", app.base)).await;
    agent.wait_for_text("Is the yearly plan cheaper?").await;
    agent.wait_for_text("Open (1)").await;
    for width in [1280, 360] {
        agent.set_window_size(width, 900).await;
        agent.screenshot(&format!("enquiries-open-{width}")).await;
    }
    agent.set_window_size(1280, 900).await;
    agent.click(&agent.button("Take").await).await;
    agent
        .wait_for_text("You are handling this enquiry now")
        .await;
    agent
        .type_into(
            &agent.field("Reply to Vera customer").await,
            "Yes: two months free.",
        )
        .await;
    agent.click(&agent.button("Send reply").await).await;
    agent.wait_for_text("Yes: two months free.").await;

    // The visitor sees the reply without reloading, and answers.
    visitor.wait_for_text("Yes: two months free.").await;
    visitor
        .type_into(&visitor.field("Write to us").await, "Great, thank you!")
        .await;
    visitor.click(&visitor.button("Send").await).await;
    visitor.wait_for_text("Great, thank you!").await;
    for width in [1280, 375] {
        visitor.set_window_size(width, 900).await;
        visitor
            .screenshot(&format!("enquiry-visitor-{width}"))
            .await;
    }

    // The agent sees the answer arrive, and closes the enquiry.
    agent.wait_for_text("Great, thank you!").await;
    for width in [1280, 375] {
        agent.set_window_size(width, 900).await;
        agent.screenshot(&format!("enquiry-room-{width}")).await;
    }
    agent.set_window_size(1280, 900).await;
    agent
        .type_into(
            &agent.field("Resolution note (optional)").await,
            "Explained the yearly plan",
        )
        .await;
    agent.click(&agent.button("Close the enquiry").await).await;
    agent.wait_for_text("The enquiry is closed.").await;

    // The contact's Activity tab: the enquiry, and the shop's pages.
    agent.click(&agent.link("Vera customer").await).await;
    agent.wait_for_text("Vera customer").await;
    agent
        .click(&agent.find("nav.contact-tabs a[href$='/activity']").await)
        .await;
    agent.wait_for_text("Enquiry History (").await;
    agent.wait_for_text("Is the yearly plan cheaper?").await;
    agent.wait_for_text("Shop pricing").await;
    agent.wait_for_text("Shop home").await;
    for width in [1280, 375] {
        agent.set_window_size(width, 900).await;
        agent
            .screenshot(&format!("contact-activity-journey-{width}"))
            .await;
    }
    agent.click(&agent.link("Web form enquiry").await).await;
    agent.wait_for_text("Explained the yearly plan").await;
    visitor.quit().await;
    agent.quit().await;
    site_handle.stop(true).await;
}

/// The Duplicates page finds a planted pair; the wizard's three steps take
/// a value from each side; the kept contact holds both; undo gives the two
/// records back.
#[actix_rt::test]
async fn a_planted_pair_is_found_merged_in_three_steps_and_the_merge_undone() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (first_name, last_name, company, job_title) VALUES \
               ('Mei', 'Chan', 'Harbour Foods', ''), ('May', 'Chan', '', 'Buyer'); \
             INSERT INTO contact_emails (contact_id, kind, email) \
               SELECT id, 'work', CASE WHEN first_name = 'Mei' THEN 'mei@harbour.example' ELSE 'MEI@harbour.example' END FROM contacts; \
             INSERT INTO contact_phones (contact_id, kind, number) SELECT id, 'mobile', '+85291234567' FROM contacts WHERE first_name = 'May';",
        )
        .expect("fixtures");
    // The app's own scanner finds them within a few seconds.
    let start = std::time::Instant::now();
    while app.count("SELECT count(*) FROM duplicate_pairs") == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "not found"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let may = app.count("SELECT id FROM contacts WHERE first_name = 'May'");
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;
    d.goto(&format!("{}/contacts", app.base)).await;
    d.click(&d.link("Duplicates").await).await;
    d.wait_for_text("1 group of likely duplicates").await;
    d.wait_for_text("same email, case aside").await;
    for width in [1280, 360] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("duplicates-{width}")).await;
    }
    d.set_window_size(1280, 900).await;
    d.click(&d.link("Review and merge").await).await;
    // Step 1: keep Mei Chan (the older record, chosen already).
    d.wait_for_text("Which contact is kept?").await;
    d.screenshot("merge-step-1").await;
    d.click(&d.button("Next: choose the values").await).await;
    // Step 2: the name from May's record, the company stays Mei's.
    d.wait_for_text("The records differ in these fields").await;
    d.click(&d.find("input[name='pick_name'][id$='-2']").await)
        .await;
    for width in [1280, 360] {
        d.set_window_size(width, 900).await;
        d.screenshot(&format!("merge-step-2-{width}")).await;
    }
    d.set_window_size(1280, 900).await;
    d.click(&d.button("Next: check and merge").await).await;
    d.wait_for_text("May Chan will hold").await;
    d.wait_for_text("1 phone").await;
    d.screenshot("merge-step-3").await;
    d.click(&d.button("Merge contacts").await).await;
    d.wait_for_text("1 record merged into this contact").await;
    let page = d.page_text().await;
    assert!(page.contains("May Chan") && page.contains("Harbour Foods") && page.contains("Buyer"));
    assert!(page.contains("+85291234567"));
    d.screenshot("merged-contact").await;
    // The merged record's address leads here.
    d.goto(&format!("{}/contacts/{may}", app.base)).await;
    d.wait_for_text("which was merged into this contact").await;

    d.click(&d.find(".contact-tabs a[href$='/changes']").await)
        .await;
    d.click(&d.link("Undo merge…").await).await;
    d.wait_for_text("These records come back as separate contacts")
        .await;
    d.click(&d.button("Undo merge").await).await;
    d.wait_for_text("Merge undone: 1 record is back as separate contacts.")
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE deleted_at IS NULL"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE first_name = 'Mei' AND last_name = 'Chan' AND job_title = ''"),
        1,
        "the kept record's own values are back"
    );
    d.quit().await;
}

/// axe-core's source, fetched by `scripts/test` (pinned in it).
fn axe_source() -> String {
    let path = std::env::var("AXE_CORE_JS").unwrap_or_else(|_| {
        format!(
            "{}/target/axe-core-4.10.3/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("axe-core not found at {path} ({e}): run scripts/test, which fetches it, or set AXE_CORE_JS")
    })
}

/// Every page a signed-in administrator reaches, at 1280 and 360 px: no
/// serious or critical accessibility violation (axe-core) and no sideways
/// scrolling. Screenshots of each go to target/screenshots/page-*.png.
#[actix_rt::test]
async fn the_keyboard_reaches_search_suggestions_rows_and_the_edit_form() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (first_name, last_name, company, search_text) VALUES \
               ('Mei', 'Chan', 'Harbour Foods', 'mei chan harbour foods'), \
               ('Tom', 'Baker', 'Baker & Sons', 'tom baker baker & sons');",
        )
        .expect("fixtures");
    let mei = app.count("SELECT id FROM contacts WHERE first_name = 'Mei'");
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;
    d.goto(&format!("{}/contacts", app.base)).await;

    // `/` jumps to the search box; the first suggestion is one Enter away.
    d.press("/").await;
    assert_eq!(d.focused().await, "global-q");
    d.type_into(&d.find("#global-q").await, "chan").await;
    let first = d
        .find("#global-suggest-list [role=option][aria-selected=true]")
        .await;
    assert!(d.text(&first).await.contains("Mei Chan"));
    d.screenshot("keyboard-suggestions").await;
    d.press("\u{E007}").await;
    d.wait_for_text("Harbour Foods").await;
    assert!(d.current_url().await.ends_with(&format!("/contacts/{mei}")));

    // `e` edits the contact on screen; `?` lists the shortcuts.
    d.press("e").await;
    d.wait_for_text("Edit Mei Chan").await;
    d.press("?").await;
    let dialog = d.find("#shortcuts[open]").await;
    assert!(d.text(&dialog).await.contains("New contact"));
    d.screenshot("keyboard-help").await;
    d.press("\u{E00C}").await; // Escape closes it.

    // `j` moves down the list and Enter opens the row.
    d.goto(&format!("{}/contacts", app.base)).await;
    d.press("j").await;
    d.press("j").await;
    d.press("k").await;
    d.press("\u{E007}").await;
    d.wait_for_text("Harbour Foods").await;
    assert!(
        d.current_url().await.ends_with(&format!("/contacts/{mei}")),
        "Mei Chan is the first row by name"
    );
    d.quit().await;
}

#[actix_rt::test]
async fn every_page_passes_axe_and_fits_at_1280_and_360_px() {
    use diesel::connection::SimpleConnection;
    let axe = axe_source();
    let app = spawn_app().await;
    let (admin, b) = app.signed_in_admin().await;
    let agent = app.add_staff(
        "Bea Buyer",
        "bea@example.com",
        contactbook::domain::staff::Role::Agent,
    );
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO labels (name) VALUES ('VIP'); \
             INSERT INTO custom_fields (label, kind) VALUES ('Account', 'text'); \
             INSERT INTO contacts (first_name, last_name, company, job_title, city, owner_id) VALUES \
               ('Mei', 'Chan', 'Harbour Foods', 'Buyer', 'Hong Kong', {admin}), \
               ('May', 'Chan', '', '', 'Hong Kong', {agent}), \
               ('Tom', 'Baker', 'Baker & Sons', 'Owner', 'London', {admin}), \
               ('Old', 'Record', '', '', '', {admin}); \
             INSERT INTO contact_emails (contact_id, kind, email) SELECT id, 'work', \
               CASE WHEN first_name = 'May' THEN 'MEI@harbour.example' ELSE lower(first_name) || '@harbour.example' END FROM contacts; \
             INSERT INTO contact_phones (contact_id, kind, number) SELECT id, 'mobile', '+8529' || lpad(id::text, 7, '0') FROM contacts; \
             INSERT INTO contact_labels SELECT c.id, l.id FROM contacts c, labels l WHERE c.first_name = 'Mei'; \
             INSERT INTO notes (contact_id, author_id, body) SELECT id, {admin}, 'Called about the order.' FROM contacts WHERE first_name = 'Mei'; \
             UPDATE contacts SET deleted_at = now() WHERE first_name = 'Old'; \
             UPDATE contacts SET search_text = lower(first_name || ' ' || last_name || ' ' || company);"
        ))
        .expect("fixtures");
    contactbook::models::duplicates::tick(&mut app.conn()).expect("pass");
    let mei = app.count("SELECT id FROM contacts WHERE first_name = 'Mei'");
    let may = app.count("SELECT id FROM contacts WHERE first_name = 'May'");
    let tom = app.count("SELECT id FROM contacts WHERE first_name = 'Tom'");
    // A merge to undo, and an enquiry.
    {
        let mut conn = app.conn();
        let version = |conn: &mut diesel::PgConnection, id: i64| -> i32 {
            use contactbook::schema::contacts;
            use diesel::prelude::*;
            contacts::table
                .find(id)
                .select(contacts::version)
                .first(conn)
                .expect("version")
        };
        let other = app.count("SELECT id FROM contacts WHERE first_name = 'Old'");
        conn.batch_execute(&format!(
            "UPDATE contacts SET deleted_at = NULL WHERE id = {other}"
        ))
        .expect("restore");
        let req = contactbook::models::merge::Request {
            ids: vec![tom, other],
            kept: tom,
            versions: [
                (tom, version(&mut conn, tom)),
                (other, version(&mut conn, other)),
            ]
            .into_iter()
            .collect(),
            picks: Default::default(),
            actor: Some(admin),
        };
        use diesel::Connection;
        conn.transaction(|c| contactbook::models::merge::merge(c, &req))
            .expect("merge");
    }
    let support = b.get("/support").await;
    let sent = b
        .post(
            "/support",
            &support.csrf(),
            &[
                ("first_name", "Vera"),
                ("last_name", "Visitor"),
                ("email", "vera@visitor.example"),
                ("message", "Where is my order?"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let enquiry = app.count("SELECT max(id) FROM enquiries");
    let merge_id = app.count("SELECT max(id) FROM merges");
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO contacts (first_name, last_name, deleted_at, owner_id) VALUES ('Trashed', 'Person', now(), {admin});"
        ))
        .expect("trash");
    let trashed = app.count("SELECT id FROM contacts WHERE first_name = 'Trashed'");
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO bulk_jobs (staff_id, action, value, what, view_query, status, total, walked, changed, started_at, finished_at) \
             VALUES ({admin}, 'level', 'primary', 'Set the level to Primary', 'q=chan', 'done', 2, 2, 1, now(), now());"
        ))
        .expect("bulk job");
    let bulk_job = app.count("SELECT max(id) FROM bulk_jobs");
    let vip = app.count("SELECT id FROM labels WHERE name = 'VIP'");
    let account = app.count("SELECT id FROM custom_fields WHERE label = 'Account'");

    let pages: Vec<String> = [
        "/contacts".to_string(),
        "/contacts?view=mine".into(),
        "/contacts?q=chan".into(),
        "/contacts/new".into(),
        "/contacts/new/full".into(),
        format!("/contacts/{mei}"),
        format!("/contacts/{mei}/activity"),
        format!("/contacts/{mei}/sharing"),
        format!("/contacts/{mei}/changes"),
        format!("/contacts/{mei}/edit"),
        format!("/contacts/{mei}/transfer"),
        format!("/contacts/{mei}/delete"),
        format!("/contacts/{mei}/merge?q=chan"),
        format!("/contacts/{mei}/engagements/new?kind=call"),
        format!("/contacts/merge?id={mei}&id={may}"),
        format!("/contacts/merge?id={mei}&id={may}&keep={mei}&step=2"),
        format!("/contacts/merge?id={mei}&id={may}&keep={mei}&step=3"),
        format!("/merges/{merge_id}/undo"),
        "/duplicates".into(),
        "/contacts/trash".into(),
        "/enquiries".into(),
        format!("/enquiries/{enquiry}"),
        "/imports".into(),
        "/staff".into(),
        format!("/staff/{agent}"),
        "/me/profile".into(),
        "/admin".into(),
        "/admin/staff".into(),
        "/admin/labels".into(),
        "/admin/custom-fields".into(),
        "/admin/settings".into(),
        "/admin/journey".into(),
        "/admin/merges".into(),
        "/bulk-changes".into(),
        format!("/bulk-changes/{bulk_job}"),
        "/support".into(),
        "/search?q=chan".into(),
        format!("/contacts/{trashed}/purge"),
        format!("/admin/labels/{vip}/delete"),
        format!("/admin/custom-fields/{account}/delete"),
        "/contacts/999999999".into(),
    ]
    .into();
    let cookie = b.cookie("contactbook").expect("session");
    let d = Driver::start().await;
    d.goto(&format!("{}/static/favicon.svg", app.base)).await;
    d.add_cookie("contactbook", &cookie).await;
    let mut failures = Vec::new();
    for (scheme, dark) in [("light", false), ("dark", true)] {
        d.prefer_dark(dark).await;
        for width in [1280, 360] {
            d.set_window_size(width, 900).await;
            for page in &pages {
                d.goto(&format!("{}{page}", app.base)).await;
                let title = d.title().await;
                let missing = page.ends_with("999999999");
                assert!(
                    title.starts_with("Page not found") == missing
                        && !title.starts_with("Something went wrong"),
                    "{page}: {title}"
                );
                let at = format!("{page} at {width} px ({scheme})");
                let overflow = d.overflow().await;
                if overflow != 0 {
                    failures.push(format!("{at} scrolls sideways by {overflow} px"));
                }
                let header = d.header_height().await;
                if width == 360 && header > 64.0 {
                    failures.push(format!("{at}: the header is {header} px high"));
                }
                for v in d.axe(&axe).await {
                    failures.push(format!("{at}: {v}"));
                }
                let name: String = page
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                d.screenshot(&format!(
                    "page-{}-{width}{}",
                    name.trim_matches('-'),
                    if dark { "-dark" } else { "" }
                ))
                .await;
            }
            // The header's menus and the search suggestions, open.
            d.goto(&format!("{}/contacts", app.base)).await;
            for menu in [".status-menu summary", ".me-menu summary"] {
                d.click(&d.find(menu).await).await;
                let at = format!("{menu} open at {width} px ({scheme})");
                let overflow = d.overflow().await;
                if overflow != 0 {
                    failures.push(format!("{at} scrolls sideways by {overflow} px"));
                }
                for v in d.axe(&axe).await {
                    failures.push(format!("{at}: {v}"));
                }
                d.screenshot(&format!(
                    "menu-{}-{width}-{scheme}",
                    menu.trim_start_matches('.')
                        .split(' ')
                        .next()
                        .unwrap_or("menu")
                ))
                .await;
                d.click(&d.find(menu).await).await;
            }
            d.type_into(&d.find("#global-q").await, "chan").await;
            d.find("#global-suggest-list [role=option]").await;
            let overflow = d.overflow().await;
            if overflow != 0 {
                failures.push(format!(
                    "suggestions at {width} px ({scheme}) scroll sideways by {overflow} px"
                ));
            }
            for v in d.axe(&axe).await {
                failures.push(format!("suggestions at {width} px ({scheme}): {v}"));
            }
            d.screenshot(&format!("suggest-{width}-{scheme}")).await;
        }
    }
    d.prefer_dark(false).await;
    d.quit().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
