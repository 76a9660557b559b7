//! Merging duplicates: the three-step wizard, nothing lost, the refusal on a
//! stale record, racing merges, the redirects of merged records, undo (an
//! exact round trip, proven on random contacts, and each refusal) and the
//! access rules.

mod common;

use common::{Page, TestApp, spawn_app};
use contactbook::domain::staff::Role;
use contactbook::models::merge::{self, MergeOutcome, Request, UndoOutcome};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use proptest::prelude::*;

/// A contact written straight into the database, as fixtures do.
#[derive(Clone, Debug, Default)]
struct Fixture {
    first: String,
    last: String,
    company: String,
    city: String,
    job: String,
    owner: Option<i64>,
    /// (number, verified)
    phones: Vec<(String, bool)>,
    emails: Vec<(String, bool)>,
    socials: Vec<(String, String)>,
    labels: Vec<i64>,
    custom: Vec<(i64, String)>,
    notes: usize,
    enquiries: usize,
    page_views: usize,
    calls: usize,
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn insert(conn: &mut PgConnection, f: &Fixture) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let id = diesel::sql_query(
        "INSERT INTO contacts (first_name, last_name, company, city, job_title, owner_id) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind::<Text, _>(&f.first)
    .bind::<Text, _>(&f.last)
    .bind::<Text, _>(&f.company)
    .bind::<Text, _>(&f.city)
    .bind::<Text, _>(&f.job)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(f.owner)
    .get_result::<Id>(conn)
    .expect("contact")
    .id;
    let mut sql = String::new();
    for (n, (p, v)) in f.phones.iter().enumerate() {
        sql += &format!(
            "INSERT INTO contact_phones (contact_id, kind, number, position, verified) VALUES ({id}, 'mobile', {}, {n}, {v});",
            q(p)
        );
    }
    for (n, (e, v)) in f.emails.iter().enumerate() {
        sql += &format!(
            "INSERT INTO contact_emails (contact_id, kind, email, position, verified) VALUES ({id}, 'work', {}, {n}, {v});",
            q(e)
        );
    }
    for (n, (k, h)) in f.socials.iter().enumerate() {
        sql += &format!(
            "INSERT INTO contact_socials (contact_id, kind, handle, position) VALUES ({id}, {}, {}, {n});",
            q(k),
            q(h)
        );
    }
    for l in &f.labels {
        sql += &format!("INSERT INTO contact_labels VALUES ({id}, {l});");
    }
    for (field, v) in &f.custom {
        sql += &format!(
            "INSERT INTO custom_field_values VALUES ({id}, {field}, {});",
            q(v)
        );
    }
    let author = "(SELECT min(id) FROM staff)";
    for n in 0..f.notes {
        sql += &format!(
            "INSERT INTO notes (contact_id, author_id, body) VALUES ({id}, {author}, 'Note {n} of {id}');"
        );
    }
    for n in 0..f.enquiries {
        sql += &format!(
            "INSERT INTO enquiries (contact_id, visitor_name, token_hash) VALUES ({id}, 'Visitor', sha256('{id}-{n}'::bytea));"
        );
    }
    for _ in 0..f.calls {
        sql += &format!(
            "INSERT INTO engagements (contact_id, staff_id, kind, number, outcome) VALUES ({id}, {author}, 'call', '+85291234567', 'answered');"
        );
    }
    for n in 0..f.page_views {
        sql += &format!(
            "INSERT INTO page_views (visitor_id, contact_id, origin, url, viewed_at) \
             VALUES ('visitor-{id}-abcdefghij', {id}, 'https://shop.example', 'https://shop.example/{n}', now());"
        );
    }
    sql += &format!(
        "INSERT INTO contact_changes (contact_id, source, action, new_value, version) VALUES ({id}, 'form', 'create', {}, 1);",
        q(&f.last)
    );
    conn.batch_execute(&sql).expect("children");
    contactbook::models::contact::refresh_search_text(conn, id).expect("search text");
    id
}

/// Everything a record is, by value: its fields, lists, labels, custom
/// values and what hangs off it. Ids of child rows, versions and times
/// are left out: undo promises the same values, not the same row ids.
fn state_of(conn: &mut PgConnection, id: i64) -> String {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = Text)]
        s: String,
    }
    diesel::sql_query(
        "SELECT concat_ws(' | ', \
           c.first_name, c.last_name, c.contact_type, c.level, c.company, c.job_title, c.team, \
           c.contact_group, c.birth_date::text, c.language, c.street, c.city, c.state, c.zip_code, \
           c.country, c.owner_id::text, c.deleted_at IS NULL, c.merged_into::text, c.search_text, \
           (SELECT string_agg(kind || ':' || number || ':' || verified, ',' ORDER BY number) FROM contact_phones WHERE contact_id = c.id), \
           (SELECT string_agg(kind || ':' || email || ':' || verified, ',' ORDER BY email) FROM contact_emails WHERE contact_id = c.id), \
           (SELECT string_agg(kind || ':' || handle || ':' || verified, ',' ORDER BY kind, handle) FROM contact_socials WHERE contact_id = c.id), \
           (SELECT string_agg(label_id::text, ',' ORDER BY label_id) FROM contact_labels WHERE contact_id = c.id), \
           (SELECT string_agg(field_id || '=' || value, ',' ORDER BY field_id) FROM custom_field_values WHERE contact_id = c.id), \
           (SELECT string_agg(id::text, ',' ORDER BY id) FROM notes WHERE contact_id = c.id), \
           (SELECT string_agg(id::text, ',' ORDER BY id) FROM enquiries WHERE contact_id = c.id), \
           (SELECT string_agg(id::text, ',' ORDER BY id) FROM page_views WHERE contact_id = c.id), \
           (SELECT string_agg(staff_id::text, ',' ORDER BY staff_id) FROM contact_shares WHERE contact_id = c.id)) AS s \
         FROM contacts c WHERE c.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result::<S>(conn)
    .expect("state")
    .s
}

