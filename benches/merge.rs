//! Duplicate detection and merging at scale.
//!
//! Run: `cargo bench --bench merge` (BENCH_CONTACTS=N for another size).
//! Generates its own database (kept for later runs): N contacts with random
//! names, 100,000 companies, 1,000 cities, company or free-mail emails and
//! unique mobiles, of which 2 % are planted duplicates of known kinds (the
//! same email in another case; the same phone; a typo in the last name at
//! the same company; first and last name swapped at the same company) and
//! 5,000 colleagues share their company's switchboard number, which must
//! make nobody a duplicate. Then, over the release binary: a full detection
//! pass, with the list and a search requested back to back meanwhile (4
//! clients) and again with no pass running, the
//! precision and recall of the pairs found against the planted ones, and
//! merging (then undoing) two contacts that each have 1,000 enquiries and
//! 5,000 page views. Results go to stdout; BENCHMARKS.md records them.

use std::time::{Duration, Instant};

use contactbook::db;
use contactbook::models::merge::{self, MergeOutcome, Request, UndoOutcome};
use diesel::{Connection, PgConnection, RunQueryDsl, connection::SimpleConnection, sql_query};

mod support;

use support::{CONTACT_TABLES, count};

fn generate(conn: &mut PgConnection, n: i64, admin: i64) {
    let started = Instant::now();
    let planted = n / 50;
    let originals = n - planted;
    let first = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Julia Bruce Judy Gabriel Sophia Logan Grace Albert Denise Willie Amber Alan Doris Juan Marilyn Wayne Danielle Elijah Beverly Randy Isabella Roy Theresa Vincent Diana Ralph Natalie Eugene Brittany Russell Charlotte Bobby Marie Mason Kayla Philip Alexis Louis Lori Mei Wei Hiroshi Yuki Priya Ravi Olu Amara Chen Lena";
    let last = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Chan Wong Sato Tanaka Kumar Vogel Bianchi Okafor Haddad Yilmaz";
    let array = |words: &str| {
        format!(
            "ARRAY['{}']",
            words.split_whitespace().collect::<Vec<_>>().join("','")
        )
    };
    let nf = first.split_whitespace().count();
    let nl = last.split_whitespace().count();
    conn.batch_execute(&format!(
        "TRUNCATE {CONTACT_TABLES} RESTART IDENTITY CASCADE; SELECT setseed(0.42); \
         INSERT INTO contacts (first_name, last_name, company, city, owner_id, created_at, updated_at) \
         SELECT ({f})[1 + floor(random() * {nf})::int], ({l})[1 + floor(random() * {nl})::int], \
                'Company ' || (i % 100000), 'City ' || (i % 1000), {admin}, \
                now() - interval '1 day', now() - interval '1 day' \
         FROM generate_series(1, {originals}) i; \
         INSERT INTO contact_emails (contact_id, kind, email) \
         SELECT id, 'work', lower(first_name) || '.' || lower(last_name) || id || '@' || \
                CASE WHEN id % 2 = 0 THEN 'company' || (id % 100000) || '.example' ELSE 'gmail.com' END \
         FROM contacts; \
         INSERT INTO contact_phones (contact_id, kind, number) SELECT id, 'mobile', '+8525' || lpad(id::text, 7, '0') FROM contacts; \
         INSERT INTO contact_phones (contact_id, kind, number, position) \
         SELECT id, 'work', '+85230' || lpad((id % 100000)::text, 6, '0'), 1 FROM contacts WHERE id % 100000 < 500; \
         CREATE TEMP TABLE planted AS \
           SELECT o.id AS orig, k FROM (SELECT (1 + k * 49)::bigint AS id, k FROM generate_series(0, {planted} - 1) k) o; \
         INSERT INTO contacts (first_name, last_name, company, city, contact_group, owner_id, created_at, updated_at) \
         SELECT CASE WHEN p.k % 4 = 3 THEN c.last_name ELSE c.first_name END, \
                CASE WHEN p.k % 4 = 3 THEN c.first_name \
                     WHEN p.k % 4 = 2 THEN left(c.last_name, -1) || CASE WHEN right(c.last_name, 1) = 'x' THEN 'y' ELSE 'x' END \
                     ELSE c.last_name END, \
                CASE WHEN p.k % 4 IN (2, 3) THEN c.company ELSE '' END, \
                'City ' || ((c.id + 7) % 1000), 'dup:' || p.k % 4 || ':' || c.id, {admin}, \
                now() - interval '1 day', now() - interval '1 day' \
         FROM planted p JOIN contacts c ON c.id = p.orig; \
         INSERT INTO contact_emails (contact_id, kind, email) \
         SELECT d.id, 'work', CASE WHEN d.contact_group LIKE 'dup:0:%' THEN upper(e.email) \
                                  ELSE 'other' || d.id || '@gmail.com' END \
         FROM contacts d JOIN contact_emails e ON e.contact_id = split_part(d.contact_group, ':', 3)::bigint \
         WHERE d.contact_group LIKE 'dup:%' AND d.contact_group NOT LIKE 'dup:1:%'; \
         INSERT INTO contact_phones (contact_id, kind, number) \
         SELECT d.id, 'mobile', CASE WHEN d.contact_group LIKE 'dup:1:%' THEN p.number \
                                    ELSE '+8526' || lpad(d.id::text, 7, '0') END \
         FROM contacts d JOIN contact_phones p ON p.contact_id = split_part(d.contact_group, ':', 3)::bigint AND p.kind = 'mobile' \
         WHERE d.contact_group LIKE 'dup:%'; \
         UPDATE contacts c SET search_text = lower(c.first_name || ' ' || c.last_name || ' ' || c.company);",
        f = array(first),
        l = array(last),
    ))
    .expect("generate");
    sql_query("VACUUM ANALYZE").execute(conn).expect("analyze");
    println!(
        "generated {n} contacts ({planted} planted duplicates) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let (pg, n, data) = support::bench_pg();
    let name = format!("contactbook_bench_dups_{n}");
    pg.ensure_database(&name).expect("database");
    let url = pg.url(&name);
    let pool = db::build_pool(&url, 2, Duration::from_secs(5)).expect("pool");
    db::run_migrations(&pool).expect("migrate");
    drop(pool);
    let mut conn = PgConnection::establish(&url).expect("connect");
    let admin = support::ensure_admin(&mut conn);
    if count(&mut conn, "SELECT count(*) AS n FROM contacts") != n {
        generate(&mut conn, n, admin);
    } else {
        println!("reusing {n} contacts in {name}");
    }
    conn.batch_execute("TRUNCATE duplicate_pairs, duplicate_scans, merges CASCADE")
        .expect("clean");

    let port = support::free_port();
    // The pass's own log line gives its phases.
    let app = support::start_app_with(
        &url,
        port,
        &data.join("merge-app"),
        &[("RUST_LOG", "warn,contactbook::models::duplicates=info")],
    );
    let base = format!("http://127.0.0.1:{port}");
    let pid = app.0.id();
    let sys = actix_rt::System::new();
    sys.block_on(support::wait_ready(&base));
    let (_, rss_before) = support::memory(pid);
    let cookie = sys.block_on(support::sign_in(&base));
    // The app queues its first full pass by itself; wait for it to end,
    // measuring the list and a search meanwhile.
    let started = Instant::now();
    let mut list = Vec::new();
    let mut search = Vec::new();
    loop {
        let done = count(
            &mut conn,
            "SELECT count(*) AS n FROM duplicate_scans WHERE kind = 'full' AND status IN ('done', 'failed')",
        );
        if done > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no pass ended"
        );
        if count(
            &mut conn,
            "SELECT count(*) AS n FROM duplicate_scans WHERE status = 'running'",
        ) > 0
        {
            list.push(sys.block_on(support::latency(&base, &cookie, "/contacts", 4, 8)));
            search.push(sys.block_on(support::latency(
                &base,
                &cookie,
                "/contacts?q=gonzalez",
                4,
                8,
            )));
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    #[derive(diesel::QueryableByName)]
    struct Pass {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Double)]
        seconds: f64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        contacts_seen: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        pairs_found: i64,
    }
    let pass: Pass = sql_query(
        "SELECT status, extract(epoch FROM finished_at - started_at)::float8 AS seconds, contacts_seen, pairs_found \
         FROM duplicate_scans WHERE kind = 'full' ORDER BY id DESC LIMIT 1",
    )
    .get_result(&mut conn)
    .expect("pass");
    let (peak, _) = support::memory(pid);
    println!(
        "full detection pass: {} in {:.1} s over {} contacts, {} pairs; app resident before {rss_before:.0} MB, peak {peak:.0} MB",
        pass.status, pass.seconds, pass.contacts_seen, pass.pairs_found
    );
    // Each round's p95 of 8 requests: their median, and the worst round.
    let rounds = |v: &[(f64, f64, f64)]| {
        let mut p: Vec<f64> = v.iter().map(|x| x.1).collect();
        p.sort_by(f64::total_cmp);
        (p[p.len() / 2], p[p.len() - 1])
    };
    let (list_mid, list_worst) = rounds(&list);
    let (search_mid, search_worst) = rounds(&search);
    println!(
        "meanwhile ({} rounds of 8 list and 8 search requests from 4 clients, back to back), p95 of a round, median / worst round: \
         list {list_mid:.1} / {list_worst:.1} ms, search `gonzalez` {search_mid:.1} / {search_worst:.1} ms",
        list.len()
    );
    // The same requests with no pass running, to compare.
    let idle_list = sys.block_on(support::latency(&base, &cookie, "/contacts", 4, 40));
    let idle_search = sys.block_on(support::latency(
        &base,
        &cookie,
        "/contacts?q=gonzalez",
        4,
        40,
    ));
    println!(
        "with no pass running (40 requests, 4 clients): list p95 {:.1} ms, search `gonzalez` p95 {:.1} ms",
        idle_list.1, idle_search.1
    );
    let planted = count(
        &mut conn,
        "SELECT count(*) AS n FROM contacts WHERE contact_group LIKE 'dup:%'",
    );
    let found = count(&mut conn, "SELECT count(*) AS n FROM duplicate_pairs");
    let truth = "SELECT split_part(contact_group, ':', 3)::bigint AS o, id AS d, split_part(contact_group, ':', 2) AS kind \
                 FROM contacts WHERE contact_group LIKE 'dup:%'";
    let hits = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM duplicate_pairs p JOIN ({truth}) t \
             ON (p.a = t.o AND p.b = t.d) OR (p.a = t.d AND p.b = t.o)"
        ),
    );
    let switchboard = count(
        &mut conn,
        "SELECT count(*) AS n FROM duplicate_pairs WHERE reasons LIKE '%+85230%'",
    );
    println!(
        "precision {:.3} ({hits} of {found} pairs found are planted), recall {:.3} ({hits} of {planted} planted found); pairs over a switchboard number: {switchboard}",
        hits as f64 / found.max(1) as f64,
        hits as f64 / planted.max(1) as f64
    );
    // What the pairs that were not planted have in common.
    #[derive(diesel::QueryableByName)]
    struct Why {
        #[diesel(sql_type = diesel::sql_types::Text)]
        why: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let extra: Vec<Why> = sql_query(format!(
        "SELECT regexp_replace(reasons, ' \\([^)]*\\)', '', 'g') AS why, count(*) AS n FROM duplicate_pairs p \
         WHERE NOT EXISTS (SELECT 1 FROM ({truth}) t WHERE (p.a = t.o AND p.b = t.d) OR (p.a = t.d AND p.b = t.o)) \
         GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    ))
    .load(&mut conn)
    .expect("extra");
    for w in extra {
        println!("  not planted: {} × {}", w.n, w.why.replace('\n', " + "));
    }
    for kind in 0..4 {
        let of_kind = count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM duplicate_pairs p JOIN ({truth}) t \
                 ON ((p.a = t.o AND p.b = t.d) OR (p.a = t.d AND p.b = t.o)) AND t.kind = '{kind}'"
            ),
        );
        let all = count(
            &mut conn,
            &format!("SELECT count(*) AS n FROM contacts WHERE contact_group LIKE 'dup:{kind}:%'"),
        );
        let what = [
            "same email in another case",
            "same phone",
            "typo in the last name, same company",
            "names swapped, same company",
        ][kind];
        println!("  {what}: {of_kind} of {all} found");
    }

    // Two contacts with 1,000 enquiries and 5,000 page views each.
    let (a, b) = (2_i64, 3_i64);
    conn.batch_execute(&format!(
        "DELETE FROM enquiries WHERE contact_id IN ({a}, {b}); DELETE FROM page_views WHERE contact_id IN ({a}, {b}); \
         INSERT INTO enquiries (contact_id, visitor_name, token_hash, status, closed_at) \
         SELECT c, 'Visitor', sha256(('m' || c || '-' || i)::bytea), 'closed', now() \
         FROM generate_series(1, 1000) i, (VALUES ({a}), ({b})) v(c); \
         INSERT INTO page_views (visitor_id, contact_id, origin, url, viewed_at) \
         SELECT 'benchvisitor' || c || 'abcdefgh', c, 'https://shop.bench', 'https://shop.bench/p/' || i, now() - i * interval '1 minute' \
         FROM generate_series(1, 5000) i, (VALUES ({a}), ({b})) v(c); ANALYZE enquiries; ANALYZE page_views;"
    ))
    .expect("activity");
    let mut merges = Vec::new();
    let mut undos = Vec::new();
    for _ in 0..5 {
        let versions = [a, b]
            .iter()
            .map(|id| {
                (
                    *id,
                    count(
                        &mut conn,
                        &format!("SELECT version::bigint AS n FROM contacts WHERE id = {id}"),
                    ) as i32,
                )
            })
            .collect();
        let req = Request {
            ids: vec![a, b],
            kept: a,
            versions,
            picks: Default::default(),
            actor: Some(admin),
        };
        let t = Instant::now();
        let outcome = conn.transaction(|c| merge::merge(c, &req)).expect("merge");
        merges.push(t.elapsed().as_secs_f64() * 1000.0);
        let MergeOutcome::Merged { merge_id } = outcome else {
            panic!("merge refused");
        };
        assert_eq!(
            count(
                &mut conn,
                &format!("SELECT count(*) AS n FROM page_views WHERE contact_id = {a}")
            ),
            10_000
        );
        let t = Instant::now();
        let undone = conn
            .transaction(|c| merge::undo(c, merge_id, Some(admin)))
            .expect("undo");
        undos.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(matches!(undone, UndoOutcome::Undone { .. }));
        assert_eq!(
            count(
                &mut conn,
                &format!("SELECT count(*) AS n FROM enquiries WHERE contact_id = {b}")
            ),
            1_000
        );
    }
    let show = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "median {:.0} ms, max {:.0} ms",
            v[v.len() / 2],
            v[v.len() - 1]
        )
    };
    println!(
        "merge of two contacts with 1,000 enquiries and 5,000 page views each (5 runs): {}; undo: {}",
        show(&mut merges),
        show(&mut undos)
    );
    drop(app);
    drop(pg);
}
