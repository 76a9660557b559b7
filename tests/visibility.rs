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

/// The names of every page of `path`, following the Next links; checks on
/// the way that each Previous link leads back to the page before.
async fn walk_pages(b: &Browser, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut page = b.get(path).await;
    loop {
        let here = names(&page);
        if let Some(prev) = page.attr("a[rel=prev]", "href") {
            let back = names(&b.get(&prev).await);
            assert_eq!(
                Some(&back),
                pages.last(),
                "Previous from page {} of {path}",
                pages.len() + 1
            );
        }
        out.extend(here.iter().cloned());
        pages.push(here);
        match page.attr("a[rel=next]", "href") {
            Some(next) => page = b.get(&next).await,
            None => return out,
        }
        assert!(pages.len() < 50, "{path} pages without end");
    }
}

/// The world with Restricted visibility, and the ids of the agent (Arthur)
/// and of the colleague (Olga).
async fn restricted_world() -> (World, i64, i64) {
    let w = world().await;
    set_visibility(&w, "restricted").await;
    let agent = w
        .app
        .count("SELECT id FROM staff WHERE email = 'arthur@example.com'");
    let other = w
        .app
        .count("SELECT id FROM staff WHERE email = 'olga@example.com'");
    (w, agent, other)
}

/// A Restricted agent's list is read from their own contacts and their
/// shares, two sets merged page by page: every sort, direction, view and
/// filter must still give exactly the contacts they may see, in order, with
/// an exact count however large the table.
#[actix_rt::test]
async fn a_restricted_agents_pages_hold_exactly_their_contacts_in_every_order() {
    let (w, agent, other) = restricted_world().await;
    // 12,000 contacts of a colleague make the table large enough for the
    // whole list's count to be an estimate; the agent gets 60 of their own
    // and 40 shared, their names interleaved with the colleague's, some in
    // the trash, one both owned and shared.
    let sql = format!(
        "INSERT INTO contacts (first_name, last_name, company, contact_type, owner_id, created_at, updated_at) \
         SELECT 'Gen' || i, 'Person' || (i % 97), 'Common Co', 'lead', {other}, \
                now() - i * interval '1 minute', now() - (i % 13) * interval '1 hour' \
         FROM generate_series(1, 12000) i; \
         INSERT INTO contacts (first_name, last_name, company, contact_type, owner_id, created_at, updated_at) \
         SELECT 'Gen' || (i * 7), 'Mine' || i, CASE WHEN i % 3 = 0 THEN 'Zebra Common Ltd' ELSE 'Common Co' END, \
                CASE WHEN i % 2 = 0 THEN 'customer' ELSE 'lead' END, {agent}, \
                now() - i * interval '3 minute', now() - (i % 5) * interval '1 hour' \
         FROM generate_series(1, 62) i; \
         INSERT INTO contacts (first_name, last_name, company, contact_type, owner_id, created_at, updated_at) \
         SELECT 'Gen' || (i * 11), 'Lent' || i, CASE WHEN i % 4 = 0 THEN 'Zebra Common Ltd' ELSE '' END, \
                'prospect', {other}, now() - i * interval '5 minute', now() - (i % 7) * interval '1 hour' \
         FROM generate_series(1, 41) i; \
         UPDATE contacts SET search_text = lower(concat_ws(' ', first_name, last_name, company)) WHERE search_text = ''; \
         INSERT INTO contact_shares (contact_id, staff_id, shared_by) \
         SELECT id, {agent}, {other} FROM contacts WHERE last_name LIKE 'Lent%'; \
         INSERT INTO contact_shares (contact_id, staff_id, shared_by) \
         SELECT id, {agent}, {other} FROM contacts WHERE last_name = 'Mine1'; \
         UPDATE contacts SET deleted_at = now() WHERE last_name IN ('Mine2', 'Mine3', 'Lent41'); \
         ANALYZE contacts; ANALYZE contact_shares;"
    );
    diesel::connection::SimpleConnection::batch_execute(&mut w.app.conn(), &sql).expect("seed");
    let visible = "c.deleted_at IS NULL AND (c.owner_id = {agent} OR c.id IN \
                   (SELECT contact_id FROM contact_shares WHERE staff_id = {agent}))"
        .replace("{agent}", &agent.to_string());
    assert_eq!(
        w.app
            .count(&format!("SELECT count(*) FROM contacts c WHERE {visible}")),
        102,
        "Alpha, Sierra, 60 live owned and 40 live shared"
    );
    let all = w.agent.get("/contacts").await;
    assert_eq!(
        all.text(".result-count"),
        "102 contacts",
        "counted, never estimated"
    );
    assert!(
        w.admin
            .get("/contacts")
            .await
            .text(".result-count")
            .starts_with("About")
    );

    let expected = |cond: &str, order: &str| -> Vec<String> {
        let mut conn = w.app.conn();
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT btrim(first_name || ' ' || last_name) AS name FROM contacts c \
             WHERE {visible} AND {cond} ORDER BY {order}"
        ))
        .load::<Name>(&mut conn)
        .expect("expected names")
        .into_iter()
        .map(|n| n.name)
        .collect()
    };
    for (sort, key) in [
        ("name", "c.sort_name"),
        // Blank companies last, whichever the direction.
        ("company", "c.company = '', lower(c.company)"),
        ("created", "c.created_at"),
        ("updated", "c.updated_at"),
    ] {
        for dir in ["asc", "desc"] {
            let order = format!("{key} {dir}, c.id {dir}");
            assert_eq!(
                walk_pages(&w.agent, &format!("/contacts?sort={sort}&dir={dir}")).await,
                expected("true", &order),
                "sorted by {sort} {dir}"
            );
        }
    }
    let by_name = "c.sort_name, c.id";
    let owner_query = format!("owner={other}");
    for (query, cond) in [
        ("view=mine", format!("c.owner_id = {agent}")),
        (
            "view=shared",
            format!("c.id IN (SELECT contact_id FROM contact_shares WHERE staff_id = {agent})"),
        ),
        ("type=customer", "c.contact_type = 'customer'".to_string()),
        // In every row of the table: read by walking the agent's sets.
        ("q=common", "c.search_text LIKE '%common%'".to_string()),
        // In none of the colleague's rows: found by the trigram index, each
        // found row checked.
        ("q=zebra", "c.search_text LIKE '%zebra%'".to_string()),
        (
            "q=zebra&type=prospect",
            "c.search_text LIKE '%zebra%' AND c.contact_type = 'prospect'".to_string(),
        ),
        (owner_query.as_str(), format!("c.owner_id = {other}")),
    ] {
        let want = expected(&cond, by_name);
        assert!(!want.is_empty(), "{query} matches something");
        assert_eq!(
            walk_pages(&w.agent, &format!("/contacts?{query}")).await,
            want,
            "{query}"
        );
        let count = w
            .agent
            .get(&format!("/contacts?{query}"))
            .await
            .text(".result-count");
        assert_eq!(count, format!("{} contacts", want.len()), "{query}");
    }
    // A shared contact renamed, by any writer, moves in the agent's list.
    diesel::connection::SimpleConnection::batch_execute(
        &mut w.app.conn(),
        "UPDATE contacts SET first_name = 'Aaron' WHERE last_name = 'Lent5'",
    )
    .expect("rename");
    let first = names(&w.agent.get("/contacts").await);
    assert_eq!(first.first().map(String::as_str), Some("Aaron Lent5"));
    assert_eq!(
        walk_pages(&w.agent, "/contacts").await,
        expected("true", by_name)
    );
    // A rare word is looked up in the words the share carries: a shared
    // contact's new company reaches them, by any writer.
    diesel::connection::SimpleConnection::batch_execute(
        &mut w.app.conn(),
        "UPDATE contacts SET company = 'Quokka Partners', \
         search_text = lower(concat_ws(' ', first_name, last_name, 'Quokka Partners')) \
         WHERE last_name = 'Lent6'",
    )
    .expect("new company");
    assert_eq!(
        names(&w.agent.get("/contacts?q=quokka").await),
        ["Gen66 Lent6"]
    );
    assert_eq!(
        w.agent
            .get("/search?q=quokka")
            .await
            .texts(".person-contact .person-name"),
        ["Gen66 Lent6"]
    );
    assert!(names(&w.agent.get("/contacts?q=zebra+partners").await).is_empty());
}