fn version(conn: &mut PgConnection, id: i64) -> i32 {
    use contactbook::schema::contacts;
    contacts::table
        .find(id)
        .select(contacts::version)
        .first(conn)
        .expect("version")
}

fn request(conn: &mut PgConnection, ids: &[i64], kept: i64, actor: i64) -> Request {
    Request {
        ids: ids.to_vec(),
        kept,
        versions: ids.iter().map(|i| (*i, version(conn, *i))).collect(),
        picks: Default::default(),
        actor: Some(actor),
    }
}

fn hidden_fields(page: &Page) -> Vec<(String, String)> {
    let html = page.html();
    let sel = scraper::Selector::parse("form[action='/contacts/merge'] input[type='hidden']")
        .expect("css");
    html.select(&sel)
        .filter_map(|e| {
            Some((
                e.value().attr("name")?.to_string(),
                e.value().attr("value")?.to_string(),
            ))
        })
        .collect()
}

fn setup_labels(app: &TestApp) -> (i64, i64, i64) {
    app.conn()
        .batch_execute(
            "INSERT INTO labels (name) VALUES ('VIP'), ('Newsletter'); \
             INSERT INTO custom_fields (label, kind) VALUES ('Account no', 'text');",
        )
        .expect("labels");
    let l1 = app.count("SELECT id FROM labels WHERE name = 'VIP'");
    let l2 = app.count("SELECT id FROM labels WHERE name = 'Newsletter'");
    let f = app.count("SELECT id FROM custom_fields");
    (l1, l2, f)
}

