//! Who sees which contacts, in both visibility modes: an access matrix over
//! every contact route, export and bulk path, the duplicate warning and the
//! update import, asserting the status and that no hidden name leaks.

mod common;

use common::{Browser, Page, TestApp, spawn_app};
use contactbook::domain::staff::Role;

/// Names no page or file may show to an agent who may not see them.
const HIDDEN: &str = "Nora Neither";

struct World {
    app: TestApp,
    admin: Browser,
    /// Owns Alpha; Sierra is shared with them; Nora is neither.
    agent: Browser,
    other: Browser,
    alpha: i64,
    sierra: i64,
    nora: i64,
    nora_note: i64,
}

async fn contact(b: &Browser, first: &str, last: &str, email: &str) -> i64 {
    let res = b
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("first_name", first),
                ("last_name", last),
                ("email-0-kind", "work"),
                ("email-0-email", email),
                ("company", "Shared Co"),
                ("confirm_duplicates", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
        .and_then(|l| l.trim_start_matches("/contacts/").parse().ok())
        .expect("id")
}

async fn world() -> World {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in_admin().await;
    let agent_id = app.add_staff("Arthur Agent", "arthur@example.com", Role::Agent);
    app.add_staff("Olga Other", "olga@example.com", Role::Agent);
    let agent = app.browser();
    agent.sign_in("arthur@example.com", common::PASSWORD).await;
    let other = app.browser();
    other.sign_in("olga@example.com", common::PASSWORD).await;
    let alpha = contact(&agent, "Alpha", "Owned", "alpha@example.com").await;
    let sierra = contact(&other, "Sierra", "Shared", "sierra@example.com").await;
    let nora = contact(&other, "Nora", "Neither", "nora@example.com").await;
    let page = other.get(&format!("/contacts/{sierra}/sharing")).await;
    let res = other
        .post(
            &format!("/contacts/{sierra}/shares"),
            &page.csrf(),
            &[("staff", &agent_id.to_string())],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = other.get(&format!("/contacts/{nora}")).await;
    other
        .post(
            &format!("/contacts/{nora}/notes"),
            &page.csrf(),
            &[("body", "private note")],
        )
        .await;
    let nora_note = app.count("SELECT max(id) FROM notes");
    World {
        app,
        admin,
        agent,
        other,
        alpha,
        sierra,
        nora,
        nora_note,
    }
}

async fn set_visibility(w: &World, value: &str) {
    let page = w.admin.get("/admin/settings").await;
    let res = w
        .admin
        .post("/admin/settings", &page.csrf(), &[("visibility", value)])
        .await;
    assert_eq!(res.status, 303);
}

fn names(p: &Page) -> Vec<String> {
    p.texts(".contact-name")
}

fn no_leak(what: &str, body: &str) {
    assert!(!body.contains(HIDDEN), "{what} shows the hidden contact");
    assert!(!body.contains("nora@example.com"), "{what} shows its email");
}

#[actix_rt::test]
async fn restricted_agents_see_only_what_they_own_or_were_shared_everywhere() {
    let w = world().await;
    let (agent, nora) = (&w.agent, w.nora);

    // Everyone (the default): the agent sees all three, on every route.
    let list = agent.get("/contacts?q=shared+co").await;
    assert_eq!(list.texts(".contact-name").len(), 3);
    for tab in [
        "",
        "/activity",
        "/sharing",
        "/changes",
        "/edit",
        "/delete",
        "/transfer",
    ] {
        assert_eq!(
            agent.get(&format!("/contacts/{nora}{tab}")).await.status,
            200,
            "everyone mode, GET {tab}"
        );
    }
    let everything = agent.get("/contacts/export.csv").await;
    assert!(
        everything.body.contains("Nora,Neither,"),
        "everyone mode exports it"
    );
    let dup = agent
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("last_name", "New"),
                ("email-0-kind", "work"),
                ("email-0-email", "nora@example.com"),
            ],
        )
        .await;
    assert!(
        dup.text(".flash-warning").contains(HIDDEN),
        "named when visible"
    );

    set_visibility(&w, "restricted").await;
    // Takes effect at once, on the next request.
    let lists = [
        "/contacts",
        "/contacts?q=shared+co",
        "/contacts?q=nora",
        "/contacts?q=nora%40example.com",
        "/contacts?sort=company&dir=desc",
        "/contacts?sort=created",
        "/contacts?sort=updated&dir=desc&per=50",
        "/contacts?type=lead",
        "/contacts?level=primary",
        "/contacts?view=shared",
        "/contacts?view=mine",
    ];
    for path in lists {
        let page = agent.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        // The search box shows back what the agent typed: not a leak.
        no_leak(path, &page.body.replace("value=\"nora@example.com\"", ""));
        for n in names(&page) {
            assert!(
                n == "Alpha Owned" || n == "Sierra Shared",
                "{path} lists {n}"
            );
        }
    }
    let all = agent.get("/contacts").await;
    assert_eq!(all.text(".result-count"), "2 contacts");
    assert_eq!(
        names(&agent.get("/contacts?view=shared").await),
        vec!["Sierra Shared"]
    );
    assert_eq!(
        names(&agent.get("/contacts?view=mine").await),
        vec!["Alpha Owned"]
    );

    // Every page of a hidden contact answers as if it did not exist.
    for tab in [
        "",
        "/activity",
        "/sharing",
        "/changes",
        "/edit",
        "/delete",
        "/transfer",
    ] {
        let page = agent.get(&format!("/contacts/{nora}{tab}")).await;
        assert_eq!(page.status, 404, "GET {tab}");
        no_leak(tab, &page.body);
    }
    assert_eq!(
        agent
            .get(&format!("/contacts/{nora}/notes/{}/edit", w.nora_note))
            .await
            .status,
        404
    );
    let token = agent.get("/contacts").await.csrf();
    for (path, fields) in [
        (
            format!("/contacts/{nora}/edit"),
            vec![("last_name", "Hacked"), ("version", "1")],
        ),
        (format!("/contacts/{nora}/delete"), vec![]),
        (format!("/contacts/{nora}/notes"), vec![("body", "sneaky")]),
        (format!("/contacts/{nora}/shares"), vec![("staff", "1")]),
        (format!("/contacts/{nora}/transfer"), vec![("owner", "1")]),
        (
            format!("/contacts/{nora}/notes/{}/delete", w.nora_note),
            vec![],
        ),
    ] {
        let res = agent.post(&path, &token, &fields).await;
        assert_eq!(res.status, 404, "POST {path}");
    }
    assert_eq!(
        w.app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {nora} AND last_name = 'Neither' AND deleted_at IS NULL"
        )),
        1
    );
    assert_eq!(w.app.count("SELECT count(*) FROM notes"), 1);
    assert_eq!(w.app.count("SELECT count(*) FROM contact_shares"), 1);

    // Exports: everything, a view, ticked ids including the hidden one.
    for path in ["/contacts/export.csv", "/contacts/export.csv?q=shared+co"] {
        let file = agent.get(path).await;
        assert_eq!(file.status, 200);
        no_leak(path, &file.body);
        assert!(!file.body.contains("Nora,Neither"), "{path}");
        assert_eq!(
            file.body.trim_end().lines().count(),
            3,
            "{path}: header + 2"
        );
    }
    let ticked = agent
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("id", &nora.to_string()),
                ("id", &w.alpha.to_string()),
                ("action", "export"),
            ],
        )
        .await;
    no_leak("ticked export", &ticked.body);
    assert!(ticked.body.contains("Alpha"));

    // Bulk edits never touch it: ticked, or all that match.
    agent
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("id", &nora.to_string()),
                ("action", "type"),
                ("contact_type", "customer"),
            ],
        )
        .await;
    let confirm = agent
        .post(
            "/contacts/bulk",
            &token,
            &[("all", "1"), ("q", "shared co"), ("action", "delete")],
        )
        .await;
    assert_eq!(confirm.text("h1"), "Move 2 contacts to the trash?");
    agent
        .post(
            "/contacts/bulk",
            &token,
            &[
                ("all", "1"),
                ("q", "shared co"),
                ("action", "level"),
                ("level", "tertiary"),
            ],
        )
        .await;
    assert_eq!(
        w.app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {nora} AND contact_type = 'lead' AND level = 'primary'"
        )),
        1,
        "the hidden contact is untouched"
    );
    assert_eq!(
        w.app
            .count("SELECT count(*) FROM contacts WHERE level = 'tertiary'"),
        2
    );

    // The duplicate warning says that someone has it, not who.
    let dup = agent
        .submit(
            "/contacts/new/full",
            "/contacts/new",
            &[
                ("layout", "full"),
                ("last_name", "New"),
                ("email-0-kind", "work"),
                ("email-0-email", "nora@example.com"),
            ],
        )
        .await;
    assert_eq!(dup.status, 409);
    assert!(
        dup.text(".flash-warning")
            .contains("A contact you cannot see already uses")
    );
    // The email is the one the agent typed; the name is what must not show.
    assert!(!dup.body.contains(HIDDEN));
    assert!(!dup.body.contains(&format!("/contacts/{nora}\"")));

    // An update import reports the row and neither updates nor reveals.
    let file = format!(
        "First Name,Last Name,Email,ContactBook ID\n\
         Changed,Person,nora@example.com,\n\
         By,Id,,{nora}\n\
         Alpha,Owned,alpha@example.com,\n"
    );
    let up = agent.get("/imports").await.csrf();
    let res = agent
        .upload_with(
            &format!("/imports?csrf_token={up}"),
            &[("mode", "update")],
            ("file", "nora.csv", "text/csv", file.as_bytes()),
        )
        .await;
    let id: i64 = res
        .location()
        .and_then(|l| l.trim_start_matches("/imports/").parse().ok())
        .expect("import id");
    let preview = agent.get(&format!("/imports/{id}")).await;
    // The file's own values come back in the preview; the contact's name
    // and id must not.
    assert!(!preview.body.contains(HIDDEN));
    assert!(!preview.body.contains(&format!("/contacts/{nora}\"")));
    let errors = preview.texts(".error-rows li");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("belongs to a contact you cannot see"),
        "{errors:?}"
    );
    agent
        .post(
            &format!("/imports/{id}/start"),
            &preview.csrf(),
            &[("mode", "update")],
        )
        .await;
    for _ in 0..100 {
        if w.app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND status = 'done'"
        )) == 1
        {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        w.app.count(&format!(
            "SELECT count(*) FROM imports WHERE id = {id} AND failed = 2 AND unchanged = 1 AND imported = 0"
        )),
        1
    );
    let log = agent.get(&format!("/imports/{id}/errors.csv")).await;
    assert!(!log.body.contains(HIDDEN), "error log");
    assert_eq!(
        w.app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {nora} AND first_name = 'Nora'"
        )),
        1
    );

    // The administrator and the owner still see it all.
    assert_eq!(w.admin.get(&format!("/contacts/{nora}")).await.status, 200);
    assert_eq!(w.other.get(&format!("/contacts/{nora}")).await.status, 200);
    assert_eq!(
        w.admin.get("/contacts").await.text(".result-count"),
        "3 contacts"
    );

    // Back to Everyone: visible again at once.
    set_visibility(&w, "everyone").await;
    assert_eq!(agent.get(&format!("/contacts/{nora}")).await.status, 200);
    assert_eq!(
        w.agent.get(&format!("/contacts/{}", w.sierra)).await.status,
        200
    );
}

#[actix_rt::test]
async fn only_administrators_change_the_visibility_setting() {
    let w = world().await;
    let page = w.agent.get("/admin/settings").await;
    assert_eq!(page.status, 403);
    let token = w.agent.get("/contacts").await.csrf();
    let res = w
        .agent
        .post("/admin/settings", &token, &[("visibility", "restricted")])
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(
        w.app
            .count("SELECT count(*) FROM settings WHERE contact_visibility = 'everyone'"),
        1
    );
    let page = w.admin.get("/admin/settings").await;
    let res = w
        .admin
        .post(
            "/admin/settings",
            &page.csrf(),
            &[("visibility", "nonsense")],
        )
        .await;
    assert_eq!(res.status, 400);
}
