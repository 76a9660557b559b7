//! Update mode: which contact a file row updates. A row is matched by its
//! `ContactBook ID`, else by its emails, else by its phones; a row whose
//! values belong to several contacts, or that resolves to a contact an
//! earlier row of the same file already took, fails instead of guessing.
//! The job and the preview's dry run both decide through `resolve`.

use std::collections::{HashMap, HashSet};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use serde::{Deserialize, Serialize};

use crate::domain::contact::ContactInput;
use crate::import::header::{Column, ID_COLUMN};
use crate::import::merge;
use crate::import::row::ParsedRow;
use crate::models::contact::{ContactRecord, display_name};

/// What one row of an update import does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// No contact has the row's ID, emails or phones.
    Create,
    /// The row updates this contact (or leaves it as it is).
    Existing(i64),
    /// The row is refused with this message.
    Fail(String),
}

/// What the database (and the rows before) know about the keys of the rows
/// being resolved.
#[derive(Default, Debug)]
pub struct Lookup {
    /// A `ContactBook ID` given in the file → the live contact it stands for
    /// (a merged record's id stands for the contact it was merged into), or
    /// why it stands for none.
    pub ids: HashMap<i64, Result<i64, String>>,
    /// Lower-cased email → the live contacts having it.
    pub emails: HashMap<String, Vec<i64>>,
    /// `+digits` → the live contacts having it.
    pub phones: HashMap<String, Vec<i64>>,
    /// Names of contacts that a message may have to name.
    pub names: HashMap<i64, String>,
    /// Contact → the record number of the earlier row that took it.
    pub claimed: HashMap<i64, i64>,
    /// What rows of earlier batches took, when a whole file is planned in
    /// memory (the preview); `claimed` holds this batch's.
    pub earlier: Claims,
    /// Contacts found that the importing member may not see (Restricted
    /// visibility): never updated, never named.
    pub hidden: HashSet<i64>,
}

/// For each of a row's values that belongs to contacts: its column, the
/// value as the row gives it, and the contacts.
type KeyHits<'a> = Vec<(&'static str, &'a str, Vec<i64>)>;

/// How many contacts a message names before it says "and N more".
const NAMED: usize = 3;

impl Lookup {
    fn describe(&self, ids: &[i64]) -> String {
        let mut parts: Vec<String> = ids
            .iter()
            .take(NAMED)
            .map(|id| match self.names.get(id) {
                _ if self.hidden.contains(id) => "a contact you cannot see".to_string(),
                Some(name) => format!("#{id} {name}"),
                None => format!("#{id}"),
            })
            .collect();
        if ids.len() > NAMED {
            parts.push(format!("and {} more", ids.len() - NAMED));
        }
        parts.join(", ")
    }

