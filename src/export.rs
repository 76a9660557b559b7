//! CSV export in the template's columns, streamed: contacts are read 5,000 at
//! a time by id and sent as they are written, so memory stays flat at any size.

use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::web::Bytes;
use diesel::pg::Pg;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::row::{Field as _, NamedRow, Row};
use diesel::sql_types::{Array, BigInt, Date, Nullable};

use crate::db::DbPool;
use crate::domain::birth_date::format_birth_date;
use crate::domain::contact::{ContactType, CustomFieldDef, Level};
use crate::import::header::{COLUMNS, Column, export_header};
use crate::models::contact_list::{self, Filters};
use crate::models::custom_field::CustomField;
use crate::models::import::Export;

const CHUNK: i64 = 5_000;

/// One CSV record: RFC 4180 quoting, CRLF, and no cell that a spreadsheet
/// would run as a formula.
pub struct CsvLine;

impl CsvLine {
    /// Values the app holds (a header's column and custom field names): a
    /// formula-like value gets a `'`, which the importer removes again.
    pub fn values(values: &[String]) -> String {
        Self::line(values, |v| protects(v, false))
    }

    /// Cells as a user uploaded them (the error log, the template's example):
    /// a cell that a spreadsheet would run gets a `'`, which the importer
    /// removes again, so a corrected file imports to what the original
    /// would have. A cell already starting with `'` is not run and stays.
    pub fn as_uploaded(values: &[String]) -> String {
        Self::line(values, |v| looks_like_formula(v) && !is_phone_list(v))
    }

    fn line(values: &[String], protect: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, v, protect(v));
        }
        out.push_str("\r\n");
        out
    }
}

