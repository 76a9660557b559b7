//! The contact list: search, filters, sorting and keyset pagination in one query.

use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    prelude::*,
    sql_types::{Array, BigInt, Nullable, Text, Timestamptz},
};

use crate::{
    db::prepared::{Prepared, Value as Bind},
    domain::contact::{ContactType, Level},
    models::search_plan::{
        Plan, PlanKey, RARE, SAMPLE_EVIDENCE, Sample, SampleRow, Sampled, TermUse,
    },
};

/// Runs `f` with the plan the search words need pinned for its queries; a
/// transaction only when there is something to pin (it scopes the settings).
pub fn with_search_plan<T>(
    conn: &mut PgConnection,
    filters: &Filters,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    if filters.trash || (filters.plan.terms.is_empty() && !filters.reads_gin_index()) {
        return f(conn);
    }
    conn.transaction(|conn| {
        steer(conn, filters)?;
        f(conn)
    })
}

/// Pins the plan the search plan chose (see `search_plan`): PostgreSQL's own
/// estimates would pick the other way for rare three-letter words.
fn steer(conn: &mut PgConnection, f: &Filters) -> QueryResult<()> {
    let settings = if f.reads_gin_index() {
        "SELECT set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'off', true)"
    } else if f.plan.walks_sort_index() {
        "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)"
    } else {
        return Ok(());
    };
    diesel::sql_query(settings).execute(conn).map(drop)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Name,
    Company,
    Created,
    Updated,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Name, Sort::Company, Sort::Created, Sort::Updated];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Company => "company",
            Sort::Created => "created",
            Sort::Updated => "updated",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Name => "Name",
            Sort::Company => "Company",
            Sort::Created => "Date created",
            Sort::Updated => "Last updated",
        }
    }

    pub fn parse(s: &str) -> Sort {
        Sort::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .unwrap_or(Sort::Name)
    }

    /// The indexed expression the list is ordered by (ties broken by id).
    fn key_sql(self) -> &'static str {
        match self {
            Sort::Name => "c.sort_name",
            Sort::Company => "lower(c.company)",
            Sort::Created => "c.created_at",
            Sort::Updated => "c.updated_at",
        }
    }

    fn is_time(self) -> bool {
        matches!(self, Sort::Created | Sort::Updated)
    }
}

/// Where a page starts: the sort key and id of the row next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub id: i64,
}

impl Cursor {
    /// `id.hexkey`: opaque in the URL, safe in any query string.
    pub fn encode(&self) -> String {
        let hex: String = self.key.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{}.{hex}", self.id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (id, hex) = s.split_once('.')?;
        if hex.len() % 2 != 0 || hex.len() > 2048 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        Some(Cursor {
            id: id.parse().ok()?,
            key: String::from_utf8(bytes?).ok()?,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub q: String,
    pub label: Option<i64>,
    pub contact_type: Option<ContactType>,
    pub level: Option<Level>,
    pub owner: Option<i64>,
    /// Only contacts shared with this member.
    pub shared_with: Option<i64>,
    /// Only the contacts this member may see (Restricted visibility).
    pub visible_to: Option<i64>,
    /// The trash instead of live contacts.
    pub trash: bool,
    /// How the words of `q` are matched; set by [`Filters::plan_with`].
    pub plan: Plan,
    /// How many contacts the type, level, owner and label filters let
    /// through, judged on the sample by [`Filters::judge_sets`].
    pub sampled: Option<Sampled>,
}

impl Filters {
    /// No search and no filter: every live contact.
    pub fn is_everything(&self) -> bool {
        !self.trash
            && self.q.trim().is_empty()
            && self.label.is_none()
            && self.contact_type.is_none()
            && self.level.is_none()
            && self.owner.is_none()
            && self.shared_with.is_none()
            && self.visible_to.is_none()
    }

    /// Whether PostgreSQL's best plan for this view is the same whatever the
    /// values bound (the cursor, a type or level): no search words, whose
    /// rarity decides the plan, and no owner, label, share or member, whose
    /// sizes range from a handful of contacts to most of them.
    pub fn plans_alike(&self) -> bool {
        // Words only checked on the rows a sort index gives (`TermUse::Filter`)
        // leave the plan alone: that walk is the only way to read them.
        // An owner or label that holds many contacts is read the one way
        // (walking the sort index); a small one is planned with its value
        // every time, which reads it through its own index.
        (self.q.trim().is_empty() || self.plan.walks_sort_index())
            && ((self.label.is_none() && self.owner.is_none())
                || self.sampled.is_some_and(|s| s.share >= RARE))
            && self.shared_with.is_none()
            && self.visible_to.is_none()
    }

    /// Whether a type, level or label is set and the sample finds the
    /// filters (the owner's included) in under 1 % of contacts, in a view
    /// of every contact (a limited member's sets bound what is read).
    /// A sample of fewer than a thousand live contacts is no evidence: right
    /// after everything went to the trash it holds none, and the GIN index
    /// then still lists every trashed row until vacuum, which a bitmap scan
    /// (unlike a walk of the sort index, which marks them dead) reads again
    /// on every request.
    pub fn rare_filters(&self) -> bool {
        (self.contact_type.is_some() || self.level.is_some() || self.label.is_some())
            && self.visible_to.is_none()
            && self.shared_with.is_none()
            && self
                .sampled
                .is_some_and(|s| s.rows >= SAMPLE_EVIDENCE && s.share < RARE)
    }

    /// Whether the view is read through the GIN index of words and filters:
    /// a rare word, or (without words) a type, level or label that rarely go
    /// together, which the index intersects where walking the sort index
    /// would read every contact.
    pub fn reads_gin_index(&self) -> bool {
        !self.trash
            && (self.plan.uses_trigram_index()
                || (self.plan.terms.is_empty() && self.rare_filters()))
    }

    /// Whether any filter the sample can judge is set (a type, level,
    /// owner or label).
    pub fn has_sampled_filters(&self) -> bool {
        self.contact_type.is_some()
            || self.level.is_some()
            || self.owner.is_some()
            || self.label.is_some()
    }

    /// Judges on the sample how many contacts the filters other than the
    /// words let through (see `sampled`).
    pub fn judge_sets(&mut self, sample: &Sample) {
        let f = self.clone();
        self.sampled = Some(sample.sampled(self.plan_key(Vec::new()), |r| f.matches(r)));
    }

    /// Decides how to match the search words, from a sample of the data.
    pub fn plan_with(&mut self, sample: &Sample) {
        let terms = search_terms(&self.q);
        let f = self.clone();
        self.plan = sample.plan(self.plan_key(terms.clone()), |sample| {
            Plan::new(&terms, sample, |r| f.matches(r))
        });
    }

    /// `terms` with the filters `matches` checks: what a judgement on the
    /// sample depends on.
    fn plan_key(&self, terms: Vec<String>) -> PlanKey {
        PlanKey {
            terms,
            contact_type: self.contact_type.map(ContactType::as_str),
            level: self.level.map(Level::as_str),
            owner: self.owner,
            label: self.label,
        }
    }

    /// Whether a sampled contact passes the filters other than the words.
    fn matches(&self, r: &SampleRow) -> bool {
        self.contact_type
            .is_none_or(|t| r.contact_type == t.as_str())
            && self.level.is_none_or(|l| r.level == l.as_str())
            && self.owner.is_none_or(|o| r.owner_id == Some(o))
            && self.label.is_none_or(|l| r.label_ids.contains(&l))
    }
}

#[derive(Clone, Debug)]
pub struct ListQuery {
    pub filters: Filters,
    pub sort: Sort,
    pub descending: bool,
    pub per_page: i64,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

#[derive(QueryableByName, Clone, Debug)]
pub struct ListRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub first_name: String,
    #[diesel(sql_type = Text)]
    pub last_name: String,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Text)]
    pub contact_type: String,
    #[diesel(sql_type = Text)]
    pub level: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub owner_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub owner_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub deleted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Array<BigInt>)]
    pub label_ids: Vec<i64>,
    /// The sort key as text, for the cursor.
    #[diesel(sql_type = Text)]
    pub sort_key: String,
}

