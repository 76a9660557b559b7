//! `/contacts/new`: the quick form, the full form, and saving a new contact.

use actix_web::{http::StatusCode, web};
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::contact::{ContactForm, ContactInput},
    error::AppResult,
    models::contact::{self, display_name, find_duplicates, source},
    models::visibility::{self, Member},
    routes::{
        FormResponse,
        contacts::form::{ContactFormPage, FormChoices, Mode, add_row, remove_row, today},
        invalid, redirect,
    },
};

#[derive(Deserialize)]
pub struct NewQuery {
    /// The contact saved just before, after "Save and create new".
    saved: Option<i64>,
}

pub async fn new_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<NewQuery>,
) -> AppResult<ContactFormPage> {
    let saved = query.saved;
    let (choices, just_saved) = db::run(&state.pool, move |conn| {
        let saved = match saved {
            Some(id) => contact::ContactRecord::load(conn, id)
                .ok()
                .map(|r| (id, r.contact.display_name())),
            None => None,
        };
        Ok((FormChoices::load(conn)?, saved))
    })
    .await?;
    let mut page = ContactFormPage::new(
        &me,
        Mode::Quick,
        "/contacts/new".into(),
        ContactForm::default(),
        choices,
    );
    page.just_saved = just_saved;
    Ok(page)
}

pub async fn new_contact_full(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> AppResult<ContactFormPage> {
    let choices = db::run(&state.pool, FormChoices::load).await?;
    Ok(ContactFormPage::new(
        &me,
        Mode::Full,
        "/contacts/new".into(),
        ContactForm::default(),
        choices,
    )
    .with_blank_rows())
}

pub async fn create_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    pairs: web::Form<Vec<(String, String)>>,
) -> FormResponse<ContactFormPage> {
    let pairs = pairs.into_inner();
    let mut form = ContactForm::from_pairs(&pairs);
    let full = pairs.iter().any(|(k, v)| k == "layout" && v == "full");
    let confirmed = pairs
        .iter()
        .any(|(k, v)| k == "confirm_duplicates" && v == "1");
    let mode = if full { Mode::Full } else { Mode::Quick };
    let choices = db::run(&state.pool, FormChoices::load).await?;

    // "More details" and "Add another …" only redraw the form, keeping what was typed.
    if form.submit == "more" || form.add_row.is_some() || form.remove_row.is_some() {
        if let Some(which) = form.add_row.take() {
            add_row(&mut form, &which);
        }
        if let Some(which) = form.remove_row.take() {
            remove_row(&mut form, &which);
        }
        return invalid(
            ContactFormPage::new(&me, Mode::Full, "/contacts/new".into(), form, choices)
                .with_blank_rows(),
            StatusCode::OK,
        );
    }

    let input = match ContactInput::parse(&form, today(), &choices.custom_fields) {
        Ok(input) => input,
        Err(errors) => {
            let mut page = ContactFormPage::new(&me, mode, "/contacts/new".into(), form, choices);
            page.errors = errors;
            return invalid(page.with_blank_rows(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let actor = me.staff.id;
    let emails: Vec<String> = input.emails.iter().map(|e| e.email.to_string()).collect();
    let phones: Vec<String> = input.phones.iter().map(|p| p.number.to_string()).collect();
    let member = Member::of(&me);
    let outcome = db::transaction(&state.pool, move |conn| {
        if !confirmed {
            let visible_to = visibility::limited_to(conn, member)?;
            let dups = find_duplicates(conn, None, &emails, &phones, visible_to)?;
            if !dups.is_empty() {
                return Ok(Err(dups));
            }
        }
        Ok(Ok(contact::create(
            conn,
            &input,
            Some(actor),
            source::FORM,
        )?))
    })
    .await?;
    // The list's first pages may show what just changed.
    state.contacts_changed();
    let id = match outcome {
        Ok(id) => id,
        Err(duplicates) => {
            let mut page = ContactFormPage::new(&me, mode, "/contacts/new".into(), form, choices);
            page.duplicates = duplicates;
            return invalid(page.with_blank_rows(), StatusCode::CONFLICT);
        }
    };
    let name = display_name(&form.first_name, &form.last_name);
    log::info!("contact {id} created by staff {actor}");
    if form.submit == "create_new" {
        // The new form says so itself, with a link to the contact.
        return redirect(format!("/contacts/new?saved={id}"));
    }
    flash(&me.session, "success", format!("{name} has been created."));
    redirect(format!("/contacts/{id}"))
}