/// Appends `v` as one CSV field: in quotes (inner quotes doubled) when it
/// holds a comma, a quote or a line break; after a `'` when `protect`.
fn push_field(out: &mut String, v: &str, protect: bool) {
    let quote = v.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if protect {
        out.push('\'');
    }
    if quote {
        for ch in v.chars() {
            if ch == '"' {
                out.push('"');
            }
            out.push(ch);
        }
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// Whether a spreadsheet would run this value as a formula.
fn looks_like_formula(v: &str) -> bool {
    v.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A phone column's value: `+digits`, several joined with `;`.
fn is_phone_list(v: &str) -> bool {
    v.split(';').all(|p| {
        let p = p.trim();
        p.len() > 1 && p.starts_with('+') && p[1..].bytes().all(|b| b.is_ascii_digit())
    })
}

/// Whether the export puts a `'` in front of `v` so a spreadsheet does not
/// run it: values that start like a formula, except phone numbers in `+digits`
/// form. Apostrophes already in front are looked past, so that a value that
/// itself starts with `'=` survives the round trip.
fn protects(v: &str, phone_column: bool) -> bool {
    looks_like_formula(v.trim_start_matches('\'')) && !(phone_column && is_phone_list(v))
}

/// The import's side of `protects`: drops the `'` the export added.
pub fn unescape_cell(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if looks_like_formula(rest.trim_start_matches('\'')) => rest,
        _ => v,
    }
}

/// Which contacts to export.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Everything the filters match (all live contacts when empty).
    Matching(Filters),
    Ids(Vec<i64>),
}

/// The text columns of an export row, in the order the queries select them
/// after the first three of `ROW_COLUMNS`.
#[derive(Clone, Copy)]
enum Field {
    FirstName,
    LastName,
    ContactType,
    Level,
    Company,
    JobTitle,
    Team,
    Language,
    Street,
    City,
    State,
    ZipCode,
    Country,
    Group,
    /// The lists: `kind:value` items (see `items_agg`) joined by the record
    /// separator U+001E, which no stored value contains (the rules refuse
    /// control characters).
    Phones,
    Emails,
    Socials,
    /// `field_id:value` items.
    Custom,
}

const TEXT_FIELDS: usize = Field::Custom as usize + 1;

/// One contact with its repeatable parts, as the export queries return it.
/// Its text sits in one buffer: a row's sixteen strings would be sixteen
/// allocations, at half a million rows a view.
struct ExportRow {
    id: i64,
    birth_date: Option<chrono::NaiveDate>,
    /// Resolved to names with the export's `LabelNames`.
    label_ids: Vec<i64>,
    text: String,
    /// Where each `Field` ends in `text`.
    ends: [usize; TEXT_FIELDS],
}

impl ExportRow {
    #[cfg(test)]
    fn new(
        id: i64,
        birth_date: Option<chrono::NaiveDate>,
        label_ids: Vec<i64>,
        fields: [&str; TEXT_FIELDS],
    ) -> Self {
        let mut text = String::new();
        let mut ends = [0; TEXT_FIELDS];
        for (end, value) in ends.iter_mut().zip(fields) {
            text.push_str(value);
            *end = text.len();
        }
        ExportRow {
            id,
            birth_date,
            label_ids,
            text,
            ends,
        }
    }

    fn get(&self, field: Field) -> &str {
        let i = field as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The columns before the text ones, then the contact's text columns in
/// `Field` order; each query appends its lists (phones, emails, socials,
/// custom fields).
const ROW_COLUMNS: &str = "c.id, c.birth_date, c.label_ids, c.first_name, c.last_name, c.contact_type, \
    c.level, c.company, c.job_title, c.team, c.language, c.street, c.city, c.state, c.zip_code, \
    c.country, c.contact_group";

impl QueryableByName<Pg> for ExportRow {
    /// Reads the columns by position: by name, diesel compares every
    /// column's name for every value of every row, a fifth of the export's
    /// reading time (profiled at half a million rows).
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> diesel::deserialize::Result<Self> {
        let id = Row::get_value::<BigInt, i64, usize>(row, 0)?;
        let birth_date =
            Row::get_value::<Nullable<Date>, Option<chrono::NaiveDate>, usize>(row, 1)?;
        let label_ids = Row::get_value::<Array<BigInt>, Vec<i64>, usize>(row, 2)?;
        let mut text = String::with_capacity(256);
        let mut ends = [0; TEXT_FIELDS];
        for (i, end) in ends.iter_mut().enumerate() {
            let field = Row::get(row, 3 + i).ok_or(diesel::result::UnexpectedEndOfRow)?;
            if let Some(value) = field.value() {
                text.push_str(std::str::from_utf8(value.as_bytes())?);
            }
            *end = text.len();
        }
        Ok(ExportRow {
            id,
            birth_date,
            label_ids,
            text,
            ends,
        })
    }
}

/// Label names by id, read in the export's snapshot: rows carry their
/// labels' ids (`contacts.label_ids`, which triggers keep equal to
/// `contact_labels`), so no query aggregates names per contact.
type LabelNames = std::collections::HashMap<i64, String>;

fn label_names(conn: &mut PgConnection) -> QueryResult<LabelNames> {
    use crate::schema::labels;
    Ok(labels::table
        .select((labels::id, labels::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// Every live contact in id order (within `part`): the children are
/// aggregated per contact along their (contact_id, position) indexes and
/// merge-joined, one pass over each table instead of a lookup per contact.
fn everything_sql(part: Part) -> String {
    format!("{} c.deleted_at IS NULL ORDER BY c.id", stream_head(part))
}

/// The contacts a streamed read covers: all, or those up to or after an id
/// (when two connections read the two halves at once).
#[derive(Clone, Copy)]
enum Part {
    Whole,
    UpTo(i64),
    After(i64),
}

impl Part {
    /// The condition on column `id` (`TRUE` for the whole).
    fn on(self, id: &str) -> String {
        match self {
            Part::Whole => "TRUE".into(),
            Part::UpTo(n) => format!("{id} <= {n}"),
            Part::After(n) => format!("{id} > {n}"),
        }
    }
}

/// One child table's items of a contact as one text: `position,id:kind:value`
/// joined by U+001E. The aggregate takes no `ORDER BY`: on PostgreSQL 15 that
/// costs a sort per contact (half the time of a large export); each item
/// carries its position and id instead, and `ordered` puts them in order.
fn items_agg(value: &str) -> String {
    format!("string_agg(position || ',' || id || ':' || kind || ':' || {value}, E'\\x1e')")
}

/// Every contact (of `part`) with its children aggregated, up to the
/// conditions that choose them (it ends in `WHERE … AND`). The children are
/// bounded to the part too: a merge join reads its inner side from the
/// start.
fn stream_head(part: Part) -> String {
    let within = part.on("contact_id");
    format!(
        "SELECT {ROW_COLUMNS}, p.v, e.v, s.v, f.v \
         FROM contacts c \
         LEFT JOIN (SELECT contact_id, {} v FROM contact_phones WHERE {within} GROUP BY contact_id) p ON p.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, {} v FROM contact_emails WHERE {within} GROUP BY contact_id) e ON e.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, {} v FROM contact_socials WHERE {within} GROUP BY contact_id) s ON s.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, string_agg(field_id || ':' || value, E'\\x1e') v \
                    FROM custom_field_values WHERE {within} GROUP BY contact_id) f ON f.contact_id = c.id \
         WHERE {} AND",
        items_agg("number"),
        items_agg("email"),
        items_agg("handle"),
        part.on("c.id"),
    )
}

/// The contacts among `$1` (ids), children looked up per contact: for views
/// and selections, which are usually a small part of the whole.
fn some_sql() -> String {
    format!(
        "SELECT {ROW_COLUMNS}, \
           (SELECT {} FROM contact_phones WHERE contact_id = c.id) AS phones, \
           (SELECT {} FROM contact_emails WHERE contact_id = c.id) AS emails, \
           (SELECT {} FROM contact_socials WHERE contact_id = c.id) AS socials, \
           (SELECT string_agg(field_id || ':' || value, E'\\x1e') FROM custom_field_values WHERE contact_id = c.id) AS custom \
         FROM contacts c WHERE c.id = ANY($1) AND c.deleted_at IS NULL ORDER BY c.id",
        items_agg("number"),
        items_agg("email"),
        items_agg("handle"),
    )
}

/// The contacts among `$1` (ids), all between `$2` and `$3`: the children of
/// the whole id range are read along their indexes and aggregated in one
/// pass, instead of five lookups per contact. For dense chunks (a view that
/// matches a good part of the contacts), where the range holds little else.
fn range_sql() -> String {
    let child = |table: &str, value: &str| {
        format!(
            "LEFT JOIN (SELECT contact_id, {} v \
               FROM {table} WHERE contact_id BETWEEN $2 AND $3 GROUP BY contact_id)",
            items_agg(value)
        )
    };
    format!(
        "SELECT {ROW_COLUMNS}, p.v, e.v, s.v, f.v \
         FROM contacts c \
         {} p ON p.contact_id = c.id \
         {} e ON e.contact_id = c.id \
         {} s ON s.contact_id = c.id \
         LEFT JOIN (SELECT contact_id, string_agg(field_id || ':' || value, E'\\x1e') v \
                    FROM custom_field_values WHERE contact_id BETWEEN $2 AND $3 GROUP BY contact_id) f ON f.contact_id = c.id \
         WHERE c.id = ANY($1) AND c.deleted_at IS NULL ORDER BY c.id",
        child("contact_phones", "number"),
        child("contact_emails", "email"),
        child("contact_socials", "handle"),
    )
}

/// A chunk whose ids span at most this many times their number is read by
/// range (`range_sql`); sparser ones contact by contact.
const DENSE: i64 = 4;

/// The next ids to export, in id order.
fn next_ids(conn: &mut PgConnection, selection: &Selection, after: i64) -> QueryResult<Vec<i64>> {
    match selection {
        Selection::Matching(f) => contact_list::ids_after(conn, f, after, CHUNK),
        Selection::Ids(ids) => Ok(ids
            .iter()
            .copied()
            .filter(|id| *id > after)
            .take(CHUNK as usize)
            .collect()),
    }
}

/// The `kind:value` items of a `field_id:value` list (custom fields).
fn items(list: &str) -> impl Iterator<Item = (&str, &str)> {
    list.split('\u{1e}')
        .filter(|s| !s.is_empty())
        .map(|item| item.split_once(':').unwrap_or(("", item)))
}

/// One phone, email or social ID of an aggregated list (see `items_agg`).
struct Item<'a> {
    position: i64,
    id: i64,
    kind: &'a str,
    value: &'a str,
}

/// The items of an aggregated list (see `items_agg`) in (position, id)
/// order, as the contact's page lists them.
fn ordered<'a>(list: &'a str, out: &mut Vec<Item<'a>>) {
    out.clear();
    for raw in list.split('\u{1e}') {
        let Some((order, rest)) = raw.split_once(':') else {
            continue;
        };
        let (position, id) = order.split_once(',').unwrap_or((order, "0"));
        let (kind, value) = rest.split_once(':').unwrap_or(("", rest));
        out.push(Item {
            position: position.parse().unwrap_or(0),
            id: id.parse().unwrap_or(0),
            kind,
            value,
        });
    }
    if !out.is_sorted_by_key(|i| (i.position, i.id)) {
        out.sort_by_key(|i| (i.position, i.id));
    }
}

/// Appends one CSV cell, escaped, to `out`.
fn cell(out: &mut String, first: &mut bool, v: &str, phone: bool) {
    if !*first {
        out.push(',');
    }
    *first = false;
    push_field(out, v, protects(v, phone));
}

/// The values of one kind joined with `;` (several phones of one kind).
fn joined<'a>(items: &[Item], kind: &str, buf: &'a mut String) -> &'a str {
    buf.clear();
    for item in items.iter().filter(|i| i.kind == kind) {
        if !buf.is_empty() {
            buf.push(';');
        }
        buf.push_str(item.value);
    }
    buf
}

/// Writes `rows` as CSV records to `out`.
fn write_rows(rows: &[ExportRow], defs: &[CustomFieldDef], names: &LabelNames, out: &mut String) {
    let mut buf = String::new();
    let (mut phones, mut emails, mut socials) = (Vec::new(), Vec::new(), Vec::new());
    let mut labels: Vec<&str> = Vec::new();
    for c in rows {
        ordered(c.get(Field::Phones), &mut phones);
        ordered(c.get(Field::Emails), &mut emails);
        ordered(c.get(Field::Socials), &mut socials);
        labels.clear();
        // Every id has a name: both were read in one snapshot.
        labels.extend(
            c.label_ids
                .iter()
                .filter_map(|id| names.get(id).map(String::as_str)),
        );
        // The contact page's order; label names are unique ignoring case.
        if labels.len() > 1 {
            labels.sort_by_cached_key(|n| n.to_lowercase());
        }
        let mut first = true;
        for (column, _) in COLUMNS.iter() {
            let out = &mut *out;
            match column {
                Column::FirstName => cell(out, &mut first, c.get(Field::FirstName), false),
                Column::LastName => cell(out, &mut first, c.get(Field::LastName), false),
                Column::Phone(kind) => cell(
                    out,
                    &mut first,
                    joined(&phones, kind.as_str(), &mut buf),
                    true,
                ),
                Column::Email(kind) => cell(
                    out,
                    &mut first,
                    joined(&emails, kind.as_str(), &mut buf),
                    false,
                ),
                Column::Social(kind) => cell(
                    out,
                    &mut first,
                    joined(&socials, kind.as_str(), &mut buf),
                    kind.is_phone(),
                ),
                Column::Company => cell(out, &mut first, c.get(Field::Company), false),
                Column::JobTitle => cell(out, &mut first, c.get(Field::JobTitle), false),
                Column::Team => cell(out, &mut first, c.get(Field::Team), false),
                Column::Birthdate => {
                    buf.clear();
                    if let Some(d) = c.birth_date {
                        buf.push_str(&format_birth_date(d));
                    }
                    cell(out, &mut first, &buf, false)
                }
                Column::Language => cell(out, &mut first, c.get(Field::Language), false),
                Column::Address => cell(out, &mut first, c.get(Field::Street), false),
                Column::City => cell(out, &mut first, c.get(Field::City), false),
                Column::State => cell(out, &mut first, c.get(Field::State), false),
                Column::ZipCode => cell(out, &mut first, c.get(Field::ZipCode), false),
                Column::Country => cell(out, &mut first, c.get(Field::Country), false),
                Column::Type => cell(
                    out,
                    &mut first,
                    c.get(Field::ContactType)
                        .parse::<ContactType>()
                        .map(ContactType::label)
                        .unwrap_or(""),
                    false,
                ),
                Column::Group => cell(out, &mut first, c.get(Field::Group), false),
                Column::Level => cell(
                    out,
                    &mut first,
                    c.get(Field::Level)
                        .parse::<Level>()
                        .map(Level::label)
                        .unwrap_or(""),
                    false,
                ),
                // Label names are listed bare: a name may hold a `:`.
                Column::ContactLabel => {
                    buf.clear();
                    for name in &labels {
                        if !buf.is_empty() {
                            buf.push(';');
                        }
                        buf.push_str(name);
                    }
                    cell(out, &mut first, &buf, false)
                }
            }
        }
        for def in defs {
            let id = def.id.to_string();
            let v = items(c.get(Field::Custom))
                .find(|(k, _)| *k == id)
                .map(|(_, v)| v)
                .unwrap_or("");
            cell(out, &mut first, v, false);
        }
        cell(out, &mut first, &c.id.to_string(), false);
        out.push_str("\r\n");
    }
}

/// Where a streamed download's chunks go; `false` from `send` means the
/// client went away.
pub struct ChunkSink(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl ChunkSink {
    pub fn send(&self, chunk: impl Into<Bytes>) -> bool {
        self.0.blocking_send(Ok(chunk.into())).is_ok()
    }
}

/// The body of a download produced by `produce` on a thread of its own: the
/// channel's small bound is what keeps memory flat when the client reads
/// slowly. An error ends the body early, so the client sees a broken
/// download rather than a truncated file that looks whole.
pub fn spawn_stream(
    pool: DbPool,
    name: &'static str,
    produce: impl FnOnce(&mut PgConnection, &ChunkSink) -> Result<(), String> + Send + 'static,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let work = move || {
        let sink = ChunkSink(tx);
        let result = pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| produce(&mut conn, &sink));
        if let Err(e) = result {
            log::warn!("{name} failed: {e}");
            let _ = sink.0.blocking_send(Err(std::io::Error::other(e)));
        }
    };
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(work) {
        log::error!("cannot start a {name}: {e}");
    }
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// Writes the export, recording who took how many contacts. Reading runs
/// on this thread and writing CSV on a second one, so that PostgreSQL and the
/// formatting each keep a core busy; a large read takes a second pooled
/// connection, when one is free, for its second half (see `spill`).
pub fn produce_export(
    conn: &mut PgConnection,
    pool: &DbPool,
    sink: &ChunkSink,
    staff_id: i64,
    scope: &str,
    selection: &Selection,
) -> Result<(), String> {
    let export_id = Export::start(conn, staff_id, scope).map_err(|e| e.to_string())?;
    let defs = CustomField::defs(conn).map_err(|e| e.to_string())?;
    let mut head = String::from("\u{feff}");
    head.push_str(&CsvLine::values(&export_header(&defs)));
    if !sink.send(head) {
        return Ok(());
    }
    // One export may run for minutes: its statements are not bounded like
    // a page's. It reads in one snapshot, so the label names, each chunk of
    // a small view and both halves of a large one are read as of one moment.
    let total = crate::db::without_timeouts(conn, |conn| {
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(|conn| {
                let names = label_names(conn)?;
                let reading = Reading::choose(conn, selection)?;
                if reading != Reading::Chunks {
                    stream_settings(conn)?;
                }
                let split = match reading {
                    Reading::Split => match (halfway(conn)?, second_connection(pool)) {
                        (Some(mid), Some(helper)) => Some((mid, export_snapshot(conn)?, helper)),
                        _ => None,
                    },
                    _ => None,
                };
                let first = split
                    .as_ref()
                    .map_or(Part::Whole, |(mid, ..)| Part::UpTo(*mid));
                let stop = AtomicBool::new(false);
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ExportRow>>(2);
                std::thread::scope(|scope| {
                    let writer = scope.spawn(|| {
                        let mut total = 0i64;
                        for rows in rx {
                            let mut out = String::with_capacity(rows.len() * 320);
                            write_rows(&rows, &defs, &names, &mut out);
                            total += rows.len() as i64;
                            if !sink.send(out) {
                                return None;
                            }
                        }
                        Some(total)
                    });
                    let second = split.map(|(mid, snapshot, mut helper)| {
                        let (defs, names, stop) = (&defs, &names, &stop);
                        scope.spawn(move || {
                            spill(
                                &mut helper,
                                &snapshot,
                                selection,
                                Part::After(mid),
                                defs,
                                names,
                                stop,
                            )
                        })
                    });
                    let read = match reading {
                        Reading::Chunks => read_chunks(conn, selection, &tx),
                        _ => stream_rows(conn, selection, first, |chunk| tx.send(chunk).is_ok())
                            .map_err(Failed::from),
                    };
                    drop(tx);
                    let written = writer.join().unwrap_or(None);
                    if written.is_none() || read.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let second = second.map(|h| h.join().unwrap_or(Err(Failed::Panicked)));
                    read?;
                    let Some(written) = written else {
                        return Ok(None);
                    };
                    match second {
                        None => Ok(Some(written)),
                        Some(spilled) => {
                            let (file, rows) = spilled?;
                            Ok(send_file(file, sink)?.then_some(written + rows))
                        }
                    }
                })
            })
    })
    .map_err(|e: Failed| e.to_string())?;
    match total {
        Some(total) => Export::finish(conn, export_id, total).map_err(|e| e.to_string()),
        None => {
            log::info!("export {export_id} stopped: the client went away");
            Ok(())
        }
    }
}

/// Why an export stopped short.
#[derive(Debug)]
enum Failed {
    Db(diesel::result::Error),
    Io(std::io::Error),
    Panicked,
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed::Db(e)
    }
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Io(e)
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Db(e) => write!(f, "{e}"),
            Failed::Io(e) => write!(f, "the second half's file: {e}"),
            Failed::Panicked => f.write_str("the second half's reader panicked"),
        }
    }
}