#[actix_rt::test]
async fn the_wizard_walks_three_steps_and_the_merge_loses_nothing() {
    let app = spawn_app().await;
    let (admin, b) = app.signed_in_admin().await;
    let (vip, news, account) = setup_labels(&app);
    let mut conn = app.conn();
    let a = insert(
        &mut conn,
        &Fixture {
            first: "Mei".into(),
            last: "Chan".into(),
            company: "Acme".into(),
            owner: Some(admin),
            phones: vec![("+85291234567".into(), false)],
            emails: vec![("mei@acme.example".into(), false)],
            labels: vec![vip],
            custom: vec![(account, "A-1".into())],
            notes: 1,
            ..Default::default()
        },
    );
    let other = app.add_staff("Olga Other", "olga@example.com", Role::Agent);
    let bb = insert(
        &mut conn,
        &Fixture {
            first: "Mei".into(),
            last: "Chen".into(),
            job: "Buyer".into(),
            owner: Some(other),
            phones: vec![("+85291234567".into(), true)],
            emails: vec![
                ("MEI@acme.example".into(), true),
                ("mei.chen@home.example".into(), false),
            ],
            socials: vec![("whatsapp".into(), "+85291234567".into())],
            labels: vec![news],
            custom: vec![(account, "B-2".into())],
            notes: 2,
            enquiries: 3,
            page_views: 4,
            calls: 2,
            ..Default::default()
        },
    );
    drop(conn);

    // Step 1: both records side by side; the older one is kept by default.
    let step1 = b.get(&format!("/contacts/merge?id={a}&id={bb}")).await;
    assert_eq!(step1.status, 200, "{}", step1.body);
    assert!(step1.body.contains("Mei Chan") && step1.body.contains("Mei Chen"));
    assert_eq!(
        step1.attr("input[name='keep'][checked]", "value"),
        Some(a.to_string())
    );
    // Step 2: only the fields that differ, the kept record's value chosen.
    let step2 = b
        .get(&format!(
            "/contacts/merge?id={a}&id={bb}&keep={a}&step=2&v_{a}=1&v_{bb}=1"
        ))
        .await;
    assert_eq!(step2.status, 200);
    let legends = step2.texts("legend");
    assert!(legends.contains(&"Name".to_string()), "{legends:?}");
    assert!(legends.contains(&"Job title".to_string()));
    assert!(legends.contains(&"Account no".to_string()));
    assert!(
        !legends.contains(&"City".to_string()),
        "the same everywhere"
    );
    assert_eq!(
        step2.attr("input[name='pick_name'][checked]", "value"),
        Some(a.to_string())
    );
    assert_eq!(
        step2.attr("input[name='pick_job_title'][checked]", "value"),
        Some(bb.to_string()),
        "the kept record has none: the first that has one"
    );
    // Step 3: the other's name and account number chosen; the summary counts.
    let step3 = b
        .get(&format!(
            "/contacts/merge?id={a}&id={bb}&keep={a}&step=3&v_{a}=1&v_{bb}=1&pick_name={bb}&pick_custom_{account}={bb}"
        ))
        .await;
    assert_eq!(step3.status, 200);
    let summary = step3.text("section.card");
    for words in [
        "1 email",
        "1 social ID",
        "1 label",
        "2 notes",
        "3 enquiries",
        "4 page views",
        "2 calls and SMS",
        "Mei Chen",
    ] {
        assert!(summary.contains(words), "{words} in {summary}");
    }
    let mut form: Vec<(String, String)> = hidden_fields(&step3);
    assert!(
        form.iter()
            .any(|(k, v)| k == "pick_name" && *v == bb.to_string())
    );
    let token = step3.csrf();
    form.retain(|(k, _)| k != "csrf_token");
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = b.post("/contacts/merge", &token, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), Some(format!("/contacts/{a}")));

    // Everything is on the kept contact; nothing was lost.
    let one = |sql: String| app.count(&sql);
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_phones WHERE contact_id = {a}"
        )),
        1
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_phones WHERE contact_id = {a} AND verified"
        )),
        1,
        "verified wins"
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {a}"
        )),
        2
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_socials WHERE contact_id = {a}"
        )),
        1
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_labels WHERE contact_id = {a}"
        )),
        2
    );
    assert_eq!(
        one(format!("SELECT count(*) FROM notes WHERE contact_id = {a}")),
        3
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM enquiries WHERE contact_id = {a}"
        )),
        3
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM page_views WHERE contact_id = {a}"
        )),
        4
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM engagements WHERE contact_id = {a}"
        )),
        2
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contacts WHERE id = {a} AND last_name = 'Chen' AND job_title = 'Buyer' AND owner_id = {admin}"
        )),
        1
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM custom_field_values WHERE contact_id = {a} AND value = 'B-2'"
        )),
        1
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_shares WHERE contact_id = {a} AND staff_id = {other}"
        )),
        1,
        "the other record's owner keeps seeing the person"
    );
    // The merged record keeps its own values, marked merged.
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contacts WHERE id = {bb} AND merged_into = {a} AND deleted_at IS NOT NULL"
        )),
        1
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {bb}"
        )),
        2
    );

    // The profile says so; the merged record leaves lists, search and trash.
    let profile = b.get(&format!("/contacts/{a}")).await;
    assert!(
        profile.body.contains("1 record merged into this contact"),
        "{}",
        profile.body
    );
    let list = b.get("/contacts?q=mei").await;
    assert!(list.body.contains(&format!("/contacts/{a}\"")));
    assert!(!list.body.contains(&format!("/contacts/{bb}\"")));
    let trash = b.get("/contacts/trash").await;
    assert!(
        !trash.body.contains("Mei"),
        "a merged record is not in the trash"
    );
    // Its links lead to the kept contact, with a notice.
    let old = b.get(&format!("/contacts/{bb}/activity")).await;
    assert_eq!(old.status, 303);
    let to = old.location().expect("redirect");
    assert_eq!(to, format!("/contacts/{a}?merged={bb}"));
    let landed = b.get(&to).await;
    assert!(landed.text(".flash-warning").contains("Mei Chen"));
    let edit = b.get(&format!("/contacts/{bb}/edit")).await;
    assert_eq!(edit.location(), Some(format!("/contacts/{a}?merged={bb}")));
    // Its own history stays readable, and the kept one's log names it.
    let history = b.get(&format!("/contacts/{bb}/changes")).await;
    assert_eq!(history.status, 200);
    assert!(history.text(".flash-warning").contains("merged into"));
    let log = b.get(&format!("/contacts/{a}/changes")).await;
    assert!(log.exists(&format!("a[href='/contacts/{bb}/changes']")));
    assert!(log.body.contains("Undo merge"));
    assert!(
        log.body.contains("Last name"),
        "the chosen values are logged"
    );
}

