//! Finding likely duplicates across the whole database, and keeping the
//! list current. The rules are `domain::duplicate`; this module decides
//! which pairs to put to them and stores the verdicts in `duplicate_pairs`.
//!
//! A full pass loads every live contact's names, company, city, emails,
//! phones and social IDs once and puts to the rules only the pairs that
//! share a blocking key: the same email, phone digits or social ID, or the
//! same company (folded) with a name word beginning alike, or the same
//! non-free email domain with the same two name beginnings. A similar name
//! in the same city is never enough on its own (see the rules), so the city
//! is no blocking key. Later passes look only at contacts changed since,
//! from the indexes: same email, phone, social ID or company.
//!
//! Passes are rows of `duplicate_scans`, run by whichever instance claims
//! one (an advisory lock marks it running, so a crashed instance frees it);
//! each writes its findings in one transaction, so a restarted pass simply
//! starts again.

use std::collections::{HashMap, HashSet};
use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Float8, Nullable, Text, Timestamptz};

use crate::AppState;
use crate::domain::duplicate::{Candidate, compare, fold, name_words, normal_email, phone_digits};

/// The advisory lock space of duplicate passes ("CBD").
const LOCK_SPACE: i32 = 0x0043_4244;
/// More changed contacts than this since the last pass: a full pass instead.
const RECENT_LIMIT: i64 = 20_000;
/// A full pass at least this often, for what later passes cannot see
/// (similar names behind a shared email domain).
const FULL_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Blocks larger than this are too common to mean anything.
const MAX_BLOCK: usize = 60;
/// Candidate pairs a full pass judges with their contacts in memory at once
/// (at most twice as many contacts: 20,000 pairs about 10 MB).
const PAIRS_AT_ONCE: usize = 20_000;
const TICK: Duration = Duration::from_secs(3);

/// Starts the thread that runs duplicate passes; it ends with the app.
pub fn spawn_scanner(state: Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("duplicate-scanner".into())
        .spawn(move || {
            loop {
                let Some(app) = state.upgrade() else { return };
                let pool = app.pool.clone();
                drop(app);
                match pool
                    .get()
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| tick(&mut c).map_err(|e| e.to_string()))
                {
                    Ok(Some(stats)) => {
                        log::info!("duplicate pass: {stats:?}");
                        crate::trim_heap();
                    }
                    Ok(None) => {}
                    Err(e) => log::warn!("duplicate pass: {e}"),
                }
                // Not holding the pool while idle: an app shutting down
                // closes its connections at once.
                drop(pool);
                std::thread::sleep(TICK);
            }
        });
    if let Err(e) = spawned {
        log::error!("could not start the duplicate scanner: {e}");
    }
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub kind: String,
    pub contacts: usize,
    pub compared: usize,
    pub pairs: usize,
    pub seconds: f64,
    /// Where a full pass spent its time: reading, blocking, judging, writing.
    pub phases: [f64; 4],
}

#[derive(QueryableByName)]
struct ScanRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    since: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ok: bool,
}

/// Queues a pass when one is due, then runs the pending one if no other
/// instance is running it. The finished pass's figures, if one ran.
pub fn tick(conn: &mut PgConnection) -> QueryResult<Option<Stats>> {
    schedule(conn)?;
    let pending: Option<ScanRow> = diesel::sql_query(
        "SELECT id, kind, since FROM duplicate_scans WHERE status IN ('queued', 'running') ORDER BY id LIMIT 1",
    )
    .get_result(conn)
    .optional()?;
    let Some(scan) = pending else {
        return Ok(None);
    };
    let locked = diesel::sql_query("SELECT pg_try_advisory_lock($1, $2::int) AS ok")
        .bind::<diesel::sql_types::Integer, _>(LOCK_SPACE)
        .bind::<BigInt, _>(scan.id)
        .get_result::<Flag>(conn)?
        .ok;
    if !locked {
        return Ok(None);
    }
    // A full pass reads every contact in a few long statements.
    let result = crate::db::without_timeouts(conn, |c| run_scan(c, &scan));
    if let Err(e) = &result {
        diesel::sql_query(
            "UPDATE duplicate_scans SET status = 'failed', error = $2, finished_at = now() WHERE id = $1",
        )
        .bind::<BigInt, _>(scan.id)
        .bind::<Text, _>(e.to_string())
        .execute(conn)?;
    }
    diesel::sql_query("SELECT pg_advisory_unlock($1, $2::int) AS ok")
        .bind::<diesel::sql_types::Integer, _>(LOCK_SPACE)
        .bind::<BigInt, _>(scan.id)
        .get_result::<Flag>(conn)?;
    result.map(Some)
}

