//! The staff directory (internal contacts): list, detail and avatars.

pub mod avatar;
pub mod list;
pub mod show;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/staff", web::get().to(list::list_staff))
        .route("/staff/{id}", web::get().to(show::show_staff))
        .route("/staff/{id}/avatar", web::get().to(avatar::show_avatar));
}