impl ListRow {
    /// The keyset position of this row.
    fn cursor(&self) -> Cursor {
        Cursor {
            key: self.sort_key.clone(),
            id: self.id,
        }
    }
}

pub struct ListPage {
    pub rows: Vec<ListRow>,
    pub next: Option<Cursor>,
    pub prev: Option<Cursor>,
}

/// The words of a search, each matched on its own; a term that is only digits
/// and phone punctuation is matched as digits, ignoring the formatting.
pub fn search_terms(q: &str) -> Vec<String> {
    let q = q.trim();
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && q.chars().filter(char::is_ascii_digit).count() >= 3;
    if phone_like {
        return vec![q.chars().filter(char::is_ascii_digit).collect()];
    }
    q.split_whitespace()
        .take(8)
        .map(|t| t.to_lowercase())
        .collect()
}

fn like_pattern(term: &str) -> String {
    format!("%{}%", crate::models::like_escape(term))
}

/// The conditions of `f` other than who may see the contacts, on alias `c`;
/// binds are numbered after those already in `binds`.
fn conditions(f: &Filters, reach: &Reach, binds: &mut Vec<Bind>) -> Vec<String> {
    let mut out = vec![
        if f.trash {
            "c.deleted_at IS NOT NULL AND c.merged_into IS NULL"
        } else {
            "c.deleted_at IS NULL"
        }
        .to_string(),
    ];
    for term in &f.plan.terms {
        match term {
            TermUse::Indexed(t) => {
                binds.push(Bind::Text(like_pattern(t)));
                out.push(format!("c.search_text LIKE ${}", binds.len()));
            }
            // Checked on rows read along another index: `strpos` is out of
            // the trigram index's reach on purpose, and it does not copy the
            // text as the former `(search_text || '') LIKE` did.
            TermUse::Filter(t) => {
                binds.push(Bind::Text(t.clone()));
                out.push(format!("strpos(c.search_text, ${}) > 0", binds.len()));
            }
            TermUse::Email(e) => {
                binds.push(Bind::Text(e.to_lowercase()));
                out.push(format!(
                    "c.id IN (SELECT e.contact_id FROM contact_emails e WHERE lower(e.email) = ${})",
                    binds.len()
                ));
            }
        }
    }
    // The type, level and label are in the words' GIN index, which serves a
    // rare word or a rare combination of filters. Anywhere else they are
    // written `(…) IS TRUE`, which no index can take: a common filter is
    // read walking the sort index, and with statistics gone stale (a
    // million contacts restored from the trash) PostgreSQL would otherwise
    // read the GIN index and sort what it found, for every page (p95 0.63 s
    // in the jobs bench's restore). Unlike an expression (`coalesce`, used
    // before), `IS TRUE` keeps the column's statistics: with its default
    // guess of one row in 200, a walk for a common type looked costly and
    // PostgreSQL read the whole table instead, 0.5–3.6 s a page while a
    // million contacts went to the trash and came back.
    let unindexed = |condition: String| {
        if f.reads_gin_index() {
            condition
        } else {
            format!("({condition}) IS TRUE")
        }
    };
    if let Some(t) = f.contact_type {
        binds.push(Bind::Text(t.as_str().into()));
        out.push(unindexed(format!("c.contact_type = ${}", binds.len())));
    }
    if let Some(l) = f.level {
        binds.push(Bind::Text(l.as_str().into()));
        out.push(unindexed(format!("c.level = ${}", binds.len())));
    }
    if let Some(o) = f.owner {
        binds.push(Bind::Int(o));
        out.push(format!("c.owner_id = ${}", binds.len()));
    }
    let shares_walked = matches!(reach, Reach::Walked(w) if !w.shared_not_owned);
    if let Some(s) = f.shared_with.filter(|_| !shares_walked) {
        binds.push(Bind::Int(s));
        out.push(format!(
            "EXISTS (SELECT 1 FROM contact_shares sh WHERE sh.contact_id = c.id AND sh.staff_id = ${})",
            binds.len()
        ));
    }
    // The label is written into the text, not bound: PostgreSQL knows how
    // common each label is only from its value (a generic plan guesses one
    // contact in two hundred for any `@>`, and would read a label on a
    // quarter of a million contacts through the GIN index and sort them).
    // An id is a number, so nothing can be injected.
    if let Some(l) = f.label {
        out.push(unindexed(format!("c.label_ids @> ARRAY[{l}]::bigint[]")));
    }
    out
}

