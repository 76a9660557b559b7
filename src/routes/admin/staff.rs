//! Administrators add, edit, deactivate and reactivate staff accounts and reset
//! their passwords.

use actix_multipart::Multipart;
use actix_web::{
    http::StatusCode,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Admin, CurrentStaff, flash},
    db,
    domain::{
        password::NewPassword,
        staff::{Availability, FieldErrors, Role, StaffForm, StaffInput, time_zone_names},
    },
    error::{AppError, AppResult},
    models::{
        ownership,
        staff::{NewStaff, Staff, StaffChanges},
        unique_violation,
    },
    routes::{
        Face, FormResponse, Layout, invalid, me::PasswordPage, redirect,
        staff::avatar::read_avatar_upload,
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/staff", web::get().to(list_accounts))
        .route("/admin/staff/new", web::get().to(new_account))
        .route("/admin/staff/new", web::post().to(create_account))
        .route("/admin/staff/{id}/edit", web::get().to(edit_account))
        .route("/admin/staff/{id}/edit", web::post().to(update_account))
        .route(
            "/admin/staff/{id}/deactivate",
            web::get().to(confirm_deactivate),
        )
        .route(
            "/admin/staff/{id}/deactivate",
            web::post().to(deactivate_account),
        )
        .route(
            "/admin/staff/{id}/activate",
            web::post().to(activate_account),
        )
        .route(
            "/admin/staff/{id}/password",
            web::get().to(edit_account_password),
        )
        .route(
            "/admin/staff/{id}/password",
            web::post().to(reset_account_password),
        )
        .route(
            "/admin/staff/{id}/avatar",
            web::post().to(upload_account_avatar),
        )
        .route(
            "/admin/staff/{id}/avatar/remove",
            web::post().to(remove_account_avatar),
        );
}

