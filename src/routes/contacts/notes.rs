//! Notes on a contact's Profile tab: add, edit and delete (the author, or an
//! administrator), pin to the top. Every action is a plain form.

use actix_web::{http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::note::{NoteBody, note_html},
    error::{AppError, AppResult},
    models::note::{Note, NoteWithAuthor},
    models::visibility::Member,
    routes::{
        Face, FormResponse, Layout,
        contacts::{
            head::{ContactHead, Tab},
            show::profile_page,
        },
        invalid, redirect, when_in,
    },
};

/// A note as the profile shows it.
pub struct NoteView {
    pub id: i64,
    pub author_id: i64,
    pub face: Face,
    pub when: String,
    pub edited: Option<String>,
    pub html: String,
    pub pinned: bool,
    /// The viewer may edit, pin and delete it.
    pub mine: bool,
}

impl NoteView {
    pub fn of((note, author, avatar): NoteWithAuthor, me: &CurrentStaff) -> NoteView {
        let zone = &me.staff.time_zone;
        NoteView {
            id: note.id,
            author_id: note.author_id,
            face: Face::from_parts(note.author_id, &author, avatar),
            when: when_in(note.created_at, zone),
            edited: note.edited_at.map(|t| when_in(t, zone)),
            html: note_html(&note.body),
            pinned: note.pinned,
            mine: may_change(me, &note),
        }
    }
}

/// The author changes their own notes; administrators change any.
fn may_change(me: &CurrentStaff, note: &Note) -> bool {
    note.author_id == me.staff.id || me.staff.is_admin()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteForm {
    body: String,
}

/// A live contact `id` exists, and (later) `me` may see it.
fn live_contact(conn: &mut diesel::PgConnection, member: Member, id: i64) -> AppResult<()> {
    let head = ContactHead::load(conn, member, id, Tab::Profile)?;
    if !head.is_live() {
        return Err(AppError::Forbidden(
            "This contact is in the trash: restore it before changing its notes.",
        ));
    }
    Ok(())
}

pub async fn add_note(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    form: web::Form<NoteForm>,
) -> FormResponse<crate::routes::contacts::show::ContactShowPage> {
    let id = id.into_inner();
    let form = form.into_inner();
    let body = match NoteBody::parse(&form.body) {
        Ok(body) => body,
        Err(e) => {
            let page = profile_page(&state, &me, id, Some((form.body, e))).await?;
            return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let (author, member) = (me.staff.id, Member::of(&me));
    db::transaction(&state.pool, move |conn| {
        live_contact(conn, member, id)?;
        Ok(Note::add(conn, id, author, &body)?)
    })
    .await?;
    flash(&me.session, "success", "Your note has been added.");
    redirect(format!("/contacts/{id}#notes"))
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/note_edit.html")]
pub struct NoteEditPage {
    layout: Layout,
    contact_id: i64,
    contact_name: String,
    note_id: i64,
    body: String,
    error: Option<String>,
    deleting: bool,
}

async fn load_note(
    state: &AppState,
    me: &CurrentStaff,
    contact_id: i64,
    note_id: i64,
) -> AppResult<(Note, String)> {
    let member = Member::of(me);
    let (note, name) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, contact_id, Tab::Profile)?;
        Ok((Note::find(conn, contact_id, note_id)?, head.name))
    })
    .await?;
    if !may_change(me, &note) {
        return Err(AppError::Forbidden(
            "Only the author of a note, or an administrator, may change it.",
        ));
    }
    Ok((note, name))
}

/// Applies `write` to a note the member may change, in one transaction that
/// checks again that its contact is live and visible: the edit, delete and
/// pin forms all go through here.
async fn write_note(
    state: &AppState,
    me: &CurrentStaff,
    note: Note,
    write: impl FnOnce(&mut diesel::PgConnection, &Note, i64) -> diesel::QueryResult<()>
    + Send
    + 'static,
) -> AppResult<()> {
    let (by, member) = (me.staff.id, Member::of(me));
    db::transaction(&state.pool, move |conn| {
        live_contact(conn, member, note.contact_id)?;
        Ok(write(conn, &note, by)?)
    })
    .await
}

fn edit_page(me: &CurrentStaff, note: &Note, name: String, deleting: bool) -> NoteEditPage {
    let action = if deleting { "delete" } else { "edit" };
    NoteEditPage {
        layout: Layout::signed_in(
            me,
            "contacts",
            format!("/contacts/{}/notes/{}/{action}", note.contact_id, note.id),
        ),
        contact_id: note.contact_id,
        contact_name: name,
        note_id: note.id,
        body: note.body.clone(),
        error: None,
        deleting,
    }
}

pub async fn edit_note_form(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
) -> AppResult<NoteEditPage> {
    let (contact_id, note_id) = path.into_inner();
    let (note, name) = load_note(&state, &me, contact_id, note_id).await?;
    Ok(edit_page(&me, &note, name, false))
}

pub async fn edit_note(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
    form: web::Form<NoteForm>,
) -> FormResponse<NoteEditPage> {
    let (contact_id, note_id) = path.into_inner();
    let (note, name) = load_note(&state, &me, contact_id, note_id).await?;
    let form = form.into_inner();
    let body = match NoteBody::parse(&form.body) {
        Ok(body) => body,
        Err(e) => {
            let mut page = edit_page(&me, &note, name, false);
            page.body = form.body;
            page.error = Some(e);
            return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    write_note(&state, &me, note, move |conn, note, by| {
        note.edit(conn, by, &body)
    })
    .await?;
    flash(&me.session, "success", "The note has been saved.");
    redirect(format!("/contacts/{contact_id}#note-{note_id}"))
}

pub async fn delete_note_form(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
) -> AppResult<NoteEditPage> {
    let (contact_id, note_id) = path.into_inner();
    let (note, name) = load_note(&state, &me, contact_id, note_id).await?;
    Ok(edit_page(&me, &note, name, true))
}

pub async fn delete_note(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
) -> AppResult<actix_web::web::Redirect> {
    let (contact_id, note_id) = path.into_inner();
    let (note, _) = load_note(&state, &me, contact_id, note_id).await?;
    write_note(&state, &me, note, |conn, note, by| note.delete(conn, by)).await?;
    flash(&me.session, "success", "The note has been deleted.");
    Ok(actix_web::web::Redirect::to(format!("/contacts/{contact_id}#notes")).see_other())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PinForm {
    pinned: String,
}

pub async fn pin_note(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
    form: web::Form<PinForm>,
) -> AppResult<actix_web::web::Redirect> {
    let (contact_id, note_id) = path.into_inner();
    let (note, _) = load_note(&state, &me, contact_id, note_id).await?;
    let pinned = form.pinned == "1";
    write_note(&state, &me, note, move |conn, note, by| {
        note.set_pinned(conn, by, pinned)
    })
    .await?;
    flash(
        &me.session,
        "success",
        if pinned {
            "The note is pinned to the top."
        } else {
            "The note is no longer pinned."
        },
    );
    Ok(actix_web::web::Redirect::to(format!("/contacts/{contact_id}#note-{note_id}")).see_other())
}