/// How a query reaches the contacts a limited member may see.
enum Reach {
    /// Every contact: the member is not limited.
    All,
    /// The rows found otherwise (a rare word's trigram matches, an email's
    /// contacts) are each checked against the member; bind `$n` is the member.
    Checked(usize),
    /// The member's own contacts and those shared with them are read as two
    /// sets (`Walk`), each in the list's order where an index gives it.
    Walked(Walk),
}

/// A limited member's contacts as disjoint sets: the owned (the owner index
/// holds them in name order), the shared (not owned), and those of the
/// enquiries they handle (neither). Reading these
/// bounds the work by what the member may see; a walk of the table's sort
/// index testing each row would read most of a million rows for an agent
/// whose contacts are few. "Shared with me" is the shared set alone, owned
/// or not.
struct Walk {
    /// The member's id, and the bind that holds it.
    member: i64,
    bind: usize,
    owned: bool,
    shared: bool,
    /// Shares of contacts the member owns are left to the owned set.
    shared_not_owned: bool,
    /// The contacts of enquiries the member handles, neither owned nor
    /// shared: a third set, small and sorted as it is read.
    handled: bool,
}

#[derive(Clone, Copy)]
enum Set {
    Owned,
    Shared,
    Handled,
}

/// The contacts of the enquiries member `$m` handles.
fn handled_ids(m: usize) -> String {
    format!(
        "SELECT hq.contact_id FROM enquiries hq WHERE hq.status = 'handling' AND hq.handler_id = ${m}"
    )
}

/// `conds` with the words looked up in the share `vis`, which carries its
/// contact's words (a trigger keeps them equal) in an index keyed by the
/// member: a rare word's matches among a member's shares are found there
/// instead of among every contact's.
fn words_on_share(conds: &str) -> String {
    conds.replace("c.search_text", "vis.search_text")
}

/// Rows `c` neither owned by nor shared with member `$m`.
fn neither_owned_nor_shared(m: usize) -> String {
    format!(
        " AND c.owner_id IS DISTINCT FROM ${m} AND NOT EXISTS \
         (SELECT 1 FROM contact_shares hs WHERE hs.contact_id = c.id AND hs.staff_id = ${m})"
    )
}

