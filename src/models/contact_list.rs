//! The contact list: search, filters, sorting and keyset pagination in one query.

use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    prelude::*,
    sql_types::{Array, BigInt, Nullable, Text, Timestamptz},
};

use crate::{
    domain::contact::{ContactType, Level},
    models::search_plan::{Plan, Sample, SampleRow, TermUse},
};

/// Runs `f` with the plan the search words need pinned for its queries; a
/// transaction only when there is something to pin (it scopes the settings).
pub fn with_search_plan<T>(
    conn: &mut PgConnection,
    filters: &Filters,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    if filters.trash || filters.plan.terms.is_empty() {
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
    let settings = if f.plan.uses_trigram_index() {
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

    /// Decides how to match the search words, from a sample of the data.
    pub fn plan_with(&mut self, sample: &Sample) {
        let f = self.clone();
        self.plan = Plan::new(&search_terms(&self.q), sample, |r| f.matches(r));
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

/// Appends the WHERE conditions of `f`; binds are numbered from `next_bind`.
fn where_sql(f: &Filters, sql: &mut String, binds: &mut Vec<Bind>) {
    sql.push_str(if f.trash {
        " WHERE c.deleted_at IS NOT NULL"
    } else {
        " WHERE c.deleted_at IS NULL"
    });
    for term in &f.plan.terms {
        match term {
            TermUse::Indexed(t) => {
                binds.push(Bind::Text(like_pattern(t)));
                sql.push_str(&format!(" AND c.search_text LIKE ${}", binds.len()));
            }
            // `|| ''` hides the column from the trigram index on purpose.
            TermUse::Filter(t) => {
                binds.push(Bind::Text(like_pattern(t)));
                sql.push_str(&format!(" AND (c.search_text || '') LIKE ${}", binds.len()));
            }
            TermUse::Email(e) => {
                binds.push(Bind::Text(e.to_lowercase()));
                sql.push_str(&format!(
                    " AND c.id IN (SELECT e.contact_id FROM contact_emails e WHERE lower(e.email) = ${})",
                    binds.len()
                ));
            }
        }
    }
    if let Some(t) = f.contact_type {
        binds.push(Bind::Text(t.as_str().into()));
        sql.push_str(&format!(" AND c.contact_type = ${}", binds.len()));
    }
    if let Some(l) = f.level {
        binds.push(Bind::Text(l.as_str().into()));
        sql.push_str(&format!(" AND c.level = ${}", binds.len()));
    }
    if let Some(o) = f.owner {
        binds.push(Bind::Int(o));
        sql.push_str(&format!(" AND c.owner_id = ${}", binds.len()));
    }
    if let Some(member) = f.visible_to {
        binds.push(Bind::Int(member));
        sql.push_str(" AND ");
        sql.push_str(&crate::models::visibility::predicate("c", binds.len()));
    }
    if let Some(s) = f.shared_with {
        binds.push(Bind::Int(s));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM contact_shares sh WHERE sh.contact_id = c.id AND sh.staff_id = ${})",
            binds.len()
        ));
    }
    if let Some(l) = f.label {
        binds.push(Bind::Int(l));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = c.id AND cl.label_id = ${})",
            binds.len()
        ));
    }
}

