//! `/contacts/{id}/changes`: the Change Log tab, the contact's whole history
//! newest first, paged by (time, id) and filtered by field and source.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    error::AppResult,
    models::contact::Change,
    models::visibility::Member,
    routes::{
        Layout,
        contacts::head::{ContactHead, Tab},
        when_in,
    },
    schema::{contact_changes, staff},
};

/// Entries on one page of the tab.
const PAGE: i64 = 50;
/// A value longer than this is shortened, with a way to see all of it.
const SHORT: usize = 120;

/// One entry of the change log as people read it.
pub struct LogLine {
    pub when: String,
    pub who: Option<(i64, String)>,
    /// How it came about: "by hand", "from an import".
    pub source: &'static str,
    /// What happened, after the member's name: "changed", "added a note".
    pub what: &'static str,
    pub field: Option<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// A merge: the merge, and the records it took in, whose own history
    /// stays readable.
    pub merge: Option<MergeLine>,
    /// A field's value changed: the line reads "changed X from … to …".
    pub field_change: bool,
    /// A note's text follows after a colon; other values (a colleague's
    /// name) follow the words directly.
    pub colon: bool,
}

pub struct MergeLine {
    pub id: i64,
    pub records: Vec<(i64, String)>,
    /// Offer to undo it: not undone yet.
    pub undo: bool,
}

/// A value, shortened when long.
pub struct Value {
    pub short: String,
    pub full: Option<String>,
}

impl Value {
    fn of(v: &str) -> Value {
        if v.chars().count() <= SHORT {
            return Value {
                short: v.to_string(),
                full: None,
            };
        }
        let mut short: String = v.chars().take(SHORT).collect();
        short.push('…');
        Value {
            short,
            full: Some(v.to_string()),
        }
    }
}

/// How a change came about, as a change log line's small print says it.
fn source_words(source: &str) -> &'static str {
    match source {
        "form" => "by hand",
        "import" => "from an import",
        "bulk" => "by a bulk action",
        "merge" => "by a merge",
        "enquiry" => "from an enquiry",
        _ => "",
    }
}

pub fn source_label(source: &str) -> &'static str {
    match source {
        "form" => "by hand",
        "import" => "import",
        "bulk" => "bulk action",
        "merge" => "merge",
        "enquiry" => "enquiry",
        _ => "other",
    }
}

impl LogLine {
    pub fn of(c: &Change, who: Option<(i64, String)>, zone: &str) -> LogLine {
        let what = match c.action.as_str() {
            "create" => "created this contact",
            "delete" => "moved this contact to the trash",
            "restore" => "restored this contact from the trash",
            "merge" => "merged into this contact",
            "unmerge" => "undid the merge of",
            "merged_into" => "merged this record into",
            "unmerged" => "undid the merge of this record into",
            "note" => "added a note",
            "note_edit" if c.field.as_deref() == Some("Pinned note") => {
                if c.new_value.as_deref() == Some("pinned") {
                    "pinned a note"
                } else {
                    "unpinned a note"
                }
            }
            "note_edit" => "edited a note",
            "note_delete" => "deleted a note",
            "share" => "shared this contact with",
            "unshare" => "stopped sharing this contact with",
            "transfer" => "transferred ownership",
            "update" if c.new_value.as_deref().is_none_or(str::is_empty) => "cleared",
            "update" if c.old_value.as_deref().is_none_or(str::is_empty) => "set",
            _ => "changed",
        };
        let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(Value::of);
        let (field, old, new) = match c.action.as_str() {
            "update" => (
                c.field.clone(),
                nonempty(&c.old_value),
                nonempty(&c.new_value),
            ),
            "transfer" => (None, nonempty(&c.old_value), nonempty(&c.new_value)),
            "note" | "note_edit" | "note_delete" if c.field.as_deref() != Some("Pinned note") => {
                (None, nonempty(&c.old_value), nonempty(&c.new_value))
            }
            "share" | "merged_into" | "unmerged" | "unmerge" => {
                (None, None, nonempty(&c.new_value))
            }
            "unshare" => (None, nonempty(&c.old_value), None),
            _ => (None, None, None),
        };
        LogLine {
            when: when_in(c.changed_at, zone),
            who,
            source: source_words(&c.source),
            what,
            field,
            old,
            new,
            merge: None,
            field_change: matches!(c.action.as_str(), "update" | "transfer"),
            colon: c.action.starts_with("note"),
        }
    }
}

/// Where a page of the change log ends: the last entry's time and id.
pub type LogCursor = (DateTime<Utc>, i64);

