//! `/admin/settings`: who sees which contacts. Read on every request, so a
//! change holds from the next page on, on every instance.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Admin, flash},
    db,
    error::{AppError, AppResult},
    models::visibility::{self, EVERYONE, RESTRICTED},
    routes::Layout,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/settings", web::get().to(show_settings))
        .route("/admin/settings", web::post().to(save_settings))
        .route(
            "/admin/settings/enquiries",
            web::post().to(save_enquiry_settings),
        );
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage {
    layout: Layout,
    visibility: String,
    /// Minutes an Open enquiry waits before it is Missed, as saved or typed.
    missed_after: String,
    missed_error: Option<String>,
}

async fn settings_page(
    state: &web::Data<AppState>,
    me: &crate::auth::CurrentStaff,
    typed: Option<String>,
    missed_error: Option<String>,
) -> AppResult<SettingsPage> {
    let (visibility, minutes) = db::run(&state.pool, |conn| {
        Ok((
            visibility::setting(conn)?,
            crate::models::enquiry::missed_after_minutes(conn)?,
        ))
    })
    .await?;
    Ok(SettingsPage {
        layout: Layout::signed_in(me, "admin", "/admin/settings"),
        visibility,
        missed_after: typed.unwrap_or_else(|| minutes.to_string()),
        missed_error,
    })
}

async fn show_settings(state: web::Data<AppState>, Admin(me): Admin) -> AppResult<SettingsPage> {
    settings_page(&state, &me, None, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EnquirySettingsForm {
    missed_after: String,
}

async fn save_enquiry_settings(
    state: web::Data<AppState>,
    Admin(me): Admin,
    form: web::Form<EnquirySettingsForm>,
) -> crate::routes::FormResponse<SettingsPage> {
    let typed = form.missed_after.trim().to_string();
    let Some(minutes) = typed.parse::<i32>().ok().filter(|m| (1..=1440).contains(m)) else {
        let page = settings_page(
            &state,
            &me,
            Some(typed.clone()),
            Some(format!(
                "Minutes before Missed: {typed} is not a whole number of minutes from 1 to 1440 (a day)"
            )),
        )
        .await?;
        return crate::routes::invalid(page, actix_web::http::StatusCode::UNPROCESSABLE_ENTITY);
    };
    let by = me.staff.id;
    db::transaction(&state.pool, move |conn| {
        Ok(crate::models::enquiry::set_missed_after_minutes(
            conn, minutes, by,
        )?)
    })
    .await?;
    flash(
        &me.session,
        "success",
        format!("An Open enquiry nobody takes now becomes Missed after {minutes} minutes."),
    );
    crate::routes::redirect("/admin/settings")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    visibility: String,
}

async fn save_settings(
    state: web::Data<AppState>,
    Admin(me): Admin,
    form: web::Form<SettingsForm>,
) -> AppResult<web::Redirect> {
    let value = match form.visibility.as_str() {
        EVERYONE => EVERYONE,
        RESTRICTED => RESTRICTED,
        _ => {
            return Err(AppError::BadRequest(
                "Choose Everyone or Restricted.".into(),
            ));
        }
    };
    let by = me.staff.id;
    db::transaction(&state.pool, move |conn| {
        Ok(visibility::set(conn, value, by)?)
    })
    .await?;
    // Cached first pages were drawn for everyone.
    state.contacts_changed();
    log::info!("contact visibility set to {value} by staff {by}");
    flash(
        &me.session,
        "success",
        if value == RESTRICTED {
            "Contact visibility is Restricted: agents now see the contacts they own or that are shared with them."
        } else {
            "Contact visibility is Everyone: every colleague sees every contact."
        },
    );
    Ok(web::Redirect::to("/admin/settings").see_other())
}