#[actix_rt::test]
async fn a_record_changed_after_the_wizard_opened_refuses_the_merge_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, b) = app.signed_in_admin().await;
    let mut conn = app.conn();
    let a = insert(
        &mut conn,
        &Fixture {
            first: "Ann".into(),
            last: "Lee".into(),
            ..Default::default()
        },
    );
    let c = insert(
        &mut conn,
        &Fixture {
            first: "Anne".into(),
            last: "Lee".into(),
            notes: 1,
            ..Default::default()
        },
    );
    drop(conn);
    let step3 = b
        .get(&format!(
            "/contacts/merge?id={a}&id={c}&keep={a}&step=3&v_{a}=1&v_{c}=1"
        ))
        .await;
    // A colleague edits the other record meanwhile.
    app.conn()
        .batch_execute(&format!(
            "UPDATE contacts SET company = 'Globex', version = 2 WHERE id = {c}; \
             INSERT INTO contact_changes (contact_id, source, action, field, old_value, new_value, version) \
             VALUES ({c}, 'form', 'update', 'Company', '', 'Globex', 2);"
        ))
        .expect("edit");
    let mut form = hidden_fields(&step3);
    form.retain(|(k, _)| k != "csrf_token");
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = b.post("/contacts/merge", &step3.csrf(), &fields).await;
    assert_eq!(res.status, 200);
    let why = res.text("#error-summary");
    assert!(
        why.contains("Anne Lee was changed after you began this merge: Company"),
        "{why}"
    );
    assert_eq!(app.count("SELECT count(*) FROM merges"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE merged_into IS NOT NULL"),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM notes WHERE contact_id = {c}"
        )),
        1
    );
}

