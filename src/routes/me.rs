//! What every staff member does for themselves: availability, profile, avatar
//! and password.

use actix_multipart::Multipart;
use actix_web::{
    http::StatusCode,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash, sign_in},
    db,
    domain::{
        password::{NewPassword, verify_password},
        staff::{Availability, FieldErrors, ProfileForm, ProfileInput, time_zone_names},
    },
    error::{AppError, AppResult},
    models::staff::{ProfileChanges, Staff},
    routes::{Face, FormResponse, Layout, invalid, redirect, staff::avatar::read_avatar_upload},
    security::safe_next,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/availability", web::post().to(update_availability))
        .route("/me/profile", web::get().to(edit_profile))
        .route("/me/profile", web::post().to(update_profile))
        .route("/me/avatar", web::post().to(upload_own_avatar))
        .route("/me/avatar/remove", web::post().to(remove_own_avatar))
        .route("/me/password", web::get().to(edit_password))
        .route("/me/password", web::post().to(update_password));
}

#[derive(Deserialize)]
pub struct AvailabilityForm {
    availability: String,
    #[serde(default)]
    next: String,
}

async fn update_availability(
    state: web::Data<AppState>,
    me: CurrentStaff,
    form: web::Form<AvailabilityForm>,
) -> AppResult<Redirect> {
    let availability: Availability = form
        .availability
        .parse()
        .map_err(|e: String| AppError::BadRequest(format!("Availability {e}")))?;
    let id = me.staff.id;
    db::run(&state.pool, move |conn| {
        Ok(Staff::set_availability(conn, id, availability)?)
    })
    .await?;
    Ok(Redirect::to(safe_next(Some(&form.next), "/staff").to_string()).see_other())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/profile.html")]
pub struct ProfilePage {
    layout: Layout,
    face: Face,
    email: String,
    form: ProfileForm,
    errors: FieldErrors,
    time_zones: Vec<&'static str>,
    avatar_error: Option<String>,
}

impl ProfilePage {
    fn new(
        me: &CurrentStaff,
        form: ProfileForm,
        errors: FieldErrors,
        avatar_error: Option<String>,
    ) -> ProfilePage {
        ProfilePage {
            layout: Layout::signed_in(me, "profile", "/me/profile"),
            face: Face::of(&me.staff),
            email: me.staff.email.clone(),
            form,
            errors,
            time_zones: time_zone_names(),
            avatar_error,
        }
    }
}

async fn edit_profile(me: CurrentStaff) -> AppResult<ProfilePage> {
    let form = ProfileForm {
        display_name: me.staff.display_name.clone(),
        time_zone: me.staff.time_zone.clone(),
        phone: me.staff.phone.clone().unwrap_or_default(),
    };
    Ok(ProfilePage::new(&me, form, FieldErrors::default(), None))
}

async fn update_profile(
    state: web::Data<AppState>,
    me: CurrentStaff,
    form: web::Form<ProfileForm>,
) -> FormResponse<ProfilePage> {
    let form = form.into_inner();
    let input = match ProfileInput::try_from(&form) {
        Ok(input) => input,
        Err(errors) => {
            return invalid(
                ProfilePage::new(&me, form, errors, None),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let id = me.staff.id;
    db::transaction(&state.pool, move |conn| {
        Staff::update_profile(
            conn,
            id,
            &ProfileChanges {
                display_name: &input.display_name,
                time_zone: &input.time_zone,
                phone: input.phone.as_ref().map(|p| p.as_str()),
            },
        )?;
        Ok(())
    })
    .await?;
    flash(&me.session, "success", "Your profile has been saved.");
    redirect("/me/profile")
}

async fn upload_own_avatar(
    state: web::Data<AppState>,
    me: CurrentStaff,
    payload: Multipart,
) -> FormResponse<ProfilePage> {
    let profile_form = ProfileForm {
        display_name: me.staff.display_name.clone(),
        time_zone: me.staff.time_zone.clone(),
        phone: me.staff.phone.clone().unwrap_or_default(),
    };
    match read_avatar_upload(payload, state.config.avatar_limit).await {
        Err(message) => invalid(
            ProfilePage::new(&me, profile_form, FieldErrors::default(), Some(message)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(None) => invalid(
            ProfilePage::new(
                &me,
                profile_form,
                FieldErrors::default(),
                Some("Choose a picture to upload.".into()),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(Some((content_type, data))) => {
            let id = me.staff.id;
            db::transaction(&state.pool, move |conn| {
                Ok(Staff::set_avatar(conn, id, content_type, &data)?)
            })
            .await?;
            flash(&me.session, "success", "Your picture has been updated.");
            redirect("/me/profile")
        }
    }
}

async fn remove_own_avatar(state: web::Data<AppState>, me: CurrentStaff) -> AppResult<Redirect> {
    let id = me.staff.id;
    db::transaction(&state.pool, move |conn| Ok(Staff::remove_avatar(conn, id)?)).await?;
    flash(&me.session, "success", "Your picture has been removed.");
    Ok(Redirect::to("/me/profile").see_other())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    password: String,
    password_confirm: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/password.html")]
pub struct PasswordPage {
    layout: Layout,
    /// Whose password: `None` for one's own, else the account an admin resets.
    target: Option<(i64, String)>,
    errors: FieldErrors,
}

impl PasswordPage {
    fn own(me: &CurrentStaff, errors: FieldErrors) -> PasswordPage {
        PasswordPage {
            layout: Layout::signed_in(me, "profile", "/me/password"),
            target: None,
            errors,
        }
    }

    pub fn reset(me: &CurrentStaff, account: &Staff, errors: FieldErrors) -> PasswordPage {
        PasswordPage {
            layout: Layout::signed_in(me, "admin", format!("/admin/staff/{}/password", account.id)),
            target: Some((account.id, account.display_name.clone())),
            errors,
        }
    }
}

async fn edit_password(me: CurrentStaff) -> AppResult<PasswordPage> {
    Ok(PasswordPage::own(&me, FieldErrors::default()))
}

async fn update_password(
    state: web::Data<AppState>,
    me: CurrentStaff,
    form: web::Form<PasswordForm>,
) -> FormResponse<PasswordPage> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let (id, given) = (me.staff.id, form.current_password.clone());
    // The hash is read here: the signed-in member's row never carries it.
    let hash = db::run(&state.pool, move |conn| {
        Ok(Staff::find(conn, id)?.password_hash)
    })
    .await?;
    let current_ok =
        crate::hashing::run(move || hash.is_some_and(|h| verify_password(&given, &h))).await?;
    if !current_ok {
        errors.add("current_password", "is not your current password");
    }
    let new = errors.check(
        "password",
        NewPassword::parse(&form.password, &form.password_confirm),
    );
    let (Some(new), true) = (new, errors.is_empty()) else {
        return invalid(
            PasswordPage::own(&me, errors),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let hash = crate::hashing::run(move || new.hash())
        .await?
        .map_err(AppError::internal)?;
    let id = me.staff.id;
    db::transaction(&state.pool, move |conn| {
        Ok(Staff::set_password_hash(conn, id, &hash)?)
    })
    .await?;
    // A changed password should lock out whoever else had a session.
    state
        .sessions
        .delete_for_staff(id)
        .await
        .map_err(AppError::internal)?;
    sign_in(&me.session, &me.staff)?;
    flash(
        &me.session,
        "success",
        "Your password has been changed. Other sessions have been signed out.",
    );
    redirect("/me/profile")
}