/// Queues a full pass (never run, or due) or a pass over the contacts
/// changed since the last one began (less a minute: a write whose
/// transaction began before and committed after that moment carries an
/// earlier time). After a failed pass, none for five minutes, rather than
/// failing again every few seconds. At most one pass waits at a time (a unique
/// index), whichever instance asks. None while an import is writing (its
/// heartbeat fresh) or a bulk job is: a large one changes more than `RECENT_LIMIT` contacts
/// every few seconds, and each pass would then be a full one, over and over,
/// taking a core and hundreds of MB from the import; the first pass after it
/// looks at everything it wrote.
fn schedule(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO duplicate_scans (kind, since) \
         SELECT CASE WHEN full_at IS NULL OR full_at < now() - make_interval(secs => $1) THEN 'full' ELSE 'recent' END, \
                mark - interval '1 minute' \
         FROM (SELECT (SELECT max(mark) FROM duplicate_scans WHERE status = 'done' AND kind = 'full') AS full_at, \
                      (SELECT max(mark) FROM duplicate_scans WHERE status = 'done') AS mark) s \
         WHERE NOT EXISTS (SELECT 1 FROM duplicate_scans WHERE status IN ('queued', 'running')) \
           AND NOT EXISTS (SELECT 1 FROM duplicate_scans WHERE status = 'failed' AND finished_at > now() - interval '5 minutes') \
           AND NOT EXISTS (SELECT 1 FROM imports WHERE status = 'running' AND heartbeat_at > now() - interval '1 minute') \
           AND NOT EXISTS (SELECT 1 FROM bulk_jobs WHERE status = 'running' AND heartbeat_at > now() - interval '1 minute') \
           AND EXISTS (SELECT 1 FROM contacts WHERE deleted_at IS NULL) \
           AND (full_at IS NULL OR full_at < now() - make_interval(secs => $1) \
                OR (SELECT max(updated_at) FROM contacts WHERE deleted_at IS NULL) > mark) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Float8, _>(FULL_EVERY.as_secs_f64())
    .execute(conn)?;
    // A pass every few seconds while people edit: keep a week of them, and
    // always the last full one (it says when the next is due).
    diesel::sql_query(
        "DELETE FROM duplicate_scans WHERE status IN ('done', 'failed') AND finished_at < now() - interval '7 days' \
         AND id < coalesce((SELECT max(id) FROM duplicate_scans WHERE status = 'done' AND kind = 'full'), 0)",
    )
    .execute(conn)
    .map(drop)
}

/// Queues a full pass now (an administrator asked).
pub fn request_full(conn: &mut PgConnection, by: i64) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO duplicate_scans (kind, requested_by) SELECT 'full', $1 \
         WHERE NOT EXISTS (SELECT 1 FROM duplicate_scans WHERE status IN ('queued', 'running')) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<BigInt, _>(by)
    .execute(conn)?;
    Ok(n == 1)
}