#[actix_rt::test]
async fn two_merges_racing_over_the_same_record_one_wins_and_no_row_is_orphaned() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in_admin().await;
    for round in 0..5 {
        let mut conn = app.conn();
        let mk = |conn: &mut PgConnection, n: &str| {
            insert(
                conn,
                &Fixture {
                    first: n.into(),
                    last: format!("Race{round}"),
                    emails: vec![(format!("{n}{round}@race.example"), false)],
                    notes: 2,
                    page_views: 3,
                    ..Default::default()
                },
            )
        };
        let (a, m, c) = (mk(&mut conn, "a"), mk(&mut conn, "m"), mk(&mut conn, "c"));
        let r1 = request(&mut conn, &[a, m], a, admin);
        let r2 = request(&mut conn, &[m, c], c, admin);
        drop(conn);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let run = |r: Request| {
            let pool_conn = app.conn();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut conn = pool_conn;
                barrier.wait();
                conn.transaction(|conn| merge::merge(conn, &r))
                    .expect("merge")
            })
        };
        let (t1, t2) = (run(r1), run(r2));
        let outcomes = [t1.join().expect("thread"), t2.join().expect("thread")];
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, MergeOutcome::Merged { .. }))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one merge wins");
        // Every note and page view belongs to a live contact.
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM notes n JOIN contacts c ON c.id = n.contact_id \
                 WHERE c.deleted_at IS NOT NULL AND c.id IN ({a}, {m}, {c})"
            )),
            0
        );
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM page_views p JOIN contacts c ON c.id = p.contact_id \
                 WHERE c.deleted_at IS NULL AND c.id IN ({a}, {m}, {c})"
            )),
            9
        );
    }
}