/// Views matching more than this many contacts, or a third of them, are
/// read in one stream with every child table aggregated in one pass (as
/// everything is); smaller ones a chunk at a time, children by contact.
const LARGE_VIEW: i64 = 20_000;

/// How an export reads its contacts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// In one stream: everything, or a view of a third or more of the
    /// contacts, when there are at most `LARGE_VIEW`.
    Stream,
    /// In two streams at once, one per half of the ids: more than
    /// `LARGE_VIEW` contacts, where PostgreSQL's aggregating is the
    /// bottleneck of a single stream (a core busy while the other idles).
    Split,
    /// A chunk of ids at a time.
    Chunks,
}

impl Reading {
    fn choose(conn: &mut PgConnection, selection: &Selection) -> QueryResult<Reading> {
        let Selection::Matching(f) = selection else {
            return Ok(Reading::Chunks);
        };
        let n = contact_list::count_capped(conn, f, LARGE_VIEW + 1)?;
        if n > LARGE_VIEW {
            return Ok(Reading::Split);
        }
        if f.is_everything() {
            return Ok(Reading::Stream);
        }
        if n == 0 {
            return Ok(Reading::Chunks);
        }
        #[derive(QueryableByName)]
        struct Live {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let live = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM contacts WHERE deleted_at IS NULL LIMIT {}) t",
            3 * n + 1
        ))
        .get_result::<Live>(conn)?
        .n;
        Ok(if 3 * n >= live {
            Reading::Stream
        } else {
            Reading::Chunks
        })
    }
}