/// Change log entries of contact `id` with their authors, newest first,
/// from before `before` (time, id), matching the filters.
pub fn load_lines(
    conn: &mut PgConnection,
    id: i64,
    filter: &LogFilter,
    before: Option<LogCursor>,
    limit: i64,
    zone: &str,
) -> QueryResult<(Vec<LogLine>, Option<LogCursor>)> {
    let mut q = contact_changes::table
        .left_join(staff::table.on(contact_changes::staff_id.eq(staff::id.nullable())))
        .filter(contact_changes::contact_id.eq(id))
        .select((Change::as_select(), staff::display_name.nullable()))
        .order((
            contact_changes::changed_at.desc(),
            contact_changes::id.desc(),
        ))
        .limit(limit + 1)
        .into_boxed();
    if let Some(source) = &filter.source {
        q = q.filter(contact_changes::source.eq(source.clone()));
    }
    if let Some(field) = &filter.field {
        q = q.filter(contact_changes::field.eq(field.clone()));
    }
    if let Some((at, id)) = before {
        q = q.filter(
            contact_changes::changed_at
                .lt(at)
                .or(contact_changes::changed_at
                    .eq(at)
                    .and(contact_changes::id.lt(id))),
        );
    }
    let mut rows: Vec<(Change, Option<String>)> = q.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|(c, _)| (c.changed_at, c.id))
    } else {
        None
    };
    let mut lines = Vec::with_capacity(rows.len());
    for (c, name) in &rows {
        let who = c.staff_id.zip(name.clone());
        let mut line = LogLine::of(c, who, zone);
        if let (Some(merge_id), "merge") = (c.merge_id, c.action.as_str()) {
            line.merge = Some(merge_line(conn, merge_id)?);
        }
        lines.push(line);
    }
    Ok((lines, next))
}

fn merge_line(conn: &mut PgConnection, id: i64) -> QueryResult<MergeLine> {
    use crate::schema::{contacts, merges};
    let (merged, undone): (Vec<i64>, Option<DateTime<Utc>>) = merges::table
        .find(id)
        .select((merges::merged_ids, merges::undone_at))
        .first(conn)?;
    let records = contacts::table
        .filter(contacts::id.eq_any(&merged))
        .order(contacts::id)
        .select((contacts::id, contacts::first_name, contacts::last_name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, f, l)| (id, crate::models::contact::display_name(&f, &l)))
        .collect();
    Ok(MergeLine {
        id,
        records,
        undo: undone.is_none(),
    })
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LogParams {
    field: String,
    source: String,
    /// `micros.id` of the last entry of the page before.
    before: String,
}

/// Which entries the tab shows.
#[derive(Default, Clone)]
pub struct LogFilter {
    pub field: Option<String>,
    pub source: Option<String>,
}

const SOURCES: [&str; 5] = ["form", "import", "bulk", "merge", "enquiry"];

#[derive(Template, WebTemplate)]
#[template(path = "contacts/changes.html")]
pub struct ChangeLogPage {
    layout: Layout,
    head: ContactHead,
    lines: Vec<LogLine>,
    fields: Vec<String>,
    field: String,
    source: String,
    next: Option<String>,
    first_page: bool,
}

impl ChangeLogPage {
    pub fn sources(&self) -> Vec<(&'static str, &'static str)> {
        SOURCES.iter().map(|s| (*s, source_label(s))).collect()
    }

    fn url(&self, before: &str) -> String {
        let query = serde_urlencoded::to_string([
            ("field", self.field.as_str()),
            ("source", self.source.as_str()),
            ("before", before),
        ])
        .unwrap_or_default();
        format!("/contacts/{}/changes?{query}", self.head.id())
    }

    /// The address of the page after this one, filters kept.
    pub fn next_url(&self) -> Option<String> {
        self.next.as_ref().map(|before| self.url(before))
    }

    /// The first page, filters kept.
    pub fn newest_url(&self) -> String {
        self.url("")
    }
}

fn parse_before(s: &str) -> Option<LogCursor> {
    let (micros, id) = s.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

pub async fn show_changes(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    params: web::Query<LogParams>,
) -> AppResult<ChangeLogPage> {
    let id = id.into_inner();
    let params = params.into_inner();
    let filter = LogFilter {
        field: Some(params.field.trim().to_string()).filter(|f| !f.is_empty()),
        source: SOURCES
            .iter()
            .find(|s| **s == params.source)
            .map(|s| s.to_string()),
    };
    let before = parse_before(&params.before);
    let zone = me.staff.time_zone.clone();
    let member = Member::of(&me);
    let (head, lines, next, fields) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Changes)?;
        let (lines, next) = load_lines(conn, id, &filter, before, PAGE, &zone)?;
        let fields: Vec<String> = contact_changes::table
            .filter(contact_changes::contact_id.eq(id))
            .filter(contact_changes::field.is_not_null())
            .select(contact_changes::field.assume_not_null())
            .distinct()
            .order(contact_changes::field.assume_not_null())
            .load(conn)?;
        Ok((head, lines, next, fields))
    })
    .await?;
    Ok(ChangeLogPage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/changes")),
        head,
        lines,
        fields,
        field: params.field,
        source: params.source,
        next: next.map(|(at, id)| format!("{}.{id}", at.timestamp_micros())),
        first_page: before.is_none(),
    })
}