#[actix_rt::test]
async fn undo_gives_back_the_records_keeps_later_edits_and_refuses_when_it_cannot_be_exact() {
    let app = spawn_app().await;
    let (admin, b) = app.signed_in_admin().await;
    let (vip, _, _) = setup_labels(&app);
    let mut conn = app.conn();
    let a = insert(
        &mut conn,
        &Fixture {
            first: "Raj".into(),
            last: "Patel".into(),
            emails: vec![("raj@patel.example".into(), false)],
            notes: 1,
            ..Default::default()
        },
    );
    let c = insert(
        &mut conn,
        &Fixture {
            first: "Rajesh".into(),
            last: "Patel".into(),
            company: "Initech".into(),
            phones: vec![("+442071234567".into(), false)],
            emails: vec![("rajesh@initech.example".into(), false)],
            labels: vec![vip],
            notes: 2,
            enquiries: 1,
            page_views: 2,
            ..Default::default()
        },
    );
    let before_a = state_of(&mut conn, a);
    let before_c = state_of(&mut conn, c);
    let mut r = request(&mut conn, &[a, c], a, admin);
    r.picks.insert("name".into(), c);
    let MergeOutcome::Merged { merge_id } = conn
        .transaction(|conn| merge::merge(conn, &r))
        .expect("merge")
    else {
        panic!("refused");
    };
    // Later: a note on the kept contact and an edit of a field the merge
    // did not set, both of which stay after undo.
    conn.batch_execute(&format!(
        "INSERT INTO notes (contact_id, author_id, body) VALUES ({a}, {admin}, 'After the merge'); \
         UPDATE contacts SET job_title = 'CTO', version = version + 1 WHERE id = {a};"
    ))
    .expect("later");
    drop(conn);

    let confirm = b.get(&format!("/merges/{merge_id}/undo")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Rajesh Patel"));
    let res = b
        .post(&format!("/merges/{merge_id}/undo"), &confirm.csrf(), &[])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    let mut conn = app.conn();
    assert_eq!(
        state_of(&mut conn, c),
        before_c,
        "the merged record is back as it was"
    );
    let after_a = state_of(&mut conn, a);
    let note = app.count("SELECT id FROM notes WHERE body = 'After the merge'");
    assert!(after_a.contains("CTO"), "{after_a}");
    assert!(after_a.contains(&note.to_string()), "the later note stays");
    assert!(
        after_a.starts_with("Raj | Patel"),
        "{after_a} (was {before_a})"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM contact_emails WHERE contact_id = {a}"
        )),
        1
    );
    assert!(
        b.get(&format!("/contacts/{a}/changes"))
            .await
            .body
            .contains("undid the merge")
    );
    // Undone once: not again.
    let again = b.get(&format!("/merges/{merge_id}/undo")).await;
    assert!(again.text("#error-summary").contains("already been undone"));

    // Refused: a third contact now has the merged record's email.
    let mut r = request(&mut conn, &[a, c], a, admin);
    r.picks.clear();
    let MergeOutcome::Merged { merge_id } = conn
        .transaction(|conn| merge::merge(conn, &r))
        .expect("merge")
    else {
        panic!("refused");
    };
    let third = insert(
        &mut conn,
        &Fixture {
            first: "R.".into(),
            last: "Patel".into(),
            emails: vec![("RAJESH@initech.example".into(), false)],
            ..Default::default()
        },
    );
    let page = b.get(&format!("/merges/{merge_id}/undo")).await;
    let why = page.text("#error-summary");
    assert!(
        why.contains("rajesh@initech.example now belongs to R. Patel"),
        "{why}"
    );
    let refused = conn
        .transaction(|conn| merge::undo(conn, merge_id, Some(admin)))
        .expect("undo");
    assert!(matches!(refused, UndoOutcome::Refused(_)));
    // Refused: a later merge built on this one.
    conn.batch_execute(&format!(
        "DELETE FROM contact_emails WHERE contact_id = {third}"
    ))
    .expect("clear");
    let r = request(&mut conn, &[a, third], a, admin);
    assert!(matches!(
        conn.transaction(|conn| merge::merge(conn, &r))
            .expect("merge"),
        MergeOutcome::Merged { .. }
    ));
    let page = b.get(&format!("/merges/{merge_id}/undo")).await;
    assert!(page.text("#error-summary").contains("later merge"));
    assert!(!page.exists("form[action$='/undo']"));
}

