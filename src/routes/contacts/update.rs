//! `/contacts/{id}/edit`: the full form over a saved contact, with optimistic
//! locking so that nobody's save silently overwrites another's.

use actix_web::{http::StatusCode, web};

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::contact::{ContactForm, ContactInput},
    error::{AppError, AppResult},
    models::contact::{self, ContactRecord, UpdateOutcome, display_name, find_duplicates, source},
    models::visibility::{self, Member},
    routes::{
        FormResponse,
        contacts::form::{ContactFormPage, FormChoices, Mode, add_row, form_of, remove_row, today},
        invalid, redirect,
    },
};

fn live(rec: ContactRecord) -> Result<ContactRecord, AppError> {
    // An old link to a merged record leads to the contact it lives on.
    if let Some(into) = rec.contact.merged_into {
        return Err(AppError::SeeOther(format!(
            "/contacts/{into}?merged={}",
            rec.contact.id
        )));
    }
    if rec.contact.deleted_at.is_some() {
        Err(AppError::NotFound)
    } else {
        Ok(rec)
    }
}

/// Where an edit comes from: the contact's own page, or the side panel of an
/// enquiry's room (its own permission rule, its own change-log source).
#[derive(Clone, Copy)]
pub enum Via {
    Contact(i64),
    Enquiry(i64),
}

impl Via {
    fn action(self) -> String {
        match self {
            Via::Contact(id) => format!("/contacts/{id}/edit"),
            Via::Enquiry(e) => format!("/enquiries/{e}/contact"),
        }
    }

    fn done(self, id: i64) -> String {
        match self {
            Via::Contact(_) => format!("/contacts/{id}"),
            Via::Enquiry(e) => format!("/enquiries/{e}"),
        }
    }

    fn source(self) -> &'static str {
        match self {
            Via::Contact(_) => source::FORM,
            Via::Enquiry(_) => source::ENQUIRY,
        }
    }

    /// The contact `member` may edit this way, checked on the server.
    fn contact(self, conn: &mut diesel::PgConnection, member: Member) -> AppResult<i64> {
        match self {
            Via::Contact(id) => {
                if !visibility::sees(conn, member, id)? {
                    return Err(AppError::NotFound);
                }
                Ok(id)
            }
            Via::Enquiry(e) => crate::models::enquiry::editable_contact(conn, e, member.id, member.admin)?
                .ok_or(AppError::Forbidden(
                    "Only the member handling this enquiry (or an administrator) can edit its contact, and only while it is being handled.",
                )),
        }
    }
}

async fn load_for_edit(
    state: &AppState,
    member: Member,
    via: Via,
) -> AppResult<(ContactRecord, FormChoices)> {
    db::run(&state.pool, move |conn| {
        let id = via.contact(conn, member)?;
        Ok((
            live(ContactRecord::load(conn, id)?)?,
            FormChoices::load(conn)?,
        ))
    })
    .await
}

/// The edit form over `rec`, showing `form` (as saved, or as typed) and the
/// verified rows locked.
fn edit_page(
    me: &CurrentStaff,
    via: Via,
    rec: &ContactRecord,
    form: ContactForm,
    choices: FormChoices,
) -> ContactFormPage {
    let id = rec.contact.id;
    let (_, lp, le, ls) = form_of(rec);
    let mut page = ContactFormPage::new(me, Mode::Edit, via.action(), form, choices);
    page.contact_id = Some(id);
    if let Via::Enquiry(e) = via {
        page.back = Some(format!("/enquiries/{e}"));
    }
    page.locked_phones = lp;
    page.locked_emails = le;
    page.locked_socials = ls;
    page
}

pub async fn edit_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<ContactFormPage> {
    edit(state, me, Via::Contact(id.into_inner())).await
}

/// The contact's form in an enquiry's side panel (its own page).
pub async fn edit_from_enquiry(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<ContactFormPage> {
    edit(state, me, Via::Enquiry(id.into_inner())).await
}

async fn edit(
    state: web::Data<AppState>,
    me: CurrentStaff,
    via: Via,
) -> AppResult<ContactFormPage> {
    let (rec, choices) = load_for_edit(&state, Member::of(&me), via).await?;
    let (form, ..) = form_of(&rec);
    Ok(edit_page(&me, via, &rec, form, choices).with_blank_rows())
}

enum Saved {
    Done,
    Duplicates(Vec<contact::Duplicate>),
    Stale(Vec<contact::Change>),
}

pub async fn update_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    pairs: web::Form<Vec<(String, String)>>,
) -> FormResponse<ContactFormPage> {
    save(state, me, Via::Contact(id.into_inner()), pairs.into_inner()).await
}