impl Walk {
    fn sets(&self) -> impl Iterator<Item = Set> + '_ {
        [
            (self.owned, Set::Owned),
            (self.shared, Set::Shared),
            (self.handled, Set::Handled),
        ]
        .into_iter()
        .filter_map(|(on, set)| on.then_some(set))
    }

    /// `FROM … WHERE` the rows `c` of one set (more conditions may follow).
    fn from(&self, set: Set) -> String {
        let m = self.bind;
        match set {
            Set::Owned => format!("FROM contacts c WHERE c.owner_id = ${m}"),
            Set::Shared if self.shared_not_owned => format!(
                "FROM contact_shares vis JOIN contacts c ON c.id = vis.contact_id \
                 WHERE vis.staff_id = ${m} AND c.owner_id IS DISTINCT FROM ${m}"
            ),
            Set::Shared => format!(
                "FROM contact_shares vis JOIN contacts c ON c.id = vis.contact_id WHERE vis.staff_id = ${m}"
            ),
            Set::Handled => format!(
                "FROM contacts c WHERE c.id IN ({}){}",
                handled_ids(m),
                neither_owned_nor_shared(m)
            ),
        }
    }

    /// `SELECT {what}` over each set as a UNION ALL, each followed by
    /// `tail(key, id)`: the keyset condition and order, given the set's own
    /// columns for the sort key and the id.
    fn sql(
        &self,
        what: &str,
        conds: &str,
        sort: Sort,
        tail: &dyn Fn(&str, &str) -> String,
    ) -> String {
        let parts: Vec<String> = self
            .sets()
            .map(|set| {
                // A share carries its contact's name key (a trigger keeps
                // it), so its index gives the shared contacts in name order.
                let tail = match set {
                    Set::Shared if sort == Sort::Name => tail("vis.sort_name", "vis.contact_id"),
                    _ => tail(sort.key_sql(), "c.id"),
                };
                let conds = match set {
                    Set::Shared => words_on_share(conds),
                    _ => conds.to_string(),
                };
                format!("(SELECT {what} {} AND {conds}{tail})", self.from(set))
            })
            .collect();
        if parts.is_empty() {
            // Nothing can match: still a query of the same shape.
            return format!("(SELECT {what} FROM contacts c WHERE false)");
        }
        parts.join(" UNION ALL ")
    }

    /// How many rows each set has (index entries only: trashed and owned
    /// shares included), one row per set.
    /// The member is bind `$1`.
    fn sizes_sql(&self) -> String {
        self.sets()
            .map(|set| match set {
                Set::Owned => {
                    "(SELECT count(*) AS n FROM contacts o WHERE o.owner_id = $1 AND o.deleted_at IS NULL)"
                }
                Set::Shared => "(SELECT count(*) AS n FROM contact_shares vis WHERE vis.staff_id = $1)",
                Set::Handled => {
                    "(SELECT count(*) AS n FROM enquiries hq WHERE hq.status = 'handling' AND hq.handler_id = $1)"
                }
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    }

    /// One row per set, for about one row in `step` of it picked by a hash of
    /// the id: how many were picked, and how many meet `conds`. The picking
    /// reads index entries only; just the picked rows are read.
    fn sample_sql(&self, steps: &[i64], conds: &str) -> String {
        let m = self.bind;
        self.sets()
            .zip(steps)
            .map(|(set, step)| {
                let (ids, not_owned) = match set {
                    Set::Owned => (
                        format!(
                            "SELECT o.id FROM contacts o WHERE o.owner_id = ${m} AND o.deleted_at IS NULL \
                             AND hashint8(o.id) % {step} = 0"
                        ),
                        String::new(),
                    ),
                    Set::Shared => (
                        format!(
                            "SELECT vis.contact_id FROM contact_shares vis WHERE vis.staff_id = ${m} \
                             AND hashint8(vis.contact_id) % {step} = 0"
                        ),
                        if self.shared_not_owned {
                            format!(" AND c.owner_id IS DISTINCT FROM ${m}")
                        } else {
                            String::new()
                        },
                    ),
                    Set::Handled => (
                        format!("{} AND hashint8(hq.contact_id) % {step} = 0", handled_ids(m)),
                        neither_owned_nor_shared(m),
                    ),
                };
                format!(
                    "(SELECT count(*) AS picked, count(*) FILTER (WHERE {conds}{not_owned}) AS n \
                     FROM contacts c WHERE c.id IN ({ids}))"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    }
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Decides how `f` reaches the member's contacts, pushing the member's bind.
fn reach(f: &Filters, binds: &mut Vec<Bind>) -> Reach {
    // A rare word's matches among the member's sets come from the sets' own
    // word indexes (the owner and the share are keys in them), so only an
    // email's contacts and the trash are found otherwise.
    let found_otherwise = f.trash || f.plan.terms.iter().any(|t| matches!(t, TermUse::Email(_)));
    // "Shared with me" is the viewer's shares, all of which they may see.
    if let Some(me) = f.shared_with
        && !found_otherwise
        && f.visible_to.is_none_or(|m| m == me)
    {
        binds.push(Bind::Int(me));
        return Reach::Walked(Walk {
            member: me,
            bind: binds.len(),
            owned: false,
            shared: true,
            shared_not_owned: false,
            handled: false,
        });
    }
    let Some(member) = f.visible_to else {
        return Reach::All;
    };
    binds.push(Bind::Int(member));
    let n = binds.len();
    if found_otherwise {
        return Reach::Checked(n);
    }
    Reach::Walked(Walk {
        member,
        bind: n,
        // The owner filter rules sets out.
        owned: f.owner.is_none_or(|o| o == member),
        shared: f.owner != Some(member),
        shared_not_owned: true,
        handled: f.owner != Some(member),
    })
}

impl Reach {
    /// The condition that a row `c` found otherwise is the member's.
    fn check(&self) -> Option<String> {
        match self {
            Reach::Checked(n) => Some(crate::models::visibility::row_check("c", *n)),
            _ => None,
        }
    }
}

fn bind_all<'a>(
    mut q: diesel::query_builder::BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery>,
    binds: Vec<Bind>,
) -> diesel::query_builder::BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Int(i) => q.bind::<BigInt, _>(i),
            Bind::Time(t) => q.bind::<Timestamptz, _>(t),
        };
    }
    q
}

/// The rows of `page` (a query of contacts `c`) as the list shows them: the
/// page's rows are chosen first and only they get their owner looked up
/// (the first phone and email, and the labels, are copies on the row).
fn rows_sql(page: &str, key_text: &str, order: &str) -> String {
    format!(
        "SELECT c.id, c.first_name, c.last_name, c.company, c.contact_type, c.level, c.owner_id, \
         s.display_name AS owner_name, \
         c.first_phone AS phone, c.first_email AS email, \
         c.updated_at, c.deleted_at, \
         c.label_ids, \
         {key_text} AS sort_key \
         FROM ({page}) c LEFT JOIN staff s ON s.id = c.owner_id \
         ORDER BY {order}"
    )
}

/// For the header's search box: up to `limit` contacts matching the
/// filters whose name starts with what was typed ("mei chan" finds Mei Chan
/// first), in name order, read along the name index. Run it without the
/// search plan's settings: they may rule out that index.
pub fn name_prefix_matches(
    conn: &mut PgConnection,
    filters: &Filters,
    limit: i64,
) -> QueryResult<Vec<ListRow>> {
    let typed = filters
        .q
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if typed.is_empty() {
        return Ok(Vec::new());
    }
    // The words are checked on the rows the name index finds, not looked
    // up in the trigram index, which would find every match first.
    let mut on_rows = filters.clone();
    for term in on_rows.plan.terms.iter_mut() {
        if let TermUse::Indexed(t) = term {
            *term = TermUse::Filter(std::mem::take(t));
        }
    }
    let mut binds = Vec::new();
    let mut conds = conditions(&on_rows, &Reach::All, &mut binds);
    binds.push(Bind::Text(typed.clone()));
    binds.push(Bind::Text(format!("{typed}\u{10FFFF}")));
    let (from, to) = (binds.len() - 1, binds.len());
    conds.push(format!("c.sort_name >= ${from} AND c.sort_name < ${to}"));
    let conds = conds.join(" AND ");
    let page = match filters.visible_to {
        None => format!(
            "SELECT c.* FROM contacts c WHERE {conds} ORDER BY c.sort_name, c.id LIMIT {limit}"
        ),
        // A limited member's own contacts and those shared with them, each
        // read along its own name-ordered index (see `Walk`).
        Some(member) => {
            binds.push(Bind::Int(member));
            let m = binds.len();
            format!(
                "SELECT * FROM ( \
                   (SELECT c.* FROM contacts c WHERE c.owner_id = ${m} AND {conds} \
                    ORDER BY c.sort_name, c.id LIMIT {limit}) \
                   UNION ALL \
                   (SELECT c.* FROM contact_shares vis JOIN contacts c ON c.id = vis.contact_id \
                    WHERE vis.staff_id = ${m} AND vis.sort_name >= ${from} AND vis.sort_name < ${to} \
                      AND c.owner_id IS DISTINCT FROM ${m} AND {conds} \
                    ORDER BY vis.sort_name, vis.contact_id LIMIT {limit}) \
                 ) c ORDER BY c.sort_name, c.id LIMIT {limit}"
            )
        }
    };
    let sql = rows_sql(&page, "c.sort_name", "c.sort_name, c.id");
    // PostgreSQL guesses few names share a prefix and would read them all
    // to sort them; walking the name index stops at the first `limit`.
    conn.transaction(|conn| {
        diesel::sql_query(
            "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)",
        )
        .execute(conn)?;
        bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)
    })
}

