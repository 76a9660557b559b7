//! The contact page and who sees what, at a million contacts.
//!
//! Run: `cargo bench --bench profile` (BENCH_CONTACTS=N for another size).
//! Copies the contacts bench's million-contact database, switches contact
//! visibility to Restricted, gives an agent 10,000 contacts (5,000 owned,
//! 5,000 shared) and one contact 2,000 change-log entries, then runs the
//! release binary and measures full HTTP page loads from 4 concurrent
//! clients as that agent and as an administrator; last, deactivates a
//! member owning 100,000 contacts and times the handover while measuring the
//! list meanwhile. Results go to stdout; BENCHMARKS.md records them.

use std::time::{Duration, Instant};

use contactbook::{domain::password::hash_password, models::contact_list::Cursor};
use diesel::{
    Connection, PgConnection, QueryableByName, RunQueryDsl, sql_query, sql_types::BigInt,
};

mod support;

use support::{PASSWORD, count, exec, latency, start_app};

fn main() {
    let (pg, url, n, data) = support::million_copy("contactbook_bench_profile");
    let mut conn = PgConnection::establish(&url).expect("connect");
    let hash = hash_password(PASSWORD).expect("hash");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO staff (email, display_name, password_hash, role, time_zone, availability) VALUES \
             ('agent@example.com', 'Restricted Agent', '{hash}', 'agent', 'UTC', 'available'), \
             ('leaver@example.com', 'Leaving Member', '{hash}', 'agent', 'UTC', 'available'), \
             ('heir@example.com', 'Heir Member', '{hash}', 'agent', 'UTC', 'available')"
        ),
    );
    let agent = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'agent@example.com'",
    );
    let leaver = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'leaver@example.com'",
    );
    let heir = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'heir@example.com'",
    );
    let bench_admin = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'bench@example.com'",
    );
    support::give_agent_their_contacts(&mut conn, agent, bench_admin);
    // The leaver owns 100,000 others.
    exec(
        &mut conn,
        &format!(
            "UPDATE contacts SET owner_id = {leaver} WHERE id % 10 = 3 AND owner_id <> {agent}"
        ),
    );
    let visible = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM contacts c WHERE c.owner_id = {agent} \
             OR EXISTS (SELECT 1 FROM contact_shares s WHERE s.contact_id = c.id AND s.staff_id = {agent})"
        ),
    );
    let busy = count(
        &mut conn,
        &format!("SELECT min(id) AS n FROM contacts WHERE owner_id = {agent}"),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version, changed_at) \
             SELECT {busy}, {bench_admin}, 'form', 'update', 'Company', 'Old ' || i, 'New ' || i, 1, \
                    now() - i * interval '1 minute' FROM generate_series(1, 2000) i"
        ),
    );
    exec(
        &mut conn,
        "UPDATE settings SET contact_visibility = 'restricted'",
    );
    exec(&mut conn, "VACUUM ANALYZE");
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sort_name: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    // The agent's deepest page by name.
    let deep: Key = sql_query(format!(
        "SELECT sort_name, id FROM contacts c WHERE deleted_at IS NULL AND (c.owner_id = {agent} \
         OR EXISTS (SELECT 1 FROM contact_shares s WHERE s.contact_id = c.id AND s.staff_id = {agent})) \
         ORDER BY sort_name DESC, id DESC OFFSET 25 LIMIT 1"
    ))
    .get_result(&mut conn)
    .expect("deep cursor");
    let deep = Cursor {
        key: deep.sort_name,
        id: deep.id,
    }
    .encode();
    let rare_email = count(
        &mut conn,
        &format!(
            "SELECT min(contact_id) AS n FROM contact_shares WHERE staff_id = {agent} AND contact_id > {}",
            n / 2
        ),
    );
    let rare = sql_query(format!(
        "SELECT email AS sort_name, contact_id AS id FROM contact_emails WHERE contact_id = {rare_email}"
    ))
    .get_result::<Key>(&mut conn)
    .expect("email")
    .sort_name;
    drop(conn);
    println!("{n} contacts; the agent sees {visible}; restricted visibility\n");

    let port = support::free_port();
    let mut app = start_app(&url, port, &data.join("profile-app"));
    let base = format!("http://127.0.0.1:{port}");
    actix_rt::System::new().block_on(async {
        let client = awc::Client::default();
        support::wait_ready(&base).await;
        let as_agent = support::sign_in_as(&base, "agent@example.com").await;
        let as_admin = support::sign_in(&base).await;
        let scenarios = [
            ("list, first page", "/contacts".to_string()),
            ("list, deepest page by name", format!("/contacts?after={deep}")),
            ("search, common term 'son'", "/contacts?q=son".to_string()),
            ("search, rare term (one whole email)", format!("/contacts?q={}", rare.replace('@', "%40"))),
            ("list, sorted by last updated", "/contacts?sort=updated&dir=desc".to_string()),
            ("Shared with me", "/contacts?view=shared".to_string()),
            ("Change Log tab, 2,000 entries", format!("/contacts/{busy}/changes")),
            ("profile tab of that contact", format!("/contacts/{busy}")),
        ];
        println!("| scenario (4 clients, 200 requests) | agent p50 | agent p95 | admin p50 | admin p95 |");
        println!("|---|---:|---:|---:|---:|");
        for (name, path) in &scenarios {
            // Warm every pooled connection first.
            latency(&base, &as_agent, path, 4, 40).await;
            latency(&base, &as_admin, path, 4, 40).await;
            let (a50, a95, _) = latency(&base, &as_agent, path, 4, 200).await;
            let (d50, d95, _) = latency(&base, &as_admin, path, 4, 200).await;
            println!("| {name} | {a50:.1} | {a95:.1} | {d50:.1} | {d95:.1} |");
        }

        // Deactivate the leaver, handing 100,000 contacts to the heir.
        let mut page = client
            .get(format!("{base}/admin/staff/{leaver}/deactivate"))
            .insert_header(("Cookie", as_admin.clone()))
            .send()
            .await
            .expect("deactivate page");
        let html = String::from_utf8_lossy(&page.body().limit(1 << 20).await.expect("body")).into_owned();
        let token = support::csrf_token(&html);
        let started = Instant::now();
        let res = client
            .post(format!("{base}/admin/staff/{leaver}/deactivate"))
            .insert_header(("Cookie", as_admin.clone()))
            .insert_header(("Origin", base.clone()))
            .send_form(&[("csrf_token", token.as_str()), ("to", &heir.to_string())])
            .await
            .expect("deactivate");
        let answered = started.elapsed();
        let mut res = res;
        let status = res.status().as_u16();
        // The client follows the redirect to the account list.
        if status != 200 {
            let body = res.body().limit(1 << 20).await.unwrap_or_default();
            panic!("deactivation answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let mut conn = PgConnection::establish(&url).expect("connect");
        let mut during = Vec::new();
        let http = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
        loop {
            during.push(support::timed_get(&http, &format!("{base}/contacts?q=son"), &as_admin).await);
            if count(&mut conn, "SELECT count(*) AS n FROM ownership_transfers WHERE status = 'done'") == 1 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(900), "handover too slow");
        }
        let took = started.elapsed();
        during.sort();
        let moved = count(&mut conn, &format!("SELECT count(*) AS n FROM contacts WHERE owner_id = {heir}"));
        println!(
            "\ndeactivating a member who owns {moved} contacts: the request answered in {:.0} ms; \
             the handover took {:.1} s ({:.0} contacts/s); search 'son' meanwhile p50 {:.1} ms, p95 {:.1} ms over {} requests",
            answered.as_secs_f64() * 1000.0,
            took.as_secs_f64(),
            moved as f64 / took.as_secs_f64(),
            support::percentile(&during, 0.5),
            support::percentile(&during, 0.95),
            during.len()
        );
    });
    let _ = app.kill();
    let _ = app.wait();
    pg.stop();
}