/// Settings for a streamed read, local to its transaction. Its contacts
/// are sorted by id in memory, not in files (4 MB, the default, spilled
/// 63 MB to disk for half a million contacts); and its children are
/// grouped as their index gives them, never hashed and sorted again (a
/// half's bounded children looked small enough to hash: 40 % slower).
fn stream_settings(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query(
        "SELECT set_config('work_mem', '160MB', true), set_config('enable_hashagg', 'off', true)",
    )
    .execute(conn)
    .map(drop)
}

/// A second connection for a large export's second half, if the pool has
/// one to spare (idle, or room to open one): never the last two, which
/// pages need.
fn second_connection(
    pool: &DbPool,
) -> Option<diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<PgConnection>>> {
    let state = pool.state();
    let spare = state.idle_connections + pool.max_size().saturating_sub(state.connections);
    if spare <= 2 {
        return None;
    }
    pool.get_timeout(std::time::Duration::from_millis(500)).ok()
}

/// The id halfway between the lowest and the highest, or `None` when there
/// is nothing to split.
fn halfway(conn: &mut PgConnection) -> QueryResult<Option<i64>> {
    #[derive(QueryableByName)]
    struct Ends {
        #[diesel(sql_type = Nullable<BigInt>)]
        low: Option<i64>,
        #[diesel(sql_type = Nullable<BigInt>)]
        high: Option<i64>,
    }
    let ends: Ends = diesel::sql_query("SELECT min(id) AS low, max(id) AS high FROM contacts")
        .get_result(conn)?;
    Ok(match (ends.low, ends.high) {
        (Some(low), Some(high)) if high > low => Some(low + (high - low) / 2),
        _ => None,
    })
}

