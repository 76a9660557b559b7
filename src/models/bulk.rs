//! Bulk edits and deletes over many contacts: one statement per batch of ids,
//! writing the change log (source `bulk`) in the same statement.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::domain::contact::{ContactType, Level};
use crate::models::contact_list::{self, Filters};

/// Contacts changed per transaction when a bulk action walks a whole view.
pub const BATCH: i64 = 5_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkEdit {
    Type(ContactType),
    Level(Level),
    Owner(i64),
    AddLabel(i64),
    RemoveLabel(i64),
    Delete,
    /// Out of the trash (walks the trash, not the live list).
    Restore,
}

impl BulkEdit {
    /// The job table's (action, value) for this edit.
    pub fn to_stored(&self) -> (&'static str, String) {
        match self {
            BulkEdit::Type(t) => ("type", t.as_str().to_string()),
            BulkEdit::Level(l) => ("level", l.as_str().to_string()),
            BulkEdit::Owner(o) => ("owner", o.to_string()),
            BulkEdit::AddLabel(l) => ("add_label", l.to_string()),
            BulkEdit::RemoveLabel(l) => ("remove_label", l.to_string()),
            BulkEdit::Delete => ("delete", String::new()),
            BulkEdit::Restore => ("restore", String::new()),
        }
    }

    /// The edit a job stored; None for a value that no longer reads.
    pub fn from_stored(action: &str, value: &str) -> Option<BulkEdit> {
        Some(match action {
            "type" => BulkEdit::Type(value.parse().ok()?),
            "level" => BulkEdit::Level(value.parse().ok()?),
            "owner" => BulkEdit::Owner(value.parse().ok()?),
            "add_label" => BulkEdit::AddLabel(value.parse().ok()?),
            "remove_label" => BulkEdit::RemoveLabel(value.parse().ok()?),
            "delete" => BulkEdit::Delete,
            "restore" => BulkEdit::Restore,
            _ => return None,
        })
    }
}

/// Sets a text column (`contact_type` or `level`) whose stored values are
/// lower-case words; the change log shows them capitalised, as forms do.
fn set_word_sql(column: &str, field: &str) -> String {
    format!(
        "\
WITH target AS (
    SELECT id, {column} AS old FROM contacts
    WHERE id = ANY($1) AND deleted_at IS NULL AND {column} <> $3
    FOR UPDATE),
upd AS (
    UPDATE contacts c SET {column} = $3, version = c.version + 1, updated_at = now(), updated_by = $2
    FROM target t WHERE c.id = t.id RETURNING c.id, t.old, c.version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version)
SELECT id, $2, 'bulk', 'update', '{field}', initcap(old), initcap($3), version FROM upd"
    )
}

const SET_OWNER: &str = "\
WITH target AS (
    SELECT id, owner_id AS old FROM contacts
    WHERE id = ANY($1) AND deleted_at IS NULL AND owner_id IS DISTINCT FROM $3
    FOR UPDATE),
upd AS (
    UPDATE contacts c SET owner_id = $3, version = c.version + 1, updated_at = now(), updated_by = $2
    FROM target t WHERE c.id = t.id RETURNING c.id, t.old, c.version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version)
SELECT u.id, $2, 'bulk', 'update', 'Owner',
    coalesce((SELECT display_name FROM staff WHERE id = u.old), ''),
    (SELECT display_name FROM staff WHERE id = $3), u.version
FROM upd u";

/// The label list as the change log writes it: names by lower-cased name.
const LABELS_OF: &str = "SELECT l.name AS n FROM contact_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.contact_id = t.id";

fn add_label_sql() -> String {
    format!(
        "\
WITH target AS (
    SELECT c.id FROM contacts c
    WHERE c.id = ANY($1) AND c.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = c.id AND cl.label_id = $3)
    FOR UPDATE),
before AS (
    SELECT t.id,
        coalesce((SELECT string_agg(n, '; ' ORDER BY lower(n)) FROM ({LABELS_OF}) x), '') AS old,
        (SELECT string_agg(n, '; ' ORDER BY lower(n)) FROM ({LABELS_OF} UNION ALL SELECT name FROM labels WHERE id = $3) x) AS new
    FROM target t),