fn run_scan(conn: &mut PgConnection, scan: &ScanRow) -> QueryResult<Stats> {
    let started = std::time::Instant::now();
    // Contacts changed from here on are the next pass's.
    diesel::sql_query(
        "UPDATE duplicate_scans SET status = 'running', started_at = now(), mark = now() WHERE id = $1",
    )
    .bind::<BigInt, _>(scan.id)
    .execute(conn)?;
    let changed: Option<Vec<i64>> = match (scan.kind.as_str(), scan.since) {
        ("recent", Some(since)) => {
            let ids: Vec<i64> = diesel::sql_query(
                "SELECT id FROM contacts WHERE deleted_at IS NULL AND updated_at > $1 ORDER BY updated_at LIMIT $2",
            )
            .bind::<Timestamptz, _>(since)
            .bind::<BigInt, _>(RECENT_LIMIT + 1)
            .load::<Id>(conn)?
            .into_iter()
            .map(|r| r.id)
            .collect();
            (ids.len() as i64 <= RECENT_LIMIT).then_some(ids)
        }
        _ => None,
    };
    let mut stats = match &changed {
        Some(ids) => recent_pass(conn, scan.id, ids)?,
        None => full_pass(conn, scan.id)?,
    };
    stats.seconds = started.elapsed().as_secs_f64();
    diesel::sql_query(
        "UPDATE duplicate_scans SET status = 'done', finished_at = now(), kind = $2, \
           contacts_seen = $3, pairs_found = $4 WHERE id = $1",
    )
    .bind::<BigInt, _>(scan.id)
    .bind::<Text, _>(&stats.kind)
    .bind::<BigInt, _>(stats.contacts as i64)
    .bind::<BigInt, _>(stats.pairs as i64)
    .execute(conn)?;
    Ok(stats)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Live contacts as the rules see them, those of `ids`.
pub fn load_candidates(
    conn: &mut PgConnection,
    ids: &[i64],
) -> QueryResult<HashMap<i64, Candidate>> {
    let mut out = HashMap::with_capacity(ids.len());
    each_candidate(conn, Some(ids), &mut |id, c| {
        out.insert(id, c);
    })?;
    Ok(out)
}

#[derive(QueryableByName)]
struct WholeRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    company: String,
    #[diesel(sql_type = Text)]
    city: String,
    #[diesel(sql_type = Nullable<Text>)]
    emails: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    phones: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    socials: Option<String>,
}

/// Live contacts as the rules see them (all, or those of `ids`), one at a
/// time: read row by row, each table's values aggregated in one pass as the
/// full export does. How many there were.
fn each_candidate(
    conn: &mut PgConnection,
    ids: Option<&[i64]>,
    each: &mut dyn FnMut(i64, Candidate),
) -> QueryResult<usize> {
    let only = |column: &str| match ids {
        Some(_) => format!("{column} = ANY($1)"),
        None => "true".to_string(),
    };
    let sql = format!(
        "SELECT c.id, c.first_name, c.last_name, c.company, c.city, e.v AS emails, p.v AS phones, s.v AS socials \
         FROM contacts c \
         LEFT JOIN (SELECT contact_id, string_agg(email, E'\\x1e') v FROM contact_emails WHERE {ids} GROUP BY contact_id) e \
           ON e.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, string_agg(number, E'\\x1e') v FROM contact_phones WHERE {ids} GROUP BY contact_id) p \
           ON p.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, string_agg(kind || E'\\x1f' || handle, E'\\x1e') v FROM contact_socials \
                    WHERE {ids} GROUP BY contact_id) s ON s.contact_id = c.id \
         WHERE c.deleted_at IS NULL AND {own}",
        ids = only("contact_id"),
        own = only("c.id"),
    );
    conn.transaction(|conn| {
        let mut query = diesel::sql_query(sql).into_boxed();
        if let Some(ids) = ids {
            query = query.bind::<Array<BigInt>, _>(ids);
        }
        let rows = query.load_iter::<WholeRow, diesel::pg::PgRowByRowLoadingMode>(conn)?;
        let split = |v: Option<String>| -> Vec<String> {
            v.map(|v| v.split('\u{1e}').map(str::to_string).collect())
                .unwrap_or_default()
        };
        let mut n = 0;
        for row in rows {
            let r = row?;
            n += 1;
            each(
                r.id,
                Candidate {
                    first_name: r.first_name,
                    last_name: r.last_name,
                    company: r.company,
                    city: r.city,
                    emails: split(r.emails),
                    phones: split(r.phones),
                    messaging: split(r.socials)
                        .into_iter()
                        .filter_map(|s| {
                            s.split_once('\u{1f}')
                                .map(|(k, h)| (k.to_string(), h.to_string()))
                        })
                        .collect(),
                },
            );
        }
        Ok(n)
    })
}