    /// The contacts having any of `keys` in `map`, each key with its hits.
    fn hits<'a>(
        map: &HashMap<String, Vec<i64>>,
        keys: impl Iterator<Item = (&'static str, &'a str, String)>,
    ) -> (Vec<i64>, KeyHits<'a>) {
        let mut all: Vec<i64> = Vec::new();
        let mut by_key = Vec::new();
        for (column, shown, key) in keys {
            if let Some(found) = map.get(&key).filter(|f| !f.is_empty()) {
                all.extend(found);
                by_key.push((column, shown, found.clone()));
            }
        }
        all.sort_unstable();
        all.dedup();
        (all, by_key)
    }

    /// The message for a row whose values belong to several contacts.
    fn ambiguous(&self, all: &[i64], by_key: &[(&str, &str, Vec<i64>)]) -> String {
        let who = self.describe(all);
        match by_key {
            [(column, value, found)] if found.len() == all.len() => format!(
                "{column}: {value} belongs to {} contacts ({who}); add the {ID_COLUMN} column to choose",
                all.len()
            ),
            _ => {
                let values: Vec<String> = by_key
                    .iter()
                    .map(|(column, value, _)| format!("{column}: {value}"))
                    .collect();
                format!(
                    "{} belong to {} different contacts ({who}); add the {ID_COLUMN} column to choose",
                    values.join(" and "),
                    all.len()
                )
            }
        }
    }

    /// Decides what `row` updates, by the contract's order: ID, emails,
    /// phones. Does not record the claim: see `claim`.
    pub fn resolve(&self, row: &ParsedRow) -> Resolution {
        let (column, shown, contact) = if let Some(id) = row.id {
            match self.ids.get(&id) {
                Some(Ok(contact)) => (ID_COLUMN, id.to_string(), *contact),
                Some(Err(why)) => return Resolution::Fail(format!("{ID_COLUMN}: {why}")),
                None => {
                    return Resolution::Fail(format!(
                        "{ID_COLUMN}: {id} is not a contact in this database"
                    ));
                }
            }
        } else {
            let emails = row.input.emails.iter().map(|e| {
                (
                    Column::Email(e.kind).name(),
                    e.email.as_str(),
                    e.email.as_str().to_lowercase(),
                )
            });
            let (mut all, mut by_key) = Self::hits(&self.emails, emails);
            if all.is_empty() {
                let phones = row.input.phones.iter().map(|p| {
                    (
                        Column::Phone(p.kind).name(),
                        p.number.as_str(),
                        p.number.as_str().to_string(),
                    )
                });
                (all, by_key) = Self::hits(&self.phones, phones);
            }
            match all.as_slice() {
                [] => return Resolution::Create,
                [one] => {
                    let (column, value, _) = &by_key[0];
                    (*column, value.to_string(), *one)
                }
                _ => return Resolution::Fail(self.ambiguous(&all, &by_key)),
            }
        };
        if self.hidden.contains(&contact) {
            return Resolution::Fail(format!(
                "{column}: {shown} belongs to a contact you cannot see"
            ));
        }
        match self
            .claimed
            .get(&contact)
            .copied()
            .or_else(|| self.earlier.get(contact))
        {
            Some(earlier) => Resolution::Fail(format!(
                "{column}: {shown} updates the same contact as row {earlier}"
            )),
            None => Resolution::Existing(contact),
        }
    }

    /// Records that row `row_no` took `contact`, and that the row's emails
    /// and phones now lead to it, as they will once the row is written.
    pub fn claim(&mut self, contact: i64, row_no: i64, row: &ParsedRow) {
        self.claimed.insert(contact, row_no);
        for key in emails_of(row) {
            add_hit(self.emails.entry(key).or_default(), contact);
        }
        for key in phones_of(row) {
            add_hit(self.phones.entry(key).or_default(), contact);
        }
    }
}

/// The contacts a file's rows have taken so far, as sorted ids with their
/// rows' record numbers: 12 bytes a contact, where a hash map of a million
/// took 36 MB and 53 MB while it last doubled (the preview's high-water
/// mark in an update of every contact).
#[derive(Default, Debug)]
pub struct Claims {
    ids: Vec<i64>,
    rows: Vec<u32>,
}

impl Claims {
    /// The record number of the row that took `contact`. A contact a row
    /// will create stands in as minus that row's number (see `DryRun`), so
    /// its row is known without keeping it.
    pub fn get(&self, contact: i64) -> Option<i64> {
        if contact < 0 {
            return Some(-contact);
        }
        let i = self.ids.binary_search(&contact).ok()?;
        Some(self.rows[i].into())
    }

    /// Adds a batch's claims (contacts no earlier batch took), keeping the
    /// ids sorted: merged from the back, in place.
    pub fn settle(&mut self, batch: &HashMap<i64, i64>) {
        let mut new: Vec<(i64, u32)> = batch
            .iter()
            .filter(|(contact, _)| **contact > 0)
            .map(|(contact, row)| (*contact, u32::try_from(*row).unwrap_or(u32::MAX)))
            .collect();
        new.sort_unstable();
        let old = self.ids.len();
        self.ids.resize(old + new.len(), 0);
        self.rows.resize(old + new.len(), 0);
        let (mut i, mut j) = (old, new.len());
        for k in (0..old + new.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.ids[i - 1] > new[j - 1].0 {
                i -= 1;
                self.ids[k] = self.ids[i];
                self.rows[k] = self.rows[i];
            } else {
                j -= 1;
                (self.ids[k], self.rows[k]) = new[j];
            }
        }
    }
}