ins AS (INSERT INTO contact_labels (contact_id, label_id) SELECT id, $3 FROM target),
upd AS (
    UPDATE contacts c SET version = c.version + 1, updated_at = now(), updated_by = $2,
        label_ids = ARRAY(SELECT DISTINCT x FROM unnest(c.label_ids || $3::bigint) x ORDER BY x)
    FROM target t WHERE c.id = t.id RETURNING c.id, c.version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version)
SELECT u.id, $2, 'bulk', 'update', 'Labels', b.old, b.new, u.version FROM upd u JOIN before b ON b.id = u.id"
    )
}

fn remove_label_sql() -> String {
    format!(
        "\
WITH target AS (
    SELECT c.id FROM contacts c
    WHERE c.id = ANY($1) AND c.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = c.id AND cl.label_id = $3)
    FOR UPDATE),
before AS (
    SELECT t.id,
        (SELECT string_agg(n, '; ' ORDER BY lower(n)) FROM ({LABELS_OF}) x) AS old,
        coalesce((SELECT string_agg(n, '; ' ORDER BY lower(n)) FROM ({LABELS_OF} AND cl.label_id <> $3) x), '') AS new
    FROM target t),
del AS (DELETE FROM contact_labels cl USING target t WHERE cl.contact_id = t.id AND cl.label_id = $3),
upd AS (
    UPDATE contacts c SET version = c.version + 1, updated_at = now(), updated_by = $2,
        label_ids = array_remove(c.label_ids, $3::bigint)
    FROM target t WHERE c.id = t.id RETURNING c.id, c.version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, field, old_value, new_value, version)
SELECT u.id, $2, 'bulk', 'update', 'Labels', b.old, b.new, u.version FROM upd u JOIN before b ON b.id = u.id"
    )
}

const DELETE: &str = "\
WITH upd AS (
    UPDATE contacts SET deleted_at = now(), deleted_by = $2, version = version + 1
    WHERE id = ANY($1) AND deleted_at IS NULL RETURNING id, version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, version)
SELECT id, $2, 'bulk', 'delete', version FROM upd";

/// A contact merged into another stays in the trash: its undo is the
/// merge's own.
const RESTORE: &str = "\
WITH upd AS (
    UPDATE contacts SET deleted_at = NULL, deleted_by = NULL, version = version + 1
    WHERE id = ANY($1) AND deleted_at IS NOT NULL AND merged_into IS NULL RETURNING id, version)
INSERT INTO contact_changes (contact_id, staff_id, source, action, version)
SELECT id, $2, 'bulk', 'restore', version FROM upd";

/// Applies `edit` to the live contacts among `ids`; how many changed (those
/// that already had the value are left alone and not counted).
pub fn apply(
    conn: &mut PgConnection,
    edit: &BulkEdit,
    ids: &[i64],
    actor: i64,
) -> QueryResult<usize> {
    let base = |sql: &str| {
        diesel::sql_query(sql.to_string())
            .into_boxed::<diesel::pg::Pg>()
            .bind::<Array<BigInt>, _>(ids.to_vec())
            .bind::<BigInt, _>(actor)
    };
    match edit {
        BulkEdit::Type(t) => base(&set_word_sql("contact_type", "Type"))
            .bind::<Text, _>(t.as_str())
            .execute(conn),
        BulkEdit::Level(l) => base(&set_word_sql("level", "Level"))
            .bind::<Text, _>(l.as_str())
            .execute(conn),
        BulkEdit::Owner(o) => base(SET_OWNER).bind::<BigInt, _>(*o).execute(conn),
        BulkEdit::AddLabel(l) => base(&add_label_sql()).bind::<BigInt, _>(*l).execute(conn),
        BulkEdit::RemoveLabel(l) => base(&remove_label_sql())
            .bind::<BigInt, _>(*l)
            .execute(conn),
        BulkEdit::Delete => base(DELETE).execute(conn),
        BulkEdit::Restore => base(RESTORE).execute(conn),
    }
}

/// How many live contacts `filters` match, exactly (the confirmation states it).
pub fn count_matching(conn: &mut PgConnection, filters: &Filters) -> QueryResult<i64> {
    contact_list::count_capped(conn, filters, i64::MAX)
}
