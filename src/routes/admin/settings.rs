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
        .route("/admin/settings", web::post().to(save_settings));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage {
    layout: Layout,
    visibility: String,
}

async fn show_settings(state: web::Data<AppState>, Admin(me): Admin) -> AppResult<SettingsPage> {
    let visibility = db::run(&state.pool, |conn| Ok(visibility::setting(conn)?)).await?;
    Ok(SettingsPage {
        layout: Layout::signed_in(&me, "admin", "/admin/settings"),
        visibility,
    })
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
    state.first_pages.clear();
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