/// For the header's search box: up to `limit` contacts matching the
/// filters other than `except`, as the search plan finds them, shown by
/// name; and how many match in all (`except` included), counted up to
/// `cap + 1`. The matches are found once, as ids, for both: ordering every
/// match by name would read each of thousands of rows for a common word,
/// and a second lookup to count them would cost as much again.
pub fn some_matches(
    conn: &mut PgConnection,
    filters: &Filters,
    limit: i64,
    except: &[i64],
    cap: i64,
) -> QueryResult<(Vec<ListRow>, i64)> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let enough = (cap + 1).max(limit.max(0) + except.len() as i64);
    let (sql, binds) = unordered_sql(filters, "c.id", enough);
    let found: Vec<i64> = bind_all(diesel::sql_query(sql).into_boxed(), binds)
        .load::<Id>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let shown: Vec<String> = found
        .iter()
        .filter(|id| !except.contains(id))
        .take(limit.max(0) as usize)
        .map(i64::to_string)
        .collect();
    let counted = (found.len() as i64).min(cap + 1);
    if shown.is_empty() {
        return Ok((Vec::new(), counted));
    }
    let page = format!(
        "SELECT c.* FROM contacts c WHERE c.id IN ({})",
        shown.join(", ")
    );
    let sql = rows_sql(&page, "c.sort_name", "c.sort_name, c.id");
    Ok((diesel::sql_query(sql).load(conn)?, counted))
}

/// Which contacts a company-sorted page reads: blank companies come after
/// every named one, whichever the direction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Every,
    Named,
    Blank,
}

impl Part {
    fn condition(self) -> Option<&'static str> {
        match self {
            Part::Every => None,
            Part::Named => Some("c.company <> ''"),
            Part::Blank => Some("c.company = ''"),
        }
    }
}

/// One page of contacts matching the filters.
pub fn list(conn: &mut PgConnection, query: &ListQuery) -> QueryResult<ListPage> {
    if query.sort != Sort::Company {
        return list_part(conn, query, Part::Every);
    }
    // A cursor in the blank companies has the empty key; named ones never do.
    let blank = |c: &Cursor| c.key.is_empty();
    let backwards = query.before.is_some() && query.after.is_none();
    if !backwards {
        if query.after.as_ref().is_some_and(blank) {
            return list_part(conn, query, Part::Blank);
        }
        let mut page = list_part(conn, query, Part::Named)?;
        if page.next.is_some() {
            return Ok(page);
        }
        let rest = query.per_page - page.rows.len() as i64;
        let first_blanks = ListQuery {
            per_page: rest.max(1),
            after: None,
            before: None,
            ..query.clone()
        };
        let blanks = list_part(conn, &first_blanks, Part::Blank)?;
        if rest > 0 {
            page.next = blanks.next;
            page.rows.extend(blanks.rows);
        } else if !blanks.rows.is_empty() {
            page.next = page.rows.last().map(ListRow::cursor);
        }
        return Ok(page);
    }
    if !query.before.as_ref().is_some_and(blank) {
        return list_part(conn, query, Part::Named);
    }
    let mut page = list_part(conn, query, Part::Blank)?;
    if page.prev.is_some() {
        return Ok(page);
    }
    // Back past the first blank one: the last named companies, read from
    // beyond the end of the named ones in this direction.
    let rest = query.per_page - page.rows.len() as i64;
    let beyond = if query.descending {
        Cursor {
            key: String::new(),
            id: 0,
        }
    } else {
        Cursor {
            key: char::MAX.to_string(),
            id: i64::MAX,
        }
    };
    let last_named = ListQuery {
        per_page: rest.max(1),
        after: None,
        before: Some(beyond),
        ..query.clone()
    };
    let named = list_part(conn, &last_named, Part::Named)?;
    if rest > 0 {
        page.prev = named.prev;
        let mut rows = named.rows;
        rows.append(&mut page.rows);
        page.rows = rows;
    } else if !named.rows.is_empty() {
        page.prev = page.rows.first().map(ListRow::cursor);
    }
    Ok(page)
}