/// A hash of `parts` that stays the same across runs and releases (a
/// stored fingerprint outlives a build); each part ends in a NUL so that
/// ("ab", "c") and ("a", "bc") differ.
fn fnv(parts: &[&str]) -> i64 {
    crate::cache::fnv1a(
        parts
            .iter()
            .flat_map(|p| p.bytes().chain(std::iter::once(0))),
    ) as i64
}

/// What the rules look at in a contact, as one value: a dismissed pair
/// comes back only when this changes for one of its two contacts.
fn fingerprint(c: &Candidate) -> i64 {
    let mut emails: Vec<String> = c.emails.iter().map(|e| normal_email(e)).collect();
    emails.sort();
    let mut phones: Vec<String> = c.phones.iter().map(|p| phone_digits(p)).collect();
    phones.sort();
    let mut social: Vec<String> = c
        .messaging
        .iter()
        .map(|(k, h)| format!("{k}:{}", h.trim().to_lowercase()))
        .collect();
    social.sort();
    let words = name_words(&c.first_name, &c.last_name).join(" ");
    let company = fold(&c.company);
    let city = fold(&c.city);
    let (e, p, s) = (emails.join(","), phones.join(","), social.join(","));
    fnv(&[&words, &company, &city, &e, &p, &s])
}

fn prefix(word: &str) -> String {
    word.chars().take(3).collect()
}

fn domain_of(email: &str) -> Option<String> {
    normal_email(email)
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
}

/// The keys under which a contact may meet its duplicates, each given to
/// `key` (the same key may come twice).
fn each_key(c: &Candidate, free_mail: &dyn Fn(&str) -> bool, key: &mut dyn FnMut(&str)) {
    let mut buf = String::new();
    let mut emit = |parts: &[&str]| {
        buf.clear();
        for p in parts {
            buf.push_str(p);
        }
        key(&buf);
    };
    for e in &c.emails {
        emit(&["e:", &normal_email(e)]);
    }
    for p in &c.phones {
        emit(&["p:", &phone_digits(p)]);
    }
    for (k, h) in &c.messaging {
        emit(&["m:", k, ":", &h.trim().to_lowercase()]);
    }
    let words = name_words(&c.first_name, &c.last_name);
    let company = fold(&c.company);
    if !company.is_empty() {
        for w in &words {
            emit(&["c:", &company, ":", &prefix(w)]);
        }
    }
    let pair: Vec<String> = words.iter().map(|w| prefix(w)).collect();
    let pair = pair.join(" ");
    let mut domains: Vec<String> = c.emails.iter().filter_map(|e| domain_of(e)).collect();
    domains.sort();
    domains.dedup();
    for d in domains {
        if !free_mail(&d) {
            emit(&["d:", &d, ":", &pair]);
        }
    }
}

#[cfg(test)]
fn block_keys(c: &Candidate, free_mail: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut keys = Vec::new();
    each_key(c, free_mail, &mut |k| keys.push(k.to_string()));
    keys.sort();
    keys.dedup();
    keys
}

fn key_hash(k: &str) -> u64 {
    fnv(&[k]) as u64
}

/// A pair the rules judged likely duplicates.
struct Found {
    a: i64,
    b: i64,
    score: f64,
    reasons: String,
    fingerprint: i64,
}