pub(crate) fn add_hit(list: &mut Vec<i64>, contact: i64) {
    if !list.contains(&contact) {
        list.push(contact);
        list.sort_unstable();
    }
}

pub(crate) fn emails_of(row: &ParsedRow) -> impl Iterator<Item = String> + '_ {
    row.input
        .emails
        .iter()
        .map(|e| e.email.as_str().to_lowercase())
}

pub(crate) fn phones_of(row: &ParsedRow) -> impl Iterator<Item = String> + '_ {
    row.input
        .phones
        .iter()
        .map(|p| p.number.as_str().to_string())
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Bool)]
    trashed: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    merged_into: Option<i64>,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
}

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
    #[diesel(sql_type = BigInt)]
    row_no: i64,
}

/// How far a chain of merges is followed from an ID in a file.
const MERGE_HOPS: usize = 8;

/// Which rows' emails and phones `load` looks up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Every row's: the preview's overlay keeps only what the database does
    /// not already say, so it must know what the database says.
    All,
    /// Only those of rows without an ID: a row with one is matched by it
    /// alone (an export re-imported needs no lookup).
    WithoutId,
}

/// A running job's record of the contacts its committed batches took
/// (`import_matches`), and the highest contact id any earlier batch of
/// this run took, or the record held when the run began: a contact above
/// it cannot be in the record, and is not looked up there.
#[derive(Clone, Copy)]
pub struct ClaimRecord {
    pub import_id: i64,
    pub highest: i64,
}

/// Adds to `lookup` what the database says about the keys of `rows`: their
/// IDs, emails and phones (as `keys` says), the names a message may need,
/// and, for a running job, which of the contacts found earlier batches of
/// the file took.
pub fn load(
    conn: &mut PgConnection,
    lookup: &mut Lookup,
    rows: &[&ParsedRow],
    keys: Keys,
    claims: Option<ClaimRecord>,
    visible_to: Option<i64>,
) -> QueryResult<()> {
    load_ids(conn, lookup, rows.iter().filter_map(|r| r.id).collect())?;
    let keyed = || {
        rows.iter()
            .filter(move |r| keys == Keys::All || r.id.is_none())
    };
    let emails: Vec<String> = keyed().flat_map(|r| emails_of(r)).collect();
    let phones: Vec<String> = keyed().flat_map(|r| phones_of(r)).collect();
    let found: Vec<KeyRow> = if emails.is_empty() {
        Vec::new()
    } else {
        diesel::sql_query(
            "SELECT lower(e.email) AS key, e.contact_id FROM contact_emails e \
             JOIN contacts c ON c.id = e.contact_id AND c.deleted_at IS NULL AND c.merged_into IS NULL \
             WHERE lower(e.email) = ANY($1)",
        )
        .bind::<Array<Text>, _>(&emails)
        .load(conn)?
    };
    for k in found {
        add_hit(lookup.emails.entry(k.key).or_default(), k.contact_id);
    }
    let found: Vec<KeyRow> = if phones.is_empty() {
        Vec::new()
    } else {
        diesel::sql_query(
            "SELECT p.number AS key, p.contact_id FROM contact_phones p \
             JOIN contacts c ON c.id = p.contact_id AND c.deleted_at IS NULL AND c.merged_into IS NULL \
             WHERE p.number = ANY($1)",
        )
        .bind::<Array<Text>, _>(&phones)
        .load(conn)?
    };
    for k in found {
        add_hit(lookup.phones.entry(k.key).or_default(), k.contact_id);
    }
    // Names only for contacts that share a value with another: the only
    // ones a message names.
    let shared: HashSet<i64> = lookup
        .emails
        .values()
        .chain(lookup.phones.values())
        .filter(|hits| hits.len() > 1)
        .flatten()
        .copied()
        .filter(|id| *id > 0 && !lookup.names.contains_key(id))
        .collect();
    if !shared.is_empty() {
        let ids: Vec<i64> = shared.into_iter().collect();
        let named: Vec<NameRow> =
            diesel::sql_query("SELECT id, first_name, last_name FROM contacts WHERE id = ANY($1)")
                .bind::<Array<BigInt>, _>(&ids)
                .load(conn)?;
        for n in named {
            lookup
                .names
                .insert(n.id, display_name(&n.first_name, &n.last_name));
        }
    }
    if visible_to.is_some() {
        let found: Vec<i64> = lookup
            .ids
            .values()
            .filter_map(|r| r.as_ref().ok().copied())
            .chain(lookup.emails.values().flatten().copied())
            .chain(lookup.phones.values().flatten().copied())
            .filter(|id| *id > 0)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let visible = crate::models::visibility::visible_ids(conn, visible_to, &found)?;
        lookup
            .hidden
            .extend(found.into_iter().filter(|id| !visible.contains(id)));
    }
    if let Some(ClaimRecord { import_id, highest }) = claims {
        // A file exported in id order and imported back takes its contacts
        // in rising order: each batch's are above every earlier one's, and
        // the look-up is skipped.
        let candidates: Vec<i64> = lookup
            .ids
            .values()
            .filter_map(|r| r.as_ref().ok().copied())
            .chain(lookup.emails.values().flatten().copied())
            .chain(lookup.phones.values().flatten().copied())
            .filter(|id| *id <= highest)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let claims: Vec<ClaimRow> = diesel::sql_query(
            "SELECT contact_id, row_no FROM import_matches \
             WHERE import_id = $1 AND contact_id = ANY($2)",
        )
        .bind::<BigInt, _>(import_id)
        .bind::<Array<BigInt>, _>(&candidates)
        .load(conn)?;
        for c in claims {
            lookup.claimed.insert(c.contact_id, c.row_no);
        }
    }
    Ok(())
}