fn list_part(conn: &mut PgConnection, query: &ListQuery, part: Part) -> QueryResult<ListPage> {
    let key = query.sort.key_sql();
    let key_text = if query.sort.is_time() {
        // Microseconds since the epoch: exact, and sortable as a number.
        format!("(extract(epoch from {key}) * 1000000)::bigint::text")
    } else {
        key.to_string()
    };
    let mut binds = Vec::new();
    let reach = reach(&query.filters, &mut binds);
    let mut conds = conditions(&query.filters, &reach, &mut binds);
    conds.extend(reach.check());
    conds.extend(part.condition().map(str::to_string));
    // Paging backwards reads the rows before the cursor in reverse order.
    let backwards = query.before.is_some() && query.after.is_none();
    let descending = query.descending != backwards;
    let op = if descending { "<" } else { ">" };
    let mut keyset = None;
    if let Some(cursor) = query.after.as_ref().or(query.before.as_ref()) {
        if query.sort.is_time() {
            let micros: i64 = cursor.key.parse().unwrap_or(0);
            let at = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
            binds.push(Bind::Time(at));
        } else {
            binds.push(Bind::Text(cursor.key.clone()));
        }
        binds.push(Bind::Int(cursor.id));
        keyset = Some(binds.len());
    }
    let dir = if descending { "DESC" } else { "ASC" };
    let limit = query.per_page + 1;
    let tail = |key: &str, id: &str| {
        let after = keyset
            .map(|n| format!(" AND ({key}, {id}) {op} (${}, ${n})", n - 1))
            .unwrap_or_default();
        format!("{after} ORDER BY {key} {dir}, {id} {dir} LIMIT {limit}")
    };
    let conds = conds.join(" AND ");
    let page = match &reach {
        // The page is among the first rows of either set.
        Reach::Walked(walk) => format!(
            "SELECT c.* FROM ({}) c ORDER BY {key} {dir}, c.id {dir} LIMIT {limit}",
            walk.sql("c.*", &conds, query.sort, &tail)
        ),
        // Words checked along the name index: the walk reads ids off the
        // index alone (it holds the search text), and only the page's rows
        // are fetched.
        _ if query.sort == Sort::Name && query.filters.plan.walks_sort_index() => format!(
            "SELECT c.* FROM contacts c JOIN (SELECT c.id FROM contacts c WHERE {conds}{}) k ON k.id = c.id",
            tail(key, "c.id")
        ),
        _ => format!(
            "SELECT c.* FROM contacts c WHERE {conds}{}",
            tail(key, "c.id")
        ),
    };
    let sql = rows_sql(&page, &key_text, &format!("{key} {dir}, c.id {dir}"));
    // One of a few shapes, planned alike whatever the cursor: PostgreSQL
    // prepares it once per connection instead of planning every page.
    let mut rows: Vec<ListRow> = if query.filters.plans_alike() {
        Prepared::new(sql, binds).load(conn)?
    } else {
        bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)?
    };
    let more = rows.len() as i64 > query.per_page;
    rows.truncate(query.per_page as usize);
    if backwards {
        rows.reverse();
    }
    let (next, prev) = if backwards {
        (
            rows.last().map(ListRow::cursor),
            if more {
                rows.first().map(ListRow::cursor)
            } else {
                None
            },
        )
    } else {
        (
            if more {
                rows.last().map(ListRow::cursor)
            } else {
                None
            },
            if query.after.is_some() {
                rows.first().map(ListRow::cursor)
            } else {
                None
            },
        )
    };
    Ok(ListPage { rows, next, prev })
}

/// `SELECT {what}` (on alias `c`) for up to `limit` contacts matching the
/// filters, in no order, and its binds: a limited member's sets each
/// through their own indexes (they are disjoint, and the first is read
/// alone when it holds `limit`).
fn unordered_sql(filters: &Filters, what: &str, limit: i64) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let reach = reach(filters, &mut binds);
    let mut conds = conditions(filters, &reach, &mut binds);
    conds.extend(reach.check());
    let conds = conds.join(" AND ");
    let sql = match &reach {
        Reach::Walked(walk) => format!(
            "SELECT * FROM ({}) u LIMIT {limit}",
            walk.sql(what, &conds, Sort::Name, &|_, _| String::new())
        ),
        _ => format!("SELECT {what} FROM contacts c WHERE {conds} LIMIT {limit}"),
    };
    (sql, binds)
}

