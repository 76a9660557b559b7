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