fn judge(
    people: &HashMap<i64, Candidate>,
    pairs: impl Iterator<Item = (i64, i64)>,
    shared: &dyn Fn(&str) -> usize,
) -> (usize, Vec<Found>) {
    let mut compared = 0;
    let mut out = Vec::new();
    for (a, b) in pairs {
        let (Some(ca), Some(cb)) = (people.get(&a), people.get(&b)) else {
            continue;
        };
        compared += 1;
        if let Some(v) = compare(ca, cb, shared) {
            out.push(Found {
                a,
                b,
                score: v.score,
                reasons: v
                    .reasons
                    .iter()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join("\n"),
                fingerprint: fnv(&[&fingerprint(ca).to_string(), &fingerprint(cb).to_string()]),
            });
        }
    }
    (compared, out)
}

fn full_pass(conn: &mut PgConnection, scan: i64) -> QueryResult<Stats> {
    let t = std::time::Instant::now();
    let free = crate::domain::duplicate::is_free_mail;
    // (key hash, contact id), sorted: runs of one key are its block. A
    // sorted vector of a few million entries is far cheaper than a map of
    // string keys; two keys sharing a hash only cost a comparison. Each
    // contact is read, keyed and let go, so memory holds the keys, not a
    // million contacts.
    let mut keyed: Vec<(u64, i64)> = Vec::new();
    let contacts = each_candidate(conn, None, &mut |id, c| {
        each_key(&c, &free, &mut |k| keyed.push((key_hash(k), id)));
    })?;
    let loaded = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    keyed.sort_unstable();
    keyed.dedup();
    let mut pairs: HashSet<(i64, i64)> = HashSet::new();
    let mut phone_blocks: HashMap<u64, usize> = HashMap::new();
    let mut start = 0;
    while start < keyed.len() {
        let key = keyed[start].0;
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == key {
            end += 1;
        }
        let n = end - start;
        if n >= 2 {
            phone_blocks.insert(key, n);
            if n <= MAX_BLOCK {
                for i in start..end {
                    for j in i + 1..end {
                        let (a, b) = (keyed[i].1, keyed[j].1);
                        pairs.insert((a.min(b), a.max(b)));
                    }
                }
            }
        }
        start = end;
    }
    drop(keyed);
    let mut pairs: Vec<(i64, i64)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    let blocked = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    // How many contacts carry a number: its block's size.
    let shared = |digits: &str| {
        phone_blocks
            .get(&key_hash(&format!("p:{digits}")))
            .copied()
            .unwrap_or(1)
    };
    // Only the contacts of candidate pairs are read whole, for a chunk of
    // pairs at a time: where names are common most contacts are in some
    // pair, and holding them all at once took 70 MB at a million contacts
    // (the app's largest use of memory, measured with heaptrack).
    let mut compared = 0;
    let mut found = Vec::new();
    for chunk in pairs.chunks(PAIRS_AT_ONCE) {
        let mut wanted: Vec<i64> = chunk.iter().flat_map(|(a, b)| [*a, *b]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let people = load_candidates(conn, &wanted)?;
        let (n, more) = judge(&people, chunk.iter().copied(), &shared);
        compared += n;
        found.extend(more);
    }
    drop(pairs);
    let judged = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    conn.transaction(|conn| {
        store(conn, scan, &found)?;
        // Pairs no longer found go, unless dismissed: a dismissal lasts.
        diesel::sql_query(
            "DELETE FROM duplicate_pairs WHERE dismissed_at IS NULL AND seen_by <> $1",
        )
        .bind::<BigInt, _>(scan)
        .execute(conn)
        .map(drop)
    })?;
    Ok(Stats {
        kind: "full".into(),
        contacts,
        compared,
        pairs: found.len(),
        seconds: 0.0,
        phases: [loaded, blocked, judged, t.elapsed().as_secs_f64()],
    })
}

fn recent_pass(conn: &mut PgConnection, scan: i64, changed: &[i64]) -> QueryResult<Stats> {
    // Who each changed contact may duplicate, from the indexes.
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = BigInt)]
        a: i64,
        #[diesel(sql_type = BigInt)]
        b: i64,
    }
    let found_pairs: Vec<Pair> = diesel::sql_query(
        "SELECT x.contact_id AS a, y.contact_id AS b FROM contact_emails x \
           JOIN contact_emails y ON lower(y.email) = lower(x.email) AND y.contact_id <> x.contact_id \
           WHERE x.contact_id = ANY($1) \
         UNION SELECT x.contact_id, y.contact_id FROM contact_phones x \
           JOIN contact_phones y ON y.number = x.number AND y.contact_id <> x.contact_id \
           WHERE x.contact_id = ANY($1) \
         UNION SELECT x.contact_id, y.contact_id FROM contact_socials x \
           JOIN contact_socials y ON lower(y.handle) = lower(x.handle) AND y.kind = x.kind AND y.contact_id <> x.contact_id \
           WHERE x.contact_id = ANY($1) \
         UNION SELECT x.id, y.id FROM contacts x \
           JOIN LATERAL (SELECT y.id FROM contacts y WHERE lower(y.company) = lower(x.company) \
                           AND y.deleted_at IS NULL AND y.id <> x.id LIMIT 200) y ON true \
           WHERE x.id = ANY($1) AND x.company <> ''",
    )
    .bind::<Array<BigInt>, _>(changed)
    .load(conn)?;
    let mut ids: Vec<i64> = changed.to_vec();
    ids.extend(found_pairs.iter().map(|p| p.b));
    ids.sort_unstable();
    ids.dedup();
    let people = load_candidates(conn, &ids)?;
    #[derive(QueryableByName)]
    struct Shared {
        #[diesel(sql_type = Text)]
        number: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let numbers: Vec<String> = changed
        .iter()
        .filter_map(|id| people.get(id))
        .flat_map(|c| c.phones.iter().cloned())
        .collect();
    let counts: HashMap<String, usize> = diesel::sql_query(
        "SELECT number, count(*) AS n FROM contact_phones WHERE number = ANY($1) GROUP BY number",
    )
    .bind::<Array<Text>, _>(&numbers)
    .load::<Shared>(conn)?
    .into_iter()
    .map(|s| (phone_digits(&s.number), s.n as usize))
    .collect();
    let shared = |d: &str| counts.get(d).copied().unwrap_or(1);
    let pairs: HashSet<(i64, i64)> = found_pairs
        .iter()
        .map(|p| (p.a.min(p.b), p.a.max(p.b)))
        .collect();
    let (compared, found) = judge(&people, pairs.into_iter(), &shared);
    let stats = Stats {
        kind: "recent".into(),
        contacts: changed.len(),
        compared,
        pairs: found.len(),
        ..Stats::default()
    };
    conn.transaction(|conn| {
        store(conn, scan, &found)?;
        diesel::sql_query(
            "DELETE FROM duplicate_pairs WHERE dismissed_at IS NULL AND seen_by <> $1 \
             AND (a = ANY($2) OR b = ANY($2))",
        )
        .bind::<BigInt, _>(scan)
        .bind::<Array<BigInt>, _>(changed)
        .execute(conn)
        .map(drop)
    })?;
    Ok(stats)
}

