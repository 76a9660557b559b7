//! Merging duplicate records into the one kept, and undoing it.
//!
//! A merge loses nothing: the kept contact takes the chosen value of each
//! field and gains the others' phones, emails, social IDs, labels and
//! shares it lacks; their notes, enquiries, calls and SMS, page views and
//! web visitors move to it. The other records are not deleted: they keep
//! their own fields, values and history, marked `merged_into` the kept one
//! (and gone from every list through `deleted_at`). The `merges` journal
//! and `merge_moves` say exactly what changed and moved, so that undo can
//! put it back.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
use serde::{Deserialize, Serialize};

use crate::{
    domain::merge::{Collection, Item, default_source, unite},
    models::{
        contact::{
            Contact, ContactRecord, LogEntry, display_name, log_change, log_field_changes,
            refresh_search_text, source,
        },
        custom_field::CustomField,
    },
    schema::{
        contact_changes, contact_emails, contact_labels, contact_shares, contacts,
        custom_field_values, merges,
    },
};

/// How many records one merge takes at most (the list's ticks, a group).
pub const MAX_RECORDS: usize = 5;

/// The contact columns a merge chooses, in this order everywhere; birth
/// date and owner travel as text.
const COLUMNS: [&str; 16] = [
    "first_name",
    "last_name",
    "contact_type",
    "level",
    "company",
    "job_title",
    "team",
    "contact_group",
    "birth_date",
    "language",
    "street",
    "city",
    "state",
    "zip_code",
    "country",
    "owner_id",
];

/// A field as the wizard offers it: key, label and its columns (a range
/// of `COLUMNS`). Name and address are chosen as one block each.
pub const FIELDS: [(&str, &str, std::ops::Range<usize>); 11] = [
    ("name", "Name", 0..2),
    ("type", "Type", 2..3),
    ("level", "Level", 3..4),
    ("company", "Company", 4..5),
    ("job_title", "Job title", 5..6),
    ("team", "Team", 6..7),
    ("group", "Group", 7..8),
    ("birth_date", "Birth date", 8..9),
    ("language", "Language", 9..10),
    ("address", "Address", 10..15),
    ("owner", "Owner", 15..16),
];

/// The rows that move from a merged record to the kept one.
const MOVED: [&str; 4] = ["notes", "enquiries", "engagements", "page_views"];

pub type Columns = Vec<Option<String>>;

/// A contact's chosen columns as text.
pub fn columns(c: &Contact) -> Columns {
    let t = |s: &str| Some(s.to_string());
    vec![
        t(&c.first_name),
        t(&c.last_name),
        t(&c.contact_type),
        t(&c.level),
        t(&c.company),
        t(&c.job_title),
        t(&c.team),
        t(&c.contact_group),
        c.birth_date.map(|d| d.to_string()),
        c.language.clone(),
        t(&c.street),
        t(&c.city),
        t(&c.state),
        t(&c.zip_code),
        c.country.clone(),
        c.owner_id.map(|o| o.to_string()),
    ]
}

