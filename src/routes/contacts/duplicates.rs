//! `/duplicates`: groups of likely duplicates, strongest first, each with
//! its reasons; review and merge them, or say they are not duplicates.

use actix_web::web::{self, Redirect};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    error::{AppError, AppResult},
    models::{
        contact::display_name,
        duplicates::{self, Group},
        visibility::{self, Member},
    },
    routes::{Layout, contacts::list::group_digits, when_in},
};

/// Groups on one page.
const PAGE: usize = 20;

pub struct Person {
    pub id: i64,
    pub name: String,
    pub detail: String,
}

pub struct GroupView {
    pub people: Vec<Person>,
    pub score: u32,
    pub reasons: Vec<String>,
    pub merge_url: String,
    pub ids: Vec<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/duplicates.html")]
pub struct DuplicatesPage {
    layout: Layout,
    groups: Vec<GroupView>,
    total: usize,
    page: usize,
    pages: usize,
    last_scan: String,
    is_admin: bool,
}

impl DuplicatesPage {
    fn total_text(&self) -> String {
        match self.total {
            0 => "No likely duplicates".into(),
            1 => "1 group of likely duplicates".into(),
            n => format!("{} groups of likely duplicates", group_digits(n as i64)),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    page: usize,
}

#[derive(QueryableByName)]
struct PersonRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    first_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    last_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<PageQuery>,
) -> AppResult<DuplicatesPage> {
    let member = Member::of(&me);
    let page = query.page.max(1);
    let zone = me.staff.time_zone.clone();
    let (groups, total, last) = db::run(&state.pool, move |conn| {
        let limited = visibility::limited_to(conn, member)?;
        let all: Vec<Group> = duplicates::groups(conn, limited)?;
        let total = all.len();
        let shown: Vec<Group> = all.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();
        let ids: Vec<i64> = shown.iter().flat_map(|g| g.ids.iter().copied()).collect();
        let people: Vec<PersonRow> = diesel::sql_query(
            "SELECT c.id, c.first_name, c.last_name, concat_ws(' · ', nullif(c.company, ''), nullif(c.city, ''), \
               (SELECT string_agg(e.email, ', ') FROM contact_emails e WHERE e.contact_id = c.id), \
               (SELECT string_agg(p.number, ', ') FROM contact_phones p WHERE p.contact_id = c.id)) AS detail \
             FROM contacts c WHERE c.id = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
        .load(conn)?;
        let views = shown
            .into_iter()
            .map(|g| {
                let people: Vec<Person> = g
                    .ids
                    .iter()
                    .filter_map(|id| people.iter().find(|p| p.id == *id))
                    .map(|p| Person {
                        id: p.id,
                        name: display_name(&p.first_name, &p.last_name),
                        detail: p.detail.clone(),
                    })
                    .collect();
                let merge_ids: Vec<(&str, String)> = g
                    .ids
                    .iter()
                    .take(crate::models::merge::MAX_RECORDS)
                    .map(|i| ("id", i.to_string()))
                    .collect();
                GroupView {
                    people,
                    score: (g.score * 100.0).round() as u32,
                    reasons: g.reasons,
                    merge_url: format!(
                        "/contacts/merge?{}",
                        serde_urlencoded::to_string(&merge_ids).unwrap_or_default()
                    ),
                    ids: g.ids,
                }
            })
            .collect::<Vec<_>>();
        let last = duplicates::last_scan(conn)?;
        Ok((views, total, last))
    })
    .await?;
    let last_scan = match last {
        None => "No contacts have been checked yet.".to_string(),
        Some(s) if s.status == "queued" || s.status == "running" => {
            "Checking contacts now; this page shows the last results meanwhile.".to_string()
        }
        Some(s) => match s.finished_at {
            Some(at) => format!(
                "Last checked {} ({} {}).",
                when_in(at, &zone),
                group_digits(s.contacts_seen),
                if s.kind == "full" {
                    "contacts, all of them"
                } else {
                    "recently changed contacts"
                }
            ),
            None => "The last check did not finish; it will run again.".to_string(),
        },
    };
    Ok(DuplicatesPage {
        layout: Layout::signed_in(&me, "contacts", "/duplicates"),
        pages: total.div_ceil(PAGE).max(1),
        groups,
        total,
        page,
        last_scan,
        is_admin: me.staff.is_admin(),
    })
}

pub async fn dismiss(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Bytes,
) -> AppResult<Redirect> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let member = Member::of(&me);
    let by = me.staff.id;
    let n = db::run(&state.pool, move |conn| {
        let limited = visibility::limited_to(conn, member)?;
        let visible = visibility::visible_ids(conn, limited, &ids)?;
        if ids.len() < 2 || ids.iter().any(|i| !visible.contains(i)) {
            return Err(AppError::NotFound);
        }
        Ok(duplicates::dismiss(conn, &ids, by)?)
    })
    .await?;
    flash(
        &me.session,
        "success",
        if n == 0 {
            "Those contacts were already marked as not duplicates.".to_string()
        } else {
            "Marked as not duplicates: they will not be suggested again unless their names, company, emails, phones or social IDs change.".to_string()
        },
    );
    Ok(Redirect::to("/duplicates").see_other())
}

pub async fn scan_now(state: web::Data<AppState>, me: CurrentStaff) -> AppResult<Redirect> {
    if !me.staff.is_admin() {
        return Err(AppError::Forbidden(
            "Only administrators can start a full check.",
        ));
    }
    let by = me.staff.id;
    let queued = db::run(&state.pool, move |conn| {
        Ok(duplicates::request_full(conn, by)?)
    })
    .await?;
    flash(
        &me.session,
        if queued { "success" } else { "warning" },
        if queued {
            "A check of all contacts has started; the groups update when it ends."
        } else {
            "A check is already waiting or running."
        },
    );
    Ok(Redirect::to("/duplicates").see_other())
}