/// Counting a common word over a Restricted agent's thousands of contacts
/// would read every one of them; the count is then estimated from a sample
/// of the agent's own contacts, and says so.
#[actix_rt::test]
async fn a_large_restricted_search_is_counted_about_from_the_agents_own_contacts() {
    let (w, agent, other) = restricted_world().await;
    // 'walrus' is in a quarter of the agent's 2,400 contacts and in 3,000 of the
    // colleague's 9,000: common enough to be read from the agent's sets.
    let sql = format!(
        "INSERT INTO contacts (first_name, last_name, company, contact_type, owner_id) \
         SELECT 'Gen' || i, 'Other' || i, CASE WHEN i % 3 = 0 THEN 'Walrus Inc' ELSE 'Common Co' END, 'lead', {other} \
         FROM generate_series(1, 9000) i; \
         INSERT INTO contacts (first_name, last_name, company, contact_type, owner_id) \
         SELECT 'Gen' || i, 'Mine' || i, CASE WHEN i % 4 = 0 THEN 'Walrus Inc' ELSE 'Common Co' END, \
                CASE WHEN i % 5 = 0 THEN 'customer' ELSE 'lead' END, {agent} \
         FROM generate_series(1, 2400) i; \
         UPDATE contacts SET search_text = lower(concat_ws(' ', first_name, last_name, company)) WHERE search_text = ''; \
         ANALYZE contacts;"
    );
    diesel::connection::SimpleConnection::batch_execute(&mut w.app.conn(), &sql).expect("seed");
    let truth = w.app.count(&format!(
        "SELECT count(*) FROM contacts WHERE owner_id = {agent} AND company = 'Walrus Inc'"
    ));
    assert_eq!(truth, 600);
    let page = w.agent.get("/contacts?q=walrus").await;
    let count = page.text(".result-count");
    let about: i64 = count
        .strip_prefix("About ")
        .and_then(|c| c.strip_suffix(" contacts"))
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an estimate, not {count:?}"));
    assert!((450..=750).contains(&about), "{count} for 600");
    for name in names(&page) {
        assert!(name.contains("Mine"), "{name} is not the agent's");
    }
    assert_eq!(names(&page).len(), 25);
    // Customers are a fifth of the agent's contacts: estimated too.
    let customers = w
        .agent
        .get("/contacts?type=customer")
        .await
        .text(".result-count");
    assert!(customers.starts_with("About "), "{customers}");
    // Every contact of theirs matches 'gen': more than the count goes to.
    assert_eq!(
        w.agent.get("/contacts?q=gen").await.text(".result-count"),
        "More than 1,000 contacts"
    );
    // The colleague's 3,000 'walrus' contacts are nowhere in the agent's count.
    assert_eq!(
        w.agent
            .get("/contacts?q=walrus&view=shared")
            .await
            .text(".result-count"),
        "0 contacts"
    );
}