/// This transaction's snapshot, for the second connection to read in.
fn export_snapshot(conn: &mut PgConnection) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Snapshot {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let snapshot: Snapshot =
        diesel::sql_query("SELECT pg_export_snapshot() AS id").get_result(conn)?;
    // Written into `SET TRANSACTION SNAPSHOT`, which takes no parameter.
    if !snapshot
        .id
        .chars()
        .all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("unexpected snapshot id {:?}", snapshot.id).into(),
        ));
    }
    Ok(snapshot.id)
}

/// Reads `part` of the selection on `helper`, in the export's snapshot, and
/// writes it as CSV to a file of its own while the first half streams to
/// the client; returns the file, rewound, and how many contacts it holds.
/// Stops when `stop` is set (the client left, or the first half failed).
fn spill(
    helper: &mut PgConnection,
    snapshot: &str,
    selection: &Selection,
    part: Part,
    defs: &[CustomFieldDef],
    names: &LabelNames,
    stop: &AtomicBool,
) -> Result<(std::fs::File, i64), Failed> {
    let mut file = spill_file()?;
    let mut rows = 0i64;
    let mut failed = None;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        crate::db::without_timeouts(helper, |helper| {
            helper
                .build_transaction()
                .repeatable_read()
                .read_only()
                .run(|helper| {
                    diesel::sql_query(format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
                        .execute(helper)?;
                    stream_settings(helper)?;
                    let mut text = String::new();
                    stream_rows(helper, selection, part, |chunk| {
                        if stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        text.clear();
                        write_rows(&chunk, defs, names, &mut text);
                        rows += chunk.len() as i64;
                        match out.write_all(text.as_bytes()) {
                            Ok(()) => true,
                            Err(e) => {
                                failed = Some(e);
                                false
                            }
                        }
                    })
                })
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        out.flush()?;
    }
    file.seek(std::io::SeekFrom::Start(0))?;
    Ok((file, rows))
}

/// A new file in the temporary directory, already unlinked: it goes away
/// with its handle, however the export ends.
fn spill_file() -> std::io::Result<std::fs::File> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "contactbook-export-{}-{}.csv",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// Sends the file to the client a piece at a time; `false` when the client
/// went away.
fn send_file(mut file: std::fs::File, sink: &ChunkSink) -> std::io::Result<bool> {
    loop {
        let mut piece = vec![0; 1 << 20];
        let n = file.read(&mut piece)?;
        if n == 0 {
            return Ok(true);
        }
        piece.truncate(n);
        if !sink.send(piece) {
            return Ok(false);
        }
    }
}

/// Streams the contacts of `part` of the selection (everything or a large
/// view) in id order to `each`, a chunk at a time, until `each` returns
/// `false`.
fn stream_rows(
    conn: &mut PgConnection,
    selection: &Selection,
    part: Part,
    mut each: impl FnMut(Vec<ExportRow>) -> bool,
) -> QueryResult<()> {
    // Row by row, PostgreSQL keeps sending while this side decodes and
    // formats; a cursor would make the two take turns.
    let rows = match selection {
        Selection::Matching(f) if !f.is_everything() => {
            contact_list::matching_query(f, &stream_head(part), "ORDER BY c.id")
                .load_iter::<ExportRow, PgRowByRowLoadingMode>(conn)?
        }
        _ => diesel::sql_query(everything_sql(part))
            .into_boxed()
            .load_iter::<ExportRow, PgRowByRowLoadingMode>(conn)?,
    };
    let mut chunk = Vec::with_capacity(CHUNK as usize);
    for row in rows {
        chunk.push(row?);
        if chunk.len() == CHUNK as usize {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK as usize));
            if !each(full) {
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        each(chunk);
    }
    Ok(())
}

/// Sends a small view or a selection to `tx` a chunk of ids at a time;
/// stops quietly when the writer has gone (the client left).
fn read_chunks(
    conn: &mut PgConnection,
    selection: &Selection,
    tx: &std::sync::mpsc::SyncSender<Vec<ExportRow>>,
) -> Result<(), Failed> {
    let mut after = 0i64;
    loop {
        let ids = next_ids(conn, selection, after)?;
        let Some(&last) = ids.last() else {
            return Ok(());
        };
        after = last;
        let first = ids[0];
        let rows: Vec<ExportRow> = if last - first < DENSE * ids.len() as i64 {
            diesel::sql_query(range_sql())
                .bind::<Array<BigInt>, _>(&ids)
                .bind::<BigInt, _>(first)
                .bind::<BigInt, _>(last)
                .load(conn)?
        } else {
            diesel::sql_query(some_sql())
                .bind::<Array<BigInt>, _>(&ids)
                .load(conn)?
        };
        if tx.send(rows).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cell as the export writes it.
    fn escape_cell(v: &str, phone: bool) -> String {
        let mut out = String::new();
        push_field(&mut out, v, protects(v, phone));
        out
    }

    #[test]
    fn formulas_are_escaped_but_phones_are_not() {
        assert_eq!(escape_cell("=SUM(A1)", false), "'=SUM(A1)");
        assert_eq!(escape_cell("@cmd", false), "'@cmd");
        assert_eq!(escape_cell("-2", false), "'-2");
        assert_eq!(escape_cell("+85291234567", true), "+85291234567");
        assert_eq!(
            escape_cell("+85291234567;+4420", true),
            "+85291234567;+4420"
        );
        assert_eq!(escape_cell("+1 =cmd", true), "'+1 =cmd");
        assert_eq!(escape_cell("+85291234567", false), "'+85291234567");
        assert_eq!(escape_cell("plain", false), "plain");
        for v in ["=1+1", "@x", "-y", "+z", "plain", "'quoted", "'=x", "''@y"] {
            assert_eq!(unescape_cell(&escape_cell(v, false)), v);
        }
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        let line = CsvLine::values(&[
            "a,b".into(),
            "say \"hi\"".into(),
            "two\nlines".into(),
            "x".into(),
        ]);
        assert_eq!(line, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",x\r\n");
    }

    use crate::import::header::Header;
    use crate::import::row::parse_record;
    use proptest::prelude::*;

    /// Text a person might type, including what CSV and spreadsheets treat
    /// specially; no surrounding spaces (the importer trims them).
    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!(
            "[A-Za-z0-9éü李😀\\u{{202e}},;:\"'=+@\\-. \t]{{0,{max}}}"
        ))
        .expect("regex")
        .prop_map(|s| s.trim().replace('\t', " ").to_string())
    }

    /// Phones as stored (`+digits`), some of them formula-like to a
    /// spreadsheet.
    fn phone() -> impl Strategy<Value = String> {
        "[1-9][0-9]{7,14}".prop_map(|d| format!("+{d}"))
    }

    /// Valid emails with what makes them awkward: upper case, `+`, `=`, `'`,
    /// a leading `-` or `@`-like start of a formula.
    fn email() -> impl Strategy<Value = String> {
        "[-=+A-Za-z0-9._'%]{1,12}@[a-z0-9-]{1,10}\\.[a-z]{2,4}"
    }

    fn label() -> impl Strategy<Value = String> {
        "[A-Za-z:=+@'\" ,-]{1,12}"
            .prop_map(|s| s.trim().to_string())
            .prop_filter("a label", |s| !s.is_empty())
    }

    fn unique_ci(names: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            if !out.iter().any(|x| x.to_lowercase() == n.to_lowercase()) {
                out.push(n);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn what_the_export_writes_the_import_reads_back(
            id in 1i64..i64::MAX,
            first in text(30),
            last in text(30).prop_filter("a last name", |s| !s.is_empty()),
            company in text(40),
            job in text(40),
            street_a in text(20),
            street_b in text(20),
            mobiles in proptest::collection::vec(phone(), 0..3),
            emails in proptest::collection::vec(email(), 0..3),
            facebook in proptest::collection::vec(text(20).prop_filter("handle", |s| !s.is_empty() && !s.contains(';')), 0..2),
            whatsapp in proptest::option::of(phone()),
            tier in text(30),
            label_names in proptest::collection::vec(label(), 0..4),
        ) {
            let street = if street_b.is_empty() { street_a.clone() } else { format!("{street_a}\n{street_b}") };
            let labels = unique_ci(label_names);
            let emails: Vec<String> = emails
                .iter()
                .map(|e| crate::domain::Email::parse(e).map(|e| e.into_string()).expect("valid email"))
                .collect();
            // A formula-like custom field name must survive the header too.
            let defs = vec![CustomFieldDef {
                id: 5,
                label: "=Tier".into(),
                kind: crate::domain::contact::CustomFieldKind::Text,
                options: vec![],
                required: false,
            }];
            // As the query gives them: tagged with (position, id), in no
            // particular order (here the reverse of the contact's).
            let tagged = |items: &[String]| {
                let mut tagged: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| format!("{},{}:{item}", i / 2, 100 + i))
                    .collect();
                tagged.reverse();
                tagged.join("\u{1e}")
            };
            let list = |kind: &str, values: &[String]| {
                tagged(&values.iter().map(|v| format!("{kind}:{v}")).collect::<Vec<_>>())
            };
            let mut socials: Vec<String> = facebook.iter().map(|f| format!("facebook:{f}")).collect();
            socials.extend(whatsapp.iter().map(|w| format!("whatsapp:{w}")));
            // Label ids in no particular order (here the reverse of the
            // names'), each with its name.
            let names: LabelNames = labels.iter().enumerate().map(|(i, n)| (i as i64 + 1, n.clone())).collect();
            let label_ids: Vec<i64> = (1..=labels.len() as i64).rev().collect();
            let phones = list("mobile", &mobiles);
            let email_list = list("work", &emails);
            let social_list = tagged(&socials);
            let custom = if tier.is_empty() { String::new() } else { format!("5:{tier}") };
            let street_text = street.trim().to_string();
            let row = ExportRow::new(
                id,
                chrono::NaiveDate::from_ymd_opt(1980, 1, 5),
                label_ids,
                [
                    &first, &last, "customer", "secondary", &company, &job, "", "zh",
                    &street_text, "", "", "", "HK", "", &phones, &email_list, &social_list, &custom,
                ],
            );
            let mut out = CsvLine::values(&export_header(&defs));
            write_rows(std::slice::from_ref(&row), &defs, &names, &mut out);
            for cell in csv::ReaderBuilder::new().has_headers(false).from_reader(out.as_bytes()).records().flat_map(|r| r.expect("record").iter().map(str::to_string).collect::<Vec<_>>()) {
                prop_assert!(
                    !looks_like_formula(&cell) || is_phone_list(&cell),
                    "a spreadsheet would run {:?}", cell
                );
            }
            let mut reader = csv::ReaderBuilder::new().from_reader(out.as_bytes());
            let raw: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
            let header = Header::parse(&raw, &defs).expect("header");
            prop_assert!(header.ignored().is_empty(), "{:?}", header.ignored());
            let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
            prop_assert_eq!(records.len(), 1);
            let back = parse_record(&header, &records[0], chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"))
                .map_err(|e| TestCaseError::fail(format!("{e:?} in {out}")))?;
            prop_assert_eq!(back.id, Some(id));
            prop_assert_eq!(back.input.first_name, first);
            prop_assert_eq!(back.input.last_name, last);
            prop_assert_eq!(back.input.company, company);
            prop_assert_eq!(back.input.job_title, job);
            prop_assert_eq!(back.input.street, street.trim().to_string());
            prop_assert_eq!(back.input.birth_date, row.birth_date);
            prop_assert_eq!(back.input.country.as_deref(), Some("HK"));
            let numbers: Vec<String> = back.input.phones.iter().map(|p| p.number.as_str().to_string()).collect();
            prop_assert_eq!(numbers, mobiles);
            let back_emails: Vec<String> = back.input.emails.iter().map(|e| e.email.as_str().to_string()).collect();
            prop_assert_eq!(back_emails, emails);
            let back_socials: Vec<String> = back.input.socials.iter().map(|s| format!("{}:{}", s.kind.as_str(), s.handle)).collect();
            prop_assert_eq!(back_socials, socials);
            let custom: Vec<(i64, String)> = back.input.custom.clone();
            prop_assert_eq!(custom, if tier.is_empty() { vec![] } else { vec![(5, tier.clone())] });
            let mut sorted = labels.clone();
            sorted.sort_by_cached_key(|n| n.to_lowercase());
            prop_assert_eq!(back.labels, sorted);
        }
    }
}