/// A field's value on one record, as one string to compare ("" when none).
pub fn field_text(cols: &Columns, range: std::ops::Range<usize>) -> String {
    cols[range]
        .iter()
        .map(|v| v.as_deref().unwrap_or("").trim())
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One record of a merge as the wizard and the merge read it.
pub struct Side {
    pub record: ContactRecord,
    pub columns: Columns,
    /// field id → value
    pub custom: HashMap<i64, String>,
}

impl Side {
    pub fn id(&self) -> i64 {
        self.record.contact.id
    }
}

/// The records `ids`, in that order; missing ones are left out.
pub fn load_sides(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Side>> {
    let mut out = Vec::new();
    for id in ids {
        let Some(record) = ContactRecord::load(conn, *id).optional()? else {
            continue;
        };
        out.push(Side {
            columns: columns(&record.contact),
            custom: record.custom.iter().cloned().collect(),
            record,
        });
    }
    Ok(out)
}

/// What the person chose in the wizard.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The records, in the order the wizard showed them.
    pub ids: Vec<i64>,
    pub kept: i64,
    /// The version of each record when the wizard was opened.
    pub versions: HashMap<i64, i32>,
    /// Field key (`name`, `custom_7`…) → the record its value comes from.
    pub picks: HashMap<String, i64>,
    pub actor: Option<i64>,
}

impl Request {
    /// The record field `key` takes its value from: the chosen one, or by
    /// default the kept record's (the first non-empty where it has none).
    pub fn source_of(&self, key: &str, values: &[(i64, &str)]) -> i64 {
        self.picks
            .get(key)
            .copied()
            .filter(|id| self.ids.contains(id))
            .unwrap_or_else(|| default_source(self.kept, values))
    }

    fn others(&self) -> Vec<i64> {
        self.ids
            .iter()
            .copied()
            .filter(|id| *id != self.kept)
            .collect()
    }
}

/// The kept contact's columns and custom values after the merge.
pub fn outcome(req: &Request, sides: &[Side]) -> (Columns, HashMap<i64, String>) {
    let kept = sides.iter().find(|s| s.id() == req.kept);
    let mut cols = kept.map(|k| k.columns.clone()).unwrap_or_default();
    for (key, _, range) in FIELDS.iter() {
        let texts: Vec<(i64, String)> = sides
            .iter()
            .map(|s| (s.id(), field_text(&s.columns, range.clone())))
            .collect();
        let values: Vec<(i64, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();
        let from = req.source_of(key, &values);
        if let Some(src) = sides.iter().find(|s| s.id() == from) {
            for i in range.clone() {
                cols[i] = src.columns[i].clone();
            }
        }
    }
    let mut custom = kept.map(|k| k.custom.clone()).unwrap_or_default();
    let fields: HashSet<i64> = sides
        .iter()
        .flat_map(|s| s.custom.keys().copied())
        .collect();
    for f in fields {
        let values: Vec<(i64, &str)> = sides
            .iter()
            .map(|s| (s.id(), s.custom.get(&f).map(String::as_str).unwrap_or("")))
            .collect();
        let from = req.source_of(&format!("custom_{f}"), &values);
        match sides
            .iter()
            .find(|s| s.id() == from)
            .and_then(|s| s.custom.get(&f))
        {
            Some(v) => custom.insert(f, v.clone()),
            None => custom.remove(&f),
        };
    }
    (cols, custom)
}

/// The three united lists: which, their table, the column of their value,
/// and whether the kind is part of a value's identity (a social ID's
/// network; a phone or email is the same whatever its kind).
const LISTS: [(Collection, &str, &str, bool); 3] = [
    (Collection::Phones, "contact_phones", "number", false),
    (Collection::Emails, "contact_emails", "email", false),
    (Collection::Socials, "contact_socials", "handle", true),
];

/// One record's values of a list.
fn items(r: &ContactRecord, col: Collection) -> Vec<Item> {
    let item = |id: i64, kind: &str, value: &str, verified: bool| Item {
        id,
        kind: kind.to_string(),
        value: value.to_string(),
        verified,
    };
    match col {
        Collection::Phones => r
            .phones
            .iter()
            .map(|p| item(p.id, &p.kind, &p.number, p.verified))
            .collect(),
        Collection::Emails => r
            .emails
            .iter()
            .map(|e| item(e.id, &e.kind, &e.email, e.verified))
            .collect(),
        Collection::Socials => r
            .socials
            .iter()
            .map(|x| item(x.id, &x.kind, &x.handle, x.verified))
            .collect(),
    }
}

/// The union of each list: phones, emails, social IDs (in `LISTS` order).
pub fn unions(req: &Request, sides: &[Side]) -> [(Collection, crate::domain::merge::Union); 3] {
    LISTS.map(|(col, ..)| {
        let mut kept = Vec::new();
        let mut others = Vec::new();
        for s in sides {
            if s.id() == req.kept {
                kept = items(&s.record, col);
            } else {
                others.extend(items(&s.record, col));
            }
        }
        (col, unite(col, &kept, &others))
    })
}

/// What a merge will move, for the wizard's summary.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub phones: usize,
    pub emails: usize,
    pub socials: usize,
    pub labels: usize,
    pub notes: i64,
    pub enquiries: i64,
    pub engagements: i64,
    pub page_views: i64,
    pub shares: i64,
}

#[derive(QueryableByName)]
struct KindValue {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count_in(conn: &mut PgConnection, table: &str, ids: &[i64]) -> QueryResult<i64> {
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {table} WHERE contact_id = ANY($1)"
    ))
    .bind::<Array<BigInt>, _>(ids)
    .get_result::<N>(conn)
    .map(|r| r.n)
}

