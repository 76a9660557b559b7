//! External contacts: list, create (quick and full forms), show, edit,
//! delete to the trash, restore and purge.

pub mod activity;
pub mod bulk;
pub mod bulk_jobs;
pub mod changes;
pub mod create;
pub mod delete;
pub mod duplicates;
pub mod engagements;
pub mod form;
pub mod head;
pub mod list;
pub mod merge;
pub mod notes;
pub mod ownership;
pub mod sharing;
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
        .configure(bulk_jobs::configure)
        .route("/contacts/trash", web::get().to(delete::list_trash))
        .route("/contacts/merge", web::get().to(merge::wizard))
        .route("/contacts/merge", web::post().to(merge::perform))
        .route("/contacts/{id}/merge", web::get().to(merge::merge_with))
        .route("/merges/{id}/undo", web::get().to(merge::confirm_undo))
        .route("/merges/{id}/undo", web::post().to(merge::undo))
        .route("/admin/merges", web::get().to(merge::recent_merges))
        .route("/duplicates", web::get().to(duplicates::list))
        .route("/duplicates/dismiss", web::post().to(duplicates::dismiss))
        .route("/duplicates/scan", web::post().to(duplicates::scan_now))
        .route("/contacts/{id}", web::get().to(show::show_contact))
        .route(
            "/contacts/{id}/activity",
            web::get().to(activity::show_activity),
        )
        .route(
            "/contacts/{id}/changes",
            web::get().to(changes::show_changes),
        )
        .route(
            "/contacts/{id}/sharing",
            web::get().to(sharing::show_sharing),
        )
        .route(
            "/contacts/{id}/shares",
            web::post().to(sharing::share_contact),
        )
        .route(
            "/contacts/{id}/shares/{staff_id}/delete",
            web::post().to(sharing::unshare_contact),
        )
        .route(
            "/contacts/{id}/transfer",
            web::get().to(ownership::transfer_form),
        )
        .route(
            "/contacts/{id}/transfer",
            web::post().to(ownership::transfer),
        )
        .route("/contacts/{id}/notes", web::post().to(notes::add_note))
        .route(
            "/contacts/{id}/engagements/new",
            web::get().to(engagements::new_engagement),
        )
        .route(
            "/contacts/{id}/engagements",
            web::post().to(engagements::log_engagement),
        )
        .route(
            "/contacts/{id}/engagements/{eid}/edit",
            web::get().to(engagements::edit_engagement),
        )
        .route(
            "/contacts/{id}/engagements/{eid}/edit",
            web::post().to(engagements::correct_engagement),
        )
        .route(
            "/contacts/{id}/notes/{note_id}/edit",
            web::get().to(notes::edit_note_form),
        )
        .route(
            "/contacts/{id}/notes/{note_id}/edit",
            web::post().to(notes::edit_note),
        )
        .route(
            "/contacts/{id}/notes/{note_id}/delete",
            web::get().to(notes::delete_note_form),
        )
        .route(
            "/contacts/{id}/notes/{note_id}/delete",
            web::post().to(notes::delete_note),
        )
        .route(
            "/contacts/{id}/notes/{note_id}/pin",
            web::post().to(notes::pin_note),
        )
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
        .route("/contacts/{id}/purge", web::get().to(delete::confirm_purge))
        .route(
            "/contacts/{id}/purge",
            web::post().to(delete::purge_contact),
        );
}