/// Writes the pairs found; a dismissed pair stays dismissed while its two
/// contacts hold what they held when it was dismissed.
fn store(conn: &mut PgConnection, scan: i64, found: &[Found]) -> QueryResult<()> {
    for chunk in found.chunks(5_000) {
        let a: Vec<i64> = chunk.iter().map(|f| f.a).collect();
        let b: Vec<i64> = chunk.iter().map(|f| f.b).collect();
        let score: Vec<f64> = chunk.iter().map(|f| f.score).collect();
        let reasons: Vec<&str> = chunk.iter().map(|f| f.reasons.as_str()).collect();
        let fp: Vec<i64> = chunk.iter().map(|f| f.fingerprint).collect();
        diesel::sql_query(
            "INSERT INTO duplicate_pairs (a, b, score, reasons, fingerprint, seen_by) \
             SELECT *, $6 FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::text[], $5::bigint[]) \
             ON CONFLICT (a, b) DO UPDATE SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, \
               seen_by = EXCLUDED.seen_by, \
               dismissed_at = CASE WHEN duplicate_pairs.fingerprint = EXCLUDED.fingerprint THEN duplicate_pairs.dismissed_at END, \
               dismissed_by = CASE WHEN duplicate_pairs.fingerprint = EXCLUDED.fingerprint THEN duplicate_pairs.dismissed_by END, \
               fingerprint = EXCLUDED.fingerprint",
        )
        .bind::<Array<BigInt>, _>(&a)
        .bind::<Array<BigInt>, _>(&b)
        .bind::<Array<Float8>, _>(&score)
        .bind::<Array<Text>, _>(&reasons)
        .bind::<Array<BigInt>, _>(&fp)
        .bind::<BigInt, _>(scan)
        .execute(conn)?;
    }
    Ok(())
}