pub fn counts(conn: &mut PgConnection, req: &Request, sides: &[Side]) -> QueryResult<Counts> {
    let others = req.others();
    let [phones, emails, socials] = unions(req, sides);
    let kept_labels: HashSet<i64> = sides
        .iter()
        .filter(|s| s.id() == req.kept)
        .flat_map(|s| s.record.labels.iter().map(|l| l.id))
        .collect();
    let labels: HashSet<i64> = sides
        .iter()
        .filter(|s| s.id() != req.kept)
        .flat_map(|s| s.record.labels.iter().map(|l| l.id))
        .filter(|l| !kept_labels.contains(l))
        .collect();
    let shares = diesel::sql_query(
        "SELECT count(DISTINCT s.staff_id) AS n FROM contact_shares s WHERE s.contact_id = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM contact_shares k WHERE k.contact_id = $2 AND k.staff_id = s.staff_id)",
    )
    .bind::<Array<BigInt>, _>(&others)
    .bind::<BigInt, _>(req.kept)
    .get_result::<N>(conn)?
    .n;
    Ok(Counts {
        phones: phones.1.add.len(),
        emails: emails.1.add.len(),
        socials: socials.1.add.len(),
        labels: labels.len(),
        notes: count_in(conn, "notes", &others)?,
        enquiries: count_in(conn, "enquiries", &others)?,
        engagements: count_in(conn, "engagements", &others)?,
        page_views: count_in(conn, "page_views", &others)?,
        shares,
    })
}

/// What a merge did to one list of the kept contact, as (kind, value).
#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct ListChanges {
    /// Values copied from the other records.
    pub added: Vec<(String, String)>,
    /// Its own values the merge marked verified.
    pub verified: Vec<(String, String)>,
}

/// What undo needs besides the moved rows.
#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct Journal {
    /// The kept contact's columns before and after.
    pub before: Columns,
    pub after: Columns,
    /// field id → (before, after)
    pub custom: Vec<(i64, Option<String>, Option<String>)>,
    /// What changed in each list, in `LISTS` order.
    pub lists: [ListChanges; 3],
    pub added_labels: Vec<i64>,
    pub added_shares: Vec<i64>,
    /// The newest email row at the merge: later rows were written after it.
    #[serde(default)]
    pub emails_before: i64,
}

pub enum MergeOutcome {
    Merged {
        merge_id: i64,
    },
    /// Nothing was written; why, in plain words.
    Refused(Vec<String>),
}

/// Why the records cannot be merged as they are now; empty when they can.
/// The records are locked (in id order, so two merges racing over the same
/// record queue rather than deadlock) until the caller's transaction ends.
fn check_and_lock(conn: &mut PgConnection, req: &Request) -> QueryResult<Vec<String>> {
    let mut ids = req.ids.clone();
    ids.sort_unstable();
    let locked: Vec<Contact> = contacts::table
        .filter(contacts::id.eq_any(&ids))
        .order(contacts::id)
        .select(Contact::as_select())
        .for_update()
        .load(conn)?;
    let mut why = Vec::new();
    for id in &req.ids {
        let Some(c) = locked.iter().find(|c| c.id == *id) else {
            why.push(format!("Contact #{id} no longer exists."));
            continue;
        };
        let name = c.display_name();
        if let Some(into) = c.merged_into {
            why.push(format!(
                "{name} has meanwhile been merged into another contact (#{into})."
            ));
        } else if c.deleted_at.is_some() {
            why.push(format!("{name} has meanwhile been moved to the trash."));
        } else if req.versions.get(id).is_some_and(|v| *v != c.version) {
            let fields: Vec<Option<String>> = contact_changes::table
                .filter(contact_changes::contact_id.eq(*id))
                .filter(contact_changes::version.gt(req.versions[id]))
                .order(contact_changes::id)
                .select(contact_changes::field)
                .load(conn)?;
            let mut named: Vec<String> = Vec::new();
            for f in fields.into_iter().flatten() {
                if !named.contains(&f) {
                    named.push(f);
                }
            }
            why.push(if named.is_empty() {
                format!("{name} was changed after you began this merge.")
            } else {
                format!(
                    "{name} was changed after you began this merge: {}.",
                    named.join(", ")
                )
            });
        }
    }
    if req.ids.len() < 2 {
        why.push("Choose at least two contacts to merge.".into());
    }
    if !req.ids.contains(&req.kept) {
        why.push("Choose the contact to keep.".into());
    }
    Ok(why)
}

