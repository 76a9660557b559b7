//! `/contacts/{id}/activity`: the Activity tab. Enquiries, calls and SMS,
//! and website visits arrive with the enquiries work; until then the tab says
//! plainly what it will hold.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    error::AppResult,
    models::visibility::Member,
    routes::{
        Layout,
        contacts::head::{ContactHead, Tab},
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "contacts/activity.html")]
pub struct ActivityPage {
    layout: Layout,
    head: ContactHead,
}

pub async fn show_activity(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<ActivityPage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let head = db::run(&state.pool, move |conn| {
        ContactHead::load(conn, member, id, Tab::Activity)
    })
    .await?;
    Ok(ActivityPage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/activity")),
        head,
    })
}