/// How many contacts match, counted up to `cap` (an exact count of a common
/// term over a million rows would cost more than the page itself).
pub fn count_capped(conn: &mut PgConnection, filters: &Filters, cap: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let (rows, binds) = unordered_sql(filters, "1", cap);
    let sql = format!("SELECT count(*) AS n FROM ({rows}) t");
    Ok(bind_all(diesel::sql_query(sql).into_boxed(), binds)
        .get_result::<N>(conn)?
        .n)
}

/// `head`, the view's conditions on alias `c` (who may see what included)
/// and `tail`, with their values bound: for a query that reads a whole view
/// in one go, such as the export of a large one. `head` ends in `WHERE` and
/// binds nothing.
pub fn matching_query(
    filters: &Filters,
    head: &str,
    tail: &str,
) -> diesel::query_builder::BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    let mut binds = Vec::new();
    let mut conds = conditions(filters, &Reach::All, &mut binds);
    if let Some(member) = filters.visible_to {
        binds.push(Bind::Int(member));
        conds.push(crate::models::visibility::predicate("c", binds.len()));
    }
    bind_all(
        diesel::sql_query(format!("{head} {} {tail}", conds.join(" AND "))).into_boxed(),
        binds,
    )
}

/// How long a member's set sizes serve their estimates: they only scale
/// them, and counting the sets on every search costs a millisecond.
pub const SIZES_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Members' set sizes by (member, owned set read, shared set read), kept
/// `SIZES_LIFETIME` by the app.
pub type SetSizes = crate::cache::CachedByKey<(i64, bool, bool), Vec<i64>>;

/// The sizes of the walk's sets (see `Walk::sizes_sql`), from `cache` when
/// fresh.
fn set_sizes(conn: &mut PgConnection, walk: &Walk, cache: &SetSizes) -> QueryResult<Vec<i64>> {
    let key = (walk.member, walk.owned, walk.shared);
    let sizes = cache.get_or_load(&key, || {
        Ok::<_, diesel::result::Error>(
            diesel::sql_query(walk.sizes_sql())
                .bind::<BigInt, _>(walk.member)
                .load::<Counted>(conn)?
                .into_iter()
                .map(|c| c.n)
                .collect(),
        )
    })?;
    Ok(sizes.to_vec())
}

/// A member's sets larger than this are not counted row by row when a
/// search or filter needs each row read: at 10,000 that costs 17 ms.
const EXACT_WALK: i64 = 2_000;
/// About this many rows of each set are read to estimate the rest.
const SAMPLE_PER_SET: i64 = 80;

/// For a search or filter over a large set of a member's contacts (see
/// `Walk`): an estimate from a hashed sample of *their own* contacts, never
/// from the others, whose numbers are not theirs to learn. `None` when the
/// count is cheap or the sample too thin: then it is counted.
fn estimate_walk(
    conn: &mut PgConnection,
    filters: &Filters,
    cap: i64,
    sizes: &SetSizes,
) -> QueryResult<Option<Count>> {
    let mut binds = Vec::new();
    let reach = reach(filters, &mut binds);
    let Reach::Walked(walk) = &reach else {
        return Ok(None);
    };
    let conds = conditions(filters, &reach, &mut binds);
    // Without conditions the sets' indexes alone are counted; a rare word's
    // matches come from the word indexes and are few: counting them is
    // cheaper than sampling the sets.
    if conds.len() <= 1 || filters.plan.uses_trigram_index() {
        return Ok(None);
    }
    let sizes = set_sizes(conn, walk, sizes)?;
    if sizes.iter().sum::<i64>() <= EXACT_WALK {
        return Ok(None);
    }
    #[derive(QueryableByName)]
    struct Sampled {
        #[diesel(sql_type = BigInt)]
        picked: i64,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let steps: Vec<i64> = sizes.iter().map(|n| (n / SAMPLE_PER_SET).max(1)).collect();
    let sampled: Vec<Sampled> = bind_all(
        diesel::sql_query(walk.sample_sql(&steps, &conds.join(" AND "))).into_boxed(),
        binds,
    )
    .load(conn)?;
    let hits: i64 = sampled.iter().map(|s| s.n).sum();
    let estimate: f64 = sampled
        .iter()
        .zip(&sizes)
        .filter(|(s, _)| s.picked > 0)
        .map(|(s, size)| s.n as f64 * *size as f64 / s.picked as f64)
        .sum();
    // A few hits say little about the rest.
    if hits < 10 {
        return Ok(None);
    }
    Ok(Some(if estimate > cap as f64 {
        Count::MoreThan(cap)
    } else {
        Count::About(estimate.round() as i64)
    }))
}

/// The ids of matching contacts after `after`, in id order: how exports and
/// bulk actions walk "everything that matches" without an offset.
pub fn ids_after(
    conn: &mut PgConnection,
    filters: &Filters,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut binds = Vec::new();
    // In id order neither set comes sorted: the member's whole set is read.
    let mut conds = conditions(filters, &Reach::All, &mut binds);
    if let Some(member) = filters.visible_to {
        binds.push(Bind::Int(member));
        conds.push(crate::models::visibility::predicate("c", binds.len()));
    }
    binds.push(Bind::Int(after));
    let sql = format!(
        "SELECT c.id FROM contacts c WHERE {} AND c.id > ${} ORDER BY c.id LIMIT {limit}",
        conds.join(" AND "),
        binds.len()
    );
    with_search_plan(conn, filters, |conn| {
        Ok(bind_all(diesel::sql_query(sql).into_boxed(), binds)
            .load::<Id>(conn)?
            .into_iter()
            .map(|r| r.id)
            .collect())
    })
}

/// The labels and the active staff (owners) that the list's filters offer,
/// fetched together: one round trip instead of two on every list page.
pub struct ListChoices {
    pub labels: Vec<crate::models::label::Label>,
    pub owners: Vec<(i64, String)>,
}

impl ListChoices {
    pub fn load(conn: &mut PgConnection) -> QueryResult<ListChoices> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            labels: String,
            #[diesel(sql_type = Text)]
            owners: String,
        }
        let row: Row = diesel::sql_query(
            "SELECT coalesce((SELECT json_agg(json_build_array(id, name, colour) ORDER BY lower(name), id) FROM labels), '[]')::text AS labels, \
                    coalesce((SELECT json_agg(json_build_array(id, display_name) ORDER BY lower(display_name), id) FROM staff WHERE active), '[]')::text AS owners",
        )
        .get_result(conn)?;
        let bad = |e: serde_json::Error| diesel::result::Error::DeserializationError(Box::new(e));
        let labels: Vec<(i64, String, String)> = serde_json::from_str(&row.labels).map_err(bad)?;
        let owners: Vec<(i64, String)> = serde_json::from_str(&row.owners).map_err(bad)?;
        Ok(ListChoices {
            labels: labels
                .into_iter()
                .map(|(id, name, colour)| crate::models::label::Label { id, name, colour })
                .collect(),
            owners,
        })
    }
}