/// Merges `req.ids` into `req.kept`. Runs inside the caller's transaction;
/// a refusal writes nothing.
pub fn merge(conn: &mut PgConnection, req: &Request) -> QueryResult<MergeOutcome> {
    let why = check_and_lock(conn, req)?;
    if !why.is_empty() {
        return Ok(MergeOutcome::Refused(why));
    }
    let kept = req.kept;
    let others = req.others();
    let sides = load_sides(conn, &req.ids)?;
    let fields = CustomField::all(conn)?;
    let Some(kept_side) = sides.iter().find(|s| s.id() == kept) else {
        return Ok(MergeOutcome::Refused(vec![
            "Choose the contact to keep.".into(),
        ]));
    };
    let before_snapshot = kept_side.record.snapshot(conn, &fields)?;
    let (after_cols, after_custom) = outcome(req, &sides);
    let emails_before: Option<i64> = contact_emails::table
        .select(diesel::dsl::max(contact_emails::id))
        .first(conn)?;
    let mut journal = Journal {
        emails_before: emails_before.unwrap_or(0),
        before: kept_side.columns.clone(),
        after: after_cols.clone(),
        ..Journal::default()
    };
    let merge_id: i64 = diesel::insert_into(merges::table)
        .values((
            merges::kept_id.eq(kept),
            merges::merged_ids.eq(&others),
            merges::staff_id.eq(req.actor),
            merges::journal.eq("{}"),
        ))
        .returning(merges::id)
        .get_result(conn)?;

    let version = set_columns(conn, kept, &after_cols, req.actor)?;
    let mut custom_ids: Vec<i64> = kept_side
        .custom
        .keys()
        .chain(after_custom.keys())
        .copied()
        .collect();
    custom_ids.sort_unstable();
    custom_ids.dedup();
    for f in custom_ids {
        let old = kept_side.custom.get(&f).cloned();
        let new = after_custom.get(&f).cloned();
        if old != new {
            set_custom(conn, kept, f, new.as_deref())?;
            journal.custom.push((f, old, new));
        }
    }

    // Phones, emails and social IDs: the others' values the kept contact
    // lacks are copied (the others keep theirs, for undo), and verified wins.
    for (((col, table, column, _), (_, union)), changes) in LISTS
        .iter()
        .zip(unions(req, &sides))
        .zip(journal.lists.iter_mut())
    {
        let base = items(&kept_side.record, *col).len() as i32;
        for (n, item) in union.add.iter().enumerate() {
            diesel::sql_query(format!(
                "INSERT INTO {table} (contact_id, kind, {column}, position, verified) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind::<BigInt, _>(kept)
            .bind::<Text, _>(&item.kind)
            .bind::<Text, _>(&item.value)
            .bind::<Integer, _>(base + n as i32)
            .bind::<Bool, _>(item.verified)
            .execute(conn)?;
            changes.added.push((item.kind.clone(), item.value.clone()));
        }
        for id in &union.verify {
            let kv: KindValue = diesel::sql_query(format!(
                "UPDATE {table} SET verified = true WHERE id = $1 RETURNING kind, {column} AS value"
            ))
            .bind::<BigInt, _>(*id)
            .get_result(conn)?;
            changes.verified.push((kv.kind, kv.value));
        }
    }

    let labels: Vec<i64> = sides
        .iter()
        .filter(|s| s.id() != kept)
        .flat_map(|s| s.record.labels.iter().map(|l| l.id))
        .collect();
    journal.added_labels = diesel::insert_into(contact_labels::table)
        .values(
            labels
                .iter()
                .map(|l| {
                    (
                        contact_labels::contact_id.eq(kept),
                        contact_labels::label_id.eq(*l),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .on_conflict_do_nothing()
        .returning(contact_labels::label_id)
        .get_results(conn)?;

    // Whoever a merged record was shared with, or who owned it, keeps
    // seeing the person under Restricted visibility.
    let owner: Option<i64> = after_cols[15].as_deref().and_then(|o| o.parse().ok());
    journal.added_shares = diesel::sql_query(
        "INSERT INTO contact_shares (contact_id, staff_id, shared_by, message, shared_at) \
         SELECT $1, w.staff_id, w.shared_by, w.message, w.shared_at FROM ( \
           SELECT s.staff_id, s.shared_by, s.message, s.shared_at FROM contact_shares s WHERE s.contact_id = ANY($2) \
           UNION ALL SELECT c.owner_id, $4, 'Their contact was merged into this one.', now() \
             FROM contacts c WHERE c.id = ANY($2) AND c.owner_id IS NOT NULL) w \
         WHERE w.staff_id IS DISTINCT FROM $3 \
         ON CONFLICT DO NOTHING RETURNING staff_id AS n",
    )
    .bind::<BigInt, _>(kept)
    .bind::<Array<BigInt>, _>(&others)
    .bind::<Nullable<BigInt>, _>(owner)
    .bind::<Nullable<BigInt>, _>(req.actor)
    .load::<N>(conn)?
    .into_iter()
    .map(|r| r.n)
    .collect();

    for table in MOVED {
        diesel::sql_query(format!(
            "WITH moved AS (UPDATE {table} x SET contact_id = $1 \
                FROM (SELECT id, contact_id AS src FROM {table} WHERE contact_id = ANY($2)) o \
                WHERE x.id = o.id RETURNING x.id, o.src) \
             INSERT INTO merge_moves (merge_id, source_id, kind, ids) \
             SELECT $3, src, '{table}', array_agg(id) FROM moved GROUP BY src"
        ))
        .bind::<BigInt, _>(kept)
        .bind::<Array<BigInt>, _>(&others)
        .bind::<BigInt, _>(merge_id)
        .execute(conn)?;
    }
    diesel::sql_query(
        "WITH moved AS (UPDATE web_visitors x SET contact_id = $1 \
            FROM (SELECT visitor_id, contact_id AS src FROM web_visitors WHERE contact_id = ANY($2)) o \
            WHERE x.visitor_id = o.visitor_id RETURNING x.visitor_id, o.src) \
         INSERT INTO merge_moves (merge_id, source_id, kind, keys) \
         SELECT $3, src, 'web_visitors', array_agg(visitor_id) FROM moved GROUP BY src",
    )
    .bind::<BigInt, _>(kept)
    .bind::<Array<BigInt>, _>(&others)
    .bind::<BigInt, _>(merge_id)
    .execute(conn)?;

    // The merged records are gone from the suggestions; the next pass
    // looks at the kept contact again.
    diesel::sql_query("DELETE FROM duplicate_pairs WHERE a = ANY($1) OR b = ANY($1)")
        .bind::<Array<BigInt>, _>(&others)
        .execute(conn)?;
    refresh_search_text(conn, kept)?;
    let kept_name = display_name(
        after_cols[0].as_deref().unwrap_or(""),
        after_cols[1].as_deref().unwrap_or(""),
    );
    // The merged records leave every list; their own history says where
    // they went.
    let marked: Vec<(i64, i32)> =
        diesel::update(contacts::table.filter(contacts::id.eq_any(&others)))
            .set((
                contacts::merged_into.eq(kept),
                contacts::deleted_at.eq(diesel::dsl::now),
                contacts::deleted_by.eq(req.actor),
                contacts::version.eq(contacts::version + 1),
            ))
            .returning((contacts::id, contacts::version))
            .get_results(conn)?;
    let into = format!("{kept_name} (#{kept})");
    for (id, v) in &marked {
        log_change(
            conn,
            LogEntry {
                contact_id: *id,
                staff_id: req.actor,
                action: "merged_into",
                source: source::MERGE,
                field: None,
                old_value: None,
                new_value: Some(&into),
                version: *v,
                merge_id: Some(merge_id),
            },
        )?;
    }
    let names: Vec<String> = sides
        .iter()
        .filter(|s| s.id() != kept)
        .map(|s| format!("{} (#{})", s.record.contact.display_name(), s.id()))
        .collect();
    let names = names.join(", ");
    let entry = LogEntry {
        contact_id: kept,
        staff_id: req.actor,
        action: "merge",
        source: source::MERGE,
        field: None,
        old_value: None,
        new_value: Some(&names),
        version,
        merge_id: Some(merge_id),
    };
    // The merge's own entry last, so that it heads the log above its fields.
    let after_snapshot = ContactRecord::load(conn, kept)?.snapshot(conn, &fields)?;
    log_field_changes(
        conn,
        &before_snapshot,
        &after_snapshot,
        LogEntry {
            action: "update",
            new_value: None,
            ..entry
        },
    )?;
    log_change(conn, entry)?;
    let journal = serde_json::to_string(&journal)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::update(merges::table.find(merge_id))
        .set(merges::journal.eq(journal))
        .execute(conn)?;
    Ok(MergeOutcome::Merged { merge_id })
}

/// Writes the chosen columns onto contact `id`, bumping its version.
fn set_columns(
    conn: &mut PgConnection,
    id: i64,
    cols: &Columns,
    actor: Option<i64>,
) -> QueryResult<i32> {
    let mut sets: Vec<String> = Vec::new();
    for (i, c) in COLUMNS.iter().enumerate() {
        let cast = match *c {
            "birth_date" => "::date",
            "owner_id" => "::bigint",
            _ => "",
        };
        sets.push(format!("{c} = ${}{cast}", i + 2));
    }
    let sql = format!(
        "UPDATE contacts SET {}, version = version + 1, updated_at = now(), updated_by = $18 \
         WHERE id = $1 RETURNING version AS n",
        sets.join(", ")
    );
    let mut q = diesel::sql_query(sql).into_boxed().bind::<BigInt, _>(id);
    for c in cols.iter().take(COLUMNS.len()) {
        q = q.bind::<Nullable<Text>, _>(c.clone());
    }
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        n: i32,
    }
    q.bind::<Nullable<BigInt>, _>(actor)
        .get_result::<V>(conn)
        .map(|v| v.n)
}

fn set_custom(
    conn: &mut PgConnection,
    id: i64,
    field: i64,
    value: Option<&str>,
) -> QueryResult<()> {
    match value {
        Some(v) => diesel::insert_into(custom_field_values::table)
            .values((
                custom_field_values::contact_id.eq(id),
                custom_field_values::field_id.eq(field),
                custom_field_values::value.eq(v),
            ))
            .on_conflict((
                custom_field_values::contact_id,
                custom_field_values::field_id,
            ))
            .do_update()
            .set(custom_field_values::value.eq(v))
            .execute(conn)
            .map(drop),
        None => diesel::delete(
            custom_field_values::table
                .filter(custom_field_values::contact_id.eq(id))
                .filter(custom_field_values::field_id.eq(field)),
        )
        .execute(conn)
        .map(drop),
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = merges, check_for_backend(diesel::pg::Pg))]
pub struct Merge {
    pub id: i64,
    pub kept_id: i64,
    pub merged_ids: Vec<i64>,
    pub staff_id: Option<i64>,
    pub journal: String,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<i64>,
}

impl Merge {
    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Merge> {
        merges::table
            .find(id)
            .select(Merge::as_select())
            .first(conn)
    }

    /// The newest merges first, for administrators.
    pub fn recent(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Merge>> {
        merges::table
            .order((merges::created_at.desc(), merges::id.desc()))
            .limit(limit)
            .select(Merge::as_select())
            .load(conn)
    }
}

/// Why merge `m` cannot be undone exactly now; empty when it can.
pub fn undo_blockers(conn: &mut PgConnection, m: &Merge) -> QueryResult<Vec<String>> {
    let mut why = Vec::new();
    let journal: Journal = serde_json::from_str(&m.journal).unwrap_or_default();
    if m.undone_at.is_some() {
        why.push("This merge has already been undone.".to_string());
        return Ok(why);
    }
    let kept: Contact = contacts::table
        .find(m.kept_id)
        .select(Contact::as_select())
        .first(conn)?;
    if let Some(into) = kept.merged_into {
        why.push(format!(
            "{} was later merged into another contact (#{into}): undo that merge first.",
            kept.display_name()
        ));
    } else if kept.deleted_at.is_some() {
        why.push(format!(
            "{} is in the trash: restore it first.",
            kept.display_name()
        ));
    }
    let later: Vec<i64> = merges::table
        .filter(merges::kept_id.eq(m.kept_id))
        .filter(merges::id.gt(m.id))
        .filter(merges::undone_at.is_null())
        .select(merges::id)
        .load(conn)?;
    if !later.is_empty() {
        why.push(format!(
            "{} took in more records in a later merge, which builds on this one: undo the later merge first.",
            kept.display_name()
        ));
    }
    // A merged record's email that a third contact now has: restoring it
    // would make two live contacts share it.
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = Text)]
        email: String,
        #[diesel(sql_type = Text)]
        first_name: String,
        #[diesel(sql_type = Text)]
        last_name: String,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let taken: Vec<Taken> = diesel::sql_query(
        "SELECT DISTINCT ON (lower(mine.email)) mine.email, c.first_name, c.last_name, c.id \
         FROM contact_emails mine \
         JOIN contact_emails other ON lower(other.email) = lower(mine.email) \
         JOIN contacts c ON c.id = other.contact_id AND c.deleted_at IS NULL \
         WHERE mine.contact_id = ANY($1) AND c.id <> $2 AND NOT c.id = ANY($1) AND other.id > $3 \
         ORDER BY lower(mine.email), c.id",
    )
    .bind::<Array<BigInt>, _>(&m.merged_ids)
    .bind::<BigInt, _>(m.kept_id)
    .bind::<BigInt, _>(journal.emails_before)
    .load(conn)?;
    for t in taken {
        why.push(format!(
            "{} now belongs to {} (#{}), which was created or changed after the merge.",
            t.email,
            display_name(&t.first_name, &t.last_name),
            t.id
        ));
    }
    let gone: i64 = contacts::table
        .filter(contacts::id.eq_any(&m.merged_ids))
        .filter(contacts::merged_into.eq(m.kept_id))
        .count()
        .get_result(conn)?;
    if gone != m.merged_ids.len() as i64 {
        why.push("A merged record is no longer there to restore.".into());
    }
    Ok(why)
}

pub enum UndoOutcome {
    Undone { restored: Vec<i64> },
    Refused(Vec<String>),
}

/// Undoes merge `merge_id`: the merged records come back as they were and
/// take back what was theirs; what the kept contact gained from them goes,
/// unless changed since. Runs inside the caller's transaction.
pub fn undo(
    conn: &mut PgConnection,
    merge_id: i64,
    actor: Option<i64>,
) -> QueryResult<UndoOutcome> {
    let m: Merge = merges::table
        .find(merge_id)
        .select(Merge::as_select())
        .for_update()
        .first(conn)?;
    let mut ids = m.merged_ids.clone();
    ids.push(m.kept_id);
    ids.sort_unstable();
    contacts::table
        .filter(contacts::id.eq_any(&ids))
        .order(contacts::id)
        .select(contacts::id)
        .for_update()
        .load::<i64>(conn)?;
    let why = undo_blockers(conn, &m)?;
    if !why.is_empty() {
        return Ok(UndoOutcome::Refused(why));
    }
    let journal: Journal = serde_json::from_str(&m.journal)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    let kept = m.kept_id;
    let fields = CustomField::all(conn)?;
    let before = ContactRecord::load(conn, kept)?;
    let before_snapshot = before.snapshot(conn, &fields)?;

    // Fields: a value the merge set and nobody changed since goes back; a
    // later edit stays.
    let now = columns(&before.contact);
    let mut cols = now.clone();
    for (_, _, range) in FIELDS.iter() {
        let range = range.clone();
        if now[range.clone()] == journal.after[range.clone()] {
            for i in range {
                cols[i] = journal.before[i].clone();
            }
        }
    }
    let version = set_columns(conn, kept, &cols, actor)?;
    let current_custom: HashMap<i64, String> = before.custom.iter().cloned().collect();
    for (f, old, new) in &journal.custom {
        if current_custom.get(f) == new.as_ref() {
            set_custom(conn, kept, *f, old.as_deref())?;
        }
    }

    // What the merge added goes; the merged records still hold theirs.
    for ((_, table, column, by_kind), changes) in LISTS.iter().zip(&journal.lists) {
        let same = format!("contact_id = $1 AND {column} = $2 AND ($3::text IS NULL OR kind = $3)");
        for (sql, values) in [
            (format!("DELETE FROM {table} WHERE {same}"), &changes.added),
            (
                format!("UPDATE {table} SET verified = false WHERE {same}"),
                &changes.verified,
            ),
        ] {
            for (kind, value) in values {
                diesel::sql_query(&sql)
                    .bind::<BigInt, _>(kept)
                    .bind::<Text, _>(value)
                    .bind::<Nullable<Text>, _>(by_kind.then_some(kind))
                    .execute(conn)?;
            }
        }
    }
    diesel::delete(
        contact_labels::table
            .filter(contact_labels::contact_id.eq(kept))
            .filter(contact_labels::label_id.eq_any(&journal.added_labels)),
    )
    .execute(conn)?;
    diesel::delete(
        contact_shares::table
            .filter(contact_shares::contact_id.eq(kept))
            .filter(contact_shares::staff_id.eq_any(&journal.added_shares)),
    )
    .execute(conn)?;

    // What moved goes back, where it is still with the kept contact.
    for table in MOVED {
        diesel::sql_query(format!(
            "UPDATE {table} x SET contact_id = mm.source_id FROM merge_moves mm, unnest(mm.ids) AS moved(id) \
             WHERE mm.merge_id = $1 AND mm.kind = '{table}' AND x.id = moved.id AND x.contact_id = $2"
        ))
        .bind::<BigInt, _>(merge_id)
        .bind::<BigInt, _>(kept)
        .execute(conn)?;
    }
    diesel::sql_query(
        "UPDATE web_visitors x SET contact_id = mm.source_id FROM merge_moves mm, unnest(mm.keys) AS moved(key) \
         WHERE mm.merge_id = $1 AND mm.kind = 'web_visitors' AND x.visitor_id = moved.key AND x.contact_id = $2",
    )
    .bind::<BigInt, _>(merge_id)
    .bind::<BigInt, _>(kept)
    .execute(conn)?;

    let restored: Vec<(i64, i32)> = diesel::update(
        contacts::table
            .filter(contacts::id.eq_any(&m.merged_ids))
            .filter(contacts::merged_into.eq(kept)),
    )
    .set((
        contacts::merged_into.eq(None::<i64>),
        contacts::deleted_at.eq(None::<DateTime<Utc>>),
        contacts::deleted_by.eq(None::<i64>),
        contacts::version.eq(contacts::version + 1),
        // Changed now, so the next duplicate pass looks at them again.
        contacts::updated_at.eq(diesel::dsl::now),
    ))
    .returning((contacts::id, contacts::version))
    .get_results(conn)?;
    refresh_search_text(conn, kept)?;
    let kept_name = ContactRecord::load(conn, kept)?.contact.display_name();
    let from = format!("{kept_name} (#{kept})");
    for (id, v) in &restored {
        log_change(
            conn,
            LogEntry {
                contact_id: *id,
                staff_id: actor,
                action: "unmerged",
                source: source::MERGE,
                field: None,
                old_value: None,
                new_value: Some(&from),
                version: *v,
                merge_id: Some(merge_id),
            },
        )?;
    }
    let names: Vec<String> = contacts::table
        .filter(contacts::id.eq_any(&m.merged_ids))
        .order(contacts::id)
        .select((contacts::id, contacts::first_name, contacts::last_name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, f, l)| format!("{} (#{id})", display_name(&f, &l)))
        .collect();
    let names = names.join(", ");
    let entry = LogEntry {
        contact_id: kept,
        staff_id: actor,
        action: "unmerge",
        source: source::MERGE,
        field: None,
        old_value: None,
        new_value: Some(&names),
        version,
        merge_id: Some(merge_id),
    };
    // The merge's own entry last, so that it heads the log above its fields.
    let after_snapshot = ContactRecord::load(conn, kept)?.snapshot(conn, &fields)?;
    log_field_changes(
        conn,
        &before_snapshot,
        &after_snapshot,
        LogEntry {
            action: "update",
            new_value: None,
            ..entry
        },
    )?;
    log_change(conn, entry)?;
    diesel::update(merges::table.find(merge_id))
        .set((
            merges::undone_at.eq(Some(Utc::now())),
            merges::undone_by.eq(actor),
        ))
        .execute(conn)?;
    Ok(UndoOutcome::Undone {
        restored: restored.into_iter().map(|(id, _)| id).collect(),
    })
}

/// Where a merged record's links lead: the live contact at the end of its
/// merges (a kept contact may itself have been merged later).
pub fn final_target(conn: &mut PgConnection, id: i64) -> QueryResult<Option<i64>> {
    let mut at = id;
    for _ in 0..16 {
        let next: Option<Option<i64>> = contacts::table
            .find(at)
            .select(contacts::merged_into)
            .first(conn)
            .optional()?;
        match next {
            Some(Some(n)) => at = n,
            Some(None) if at != id => return Ok(Some(at)),
            _ => return Ok(None),
        }
    }
    Ok(None)
}
