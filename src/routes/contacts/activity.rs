//! `/contacts/{id}/activity`: the Activity tab, in the reference guide's
//! three sections: Enquiry History (every enquiry of the contact, ongoing and
//! closed, opening its conversation), Engagement (calls and SMS staff
//! logged) and Journey (pages of the company's website visited).

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    error::AppResult,
    models::{
        enquiry::{self, Status},
        visibility::Member,
    },
    routes::{
        Layout,
        contacts::head::{ContactHead, Tab},
        when_in,
    },
};

const PER_PAGE: i64 = 20;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActivityParams {
    /// Enquiry History continues before `micros-id`.
    enquiries_before: String,
}

pub struct EnquiryRow {
    id: i64,
    status: Status,
    channel: &'static str,
    excerpt: String,
    handler: Option<String>,
    opened: String,
    closed: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/activity.html")]
pub struct ActivityPage {
    layout: Layout,
    head: ContactHead,
    enquiries: Vec<EnquiryRow>,
    more_enquiries: Option<String>,
}

fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, i64)> {
    let (micros, id) = s.split_once('-')?;
    Some((
        DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

pub async fn show_activity(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    params: web::Query<ActivityParams>,
) -> AppResult<ActivityPage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let before = parse_cursor(&params.enquiries_before);
    let (head, mut found) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Activity)?;
        let found = enquiry::of_contact(conn, id, before, PER_PAGE + 1)?;
        Ok((head, found))
    })
    .await?;
    let more_enquiries = (found.len() as i64 > PER_PAGE).then(|| {
        found.truncate(PER_PAGE as usize);
        let last = found
            .last()
            .map(|q| format!("{}-{}", q.created_at.timestamp_micros(), q.id))
            .unwrap_or_default();
        format!("/contacts/{id}/activity?enquiries_before={last}#enquiries")
    });
    let zone = &me.staff.time_zone;
    let enquiries = found
        .iter()
        .map(|q| EnquiryRow {
            id: q.id,
            status: q.status(),
            channel: "Web form",
            excerpt: {
                let flat = q
                    .first_message
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if flat.chars().count() > 160 {
                    format!("{}…", flat.chars().take(159).collect::<String>())
                } else {
                    flat
                }
            },
            handler: q.handler_name.clone(),
            opened: when_in(q.created_at, zone),
            closed: q.closed_at.map(|at| when_in(at, zone)),
        })
        .collect();
    Ok(ActivityPage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/activity")),
        head,
        enquiries,
        more_enquiries,
    })
}