#[actix_rt::test]
async fn agents_merge_only_contacts_they_may_see_under_restricted_visibility() {
    let app = spawn_app().await;
    let (agent, b) = app.signed_in_agent().await;
    let mut conn = app.conn();
    conn.batch_execute("UPDATE settings SET contact_visibility = 'restricted'")
        .expect("restricted");
    let mine = insert(
        &mut conn,
        &Fixture {
            first: "Kim".into(),
            last: "Ng".into(),
            owner: Some(agent),
            ..Default::default()
        },
    );
    let mine2 = insert(
        &mut conn,
        &Fixture {
            first: "Kim".into(),
            last: "Ng".into(),
            owner: Some(agent),
            ..Default::default()
        },
    );
    let hidden = insert(
        &mut conn,
        &Fixture {
            first: "Kim".into(),
            last: "Ng".into(),
            ..Default::default()
        },
    );
    drop(conn);
    let page = b
        .get(&format!("/contacts/merge?id={mine}&id={hidden}"))
        .await;
    assert_eq!(page.status, 404);
    let page = b
        .get(&format!(
            "/contacts/merge?id={mine}&id={mine2}&step=3&keep={mine}"
        ))
        .await;
    assert_eq!(page.status, 200);
    let forged = b
        .post(
            "/contacts/merge",
            &page.csrf(),
            &[
                ("id", &mine.to_string()),
                ("id", &hidden.to_string()),
                ("keep", &mine.to_string()),
                (&format!("v_{mine}"), "1"),
                (&format!("v_{hidden}"), "1"),
            ],
        )
        .await;
    assert_eq!(forged.status, 404);
    assert_eq!(app.count("SELECT count(*) FROM merges"), 0);
    // The picker offers only what they see.
    let pick = b.get(&format!("/contacts/{mine}/merge?q=kim")).await;
    assert!(pick.exists(&format!("input[value='{mine2}']")));
    assert!(!pick.exists(&format!("input[value='{hidden}']")));
    // From the list: tick two, Merge.
    let list = b.get("/contacts").await;
    let res = b
        .post(
            "/contacts/bulk",
            &list.csrf(),
            &[
                ("id", &mine.to_string()),
                ("id", &mine2.to_string()),
                ("action", "merge"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        res.location()
            .is_some_and(|l| l.starts_with("/contacts/merge?id="))
    );
}

fn fixture_strategy() -> impl Strategy<Value = Fixture> {
    let phone = prop::sample::select(vec!["+85291234567", "+85260000001", "+442071234567"]);
    let email = prop::sample::select(vec![
        "a@x.example",
        "A@X.example",
        "b@y.example",
        "c@z.example",
    ]);
    (
        prop::sample::select(vec!["", "Mei", "May"]),
        prop::sample::select(vec!["Chan", "Chen"]),
        prop::sample::select(vec!["", "Acme", "Globex"]),
        prop::sample::select(vec!["", "Paris"]),
        prop::collection::vec((phone, any::<bool>()), 0..3),
        prop::collection::vec((email, any::<bool>()), 0..3),
        0usize..3,
        0usize..3,
        any::<bool>(),
    )
        .prop_map(
            |(first, last, company, city, phones, emails, notes, views, label)| {
                let mut dedup_p: Vec<(String, bool)> = Vec::new();
                for (p, v) in phones {
                    if !dedup_p.iter().any(|(q, _)| q == p) {
                        dedup_p.push((p.to_string(), v));
                    }
                }
                let mut dedup_e: Vec<(String, bool)> = Vec::new();
                for (e, v) in emails {
                    if !dedup_e.iter().any(|(q, _)| q.eq_ignore_ascii_case(e)) {
                        dedup_e.push((e.to_string(), v));
                    }
                }
                Fixture {
                    first: first.into(),
                    last: last.into(),
                    company: company.into(),
                    city: city.into(),
                    phones: dedup_p,
                    emails: dedup_e,
                    notes,
                    page_views: views,
                    labels: if label { vec![-1] } else { vec![] },
                    ..Default::default()
                }
            },
        )
}

/// For random contacts and random choices, merge then undo gives back the
/// same records.
#[actix_rt::test]
async fn merge_then_undo_gives_back_the_same_records() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in_admin().await;
    let (vip, _, _) = setup_labels(&app);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 24,
        ..Default::default()
    });
    let strategy = (
        prop::collection::vec(fixture_strategy(), 2..4),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<prop::sample::Index>(), 11),
    );
    runner
        .run(&strategy, |(fixtures, kept, picks)| {
            let mut conn = app.conn();
            let ids: Vec<i64> = fixtures
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.labels = f.labels.iter().map(|_| vip).collect();
                    insert(&mut conn, &f)
                })
                .collect();
            let before: Vec<String> = ids.iter().map(|i| state_of(&mut conn, *i)).collect();
            let kept = ids[kept.index(ids.len())];
            let mut r = request(&mut conn, &ids, kept, admin);
            for ((key, _, _), pick) in merge::FIELDS.iter().zip(&picks) {
                r.picks.insert(key.to_string(), ids[pick.index(ids.len())]);
            }
            let MergeOutcome::Merged { merge_id } = conn
                .transaction(|conn| merge::merge(conn, &r))
                .expect("merge")
            else {
                panic!("refused");
            };
            let undone = conn
                .transaction(|conn| merge::undo(conn, merge_id, Some(admin)))
                .expect("undo");
            let was_undone = matches!(undone, UndoOutcome::Undone { .. });
            prop_assert!(was_undone, "undo refused");
            for (id, was) in ids.iter().zip(&before) {
                prop_assert_eq!(&state_of(&mut conn, *id), was);
            }
            Ok(())
        })
        .expect("merge then undo is exact");
}