enum Bind {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
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

/// One page of contacts matching the filters.
pub fn list(conn: &mut PgConnection, query: &ListQuery) -> QueryResult<ListPage> {
    let key = query.sort.key_sql();
    let key_text = if query.sort.is_time() {
        // Microseconds since the epoch: exact, and sortable as a number.
        format!("(extract(epoch from {key}) * 1000000)::bigint::text")
    } else {
        key.to_string()
    };
    let mut binds = Vec::new();
    let mut sql = format!(
        "SELECT c.id, c.first_name, c.last_name, c.company, c.contact_type, c.level, c.owner_id, \
         s.display_name AS owner_name, \
         (SELECT p.number FROM contact_phones p WHERE p.contact_id = c.id ORDER BY p.position, p.id LIMIT 1) AS phone, \
         (SELECT e.email FROM contact_emails e WHERE e.contact_id = c.id ORDER BY e.position, e.id LIMIT 1) AS email, \
         c.updated_at, c.deleted_at, \
         ARRAY(SELECT cl.label_id FROM contact_labels cl WHERE cl.contact_id = c.id ORDER BY cl.label_id) AS label_ids, \
         {key_text} AS sort_key \
         FROM contacts c LEFT JOIN staff s ON s.id = c.owner_id"
    );
    where_sql(&query.filters, &mut sql, &mut binds);
    // Paging backwards reads the rows before the cursor in reverse order.
    let backwards = query.before.is_some() && query.after.is_none();
    let descending = query.descending != backwards;
    if let Some(cursor) = query.after.as_ref().or(query.before.as_ref()) {
        let op = if descending { "<" } else { ">" };
        if query.sort.is_time() {
            let micros: i64 = cursor.key.parse().unwrap_or(0);
            let at = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
            binds.push(Bind::Time(at));
        } else {
            binds.push(Bind::Text(cursor.key.clone()));
        }
        binds.push(Bind::Int(cursor.id));
        sql.push_str(&format!(
            " AND ({key}, c.id) {op} (${}, ${})",
            binds.len() - 1,
            binds.len()
        ));
    }
    let dir = if descending { "DESC" } else { "ASC" };
    sql.push_str(&format!(
        " ORDER BY {key} {dir}, c.id {dir} LIMIT {}",
        query.per_page + 1
    ));
    let mut rows: Vec<ListRow> = bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)?;
    let more = rows.len() as i64 > query.per_page;
    rows.truncate(query.per_page as usize);
    if backwards {
        rows.reverse();
    }
    let cursor_of = |r: &ListRow| Cursor {
        key: r.sort_key.clone(),
        id: r.id,
    };
    let (next, prev) = if backwards {
        (
            rows.last().map(cursor_of),
            if more {
                rows.first().map(cursor_of)
            } else {
                None
            },
        )
    } else {
        (
            if more {
                rows.last().map(cursor_of)
            } else {
                None
            },
            if query.after.is_some() {
                rows.first().map(cursor_of)
            } else {
                None
            },
        )
    };
    Ok(ListPage { rows, next, prev })
}

/// How many contacts match, counted up to `cap` (an exact count of a common
/// term over a million rows would cost more than the page itself).
pub fn count_capped(conn: &mut PgConnection, filters: &Filters, cap: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut binds = Vec::new();
    let mut sql = "SELECT count(*) AS n FROM (SELECT 1 FROM contacts c".to_string();
    where_sql(filters, &mut sql, &mut binds);
    sql.push_str(&format!(" LIMIT {cap}) t"));
    Ok(bind_all(diesel::sql_query(sql).into_boxed(), binds)
        .get_result::<N>(conn)?
        .n)
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
    let mut sql = "SELECT c.id FROM contacts c".to_string();
    where_sql(filters, &mut sql, &mut binds);
    binds.push(Bind::Int(after));
    sql.push_str(&format!(
        " AND c.id > ${} ORDER BY c.id LIMIT {limit}",
        binds.len()
    ));
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
    Ok(diesel::sql_query(
        "SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = 'contacts'::regclass",
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
pub fn count(conn: &mut PgConnection, filters: &Filters, cap: i64) -> QueryResult<Count> {
    // Every word is common and the sample says thousands match: counting them
    // would cost more than the page, and the answer is known.
    if filters.plan.walks_sort_index()
        && filters
            .plan
            .common_matches
            .is_some_and(|n| n > 4.0 * cap as f64)
    {
        return Ok(Count::MoreThan(cap));
    }
    let unfiltered = search_terms(&filters.q).is_empty()
        && filters.label.is_none()
        && filters.contact_type.is_none()
        && filters.level.is_none()
        && filters.owner.is_none()
        && !filters.trash;
    // A large table needs no counting to say "about a million".
    let estimate = if unfiltered { estimate_all(conn)? } else { 0 };
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