/// Resolves IDs given in a file, following merges to the contact kept.
fn load_ids(conn: &mut PgConnection, lookup: &mut Lookup, given: Vec<i64>) -> QueryResult<()> {
    let given: Vec<i64> = given
        .into_iter()
        .filter(|id| !lookup.ids.contains_key(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    // id → (trashed, merged into), for the given ids and the records they
    // were merged into.
    let mut known: HashMap<i64, (bool, Option<i64>)> = HashMap::new();
    let mut wanted = given.clone();
    for _ in 0..MERGE_HOPS {
        if wanted.is_empty() {
            break;
        }
        let rows: Vec<IdRow> = diesel::sql_query(
            "SELECT id, deleted_at IS NOT NULL AS trashed, merged_into FROM contacts WHERE id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(&wanted)
        .load(conn)?;
        wanted.clear();
        for r in rows {
            if let Some(next) = r.merged_into
                && !known.contains_key(&next)
            {
                wanted.push(next);
            }
            known.insert(r.id, (r.trashed, r.merged_into));
        }
    }
    for id in given {
        let mut at = id;
        let outcome = loop {
            match known.get(&at) {
                None if at == id => break Err(format!("{id} is not a contact in this database")),
                None => break Err(format!("{id} was merged into a contact that is gone")),
                // A merged record is out of the lists like a trashed one,
                // but its ID leads on to the contact it was merged into.
                Some((_, Some(next))) if *next != at => at = *next,
                Some((true, _)) if at == id => {
                    break Err(format!(
                        "{id} is in the trash; restore it or leave the ID out to create a new contact"
                    ));
                }
                Some((true, _)) => {
                    break Err(format!("{id} was merged into #{at}, which is in the trash"));
                }
                Some((false, Some(next))) if *next != at => at = *next,
                Some((false, _)) => break Ok(at),
            }
        };
        lookup.ids.insert(id, outcome);
    }
    Ok(())
}

/// Counts rows whose `ContactBook ID` is one of this database's live
/// contacts: in create mode the preview warns that they would be copied.
pub fn count_existing_ids(
    conn: &mut PgConnection,
    rows: &[&ParsedRow],
    visible_to: Option<i64>,
) -> QueryResult<i64> {
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.id).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    // Only the ones this member may see: the warning must not reveal others.
    let visible = crate::models::visibility::visible_ids(conn, visible_to, &ids)?;
    let ids: Vec<i64> = ids.into_iter().filter(|id| visible.contains(id)).collect();
    let live: HashSet<i64> = diesel::sql_query(
        "SELECT id, false AS trashed, merged_into FROM contacts \
         WHERE id = ANY($1) AND deleted_at IS NULL",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .load::<IdRow>(conn)?
    .into_iter()
    .map(|r| r.id)
    .collect();
    Ok(ids.iter().filter(|id| live.contains(id)).count() as i64)
}

/// The preview's dry run: resolves and merges every valid row as the job
/// will, writing nothing, and keeps what it found in `summary`.
pub struct DryRun<'c> {
    conn: &'c mut PgConnection,
    update_mode: bool,
    /// Lower-cased label name → id; a label the import would create gets a
    /// negative stand-in, so that adding it counts as a change.
    labels: HashMap<String, i64>,
    extra_labels: Vec<i64>,
    custom: Vec<(i64, String)>,
    /// What earlier rows took, and the values they lead to once written.
    claimed: Claims,
    overlay_emails: HashMap<String, Vec<i64>>,
    overlay_phones: HashMap<String, Vec<i64>>,
    /// The importing member, when they may see only some contacts.
    visible_to: Option<i64>,
    pub summary: PlanSummary,
    /// The first rows that fail matching: (record number, why).
    pub failures: Vec<(i64, String)>,
}

#[derive(QueryableByName)]
struct LabelName {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

impl<'c> DryRun<'c> {
    pub fn new(
        conn: &'c mut PgConnection,
        update_mode: bool,
        extra_labels: Vec<i64>,
        custom: Vec<(i64, String)>,
        visible_to: Option<i64>,
    ) -> QueryResult<DryRun<'c>> {
        let labels = diesel::sql_query("SELECT id, lower(name) AS name FROM labels")
            .load::<LabelName>(conn)?
            .into_iter()
            .map(|l| (l.name, l.id))
            .collect();
        Ok(DryRun {
            conn,
            update_mode,
            labels,
            extra_labels,
            custom,
            claimed: Claims::default(),
            overlay_emails: HashMap::new(),
            overlay_phones: HashMap::new(),
            visible_to,
            summary: PlanSummary::default(),
            failures: Vec::new(),
        })
    }

    fn label_ids(&mut self, names: &[String]) -> Vec<i64> {
        let mut ids: Vec<i64> = self.extra_labels.clone();
        for name in names {
            let next = -(self.labels.len() as i64) - 1;
            ids.push(*self.labels.entry(name.to_lowercase()).or_insert(next));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Plans the next rows of the file, in file order.
    pub fn rows(&mut self, rows: &[(i64, ParsedRow)]) -> QueryResult<()> {
        let parsed: Vec<&ParsedRow> = rows.iter().map(|(_, r)| r).collect();
        for name in parsed.iter().flat_map(|r| r.labels.iter()) {
            let key = name.to_lowercase();
            if self.labels.contains_key(&key) {
                continue;
            }
            let stand_in = -(self.labels.len() as i64) - 1;
            self.labels.insert(key, stand_in);
            if self.summary.new_labels.len() < NEW_LABELS_LISTED {
                self.summary.new_labels.push(name.clone());
            } else {
                self.summary.more_new_labels += 1;
            }
        }
        if !self.update_mode {
            self.summary.create += rows.len() as i64;
            self.summary.existing_ids += count_existing_ids(self.conn, &parsed, self.visible_to)?;
            return Ok(());
        }
        let mut lookup = Lookup::default();
        load(
            self.conn,
            &mut lookup,
            &parsed,
            Keys::All,
            None,
            self.visible_to,
        )?;
        // Only this batch's keys: the overlay can hold a whole file's.
        for key in parsed.iter().flat_map(|r| emails_of(r)) {
            for h in self.overlay_emails.get(&key).into_iter().flatten() {
                add_hit(lookup.emails.entry(key.clone()).or_default(), *h);
            }
        }
        for key in parsed.iter().flat_map(|r| phones_of(r)) {
            for h in self.overlay_phones.get(&key).into_iter().flatten() {
                add_hit(lookup.phones.entry(key.clone()).or_default(), *h);
            }
        }
        lookup.earlier = std::mem::take(&mut self.claimed);
        let mut matched = Vec::new();
        for (row_no, row) in rows {
            let contact = match lookup.resolve(row) {
                Resolution::Fail(why) => {
                    self.summary.failed += 1;
                    if self.failures.len() < crate::import::PREVIEW_ERRORS {
                        self.failures.push((*row_no, why));
                    }
                    continue;
                }
                Resolution::Create => {
                    self.summary.create += 1;
                    // A stand-in id: later rows that resolve to it fail.
                    -row_no
                }
                Resolution::Existing(id) => id,
            };
            // What the database (or the overlay) already says needs no
            // overlay entry: a file that updates contacts with their own
            // emails and phones adds none, however long it is.
            for key in emails_of(row) {
                if !lookup
                    .emails
                    .get(&key)
                    .is_some_and(|h| h.contains(&contact))
                {
                    add_hit(self.overlay_emails.entry(key).or_default(), contact);
                }
            }
            for key in phones_of(row) {
                if !lookup
                    .phones
                    .get(&key)
                    .is_some_and(|h| h.contains(&contact))
                {
                    add_hit(self.overlay_phones.entry(key).or_default(), contact);
                }
            }
            lookup.claim(contact, *row_no, row);
            if contact > 0 {
                matched.push((*row_no, contact, row));
            }
        }
        self.claimed = std::mem::take(&mut lookup.earlier);
        self.claimed.settle(&lookup.claimed);
        let ids: Vec<i64> = matched.iter().map(|(_, id, _)| *id).collect();
        let mut records = ContactRecord::load_many(self.conn, &ids, false)?;
        for (row_no, contact, row) in matched {
            let Some(record) = records.remove(&contact) else {
                continue;
            };
            let current = merge::input_of(&record);
            let label_ids = self.label_ids(&row.labels);
            let merged = merge::merge(&current, row, &label_ids);
            if merged == current {
                self.summary.unchanged += 1;
                continue;
            }
            self.summary.update += 1;
            if self.summary.updates.len() < PREVIEW_UPDATES {
                self.summary.updates.push(PlannedUpdate {
                    row: row_no,
                    contact_id: contact,
                    name: record.contact.display_name(),
                    fields: changed_fields(&current, &merged, &self.custom),
                });
            }
        }
        Ok(())
    }
}

/// What the preview's dry run found; stored with the import as JSON.
#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    pub create: i64,
    pub update: i64,
    pub unchanged: i64,
    /// Rows that pass the rules but fail matching.
    pub failed: i64,
    /// Rows carrying the ID of a live contact (counted in create mode).
    pub existing_ids: i64,
    /// The first contacts that will be updated.
    pub updates: Vec<PlannedUpdate>,
    /// Labels the file names that do not exist yet: the import creates them.
    #[serde(default)]
    pub new_labels: Vec<String>,
    /// How many more new labels than `new_labels` lists.
    #[serde(default)]
    pub more_new_labels: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpdate {
    pub row: i64,
    pub contact_id: i64,
    pub name: String,
    pub fields: Vec<String>,
}

/// How many of the labels an import would create the preview names.
const NEW_LABELS_LISTED: usize = 50;

/// How many planned updates the preview lists.
pub const PREVIEW_UPDATES: usize = 10;

/// The human names of the fields on which `before` and `after` differ;
/// `custom` names the custom fields by id.
pub fn changed_fields(
    before: &ContactInput,
    after: &ContactInput,
    custom: &[(i64, String)],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut differs = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_string());
        }
    };
    differs("First name", before.first_name != after.first_name);
    differs("Last name", before.last_name != after.last_name);
    differs("Type", before.contact_type != after.contact_type);
    differs("Level", before.level != after.level);
    differs("Company", before.company != after.company);
    differs("Job title", before.job_title != after.job_title);
    differs("Team", before.team != after.team);
    differs("Birth date", before.birth_date != after.birth_date);
    differs("Language", before.language != after.language);
    differs("Group", before.contact_group != after.contact_group);
    differs(
        "Address",
        (
            &before.street,
            &before.city,
            &before.state,
            &before.zip_code,
        ) != (&after.street, &after.city, &after.state, &after.zip_code),
    );
    differs("Country", before.country != after.country);
    differs("Owner", before.owner_id != after.owner_id);
    differs("Phones", before.phones != after.phones);
    differs("Emails", before.emails != after.emails);
    differs("Social IDs", before.socials != after.socials);
    differs("Labels", before.label_ids != after.label_ids);
    for (id, label) in custom {
        let value = |i: &ContactInput| {
            i.custom
                .iter()
                .find(|(f, _)| f == id)
                .map(|(_, v)| v.clone())
        };
        differs(label, value(before) != value(after));
    }
    out
}

#[cfg(test)]
mod claims_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Batches settled one after another answer as one map of them all.
        #[test]
        fn settled_batches_answer_as_one_map(
            batches in proptest::collection::vec(
                proptest::collection::hash_map(1i64..5_000, 1i64..1_000_000, 0..60), 0..8)
        ) {
            let mut claims = Claims::default();
            let mut all: HashMap<i64, i64> = HashMap::new();
            for batch in &batches {
                // A contact is taken once: later batches never claim it again.
                let fresh: HashMap<i64, i64> = batch
                    .iter()
                    .filter(|(c, _)| !all.contains_key(*c))
                    .map(|(c, r)| (*c, *r))
                    .collect();
                claims.settle(&fresh);
                all.extend(fresh);
            }
            prop_assert_eq!(claims.ids.len(), all.len());
            prop_assert!(claims.ids.windows(2).all(|w| w[0] < w[1]));
            for contact in 0..5_000 {
                prop_assert_eq!(claims.get(contact), all.get(&contact).copied());
            }
        }
    }

    #[test]
    fn a_stand_in_names_the_row_that_creates_it() {
        let claims = Claims::default();
        assert!(claims.ids.is_empty());
        assert_eq!(claims.get(-17), Some(17));
        assert_eq!(claims.get(17), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::header::Header;
    use crate::import::row::parse_record;
    use chrono::NaiveDate;

    fn row(cells: &[(&str, &str)]) -> ParsedRow {
        let names: Vec<String> = cells.iter().map(|(n, _)| n.to_string()).collect();
        let header = Header::parse(&names, &[]).expect("header");
        let record = csv::StringRecord::from(cells.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        parse_record(&header, &record, today).expect("valid row")
    }

    fn lookup() -> Lookup {
        let mut l = Lookup::default();
        l.emails.insert("alice@example.com".into(), vec![12, 13]);
        l.emails.insert("bob@example.com".into(), vec![20]);
        l.emails.insert("carol@example.com".into(), vec![30]);
        l.phones.insert("+85291234567".into(), vec![20]);
        l.phones.insert("+85299999999".into(), vec![40]);
        l.names.insert(12, "Alice Wong".into());
        l.names.insert(13, "Alicia Wong".into());
        l.ids.insert(12, Ok(12));
        l.ids.insert(7, Ok(12));
        l.ids
            .insert(99, Err("99 is not a contact in this database".into()));
        l
    }

    #[test]
    fn an_id_wins_over_emails_and_phones() {
        let l = lookup();
        let r = row(&[
            ("Last Name", "Wong"),
            ("Email", "alice@example.com"),
            ("ContactBook ID", "12"),
        ]);
        assert_eq!(l.resolve(&r), Resolution::Existing(12));
        let merged = row(&[("Last Name", "Wong"), ("ContactBook ID", "7")]);
        assert_eq!(l.resolve(&merged), Resolution::Existing(12));
        let gone = row(&[("Last Name", "Wong"), ("ContactBook ID", "99")]);
        assert_eq!(
            l.resolve(&gone),
            Resolution::Fail("ContactBook ID: 99 is not a contact in this database".into())
        );
    }

    #[test]
    fn a_shared_email_fails_naming_the_contacts_instead_of_guessing() {
        let l = lookup();
        let r = row(&[("Last Name", "Wong"), ("Email", "Alice@Example.com")]);
        assert_eq!(
            l.resolve(&r),
            Resolution::Fail(
                "Email: Alice@example.com belongs to 2 contacts (#12 Alice Wong, #13 Alicia Wong); \
                 add the ContactBook ID column to choose"
                    .into()
            )
        );
    }

    #[test]
    fn two_emails_of_two_contacts_fail_too() {
        let l = lookup();
        let r = row(&[
            ("Last Name", "X"),
            ("Email", "bob@example.com"),
            ("Personal Email", "carol@example.com"),
        ]);
        match l.resolve(&r) {
            Resolution::Fail(m) => {
                assert!(
                    m.starts_with("Email: bob@example.com and Personal Email: carol@example.com belong to 2 different contacts (#20, #30)"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn emails_come_before_phones_and_phones_before_creating() {
        let l = lookup();
        // The email finds 30; the phone would have found 40.
        let r = row(&[
            ("Last Name", "X"),
            ("Email", "carol@example.com"),
            ("Mobile", "+852 9999 9999"),
        ]);
        assert_eq!(l.resolve(&r), Resolution::Existing(30));
        let r = row(&[
            ("Last Name", "X"),
            ("Email", "new@example.com"),
            ("Mobile", "+852 9999 9999"),
        ]);
        assert_eq!(l.resolve(&r), Resolution::Existing(40));
        let r = row(&[("Last Name", "X"), ("Email", "new@example.com")]);
        assert_eq!(l.resolve(&r), Resolution::Create);
        let r = row(&[("Last Name", "X")]);
        assert_eq!(l.resolve(&r), Resolution::Create);
    }

    #[test]
    fn a_contact_is_updated_by_one_row_of_a_file_at_most() {
        let mut l = lookup();
        let first = row(&[("Last Name", "B"), ("Email", "bob@example.com")]);
        assert_eq!(l.resolve(&first), Resolution::Existing(20));
        l.claim(20, 7, &first);
        let again = row(&[("Last Name", "B"), ("Mobile", "+85291234567")]);
        assert_eq!(
            l.resolve(&again),
            Resolution::Fail("Mobile: +85291234567 updates the same contact as row 7".into())
        );
        // A row that creates a contact claims its values for the rows after it.
        let new = row(&[("Last Name", "N"), ("Email", "nina@example.com")]);
        assert_eq!(l.resolve(&new), Resolution::Create);
        l.claim(-9, 9, &new);
        let later = row(&[("Last Name", "N"), ("Email", "NINA@example.com")]);
        assert_eq!(
            l.resolve(&later),
            Resolution::Fail("Email: NINA@example.com updates the same contact as row 9".into())
        );
    }

    #[test]
    fn a_contact_the_importer_cannot_see_is_neither_updated_nor_named() {
        let mut l = lookup();
        l.hidden.insert(13);
        l.hidden.insert(20);
        let r = row(&[("Last Name", "B"), ("Email", "bob@example.com")]);
        assert_eq!(
            l.resolve(&r),
            Resolution::Fail("Email: bob@example.com belongs to a contact you cannot see".into())
        );
        let r = row(&[("Last Name", "W"), ("Email", "alice@example.com")]);
        match l.resolve(&r) {
            Resolution::Fail(m) => {
                assert!(
                    m.contains("#12 Alice Wong, a contact you cannot see"),
                    "{m}"
                );
                assert!(!m.contains("Alicia"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn changed_fields_name_what_differs() {
        let a = row(&[("Last Name", "Wong"), ("Company", "Acme"), ("City", "HK")]).input;
        let mut b = a.clone();
        assert!(changed_fields(&a, &b, &[]).is_empty());
        b.company = "Other".into();
        b.city = "Macau".into();
        b.custom.push((5, "Gold".into()));
        assert_eq!(
            changed_fields(&a, &b, &[(5, "Tier".into())]),
            vec!["Company", "Address", "Tier"]
        );
    }
}