/// A save from an enquiry's side panel: the same rules and locking, logged
/// with source `enquiry`.
pub async fn update_from_enquiry(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    pairs: web::Form<Vec<(String, String)>>,
) -> FormResponse<ContactFormPage> {
    save(state, me, Via::Enquiry(id.into_inner()), pairs.into_inner()).await
}

async fn save(
    state: web::Data<AppState>,
    me: CurrentStaff,
    via: Via,
    pairs: Vec<(String, String)>,
) -> FormResponse<ContactFormPage> {
    let mut form = ContactForm::from_pairs(&pairs);
    let confirmed = pairs
        .iter()
        .any(|(k, v)| k == "confirm_duplicates" && v == "1");
    let (rec, choices) = load_for_edit(&state, Member::of(&me), via).await?;
    let id = rec.contact.id;
    let page = |form: ContactForm, choices: FormChoices| edit_page(&me, via, &rec, form, choices);
    if let Some(which) = form.add_row.take() {
        add_row(&mut form, &which);
        return invalid(page(form, choices).with_blank_rows(), StatusCode::OK);
    }
    if let Some(which) = form.remove_row.take() {
        remove_row(&mut form, &which);
        return invalid(page(form, choices).with_blank_rows(), StatusCode::OK);
    }
    let input = match ContactInput::parse(&form, today(), &choices.custom_fields) {
        Ok(input) => input,
        Err(errors) => {
            let mut p = page(form, choices);
            p.errors = errors;
            return invalid(p.with_blank_rows(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let Ok(expected) = form.version.trim().parse::<i32>() else {
        return Err(AppError::BadRequest(
            "The form is missing its version; reload the page and try again.".into(),
        ));
    };
    let actor = me.staff.id;
    let emails: Vec<String> = input.emails.iter().map(|e| e.email.to_string()).collect();
    let phones: Vec<String> = input.phones.iter().map(|p| p.number.to_string()).collect();
    // Only numbers and addresses new to this contact are worth a warning.
    let old_emails: Vec<String> = rec.emails.iter().map(|e| e.email.to_lowercase()).collect();
    let old_phones: Vec<String> = rec.phones.iter().map(|p| p.number.clone()).collect();
    let new_emails: Vec<String> = emails
        .into_iter()
        .filter(|e| !old_emails.contains(&e.to_lowercase()))
        .collect();
    let new_phones: Vec<String> = phones
        .into_iter()
        .filter(|p| !old_phones.contains(p))
        .collect();
    let member = Member::of(&me);
    let saved = db::transaction(&state.pool, move |conn| {
        // Again in the transaction: a share may have ended, or the
        // enquiry been closed, since the form.
        if via.contact(conn, member)? != id {
            return Err(AppError::NotFound);
        }
        if !confirmed {
            let visible_to = visibility::limited_to(conn, member)?;
            let dups = find_duplicates(conn, Some(id), &new_emails, &new_phones, visible_to)?;
            if !dups.is_empty() {
                return Ok(Saved::Duplicates(dups));
            }
        }
        Ok(
            match contact::update(conn, id, expected, &input, Some(actor), via.source())? {
                UpdateOutcome::Saved { .. } => Saved::Done,
                UpdateOutcome::Stale { changes } => Saved::Stale(changes),
            },
        )
    })
    .await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    match saved {
        Saved::Done => {
            flash(
                &me.session,
                "success",
                format!(
                    "{} has been saved.",
                    display_name(&form.first_name, &form.last_name)
                ),
            );
            redirect(via.done(id))
        }
        Saved::Duplicates(dups) => {
            let mut p = page(form, choices);
            p.duplicates = dups;
            invalid(p.with_blank_rows(), StatusCode::CONFLICT)
        }
        Saved::Stale(changes) => {
            // The user has now seen what changed: a second save is a decision.
            if let Some(v) = changes.iter().map(|c| c.version).max() {
                form.version = v.to_string();
            }
            let mut p = page(form, choices);
            p.conflict = changes;
            invalid(p.with_blank_rows(), StatusCode::CONFLICT)
        }
    }
}