pub struct AccountRow {
    pub id: i64,
    pub face: Face,
    pub email: String,
    pub role: &'static str,
    pub extension: Option<String>,
    pub availability: Availability,
    pub active: bool,
    pub can_sign_in: bool,
    pub is_me: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/staff.html")]
pub struct AccountListPage {
    layout: Layout,
    accounts: Vec<AccountRow>,
}

async fn list_accounts(state: web::Data<AppState>, Admin(me): Admin) -> AppResult<AccountListPage> {
    let all = db::run(&state.pool, |conn| Ok(Staff::all(conn)?)).await?;
    Ok(AccountListPage {
        layout: Layout::signed_in(&me, "admin", "/admin/staff"),
        accounts: all
            .iter()
            .map(|s| AccountRow {
                id: s.id,
                face: Face::of(s),
                email: s.email.clone(),
                role: s.role().label(),
                extension: s.extension.clone(),
                availability: s.availability(),
                active: s.active,
                can_sign_in: s.password_hash.is_some(),
                is_me: s.id == me.staff.id,
                updated_at: s.updated_at,
            })
            .collect(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/form.html")]
pub struct AccountFormPage {
    layout: Layout,
    /// `None` while creating.
    account: Option<(i64, Face, bool)>,
    form: StaffForm,
    errors: FieldErrors,
    roles: &'static [Role],
    time_zones: Vec<&'static str>,
    avatar_error: Option<String>,
}

impl AccountFormPage {
    fn new(
        me: &CurrentStaff,
        account: Option<&Staff>,
        form: StaffForm,
        errors: FieldErrors,
    ) -> AccountFormPage {
        let here = match account {
            Some(a) => format!("/admin/staff/{}/edit", a.id),
            None => "/admin/staff/new".into(),
        };
        AccountFormPage {
            layout: Layout::signed_in(me, "admin", here),
            account: account.map(|a| (a.id, Face::of(a), a.active)),
            // Passwords are never sent back to the browser.
            form: StaffForm {
                password: String::new(),
                password_confirm: String::new(),
                ..form
            },
            errors,
            roles: Role::ALL,
            time_zones: time_zone_names(),
            avatar_error: None,
        }
    }
}

fn form_of(s: &Staff) -> StaffForm {
    StaffForm {
        display_name: s.display_name.clone(),
        email: s.email.clone(),
        role: s.role.clone(),
        department: s.department.clone(),
        job_title: s.job_title.clone(),
        time_zone: s.time_zone.clone(),
        extension: s.extension.clone().unwrap_or_default(),
        phone: s.phone.clone().unwrap_or_default(),
        password: String::new(),
        password_confirm: String::new(),
    }
}

/// Turns a unique-index violation into a message on the field it concerns.
fn duplicate_field(e: &diesel::result::Error) -> Option<(&'static str, &'static str)> {
    match unique_violation(e)?.as_str() {
        "staff_email_key" => Some(("email", "is already used by another account")),
        "staff_extension_key" => Some(("extension", "is already assigned to someone else")),
        _ => None,
    }
}

async fn new_account(Admin(me): Admin) -> AppResult<AccountFormPage> {
    let form = StaffForm {
        role: Role::Agent.as_str().into(),
        time_zone: "UTC".into(),
        ..StaffForm::default()
    };
    Ok(AccountFormPage::new(
        &me,
        None,
        form,
        FieldErrors::default(),
    ))
}

async fn create_account(
    state: web::Data<AppState>,
    Admin(me): Admin,
    form: web::Form<StaffForm>,
) -> FormResponse<AccountFormPage> {
    let form = form.into_inner();
    let checked = StaffInput::try_from(&form);
    let password = NewPassword::parse(&form.password, &form.password_confirm);
    let (input, password) = match (checked, password) {
        (Ok(input), Ok(password)) => (input, password),
        (checked, password) => {
            let mut errors = checked.err().unwrap_or_default();
            if let Err(e) = password {
                errors.add("password", e);
            }
            return invalid(
                AccountFormPage::new(&me, None, form, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let hash = crate::hashing::run(move || password.hash())
        .await?
        .map_err(AppError::internal)?;
    let result = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| {
            Staff::insert(
                conn,
                &NewStaff {
                    email: input.email.as_str(),
                    display_name: &input.display_name,
                    password_hash: Some(&hash),
                    role: input.role.as_str(),
                    department: &input.department,
                    job_title: &input.job_title,
                    time_zone: &input.time_zone,
                    extension: input.extension.as_deref(),
                    phone: input.phone.as_ref().map(|p| p.as_str()),
                    availability: Availability::Offline.as_str(),
                },
            )
        }))
    })
    .await?;
    match result {
        Ok(created) => {
            log::info!("staff {} created by {}", created.id, me.staff.id);
            state.list_choices.clear();
            flash(
                &me.session,
                "success",
                format!(
                    "{} can now sign in with {}.",
                    created.display_name, created.email
                ),
            );
            redirect(format!("/staff/{}", created.id))
        }
        Err(e) => match duplicate_field(&e) {
            Some((field, message)) => {
                let mut errors = FieldErrors::default();
                errors.add(field, message);
                invalid(
                    AccountFormPage::new(&me, None, form, errors),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            None => Err(e.into()),
        },
    }
}

async fn edit_account(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<AccountFormPage> {
    let id = id.into_inner();
    let account = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    Ok(AccountFormPage::new(
        &me,
        Some(&account),
        form_of(&account),
        FieldErrors::default(),
    ))
}

/// Refuses changes that would leave nobody able to administer ContactBook.
fn keeps_an_admin(
    conn: &mut PgConnection,
    account: &Staff,
    stays_admin: bool,
) -> Result<bool, AppError> {
    if !account.is_admin() || !account.active || stays_admin {
        return Ok(true);
    }
    Ok(Staff::count_active_admins(conn)? > 1)
}

enum UpdateOutcome {
    Saved(Box<Staff>),
    LastAdmin,
    Duplicate(&'static str, &'static str),
}

async fn update_account(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
    form: web::Form<StaffForm>,
) -> FormResponse<AccountFormPage> {
    let id = id.into_inner();
    let form = form.into_inner();
    let account = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    let input = match StaffInput::try_from(&form) {
        Ok(input) => input,
        Err(errors) => {
            return invalid(
                AccountFormPage::new(&me, Some(&account), form, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let outcome = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        conn.transaction(|conn| {
            let current = Staff::find(conn, id)?;
            if !keeps_an_admin(conn, &current, input.role == Role::Admin)? {
                return Ok(UpdateOutcome::LastAdmin);
            }
            let saved = conn.transaction(|conn| {
                Staff::update(
                    conn,
                    id,
                    &StaffChanges {
                        email: input.email.as_str(),
                        display_name: &input.display_name,
                        role: input.role.as_str(),
                        department: &input.department,
                        job_title: &input.job_title,
                        time_zone: &input.time_zone,
                        extension: input.extension.as_deref(),
                        phone: input.phone.as_ref().map(|p| p.as_str()),
                    },
                )
            });
            match saved {
                Ok(s) => Ok(UpdateOutcome::Saved(Box::new(s))),
                Err(e) => match duplicate_field(&e) {
                    Some((field, msg)) => Ok(UpdateOutcome::Duplicate(field, msg)),
                    None => Err(AppError::from(e)),
                },
            }
        })
    })
    .await?;
    let mut errors = FieldErrors::default();
    match outcome {
        UpdateOutcome::Saved(saved) => {
            state.list_choices.clear();
            flash(
                &me.session,
                "success",
                format!("{} has been saved.", saved.display_name),
            );
            return redirect(format!("/staff/{id}"));
        }
        UpdateOutcome::LastAdmin => errors.add(
            "role",
            "cannot change: this is the last active administrator",
        ),
        UpdateOutcome::Duplicate(field, msg) => errors.add(field, msg),
    }
    invalid(
        AccountFormPage::new(&me, Some(&account), form, errors),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/deactivate.html")]
pub struct DeactivatePage {
    layout: Layout,
    id: i64,
    name: String,
    owned: i64,
    /// Active colleagues who could take the contacts over.
    heirs: Vec<(i64, String)>,
    error: Option<String>,
}

async fn deactivate_page(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    error: Option<String>,
) -> AppResult<DeactivatePage> {
    let (account, owned, heirs) = db::run(&state.pool, move |conn| {
        use crate::schema::staff;
        use diesel::prelude::*;
        let account = Staff::find(conn, id)?;
        let owned = ownership::owned_by(conn, id)?;
        let heirs: Vec<(i64, String)> = staff::table
            .filter(staff::active.eq(true))
            .filter(staff::id.ne(id))
            .order((staff::display_name, staff::id))
            .select((staff::id, staff::display_name))
            .load(conn)?;
        Ok((account, owned, heirs))
    })
    .await?;
    Ok(DeactivatePage {
        layout: Layout::signed_in(me, "admin", format!("/admin/staff/{id}/deactivate")),
        id,
        name: account.display_name,
        owned,
        heirs,
        error,
    })
}

async fn confirm_deactivate(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<DeactivatePage> {
    deactivate_page(&state, &me, id.into_inner(), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeactivateForm {
    /// Who takes their contacts over: a staff id, or `none`.
    to: String,
}

async fn deactivate_account(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
    form: web::Form<DeactivateForm>,
) -> AppResult<actix_web::Either<Redirect, actix_web::CustomizeResponder<DeactivatePage>>> {
    use actix_web::Responder;
    let id = id.into_inner();
    if id == me.staff.id {
        flash(
            &me.session,
            "error",
            "You cannot deactivate your own account.",
        );
        return Ok(actix_web::Either::Left(
            Redirect::to("/admin/staff").see_other(),
        ));
    }
    let to: Option<Option<i64>> = match form.to.trim() {
        "" => None,
        "none" => Some(None),
        other => other.parse().ok().filter(|t| *t != id).map(Some),
    };
    let by = me.staff.id;
    let done = db::transaction(&state.pool, move |conn| {
        use crate::schema::staff;
        use diesel::prelude::*;
        let account = Staff::find(conn, id)?;
        if !keeps_an_admin(conn, &account, false)? {
            return Ok(Err("The last active administrator cannot be deactivated."));
        }
        let owned = ownership::owned_by(conn, id)?;
        let heir = match to {
            None if owned > 0 => {
                return Ok(Err("Choose who takes over their contacts, or Nobody."));
            }
            None | Some(None) => None,
            Some(Some(heir)) => {
                let active: bool = staff::table
                    .find(heir)
                    .select(staff::active)
                    .first(conn)
                    .optional()?
                    .unwrap_or(false);
                if !active {
                    return Ok(Err(
                        "Choose an active colleague from the list; nothing was changed.",
                    ));
                }
                Some(heir)
            }
        };
        Staff::set_active(conn, id, false)?;
        let queued = ownership::queue(conn, id, heir, by)?;
        Ok(Ok((account.display_name, owned, queued.is_some())))
    })
    .await?;
    let (name, owned, queued) = match done {
        Ok(done) => done,
        Err(why) => {
            let page = deactivate_page(&state, &me, id, Some(why.to_string())).await?;
            return Ok(actix_web::Either::Right(
                page.customize()
                    .with_status(StatusCode::UNPROCESSABLE_ENTITY),
            ));
        }
    };
    // Their sessions end now, on every instance.
    state
        .sessions
        .delete_for_staff(id)
        .await
        .map_err(AppError::internal)?;
    log::info!("staff {id} deactivated by {by}; {owned} contacts to hand over");
    state.list_choices.clear();
    if queued {
        state.import_wake.notify();
    }
    flash(
        &me.session,
        "success",
        if owned > 0 {
            format!(
                "{name} has been deactivated and signed out. Their {} are being handed over in the background.",
                if owned == 1 {
                    "contact".to_string()
                } else {
                    format!(
                        "{} contacts",
                        crate::routes::contacts::list::group_digits(owned)
                    )
                }
            )
        } else {
            format!("{name} has been deactivated and signed out.")
        },
    );
    Ok(actix_web::Either::Left(
        Redirect::to("/admin/staff").see_other(),
    ))
}

async fn activate_account(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let name = db::transaction(&state.pool, move |conn| {
        let account = Staff::find(conn, id)?;
        Staff::set_active(conn, id, true)?;
        Ok(account.display_name)
    })
    .await?;
    state.list_choices.clear();
    flash(
        &me.session,
        "success",
        format!("{name} has been reactivated."),
    );
    Ok(Redirect::to("/admin/staff").see_other())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ResetPasswordForm {
    password: String,
    password_confirm: String,
}

async fn edit_account_password(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<PasswordPage> {
    let id = id.into_inner();
    let account = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    Ok(PasswordPage::reset(&me, &account, FieldErrors::default()))
}

async fn reset_account_password(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
    form: web::Form<ResetPasswordForm>,
) -> FormResponse<PasswordPage> {
    let id = id.into_inner();
    let account = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    let password = match NewPassword::parse(&form.password, &form.password_confirm) {
        Ok(p) => p,
        Err(e) => {
            let mut errors = FieldErrors::default();
            errors.add("password", e);
            return invalid(
                PasswordPage::reset(&me, &account, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let hash = crate::hashing::run(move || password.hash())
        .await?
        .map_err(AppError::internal)?;
    db::transaction(&state.pool, move |conn| {
        Ok(Staff::set_password_hash(conn, id, &hash)?)
    })
    .await?;
    if id != me.staff.id {
        state
            .sessions
            .delete_for_staff(id)
            .await
            .map_err(AppError::internal)?;
    }
    log::info!("password of staff {id} reset by {}", me.staff.id);
    flash(
        &me.session,
        "success",
        format!("The password of {} has been reset.", account.display_name),
    );
    redirect(format!("/staff/{id}"))
}

async fn upload_account_avatar(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
    payload: Multipart,
) -> FormResponse<AccountFormPage> {
    let id = id.into_inner();
    let account = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    let message = match read_avatar_upload(payload, state.config.avatar_limit).await {
        Ok(Some((content_type, data))) => {
            db::transaction(&state.pool, move |conn| {
                Ok(Staff::set_avatar(conn, id, content_type, &data)?)
            })
            .await?;
            flash(
                &me.session,
                "success",
                format!("The picture of {} has been updated.", account.display_name),
            );
            return redirect(format!("/admin/staff/{id}/edit"));
        }
        Ok(None) => "Choose a picture to upload.".to_string(),
        Err(message) => message,
    };
    let mut page = AccountFormPage::new(
        &me,
        Some(&account),
        form_of(&account),
        FieldErrors::default(),
    );
    page.avatar_error = Some(message);
    invalid(page, StatusCode::UNPROCESSABLE_ENTITY)
}

async fn remove_account_avatar(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    db::transaction(&state.pool, move |conn| Ok(Staff::remove_avatar(conn, id)?)).await?;
    flash(&me.session, "success", "The picture has been removed.");
    Ok(Redirect::to(format!("/admin/staff/{id}/edit")).see_other())
}