/// The planner's estimate of live contacts: instant at any size, and close
/// after autovacuum has been by.
pub fn estimate_all(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    Ok(Prepared::new(
        "SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = 'contacts'::regclass",
        vec![],
    )
    .get_result::<N>(conn)?
    .n)
}

/// What the count line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Exact(i64),
    /// At least this many match; counting further is not worth it.
    MoreThan(i64),
    About(i64),
}

/// Exact up to `cap`; beyond it an estimate for the whole list, or "more than".
/// `sizes` keeps members' set sizes between requests, `estimate` the
/// planner's estimate of all live contacts.
pub fn count(
    conn: &mut PgConnection,
    filters: &Filters,
    cap: i64,
    sizes: &SetSizes,
    estimate: &crate::cache::Cached<i64>,
) -> QueryResult<Count> {
    // Every word is common and the sample says thousands match: counting them
    // would cost more than the page, and the answer is known.
    // The sample knows nothing of whose contacts they are, so a member's own
    // or shared contacts are always counted.
    let narrowed = filters.visible_to.is_some() || filters.shared_with.is_some();
    if !narrowed
        && filters.plan.walks_sort_index()
        && filters
            .plan
            .common_matches
            .is_some_and(|n| n > 4.0 * cap as f64)
    {
        return Ok(Count::MoreThan(cap));
    }
    // The same for filters without words (a type, a large label), with a
    // wider margin: the sample is read by blocks, and contacts imported
    // together lie together, so a small set can be caught several times
    // over. Twenty times the cap is out of that error's reach.
    if !narrowed
        && !filters.trash
        && filters.q.trim().is_empty()
        && filters
            .sampled
            .is_some_and(|s| s.matches > 20.0 * cap as f64)
    {
        return Ok(Count::MoreThan(cap));
    }
    if let Some(count) = estimate_walk(conn, filters, cap, sizes)? {
        return Ok(count);
    }
    // Only the whole list may be estimated from the table: any narrower one
    // (a member's contacts above all) is counted, or its size would leak.
    let unfiltered = filters.is_everything();
    // A large table needs no counting to say "about a million".
    let estimate = if unfiltered {
        *estimate.get_or_load(|| estimate_all(conn))?
    } else {
        0
    };
    if estimate > 10 * cap {
        return Ok(Count::About(estimate));
    }
    let n = count_capped(conn, filters, cap + 1)?;
    if n <= cap {
        return Ok(Count::Exact(n));
    }
    if estimate > cap {
        return Ok(Count::About(estimate));
    }
    Ok(Count::MoreThan(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sample_of_some_size_steers_rare_filters_to_the_index() {
        let judged = |share: f64, rows: usize| Filters {
            contact_type: Some(ContactType::Customer),
            sampled: Some(Sampled {
                share,
                matches: share * 1_000_000.0,
                rows,
            }),
            ..Filters::default()
        };
        assert!(judged(0.0, 20_000).rare_filters());
        assert!(!judged(0.3, 20_000).rare_filters(), "a quarter is common");
        assert!(
            !judged(0.0, 0).rare_filters(),
            "an empty sample (everything just trashed) says nothing"
        );
        let mine = Filters {
            visible_to: Some(7),
            ..judged(0.0, 20_000)
        };
        assert!(!mine.rare_filters(), "a member's sets bound the read");
    }

    #[test]
    fn phone_like_searches_ignore_formatting() {
        assert_eq!(search_terms("9123 4567"), ["91234567"]);
        assert_eq!(search_terms("+852 (9123)-4567"), ["85291234567"]);
        assert_eq!(search_terms("Mei  CHAN"), ["mei", "chan"]);
        assert_eq!(
            search_terms("12"),
            ["12"],
            "too few digits to be a phone search"
        );
        assert!(search_terms("   ").is_empty());
    }

    #[test]
    fn cursors_round_trip_any_text() {
        for key in ["", "mei chan", "ŝ😀 '; DROP", "1700000000000000"] {
            let c = Cursor {
                key: key.into(),
                id: 42,
            };
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("x.zz"), None);
        assert_eq!(Cursor::decode("1.abc"), None);
    }
}
