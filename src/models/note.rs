//! The `notes` table: what staff write about a contact, pinned first, then
//! newest first. Every write is logged on the contact's change log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::domain::note::NoteBody;
use crate::models::contact::{Event, log_event};
use crate::schema::{notes, staff};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = notes, check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: i64,
    pub contact_id: i64,
    pub author_id: i64,
    pub body: String,
    pub pinned: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A note with its author's name and picture version.
pub type NoteWithAuthor = (Note, String, i32);

/// The longest a note is quoted in the change log.
const QUOTED: usize = 200;

fn quote(body: &str) -> String {
    let mut q: String = body.chars().take(QUOTED).collect();
    if body.chars().count() > QUOTED {
        q.push('…');
    }
    q
}

impl Note {
    pub fn of_contact(
        conn: &mut PgConnection,
        contact_id: i64,
    ) -> QueryResult<Vec<NoteWithAuthor>> {
        notes::table
            .inner_join(staff::table.on(staff::id.eq(notes::author_id)))
            .filter(notes::contact_id.eq(contact_id))
            .order((
                notes::pinned.desc(),
                notes::created_at.desc(),
                notes::id.desc(),
            ))
            .select((
                Note::as_select(),
                staff::display_name,
                staff::avatar_version,
            ))
            .load(conn)
    }

    /// The note `id` of contact `contact_id`.
    pub fn find(conn: &mut PgConnection, contact_id: i64, id: i64) -> QueryResult<Note> {
        notes::table
            .find(id)
            .filter(notes::contact_id.eq(contact_id))
            .select(Note::as_select())
            .first(conn)
    }

    pub fn count(conn: &mut PgConnection, contact_id: i64) -> QueryResult<i64> {
        notes::table
            .filter(notes::contact_id.eq(contact_id))
            .count()
            .get_result(conn)
    }

    pub fn add(
        conn: &mut PgConnection,
        contact_id: i64,
        author: i64,
        body: &NoteBody,
    ) -> QueryResult<i64> {
        let id = diesel::insert_into(notes::table)
            .values((
                notes::contact_id.eq(contact_id),
                notes::author_id.eq(author),
                notes::body.eq(body.as_str()),
            ))
            .returning(notes::id)
            .get_result(conn)?;
        log_event(
            conn,
            Event {
                contact_id,
                staff_id: Some(author),
                action: "note",
                field: Some("Note"),
                old_value: None,
                new_value: Some(&quote(body.as_str())),
            },
        )?;
        Ok(id)
    }

    /// Replaces the text; the caller has checked who may.
    pub fn edit(&self, conn: &mut PgConnection, by: i64, body: &NoteBody) -> QueryResult<()> {
        if body.as_str() == self.body {
            return Ok(());
        }
        diesel::update(notes::table.find(self.id))
            .set((
                notes::body.eq(body.as_str()),
                notes::edited_at.eq(Some(Utc::now())),
            ))
            .execute(conn)?;
        log_event(
            conn,
            Event {
                contact_id: self.contact_id,
                staff_id: Some(by),
                action: "note_edit",
                field: Some("Note"),
                old_value: Some(&quote(&self.body)),
                new_value: Some(&quote(body.as_str())),
            },
        )
    }

    pub fn delete(&self, conn: &mut PgConnection, by: i64) -> QueryResult<()> {
        diesel::delete(notes::table.find(self.id)).execute(conn)?;
        log_event(
            conn,
            Event {
                contact_id: self.contact_id,
                staff_id: Some(by),
                action: "note_delete",
                field: Some("Note"),
                old_value: Some(&quote(&self.body)),
                new_value: None,
            },
        )
    }

    pub fn set_pinned(&self, conn: &mut PgConnection, by: i64, pinned: bool) -> QueryResult<()> {
        if self.pinned == pinned {
            return Ok(());
        }
        diesel::update(notes::table.find(self.id))
            .set(notes::pinned.eq(pinned))
            .execute(conn)?;
        log_event(
            conn,
            Event {
                contact_id: self.contact_id,
                staff_id: Some(by),
                action: "note_edit",
                field: Some("Pinned note"),
                old_value: Some(if pinned { "" } else { "pinned" }),
                new_value: Some(if pinned { "pinned" } else { "" }),
            },
        )
    }
}
