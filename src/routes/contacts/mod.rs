//! External contacts: list, create (quick and full forms), show, edit,
//! delete to the trash, restore and purge.

pub mod bulk;
pub mod create;
pub mod delete;
pub mod form;
pub mod list;
pub mod show;
pub mod update;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/contacts", web::get().to(list::list_contacts))
        .route("/contacts/new", web::get().to(create::new_contact))
        .route("/contacts/new", web::post().to(create::create_contact))
        .route(
            "/contacts/new/full",
            web::get().to(create::new_contact_full),
        )
        .route("/contacts/bulk", web::post().to(bulk::bulk_action))
        .route("/contacts/trash", web::get().to(delete::list_trash))
        .route("/contacts/{id}", web::get().to(show::show_contact))
        .route("/contacts/{id}/edit", web::get().to(update::edit_contact))
        .route(
            "/contacts/{id}/edit",
            web::post().to(update::update_contact),
        )
        .route(
            "/contacts/{id}/delete",
            web::get().to(delete::confirm_delete),
        )
        .route(
            "/contacts/{id}/delete",
            web::post().to(delete::delete_contact),
        )
        .route(
            "/contacts/{id}/restore",
            web::post().to(delete::restore_contact),
        )
        .route(
            "/contacts/{id}/purge",
            web::post().to(delete::purge_contact),
        );
}