/// A group of contacts that are likely one person.
#[derive(Clone, Debug)]
pub struct Group {
    pub ids: Vec<i64>,
    pub score: f64,
    pub reasons: Vec<String>,
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
    #[diesel(sql_type = Float8)]
    score: f64,
    #[diesel(sql_type = Text)]
    reasons: String,
}

/// The groups of likely duplicates that `limited` (a member under
/// Restricted visibility, or nobody) may see in full, strongest first:
/// pairs joined into groups where they share a contact.
pub fn groups(conn: &mut PgConnection, limited: Option<i64>) -> QueryResult<Vec<Group>> {
    let visible = match limited {
        Some(_) => format!(
            "AND {} AND {}",
            crate::models::visibility::row_check("ca", 1),
            crate::models::visibility::row_check("cb", 1)
        ),
        None => String::new(),
    };
    let mut query = diesel::sql_query(format!(
        "SELECT p.a, p.b, p.score, p.reasons FROM duplicate_pairs p \
         JOIN contacts ca ON ca.id = p.a AND ca.deleted_at IS NULL \
         JOIN contacts cb ON cb.id = p.b AND cb.deleted_at IS NULL \
         WHERE p.dismissed_at IS NULL {visible}"
    ))
    .into_boxed();
    if let Some(member) = limited {
        query = query.bind::<BigInt, _>(member);
    }
    let rows: Vec<PairRow> = query.load(conn)?;
    Ok(group_pairs(
        rows.into_iter()
            .map(|r| (r.a, r.b, r.score, r.reasons))
            .collect(),
    ))
}

/// Joins pairs that share a contact into groups, strongest first.
pub fn group_pairs(pairs: Vec<(i64, i64, f64, String)>) -> Vec<Group> {
    let mut parent: HashMap<i64, i64> = HashMap::new();
    fn root(parent: &mut HashMap<i64, i64>, x: i64) -> i64 {
        let mut r = x;
        while let Some(p) = parent.get(&r).copied().filter(|p| *p != r) {
            r = p;
        }
        parent.insert(x, r);
        r
    }
    for (a, b, _, _) in &pairs {
        let (ra, rb) = (root(&mut parent, *a), root(&mut parent, *b));
        if ra != rb {
            parent.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut groups: HashMap<i64, Group> = HashMap::new();
    for (a, b, score, reasons) in pairs {
        let r = root(&mut parent, a);
        let g = groups.entry(r).or_insert_with(|| Group {
            ids: Vec::new(),
            score: 0.0,
            reasons: Vec::new(),
        });
        for id in [a, b] {
            if !g.ids.contains(&id) {
                g.ids.push(id);
            }
        }
        g.score = g.score.max(score);
        for r in reasons.lines() {
            if !g.reasons.iter().any(|x| x == r) {
                g.reasons.push(r.to_string());
            }
        }
    }
    let mut out: Vec<Group> = groups.into_values().collect();
    for g in &mut out {
        g.ids.sort_unstable();
    }
    out.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| x.ids.first().cmp(&y.ids.first()))
    });
    out
}

/// Dismisses every pair among `ids`: they are not duplicates.
pub fn dismiss(conn: &mut PgConnection, ids: &[i64], by: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE duplicate_pairs SET dismissed_at = now(), dismissed_by = $2 \
         WHERE a = ANY($1) AND b = ANY($1) AND dismissed_at IS NULL",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<BigInt, _>(by)
    .execute(conn)
}

