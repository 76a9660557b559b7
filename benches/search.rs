//! The header's search box at a million contacts: staff and external
//! contacts at once, as the suggestions ask while someone types and as the
//! results page shows them.
//!
//! Run: `cargo bench --bench search` (BENCH_CONTACTS=N for another size).
//! Copies the contacts bench's million-contact database, adds 300 staff,
//! runs the release binary and measures full HTTP requests from 4
//! concurrent clients, as an administrator and as an agent under
//! Restricted visibility who sees 10,000 of the contacts. The target is a
//! p95 under 30 ms. Results go to stdout; BENCHMARKS.md records them.

use contactbook::domain::password::hash_password;
use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};

mod support;

use support::{PASSWORD, count, exec, latency, start_app};

fn main() {
    let (pg, url, n, data) = support::million_copy("contactbook_bench_search");
    let mut conn = PgConnection::establish(&url).expect("connect");
    let hash = hash_password(PASSWORD).expect("hash");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO staff (email, display_name, password_hash, role, time_zone, availability) VALUES \
             ('agent@example.com', 'Restricted Agent', '{hash}', 'agent', 'UTC', 'available')"
        ),
    );
    exec(
        &mut conn,
        "INSERT INTO staff (email, display_name, role, time_zone, availability) \
         SELECT 'staff' || i || '@example.com', \
                (ARRAY['Wendy','Marco','Aisha','Kenji','Lena','Tom'])[1 + i % 6] || ' ' || \
                (ARRAY['Chan','Rossi','Okafor','Sato','Vogel','Baker','Smith'])[1 + i % 7] || ' ' || i, \
                'agent', 'UTC', 'available' FROM generate_series(1, 300) i",
    );
    let agent = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'agent@example.com'",
    );
    let admin = count(
        &mut conn,
        "SELECT id AS n FROM staff WHERE email = 'bench@example.com'",
    );
    support::give_agent_their_contacts(&mut conn, agent, admin);
    exec(
        &mut conn,
        "UPDATE settings SET contact_visibility = 'restricted'",
    );
    exec(&mut conn, "VACUUM ANALYZE");
    let email_of = |conn: &mut PgConnection, id: i64| {
        #[derive(diesel::QueryableByName)]
        struct E {
            #[diesel(sql_type = diesel::sql_types::Text)]
            email: String,
        }
        sql_query(format!(
            "SELECT email FROM contact_emails WHERE contact_id = {id}"
        ))
        .get_result::<E>(conn)
        .expect("email")
        .email
    };
    let someone = count(
        &mut conn,
        &format!(
            "SELECT min(id) AS n FROM contacts WHERE owner_id = {agent} AND id > {}",
            n / 2
        ),
    );
    let email = email_of(&mut conn, someone);
    let phone = count(
        &mut conn,
        &format!(
            "SELECT substr(number, 5)::bigint AS n FROM contact_phones WHERE contact_id = {someone}"
        ),
    );
    println!("{n} contacts, 302 staff; the agent sees 10,000 contacts (Restricted)\n");

    let port = support::free_port();
    let mut app = start_app(&url, port, &data.join("search-app"));
    let base = format!("http://127.0.0.1:{port}");
    let sys = actix_rt::System::new();
    sys.block_on(support::wait_ready(&base));
    support::wait_for_first_duplicate_pass(&mut conn);
    drop(conn);
    sys.block_on(async {
        let as_admin = support::sign_in(&base).await;
        let as_agent = support::sign_in_as(&base, "agent@example.com").await;
        let phone = phone.to_string();
        let digits = format!("{} {}", &phone[..phone.len() - 4], &phone[phone.len() - 4..]);
        let queries = [
            ("a staff and contact name, 'chan'", "chan".to_string()),
            ("a common first name, 'mary'", "mary".to_string()),
            ("two words, 'mary smith'", "mary+smith".to_string()),
            ("a company, 'company 4217'", "company+4217".to_string()),
            ("one whole email", email.replace('@', "%40")),
            ("part of a phone number, typed with a space", digits.replace(' ', "+")),
            ("three letters, 'wen'", "wen".to_string()),
            ("nothing matches, 'zqxw'", "zqxw".to_string()),
        ];
        println!("| query (4 clients, 200 requests) | path | admin p50 | admin p95 | agent p50 | agent p95 |");
        println!("|---|---|---:|---:|---:|---:|");
        for (name, q) in &queries {
            for path in ["/search/suggest", "/search"] {
                let url = format!("{path}?q={q}");
                latency(&base, &as_admin, &url, 4, 40).await;
                latency(&base, &as_agent, &url, 4, 40).await;
                let (a50, a95, _) = latency(&base, &as_admin, &url, 4, 200).await;
                let (g50, g95, _) = latency(&base, &as_agent, &url, 4, 200).await;
                println!("| {name} | {path} | {a50:.1} | {a95:.1} | {g50:.1} | {g95:.1} |");
            }
        }
    });
    let _ = app.kill();
    let _ = app.wait();
    pg.stop();
}
