//! `/contacts/{id}/transfer`: give a contact to another active colleague (or
//! to nobody), with an optional note saying why.

use actix_web::{http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::note::NoteBody,
    error::{AppError, AppResult},
    models::visibility::Member,
    models::{contact::transfer_owner, note::Note},
    routes::{
        FormResponse, Layout,
        contacts::head::{ContactHead, Tab},
        invalid, redirect,
    },
    schema::staff,
};

#[derive(Template, WebTemplate)]
#[template(path = "contacts/transfer.html")]
pub struct TransferPage {
    layout: Layout,
    head: ContactHead,
    owner_name: Option<String>,
    staff: Vec<(i64, String)>,
    chosen: String,
    note: String,
    error: Option<String>,
}

impl TransferPage {
    pub fn is_chosen(&self, id: &i64) -> bool {
        self.chosen == id.to_string()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TransferForm {
    owner: String,
    note: String,
}

async fn transfer_page(state: &AppState, me: &CurrentStaff, id: i64) -> AppResult<TransferPage> {
    let member = Member::of(me);
    let (head, owner_name, active) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Profile)?;
        let owner_name = match head.contact.owner_id {
            Some(o) => staff::table
                .find(o)
                .select(staff::display_name)
                .first::<String>(conn)
                .optional()?,
            None => None,
        };
        let active = crate::models::staff::Staff::active_choices(conn)?;
        Ok((head, owner_name, active))
    })
    .await?;
    if !head.is_live() {
        return Err(AppError::NotFound);
    }
    Ok(TransferPage {
        layout: Layout::signed_in(me, "contacts", format!("/contacts/{id}/transfer")),
        chosen: String::new(),
        owner_name,
        staff: active
            .into_iter()
            .filter(|(s, _)| Some(*s) != head.contact.owner_id)
            .collect(),
        head,
        note: String::new(),
        error: None,
    })
}

pub async fn transfer_form(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<TransferPage> {
    transfer_page(&state, &me, id.into_inner()).await
}

pub async fn transfer(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    form: web::Form<TransferForm>,
) -> FormResponse<TransferPage> {
    let id = id.into_inner();
    let form = form.into_inner();
    let new_owner: Option<i64> = match form.owner.trim() {
        "none" => None,
        other => match other.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                let mut page = transfer_page(&state, &me, id).await?;
                page.note = form.note;
                page.error = Some("Choose the colleague who will own this contact.".into());
                return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
            }
        },
    };
    let note = if form.note.trim().is_empty() {
        None
    } else {
        match NoteBody::parse(&form.note) {
            Ok(n) => Some(n),
            Err(e) => {
                let mut page = transfer_page(&state, &me, id).await?;
                page.chosen = form.owner;
                page.note = form.note;
                page.error = Some(format!("Note: {e}"));
                return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
            }
        }
    };
    let (member, by) = (Member::of(&me), me.staff.id);
    let outcome = db::transaction(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Profile)?;
        if !head.is_live() {
            return Err(AppError::NotFound);
        }
        let name = match new_owner {
            Some(o) => {
                let found: Option<String> = staff::table
                    .find(o)
                    .filter(staff::active.eq(true))
                    .select(staff::display_name)
                    .first(conn)
                    .optional()?;
                match found {
                    Some(n) => n,
                    None => return Ok(Err(())),
                }
            }
            None => "nobody".to_string(),
        };
        let moved = transfer_owner(conn, id, new_owner, Some(by))?;
        if moved && let Some(note) = &note {
            let body = NoteBody::parse(&format!(
                "Ownership transferred to {name}: {}",
                note.as_str()
            ))
            .unwrap_or_else(|_| note.clone());
            Note::add(conn, id, by, &body)?;
        }
        Ok(Ok((moved, name)))
    })
    .await?;
    match outcome {
        Err(()) => {
            let mut page = transfer_page(&state, &me, id).await?;
            page.note = form.note;
            page.error = Some(
                "Choose an active colleague from the list; the contact was not transferred.".into(),
            );
            invalid(page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Ok((moved, name)) => {
            if moved {
                state.contacts_changed();
                flash(
                    &me.session,
                    "success",
                    format!("The contact now belongs to {name}."),
                );
            } else {
                flash(
                    &me.session,
                    "success",
                    format!("It already belonged to {name}."),
                );
            }
            redirect(format!("/contacts/{id}"))
        }
    }
}
