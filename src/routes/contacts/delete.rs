//! Deleting contacts to the trash (any staff member), and the trash itself:
//! restore and purge are for administrators.

use actix_web::web::{self, Redirect};
use askama::Template;
use askama_web::WebTemplate;

use crate::{
    AppState,
    auth::{Admin, CurrentStaff, flash},
    db,
    error::{AppError, AppResult},
    models::visibility::{self, Member},
    models::{
        contact::{self, ContactRecord, source},
        contact_list::{self, Cursor},
    },
    routes::{Layout, contacts::list::ListParams},
};

#[derive(Template, WebTemplate)]
#[template(path = "contacts/delete.html")]
pub struct ConfirmDeletePage {
    layout: Layout,
    id: i64,
    name: String,
    company: String,
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<ConfirmDeletePage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let rec = db::run(&state.pool, move |conn| {
        if !visibility::sees(conn, member, id)? {
            return Err(AppError::NotFound);
        }
        Ok(ContactRecord::load(conn, id)?)
    })
    .await?;
    if rec.contact.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    Ok(ConfirmDeletePage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/delete")),
        id,
        name: rec.contact.display_name(),
        company: rec.contact.company.clone(),
    })
}

pub async fn delete_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let actor = me.staff.id;
    let member = Member::of(&me);
    let name = db::transaction(&state.pool, move |conn| {
        if !visibility::sees(conn, member, id)? {
            return Err(AppError::NotFound);
        }
        let rec = ContactRecord::load(conn, id)?;
        Ok(contact::soft_delete(conn, id, Some(actor), source::FORM)?
            .then(|| rec.contact.display_name()))
    })
    .await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    match name {
        Some(name) => {
            log::info!("contact {id} moved to the trash by staff {actor}");
            flash(
                &me.session,
                "success",
                format!("{name} has been moved to the trash."),
            );
        }
        None => flash(&me.session, "error", "That contact was already deleted."),
    }
    Ok(Redirect::to("/contacts").see_other())
}

pub struct TrashRow {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub deleted_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/trash.html")]
pub struct TrashPage {
    layout: Layout,
    rows: Vec<TrashRow>,
    next_url: Option<String>,
    q: String,
}

pub async fn list_trash(
    state: web::Data<AppState>,
    Admin(me): Admin,
    params: web::Query<ListParams>,
) -> AppResult<TrashPage> {
    let mut params = params.into_inner();
    // The trash is read newest first.
    params.sort = "updated".into();
    params.dir = "desc".into();
    let query = params.query(me.staff.id, true);
    let page = db::run(&state.pool, move |conn| {
        Ok(contact_list::list(conn, &query)?)
    })
    .await?;
    Ok(TrashPage {
        layout: Layout::signed_in(&me, "contacts", "/contacts/trash"),
        rows: page
            .rows
            .iter()
            .map(|r| TrashRow {
                id: r.id,
                name: contact::display_name(&r.first_name, &r.last_name),
                company: r.company.clone(),
                deleted_at: r
                    .deleted_at
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        next_url: page
            .next
            .as_ref()
            .map(|c: &Cursor| params.url("/contacts/trash", Some(c), None)),
        q: params.q.clone(),
    })
}

pub async fn restore_contact(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let actor = me.staff.id;
    let restored = db::transaction(&state.pool, move |conn| {
        Ok(contact::restore(conn, id, Some(actor))?)
    })
    .await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    if restored {
        flash(&me.session, "success", "The contact has been restored.");
        Ok(Redirect::to(format!("/contacts/{id}")).see_other())
    } else {
        flash(&me.session, "error", "That contact is not in the trash.");
        Ok(Redirect::to("/contacts/trash").see_other())
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/purge.html")]
pub struct ConfirmPurgePage {
    layout: Layout,
    id: i64,
    name: String,
    company: String,
    deleted_at: String,
}

/// "Delete for good" asks on a page of its own, like every other delete.
pub async fn confirm_purge(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<ConfirmPurgePage> {
    let id = id.into_inner();
    let rec = db::run(&state.pool, move |conn| Ok(ContactRecord::load(conn, id)?)).await?;
    let Some(deleted_at) = rec.contact.deleted_at else {
        return Err(AppError::NotFound);
    };
    if rec.contact.merged_into.is_some() {
        return Err(AppError::NotFound);
    }
    Ok(ConfirmPurgePage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/purge")),
        id,
        name: rec.contact.display_name(),
        company: rec.contact.company.clone(),
        deleted_at: crate::routes::when_in(deleted_at, &me.staff.time_zone),
    })
}

pub async fn purge_contact(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let purged = db::transaction(&state.pool, move |conn| Ok(contact::purge(conn, id)?)).await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    if purged {
        log::info!("contact {id} purged by staff {}", me.staff.id);
        flash(
            &me.session,
            "success",
            "The contact has been deleted for good.",
        );
    } else {
        flash(
            &me.session,
            "error",
            "Only contacts in the trash can be deleted for good.",
        );
    }
    Ok(Redirect::to("/contacts/trash").see_other())
}