/// The likely duplicates of contact `id` that `limited` may see: (id,
/// name, why), strongest first.
pub fn of_contact(
    conn: &mut PgConnection,
    id: i64,
    limited: Option<i64>,
) -> QueryResult<Vec<(i64, String, String)>> {
    #[derive(QueryableByName)]
    struct Other {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        first_name: String,
        #[diesel(sql_type = Text)]
        last_name: String,
        #[diesel(sql_type = Text)]
        reasons: String,
    }
    let visible = match limited {
        Some(_) => format!("AND {}", crate::models::visibility::row_check("c", 2)),
        None => String::new(),
    };
    let mut query = diesel::sql_query(format!(
        "SELECT c.id, c.first_name, c.last_name, p.reasons FROM duplicate_pairs p \
         JOIN contacts c ON c.id = CASE WHEN p.a = $1 THEN p.b ELSE p.a END AND c.deleted_at IS NULL \
         WHERE (p.a = $1 OR p.b = $1) AND p.dismissed_at IS NULL {visible} \
         ORDER BY p.score DESC LIMIT 4"
    ))
    .into_boxed()
    .bind::<BigInt, _>(id);
    if let Some(member) = limited {
        query = query.bind::<BigInt, _>(member);
    }
    Ok(query
        .load::<Other>(conn)?
        .into_iter()
        .map(|o| {
            (
                o.id,
                crate::models::contact::display_name(&o.first_name, &o.last_name),
                o.reasons.replace('\n', "; "),
            )
        })
        .collect())
}

/// The latest pass, for the Duplicates page: (kind, status, finished, contacts, pairs).
#[derive(QueryableByName, Debug)]
pub struct LastScan {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub finished_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub contacts_seen: i64,
}

pub fn last_scan(conn: &mut PgConnection) -> QueryResult<Option<LastScan>> {
    diesel::sql_query(
        "SELECT kind, status, finished_at, contacts_seen FROM duplicate_scans ORDER BY id DESC LIMIT 1",
    )
    .get_result(conn)
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_sharing_a_contact_form_one_group_strongest_first() {
        let g = group_pairs(vec![
            (1, 2, 0.7, "similar name at the same company (Acme)".into()),
            (2, 3, 0.95, "same email, case aside (a@x)".into()),
            (5, 9, 0.9, "same phone digits (+1)".into()),
        ]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].ids, vec![1, 2, 3]);
        assert_eq!(g[0].score, 0.95);
        assert_eq!(g[0].reasons.len(), 2);
        assert_eq!(g[1].ids, vec![5, 9]);
    }

    #[test]
    fn a_typo_and_swapped_names_at_one_company_share_a_block() {
        let free = |_: &str| false;
        let mut a = Candidate {
            first_name: "Maria".into(),
            last_name: "Gonzalez".into(),
            company: "Acme Ltd".into(),
            ..Candidate::default()
        };
        let b = Candidate {
            first_name: "Gonzales".into(),
            last_name: "MARIA".into(),
            company: "ACME LTD".into(),
            ..Candidate::default()
        };
        let ka = block_keys(&a, &free);
        assert!(block_keys(&b, &free).iter().any(|k| ka.contains(k)));
        a.company.clear();
        let ka = block_keys(&a, &free);
        assert!(!block_keys(&b, &free).iter().any(|k| ka.contains(k)));
    }

    #[test]
    fn the_fingerprint_ignores_case_and_order_but_not_a_new_email() {
        let mut a = Candidate {
            first_name: "Mei".into(),
            last_name: "Chan".into(),
            emails: vec!["a@x.example".into(), "b@y.example".into()],
            ..Candidate::default()
        };
        let f = fingerprint(&a);
        a.emails = vec!["B@y.example".into(), "a@x.example".into()];
        assert_eq!(fingerprint(&a), f);
        a.emails.push("c@z.example".into());
        assert_ne!(fingerprint(&a), f);
    }
}
