//! `/staff`: every active colleague, searchable by name, extension or department.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    domain::staff::Availability,
    error::AppResult,
    models::staff::Staff,
    routes::{Face, Layout},
};

#[derive(Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    q: String,
}

pub struct StaffCard {
    pub id: i64,
    pub face: Face,
    pub extension: Option<String>,
    pub availability: Availability,
    pub department: String,
    pub job_title: String,
}

impl StaffCard {
    pub fn of(s: &Staff) -> StaffCard {
        StaffCard {
            id: s.id,
            face: Face::of(s),
            extension: s.extension.clone(),
            availability: s.availability(),
            department: s.department.clone(),
            job_title: s.job_title.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/list.html")]
pub struct StaffListPage {
    layout: Layout,
    q: String,
    staff: Vec<StaffCard>,
}

pub async fn list_staff(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<DirectoryQuery>,
) -> AppResult<StaffListPage> {
    let q = query
        .into_inner()
        .q
        .trim()
        .chars()
        .take(100)
        .collect::<String>();
    let search = q.clone();
    let rows = db::run(&state.pool, move |conn| {
        Ok(Staff::directory(conn, &search)?)
    })
    .await?;
    let here = if q.is_empty() {
        "/staff".to_string()
    } else {
        format!("/staff?q={}", crate::security::url_encode(&q))
    };
    Ok(StaffListPage {
        layout: Layout::signed_in(&me, "staff", here),
        q,
        staff: rows.iter().map(StaffCard::of).collect(),
    })
}
