//! Administration: staff accounts, labels, custom fields and settings.

pub mod custom_fields;
pub mod labels;
pub mod settings;
pub mod staff;

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use crate::{AppState, auth::Admin, db, error::AppResult, models::staff::Staff, routes::Layout};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(show_admin_home))
        .configure(staff::configure)
        .configure(labels::configure)
        .configure(custom_fields::configure)
        .configure(settings::configure);
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/index.html")]
pub struct AdminHomePage {
    layout: Layout,
    active: usize,
    admins: usize,
    inactive: usize,
}

async fn show_admin_home(state: web::Data<AppState>, Admin(me): Admin) -> AppResult<AdminHomePage> {
    let all = db::run(&state.pool, |conn| Ok(Staff::all(conn)?)).await?;
    Ok(AdminHomePage {
        layout: Layout::signed_in(&me, "admin", "/admin"),
        active: all.iter().filter(|s| s.active).count(),
        admins: all.iter().filter(|s| s.active && s.is_admin()).count(),
        inactive: all.iter().filter(|s| !s.active).count(),
    })
}

/// The page that asks before an administrator deletes a label or a field.
#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin/confirm_delete.html")]
pub struct ConfirmDeletePage {
    pub layout: crate::routes::Layout,
    pub title: String,
    /// What goes with it, in a sentence.
    pub consequence: String,
    pub action: String,
    pub button: &'static str,
    pub back: &'static str,
    pub back_name: &'static str,
}
