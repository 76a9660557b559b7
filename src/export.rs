//! CSV export in the template's columns, streamed: contacts are read 5,000 at
//! a time by id and sent as they are written, so memory stays flat at any size.

use std::collections::HashMap;

use actix_web::web::Bytes;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::db::DbPool;
use crate::domain::birth_date::format_birth_date;
use crate::domain::contact::{ContactType, CustomFieldDef, Level};
use crate::import::header::{COLUMNS, Column, template_header};
use crate::models::contact::Contact;
use crate::models::contact_list::{self, Filters};
use crate::models::custom_field::CustomField;
use crate::models::import::Export;
use crate::schema::contacts;

const CHUNK: i64 = 5_000;

/// One CSV record: RFC 4180 quoting, CRLF.
pub struct CsvLine;

impl CsvLine {
    /// Values exactly as given (the template, the error log).
    pub fn plain(values: &[String]) -> String {
        let mut out = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_quoted(&mut out, v);
        }
        out.push_str("\r\n");
        out
    }
}

fn push_quoted(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
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

/// The export's escaping: a leading `'` keeps a spreadsheet from running the
/// value, except for phone numbers in `+digits` form.
/// Apostrophes already in front are looked past, so that a value that
/// itself starts with `'=` survives the round trip.
pub fn escape_cell(v: &str, phone_column: bool) -> String {
    if looks_like_formula(v.trim_start_matches('\'')) && !(phone_column && is_phone_list(v)) {
        format!("'{v}")
    } else {
        v.to_string()
    }
}

/// The import's side of [`escape_cell`]: drops the `'` the export added.
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

#[derive(QueryableByName)]
struct Child {
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    value: String,
}

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

fn children(
    conn: &mut PgConnection,
    sql: &str,
    ids: &[i64],
) -> QueryResult<HashMap<i64, Vec<(String, String)>>> {
    let rows: Vec<Child> = diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(ids)
        .load(conn)?;
    let mut map: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for r in rows {
        map.entry(r.contact_id).or_default().push((r.kind, r.value));
    }
    Ok(map)
}

/// Writes the rows of one chunk of ids; returns how many.
fn write_chunk(
    conn: &mut PgConnection,
    ids: &[i64],
    defs: &[CustomFieldDef],
    out: &mut String,
) -> QueryResult<usize> {
    let people: Vec<Contact> = contacts::table
        .filter(contacts::id.eq_any(ids))
        .filter(contacts::deleted_at.is_null())
        .order(contacts::id)
        .select(Contact::as_select())
        .load(conn)?;
    let phones = children(
        conn,
        "SELECT contact_id, kind, number AS value FROM contact_phones WHERE contact_id = ANY($1) ORDER BY contact_id, position, id",
        ids,
    )?;
    let emails = children(
        conn,
        "SELECT contact_id, kind, email AS value FROM contact_emails WHERE contact_id = ANY($1) ORDER BY contact_id, position, id",
        ids,
    )?;
    let socials = children(
        conn,
        "SELECT contact_id, kind, handle AS value FROM contact_socials WHERE contact_id = ANY($1) ORDER BY contact_id, position, id",
        ids,
    )?;
    let tags = children(
        conn,
        "SELECT cl.contact_id, '' AS kind, l.name AS value FROM contact_labels cl JOIN labels l ON l.id = cl.label_id \
         WHERE cl.contact_id = ANY($1) ORDER BY cl.contact_id, lower(l.name)",
        ids,
    )?;
    let custom = children(
        conn,
        "SELECT contact_id, field_id::text AS kind, value FROM custom_field_values WHERE contact_id = ANY($1)",
        ids,
    )?;
    let none = Vec::new();
    for c in &people {
        let joined = |list: &Vec<(String, String)>, kind: &str| {
            list.iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(";")
        };
        let p = phones.get(&c.id).unwrap_or(&none);
        let e = emails.get(&c.id).unwrap_or(&none);
        let s = socials.get(&c.id).unwrap_or(&none);
        let mut first = true;
        let mut cell = |out: &mut String, v: &str, phone: bool| {
            if !first {
                out.push(',');
            }
            first = false;
            push_quoted(out, &escape_cell(v, phone));
        };
        for (column, _) in COLUMNS.iter() {
            match column {
                Column::FirstName => cell(out, &c.first_name, false),
                Column::LastName => cell(out, &c.last_name, false),
                Column::Phone(kind) => cell(out, &joined(p, kind.as_str()), true),
                Column::Email(kind) => cell(out, &joined(e, kind.as_str()), false),
                Column::Social(kind) => cell(out, &joined(s, kind.as_str()), kind.is_phone()),
                Column::Company => cell(out, &c.company, false),
                Column::JobTitle => cell(out, &c.job_title, false),
                Column::Team => cell(out, &c.team, false),
                Column::Birthdate => cell(
                    out,
                    &c.birth_date.map(format_birth_date).unwrap_or_default(),
                    false,
                ),
                Column::Language => cell(out, c.language.as_deref().unwrap_or(""), false),
                Column::Address => cell(out, &c.street, false),
                Column::City => cell(out, &c.city, false),
                Column::State => cell(out, &c.state, false),
                Column::ZipCode => cell(out, &c.zip_code, false),
                Column::Country => cell(out, c.country.as_deref().unwrap_or(""), false),
                Column::Type => cell(
                    out,
                    c.contact_type
                        .parse::<ContactType>()
                        .map(ContactType::label)
                        .unwrap_or(""),
                    false,
                ),
                Column::Group => cell(out, &c.contact_group, false),
                Column::Level => cell(
                    out,
                    c.level.parse::<Level>().map(Level::label).unwrap_or(""),
                    false,
                ),
                Column::ContactLabel => cell(
                    out,
                    &tags
                        .get(&c.id)
                        .map(|t| {
                            t.iter()
                                .map(|(_, n)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(";")
                        })
                        .unwrap_or_default(),
                    false,
                ),
            }
        }
        let values = custom.get(&c.id).unwrap_or(&none);
        for def in defs {
            let id = def.id.to_string();
            let v = values
                .iter()
                .find(|(k, _)| *k == id)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            cell(out, v, false);
        }
        out.push_str("\r\n");
    }
    Ok(people.len())
}

/// Where a streamed download's chunks go; `false` from `send` means the
/// client went away.
pub struct ChunkSink(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl ChunkSink {
    pub fn send(&self, chunk: String) -> bool {
        self.0.blocking_send(Ok(Bytes::from(chunk))).is_ok()
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

/// Writes the export, recording who took how many contacts.
pub fn produce_export(
    conn: &mut PgConnection,
    sink: &ChunkSink,
    staff_id: i64,
    scope: &str,
    selection: &Selection,
) -> Result<(), String> {
    let export_id = Export::start(conn, staff_id, scope).map_err(|e| e.to_string())?;
    let defs = CustomField::defs(conn).map_err(|e| e.to_string())?;
    let mut head = String::from("\u{feff}");
    head.push_str(&CsvLine::plain(&template_header(&defs)));
    if !sink.send(head) {
        return Ok(());
    }
    let mut after = 0i64;
    let mut total = 0i64;
    loop {
        let ids = next_ids(conn, selection, after).map_err(|e| e.to_string())?;
        let Some(&last) = ids.last() else { break };
        after = last;
        let mut out = String::with_capacity(ids.len() * 300);
        total += write_chunk(conn, &ids, &defs, &mut out).map_err(|e| e.to_string())? as i64;
        if !sink.send(out) {
            log::info!("export {export_id} stopped: the client went away after {total} rows");
            return Ok(());
        }
    }
    Export::finish(conn, export_id, total).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let line = CsvLine::plain(&[
            "a,b".into(),
            "say \"hi\"".into(),
            "two\nlines".into(),
            "x".into(),
        ]);
        assert_eq!(line, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",x\r\n");
    }
}
