//! `/staff/{id}`: one colleague's details.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    domain::staff::{Availability, local_time},
    error::{AppError, AppResult},
    models::staff::Staff,
    routes::{Face, Layout},
};

pub struct StaffDetail {
    pub id: i64,
    pub face: Face,
    pub availability: Availability,
    pub email: String,
    pub phone: Option<String>,
    pub role: &'static str,
    pub department: String,
    pub job_title: String,
    pub time_zone: String,
    pub local_time: String,
    pub extension: Option<String>,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/show.html")]
pub struct StaffShowPage {
    layout: Layout,
    person: StaffDetail,
    is_me: bool,
    can_manage: bool,
}

pub async fn show_staff(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<StaffShowPage> {
    let id = id.into_inner();
    let person = db::run(&state.pool, move |conn| Ok(Staff::find(conn, id)?)).await?;
    // Deactivated accounts are history: administrators may still look them up.
    if !person.active && !me.staff.is_admin() {
        return Err(AppError::NotFound);
    }
    Ok(StaffShowPage {
        layout: Layout::signed_in(&me, "staff", format!("/staff/{id}")),
        is_me: person.id == me.staff.id,
        can_manage: me.staff.is_admin(),
        person: StaffDetail {
            id: person.id,
            face: Face::of(&person),
            availability: person.availability(),
            email: person.email.clone(),
            phone: person.phone.clone(),
            role: person.role().label(),
            department: person.department.clone(),
            job_title: person.job_title.clone(),
            local_time: local_time(&person.time_zone, Utc::now()),
            time_zone: person.time_zone.clone(),
            extension: person.extension.clone(),
            active: person.active,
        },
    })
}
